/* relay-hostname.c
 *
 * GLib's IDNA helper converts names but does not validate them (it passes "a b" or "-x-" through),
 * so the rules of RFC 1123 / RFC 5890 for what may be looked up and put on the wire live here.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-hostname"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-hostname.h"

G_DEFINE_QUARK (relay-hostname-error-quark, relay_hostname_error)

/* RFC 1035 limits the wire form to 255 octets, i.e. 253 characters of text without the root dot. */
#define MAX_NAME_LENGTH 253
#define MAX_LABEL_LENGTH 63

static gboolean
has_control_or_space (const char *s)
{
  for (const guchar *p = (const guchar *) s; *p; p++)
    if (*p <= 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

/**
 * relay_hostname_is_ldh_name:
 * @ascii: an ASCII host name, without trailing dot
 *
 * Whether @ascii is made of letter-digit-hyphen labels of 1 to 63 characters that neither start
 * nor end with a hyphen, with a top-level label that is not all digits (so that "127.1" or
 * "2130706433" are never taken for names).
 */
gboolean
relay_hostname_is_ldh_name (const char *ascii)
{
  g_auto(GStrv) labels = NULL;
  const char *last;
  gboolean all_digits = TRUE;

  if (ascii == NULL || *ascii == '\0' || strlen (ascii) > MAX_NAME_LENGTH)
    return FALSE;

  labels = g_strsplit (ascii, ".", -1);
  for (guint i = 0; labels[i] != NULL; i++)
    {
      const char *label = labels[i];
      gsize len = strlen (label);

      if (len == 0 || len > MAX_LABEL_LENGTH || label[0] == '-' || label[len - 1] == '-')
        return FALSE;
      for (gsize j = 0; j < len; j++)
        if (!g_ascii_isalnum (label[j]) && label[j] != '-')
          return FALSE;
    }

  last = labels[g_strv_length (labels) - 1];
  for (const char *p = last; *p; p++)
    if (!g_ascii_isdigit (*p))
      all_digits = FALSE;

  return !all_digits;
}

/* An IP address, with an IPv6 zone ("fe80::1%eth0") kept as typed: interface names are case
 * sensitive. It must be one that can be connected to: a link-local IPv6 address is reachable
 * only through the interface its zone names (without one, connect() fails with EINVAL). */
static char *
normalize_ip_literal (const char  *text,
                      gboolean    *is_ip_literal,
                      GError     **error)
{
  const char *zone = strchr (text, '%');
  g_autofree char *address = g_ascii_strdown (text, zone != NULL ? zone - text : -1);
  g_autofree char *result = g_strconcat (address, zone, NULL);
  g_autoptr(GSocketAddress) socket_address = g_inet_socket_address_new_from_string (result, 0);
  GInetAddress *inet;

  if (socket_address == NULL)
    {
      if (zone != NULL)
        g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_NUMERIC,
                     _("“%s” names no network interface of this computer"), zone + 1);
      else
        g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_NUMERIC,
                     _("“%s” is not a usable IP address"), text);
      return NULL;
    }
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (socket_address));
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6
      && g_inet_address_get_is_link_local (inet)
      && g_inet_socket_address_get_scope_id (G_INET_SOCKET_ADDRESS (socket_address)) == 0)
    {
      g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_NUMERIC,
                   _("%s is a link-local address: add the network interface that reaches it, "
                     "as in %s%%eth0"), address, address);
      return NULL;
    }
  if (is_ip_literal)
    *is_ip_literal = TRUE;
  return g_steal_pointer (&result);
}

/**
 * relay_hostname_normalize:
 * @input: a host name or IP address as the user typed it
 * @is_ip_literal: (out) (optional): whether the result is an IP address
 * @error: return location for a #RELAY_HOSTNAME_ERROR
 *
 * Normalises @input to the form that is looked up, connected to and used as the TLS identity:
 * surrounding white space and a trailing root dot removed, IDN converted to ASCII (punycode),
 * lower case; IP literals lose their brackets.
 *
 * Returns: (transfer full): the normalised name, or %NULL with @error set
 */
char *
relay_hostname_normalize (const char  *input,
                          gboolean    *is_ip_literal,
                          GError     **error)
{
  g_autofree char *text = NULL;
  g_autofree char *ascii = NULL;
  gsize len;

  if (is_ip_literal)
    *is_ip_literal = FALSE;

  text = g_strstrip (g_strdup (input ? input : ""));
  len = strlen (text);

  if (len == 0)
    {
      g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_EMPTY,
                   _("No server is set"));
      return NULL;
    }

  if (!g_utf8_validate (text, -1, NULL) || has_control_or_space (text))
    {
      g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_INVALID_CHARACTER,
                   _("The server name contains spaces or control characters"));
      return NULL;
    }

  /* "[2001:db8::1]" as in URLs, "[192.0.2.1]" as in SMTP address literals (RFC 5321 §4.1.3) */
  if (len > 2 && text[0] == '[' && text[len - 1] == ']')
    {
      g_autofree char *inner = g_strndup (text + 1, len - 2);

      if (g_hostname_is_ip_address (inner))
        return normalize_ip_literal (inner, is_ip_literal, error);
    }

  if (g_hostname_is_ip_address (text))
    return normalize_ip_literal (text, is_ip_literal, error);

  if (text[len - 1] == '.')
    text[len - 1] = '\0';

  if (strlen (text) > MAX_NAME_LENGTH)
    {
      g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_TOO_LONG,
                   _("The server name is longer than 253 characters"));
      return NULL;
    }

  ascii = g_hostname_to_ascii (text);
  if (ascii == NULL)
    {
      g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_BAD_LABEL,
                   _("“%s” is not a valid internationalised server name"), text);
      return NULL;
    }

  {
    g_autofree char *lower = g_ascii_strdown (ascii, -1);

    if (!relay_hostname_is_ldh_name (lower))
      {
        const char *dot = strrchr (lower, '.');
        const char *tld = dot ? dot + 1 : lower;
        gboolean numeric = *tld != '\0' && strspn (tld, "0123456789") == strlen (tld);

        if (numeric)
          g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_NUMERIC,
                       _("“%s” is neither a complete IP address nor a host name"), text);
        else if (strlen (lower) > MAX_NAME_LENGTH)
          g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_TOO_LONG,
                       _("The server name is longer than 253 characters"));
        else
          g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_BAD_LABEL,
                       _("A server name may contain only letters, digits, hyphens and dots, and no part may be empty or start or end with a hyphen"));
        return NULL;
      }

    /* An "xn--" label must be a real A-label: decode to valid Unicode and encode back to
     * itself. Otherwise the name shown to the user (relay_hostname_describe()) could be
     * invalid text, or a different name than the one looked up (found by fuzzing). */
    if (g_hostname_is_ascii_encoded (lower))
      {
        g_autofree char *unicode = g_hostname_to_unicode (lower);
        g_autofree char *back = NULL;

        if (unicode != NULL && g_utf8_validate (unicode, -1, NULL))
          back = g_hostname_to_ascii (unicode);
        if (back == NULL || g_ascii_strcasecmp (back, lower) != 0)
          {
            g_set_error (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_BAD_LABEL,
                         _("“%s” is not a valid internationalised server name"), text);
            return NULL;
          }
      }

    return g_steal_pointer (&lower);
  }
}

/**
 * relay_hostname_describe:
 * @input: a host name or IP address as the user typed it
 *
 * How to show a server name so that nobody is fooled by look-alike characters: an
 * internationalised name is given in Unicode followed by its ASCII (punycode) form, which is
 * what is really looked up, e.g. "bücher.example (xn--bcher-kva.example)"; any other valid name
 * is given in its normalised form.
 *
 * Returns: (transfer full) (nullable): the text to show, or %NULL when @input is not valid
 */
char *
relay_hostname_describe (const char *input)
{
  g_autofree char *ascii = NULL;
  g_autofree char *unicode = NULL;
  gboolean is_ip = FALSE;

  ascii = relay_hostname_normalize (input, &is_ip, NULL);
  if (ascii == NULL)
    return NULL;
  if (is_ip || !g_hostname_is_ascii_encoded (ascii))
    return g_steal_pointer (&ascii);
  unicode = g_hostname_to_unicode (ascii);
  if (unicode == NULL || g_strcmp0 (unicode, ascii) == 0)
    return g_steal_pointer (&ascii);
  return g_strdup_printf ("%s (%s)", unicode, ascii);
}

/* Han, kana, Hangul and Bopomofo are written together (and with Latin) in real names. */
static gboolean
is_cjk_script (GUnicodeScript script)
{
  return script == G_UNICODE_SCRIPT_HAN || script == G_UNICODE_SCRIPT_HIRAGANA
         || script == G_UNICODE_SCRIPT_KATAKANA || script == G_UNICODE_SCRIPT_HANGUL
         || script == G_UNICODE_SCRIPT_BOPOMOFO;
}

/* Whether one label mixes scripts in a way no real name needs: Latin "a" next to Cyrillic "а"
 * is the classic homograph attack (UTS #39 §5.1, "highly restrictive" simplified). */
static gboolean
label_mixes_scripts (const char *label,
                     gsize       length)
{
  GUnicodeScript first = G_UNICODE_SCRIPT_COMMON;
  gboolean latin = FALSE;
  gboolean cjk = FALSE;

  for (const char *p = label; p < label + length; p = g_utf8_next_char (p))
    {
      GUnicodeScript script = g_unichar_get_script (g_utf8_get_char (p));

      if (script == G_UNICODE_SCRIPT_COMMON || script == G_UNICODE_SCRIPT_INHERITED
          || script == G_UNICODE_SCRIPT_UNKNOWN)
        continue;
      latin |= script == G_UNICODE_SCRIPT_LATIN;
      cjk |= is_cjk_script (script);
      if (script == G_UNICODE_SCRIPT_LATIN || is_cjk_script (script))
        continue;
      if (first == G_UNICODE_SCRIPT_COMMON)
        first = script;
      else if (script != first)
        return TRUE;
    }
  /* one other script alone, or with Latin but no CJK, is a mix; Latin with CJK is not */
  if (first != G_UNICODE_SCRIPT_COMMON)
    return latin || cjk;
  return FALSE;
}

/**
 * relay_hostname_check_mixed_scripts:
 * @input: a host name as the user typed it
 *
 * Looks for a label that mixes writing systems, such as Latin and Cyrillic letters, which is how
 * a look-alike of a well-known name is made. Latin with Chinese, Japanese or Korean is allowed.
 *
 * Returns: (transfer full) (nullable): a warning to show under the server name, or %NULL
 */
char *
relay_hostname_check_mixed_scripts (const char *input)
{
  g_autofree char *ascii = NULL;
  g_autofree char *unicode = NULL;
  gboolean is_ip = FALSE;
  const char *label;

  ascii = relay_hostname_normalize (input, &is_ip, NULL);
  if (ascii == NULL || is_ip || !g_hostname_is_ascii_encoded (ascii))
    return NULL;
  unicode = g_hostname_to_unicode (ascii);
  if (unicode == NULL)
    return NULL;

  label = unicode;
  while (label != NULL)
    {
      const char *dot = strchr (label, '.');
      gsize length = dot ? (gsize) (dot - label) : strlen (label);

      if (label_mixes_scripts (label, length))
        {
          g_autofree char *shown = g_strndup (label, length);

          return g_strdup_printf (_("“%s” mixes letters of different alphabets, as look-alike names made to deceive do; check that %s is really the server you mean."),
                                  shown, ascii);
        }
      label = dot ? dot + 1 : NULL;
    }
  return NULL;
}
