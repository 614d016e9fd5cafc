/* test-settings-check.c: stored values that GSettings ignores, found and replaced
 *
 * Values are stored as `dconf write` or an administrator's database would store them: on the
 * lockable test backend without a type check, and in a real keyfile for the keyfile backend.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gstdio.h>
#include <string.h>

#include "relay-security.h"
#include "relay-settings-check.h"
#include "relay-test-backend.h"

#define KEY_PATH "/io/github/smtprelay/SmtpRelay/"

typedef struct
{
  RelayTestBackend *backend;
  GSettings        *settings;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->backend = relay_test_backend_new ();
  f->settings = g_settings_new_with_backend (APP_ID, G_SETTINGS_BACKEND (f->backend));
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->settings);
  g_clear_object (&f->backend);
}

/* As `dconf write` stores it: no type or range check. */
static void
store_raw (Fixture    *f,
           const char *key,
           GVariant   *value)
{
  g_autofree char *path = g_strconcat (KEY_PATH, key, NULL);

  G_SETTINGS_BACKEND_GET_CLASS (f->backend)->write (G_SETTINGS_BACKEND (f->backend), path,
                                                    value, NULL);
}

static const RelayUnusableSetting *
find (GPtrArray  *unusable,
      const char *key)
{
  for (guint i = 0; i < unusable->len; i++)
    {
      const RelayUnusableSetting *entry = g_ptr_array_index (unusable, i);

      if (g_str_equal (entry->key, key))
        return entry;
    }
  return NULL;
}

static void
test_valid_values (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GPtrArray) unusable = NULL;

  g_settings_set (f->settings, "port", "q", 2525);
  g_settings_set_enum (f->settings, "security", RELAY_SECURITY_TLS);
  g_settings_set_string (f->settings, "server", "relay.example.com");
  store_raw (f, "requires-auth", g_variant_new_boolean (TRUE));   /* the right type, raw */
  unusable = relay_settings_find_unusable (f->settings);
  g_assert_cmpuint (unusable->len, ==, 0);
}

static void
test_wrong_values (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GPtrArray) unusable = NULL;
  const RelayUnusableSetting *entry;

  store_raw (f, "port", g_variant_new_int32 (70000));
  store_raw (f, "security", g_variant_new_string ("ssl3"));
  store_raw (f, "requires-auth", g_variant_new_string ("yes"));
  store_raw (f, "window-width", g_variant_new_int32 (50));
  store_raw (f, "server", g_variant_new_string ("relay.example.com"));   /* fine */

  /* What the settings say instead: GSettings' silence, which is the reason for the check. */
  g_assert_cmpint (g_settings_get_enum (f->settings, "security"), ==, RELAY_SECURITY_STARTTLS);
  g_assert_false (g_settings_get_boolean (f->settings, "requires-auth"));

  unusable = relay_settings_find_unusable (f->settings);
  g_assert_cmpuint (unusable->len, ==, 4);
  /* in the order of the keys' names */
  g_assert_cmpstr (((RelayUnusableSetting *) unusable->pdata[0])->key, ==, "port");
  g_assert_cmpstr (((RelayUnusableSetting *) unusable->pdata[3])->key, ==, "window-width");

  entry = find (unusable, "port");
  g_assert_nonnull (entry);
  g_assert_nonnull (strstr (entry->message, "“SMTP port” (port)"));
  g_assert_nonnull (strstr (entry->message, "holds 70000"));
  g_assert_nonnull (strstr (entry->message, "a number from 0 to 65535"));
  g_assert_nonnull (strstr (entry->message, "the default, 0,"));

  entry = find (unusable, "security");
  g_assert_nonnull (entry);
  g_assert_nonnull (strstr (entry->message, "holds 'ssl3'"));
  g_assert_nonnull (strstr (entry->message, "one of 'none', 'starttls', 'tls'"));
  g_assert_nonnull (strstr (entry->message, "the default, 'starttls',"));

  entry = find (unusable, "requires-auth");
  g_assert_nonnull (entry);
  g_assert_nonnull (strstr (entry->message, "true or false"));

  entry = find (unusable, "window-width");
  g_assert_nonnull (entry);
  g_assert_nonnull (strstr (entry->message, "a number from 200 to 16384"));
  g_assert_nonnull (strstr (entry->message, "the default, 640,"));

  g_assert_null (find (unusable, "server"));
}

static void
test_replace (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GPtrArray) unusable = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autoptr(GVariant) port = NULL;
  g_autoptr(GVariant) security = NULL;
  g_autofree char *server = NULL;

  store_raw (f, "port", g_variant_new_int32 (70000));
  /* An administrator's database: a reset leaves it in force, so the default is written */
  relay_test_backend_set_system (f->backend, KEY_PATH "security", g_variant_new_string ("ssl3"));
  store_raw (f, "server", g_variant_new_string ("relay.example.com"));

  unusable = relay_settings_find_unusable (f->settings);
  g_assert_cmpuint (unusable->len, ==, 2);
  relay_settings_replace_unusable (f->settings, unusable);

  after = relay_settings_find_unusable (f->settings);
  g_assert_cmpuint (after->len, ==, 0);
  /* The port is the default again; the security is now the user's own, the default */
  port = g_settings_get_user_value (f->settings, "port");
  g_assert_null (port);
  security = g_settings_get_user_value (f->settings, "security");
  g_assert_nonnull (security);
  g_assert_cmpstr (g_variant_get_string (security, NULL), ==, "starttls");
  /* What was fine stays */
  server = g_settings_get_string (f->settings, "server");
  g_assert_cmpstr (server, ==, "relay.example.com");
}

/* Settings on the keyfile backend (the Flatpak's, and `GSETTINGS_BACKEND=keyfile`'s), in a
 * throw-away file that holds @contents, or nothing yet. */
typedef struct
{
  char             *dir;
  char             *path;
  GSettingsBackend *backend;
  GSettings        *settings;
} Keyfile;

static void
keyfile_open (Keyfile    *k,
              const char *contents)
{
  g_autoptr(GError) error = NULL;

  k->dir = g_dir_make_tmp ("relay-settings-check-XXXXXX", &error);
  g_assert_no_error (error);
  k->path = g_build_filename (k->dir, "keyfile", NULL);
  if (contents != NULL)
    {
      g_file_set_contents (k->path, contents, -1, &error);
      g_assert_no_error (error);
    }
  k->backend = g_keyfile_settings_backend_new (k->path, "/", NULL);
  k->settings = g_settings_new_with_backend (APP_ID, k->backend);
}

static void
keyfile_close (Keyfile *k)
{
  g_clear_object (&k->settings);
  g_clear_object (&k->backend);
  g_unlink (k->path);
  g_rmdir (k->dir);
  g_free (k->path);
  g_free (k->dir);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Keyfile, keyfile_close)

/* A file with values of the wrong type, as someone may write it by hand. */
static void
test_keyfile (void)
{
  g_auto(Keyfile) k = { 0 };
  g_autoptr(GPtrArray) unusable = NULL;
  g_autofree char *server = NULL;

  keyfile_open (&k, "[io/github/smtprelay/SmtpRelay]\n"
                    "port=70000\n"
                    "security='ssl3'\n"
                    "server='relay.example.com'\n"
                    "requires-auth=1\n");
  server = g_settings_get_string (k.settings, "server");
  g_assert_cmpstr (server, ==, "relay.example.com");
  unusable = relay_settings_find_unusable (k.settings);
  g_assert_cmpuint (unusable->len, ==, 3);
  g_assert_nonnull (find (unusable, "port"));
  g_assert_nonnull (find (unusable, "security"));
  g_assert_nonnull (strstr (find (unusable, "requires-auth")->message, "holds 1,"));
}

/* Written by hand into a keyfile, text that is no GVariant at all: an unquoted word for a
 * number or a boolean. GSettings ignores it as it ignores the rest; it is said too, with no
 * critical from GLib's keyfile backend (fatal here), and "Use Defaults" removes it. */
static void
test_keyfile_unparsable (void)
{
  g_auto(Keyfile) k = { 0 };
  g_autoptr(GPtrArray) unusable = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autofree char *server = NULL;

  keyfile_open (&k, "[io/github/smtprelay/SmtpRelay]\n"
                    "port=abc\n"
                    "requires-auth=yes\n"
                    "window-width=50\n"
                    "server=relay.example.com\n");
  /* an unquoted string is one GSettings takes */
  server = g_settings_get_string (k.settings, "server");
  g_assert_cmpstr (server, ==, "relay.example.com");
  unusable = relay_settings_find_unusable (k.settings);
  g_assert_cmpuint (unusable->len, ==, 3);
  g_assert_nonnull (strstr (find (unusable, "port")->message, "holds 'abc',"));
  g_assert_nonnull (strstr (find (unusable, "requires-auth")->message, "holds 'yes',"));
  g_assert_nonnull (strstr (find (unusable, "window-width")->message, "holds 50,"));

  relay_settings_replace_unusable (k.settings, unusable);
  after = relay_settings_find_unusable (k.settings);
  g_assert_cmpuint (after->len, ==, 0);
}

/* A GSettings in delay-apply mode reads through a backend of GLib's that needs a type: no check
 * (and no critical). */
static void
test_delayed (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GPtrArray) unusable = NULL;

  store_raw (f, "port", g_variant_new_int32 (70000));
  g_settings_delay (f->settings);
  unusable = relay_settings_find_unusable (f->settings);
  g_assert_cmpuint (unusable->len, ==, 0);
  relay_settings_replace_unusable (f->settings, unusable);
}

/* What GSettings itself writes to a keyfile (the Flatpak's backend) is fine: numbers go there
 * without a type ("port=587"), which parses as an int32 unless a uint16 is asked for. */
static void
test_keyfile_own_values (void)
{
  g_auto(Keyfile) k = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GPtrArray) unusable = NULL;
  guint16 port = 0;

  keyfile_open (&k, NULL);
  g_settings_set (k.settings, "port", "q", 587);
  g_settings_set_enum (k.settings, "security", RELAY_SECURITY_TLS);
  g_settings_set_int (k.settings, "window-width", 800);
  g_settings_set_boolean (k.settings, "requires-auth", TRUE);
  g_settings_sync ();
  g_file_get_contents (k.path, &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (contents, "port=587\n"));

  unusable = relay_settings_find_unusable (k.settings);
  g_assert_cmpuint (unusable->len, ==, 0);
  /* and "Use Defaults" would leave them alone */
  relay_settings_replace_unusable (k.settings, unusable);
  g_settings_get (k.settings, "port", "q", &port);
  g_assert_cmpuint (port, ==, 587);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/settings-check/valid", Fixture, NULL, fixture_set_up, test_valid_values,
              fixture_tear_down);
  g_test_add ("/settings-check/wrong", Fixture, NULL, fixture_set_up, test_wrong_values,
              fixture_tear_down);
  g_test_add ("/settings-check/replace", Fixture, NULL, fixture_set_up, test_replace,
              fixture_tear_down);
  g_test_add ("/settings-check/delayed", Fixture, NULL, fixture_set_up, test_delayed,
              fixture_tear_down);
  g_test_add_func ("/settings-check/keyfile", test_keyfile);
  g_test_add_func ("/settings-check/keyfile-own-values", test_keyfile_own_values);
  g_test_add_func ("/settings-check/keyfile-unparsable", test_keyfile_unparsable);
  return g_test_run ();
}
