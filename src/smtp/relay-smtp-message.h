/* relay-smtp-message.h: a message and its envelope, ready for DATA
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RELAY_SMTP_MAX_LINE_OCTETS 998   /* RFC 5322 §2.1.1, without CRLF */

#define RELAY_TYPE_SMTP_MESSAGE (relay_smtp_message_get_type ())

typedef struct _RelaySmtpMessage RelaySmtpMessage;

GType               relay_smtp_message_get_type        (void) G_GNUC_CONST;

RelaySmtpMessage   *relay_smtp_message_new             (const char          *from,
                                                        const char          *from_name,
                                                        const char * const  *to,
                                                        const char          *subject,
                                                        const char          *body,
                                                        GError             **error);
RelaySmtpMessage   *relay_smtp_message_new_full        (const char          *from,
                                                        const char          *from_name,
                                                        const char * const  *to,
                                                        const char          *subject,
                                                        const char          *body,
                                                        GDateTime           *date,
                                                        GError             **error);
RelaySmtpMessage   *relay_smtp_message_new_raw         (const char          *envelope_from,
                                                        const char * const  *recipients,
                                                        GBytes              *data,
                                                        GError             **error);

RelaySmtpMessage   *relay_smtp_message_ref             (RelaySmtpMessage    *self);
void                relay_smtp_message_unref           (RelaySmtpMessage    *self);

const char         *relay_smtp_message_get_sender      (RelaySmtpMessage    *self);
const char * const *relay_smtp_message_get_recipients  (RelaySmtpMessage    *self);
GBytes             *relay_smtp_message_get_data        (RelaySmtpMessage    *self);
gboolean            relay_smtp_message_is_8bit         (RelaySmtpMessage    *self);
GBytes             *relay_smtp_message_dup_7bit        (RelaySmtpMessage    *self,
                                                        GError             **error);

GBytes             *relay_smtp_dot_stuff               (const guint8        *data,
                                                        gsize                length);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaySmtpMessage, relay_smtp_message_unref)

G_END_DECLS
