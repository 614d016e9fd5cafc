/* fuzz-reply.c: the reply parser and what is built from its result, on any bytes
 *
 * Reads replies one after the other from the input, as the client does with what the network
 * delivered, and checks what the parser promises: it consumes no more than it was given, codes
 * are 200..599, and the text shown to people is valid UTF-8 without control characters.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "relay-smtp-error.h"
#include "relay-smtp-reply.h"
#include "fuzz.h"

static void
check_display (const char *text)
{
  g_assert (g_utf8_validate (text, -1, NULL));
  for (const guchar *p = (const guchar *) text; *p; p++)
    g_assert (*p >= 0x20 && *p != 0x7f);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  gsize pos = 0;

  while (pos < size)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelaySmtpReply) reply = NULL;
      g_autofree char *display = NULL;
      g_autofree char *sanitized = NULL;
      RelaySmtpCapabilities caps = { 0 };
      gsize consumed = 0;

      reply = relay_smtp_reply_parse (data + pos, size - pos, &consumed, &error);
      if (reply == NULL)
        {
          g_assert (consumed == 0);
          break;
        }
      g_assert (error == NULL);
      g_assert (consumed > 0 && consumed <= size - pos);
      g_assert (reply->code >= 200 && reply->code <= 599);
      g_assert (reply->lines != NULL && reply->lines[0] != NULL);
      g_assert (g_strv_length (reply->lines) <= RELAY_SMTP_REPLY_MAX_LINES);
      g_assert (consumed <= RELAY_SMTP_REPLY_MAX_TOTAL + RELAY_SMTP_REPLY_MAX_LINE + 2);

      display = relay_smtp_reply_to_display (reply);
      check_display (display);
      (void) relay_smtp_reply_is_positive (reply);
      relay_smtp_capabilities_parse (reply, &caps);
      relay_smtp_capabilities_clear (&caps);
      sanitized = relay_smtp_sanitize_text (reply->lines[0], -1);
      check_display (sanitized);
      pos += consumed;
    }

  /* the same bytes as server text of any kind (error messages carry it too) */
  {
    g_autofree char *sanitized = relay_smtp_sanitize_text ((const char *) data, size);

    check_display (sanitized);
  }
  return 0;
}
