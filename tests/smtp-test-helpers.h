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
 *   "drip TEXT" send TEXT one byte every 100 ms
 *   "flood"    send "250-" and then megabytes without a line end
 *   "close"    close the connection
 * After the script the server reads until the client closes. */
typedef struct _ScriptServer ScriptServer;

ScriptServer *script_server_new            (const char * const *script);
guint16       script_server_get_port       (ScriptServer       *server);
void          script_server_wait           (ScriptServer       *server);
const char   *script_server_get_received   (ScriptServer       *server);
const char   *script_server_get_data       (ScriptServer       *server);
guint         script_server_get_flight_reads (ScriptServer     *server);
guint         script_server_get_connections (ScriptServer      *server);
const char   *script_server_get_failure    (ScriptServer       *server);
void          script_server_free           (ScriptServer       *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScriptServer, script_server_free)

GResolver    *fake_resolver_new            (void);

char         *run_send                     (RelaySmtpClient    *client,
                                            RelaySmtpMessage   *message,
                                            GCancellable       *cancellable,
                                            GError            **error);

G_END_DECLS
