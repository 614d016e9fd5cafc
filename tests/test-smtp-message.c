/* test-smtp-message.c: the RFC 5322 builder and DATA canonicalisation
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "relay-smtp-error.h"
#include "relay-smtp-message.h"

static const char * const one_rcpt[] = { "ops@example.org", NULL };

static char *
message_text (RelaySmtpMessage *message)
{
  gsize len;
  const char *data = g_bytes_get_data (relay_smtp_message_get_data (message), &len);

  return g_strndup (data, len);
}

/* Every line ends in CRLF, no bare CR or LF, no NUL, at most 998 octets, and 7-bit. */
static void
assert_wire_safe (const char *text)
{
  gsize line = 0;
  gsize len = strlen (text);

  g_assert_true (g_str_has_suffix (text, "\r\n"));
  for (gsize i = 0; i < len; i++)
    {
      guchar c = text[i];

      g_assert_cmpuint (c, <, 0x80);
      if (c == '\r')
        {
          g_assert_cmpint (text[i + 1], ==, '\n');
          i++;
          line = 0;
          continue;
        }
      g_assert_cmpint (c, !=, '\n');
      line++;
      g_assert_cmpuint (line, <=, 998);
    }
}

static char *
header_value (const char *text,
              const char *name)
{
  g_autofree char *prefix = g_strconcat ("\r\n", name, ": ", NULL);
  const char *start;
  const char *end;
  g_autofree char *with_start = g_strconcat ("\r\n", text, NULL);

  start = strstr (with_start, prefix);
  if (start == NULL)
    return NULL;
  start += strlen (prefix);
  end = start;
  /* unfold continuation lines */
  while ((end = strstr (end, "\r\n")) != NULL && (end[2] == ' ' || end[2] == '\t'))
    end += 2;
  return g_strndup (start, end - start);
}

static char *
decode_encoded_words (const char *value)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_auto(GStrv) words = g_strsplit_set (value, " \r\n", -1);

  for (guint i = 0; words[i] != NULL; i++)
    {
      const char *w = words[i];
      gsize len;
      g_autofree guchar *raw = NULL;
      g_autofree char *b64 = NULL;

      if (*w == '\0')
        continue;
      g_assert_true (g_str_has_prefix (w, "=?UTF-8?B?"));
      g_assert_true (g_str_has_suffix (w, "?="));
      g_assert_cmpuint (strlen (w), <=, 75);
      b64 = g_strndup (w + 10, strlen (w) - 12);
      raw = g_base64_decode (b64, &len);
      g_assert_true (g_utf8_validate ((const char *) raw, len, NULL));
      g_string_append_len (out, (const char *) raw, len);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
test_headers (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) date = g_date_time_new_utc (2026, 11, 27, 23, 5, 9);
  const char * const to[] = { "Ops@Example.org", "second@bücher.example", NULL };
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autofree char *text = NULL;
  g_autofree char *msgid = NULL;
  g_autofree char *to_value = NULL;
  const char *headers_end;

  message = relay_smtp_message_new_full ("alerts@example.com", "Backup Robot", to, "Disk full",
                                         "Hello\nworld\n", date, &error);
  g_assert_no_error (error);
  text = message_text (message);
  assert_wire_safe (text);

  g_assert_cmpstr (relay_smtp_message_get_sender (message), ==, "alerts@example.com");
  g_assert_cmpstr (relay_smtp_message_get_recipients (message)[1], ==, "second@xn--bcher-kva.example");
  g_assert_false (relay_smtp_message_is_8bit (message));

  g_assert_true (g_str_has_prefix (text, "Date: Fri, 27 Nov 2026 23:05:09 +0000\r\n"));
  msgid = header_value (text, "Message-ID");
  g_assert_true (g_str_has_prefix (msgid, "<"));
  g_assert_true (g_str_has_suffix (msgid, "@example.com>"));
  g_assert_nonnull (strstr (text, "\r\nFrom: \"Backup Robot\" <alerts@example.com>\r\n"));
  to_value = header_value (text, "To");
  g_assert_cmpstr (to_value, ==, "Ops@example.org,\r\n second@xn--bcher-kva.example");
  g_assert_nonnull (strstr (text, "\r\nSubject: Disk full\r\n"));
  g_assert_nonnull (strstr (text, "\r\nMIME-Version: 1.0\r\n"));
  g_assert_nonnull (strstr (text, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
  g_assert_nonnull (strstr (text, "\r\nContent-Transfer-Encoding: 7bit\r\n"));
  g_assert_nonnull (strstr (text, "\r\nAuto-Submitted: auto-generated\r\n"));

  headers_end = strstr (text, "\r\n\r\n");
  g_assert_nonnull (headers_end);
  g_assert_cmpstr (headers_end + 4, ==, "Hello\r\nworld\r\n");
}

static void
test_unique_message_ids (void)
{
  g_autoptr(RelaySmtpMessage) a = relay_smtp_message_new ("a@example.com", NULL, one_rcpt, "s", "b", NULL);
  g_autoptr(RelaySmtpMessage) b = relay_smtp_message_new ("a@example.com", NULL, one_rcpt, "s", "b", NULL);
  g_autofree char *ta = message_text (a);
  g_autofree char *tb = message_text (b);
  g_autofree char *ida = header_value (ta, "Message-ID");
  g_autofree char *idb = header_value (tb, "Message-ID");
  g_autofree char *from = header_value (ta, "From");

  g_assert_cmpstr (ida, !=, idb);
  g_assert_cmpstr (from, ==, "a@example.com");
}

static void
test_rfc2047 (void)
{
  g_autoptr(GError) error = NULL;
  const char *subject = "Sauvegarde échouée — ディスクがいっぱいです — with a rather long tail of text to fold";
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autofree char *text = NULL;
  g_autofree char *value = NULL;
  g_autofree char *decoded = NULL;
  g_autofree char *from = NULL;
  g_autofree char *from_name = NULL;
  g_autofree char *from_words = NULL;

  message = relay_smtp_message_new ("alerts@example.com", "Zoë \"the\" Robot", one_rcpt, subject, "", &error);
  g_assert_no_error (error);
  text = message_text (message);
  assert_wire_safe (text);

  value = header_value (text, "Subject");
  decoded = decode_encoded_words (value);
  g_assert_cmpstr (decoded, ==, subject);

  from = header_value (text, "From");
  g_assert_true (g_str_has_suffix (from, " <alerts@example.com>"));
  from_words = g_strndup (from, strlen (from) - strlen (" <alerts@example.com>"));
  from_name = decode_encoded_words (from_words);
  g_assert_cmpstr (from_name, ==, "Zoë \"the\" Robot");
}

static void
test_ascii_display_name_quoted (void)
{
  g_autoptr(RelaySmtpMessage) message = relay_smtp_message_new ("a@example.com", "Ops, \"night\" \\ team",
                                                                one_rcpt, "s", "b", NULL);
  g_autofree char *text = message_text (message);

  g_assert_nonnull (strstr (text, "\r\nFrom: \"Ops, \\\"night\\\" \\\\ team\" <a@example.com>\r\n"));
}

static void
test_quoted_printable (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autofree char *text = NULL;
  g_autofree char *long_line = g_strnfill (2000, 'a');
  g_autofree char *body = g_strconcat ("Café = 100%\r\ntrailing space \n", long_line, "\n.dot\n", NULL);
  const char *content;

  message = relay_smtp_message_new ("alerts@example.com", NULL, one_rcpt, "s", body, &error);
  g_assert_no_error (error);
  text = message_text (message);
  assert_wire_safe (text);

  g_assert_nonnull (strstr (text, "\r\nContent-Transfer-Encoding: quoted-printable\r\n"));
  content = strstr (text, "\r\n\r\n") + 4;
  g_assert_true (g_str_has_prefix (content, "Caf=C3=A9 =3D 100%\r\ntrailing space=20\r\n"));
  /* every encoded line fits in 76 characters */
  {
    g_auto(GStrv) lines = g_strsplit (content, "\r\n", -1);

    for (guint i = 0; lines[i] != NULL; i++)
      g_assert_cmpuint (strlen (lines[i]), <=, 76);
  }
  g_assert_nonnull (strstr (content, "\r\n.dot\r\n"));
}

static void
test_long_ascii_line (void)
{
  g_autofree char *long_line = g_strnfill (1500, 'b');
  g_autoptr(RelaySmtpMessage) message = relay_smtp_message_new ("a@example.com", NULL, one_rcpt,
                                                                "s", long_line, NULL);
  g_autofree char *text = message_text (message);

  assert_wire_safe (text);
  g_assert_nonnull (strstr (text, "quoted-printable"));
}

static void
test_long_ascii_subject (void)
{
  g_autofree char *subject = g_strnfill (1200, 'c');
  g_autoptr(RelaySmtpMessage) message = relay_smtp_message_new ("a@example.com", subject, one_rcpt,
                                                                subject, "", NULL);
  g_autofree char *text = message_text (message);
  g_autofree char *value = header_value (text, "Subject");
  g_autofree char *decoded = decode_encoded_words (value);
  g_autofree char *from = header_value (text, "From");
  g_autofree char *name = g_strndup (from, strlen (from) - strlen (" <a@example.com>"));
  g_autofree char *decoded_name = decode_encoded_words (name);

  assert_wire_safe (text);
  g_assert_cmpstr (decoded, ==, subject);
  g_assert_cmpstr (decoded_name, ==, subject);
}

static void
assert_refused (const char         *from,
                const char         *name,
                const char * const *to,
                const char         *subject,
                const char         *body)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaySmtpMessage) message = relay_smtp_message_new (from, name, to, subject, body, &error);

  g_assert_null (message);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT);
}

static void
test_injection_refused (void)
{
  const char * const crlf_rcpt[] = { "ops@example.org\r\nRCPT TO:<victim@example.net>", NULL };
  const char * const lf_rcpt[] = { "ops@example.org\nBcc: x@example.net", NULL };
  const char * const none[] = { NULL };

  assert_refused ("a@example.com", NULL, one_rcpt, "hi\r\nBcc: victim@example.net", "");
  assert_refused ("a@example.com", NULL, one_rcpt, "hi\nBcc: victim@example.net", "");
  assert_refused ("a@example.com", NULL, one_rcpt, "hi\rthere", "");
  assert_refused ("a@example.com", NULL, one_rcpt, "tab\tbell\a", "");
  assert_refused ("a@example.com\r\nRCPT TO:<v@example.net>", NULL, one_rcpt, "s", "");
  assert_refused ("a@example.com", "Robot\r\nBcc: v@example.net", one_rcpt, "s", "");
  assert_refused ("a@example.com", "Robot\n", one_rcpt, "s", "");
  assert_refused ("a@example.com", NULL, crlf_rcpt, "s", "");
  assert_refused ("a@example.com", NULL, lf_rcpt, "s", "");
  assert_refused ("a@example.com", NULL, none, "s", "");
  assert_refused ("not an address", NULL, one_rcpt, "s", "");
  assert_refused ("a@example.com", NULL, one_rcpt, "s", "invalid \xff utf-8");
}

static char *
stuff (const char *input)
{
  g_autoptr(GBytes) bytes = relay_smtp_dot_stuff ((const guint8 *) input, strlen (input));
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  return g_strndup (data, len);
}

static void
test_dot_stuffing (void)
{
  struct { const char *in, *out; } cases[] = {
    { "", ".\r\n" },
    { "a", "a\r\n.\r\n" },
    { "a\r\n", "a\r\n.\r\n" },
    { ".", "..\r\n.\r\n" },
    { ".\r\n", "..\r\n.\r\n" },
    { "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n" },
    { "..x\r\n", "...x\r\n.\r\n" },
    { "a.b\r\n", "a.b\r\n.\r\n" },
    /* SMTP smuggling: bare LF and bare CR around a dot become CRLF, then get stuffed */
    { "a\n.\nMAIL FROM:<x>\n", "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n" },
    { "a\r.\rb", "a\r\n..\r\nb\r\n.\r\n" },
    { "a\r\n.\nb", "a\r\n..\r\nb\r\n.\r\n" },
    { "a\n\r\n", "a\r\n\r\n.\r\n" },
    { "a\r\r\n", "a\r\n\r\n.\r\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = stuff (cases[i].in);

      g_assert_cmpstr (out, ==, cases[i].out);
    }
}

static void
test_raw (void)
{
  g_autoptr(GError) error = NULL;
  const char *text = "From: a@example.com\nSubject: raw\n\nCaf\xc3\xa9\n";
  g_autoptr(GBytes) data = g_bytes_new_static (text, strlen (text));
  g_autoptr(GBytes) with_nul = g_bytes_new_static ("a\0b", 3);
  g_autofree char *long_line = g_strnfill (999, 'x');
  g_autoptr(GBytes) too_long = g_bytes_new (long_line, strlen (long_line));
  g_autoptr(RelaySmtpMessage) message = NULL;
  RelaySmtpMessage *refused;

  message = relay_smtp_message_new_raw ("bounce@example.com", one_rcpt, data, &error);
  g_assert_no_error (error);
  g_assert_true (relay_smtp_message_is_8bit (message));
  g_assert_true (g_bytes_equal (relay_smtp_message_get_data (message), data));

  refused = relay_smtp_message_new_raw ("", one_rcpt, with_nul, &error);
  g_assert_null (refused);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  refused = relay_smtp_message_new_raw ("", one_rcpt, too_long, &error);
  g_assert_null (refused);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  refused = relay_smtp_message_new_raw ("x@example.com\r\n", one_rcpt, data, &error);
  g_assert_null (refused);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT);
}

/* RFC 2045 §6.7 decoding, written apart from the encoder so that the two cannot share a bug. */
static char *
decode_qp (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p; p++)
    {
      if (p[0] == '=' && p[1] == '\r' && p[2] == '\n')
        p += 2;
      else if (p[0] == '=' && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
        {
          g_string_append_c (out, g_ascii_xdigit_value (p[1]) * 16 + g_ascii_xdigit_value (p[2]));
          p += 2;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static char *
seven_bit_text (const char  *raw,
                GError     **error)
{
  g_autoptr(GBytes) data = g_bytes_new (raw, strlen (raw));
  g_autoptr(RelaySmtpMessage) message = relay_smtp_message_new_raw ("", one_rcpt, data, NULL);
  g_autoptr(GBytes) converted = NULL;

  g_assert_true (relay_smtp_message_is_8bit (message));
  converted = relay_smtp_message_dup_7bit (message, error);
  return converted ? g_strndup (g_bytes_get_data (converted, NULL), g_bytes_get_size (converted))
                   : NULL;
}

static guint
count (const char *haystack,
       const char *needle)
{
  guint n = 0;

  for (const char *p = haystack; (p = strstr (p, needle)) != NULL; p++)
    n++;
  return n;
}

/* cron's mail as Debian's cron writes it, to a server without 8BITMIME */
static void
test_seven_bit (void)
{
  g_autofree char *long_line = g_strnfill (300, 'e');
  g_autofree char *cron = g_strconcat ("From: root (Cron Daemon)\nTo: root\n"
                                       "Subject: Cron <root@box> /usr/local/bin/backup\n"
                                       "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
                                       "Content-Transfer-Encoding:\n 8bit\n"
                                       "X-Cron-Env: <SHELL=/bin/sh>\n\n"
                                       "Sauvegarde \xc3\xa9" "chou\xc3\xa9" "e : disque plein \n", long_line,
                                       "\xc3\xa9\n.\n", NULL);
  g_autofree char *expected_body = g_strconcat ("Sauvegarde \xc3\xa9" "chou\xc3\xa9" "e : disque plein \r\n",
                                                long_line, "\xc3\xa9\r\n.\r\n", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = seven_bit_text (cron, &error);
  g_autofree char *header = NULL;
  g_autofree char *decoded = NULL;
  const char *body;

  g_assert_no_error (error);
  assert_wire_safe (text);
  body = strstr (text, "\r\n\r\n") + 4;
  header = g_strndup (text, body - text);
  g_assert_cmpuint (count (header, "Content-Transfer-Encoding:"), ==, 1);
  g_assert_nonnull (strstr (header, "\r\nContent-Transfer-Encoding: quoted-printable\r\n"));
  g_assert_null (strstr (header, "8bit"));
  g_assert_cmpuint (count (header, "MIME-Version:"), ==, 1);
  g_assert_nonnull (strstr (header, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
  g_assert_nonnull (strstr (header, "\r\nX-Cron-Env: <SHELL=/bin/sh>\r\n"));
  g_assert_true (g_str_has_prefix (header, "From: root (Cron Daemon)\r\nTo: root\r\n"));
  {
    g_auto(GStrv) lines = g_strsplit (body, "\r\n", -1);

    for (guint i = 0; lines[i] != NULL; i++)
      g_assert_cmpuint (strlen (lines[i]), <=, 76);
  }
  decoded = decode_qp (body);
  g_assert_cmpstr (decoded, ==, expected_body);
}

/* Without MIME headers the body's character set is a guess: UTF-8 when it is, else RFC 1428's
 * unknown-8bit, never the us-ascii that a missing Content-Type would mean. */
static void
test_seven_bit_charset (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *utf8 = seven_bit_text ("Subject: disk\n\nSecteur d\xc3\xa9" "fectueux\n", &error);
  g_autofree char *latin1 = NULL;

  g_assert_no_error (error);
  assert_wire_safe (utf8);
  g_assert_true (g_str_has_prefix (utf8, "Subject: disk\r\nMIME-Version: 1.0\r\n"
                                         "Content-Type: text/plain; charset=UTF-8\r\n"
                                         "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                                         "Secteur d=C3=A9fectueux\r\n"));
  /* a comment after the encoding ("8bit (utf8)") is no other encoding */
  {
    g_autofree char *commented = seven_bit_text ("Content-Transfer-Encoding: 8bit (utf8)\n\n"
                                                 "d\xc3\xa9" "faut\n", &error);

    g_assert_no_error (error);
    g_assert_true (g_str_has_prefix (commented, "MIME-Version: 1.0\r\n"));
    g_assert_nonnull (strstr (commented, "\r\n\r\nd=C3=A9faut\r\n"));
    g_assert_null (strstr (commented, "8bit"));
  }
  latin1 = seven_bit_text ("Subject: disk\n\nSecteur d\xe9" "fectueux\n", &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (latin1, "\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"));
  g_assert_nonnull (strstr (latin1, "\r\n\r\nSecteur d=E9fectueux\r\n"));
}

/* cron's Subject holds the command it ran, in the user's language: an 8-bit free-text field
 * becomes RFC 2047 encoded-words (as `send` writes its subjects), which decode back to it. */
static void
test_seven_bit_subject (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = seven_bit_text ("From: root (Cron Daemon)\n"
                                          "Subject: Cron <root@box> /usr/local/bin/sauvegarde \xc3\xa9"
                                          "chou\xc3\xa9" "e\n X-Folded: no\n"
                                          "X-Note: d\xc3\xa9j\xc3\xa0 vu\n\n"
                                          "corps\n", &error);
  g_autofree char *subject = NULL;
  g_autofree char *decoded = NULL;
  g_autofree char *note = NULL;

  g_assert_no_error (error);
  assert_wire_safe (text);
  g_assert_true (g_str_has_prefix (text, "From: root (Cron Daemon)\r\nSubject: =?UTF-8?B?"));
  subject = header_value (text, "Subject");
  decoded = decode_encoded_words (subject);
  /* unfolded: the continuation line is part of the subject */
  g_assert_cmpstr (decoded, ==, "Cron <root@box> /usr/local/bin/sauvegarde \xc3\xa9" "chou\xc3\xa9"
                                "e X-Folded: no");
  note = header_value (text, "X-Note");
  g_clear_pointer (&decoded, g_free);
  decoded = decode_encoded_words (note);
  g_assert_cmpstr (decoded, ==, "d\xc3\xa9j\xc3\xa0 vu");
}

/* What cannot be converted without rewriting what the sender wrote is refused, saying why. */
static void
test_seven_bit_refused (void)
{
  static const char * const refused[] = {
    /* an address: encoded-words may not stand there */
    "From: Andr\xc3\xa9 <andre@example.com>\n\nok\n",
    /* free text, but not UTF-8: what it says is unknown */
    "Subject: caf\xe9\n\nok\n",
    "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n\xc3\xa9\n--b--\n",
    "Content-Type: message/rfc822\n\nSubject: x\n\n\xc3\xa9\n",
    "Content-Transfer-Encoding: base64\n\n\xc3\xa9\n",
    /* RFC 5322's obsolete syntax: white space before the colon */
    "Content-Type : multipart/mixed; boundary=b\n\n--b\n\n\xc3\xa9\n--b--\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *text = seven_bit_text (refused[i], &error);

      g_assert_null (text);
      g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DATA);
      g_assert_true (g_str_has_suffix (error->message, "."));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/relay/smtp/message/headers", test_headers);
  g_test_add_func ("/relay/smtp/message/unique-message-ids", test_unique_message_ids);
  g_test_add_func ("/relay/smtp/message/rfc2047", test_rfc2047);
  g_test_add_func ("/relay/smtp/message/ascii-display-name", test_ascii_display_name_quoted);
  g_test_add_func ("/relay/smtp/message/quoted-printable", test_quoted_printable);
  g_test_add_func ("/relay/smtp/message/long-ascii-line", test_long_ascii_line);
  g_test_add_func ("/relay/smtp/message/long-ascii-subject-and-name", test_long_ascii_subject);
  g_test_add_func ("/relay/smtp/message/injection-refused", test_injection_refused);
  g_test_add_func ("/relay/smtp/message/dot-stuffing", test_dot_stuffing);
  g_test_add_func ("/relay/smtp/message/raw", test_raw);
  g_test_add_func ("/relay/smtp/message/seven-bit", test_seven_bit);
  g_test_add_func ("/relay/smtp/message/seven-bit-charset", test_seven_bit_charset);
  g_test_add_func ("/relay/smtp/message/seven-bit-refused", test_seven_bit_refused);
  g_test_add_func ("/relay/smtp/message/seven-bit-subject", test_seven_bit_subject);

  return g_test_run ();
}
