/* relay-cli.c: `smtp-relay test|send|sendmail|queue|flush`, the command-line modes
 *
 * Exit codes follow sysexits.h, as sendmail's do, so that scripts can tell a wrong setting from
 * a relay that is down for a moment. A message that cannot go out for a passing reason (relay
 * down, 4xx, no unlocked keyring) is queued rather than lost: the command says so on standard
 * error and exits 0, as sendmail does when it queues.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-cli"

#include <gio/gunixinputstream.h>
#include <glib/gi18n.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "relay-address.h"
#include "relay-cli-detect.h"
#include "relay-cli.h"
#include "relay-config.h"
#include "relay-mail-input.h"
#include "relay-module.h"
#include "relay-queue.h"
#include "relay-settings-check.h"
#include "relay-smtp-error.h"
#include "relay-test-message.h"

/* A locked keyring may wait for an unlock prompt that nobody answers (SSH, cron): give up and
 * queue instead. */
#define PASSWORD_TIMEOUT_S 25
/* Alerts are small; a runaway producer must not fill the memory. */
#define MAX_MESSAGE_BYTES (64 * 1024 * 1024)

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
    case RELAY_SMTP_ERROR_STARTTLS:
      /* 454 "TLS not available due to temporary reason" (RFC 3207): `send` queues it */
      if (reply_code >= 400 && reply_code < 500)
        return EX_TEMPFAIL;
      return EX_PROTOCOL;
    case RELAY_SMTP_ERROR_TLS:
    case RELAY_SMTP_ERROR_CERTIFICATE:
    case RELAY_SMTP_ERROR_PROTOCOL:
      return EX_PROTOCOL;
    case RELAY_SMTP_ERROR_STARTTLS_UNAVAILABLE:
    case RELAY_SMTP_ERROR_PLAINTEXT_AUTH_REFUSED:
    case RELAY_SMTP_ERROR_AUTH_UNAVAILABLE:
      return EX_CONFIG;
    case RELAY_SMTP_ERROR_AUTH:
      /* 454 (RFC 4954) or Exim's 435: the server could not check the login now. */
      return reply_code >= 400 && reply_code < 500 ? EX_TEMPFAIL : EX_NOPERM;
    case RELAY_SMTP_ERROR_GREETING:
    case RELAY_SMTP_ERROR_EHLO:
      /* Refused with a reply (421 too busy, 554 no service) like any other; only a greeting
       * that is no SMTP at all is a protocol error. */
      if (reply_code < 400 || reply_code >= 600)
        return EX_PROTOCOL;
      G_GNUC_FALLTHROUGH;
    case RELAY_SMTP_ERROR_SENDER:
    case RELAY_SMTP_ERROR_RECIPIENT:
    case RELAY_SMTP_ERROR_DATA:
    default:
      /* RFC 5321 §4.2.1: 4yz is a transient failure, worth trying again later. */
      return reply_code >= 400 && reply_code < 500 ? EX_TEMPFAIL : EX_UNAVAILABLE;
    }
}

/* The settings, checked before anything else happens: no server, an invalid one, or a login
 * without a user name is a setting to fix (EX_CONFIG), not bad data in the message. */
static gboolean
check_config (const char        *prog,
              const RelayConfig *config)
{
  g_autoptr(GError) error = NULL;

  if (relay_config_check (config, &error))
    return TRUE;
  /* TRANSLATORS: a program's name, then what went wrong (French puts a space before the
   * colon) */
  g_printerr (_("%s: %s\n"), prog, error->message);
  return FALSE;
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

/* A stored value that GSettings ignores (a port of 70000, a security of 'ssl3') would make
 * this send use the default in its place without a word: say so, then go on with it. */
static void
warn_unusable_settings (const char *prog,
                        GSettings  *settings)
{
  g_autoptr(GPtrArray) unusable = relay_settings_find_unusable (settings);

  for (guint i = 0; i < unusable->len; i++)
    {
      const RelayUnusableSetting *entry = g_ptr_array_index (unusable, i);

      g_printerr (_("%s: %s\n"), prog, entry->message);
    }
}

static int map_local_recipients (const char  *prog,
                                 RelayConfig *config,
                                 GPtrArray   *recipients);

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
  g_autoptr(GPtrArray) local = g_ptr_array_new_with_free_func (g_free);
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
      g_printerr (_("%s: %s\n"), "smtp-relay test", error->message);
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
  warn_unusable_settings ("smtp-relay test", settings);
  config = relay_config_new_from_settings (settings);

  recipient = to != NULL ? to : config->test_recipient;
  if (recipient == NULL || *recipient == '\0')
    {
      g_printerr (_("smtp-relay test: no recipient: give --to ADDRESS\n"));
      return EX_USAGE;
    }
  if (!check_config ("smtp-relay test", config))
    return EX_CONFIG;
  /* `--to root` goes where `send --to root` goes: the Local Mail Recipient, or nowhere (67). */
  g_ptr_array_add (local, g_strdup (recipient));
  if ((code = map_local_recipients ("smtp-relay test", config, local)) != EX_OK)
    return code;
  recipient = local->pdata[0];

  message = relay_test_message_new (config, recipient, NULL, &error);
  if (message == NULL)
    {
      g_printerr (_("%s: %s\n"), "smtp-relay test", error->message);
      /* No sender set is a setting to fix (78), as for `send` and `sendmail`. */
      return config->sender == NULL || *config->sender == '\0' ? EX_CONFIG : EX_DATAERR;
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
          g_printerr (_("%s: %s\n"), "smtp-relay test", error->message);
          g_clear_object (&keyring.result);
          g_cancellable_cancel (cancellable);
          g_free (relay_smtp_client_send_finish (client, wait_for (&waiter), NULL));
          g_clear_object (&waiter.result);
          /* A password the settings cannot give (none stored, a refused, missing or empty
           * password file, one with a line break) is a setting to fix, as in `send`. */
          return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
                 || error->domain == RELAY_CONFIG_ERROR ? EX_CONFIG : EX_TEMPFAIL;
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
      guint last_code = relay_smtp_client_get_last_reply_code (client);
      const char *hint = relay_smtp_error_hint (error, last_code);

      g_printerr (_("Test failed: %s\n"), error->message);
      if (hint != NULL && *hint != '\0')
        g_printerr ("%s\n", hint);
    }

  if (verbose)
    g_print ("\n%s", relay_smtp_client_get_transcript (client));

  code = relay_cli_exit_code (error, relay_smtp_client_get_last_reply_code (client));
  return code;
}

/* --- sending, shared by send and sendmail ------------------------------------------------- */

/* Whether @data holds a line of a single "." (sendmail without -i: the end of the message). */
static gboolean
has_dot_line (const guint8 *data,
              gsize         length,
              gsize         from)
{
  for (gsize i = from; i < length; i++)
    if (data[i] == '.' && (i == 0 || data[i - 1] == '\n')
        && ((i + 1 < length && data[i + 1] == '\n')
            || (i + 2 < length && data[i + 1] == '\r' && data[i + 2] == '\n')))
      return TRUE;
  return FALSE;
}

/* @stop_at_dot: sendmail without -i, where a line of a single "." ends the message: reading
 * stops there, rather than wait for the end of the input (a terminal, a pipe left open). */
static gboolean
read_stdin (const char  *prog,
            gboolean     stop_at_dot,
            GBytes     **out)
{
  g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  g_autoptr(GByteArray) buffer = g_byte_array_new ();
  guint8 chunk[65536];

  /* Someone at a terminal would otherwise face a silent wait; scripts and cron pipe the
   * message in and see nothing. */
  if (isatty (STDIN_FILENO))
    g_printerr (stop_at_dot
                ? _("%s: type the message, then a line with only “.” (or Ctrl+D at the start of a line)\n")
                : _("%s: type the message, then press Ctrl+D at the start of a line\n"), prog);

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_input_stream_read (in, chunk, sizeof chunk, NULL, &error);

      if (n < 0)
        {
          g_printerr (_("%s: cannot read the message from standard input: %s\n"), prog,
                      error->message);
          return FALSE;
        }
      if (n == 0)
        break;
      if (buffer->len + n > MAX_MESSAGE_BYTES)
        {
          g_printerr (_("%s: the message is larger than %u MiB; nothing was sent.\n"), prog,
                      MAX_MESSAGE_BYTES / (1024 * 1024));
          return FALSE;
        }
      g_byte_array_append (buffer, chunk, n);
      if (stop_at_dot
          && has_dot_line (buffer->data, buffer->len, buffer->len - n > 2 ? buffer->len - n - 2 : 0))
        break;
    }
  *out = g_byte_array_free_to_bytes (g_steal_pointer (&buffer));
  return TRUE;
}

/* Queues @message; with @held, the entry stays held (relay_queue_hold()) until *@held, a file
 * descriptor or -1, is closed. */
static int
queue_message_held (const char       *prog,
                    RelaySmtpMessage *message,
                    const char       *reason,
                    int              *held)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;

  if (held != NULL)
    *held = -1;
  if (!relay_queue_add (message, reason, &id, &error))
    {
      /* TRANSLATORS: the second %s is why it was not sent, the third why it could not be
       * queued either; both are sentences */
      g_printerr (_("%s: not sent: %s %s\n"), prog, reason, error->message);
      return EX_TEMPFAIL;
    }
  g_printerr (_("%s: queued as %s, not sent yet: %s SMTP Relay sends it when it starts and "
                "while it is open, and so does “smtp-relay flush” (smtp-relay-flush.timer, "
                "once enabled).\n"),
              prog, id, reason);
  if (held != NULL)
    *held = relay_queue_hold (id);
  return EX_OK;
}

static int
queue_message (const char       *prog,
               RelaySmtpMessage *message,
               const char       *reason)
{
  return queue_message_held (prog, message, reason, NULL);
}

static gboolean
on_password_deadline_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

/* Why the password could not be had, as the queue entry's reason. */
static char *
password_failure_reason (const GError *error)
{
  /* cron, a root service or SSH: no keyring here. Never a plaintext fallback: the message
   * waits for the desktop session, where the keyring is. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_strdup_printf (_("The keyring did not give the password within %u seconds; it may be locked."),
                            PASSWORD_TIMEOUT_S);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return g_strdup_printf (_("%s (Or the keyring is locked.)"), error->message);
  return g_str_has_suffix (error->message, ".") ? g_strdup (error->message)
                                                : g_strconcat (error->message, ".", NULL);
}

/* A send can wait minutes for a slow relay, and shutdown, a service's stop timeout or
 * `timeout` end it with SIGTERM meanwhile: the message is queued, not lost. */
typedef struct
{
  GCancellable    *send;
  GCancellable    *keyring;
  RelaySmtpClient *client;
  int              signum;
  gboolean         written;     /* the whole message was on the wire when the signal came */
  guint            sources[3];
  guint            grace_id;
  GCancellable    *backlog;     /* the backlog's flush: it begins no further entry */
} Interrupt;

/* Once the whole message is written, the server may be delivering it: its reply is awaited a
 * little longer, or the message queued now would arrive twice (a pipelined BDAT is written
 * while the server still checks the recipient). */
#define SIGNAL_GRACE_S 15

static gboolean
on_grace_over_cb (gpointer user_data)
{
  Interrupt *interrupt = user_data;

  interrupt->grace_id = 0;
  g_cancellable_cancel (interrupt->send);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal_cb (gpointer user_data,
              int      signum)
{
  Interrupt *interrupt = user_data;

  /* This command's message went through: what waited stays queued, except the entry being
   * sent, whose reply is awaited as this command's would be. */
  if (interrupt->backlog != NULL)
    g_cancellable_cancel (interrupt->backlog);
  if (interrupt->signum == 0)
    {
      interrupt->signum = signum;
      interrupt->written = interrupt->client != NULL
                           && relay_smtp_client_get_message_written (interrupt->client);
      if (interrupt->written)
        {
          interrupt->grace_id = g_timeout_add_seconds (SIGNAL_GRACE_S, on_grace_over_cb,
                                                       interrupt);
          return G_SOURCE_CONTINUE;
        }
    }
  /* Before the message was written, or a second signal: stop now. */
  g_clear_handle_id (&interrupt->grace_id, g_source_remove);
  g_cancellable_cancel (interrupt->send);
  if (interrupt->keyring != NULL)
    g_cancellable_cancel (interrupt->keyring);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigterm_cb (gpointer user_data)
{
  return on_signal_cb (user_data, SIGTERM);
}

static gboolean
on_sigint_cb (gpointer user_data)
{
  return on_signal_cb (user_data, SIGINT);
}

static gboolean
on_sighup_cb (gpointer user_data)
{
  return on_signal_cb (user_data, SIGHUP);
}

static void
interrupt_clear (Interrupt *interrupt)
{
  for (guint i = 0; i < G_N_ELEMENTS (interrupt->sources); i++)
    g_clear_handle_id (&interrupt->sources[i], g_source_remove);
  g_clear_handle_id (&interrupt->grace_id, g_source_remove);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Interrupt, interrupt_clear)

static char *
interrupted_reason (const Interrupt *interrupt)
{
  const char *name = interrupt->signum == SIGTERM ? "SIGTERM"
                     : interrupt->signum == SIGINT ? "SIGINT" : "SIGHUP";

  if (interrupt->written)
    /* TRANSLATORS: %s is the signal's name, e.g. SIGTERM */
    return g_strdup_printf (_("Interrupted by %s after the message was sent, before the server confirmed it: it may arrive twice."),
                            name);
  /* TRANSLATORS: %s is the signal's name, e.g. SIGTERM */
  return g_strdup_printf (_("Interrupted by %s before the server confirmed delivery."), name);
}

/* Sends @message with @config, or queues it when the failure is a passing one. */
/* What a flush moved out of the queue for good: said on stderr, as nothing else will. */
static void
print_set_aside (const char *prog,
                 guint       failed,
                 guint       damaged)
{
  g_autofree char *directory = relay_queue_get_failed_directory ();

  if (failed > damaged)
    g_printerr (g_dngettext (GETTEXT_PACKAGE,
                             "%s: %u message was refused by the server and moved to %s; see “smtp-relay queue --failed”\n",
                             "%s: %u messages were refused by the server and moved to %s; see “smtp-relay queue --failed”\n",
                             failed - damaged),
                prog, failed - damaged, directory);
  if (damaged > 0)
    g_printerr (g_dngettext (GETTEXT_PACKAGE,
                             "%s: %u file in the queue is not a message that can be sent (damaged, or not a file); it was moved to %s\n",
                             "%s: %u files in the queue are not messages that can be sent (damaged, or not files); they were moved to %s\n",
                             damaged),
                prog, damaged, directory);
}

/* The backlog begins no entry after this long: the program that called this command (an alert
 * hook, often with a timeout of its own) waits for it, and a relay back after a day's outage
 * may have a thousand messages waiting. The rest goes with the next send, `smtp-relay flush`
 * or the window. */
#define BACKLOG_BUDGET_S 10

static gboolean
on_backlog_budget_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* Messages that waited in the queue go on the session that just delivered this command's own
 * (as msmtpq does): the relay is back, and nothing else may flush soon (the user timer is not
 * enabled by default, the window may not be open). What fails for now stays queued, without a
 * word: this command's message went through, which is what its exit code is about. */
static void
deliver_backlog (const char      *prog,
                 RelaySmtpClient *client,
                 GCancellable    *stop,
                 GCancellable    *cancellable,
                 GMainLoop       *loop)
{
  g_autoptr(GSettings) settings = relay_cli_open_settings ();
  Waiter waiter = { loop, NULL };
  guint failed = 0;

  if (settings != NULL)
    {
      g_autoptr(GSource) budget = g_timeout_source_new_seconds (BACKLOG_BUDGET_S);

      g_source_set_callback (budget, on_backlog_budget_cb, stop, NULL);
      g_source_attach (budget, NULL);
      relay_queue_flush_on_client_async (settings, client, stop, cancellable, on_done_cb,
                                         &waiter);
      relay_queue_flush_finish (wait_for (&waiter), NULL, NULL, &failed, NULL);
      g_source_destroy (budget);   /* fired or not */
      print_set_aside (prog, failed, relay_queue_flush_get_damaged (waiter.result));
      g_clear_object (&waiter.result);
    }
  relay_smtp_client_close_async (client, cancellable, on_done_cb, &waiter);
  relay_smtp_client_close_finish (client, wait_for (&waiter), NULL);
  g_clear_object (&waiter.result);
}

static int
deliver (const char       *prog,
         RelayConfig      *config,
         RelaySmtpMessage *message)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(RelaySmtpClient) client = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  Waiter waiter = { loop, NULL };
  g_auto(Interrupt) interrupt = { cancellable, NULL, NULL, 0, FALSE, { 0 }, 0, NULL };
  /* A directory listing, well under a millisecond: an empty or unreadable queue is no backlog. */
  gboolean backlog = relay_queue_count (NULL) > 0;
  guint code;
  gboolean temporary;

  interrupt.sources[0] = g_unix_signal_add (SIGTERM, on_sigterm_cb, &interrupt);
  interrupt.sources[1] = g_unix_signal_add (SIGINT, on_sigint_cb, &interrupt);
  interrupt.sources[2] = g_unix_signal_add (SIGHUP, on_sighup_cb, &interrupt);

  /* As in `test`: the keyring is read while the client resolves, connects, secures the
   * connection and reads the capabilities; the client waits for the password only at AUTH. */
  client = relay_config_create_client (config);
  interrupt.client = client;
  if (config->requires_auth)
    relay_smtp_client_set_password_pending (client, TRUE);
  relay_smtp_client_set_keep_open (client, backlog);
  relay_smtp_client_send_async (client, message, cancellable, on_done_cb, &waiter);

  if (config->requires_auth)
    {
      g_autoptr(GCancellable) deadline = g_cancellable_new ();
      g_autoptr(GSource) timer = g_timeout_source_new_seconds (PASSWORD_TIMEOUT_S);
      Waiter keyring = { loop, NULL };
      g_autofree char *reason = NULL;
      gboolean loaded;

      g_source_set_callback (timer, on_password_deadline_cb, deadline, NULL);
      g_source_attach (timer, NULL);
      interrupt.keyring = deadline;
      relay_config_load_password_async (config, deadline, on_done_cb, &keyring);
      loaded = relay_config_load_password_finish (config, wait_for (&keyring), &error);
      g_clear_object (&keyring.result);
      interrupt.keyring = NULL;
      /* Whether it fired, the keyring answered or a signal cancelled: it must not outlive
       * @deadline. */
      g_source_destroy (timer);

      if (!loaded)
        {
          /* Nothing can be sent without the password: the connection is dropped before AUTH. */
          g_cancellable_cancel (cancellable);
          g_free (relay_smtp_client_send_finish (client, wait_for (&waiter), NULL));
          g_clear_object (&waiter.result);

          if (error->domain == RELAY_CONFIG_ERROR)
            {
              g_printerr (_("%s: %s\n"), prog, error->message);
              return EX_CONFIG;
            }
          reason = interrupt.signum != 0 ? interrupted_reason (&interrupt)
                                         : password_failure_reason (error);
          return queue_message (prog, message, reason);
        }
      relay_smtp_client_set_password (client, config->password);
    }

  reply = relay_smtp_client_send_finish (client, wait_for (&waiter), &error);
  g_clear_object (&waiter.result);
  if (reply != NULL)
    {
      if (backlog && interrupt.signum == 0)
        {
          g_autoptr(GCancellable) stop = g_cancellable_new ();

          interrupt.backlog = stop;
          deliver_backlog (prog, client, stop, cancellable, loop);
          interrupt.backlog = NULL;
        }
      return EX_OK;
    }
  if (interrupt.signum != 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Possibly delivered already (after the final dot, before the 250): SMTP allows a
       * second copy, not a lost alert. */
      g_autofree char *reason = interrupted_reason (&interrupt);

      return queue_message (prog, message, reason);
    }

  code = relay_smtp_client_get_last_reply_code (client);
  temporary = relay_queue_is_temporary_failure (error, code);
  /* The relay refused this message and kept the session (a refused recipient, a content
   * filter, greylisting): what waited may well go through, on that session. */
  if (backlog && interrupt.signum == 0 && relay_smtp_client_has_open_session (client))
    {
      g_autoptr(GCancellable) stop = g_cancellable_new ();
      int held = -1;
      int status = EX_OK;

      /* Queued first: the backlog may take long (the reply to the entry begun last), and a
       * SIGKILL or a crash meanwhile must not lose this message. Held meanwhile, so that the
       * backlog does not try it again at once on the session that has just deferred it. */
      if (temporary)
        status = queue_message_held (prog, message, error->message, &held);
      interrupt.backlog = stop;
      deliver_backlog (prog, client, stop, cancellable, loop);
      interrupt.backlog = NULL;
      if (held >= 0)
        close (held);
      if (temporary)
        return status;
    }
  if (temporary)
    return queue_message (prog, message, error->message);

  {
    /* One line (cron mails it), with what to do next, as `test` says it on a line of its own. */
    const char *hint = relay_smtp_error_hint (error, code);

    if (hint != NULL)
      /* TRANSLATORS: the program, what failed, then what to do about it: two sentences */
      g_printerr (_("%s: %s %s\n"), prog, error->message, hint);
    else
      g_printerr (_("%s: %s\n"), prog, error->message);
  }
  return relay_cli_exit_code (error, code);
}

/* The settings, checked for what every send needs; NULL with the exit code in @code. */
static RelayConfig *
load_config (const char *prog,
             int        *code)
{
  g_autoptr(GSettings) settings = relay_cli_open_settings ();
  g_autoptr(RelayConfig) config = NULL;

  *code = EX_CONFIG;
  if (settings == NULL)
    return NULL;
  warn_unusable_settings (prog, settings);
  config = relay_config_new_from_settings (settings);
  if (!check_config (prog, config))
    return NULL;
  *code = EX_OK;
  return g_steal_pointer (&config);
}

/* A local user name among @recipients ("root": cron mails the crontab's owner unless MAILTO
 * says otherwise) goes to the configured local mail recipient, once; the relay could not
 * deliver it anywhere else. Without that setting it is refused, with what to set. */
static int
map_local_recipients (const char  *prog,
                      RelayConfig *config,
                      GPtrArray   *recipients)
{
  g_autoptr(GPtrArray) mapped = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *target = NULL;

  for (guint i = 0; i < recipients->len; i++)
    {
      const char *recipient = recipients->pdata[i];

      if (relay_address_is_local_name (recipient))
        {
          if (target == NULL && *config->local_recipient == '\0')
            {
              g_printerr (_("%s: “%s” is a local user name, and a relay delivers only to full "
                            "addresses: set the Local Mail Recipient in SMTP Relay, or give an "
                            "address such as alerts@example.com\n"),
                          prog, recipient);
              return EX_NOUSER;
            }
          if (target == NULL)
            {
              g_autoptr(GError) error = NULL;

              target = relay_address_normalize (config->local_recipient, &error);
              if (target == NULL)
                {
                  g_printerr (_("%s: the local mail recipient “%s” in the settings is not a "
                                "valid address: %s\n"),
                              prog, config->local_recipient, error->message);
                  return EX_CONFIG;
                }
            }
          recipient = target;
        }
      relay_mail_add_recipient (mapped, recipient);
    }

  g_ptr_array_set_size (recipients, 0);
  for (guint i = 0; i < mapped->len; i++)
    g_ptr_array_add (recipients, g_steal_pointer (&mapped->pdata[i]));
  return EX_OK;
}

static int
run_send (int    argc,
          char **argv)
{
  g_auto(GStrv) to = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *from_name = NULL;
  const GOptionEntry entries[] = {
    { "to", 't', 0, G_OPTION_ARG_STRING_ARRAY, &to,
      N_("Send to ADDRESS; repeat for more recipients"), N_("ADDRESS") },
    { "subject", 's', 0, G_OPTION_ARG_STRING, &subject, N_("The subject"), N_("TEXT") },
    { "from-name", 0, 0, G_OPTION_ARG_STRING, &from_name,
      N_("The display name of the sender"), N_("NAME") },
    { NULL }
  };
  const char *prog = "smtp-relay send";
  g_autoptr(GPtrArray) recipients = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(RelayConfig) config = NULL;
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gsize length;
  int code;

  context = g_option_context_new (_("— send standard input as a message through the relay"));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_description (context,
    _("The body is read from standard input; the configured sender is the From address. If "
      "the relay or the keyring is unavailable, the message is queued and the command exits 0.\n"
      "Exit status: 0 sent or queued; 64 usage; 65 invalid message or address; 67 a local user "
      "name and no local mail recipient set; 68 server name not found; 69 refused; 75 could "
      "not queue; 76 protocol or TLS error; 77 login refused; 78 configuration error."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr (_("%s: %s\n"), prog, error->message);
      return EX_USAGE;
    }
  if (argc > 1)
    {
      g_printerr (_("%s: unexpected argument “%s”\n"), prog, argv[1]);
      return EX_USAGE;
    }
  if (to == NULL || to[0] == NULL)
    {
      g_printerr (_("%s: no recipient: give --to ADDRESS\n"), prog);
      return EX_USAGE;
    }
  if (subject == NULL)
    {
      g_printerr (_("%s: no subject: give --subject TEXT\n"), prog);
      return EX_USAGE;
    }

  config = load_config (prog, &code);
  if (config == NULL)
    return code;
  if (config->sender == NULL || *config->sender == '\0')
    {
      g_printerr (_("%s: no sender address is set: open SMTP Relay and enter one under Sender\n"),
                  prog);
      return EX_CONFIG;
    }
  if (!read_stdin (prog, FALSE, &body))
    return EX_DATAERR;

  text = g_bytes_unref_to_data (g_steal_pointer (&body), &length);
  if (memchr (text, '\0', length) != NULL)
    {
      g_printerr (_("%s: the message text contains a NUL byte; nothing was sent.\n"), prog);
      return EX_DATAERR;
    }
  text = g_realloc (text, length + 1);
  text[length] = '\0';
  if (!g_utf8_validate_len (text, length, NULL))
    {
      /* Output of an older tool (Latin-1, raw bytes): the alert goes, with what is not UTF-8
       * shown as U+FFFD, rather than being lost; said on stderr, as sendmail says NUL bytes. */
      char *valid = g_utf8_make_valid (text, length);

      g_free (text);
      text = valid;
      g_printerr (_("%s: the message text is not UTF-8; the bytes that are not are sent as “\xef\xbf\xbd”\n"),
                  prog);
    }

  for (guint i = 0; to[i] != NULL; i++)
    g_ptr_array_add (recipients, g_strdup (to[i]));
  if ((code = map_local_recipients (prog, config, recipients)) != EX_OK)
    return code;
  g_ptr_array_add (recipients, NULL);

  message = relay_smtp_message_new_full (config->sender, from_name,
                                         (const char * const *) recipients->pdata,
                                         subject, text, NULL, &error);
  if (message == NULL)
    {
      g_printerr (_("%s: %s\n"), prog, error->message);
      return EX_DATAERR;
    }
  return deliver (prog, config, message);
}

/* --- sendmail ----------------------------------------------------------------------------- */

static gboolean
is_valid_address (const char *address)
{
  g_autofree char *normalized = NULL;

  if (address == NULL)
    return FALSE;
  normalized = relay_address_normalize (address, NULL);
  return normalized != NULL;
}

static int run_queue (int argc, char **argv);
static int run_flush (int argc, char **argv);

/* Takes the argument of option @arg at *i: attached ("-fme@x") or the next one ("-f me@x"). */
static const char *
option_argument (int     argc,
                 char  **argv,
                 int    *i)
{
  if (argv[*i][2] != '\0')
    return argv[*i] + 2;
  if (*i + 1 < argc)
    return argv[++*i];
  return NULL;
}

static void
print_sendmail_help (void)
{
  const struct { const char *option; const char *meaning; } options[] = {
    { "-t", N_("take the recipients from the To, Cc and Bcc fields") },
    { "-i, -oi", N_("a line that holds only a dot does not end the message") },
    /* TRANSLATORS: translate only the placeholder, in capitals; "-f" is the option */
    { N_("-f SENDER"), N_("the envelope sender (else the message’s From, else the configured sender)") },
    /* TRANSLATORS: translate only the placeholder, in capitals; "-F" is the option */
    { N_("-F NAME"), N_("the sender’s name, for a message without From") },
    { "-bp", N_("list the queue") },
    { "-q", N_("send the queue now") },
  };
  glong width = 0;

  g_print ("%s\n  sendmail %s\n\n%s\n\n", _("Usage:"),
           /* TRANSLATORS: the arguments of "sendmail" in its usage line; keep the "<" */
           _("[OPTION…] [RECIPIENT…] < MESSAGE"),
           _("Sends the message on standard input through the relay, for cron and other "
             "programs that expect sendmail."));
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    width = MAX (width, g_utf8_strlen (_(options[i].option), -1));
  /* Padded by characters, not bytes: translated placeholders are not ASCII. */
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    g_print ("  %s%*s  %s\n", _(options[i].option),
             (int) (width - g_utf8_strlen (_(options[i].option), -1)), "",
             _(options[i].meaning));
  g_print ("\n%s\n", _("Other sendmail options are accepted and ignored when they change "
                        "nothing for a relay client."));
}

static int
run_sendmail (int    argc,
              char **argv)
{
  const char *prog = "sendmail";
  const char *sender = NULL;
  const char *full_name = NULL;
  gboolean extract = FALSE;
  gboolean ignore_dots = FALSE;
  g_autoptr(GPtrArray) recipients = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(RelayConfig) config = NULL;
  g_autoptr(RelayMailInput) input = NULL;
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GError) error = NULL;
  const char *from_address;
  const char *envelope;
  int code;
  int i;

  for (i = 1; i < argc; i++)
    {
      const char *arg = argv[i];

      if (strcmp (arg, "--") == 0)
        {
          i++;
          break;
        }
      if (strcmp (arg, "--help") == 0)
        {
          /* Not a sendmail option, but what someone at a terminal tries first. */
          print_sendmail_help ();
          return EX_OK;
        }
      if (arg[0] != '-' || arg[1] == '\0')
        break;

      switch (arg[1])
        {
        case 'f':   /* envelope sender */
        case 'r':   /* its old name */
          if ((sender = option_argument (argc, argv, &i)) == NULL)
            goto missing;
          break;
        case 'F':   /* the sender's full name */
          if ((full_name = option_argument (argc, argv, &i)) == NULL)
            goto missing;
          break;
        case 'o':   /* -oi is -i; other -oX options tune a local MTA: nothing to do here */
          if (strcmp (arg, "-oi") == 0)
            ignore_dots = TRUE;
          else if (arg[2] == '\0' && ++i >= argc)
            goto missing;
          break;
        case 'O': case 'B': case 'N': case 'R': case 'V': case 'X': case 'C': case 'L':
        case 'h': case 'p': case 'A':
          /* -O option=value, -B body type (8BITMIME is sent when needed), -N/-R/-V DSN,
           * -X log, -C config, -L tag, -h hops, -p protocol, -A submission: accepted and
           * ignored, as they change nothing for a relay client. */
          if (option_argument (argc, argv, &i) == NULL)
            goto missing;
          break;
        case 'd':   /* debug levels */
          break;
        case 'b':
          if (strcmp (arg, "-bp") == 0)
            return run_queue (1, (char *[]) { (char *) "queue", NULL });
          if (strcmp (arg, "-bm") != 0)
            {
              g_printerr (_("%s: the mode %s is not supported: only -bm (read a message from standard input) and -bp (list the queue)\n"),
                          prog, arg);
              return EX_USAGE;
            }
          break;
        case 'q':   /* process the queue once; no daemon intervals */
          return run_flush (1, (char *[]) { (char *) "flush", NULL });
        default:
          /* Flags, possibly grouped as in "-ti": -t recipients from the header, -i no dot
           * terminator; -v, -m, -n, -U, -G, -e are accepted and ignored. As with getopt, the
           * last of a group may take an argument, the rest of the group or the next one:
           * "-tf alerts@example.com", "-itFCron". */
          for (const char *p = arg + 1; *p != '\0'; p++)
            {
              if (*p == 't')
                extract = TRUE;
              else if (*p == 'i')
                ignore_dots = TRUE;
              else if (*p == 'f' || *p == 'r' || *p == 'F')
                {
                  const char *value = p[1] != '\0' ? p + 1 : i + 1 < argc ? argv[++i] : NULL;

                  if (value == NULL)
                    goto missing;
                  if (*p == 'F')
                    full_name = value;
                  else
                    sender = value;
                  break;
                }
              else if (strchr ("vmnUGe", *p) == NULL)
                {
                  g_printerr (_("%s: unknown option %s\n"), prog, arg);
                  return EX_USAGE;
                }
            }
          break;
        }
    }

  /* Recipients on the command line; a single argument may be a list ("a@x, b@y"). */
  for (; i < argc; i++)
    {
      g_autoptr(GPtrArray) list = relay_mail_parse_address_list (argv[i]);

      for (guint j = 0; j < list->len; j++)
        g_ptr_array_add (recipients, g_strdup (list->pdata[j]));
    }

  config = load_config (prog, &code);
  if (config == NULL)
    return code;

  if (sender != NULL && (strcmp (sender, "<>") == 0 || *sender == '\0'))
    sender = "";
  /* cronie runs "sendmail … -t -f root", fail2ban "-f fail2ban", scripts "-f root@$(hostname)":
   * senders that only mean something on this machine. Refusing would lose the alert (cron does
   * not retry), so like an unqualified From they give way to the message's From or the
   * configured sender; anything else that is no address is said on stderr. */
  if (sender != NULL && *sender != '\0' &&
      (relay_address_is_local_name (sender) || !is_valid_address (sender)))
    {
      if (!relay_address_is_local_name (sender))
        g_printerr (_("%s: the sender address “%s” given with -f is not valid; the message’s From or the configured sender is used instead\n"),
                    prog, sender);
      sender = NULL;
    }
  if (full_name != NULL)
    {
      gboolean valid = g_utf8_validate (full_name, -1, NULL);

      for (const guchar *p = (const guchar *) full_name; valid && *p != '\0'; p++)
        valid = *p >= 0x20 && *p != 0x7f;
      if (!valid)
        {
          g_printerr (_("%s: the name given with -F must be one line of text\n"), prog);
          return EX_USAGE;
        }
    }
  /* Both were checked: nothing but an address and a clean name reaches the header. */
  from_address = sender != NULL && *sender != '\0' ? sender : config->sender;
  if (!is_valid_address (from_address))
    from_address = NULL;

  /* Said before reading: someone at a terminal would type the whole message first. */
  if (!extract && recipients->len == 0)
    {
      g_printerr (_("%s: no recipient: give addresses, or -t to read them from the header\n"),
                  prog);
      return EX_USAGE;
    }
  if (!read_stdin (prog, !ignore_dots, &raw))
    return EX_DATAERR;
  input = relay_mail_input_parse (raw, ignore_dots ? RELAY_MAIL_INPUT_NONE
                                                   : RELAY_MAIL_INPUT_STOP_AT_DOT,
                                  from_address, full_name, NULL, &error);
  if (input == NULL)
    {
      g_printerr (_("%s: %s\n"), prog, error->message);
      return EX_DATAERR;
    }
  if (input->nul_replaced)
    g_printerr (_("%s: the message contained NUL bytes, which SMTP cannot carry; they are sent as spaces\n"),
                prog);

  /* With -t the header's recipients are added to those of the command line (as Postfix does). */
  if (extract)
    for (guint j = 0; j < input->recipients->len; j++)
      relay_mail_add_recipient (recipients, input->recipients->pdata[j]);
  if (recipients->len == 0)
    {
      g_printerr (extract ? _("%s: the message has no To, Cc or Bcc recipient; nothing was sent.\n")
                          : _("%s: no recipient: give addresses, or -t to read them from the header\n"),
                  prog);
      return extract ? EX_DATAERR : EX_USAGE;
    }
  if ((code = map_local_recipients (prog, config, recipients)) != EX_OK)
    return code;
  g_ptr_array_add (recipients, NULL);

  /* The envelope sender: -f, else the message's own From, else the configured sender. An
   * unqualified From such as "root" cannot be an envelope sender on a relay. */
  if (sender != NULL)
    envelope = sender;
  else if (is_valid_address (input->from_address))
    envelope = input->from_address;
  else
    envelope = config->sender;
  if (envelope == NULL || (*envelope == '\0' && sender == NULL))
    {
      g_printerr (_("%s: no sender: give -f ADDRESS, a From field, or set the sender in SMTP Relay\n"),
                  prog);
      return EX_CONFIG;
    }

  message = relay_smtp_message_new_raw (envelope, (const char * const *) recipients->pdata,
                                        input->data, &error);
  if (message == NULL)
    {
      g_printerr (_("%s: %s\n"), prog, error->message);
      return EX_DATAERR;
    }
  return deliver (prog, config, message);

missing:
  g_printerr (_("%s: option %s needs an argument\n"), prog, argv[i]);
  return EX_USAGE;
}

/* --- queue and flush ---------------------------------------------------------------------- */

static char *
format_age (gint64 seconds)
{
  if (seconds < 0)
    seconds = 0;
  if (seconds < 60)
    return g_strdup_printf (_("%ds"), (int) seconds);
  if (seconds < 3600)
    return g_strdup_printf (_("%dm"), (int) (seconds / 60));
  if (seconds < 86400)
    return g_strdup_printf (_("%dh"), (int) (seconds / 3600));
  return g_strdup_printf (_("%dd"), (int) (seconds / 86400));
}

static int
run_queue (int    argc,
           char **argv)
{
  gboolean failed = FALSE;
  const GOptionEntry entries[] = {
    { "failed", 0, 0, G_OPTION_ARG_NONE, &failed,
      N_("List the messages that the server refused for good instead"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries_list = NULL;
  g_autofree char *directory = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  context = g_option_context_new (_("— list the messages waiting to be sent"));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr (_("%s: %s\n"), "smtp-relay queue", error->message);
      return EX_USAGE;
    }
  if (argc > 1)
    {
      g_printerr (_("smtp-relay queue: unexpected argument “%s”\n"), argv[1]);
      return EX_USAGE;
    }

  directory = failed ? relay_queue_get_failed_directory () : relay_queue_get_directory ();
  entries_list = relay_queue_list (directory, &error);
  if (entries_list == NULL)
    {
      g_printerr (_("%s: %s\n"), "smtp-relay queue", error->message);
      return EX_IOERR;
    }
  if (entries_list->len == 0)
    {
      g_print (failed ? _("No refused messages.\n") : _("The queue is empty.\n"));
      return EX_OK;
    }
  for (guint i = 0; i < entries_list->len; i++)
    {
      RelayQueueEntry *entry = entries_list->pdata[i];
      g_autofree char *age = format_age (now - entry->queued_at);
      g_autofree char *recipients = g_strjoinv (", ", entry->recipients);

      g_print ("%s  %5s  %s\n", entry->id, age, recipients);
      /* Translators: under each queued message: how often it was tried, and why it waits */
      g_print (_("    attempts: %u; last error: %s\n"), entry->attempts,
               entry->last_error != NULL ? entry->last_error : "");
    }
  g_print (g_dngettext (GETTEXT_PACKAGE, "%u message in %s\n", "%u messages in %s\n",
                        entries_list->len),
           entries_list->len, directory);
  return EX_OK;
}

static int
run_flush (int    argc,
           char **argv)
{
  const char *prog = "smtp-relay flush";
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GSettings) settings = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  Waiter waiter = { loop, NULL };
  guint sent = 0, waiting = 0, failed = 0, damaged;
  g_autofree char *last_failure = NULL;
  gboolean ok;

  context = g_option_context_new (_("— try to send the queued messages now"));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_description (context,
    _("Exit status: 0 queue empty; 69 a message was refused and moved aside (see “smtp-relay "
      "queue --failed”); 75 messages still wait; 76, 77, 78 as for “smtp-relay test”."));
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr (_("%s: %s\n"), prog, error->message);
      return EX_USAGE;
    }
  if (argc > 1)
    {
      g_printerr (_("%s: unexpected argument “%s”\n"), prog, argv[1]);
      return EX_USAGE;
    }
  if (relay_queue_count (&error) == 0 && error == NULL)
    return EX_OK;   /* quiet: the timer runs this often */
  g_clear_error (&error);   /* unreadable: the flush says so, with what waits */

  settings = relay_cli_open_settings ();
  if (settings == NULL)
    return EX_CONFIG;
  warn_unusable_settings (prog, settings);

  relay_queue_flush_async (settings, NULL, on_done_cb, &waiter);
  ok = relay_queue_flush_finish (wait_for (&waiter), &sent, &waiting, &failed, &error);
  damaged = relay_queue_flush_get_damaged (waiter.result);
  last_failure = g_strdup (relay_queue_flush_get_last_failure (waiter.result));
  g_clear_object (&waiter.result);

  if (sent > 0)
    g_print (g_dngettext (GETTEXT_PACKAGE, "%s: %u queued message sent\n",
                          "%s: %u queued messages sent\n", sent), prog, sent);
  print_set_aside (prog, failed, damaged);
  if (!ok)
    {
      if (waiting == 0)
        g_printerr (_("%s: %s\n"), prog, error->message);
      else
        g_printerr (g_dngettext (GETTEXT_PACKAGE, "%s: %u message still queued: %s\n",
                                 "%s: %u messages still queued: %s\n", waiting),
                    prog, waiting, error->message);
      if (error->domain == RELAY_CONFIG_ERROR)
        return EX_CONFIG;
      if (error->domain == RELAY_SMTP_ERROR)
        return relay_cli_exit_code (error, 0);
      return EX_TEMPFAIL;   /* the keyring: try again from the desktop session */
    }
  if (waiting > 0)
    {
      if (last_failure != NULL)
        /* TRANSLATORS: the last %s is the relay's error, e.g. "… refused the connection" */
        g_printerr (g_dngettext (GETTEXT_PACKAGE,
                                 "%s: %u message still queued; last attempt: %s\n",
                                 "%s: %u messages still queued; last attempt: %s\n", waiting),
                    prog, waiting, last_failure);
      else
        g_printerr (g_dngettext (GETTEXT_PACKAGE,
                                 "%s: %u message still queued; see “smtp-relay queue”\n",
                                 "%s: %u messages still queued; see “smtp-relay queue”\n", waiting),
                    prog, waiting);
      return EX_TEMPFAIL;
    }
  return failed > 0 ? EX_UNAVAILABLE : EX_OK;
}

/* Detect fetches over HTTPS with libsoup, which no other command needs: it is in a module of
 * its own, so that `send` and `sendmail` start without loading it. */
static int
run_detect (int    argc,
            char **argv)
{
  g_autofree char *why = NULL;
  RelayCliDetect detect = relay_module_load (RELAY_DETECT_MODULE_NAME, RELAY_CLI_DETECT_SYMBOL,
                                             &why);

  if (detect == NULL)
    {
      /* TRANSLATORS: %s is the loader's explanation, which names the missing file */
      g_printerr (_("smtp-relay detect: the installation is incomplete: %s\n"), why);
      return EX_OSFILE;
    }
  return detect (argc, argv);
}

static const struct
{
  const char *name;
  int       (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "test", run_test, N_("send a test message with the saved settings") },
  { "send", run_send, N_("send a message from standard input, for scripts and alerts") },
  { "sendmail", run_sendmail, N_("the sendmail interface, for cron and other programs") },
  { "detect", run_detect, N_("propose server, port and security for a sender address") },
  { "queue", run_queue, N_("list the messages that wait to be sent") },
  { "flush", run_flush, N_("try to send the waiting messages now") },
};

/**
 * relay_cli_describe_commands:
 *
 * The command-line modes, one per line with what each does, translated: for `smtp-relay --help`
 * and for a mistyped command.
 *
 * Returns: (transfer full): the text, ending with a newline
 */
char *
relay_cli_describe_commands (void)
{
  GString *text = g_string_new (_("Commands (each has its own --help):"));

  g_string_append_c (text, '\n');
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (text, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  return g_string_free (text, FALSE);
}

/**
 * relay_cli_command_for_program:
 * @argv0: the name the program was started as
 *
 * A link named `sendmail` (an alternatives link to /usr/sbin/sendmail) runs the sendmail mode,
 * and one named `mailq` lists the queue, whatever the arguments.
 *
 * Returns: (nullable): the command to run, or %NULL for the usual dispatch
 */
const char *
relay_cli_command_for_program (const char *argv0)
{
  g_autofree char *name = argv0 != NULL ? g_path_get_basename (argv0) : NULL;

  if (g_strcmp0 (name, "sendmail") == 0)
    return "sendmail";
  if (g_strcmp0 (name, "mailq") == 0)
    return "queue";
  return NULL;
}

/* What the command line prints quotes arguments, settings and files that it did not write (a
 * crontab's MAILTO through -f, a message's From): an escape sequence in them could move the
 * cursor, recolour or retitle the terminal. Control characters are shown as "?" instead; line
 * breaks and tabs stay, as our own messages have them. */
static void
print_without_controls (const char *string)
{
  g_autoptr(GString) out = g_string_sized_new (strlen (string));

  for (const char *p = string; *p; p++)
    {
      guchar c = *p;

      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
        g_string_append_c (out, '?');
      else if (c == 0xc2 && (guchar) p[1] >= 0x80 && (guchar) p[1] <= 0x9f)
        {
          g_string_append_c (out, '?');   /* C1 controls in UTF-8, CSI among them */
          p++;
        }
      else
        g_string_append_c (out, c);
    }
  fputs (out->str, stderr);
  fflush (stderr);
}

/**
 * relay_cli_run:
 * @argv: the arguments from the command name on: `test --to …`
 */
int
relay_cli_run (int    argc,
               char **argv)
{
  g_set_printerr_handler (print_without_controls);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_strcmp0 (argv[0], commands[i].name) == 0)
      return commands[i].run (argc, argv);

  {
    g_autofree char *list = relay_cli_describe_commands ();

    g_printerr (_("smtp-relay: unknown command “%s”\n"), argv[0]);
    /* TRANSLATORS: after the list of commands */
    g_printerr ("%s%s\n", list, _("Without a command, smtp-relay opens its window."));
  }
  return EX_USAGE;
}
