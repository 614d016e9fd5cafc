/* test-secret-keyring.c: the password store against a real gnome-keyring-daemon
 *
 * Run through with-keyring.sh, which gives it a private session bus and keyring. Also checks
 * that the secret-tool line of the README finds and makes the same items.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay-secret-store.h"

static void
result_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static char *
run_secret_tool (const char  *stdin_text,
                 GError     **error,
                 ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  va_list args;
  const char *arg;

  g_ptr_array_add (argv, (char *) "secret-tool");
  va_start (args, error);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                               error);
  if (process == NULL)
    return NULL;
  if (!g_subprocess_communicate_utf8 (process, stdin_text, NULL, &out, NULL, error))
    return NULL;
  if (!g_subprocess_get_successful (process))
    return g_strdup ("");
  return g_steal_pointer (&out);
}

static void
test_round_trip (void)
{
  g_autoptr(GAsyncResult) stored = NULL;
  g_autoptr(GAsyncResult) looked_up = NULL;
  g_autoptr(GAsyncResult) cleared = NULL;
  g_autoptr(GAsyncResult) again = NULL;
  g_autoptr(GError) error = NULL;
  char *password;

  relay_secret_store_store_async ("smtp.example.com", "alerts", "real keyring pw", NULL,
                                  result_cb, &stored);
  g_assert_true (relay_secret_store_store_finish (wait_for (&stored), &error));
  g_assert_no_error (error);

  relay_secret_store_lookup_async ("smtp.example.com", "alerts", NULL, result_cb, &looked_up);
  password = relay_secret_store_lookup_finish (wait_for (&looked_up), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, "real keyring pw");
  secret_password_free (password);

  relay_secret_store_clear_async ("smtp.example.com", "alerts", NULL, result_cb, &cleared);
  g_assert_true (relay_secret_store_clear_finish (wait_for (&cleared), &error));
  g_assert_no_error (error);

  relay_secret_store_lookup_async ("smtp.example.com", "alerts", NULL, result_cb, &again);
  password = relay_secret_store_lookup_finish (wait_for (&again), &error);
  g_assert_no_error (error);
  g_assert_null (password);
}

/* The README documents this line for administrators who script the password. */
static void
test_secret_tool_interop (void)
{
  g_autoptr(GAsyncResult) looked_up = NULL;
  g_autoptr(GAsyncResult) stored = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *secret_tool = g_find_program_in_path ("secret-tool");
  char *password;

  if (secret_tool == NULL)
    {
      g_test_skip ("secret-tool is not installed (apt-get install libsecret-tools)");
      return;
    }

  out = run_secret_tool ("scripted pw", &error, "store", "--label=SMTP Relay", "xdg:schema",
                         "io.github.smtprelay.SmtpRelay", "server", "relay.example.net", "user",
                         "ops", NULL);
  g_assert_no_error (error);

  relay_secret_store_lookup_async ("relay.example.net", "ops", NULL, result_cb, &looked_up);
  password = relay_secret_store_lookup_finish (wait_for (&looked_up), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, "scripted pw");
  secret_password_free (password);

  relay_secret_store_store_async ("relay.example.net", "ops", "changed in the app", NULL,
                                  result_cb, &stored);
  g_assert_true (relay_secret_store_store_finish (wait_for (&stored), &error));
  g_clear_pointer (&out, g_free);
  out = run_secret_tool (NULL, &error, "lookup", "xdg:schema", "io.github.smtprelay.SmtpRelay",
                         "server", "relay.example.net", "user", "ops", NULL);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "changed in the app");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL)
    {
      g_print ("1..0 # SKIP no session bus: run through tests/integration/with-keyring.sh\n");
      return 0;
    }

  g_test_add_func ("/relay/secret-keyring/round-trip", test_round_trip);
  g_test_add_func ("/relay/secret-keyring/secret-tool", test_secret_tool_interop);

  return g_test_run ();
}
