/* relay-security.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gi18n-lib.h>

#include "relay-security.h"

#include <string.h>

static const char * const nicks[] = { "none", "starttls", "tls" };

/**
 * relay_security_default_port:
 *
 * The port a relay listens on for @security by convention: 25 for plain SMTP, 587 for
 * submission with STARTTLS (RFC 6409) and 465 for submission over implicit TLS (RFC 8314).
 */
guint16
relay_security_default_port (RelaySecurity security)
{
  switch (security)
    {
    case RELAY_SECURITY_NONE:
      return 25;
    case RELAY_SECURITY_TLS:
      return 465;
    case RELAY_SECURITY_STARTTLS:
    default:
      return 587;
    }
}

/**
 * relay_security_effective_port:
 *
 * @port as configured, where 0 stands for the default port of @security.
 */
guint16
relay_security_effective_port (RelaySecurity security,
                               guint16       port)
{
  return port != 0 ? port : relay_security_default_port (security);
}

/**
 * relay_security_to_label:
 *
 * @security as people read it in a sentence: "no encryption", "STARTTLS" or "TLS".
 */
const char *
relay_security_to_label (RelaySecurity security)
{
  switch (security)
    {
    case RELAY_SECURITY_NONE:
      return _("no encryption");
    case RELAY_SECURITY_TLS:
      return _("TLS");
    case RELAY_SECURITY_STARTTLS:
    default:
      return _("STARTTLS");
    }
}

const char *
relay_security_to_nick (RelaySecurity security)
{
  if ((guint) security > RELAY_SECURITY_LAST)
    return NULL;
  return nicks[security];
}

gboolean
relay_security_from_nick (const char    *nick,
                          RelaySecurity *security)
{
  for (guint i = 0; i < G_N_ELEMENTS (nicks); i++)
    {
      if (g_strcmp0 (nick, nicks[i]) == 0)
        {
          *security = (RelaySecurity) i;
          return TRUE;
        }
    }
  return FALSE;
}
