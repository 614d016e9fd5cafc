/* fuzz-message.c: dot-stuffing and message building on any bytes
 *
 * The promises of RFC 5321 §4.5.2 and of SMTP-smuggling defence: after dot-stuffing there is no
 * bare CR or LF, the only CRLF "." CRLF is the one at the end, and removing the stuffing gives
 * back the input with its line ends made CRLF (nothing lost, nothing added). A raw message is
 * either refused or sent with lines of at most 998 octets, and its 7-bit form for a server
 * without 8BITMIME, when there is one, is 7-bit and CRLF only; a composed one is 7-bit, CRLF
 * only, with lines of at most 998 octets.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "relay-smtp-message.h"
#include "fuzz.h"

static GString *
canonical (const guint8 *data,
           gsize         size)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < size; i++)
    {
      if (data[i] == '\r' || data[i] == '\n')
        {
          if (data[i] == '\r' && i + 1 < size && data[i + 1] == '\n')
            i++;
          g_string_append (out, "\r\n");
        }
      else
        g_string_append_c (out, data[i]);
    }
  /* not g_str_has_suffix(): the data may hold NUL bytes */
  if (out->len > 0 && (out->len < 2 || memcmp (out->str + out->len - 2, "\r\n", 2) != 0))
    g_string_append (out, "\r\n");
  return out;
}

/* memmem() without _GNU_SOURCE; g_strstr_len() would stop at a NUL byte */
static const char *
find (const char *haystack,
      gsize       length,
      const char *needle)
{
  gsize n = strlen (needle);

  for (gsize i = 0; i + n <= length; i++)
    if (memcmp (haystack + i, needle, n) == 0)
      return haystack + i;
  return NULL;
}

static void
check_crlf_only (const char *data,
                 gsize       size,
                 gsize       max_line)
{
  gsize line = 0;

  for (gsize i = 0; i < size; i++)
    {
      if (data[i] == '\r')
        {
          g_assert (i + 1 < size && data[i + 1] == '\n');
          i++;
          line = 0;
          continue;
        }
      g_assert (data[i] != '\n');
      line++;
      g_assert (line <= max_line);
    }
}

static void
check_dot_stuffing (const guint8 *data,
                    gsize         size)
{
  g_autoptr(GBytes) stuffed = relay_smtp_dot_stuff (data, size);
  g_autoptr(GString) expected = canonical (data, size);
  g_autoptr(GString) unstuffed = g_string_new (NULL);
  gsize length;
  const char *out = g_bytes_get_data (stuffed, &length);
  const char *end;

  g_assert (length >= 3);
  check_crlf_only (out, length, G_MAXSIZE);
  /* the end of data is there, once: the first "." line is the last line */
  g_assert (memcmp (out + length - 3, ".\r\n", 3) == 0);
  g_assert (length == 3 || memcmp (out + length - 5, "\r\n.\r\n", 5) == 0);
  end = length == 3 ? out : find (out, length, "\r\n.\r\n") + 2;
  g_assert (end == out + length - 3);

  /* undo the stuffing */
  for (gsize i = 0; i < length - 3; )
    {
      const char *eol = find (out + i, length - 3 - i, "\r\n");
      gsize n = eol ? (gsize) (eol - (out + i)) + 2 : length - 3 - i;

      if (out[i] == '.')
        {
          g_assert (n > 2);   /* a lone "." line would be the end */
          g_string_append_len (unstuffed, out + i + 1, n - 1);
        }
      else
        g_string_append_len (unstuffed, out + i, n);
      i += n;
    }
  g_assert (unstuffed->len == expected->len);
  g_assert (memcmp (unstuffed->str, expected->str, expected->len) == 0);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  const char * const to[] = { "ops@example.org", NULL };
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(RelaySmtpMessage) raw = NULL;
  g_autoptr(RelaySmtpMessage) composed = NULL;
  g_autofree char *text = g_strndup ((const char *) data, size);

  check_dot_stuffing (data, size);

  raw = relay_smtp_message_new_raw ("a@example.com", to, bytes, NULL);
  if (raw != NULL)
    {
      gsize length;
      const char *out = g_bytes_get_data (relay_smtp_message_get_data (raw), &length);
      gsize line = 0;

      g_assert (length == 0 || memchr (out, '\0', length) == NULL);
      for (gsize i = 0; i < length; i++)
        {
          line = (out[i] == '\r' || out[i] == '\n') ? 0 : line + 1;
          g_assert (line <= RELAY_SMTP_MAX_LINE_OCTETS);
        }
      if (relay_smtp_message_is_8bit (raw))
        {
          g_autoptr(GBytes) seven_bit = relay_smtp_message_dup_7bit (raw, NULL);

          if (seven_bit != NULL)
            {
              out = g_bytes_get_data (seven_bit, &length);
              check_crlf_only (out, length, RELAY_SMTP_MAX_LINE_OCTETS);
              for (gsize i = 0; i < length; i++)
                g_assert ((guchar) out[i] < 0x80);
            }
        }
    }

  /* the input as the body, and its first line as subject and display name */
  {
    g_autofree char *first = g_strndup (text, strcspn (text, "\r\n"));

    composed = relay_smtp_message_new ("a@example.com", first, to, first, text, NULL);
    if (composed == NULL)
      composed = relay_smtp_message_new ("a@example.com", NULL, to, "s", text, NULL);
  }
  if (composed != NULL)
    {
      gsize length;
      const char *out = g_bytes_get_data (relay_smtp_message_get_data (composed), &length);

      check_crlf_only (out, length, RELAY_SMTP_MAX_LINE_OCTETS);
      for (gsize i = 0; i < length; i++)
        g_assert ((guchar) out[i] < 0x80 && out[i] != '\0');
      g_assert (!relay_smtp_message_is_8bit (composed));
    }
  return 0;
}
