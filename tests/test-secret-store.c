/* test-secret-store.c: the keyring round trip, on libsecret's file backend
 *
 * The file backend is what the Flatpak uses (behind the Secret portal); the integration test
 * tests/integration/test-secret-keyring.c does the same against a real gnome-keyring-daemon.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gstdio.h>

#include "relay-secret-store.h"

static GAsyncResult *
wait_for_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static void
store_result_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
store_sync (const char *server,
            const char *user,
            const char *password)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  relay_secret_store_store_async (server, user, password, NULL, store_result_cb, &result);
  g_assert_true (relay_secret_store_store_finish (wait_for_result (&result), &error));
  g_assert_no_error (error);
}

static char *
lookup_sync (const char *server,
             const char *user)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *password;

  relay_secret_store_lookup_async (server, user, NULL, store_result_cb, &result);
  password = relay_secret_store_lookup_finish (wait_for_result (&result), &error);
  g_assert_no_error (error);
  return password;
}

static void
clear_sync (const char *server,
            const char *user)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  relay_secret_store_clear_async (server, user, NULL, store_result_cb, &result);
  g_assert_true (relay_secret_store_clear_finish (wait_for_result (&result), &error));
  g_assert_no_error (error);
}

static void
test_round_trip (void)
{
  char *password;

  g_assert_null (lookup_sync ("smtp.example.com", "alice"));

  store_sync ("smtp.example.com", "alice", "s3cret pässword");
  password = lookup_sync ("smtp.example.com", "alice");
  g_assert_cmpstr (password, ==, "s3cret pässword");
  secret_password_free (password);

  /* Storing again replaces, it does not add a second item. */
  store_sync ("smtp.example.com", "alice", "second");
  password = lookup_sync ("smtp.example.com", "alice");
  g_assert_cmpstr (password, ==, "second");
  secret_password_free (password);

  clear_sync ("smtp.example.com", "alice");
  g_assert_null (lookup_sync ("smtp.example.com", "alice"));

  /* Clearing what is not there is not an error. */
  clear_sync ("smtp.example.com", "alice");
}

static void
test_keyed_by_server_and_user (void)
{
  char *password;

  store_sync ("a.example.com", "alice", "pw-a-alice");
  store_sync ("a.example.com", "bob", "pw-a-bob");
  store_sync ("b.example.com", "alice", "pw-b-alice");

  password = lookup_sync ("a.example.com", "alice");
  g_assert_cmpstr (password, ==, "pw-a-alice");
  secret_password_free (password);
  password = lookup_sync ("a.example.com", "bob");
  g_assert_cmpstr (password, ==, "pw-a-bob");
  secret_password_free (password);
  password = lookup_sync ("b.example.com", "alice");
  g_assert_cmpstr (password, ==, "pw-b-alice");
  secret_password_free (password);
  g_assert_null (lookup_sync ("b.example.com", "bob"));

  clear_sync ("a.example.com", "alice");
  password = lookup_sync ("a.example.com", "bob");
  g_assert_cmpstr (password, ==, "pw-a-bob");
  secret_password_free (password);

  clear_sync ("a.example.com", "bob");
  clear_sync ("b.example.com", "alice");
}

static void
test_schema_attributes (void)
{
  g_autoptr(GHashTable) attributes = NULL;
  g_autoptr(GError) error = NULL;
  char *password;

  /* The README's secret-tool line stores with exactly these attributes and no others. */
  attributes = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (attributes, "server", "scripted.example.com");
  g_hash_table_insert (attributes, "user", "ops");
  g_assert_true (secret_password_storev_sync (relay_secret_store_get_schema (), attributes,
                                              SECRET_COLLECTION_DEFAULT, "SMTP Relay",
                                              "from-a-script", NULL, &error));
  g_assert_no_error (error);

  password = lookup_sync ("scripted.example.com", "ops");
  g_assert_cmpstr (password, ==, "from-a-script");
  secret_password_free (password);
  clear_sync ("scripted.example.com", "ops");
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  int ret;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  dir = g_dir_make_tmp ("relay-secret-XXXXXX", NULL);
  path = g_build_filename (dir, "test.keyring", NULL);
  g_setenv ("SECRET_BACKEND", "file", TRUE);
  g_setenv ("SECRET_FILE_TEST_PATH", path, TRUE);
  g_setenv ("SECRET_FILE_TEST_PASSWORD", "test-keyring-password", TRUE);

  g_test_add_func ("/relay/secret-store/round-trip", test_round_trip);
  g_test_add_func ("/relay/secret-store/keyed-by-server-and-user", test_keyed_by_server_and_user);
  g_test_add_func ("/relay/secret-store/schema-attributes", test_schema_attributes);

  ret = g_test_run ();

  g_unlink (path);
  g_rmdir (dir);
  return ret;
}
