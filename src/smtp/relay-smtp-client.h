/* relay-smtp-client.h: one SMTP submission over GIO, with progress and a transcript
 *
 * Usage: set host, port (0 = default of the security), security, and optionally username +
 * relay_smtp_client_set_password(); build a message with relay_smtp_message_new(); call
 * relay_smtp_client_send_async(). Errors are RELAY_SMTP_ERROR (see relay-smtp-error.h, and
 * relay_smtp_error_hint() for a subtitle) or G_IO_ERROR_CANCELLED. After a
 * RELAY_SMTP_ERROR_CERTIFICATE, get_certificate_errors() and get_peer_fingerprint() tell the UI
 * what to show before offering to pin with set_pinned_certificate(). Timeouts are the
 * "connect-timeout", "reply-timeout", "session-timeout" and "data-end-timeout" (the reply to
 * the end of the message) properties, in milliseconds. A run of messages (a queue flush) can
 * share one session: relay_smtp_client_set_keep_open().
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "relay-security.h"
#include "relay-smtp-message.h"

G_BEGIN_DECLS

typedef enum
{
  RELAY_SMTP_STEP_IDLE,
  RELAY_SMTP_STEP_RESOLVING,
  RELAY_SMTP_STEP_CONNECTING,
  RELAY_SMTP_STEP_SECURING,
  RELAY_SMTP_STEP_GREETING,
  RELAY_SMTP_STEP_AUTHENTICATING,
  RELAY_SMTP_STEP_SENDING,
  RELAY_SMTP_STEP_DONE,
} RelaySmtpStep;

#define RELAY_TYPE_SMTP_STEP (relay_smtp_step_get_type ())
GType relay_smtp_step_get_type (void) G_GNUC_CONST;

#define RELAY_TYPE_SMTP_CLIENT (relay_smtp_client_get_type ())

G_DECLARE_FINAL_TYPE (RelaySmtpClient, relay_smtp_client, RELAY, SMTP_CLIENT, GObject)

RelaySmtpClient      *relay_smtp_client_new                     (void);

void                  relay_smtp_client_set_host                (RelaySmtpClient   *self,
                                                                 const char        *host);
const char           *relay_smtp_client_get_host                (RelaySmtpClient   *self);
void                  relay_smtp_client_set_port                (RelaySmtpClient   *self,
                                                                 guint16            port);
guint16               relay_smtp_client_get_port                (RelaySmtpClient   *self);
void                  relay_smtp_client_set_security            (RelaySmtpClient   *self,
                                                                 RelaySecurity      security);
RelaySecurity         relay_smtp_client_get_security            (RelaySmtpClient   *self);
void                  relay_smtp_client_set_username            (RelaySmtpClient   *self,
                                                                 const char        *username);
const char           *relay_smtp_client_get_username            (RelaySmtpClient   *self);
void                  relay_smtp_client_set_password            (RelaySmtpClient   *self,
                                                                 const char        *password);
void                  relay_smtp_client_set_password_pending    (RelaySmtpClient   *self,
                                                                 gboolean           pending);
void                  relay_smtp_client_set_known_addresses     (RelaySmtpClient   *self,
                                                                 const char        *host,
                                                                 GList             *addresses);
void                  relay_smtp_client_set_allow_plaintext_auth (RelaySmtpClient  *self,
                                                                 gboolean           allow);
gboolean              relay_smtp_client_get_allow_plaintext_auth (RelaySmtpClient  *self);
void                  relay_smtp_client_set_helo_name           (RelaySmtpClient   *self,
                                                                 const char        *helo_name);
const char           *relay_smtp_client_get_helo_name           (RelaySmtpClient   *self);
void                  relay_smtp_client_set_pinned_certificate  (RelaySmtpClient   *self,
                                                                 const char        *sha256_hex);
const char           *relay_smtp_client_get_pinned_certificate  (RelaySmtpClient   *self);
void                  relay_smtp_client_set_tls_database        (RelaySmtpClient   *self,
                                                                 GTlsDatabase      *database);
GTlsDatabase         *relay_smtp_client_get_tls_database        (RelaySmtpClient   *self);

void                  relay_smtp_client_send_async              (RelaySmtpClient   *self,
                                                                 RelaySmtpMessage  *message,
                                                                 GCancellable      *cancellable,
                                                                 GAsyncReadyCallback callback,
                                                                 gpointer           user_data);
char                 *relay_smtp_client_send_finish             (RelaySmtpClient   *self,
                                                                 GAsyncResult      *result,
                                                                 GError           **error);

void                  relay_smtp_client_set_keep_open           (RelaySmtpClient   *self,
                                                                 gboolean           keep_open);
gboolean              relay_smtp_client_get_stale_session       (RelaySmtpClient   *self);
gboolean              relay_smtp_client_has_open_session        (RelaySmtpClient   *self);
void                  relay_smtp_client_close_async             (RelaySmtpClient   *self,
                                                                 GCancellable      *cancellable,
                                                                 GAsyncReadyCallback callback,
                                                                 gpointer           user_data);
gboolean              relay_smtp_client_close_finish            (RelaySmtpClient   *self,
                                                                 GAsyncResult      *result,
                                                                 GError           **error);

void                  relay_smtp_client_warm_tls                (void);
void                  relay_smtp_client_shutdown                (void);

RelaySmtpStep         relay_smtp_client_get_step                (RelaySmtpClient   *self);
const char           *relay_smtp_client_get_transcript          (RelaySmtpClient   *self);
GTlsCertificateFlags  relay_smtp_client_get_certificate_errors  (RelaySmtpClient   *self);
const char           *relay_smtp_client_get_peer_fingerprint    (RelaySmtpClient   *self);
guint                 relay_smtp_client_get_last_reply_code     (RelaySmtpClient   *self);
gboolean              relay_smtp_client_get_message_written     (RelaySmtpClient   *self);

G_END_DECLS
