/* relay-test-backend.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay-test-backend.h"

struct _RelayTestBackend
{
  GSettingsBackend  parent_instance;
  GHashTable       *values;   /* full key path -> GVariant */
  GHashTable       *system;   /* the same, below the user's values: dconf's system databases */
  GHashTable       *locks;    /* full key paths */
};

G_DEFINE_FINAL_TYPE (RelayTestBackend, relay_test_backend, G_TYPE_SETTINGS_BACKEND)

static GVariant *
relay_test_backend_read (GSettingsBackend   *backend,
                         const char         *key,
                         const GVariantType *expected_type,
                         gboolean            default_value)
{
  RelayTestBackend *self = RELAY_TEST_BACKEND (backend);
  GVariant *value;

  value = default_value ? NULL : g_hash_table_lookup (self->values, key);
  if (value == NULL)
    value = g_hash_table_lookup (self->system, key);
  return value != NULL ? g_variant_ref (value) : NULL;
}

static gboolean
relay_test_backend_write (GSettingsBackend *backend,
                          const char       *key,
                          GVariant         *value,
                          gpointer          origin_tag)
{
  RelayTestBackend *self = RELAY_TEST_BACKEND (backend);

  if (g_hash_table_contains (self->locks, key))
    return FALSE;
  g_hash_table_replace (self->values, g_strdup (key), g_variant_ref_sink (value));
  g_settings_backend_changed (backend, key, origin_tag);
  return TRUE;
}

static gboolean
relay_test_backend_write_tree (GSettingsBackend *backend,
                               GTree            *tree,
                               gpointer          origin_tag)
{
  RelayTestBackend *self = RELAY_TEST_BACKEND (backend);
  char *prefix;
  const char **keys;
  GVariant **values;

  g_settings_backend_flatten_tree (tree, &prefix, &keys, &values);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autofree char *path = g_strconcat (prefix, keys[i], NULL);

      if (g_hash_table_contains (self->locks, path))
        {
          g_free (keys);
          g_free (prefix);
          g_free (values);
          return FALSE;
        }
    }
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autofree char *path = g_strconcat (prefix, keys[i], NULL);

      if (values[i] != NULL)
        g_hash_table_replace (self->values, g_strdup (path), g_variant_ref_sink (values[i]));
      else
        g_hash_table_remove (self->values, path);
    }
  g_settings_backend_changed_tree (backend, tree, origin_tag);
  g_free (keys);
  g_free (prefix);
  g_free (values);
  return TRUE;
}

static void
relay_test_backend_reset (GSettingsBackend *backend,
                          const char       *key,
                          gpointer          origin_tag)
{
  RelayTestBackend *self = RELAY_TEST_BACKEND (backend);

  if (g_hash_table_remove (self->values, key))
    g_settings_backend_changed (backend, key, origin_tag);
}

static gboolean
relay_test_backend_get_writable (GSettingsBackend *backend,
                                 const char       *key)
{
  return !g_hash_table_contains (RELAY_TEST_BACKEND (backend)->locks, key);
}

static void
relay_test_backend_finalize (GObject *object)
{
  RelayTestBackend *self = RELAY_TEST_BACKEND (object);

  g_hash_table_unref (self->values);
  g_hash_table_unref (self->system);
  g_hash_table_unref (self->locks);
  G_OBJECT_CLASS (relay_test_backend_parent_class)->finalize (object);
}

static void
relay_test_backend_class_init (RelayTestBackendClass *klass)
{
  GSettingsBackendClass *backend_class = G_SETTINGS_BACKEND_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = relay_test_backend_finalize;
  backend_class->read = relay_test_backend_read;
  backend_class->write = relay_test_backend_write;
  backend_class->write_tree = relay_test_backend_write_tree;
  backend_class->reset = relay_test_backend_reset;
  backend_class->get_writable = relay_test_backend_get_writable;
}

static void
relay_test_backend_init (RelayTestBackend *self)
{
  self->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) g_variant_unref);
  self->system = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) g_variant_unref);
  self->locks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

RelayTestBackend *
relay_test_backend_new (void)
{
  return g_object_new (RELAY_TYPE_TEST_BACKEND, NULL);
}

/**
 * relay_test_backend_lock:
 * @path: the full path of a key, e.g. "/io/github/smtprelay/SmtpRelay/port"
 *
 * Locks or unlocks @path and tells every GSettings on this backend, as dconf does when the
 * administrator's lock file changes.
 */
void
relay_test_backend_lock (RelayTestBackend *self,
                         const char       *path,
                         gboolean          locked)
{
  if (locked)
    g_hash_table_add (self->locks, g_strdup (path));
  else
    g_hash_table_remove (self->locks, path);
  g_settings_backend_writable_changed (G_SETTINGS_BACKEND (self), path);
}

/**
 * relay_test_backend_set_system:
 * @path: the full path of a key
 * @value: (nullable): any value, of any type, or %NULL to remove it
 *
 * Sets the value an administrator's database holds for @path, below the user's own (a reset
 * leaves it in force), and tells every GSettings on this backend. Neither this nor the
 * backend's write checks the type: a test can store what `dconf write` can.
 */
void
relay_test_backend_set_system (RelayTestBackend *self,
                               const char       *path,
                               GVariant         *value)
{
  if (value != NULL)
    g_hash_table_replace (self->system, g_strdup (path), g_variant_ref_sink (value));
  else
    g_hash_table_remove (self->system, path);
  g_settings_backend_changed (G_SETTINGS_BACKEND (self), path, NULL);
}
