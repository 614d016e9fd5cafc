/* smtp-connect-probe.c: one send with RelaySmtpClient, checked against the expected failure
 *
 * Run by smtp-netns.sh inside a network namespace whose packet filter it controls. Exits 0
 * when the send ends with the expected RelaySmtpError (and message text, and time window).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <locale.h>
#include <string.h>

#include "relay-smtp-client.h"
#include "relay-smtp-error.h"

static void
on_sent_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
on_drain_timeout_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The attempts that lost or were stopped end on later iterations, and the last one lets go of
 * the client: wait for that, so that nothing is still in flight when the process exits (the
 * sanitizers' leak check would count it). */
static void
release_client (RelaySmtpClient *client)
{
  gpointer alive = client;
  gboolean timed_out = FALSE;
  guint timer = g_timeout_add (2000, on_drain_timeout_cb, &timed_out);

  g_object_add_weak_pointer (G_OBJECT (client), &alive);
  g_object_unref (client);
  while (alive != NULL && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (alive != NULL)
    g_object_remove_weak_pointer (G_OBJECT (alive), &alive);
  else
    g_source_remove (timer);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) send_error = NULL;
  g_autoptr(RelaySmtpClient) client = NULL;
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *host = NULL;
  g_autofree char *expect = NULL;
  g_autofree char *expect_text = NULL;
  const char * const to[] = { "ops@example.org", NULL };
  int port = 2525;
  int connect_timeout_ms = 5000;
  int max_ms = 0;
  gint64 start, elapsed_ms;
  gboolean ok;
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Server to connect to", "HOST" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "Port", "PORT" },
    { "connect-timeout-ms", 0, 0, G_OPTION_ARG_INT, &connect_timeout_ms, "Connect deadline", "MS" },
    { "expect", 0, 0, G_OPTION_ARG_STRING, &expect, "Expected error, e.g. blocked", "NICK" },
    { "expect-text", 0, 0, G_OPTION_ARG_STRING, &expect_text, "Text the message must contain", "TEXT" },
    { "max-ms", 0, 0, G_OPTION_ARG_INT, &max_ms, "Must end within this time", "MS" },
    { NULL }
  };

  setlocale (LC_ALL, "");
  context = g_option_context_new ("- send to an SMTP server and check the failure");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || host == NULL || expect == NULL)
    {
      g_printerr ("%s\n", error ? error->message : "--host and --expect are required");
      return 2;
    }

  message = relay_smtp_message_new ("alerts@example.com", NULL, to, "probe", "probe\n", &error);
  g_assert_no_error (error);
  client = relay_smtp_client_new ();
  relay_smtp_client_set_host (client, host);
  relay_smtp_client_set_port (client, port);
  relay_smtp_client_set_security (client, RELAY_SECURITY_NONE);
  relay_smtp_client_set_helo_name (client, "probe.example.test");
  g_object_set (client, "connect-timeout", (guint) connect_timeout_ms, NULL);

  start = g_get_monotonic_time ();
  relay_smtp_client_send_async (client, message, NULL, on_sent_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  reply = relay_smtp_client_send_finish (client, result, &send_error);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_clear_object (&result);
  release_client (g_steal_pointer (&client));

  if (send_error == NULL)
    {
      g_print ("sent (%s) in %" G_GINT64_FORMAT " ms; expected %s\n", reply, elapsed_ms, expect);
      return 1;
    }

  {
    /* short names for the command line and the TAP output */
    static const char * const nicks[] = {
      [RELAY_SMTP_ERROR_INVALID_INPUT] = "invalid-input",
      [RELAY_SMTP_ERROR_RESOLVE] = "resolve",
      [RELAY_SMTP_ERROR_DNS_FAILURE] = "dns-failure",
      [RELAY_SMTP_ERROR_CONNECT] = "connect",
      [RELAY_SMTP_ERROR_REFUSED] = "refused",
      [RELAY_SMTP_ERROR_UNREACHABLE] = "unreachable",
      [RELAY_SMTP_ERROR_BLOCKED] = "blocked",
      [RELAY_SMTP_ERROR_TIMEOUT] = "timeout",
      [RELAY_SMTP_ERROR_TLS] = "tls",
      [RELAY_SMTP_ERROR_CERTIFICATE] = "certificate",
      [RELAY_SMTP_ERROR_GREETING] = "greeting",
      [RELAY_SMTP_ERROR_EHLO] = "ehlo",
      [RELAY_SMTP_ERROR_STARTTLS_UNAVAILABLE] = "starttls-unavailable",
      [RELAY_SMTP_ERROR_STARTTLS] = "starttls",
      [RELAY_SMTP_ERROR_AUTH_UNAVAILABLE] = "auth-unavailable",
      [RELAY_SMTP_ERROR_AUTH] = "auth",
      [RELAY_SMTP_ERROR_PLAINTEXT_AUTH_REFUSED] = "plaintext-auth-refused",
      [RELAY_SMTP_ERROR_SENDER] = "sender",
      [RELAY_SMTP_ERROR_RECIPIENT] = "recipient",
      [RELAY_SMTP_ERROR_DATA] = "data",
      [RELAY_SMTP_ERROR_PROTOCOL] = "protocol",
      [RELAY_SMTP_ERROR_CLOSED] = "closed",
    };
    const char *nick = "other";

    if (send_error->domain == RELAY_SMTP_ERROR && send_error->code >= 0
        && (gsize) send_error->code < G_N_ELEMENTS (nicks))
      nick = nicks[send_error->code];

    ok = g_strcmp0 (nick, expect) == 0
         && (expect_text == NULL || strstr (send_error->message, expect_text) != NULL)
         && (max_ms == 0 || elapsed_ms <= max_ms);
    g_print ("%s: “%s” in %" G_GINT64_FORMAT " ms (expected %s%s%s%s)\n", nick,
             send_error->message, elapsed_ms, expect,
             expect_text ? " with “" : "", expect_text ? expect_text : "", expect_text ? "”" : "");
  }
  return ok ? 0 : 1;
}
