/* relay-security.h: how the connection to the relay is protected
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Values match the io.github.smtprelay.SmtpRelay.Security enum of the GSettings schema. */
typedef enum
{
  RELAY_SECURITY_NONE = 0,
  RELAY_SECURITY_STARTTLS = 1,
  RELAY_SECURITY_TLS = 2,
} RelaySecurity;

#define RELAY_SECURITY_LAST RELAY_SECURITY_TLS

guint16       relay_security_default_port (RelaySecurity security);
guint16       relay_security_effective_port (RelaySecurity security,
                                             guint16       port);
const char   *relay_security_to_nick      (RelaySecurity security);
const char   *relay_security_to_label     (RelaySecurity security);
gboolean      relay_security_from_nick    (const char    *nick,
                                           RelaySecurity *security);

G_END_DECLS
