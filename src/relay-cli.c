/* relay-cli.c: `smtp-relay test` and the dispatcher of the other command-line modes
 *
 * Exit codes follow sysexits.h, as sendmail's do, so that scripts can tell a wrong setting from
 * a relay that is down for a moment.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-cli"

#include <glib/gi18n.h>
#include <stdio.h>
#include <sysexits.h>

#include "relay-cli.h"
#include "relay-config.h"
#include "relay-smtp-error.h"
#include "relay-test-message.h"

typedef struct
{
  GMainLoop    *loop;
  GAsyncResult *result;
} Waiter;

static void
on_done_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Waiter *waiter = user_data;

  waiter->result = g_object_ref (result);
  g_main_loop_quit (waiter->loop);
}

static GAsyncResult *
wait_for (Waiter *waiter)
{
  /* while: waiters share the loop, so another one finishing may quit it first. */
  while (waiter->result == NULL)
    g_main_loop_run (waiter->loop);
  return waiter->result;
}

/**
 * relay_cli_exit_code:
 * @reply_code: the server's last reply code, 0 if none
 *
 * The sysexits.h code for @error: what failed decides whether a script should retry later
 * (EX_TEMPFAIL), fix the settings (EX_CONFIG, EX_NOPERM) or give up (EX_UNAVAILABLE).
 */
int
relay_cli_exit_code (const GError *error,
                     guint         reply_code)
{
  if (error == NULL)
    return EX_OK;
  if (error->domain != RELAY_SMTP_ERROR)
    return EX_SOFTWARE;

  switch ((RelaySmtpError) error->code)
    {
    case RELAY_SMTP_ERROR_INVALID_INPUT:
      return EX_DATAERR;
    case RELAY_SMTP_ERROR_RESOLVE:
      return EX_NOHOST;
    case RELAY_SMTP_ERROR_DNS_FAILURE:
    case RELAY_SMTP_ERROR_TIMEOUT:
    case RELAY_SMTP_ERROR_CLOSED:
      return EX_TEMPFAIL;
    case RELAY_SMTP_ERROR_CONNECT:
    case RELAY_SMTP_ERROR_REFUSED:
    case RELAY_SMTP_ERROR_UNREACHABLE:
    case RELAY_SMTP_ERROR_BLOCKED:
      return EX_UNAVAILABLE;
    case RELAY_SMTP_ERROR_TLS:
    case RELAY_SMTP_ERROR_CERTIFICATE:
    case RELAY_SMTP_ERROR_GREETING:
    case RELAY_SMTP_ERROR_EHLO:
    case RELAY_SMTP_ERROR_STARTTLS:
    case RELAY_SMTP_ERROR_PROTOCOL:
      return EX_PROTOCOL;
    case RELAY_SMTP_ERROR_STARTTLS_UNAVAILABLE:
    case RELAY_SMTP_ERROR_PLAINTEXT_AUTH_REFUSED:
    case RELAY_SMTP_ERROR_AUTH_UNAVAILABLE:
      return EX_CONFIG;
    case RELAY_SMTP_ERROR_AUTH:
      return EX_NOPERM;
    case RELAY_SMTP_ERROR_SENDER:
    case RELAY_SMTP_ERROR_RECIPIENT:
    case RELAY_SMTP_ERROR_DATA:
    default:
      /* RFC 5321 §4.2.1: 4yz is a transient failure, worth trying again later. */
      return reply_code >= 400 && reply_code < 500 ? EX_TEMPFAIL : EX_UNAVAILABLE;
    }
}

/**
 * relay_cli_open_settings:
 *
 * Returns: (transfer full) (nullable): the application's settings, or %NULL (with a message on
 *   standard error) when the schema is not installed, where g_settings_new() would abort
 */
GSettings *
relay_cli_open_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
  if (schema == NULL)
    {
      g_printerr (_("smtp-relay: the settings schema %s is not installed\n"), APP_ID);
      return NULL;
    }
  return g_settings_new_full (schema, NULL, NULL);
}

static int
run_test (int    argc,
          char **argv)
{
  g_autofree char *to = NULL;
  gboolean verbose = FALSE;
  const GOptionEntry entries[] = {
    { "to", 't', 0, G_OPTION_ARG_STRING, &to,
      N_("Send the test message to ADDRESS (default: the last test recipient)"), N_("ADDRESS") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      N_("Also print the session transcript (without the password)"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GSettings) settings = NULL;
  g_autoptr(RelayConfig) config = NULL;
  g_autoptr(RelaySmtpClient) client = NULL;
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  Waiter waiter = { loop, NULL };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  const char *recipient;
  int code;

  context = g_option_context_new (_("— send a test message through the configured relay"));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_description (context,
    _("Exit status: 0 sent; 64 usage; 65 invalid address; 68 server name not found; "
      "69 server unavailable or refused the message; 75 temporary failure, try again later; "
      "76 protocol or TLS error; 77 login refused; 78 configuration error."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("smtp-relay test: %s\n", error->message);
      return EX_USAGE;
    }
  if (argc > 1)
    {
      g_printerr (_("smtp-relay test: unexpected argument “%s”\n"), argv[1]);
      return EX_USAGE;
    }

  settings = relay_cli_open_settings ();
  if (settings == NULL)
    return EX_CONFIG;
  config = relay_config_new_from_settings (settings);

  recipient = to != NULL ? to : config->test_recipient;
  if (recipient == NULL || *recipient == '\0')
    {
      g_printerr (_("smtp-relay test: no recipient: give --to ADDRESS\n"));
      return EX_USAGE;
    }
  if (*config->server == '\0')
    {
      g_printerr (_("smtp-relay test: no server is set: open SMTP Relay and enter one\n"));
      return EX_CONFIG;
    }

  message = relay_test_message_new (config, recipient, NULL, &error);
  if (message == NULL)
    {
      g_printerr ("smtp-relay test: %s\n", error->message);
      return EX_DATAERR;
    }

  /* The keyring is read while the client connects: it waits for the password only at AUTH. */
  client = relay_config_create_client (config);
  if (config->requires_auth)
    relay_smtp_client_set_password_pending (client, TRUE);
  relay_smtp_client_send_async (client, message, cancellable, on_done_cb, &waiter);

  if (config->requires_auth)
    {
      Waiter keyring = { loop, NULL };

      relay_config_load_password_async (config, NULL, on_done_cb, &keyring);
      if (!relay_config_load_password_finish (config, wait_for (&keyring), &error))
        {
          g_printerr ("smtp-relay test: %s\n", error->message);
          g_clear_object (&keyring.result);
          g_cancellable_cancel (cancellable);
          g_free (relay_smtp_client_send_finish (client, wait_for (&waiter), NULL));
          g_clear_object (&waiter.result);
          return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ? EX_CONFIG
                                                                          : EX_TEMPFAIL;
        }
      g_clear_object (&keyring.result);
      relay_smtp_client_set_password (client, config->password);
    }

  reply = relay_smtp_client_send_finish (client, wait_for (&waiter), &error);
  g_clear_object (&waiter.result);

  if (reply != NULL)
    g_print (_("Test message to %s accepted by %s: %s\n"), recipient, config->server, reply);
  else
    {
      const char *hint = relay_smtp_error_hint (error);

      g_printerr (_("Test failed: %s\n"), error->message);
      if (hint != NULL && *hint != '\0')
        g_printerr ("%s\n", hint);
    }

  if (verbose)
    g_print ("\n%s", relay_smtp_client_get_transcript (client));

  code = relay_cli_exit_code (error, relay_smtp_client_get_last_reply_code (client));
  return code;
}

static const struct
{
  const char *name;
  int       (*run) (int argc, char **argv);
} commands[] = {
  { "test", run_test },
};

gboolean
relay_cli_handles (const char *command)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_strcmp0 (command, commands[i].name) == 0)
      return TRUE;
  return FALSE;
}

/**
 * relay_cli_run:
 * @argv: the arguments from the command name on: `test --to …`
 */
int
relay_cli_run (int    argc,
               char **argv)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_strcmp0 (argv[0], commands[i].name) == 0)
      return commands[i].run (argc, argv);

  g_printerr (_("smtp-relay: unknown command “%s”\n"), argv[0]);
  return EX_USAGE;
}
