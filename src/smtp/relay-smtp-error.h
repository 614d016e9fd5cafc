/* relay-smtp-error.h: what can go wrong while talking to the relay, in words for people
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RELAY_SMTP_ERROR (relay_smtp_error_quark ())

typedef enum
{
  RELAY_SMTP_ERROR_INVALID_INPUT,
  RELAY_SMTP_ERROR_RESOLVE,
  RELAY_SMTP_ERROR_DNS_FAILURE,
  RELAY_SMTP_ERROR_CONNECT,
  RELAY_SMTP_ERROR_REFUSED,
  RELAY_SMTP_ERROR_UNREACHABLE,
  RELAY_SMTP_ERROR_BLOCKED,
  RELAY_SMTP_ERROR_TIMEOUT,
  RELAY_SMTP_ERROR_TLS,
  RELAY_SMTP_ERROR_CERTIFICATE,
  RELAY_SMTP_ERROR_GREETING,
  RELAY_SMTP_ERROR_EHLO,
  RELAY_SMTP_ERROR_STARTTLS_UNAVAILABLE,
  RELAY_SMTP_ERROR_STARTTLS,
  RELAY_SMTP_ERROR_AUTH_UNAVAILABLE,
  RELAY_SMTP_ERROR_AUTH,
  RELAY_SMTP_ERROR_PLAINTEXT_AUTH_REFUSED,
  RELAY_SMTP_ERROR_SENDER,
  RELAY_SMTP_ERROR_RECIPIENT,
  RELAY_SMTP_ERROR_DATA,
  RELAY_SMTP_ERROR_PROTOCOL,
  RELAY_SMTP_ERROR_CLOSED,
} RelaySmtpError;

GQuark       relay_smtp_error_quark          (void);

const char  *relay_smtp_error_hint           (const GError *error,
                                              guint         reply_code);

char        *relay_smtp_sanitize_text        (const char   *text,
                                              gssize        length);

GError      *relay_smtp_error_new_network    (const GError *error,
                                              const char   *host,
                                              const char   *address,
                                              guint16       port);

G_END_DECLS
