/* smtp-test-helpers.h: a scripted SMTP server and a fake resolver for the client tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "relay-smtp-client.h"

G_BEGIN_DECLS

/* Script actions, one string each:
 *   "> TEXT"   send TEXT as is (include the CRLFs)
 *   "< PREFIX" read one CRLF line and check it starts with PREFIX (case-insensitive)
 *   "<< N"     read N lines, counting how many reads they took (pipelining check)
 *   "data"     read the message up to CRLF . CRLF
 *   "bdat"     read "BDAT N LAST" and the N bytes of its chunk
 *   "slow data" the same, 32 KiB every 10 ms, as over a slow link
 *   "sleep"    wait two seconds (scaled by test_ms())
 *   "drip TEXT" send TEXT one byte every 100 ms
 *   "flood"    send "250-" and then megabytes without a line end
 *   "close"    close the connection
 *   "lines N TEXT" send TEXT N times (endless continuation lines)
 *   "alone"    check that no further command followed the last one (no pipelining)
 *   "tls"      TLS handshake as the server (script_server_new_tls() only); checks the client
 *              sent nothing before its ClientHello
 *   "--"       ends the part of the script for one connection: the first connection runs
 *              the first part, the second the second…, later ones the last part
 * After the script the server reads until the client closes. */
typedef struct _ScriptServer ScriptServer;

ScriptServer *script_server_new            (const char * const *script);
ScriptServer *script_server_new_tls        (const char * const *script,
                                            GTlsCertificate    *certificate);
guint16       script_server_get_port       (ScriptServer       *server);
void          script_server_wait           (ScriptServer       *server);
const char   *script_server_get_received   (ScriptServer       *server);
const char   *script_server_get_data       (ScriptServer       *server);

/* A relay that accepts one pipelined message (MAIL, RCPT, DATA) and says goodbye. */
extern const char * const script_accept_one[];
guint         script_server_get_flight_reads (ScriptServer     *server);
guint         script_server_get_connections (ScriptServer      *server);
const char   *script_server_get_failure    (ScriptServer       *server);
void          script_server_free           (ScriptServer       *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScriptServer, script_server_free)

GResolver    *fake_resolver_new            (void);

/* Throw-away certificates made with openssl in a temporary folder; see test_certs_new(). */
typedef struct
{
  char            *dir;
  GTlsDatabase    *ca;            /* trusts ca.pem only */
  GTlsCertificate *dns;           /* DNS:relay.example.test, signed by the CA */
  GTlsCertificate *ip;            /* IP:127.0.0.1 only */
  GTlsCertificate *expired;       /* DNS:relay.example.test, expired */
  GTlsCertificate *wrong_name;    /* DNS:other.example.test */
  GTlsCertificate *unknown_ca;    /* DNS:relay.example.test, signed by another CA */
} TestCerts;

TestCerts    *test_certs_new               (GError            **error);
void          test_certs_free              (TestCerts          *certs);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestCerts, test_certs_free)

guint         test_ms                      (guint               ms);

char         *run_send                     (RelaySmtpClient    *client,
                                            RelaySmtpMessage   *message,
                                            GCancellable       *cancellable,
                                            GError            **error);

G_END_DECLS
