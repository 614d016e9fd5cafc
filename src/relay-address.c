/* relay-address.c
 *
 * An address here is an RFC 5321 Mailbox: what goes into MAIL FROM/RCPT TO and the From header.
 * Display names and comments (RFC 5322) are not accepted: the user types a bare address.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-address"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-address.h"
#include "relay-hostname.h"

G_DEFINE_QUARK (relay-address-error-quark, relay_address_error)

/* RFC 5321 §4.5.3.1 */
#define MAX_LOCAL_PART 64
#define MAX_PATH 254      /* 256 octets of Path, minus the angle brackets */

static gboolean
is_atext (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static gboolean
is_dot_string (const char *s)
{
  gboolean after_dot = TRUE;

  for (; *s; s++)
    {
      if (*s == '.')
        {
          if (after_dot)
            return FALSE;
          after_dot = TRUE;
        }
      else if (is_atext (*s))
        after_dot = FALSE;
      else
        return FALSE;
    }
  return !after_dot;
}

/* Quoted-string: DQUOTE *( qtextSMTP / "\" %d32-126 ) DQUOTE */
static gboolean
is_quoted_string (const char *s)
{
  gsize len = strlen (s);

  if (len < 2 || s[0] != '"' || s[len - 1] != '"')
    return FALSE;
  for (gsize i = 1; i < len - 1; i++)
    {
      guchar c = s[i];

      if (c == '\\')
        {
          i++;
          if (i >= len - 1 || (guchar) s[i] < 32 || (guchar) s[i] > 126)
            return FALSE;
        }
      else if (c == '"' || c < 32 || c > 126)
        return FALSE;
    }
  return TRUE;
}

static gboolean
is_address_literal (const char *domain)
{
  gsize len = strlen (domain);
  g_autofree char *inner = NULL;

  if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
    return FALSE;
  inner = g_strndup (domain + 1, len - 2);
  if (g_ascii_strncasecmp (inner, "IPv6:", 5) == 0)
    return strchr (inner + 5, ':') != NULL && g_hostname_is_ip_address (inner + 5);
  return strchr (inner, ':') == NULL && g_hostname_is_ip_address (inner);
}

/**
 * relay_address_normalize:
 * @address: a mail address as typed, such as "alerts@bücher.example"
 * @error: return location for a #RELAY_ADDRESS_ERROR with a message for people
 *
 * Checks that @address is an RFC 5321 mailbox that a server will accept in MAIL FROM or RCPT TO:
 * a dot-string or quoted local part of at most 64 octets, "@", and a fully qualified domain name
 * (internationalised names are converted to punycode) or an address literal.
 *
 * Returns: (transfer full): the address as it goes on the wire, or %NULL with @error set
 */
char *
relay_address_normalize (const char  *address,
                         GError     **error)
{
  g_autofree char *text = NULL;
  g_autofree char *local = NULL;
  g_autofree char *domain_ascii = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *at;
  const char *domain;
  char *result;

  text = g_strstrip (g_strdup (address ? address : ""));
  if (*text == '\0')
    {
      g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_EMPTY,
                   _("Enter an address such as alerts@example.com"));
      return NULL;
    }

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_INVALID_CHARACTER,
                   _("The address is not valid UTF-8 text"));
      return NULL;
    }
  for (const guchar *p = (const guchar *) text; *p; p++)
    {
      if (*p < 0x20 || *p == 0x7f)
        {
          g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_INVALID_CHARACTER,
                       _("The address contains a line break or another control character"));
          return NULL;
        }
    }

  /* "Alerts <alerts@example.com>" is a header, not an address: say what to type instead. */
  if (strchr (text, '<') != NULL || strchr (text, '>') != NULL)
    {
      g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_LOCAL_PART,
                   _("Enter only the address, such as alerts@example.com, without a name or "
                     "angle brackets"));
      return NULL;
    }

  /* The domain cannot contain "@"; a quoted local part can. */
  at = strrchr (text, '@');
  if (at == NULL)
    {
      g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_NO_AT,
                   _("An address needs an “@” followed by a domain, as in alerts@example.com"));
      return NULL;
    }

  local = g_strndup (text, at - text);
  domain = at + 1;

  if (*local == '\0')
    {
      g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_LOCAL_PART,
                   _("The part before “@” is missing"));
      return NULL;
    }
  if (!is_dot_string (local) && !is_quoted_string (local))
    {
      gboolean non_ascii = FALSE;

      for (const guchar *p = (const guchar *) local; *p; p++)
        non_ascii |= *p >= 0x80;
      g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_LOCAL_PART,
                   non_ascii
                   ? _("The part before “@” must be plain ASCII: many servers reject other characters there")
                   : _("The part before “@” contains a space, a misplaced dot or a character that is not allowed"));
      return NULL;
    }
  if (strlen (local) > MAX_LOCAL_PART)
    {
      g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_TOO_LONG,
                   _("The part before “@” is longer than 64 characters"));
      return NULL;
    }

  if (*domain == '\0')
    {
      g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_DOMAIN,
                   _("The domain after “@” is missing"));
      return NULL;
    }

  if (domain[0] == '[')
    {
      if (!is_address_literal (domain))
        {
          g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_DOMAIN,
                       _("“%s” is not a valid address literal such as [192.0.2.1]"), domain);
          return NULL;
        }
      domain_ascii = g_strdup (domain);
    }
  else
    {
      gboolean is_ip = FALSE;

      domain_ascii = relay_hostname_normalize (domain, &is_ip, &local_error);
      if (domain_ascii == NULL || is_ip)
        {
          if (is_ip)
            g_set_error_literal (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_DOMAIN,
                                 _("Write an IP address after “@” in brackets, as in alerts@[192.0.2.1]"));
          else
            g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_DOMAIN,
                         _("The domain after “@” is not valid: %s"), local_error->message);
          return NULL;
        }
      /* Strict servers (Postfix reject_non_fqdn_sender) refuse "root@localhost". */
      if (strchr (domain_ascii, '.') == NULL)
        {
          g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_DOMAIN,
                       _("The domain must be fully qualified, such as example.com, not just “%s”"),
                       domain);
          return NULL;
        }
    }

  result = g_strconcat (local, "@", domain_ascii, NULL);
  if (strlen (result) > MAX_PATH)
    {
      g_free (result);
      g_set_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_TOO_LONG,
                   _("The address is longer than 254 characters"));
      return NULL;
    }
  return result;
}

/* "localhost", or this machine's name as it calls itself: the domain that mailutils' mail
 * ("root" becomes "root@HOSTNAME"), fail2ban ("root@localhost"), mdadm ("root@HOSTNAME") and
 * nagios/icinga ("nagios@localhost") add to a local user name. */
static gboolean
is_this_machine (const char *domain)
{
  return g_ascii_strcasecmp (domain, "localhost") == 0 ||
         g_ascii_strcasecmp (domain, "localhost.localdomain") == 0 ||
         g_ascii_strcasecmp (domain, g_get_host_name ()) == 0;
}

/**
 * relay_address_is_local_name:
 * @text: (nullable): a recipient or sender as a system tool gives it
 *
 * Whether @text is a local user name such as "root" or "www-data", alone or at this machine
 * ("root@localhost", "root@HOSTNAME"): what cron, mdadm and smartd mail to unless told
 * otherwise. A local MTA delivers that to a mailbox on this machine; a relay has no such
 * mailbox, so it is told apart from a mistyped address.
 */
gboolean
relay_address_is_local_name (const char *text)
{
  const char *at = text != NULL ? strrchr (text, '@') : NULL;
  gsize length;

  if (at != NULL)
    {
      g_autofree char *user = NULL;

      if (!is_this_machine (at + 1))
        return FALSE;
      user = g_strndup (text, at - text);
      return relay_address_is_local_name (user);
    }

  length = text != NULL ? strlen (text) : 0;

  /* The portable user name characters (POSIX 3.437), as useradd accepts them. */
  if (length == 0 || length > MAX_LOCAL_PART || text[0] == '-' || text[0] == '.')
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}
