/* relay-smtp-reply.h: strict, bounded parsing of SMTP replies and EHLO capabilities
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* RFC 5321 allows 512 octets per reply line; real servers send longer texts, so allow more,
 * but never an unbounded amount. */
#define RELAY_SMTP_REPLY_MAX_LINE   4096
#define RELAY_SMTP_REPLY_MAX_LINES  100
#define RELAY_SMTP_REPLY_MAX_TOTAL  (64 * 1024)

typedef struct
{
  guint   code;          /* 200..599 */
  char   *enhanced;      /* "5.7.8", or NULL when the first line has no enhanced status code */
  char  **lines;         /* the text after "NNN-" / "NNN " of each line, raw bytes */
} RelaySmtpReply;

typedef enum
{
  RELAY_SMTP_AUTH_PLAIN    = 1 << 0,
  RELAY_SMTP_AUTH_LOGIN    = 1 << 1,
  RELAY_SMTP_AUTH_CRAM_MD5 = 1 << 2,
} RelaySmtpAuthMechs;

typedef struct
{
  gboolean            esmtp;       /* the reply came from EHLO, not HELO */
  gboolean            size;
  guint64             size_limit;  /* 0 when SIZE has no (or no valid) limit */
  gboolean            pipelining;
  gboolean            eightbitmime;
  gboolean            smtputf8;
  gboolean            starttls;
  gboolean            enhanced_status_codes;
  gboolean            chunking;
  gboolean            auth;        /* AUTH was advertised, with any mechanisms */
  RelaySmtpAuthMechs  auth_mechs;  /* the mechanisms of those that this client implements */
  char               *auth_offered; /* the advertised mechanism list, for messages */
} RelaySmtpCapabilities;

RelaySmtpReply *relay_smtp_reply_parse            (const guint8           *data,
                                                   gsize                   length,
                                                   gsize                  *consumed,
                                                   GError                **error);
void            relay_smtp_reply_free             (RelaySmtpReply         *reply);
char           *relay_smtp_reply_to_display       (const RelaySmtpReply   *reply);
gboolean        relay_smtp_reply_is_positive      (const RelaySmtpReply   *reply);

void            relay_smtp_capabilities_parse     (const RelaySmtpReply   *reply,
                                                   RelaySmtpCapabilities  *caps);
void            relay_smtp_capabilities_clear     (RelaySmtpCapabilities  *caps);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelaySmtpReply, relay_smtp_reply_free)

G_END_DECLS
