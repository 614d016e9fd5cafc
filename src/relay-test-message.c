/* relay-test-message.c
 *
 * The message says where it came from (computer, time, relay, security), so that whoever
 * receives it can tell which configuration worked.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-test-message"

#include <glib/gi18n-lib.h>

#include "relay-address.h"
#include "relay-smtp-error.h"
#include "relay-test-message.h"

/**
 * relay_test_message_new:
 * @now: (nullable): the time to write in the message, or %NULL for now
 *
 * Composes the test message from @config's sender to @recipient. Fails with
 * %RELAY_SMTP_ERROR_INVALID_INPUT, saying which address is wrong, before anything is sent.
 */
RelaySmtpMessage *
relay_test_message_new (const RelayConfig  *config,
                        const char         *recipient,
                        GDateTime          *now,
                        GError            **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDateTime) local_now = NULL;
  g_autofree char *sender = NULL;
  g_autofree char *to = NULL;
  g_autofree char *when = NULL;
  g_autofree char *body = NULL;
  g_autofree char *auth = NULL;
  const char *recipients[2] = { NULL, NULL };

  sender = relay_address_normalize (config->sender, &local_error);
  if (sender == NULL)
    {
      if (g_error_matches (local_error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_EMPTY))
        g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                             _("No sender address is set. Strict servers refuse messages "
                               "without a valid From, so enter one under Sender."));
      else
        g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                     _("The sender address is not valid: %s"), local_error->message);
      return NULL;
    }

  to = relay_address_normalize (recipient, &local_error);
  if (to == NULL)
    {
      g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                   _("The test recipient is not valid: %s"), local_error->message);
      return NULL;
    }
  recipients[0] = to;

  if (now == NULL)
    now = local_now = g_date_time_new_now_local ();
  when = g_date_time_format (now, "%Y-%m-%d %H:%M:%S %z");

  if (config->requires_auth)
    auth = g_strdup_printf (_("as “%s”"), config->username);
  else
    auth = g_strdup (_("none"));

  body = g_strdup_printf (_("This is a test message from SMTP Relay.\n"
                            "\n"
                            "If you can read it, messages sent through this relay reach this "
                            "address, and so will the alerts that use it.\n"
                            "\n"
                            "Sent from: %s\n"
                            "Sent at: %s\n"
                            "Relay: %s, port %u, %s\n"
                            "Authentication: %s\n"),
                          g_get_host_name (), when, config->server,
                          (guint) relay_security_effective_port (config->security, config->port),
                          relay_security_to_label (config->security), auth);

  return relay_smtp_message_new_full (sender, _("SMTP Relay"), recipients,
                                      _("SMTP Relay test message"), body, now, error);
}
