/* relay-smtp-reply.c
 *
 * Pure functions, bytes in and structs out: no stream reaches them, so they can be tested and
 * fuzzed alone. The rules are those of RFC 5321 §4.2 read strictly (curl CVE-2019-3823 came from
 * a lenient reply parser): exactly three digits, then SP, "-" or the end of the line; every line
 * of a multi-line reply has the same code; CRLF is the only line end.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-smtp"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-smtp-error.h"
#include "relay-smtp-reply.h"

void
relay_smtp_reply_free (RelaySmtpReply *reply)
{
  if (reply == NULL)
    return;
  g_free (reply->enhanced);
  g_strfreev (reply->lines);
  g_free (reply);
}

static gboolean
parse_code (const guint8 *line,
            gsize         length,
            guint        *code)
{
  if (length < 3)
    return FALSE;
  if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5'
      || !g_ascii_isdigit (line[2]))
    return FALSE;
  *code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  return TRUE;
}

/* RFC 3463: class "." subject "." detail, subject and detail of 1 to 3 digits, then SP or end;
 * only a class matching the reply's first digit counts, so a text starting with "2.0" of a 5xx
 * reply is left alone. */
static char *
parse_enhanced (guint       code,
                const char *text)
{
  const char *p = text;
  gsize n;

  if (p[0] != (char) ('0' + code / 100) || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
    return NULL;
  p += 2;
  for (int part = 0; part < 2; part++)
    {
      n = 0;
      while (g_ascii_isdigit (p[n]))
        n++;
      if (n < 1 || n > 3)
        return NULL;
      p += n;
      if (part == 0)
        {
          if (*p != '.')
            return NULL;
          p++;
        }
    }
  if (*p != '\0' && *p != ' ')
    return NULL;
  return g_strndup (text, p - text);
}

/**
 * relay_smtp_reply_parse:
 * @data: bytes received so far
 * @length: number of bytes in @data
 * @consumed: (out): how many bytes the complete reply used
 * @error: return location for a %RELAY_SMTP_ERROR_PROTOCOL error
 *
 * Parses one complete reply at the start of @data. Incomplete input is not an error as long as
 * it stays within the limits: the caller reads more and tries again.
 *
 * Returns: (transfer full) (nullable): the reply; %NULL with @error unset when more bytes are
 *   needed, %NULL with @error set when the input is malformed or too large
 */
RelaySmtpReply *
relay_smtp_reply_parse (const guint8  *data,
                        gsize          length,
                        gsize         *consumed,
                        GError       **error)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  gsize pos = 0;
  guint first_code = 0;

  *consumed = 0;

  while (pos < length || lines->len == 0)
    {
      const guint8 *line = data + pos;
      gsize avail = length - pos;
      gsize len = 0;
      guint code;
      gboolean last;

      /* Scan for CRLF, refusing what a lenient parser would let through. */
      while (len < avail && line[len] != '\r' && line[len] != '\n' && line[len] != '\0')
        len++;

      if (len > RELAY_SMTP_REPLY_MAX_LINE
          || (len == avail && avail > RELAY_SMTP_REPLY_MAX_LINE))
        {
          g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PROTOCOL,
                       _("The server sent a reply line longer than %u bytes."),
                       RELAY_SMTP_REPLY_MAX_LINE);
          return NULL;
        }
      if (len == avail)
        return NULL;  /* need more */
      if (line[len] == '\0')
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PROTOCOL,
                               _("The server sent a NUL byte in a reply."));
          return NULL;
        }
      if (line[len] == '\n')
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PROTOCOL,
                               _("The server ended a reply line with a bare LF instead of CRLF."));
          return NULL;
        }
      if (len + 1 == avail)
        return NULL;  /* a CR at the very end: its LF may be on the way */
      if (line[len + 1] != '\n')
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PROTOCOL,
                               _("The server sent a bare CR in a reply."));
          return NULL;
        }

      if (!parse_code (line, len, &code) || (len > 3 && line[3] != ' ' && line[3] != '-'))
        {
          g_autofree char *shown = relay_smtp_sanitize_text ((const char *) line, MIN (len, 80));

          g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PROTOCOL,
                       _("The server sent something that is not an SMTP reply: “%s”."), shown);
          return NULL;
        }
      if (lines->len > 0 && code != first_code)
        {
          g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PROTOCOL,
                       _("The server mixed reply codes %u and %u in one reply."),
                       first_code, code);
          return NULL;
        }
      first_code = code;
      last = len == 3 || line[3] == ' ';
      g_ptr_array_add (lines, len > 4 ? g_strndup ((const char *) line + 4, len - 4) : g_strdup (""));
      pos += len + 2;

      if (last)
        {
          RelaySmtpReply *reply = g_new0 (RelaySmtpReply, 1);

          reply->code = code;
          g_ptr_array_add (lines, NULL);
          reply->lines = (char **) g_ptr_array_steal (lines, NULL);
          reply->enhanced = parse_enhanced (code, reply->lines[0]);
          *consumed = pos;
          return reply;
        }

      if (lines->len >= RELAY_SMTP_REPLY_MAX_LINES || pos > RELAY_SMTP_REPLY_MAX_TOTAL)
        {
          g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PROTOCOL,
                       _("The server sent a reply of more than %u lines or %u bytes."),
                       RELAY_SMTP_REPLY_MAX_LINES, RELAY_SMTP_REPLY_MAX_TOTAL);
          return NULL;
        }
    }

  return NULL;
}

/**
 * relay_smtp_reply_to_display:
 *
 * The reply as one line of plain text, such as "550 5.1.1 <x@example.com>: Recipient address
 * rejected", with control and bidi characters removed: safe to put in a label or an error.
 */
char *
relay_smtp_reply_to_display (const RelaySmtpReply *reply)
{
  g_autofree char *joined = g_strjoinv (" ", reply->lines);
  g_autofree char *raw = g_strdup_printf ("%03u %s", reply->code, joined);

  g_strchomp (raw);
  return relay_smtp_sanitize_text (raw, -1);
}

gboolean
relay_smtp_reply_is_positive (const RelaySmtpReply *reply)
{
  return reply->code >= 200 && reply->code < 400;
}

void
relay_smtp_capabilities_clear (RelaySmtpCapabilities *caps)
{
  g_free (caps->auth_offered);
  memset (caps, 0, sizeof *caps);
}

static void
parse_auth_mechs (RelaySmtpCapabilities  *caps,
                  char                  **words)
{
  g_autoptr(GString) offered = g_string_new (caps->auth_offered);

  caps->auth = TRUE;
  for (guint i = 0; words[i] != NULL; i++)
    {
      const char *mech = words[i];

      if (*mech == '\0')
        continue;
      if (g_ascii_strcasecmp (mech, "PLAIN") == 0)
        caps->auth_mechs |= RELAY_SMTP_AUTH_PLAIN;
      else if (g_ascii_strcasecmp (mech, "LOGIN") == 0)
        caps->auth_mechs |= RELAY_SMTP_AUTH_LOGIN;
      else if (g_ascii_strcasecmp (mech, "CRAM-MD5") == 0)
        caps->auth_mechs |= RELAY_SMTP_AUTH_CRAM_MD5;
      if (offered->len > 0)
        g_string_append_c (offered, ' ');
      g_string_append (offered, mech);
    }
  g_free (caps->auth_offered);
  caps->auth_offered = relay_smtp_sanitize_text (offered->str, -1);
}

/**
 * relay_smtp_capabilities_parse:
 * @reply: a positive reply to EHLO
 * @caps: (out caller-allocates): the capabilities; cleared first
 *
 * Reads the extensions the client uses from the EHLO reply (RFC 5321 §4.1.1.1): the first line
 * is the server's greeting, every other line an ehlo-keyword with parameters, case-insensitive.
 * The obsolete "AUTH=" form that old servers still send is accepted too.
 */
void
relay_smtp_capabilities_parse (const RelaySmtpReply  *reply,
                               RelaySmtpCapabilities *caps)
{
  relay_smtp_capabilities_clear (caps);
  caps->esmtp = TRUE;

  for (guint i = 1; reply->lines[i] != NULL; i++)
    {
      g_auto(GStrv) words = g_strsplit (reply->lines[i], " ", -1);
      const char *keyword = words[0];

      /* "250-" or "250 " alone: an empty line splits into no words at all (found by fuzzing) */
      if (keyword == NULL || *keyword == '\0')
        continue;
      if (g_ascii_strcasecmp (keyword, "SIZE") == 0)
        {
          guint64 limit = 0;

          caps->size = TRUE;
          if (words[1] != NULL && g_ascii_string_to_unsigned (words[1], 10, 0, G_MAXUINT64,
                                                              &limit, NULL))
            caps->size_limit = limit;
        }
      else if (g_ascii_strcasecmp (keyword, "PIPELINING") == 0)
        caps->pipelining = TRUE;
      else if (g_ascii_strcasecmp (keyword, "8BITMIME") == 0)
        caps->eightbitmime = TRUE;
      else if (g_ascii_strcasecmp (keyword, "SMTPUTF8") == 0)
        caps->smtputf8 = TRUE;
      else if (g_ascii_strcasecmp (keyword, "STARTTLS") == 0)
        caps->starttls = TRUE;
      else if (g_ascii_strcasecmp (keyword, "ENHANCEDSTATUSCODES") == 0)
        caps->enhanced_status_codes = TRUE;
      else if (g_ascii_strcasecmp (keyword, "CHUNKING") == 0)
        caps->chunking = TRUE;
      else if (g_ascii_strcasecmp (keyword, "AUTH") == 0)
        parse_auth_mechs (caps, words + 1);
      else if (g_ascii_strncasecmp (keyword, "AUTH=", 5) == 0)
        {
          g_auto(GStrv) first = g_new0 (char *, 2);

          first[0] = g_strdup (keyword + 5);
          parse_auth_mechs (caps, first);
          parse_auth_mechs (caps, words + 1);
        }
    }
}
