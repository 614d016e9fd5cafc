/* relay-smtp-error.c
 *
 * Errors are matched on (domain, code) only: GIO's texts are translated and prefixed, so they
 * cannot be parsed, and the user needs our own sentence saying which step failed anyway.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-smtp"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-smtp-error.h"

G_DEFINE_QUARK (relay-smtp-error-quark, relay_smtp_error)

/* Server text is shown to people: long enough for a useful reply, short enough for a dialog. */
#define MAX_DISPLAY_CHARS 600

static gboolean
is_invisible_or_control (gunichar c)
{
  if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
    return TRUE;
  /* Bidirectional overrides and isolates can make server text read backwards (Trojan Source). */
  return c == 0x061c || c == 0x200e || c == 0x200f
         || (c >= 0x202a && c <= 0x202e)
         || (c >= 0x2066 && c <= 0x2069)
         || c == 0xfeff;
}

/**
 * relay_smtp_sanitize_text:
 * @text: text from the network, in any encoding
 * @length: length of @text in bytes, or -1 if it is nul-terminated
 *
 * Makes untrusted text safe to show as plain text: invalid UTF-8 is replaced, tabs become spaces,
 * control and bidi formatting characters are dropped, and the result is capped in length.
 *
 * Returns: (transfer full): valid UTF-8 without control characters
 */
char *
relay_smtp_sanitize_text (const char *text,
                          gssize      length)
{
  g_autofree char *valid = NULL;
  GString *out;
  guint chars = 0;

  if (text == NULL)
    return g_strdup ("");

  valid = g_utf8_make_valid (text, length);
  out = g_string_sized_new (strlen (valid));
  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\t')
        c = ' ';
      if (c == 0x1b || c == 0x9b)
        {
          /* A terminal escape sequence goes as a whole, not just its ESC: "[31m" or a window
           * title set with OSC would otherwise remain as noise (or act, if the transcript is
           * pasted into a terminal). CSI ends with a byte of 0x40..0x7e, OSC with BEL or ST. */
          const char *q = g_utf8_next_char (p);

          if (c == 0x9b || *q == '[')
            {
              if (c == 0x1b)
                q++;
              while (*q && !(*q >= 0x40 && *q <= 0x7e))
                q++;
            }
          else if (*q == ']')
            {
              while (*q && *q != '\a' && !(q[0] == 0x1b && q[1] == '\\'))
                q++;
              if (*q == 0x1b)
                q++;
            }
          /* q is on the final byte (or the NUL): let the loop step past it */
          if (*q == '\0')
            break;
          p = q;
          continue;
        }
      if (is_invisible_or_control (c))
        continue;
      if (chars++ >= MAX_DISPLAY_CHARS)
        {
          g_string_append (out, "…");
          break;
        }
      g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

/**
 * relay_smtp_error_hint:
 * @error: (nullable): an error from the SMTP client
 * @reply_code: the server's last reply code (relay_smtp_client_get_last_reply_code()), 0 if none
 *
 * A one-line suggestion of what to do next, for a subtitle under the error message. The reply
 * code tells a refusal for now (4xx) from a refusal for good (5xx) where the error code does not.
 *
 * Returns: (nullable): a translated hint, or %NULL when there is nothing useful to suggest
 */
const char *
relay_smtp_error_hint (const GError *error,
                       guint         reply_code)
{
  if (error == NULL)
    return NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return NULL;

  if (error->domain != RELAY_SMTP_ERROR)
    return _("Check the server settings and try again.");

  /* A 4xx refusal of the login, the sender, a recipient or the message is for now only
   * (RFC 5321 §4.2.1): greylisting, a rate limit, a busy virus scanner, an authentication
   * back end that is down. Advice to change the settings would be wrong. */
  if (reply_code >= 400 && reply_code < 500)
    switch ((RelaySmtpError) error->code)
      {
      case RELAY_SMTP_ERROR_AUTH:
        return _("The server could not check the login for now; try again later.");
      case RELAY_SMTP_ERROR_SENDER:
      case RELAY_SMTP_ERROR_RECIPIENT:
      case RELAY_SMTP_ERROR_DATA:
        return _("The refusal is temporary (greylisting, a rate limit or a passing problem); try again later.");
      default:
        break;
      }

  switch ((RelaySmtpError) error->code)
    {
    case RELAY_SMTP_ERROR_INVALID_INPUT:
      return _("Correct the setting named above; nothing was sent.");
    case RELAY_SMTP_ERROR_RESOLVE:
      return _("Check the spelling of the server name.");
    case RELAY_SMTP_ERROR_DNS_FAILURE:
      return _("Check the network connection and DNS settings, then try again.");
    case RELAY_SMTP_ERROR_CONNECT:
    case RELAY_SMTP_ERROR_REFUSED:
      return _("Check the port and security settings.");
    case RELAY_SMTP_ERROR_UNREACHABLE:
    case RELAY_SMTP_ERROR_BLOCKED:
      return _("Ask the network administrator to allow outgoing connections to this port.");
    case RELAY_SMTP_ERROR_TIMEOUT:
      return _("Check the port and security settings; a firewall may be dropping the connection.");
    case RELAY_SMTP_ERROR_TLS:
      return _("Check the security setting: port 465 uses TLS, port 587 uses STARTTLS.");
    case RELAY_SMTP_ERROR_CERTIFICATE:
      return _("Check the server name, or trust this certificate only if you recognise its fingerprint.");
    case RELAY_SMTP_ERROR_GREETING:
      if (reply_code >= 500 && reply_code < 600)
        return _("The server refuses mail from this computer; ask the relay’s administrator to allow it.");
      return _("The server is not accepting mail now; try again later.");
    case RELAY_SMTP_ERROR_EHLO:
      return _("Give this computer a fully qualified host name, or ask the relay’s administrator to accept its name (HELO).");
    case RELAY_SMTP_ERROR_STARTTLS_UNAVAILABLE:
      /* the message says already that nothing was sent */
      return _("Choose TLS on port 465 if the server supports it.");
    case RELAY_SMTP_ERROR_STARTTLS:
      return _("Try TLS on port 465 instead of STARTTLS.");
    case RELAY_SMTP_ERROR_AUTH_UNAVAILABLE:
      /* Not "enable encryption": the connection may well be encrypted already. */
      return _("Turn off “Server Requires Authentication” if this relay needs no login; some servers offer login only with encryption, or only on port 587 or 465.");
    case RELAY_SMTP_ERROR_AUTH:
      return _("Check the user name and password; some providers need an app password.");
    case RELAY_SMTP_ERROR_PLAINTEXT_AUTH_REFUSED:
      return _("Choose STARTTLS or TLS, or explicitly allow unencrypted login.");
    case RELAY_SMTP_ERROR_SENDER:
      /* RFC 3207 and RFC 4954: "530 Must issue a STARTTLS command first", "530 5.7.0
       * Authentication required": nothing to do with the address. */
      if (reply_code == 530)
        return _("The server wants encryption or a login before it takes mail; check the security and authentication settings.");
      return _("The relay refuses this sender; use an address the account may send from.");
    case RELAY_SMTP_ERROR_RECIPIENT:
      return _("Check the recipient address; the relay may not relay to it without login.");
    case RELAY_SMTP_ERROR_DATA:
      /* Refused by the client before MAIL (too big for its SIZE, 8-bit for an old server):
       * the last reply is the 250 to EHLO (or 235 to AUTH), not a refusal to point to. */
      if (reply_code < 400)
        return NULL;
      return _("The relay refused the message itself; its reply says why.");
    case RELAY_SMTP_ERROR_PROTOCOL:
      return _("The server does not speak SMTP correctly; check the host and port.");
    case RELAY_SMTP_ERROR_CLOSED:
      return _("Try again; if it keeps happening, check the port and security settings.");
    default:
      return NULL;
    }
}

/**
 * relay_smtp_error_new_network:
 * @error: a #G_RESOLVER_ERROR, #G_IO_ERROR or other error from resolving or connecting
 * @host: the server name as configured (normalised)
 * @address: (nullable): the IP address that was tried, if any
 * @port: the TCP port
 *
 * Maps a resolver or connect error to a #RELAY_SMTP_ERROR with a truthful message: only
 * %G_IO_ERROR_PERMISSION_DENIED is certainly a local traffic rule; unreachable may also be a
 * missing route, and a time-out may also be a host that is down.
 *
 * Returns: (transfer full): a new #RELAY_SMTP_ERROR
 */
GError *
relay_smtp_error_new_network (const GError *error,
                              const char   *host,
                              const char   *address,
                              guint16       port)
{
  g_autofree char *detail = NULL;
  g_autofree char *where = NULL;

  if (address != NULL && g_strcmp0 (address, host) != 0)
    where = g_strdup_printf (_("%s (%s) port %u"), host, address, port);
  else
    where = g_strdup_printf (_("%s port %u"), host, port);

  if (error->domain == G_RESOLVER_ERROR)
    {
      if (error->code == G_RESOLVER_ERROR_NOT_FOUND)
        return g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_RESOLVE,
                            _("The server name “%s” cannot be resolved: it does not exist in DNS, or has no IP address."),
                            host);
      return g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DNS_FAILURE,
                          _("Could not look up the server name “%s”: DNS is unavailable."),
                          host);
    }

  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_PERMISSION_DENIED:
          return g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_BLOCKED, "%s %s",
                              _("Connection to SMTP server is blocked by traffic rules"),
                              detail = g_strdup_printf (_("(tried %s)"), where));
        case G_IO_ERROR_HOST_UNREACHABLE:
        case G_IO_ERROR_NETWORK_UNREACHABLE:
          return g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_UNREACHABLE,
                              _("Connection to %s is blocked by traffic rules, or there is no route to it."),
                              where);
        case G_IO_ERROR_CONNECTION_REFUSED:
          return g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_REFUSED,
                              _("%s refused the connection: nothing listens on that port, or a firewall rejects it."),
                              where);
        case G_IO_ERROR_TIMED_OUT:
          return g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_TIMEOUT,
                              _("%s did not answer; a firewall may be silently dropping the connection."),
                              where);
        case G_IO_ERROR_INVALID_ARGUMENT:
          return g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_BLOCKED,
                              _("Connection to %s is blocked by a blackhole route."), where);
        default:
          break;
        }
    }

  detail = relay_smtp_sanitize_text (error->message, -1);
  return g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_CONNECT,
                      _("Could not connect to %s: %s"), where, detail);
}
