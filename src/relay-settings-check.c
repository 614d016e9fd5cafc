/* relay-settings-check.c
 *
 * GSettings drops a stored value that does not have its key's type or lies outside its range
 * (port 70000, security 'ssl3' written with `dconf write`, in a keyfile or in a system-wide
 * dconf database) and returns the default without a word: the relay would then be used on
 * another port or with another security than the administrator wrote, silently. This module
 * reads what is stored, as the backend holds it, so that the window and the command line can
 * say what was ignored and what is used instead.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-settings-check"
#define G_SETTINGS_ENABLE_BACKEND

#include <gio/gsettingsbackend.h>
#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-settings-check.h"

void
relay_unusable_setting_free (RelayUnusableSetting *unusable)
{
  if (unusable == NULL)
    return;
  g_free (unusable->key);
  g_free (unusable->message);
  g_free (unusable);
}

/* What a value of @key must be, in words: "one of 'none', 'starttls', 'tls'". */
static char *
describe_expected (GSettingsSchemaKey *key)
{
  g_autoptr(GVariant) range = g_settings_schema_key_get_range (key);
  g_autoptr(GVariant) detail = NULL;
  const GVariantType *type = g_settings_schema_key_get_value_type (key);
  const char *kind;

  g_variant_get (range, "(&sv)", &kind, &detail);
  if (g_str_equal (kind, "enum"))
    {
      g_autoptr(GString) choices = g_string_new (NULL);
      GVariantIter iter;
      GVariant *choice;

      g_variant_iter_init (&iter, detail);
      while ((choice = g_variant_iter_next_value (&iter)) != NULL)
        {
          g_autofree char *printed = g_variant_print (choice, FALSE);

          /* TRANSLATORS: separates the values of a list such as 'none', 'starttls', 'tls' */
          g_string_append_printf (choices, "%s%s", choices->len ? _(", ") : "", printed);
          g_variant_unref (choice);
        }
      /* TRANSLATORS: %s is a list of the values a setting can have, as 'none', 'starttls',
       * 'tls'; the whole reads "…holds 'ssl3', which is not one of 'none', 'starttls', 'tls'" */
      return g_strdup_printf (_("one of %s"), choices->str);
    }
  if (g_str_equal (kind, "range"))
    {
      g_autoptr(GVariant) min = NULL;
      g_autoptr(GVariant) max = NULL;
      g_autofree char *min_text = NULL;
      g_autofree char *max_text = NULL;

      g_variant_get (detail, "(**)", &min, &max);
      min_text = g_variant_print (min, FALSE);
      max_text = g_variant_print (max, FALSE);
      /* TRANSLATORS: "…holds 70000, which is not a number from 200 to 16384" */
      return g_strdup_printf (_("a number from %s to %s"), min_text, max_text);
    }
  if (g_variant_type_equal (type, G_VARIANT_TYPE_UINT16))
    return g_strdup_printf (_("a number from %s to %s"), "0", "65535");
  if (g_variant_type_equal (type, G_VARIANT_TYPE_INT32))
    return g_strdup (_("a whole number"));
  if (g_variant_type_equal (type, G_VARIANT_TYPE_BOOLEAN))
    /* TRANSLATORS: true and false are the stored values themselves: do not translate them */
    return g_strdup (_("true or false"));
  if (g_variant_type_equal (type, G_VARIANT_TYPE_STRING))
    return g_strdup (_("a text in single quotes"));
  /* TRANSLATORS: %s is a GVariant type string, such as "as" */
  return g_strdup_printf (_("a value of the type “%s”"), g_variant_type_peek_string (type));
}

static char *
describe_unusable (GSettingsSchemaKey *key,
                   GVariant           *stored)
{
  g_autoptr(GVariant) fallback = g_settings_schema_key_get_default_value (key);
  g_autofree char *stored_text = g_variant_print (stored, FALSE);
  g_autofree char *fallback_text = g_variant_print (fallback, FALSE);
  g_autofree char *expected = describe_expected (key);
  const char *summary = g_settings_schema_key_get_summary (key);

  /* No summary without the .gschema.xml next to the compiled schemas (a build tree) */
  if (summary == NULL)
    /* TRANSLATORS: the first %s is a setting's key, as `gsettings` and `dconf` name it
     * ("port"), the second the value stored ("70000"), the third what it must be ("a number
     * from 0 to 65535"), the last the default used instead ("0") */
    return g_strdup_printf (_("The setting %s holds %s, which is not %s; the default, %s, is "
                              "used instead."),
                            g_settings_schema_key_get_name (key), stored_text, expected,
                            fallback_text);
  /* TRANSLATORS: the first %s is a setting's title ("SMTP port"), the second its key, as
   * `gsettings` and `dconf` name it ("port"), the third the value stored ("70000"), the fourth
   * what it must be ("a number from 0 to 65535"), the last the default used instead ("0") */
  return g_strdup_printf (_("The setting “%s” (%s) holds %s, which is not %s; the default, %s, "
                            "is used instead."),
                          summary, g_settings_schema_key_get_name (key), stored_text, expected,
                          fallback_text);
}

/* The value stored for @name, read as GSettings reads it (@type, the key's) or, with %NULL,
 * as the backend holds it (dconf and the memory backend ignore the type, the keyfile backend
 * then parses the text with the types GVariant guesses: "587" is an int32 there), or NULL. */
static GVariant *
read_stored (GSettingsBackend   *backend,
             const char         *path,
             const char         *name,
             const GVariantType *type)
{
  g_autofree char *full_path = g_strconcat (path, name, NULL);

  return G_SETTINGS_BACKEND_GET_CLASS (backend)->read (backend, full_path, type, FALSE);
}

static GSettingsBackend *
get_backend (GSettings *settings)
{
  GSettingsBackend *backend = NULL;

  g_object_get (settings, "backend", &backend, NULL);
  /* A GSettings in delay-apply mode reads through GLib's private delayed backend, which insists
   * on a type; its pending values were written by GSettings and fit anyway. */
  if (backend != NULL && g_str_equal (G_OBJECT_TYPE_NAME (backend), "GDelayedSettingsBackend"))
    g_clear_object (&backend);
  return backend;
}

static gboolean
is_usable (GSettingsSchemaKey *key,
           GVariant           *stored)
{
  return g_variant_is_of_type (stored, g_settings_schema_key_get_value_type (key))
         && g_settings_schema_key_range_check (key, stored);
}

/* The value stored for @name as it is, to be shown, or NULL. Asked for no type, the keyfile
 * backend parses the text with GVariant's guesses and, when it does not parse at all
 * ("port=abc", "requires-auth=yes"), fails a GLib assertion (g_variant_type_equal() on the
 * NULL type) and gives nothing. Asked for a string, it gives the text of anything but a quoted
 * string as it is (GSettings' leniency for unquoted strings); so the text is read that way
 * first, and without a type only when that is safe: when the text parses. dconf and the memory
 * backend give the value, whatever its type, either way. */
static GVariant *
read_as_stored (GSettingsBackend *backend,
                const char       *path,
                const char       *name)
{
  g_autoptr(GVariant) text = read_stored (backend, path, name, G_VARIANT_TYPE_STRING);
  g_autoptr(GVariant) parsed = NULL;

  if (text == NULL || !g_variant_is_of_type (text, G_VARIANT_TYPE_STRING))
    return g_steal_pointer (&text);
  parsed = g_variant_parse (NULL, g_variant_get_string (text, NULL), NULL, NULL, NULL);
  if (parsed == NULL)
    return g_steal_pointer (&text);
  return read_stored (backend, path, name, NULL);
}

/* The value stored for @key if GSettings ignores it, or NULL: what the backend gives for the
 * key's type is what GSettings uses (the keyfile backend parses "587" as a uint16 only when
 * asked for one); only when that is unusable or missing is the value read as it is stored,
 * to be shown. */
static GVariant *
find_ignored (GSettingsBackend   *backend,
              const char         *path,
              GSettingsSchemaKey *key)
{
  const char *name = g_settings_schema_key_get_name (key);
  g_autoptr(GVariant) typed = read_stored (backend, path, name,
                                           g_settings_schema_key_get_value_type (key));

  if (typed != NULL && is_usable (key, typed))
    return NULL;
  if (typed != NULL && g_variant_is_of_type (typed, g_settings_schema_key_get_value_type (key)))
    return g_steal_pointer (&typed);   /* out of range */
  return read_as_stored (backend, path, name);
}

static int
compare_names (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/**
 * relay_settings_find_unusable:
 *
 * Finds the keys of @settings whose stored value GSettings ignores (wrong type, out of range,
 * not one of an enumeration's values), in the order of their names.
 *
 * Returns: (transfer full) (element-type RelayUnusableSetting): one entry per such key, with a
 *   message for people; empty when every stored value is used
 */
GPtrArray *
relay_settings_find_unusable (GSettings *settings)
{
  GPtrArray *found = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_unusable_setting_free);
  g_autoptr(GSettingsBackend) backend = get_backend (settings);
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autofree char *path = NULL;
  g_auto(GStrv) names = NULL;

  if (backend == NULL)
    return found;
  g_object_get (settings, "settings-schema", &schema, "path", &path, NULL);
  names = g_settings_schema_list_keys (schema);
  g_qsort_with_data (names, g_strv_length (names), sizeof (char *), compare_names, NULL);
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr(GSettingsSchemaKey) key = g_settings_schema_get_key (schema, names[i]);
      g_autoptr(GVariant) stored = find_ignored (backend, path, key);
      RelayUnusableSetting *unusable;

      if (stored == NULL)
        continue;
      unusable = g_new0 (RelayUnusableSetting, 1);
      unusable->key = g_strdup (names[i]);
      unusable->message = describe_unusable (key, stored);
      g_ptr_array_add (found, unusable);
    }
  return found;
}

/**
 * relay_settings_replace_unusable:
 * @unusable: (element-type RelayUnusableSetting): what relay_settings_find_unusable() found
 *
 * Replaces each of those stored values by the default that is used in its place. The user's
 * value is reset; a value that stays (from a system-wide database, which a reset leaves in
 * force) is overridden by writing the default as the user's value. A locked key is left as
 * it is.
 */
void
relay_settings_replace_unusable (GSettings *settings,
                                 GPtrArray *unusable)
{
  g_autoptr(GSettingsBackend) backend = get_backend (settings);
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autofree char *path = NULL;

  if (backend == NULL)
    return;
  g_object_get (settings, "settings-schema", &schema, "path", &path, NULL);
  for (guint i = 0; i < unusable->len; i++)
    {
      const RelayUnusableSetting *entry = g_ptr_array_index (unusable, i);
      g_autoptr(GSettingsSchemaKey) key = NULL;
      g_autoptr(GVariant) stored = NULL;

      /* locked (an administrator's): neither a reset nor a write would take */
      if (!g_settings_schema_has_key (schema, entry->key)
          || !g_settings_is_writable (settings, entry->key))
        continue;
      key = g_settings_schema_get_key (schema, entry->key);
      g_settings_reset (settings, entry->key);
      stored = find_ignored (backend, path, key);
      if (stored != NULL)
        {
          g_autoptr(GVariant) fallback = g_settings_schema_key_get_default_value (key);

          g_settings_set_value (settings, entry->key, fallback);
        }
    }
}
