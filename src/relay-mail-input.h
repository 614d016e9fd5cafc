/* relay-mail-input.h: a complete message read from standard input, as sendmail reads it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  RELAY_MAIL_INPUT_NONE            = 0,
  RELAY_MAIL_INPUT_STOP_AT_DOT     = 1 << 0,   /* sendmail without -i: a lone "." ends input */
} RelayMailInputFlags;

typedef struct
{
  GBytes     *data;          /* header + body: CRLF line ends, Bcc removed, Date/Message-ID added */
  char       *from_address;  /* the first address of From, or NULL when there is none */
  gboolean    from_replaced; /* From named only a local user and is now the sender */
  gboolean    nul_replaced;  /* NUL bytes, which SMTP cannot carry, became spaces */
  GPtrArray  *recipients;    /* of char*: the addresses of To, Cc and Bcc, in order, no repeats */
} RelayMailInput;

RelayMailInput *relay_mail_input_parse          (GBytes              *raw,
                                                 RelayMailInputFlags  flags,
                                                 const char          *sender,
                                                 const char          *sender_name,
                                                 GDateTime           *now,
                                                 GError             **error);
void            relay_mail_input_free           (RelayMailInput      *input);

GPtrArray      *relay_mail_parse_address_list   (const char          *value);
void            relay_mail_add_recipient        (GPtrArray           *recipients,
                                                 const char          *address);
char           *relay_mail_format_date          (GDateTime           *date);
char           *relay_mail_format_mailbox       (const char          *name,
                                                 const char          *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayMailInput, relay_mail_input_free)

G_END_DECLS
