/* test-smtp-reply.c: the reply parser and EHLO capabilities
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "relay-smtp-error.h"
#include "relay-smtp-reply.h"

static RelaySmtpReply *
parse_ok (const char *text,
          gsize      *consumed)
{
  g_autoptr(GError) error = NULL;
  gsize used = 0;
  RelaySmtpReply *reply = relay_smtp_reply_parse ((const guint8 *) text, strlen (text), &used, &error);

  g_assert_no_error (error);
  g_assert_nonnull (reply);
  if (consumed)
    *consumed = used;
  return reply;
}

static void
assert_incomplete (const char *text)
{
  g_autoptr(GError) error = NULL;
  gsize used = 1;
  RelaySmtpReply *reply = relay_smtp_reply_parse ((const guint8 *) text, strlen (text), &used, &error);

  g_assert_no_error (error);
  g_assert_null (reply);
  g_assert_cmpuint (used, ==, 0);
}

static void
assert_malformed_len (const char *text,
                      gsize       length)
{
  g_autoptr(GError) error = NULL;
  gsize used = 0;
  RelaySmtpReply *reply = relay_smtp_reply_parse ((const guint8 *) text, length, &used, &error);

  g_assert_null (reply);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PROTOCOL);
}

static void
assert_malformed (const char *text)
{
  assert_malformed_len (text, strlen (text));
}

static void
test_single_line (void)
{
  gsize used;
  g_autoptr(RelaySmtpReply) reply = parse_ok ("250 2.0.0 Ok: queued as 4F1A\r\n354 next\r\n", &used);
  g_autofree char *display = relay_smtp_reply_to_display (reply);

  g_assert_cmpuint (reply->code, ==, 250);
  g_assert_cmpstr (reply->enhanced, ==, "2.0.0");
  g_assert_cmpstr (reply->lines[0], ==, "2.0.0 Ok: queued as 4F1A");
  g_assert_null (reply->lines[1]);
  g_assert_cmpuint (used, ==, strlen ("250 2.0.0 Ok: queued as 4F1A\r\n"));
  g_assert_cmpstr (display, ==, "250 2.0.0 Ok: queued as 4F1A");
  g_assert_true (relay_smtp_reply_is_positive (reply));
}

static void
test_code_only (void)
{
  g_autoptr(RelaySmtpReply) reply = parse_ok ("220\r\n", NULL);

  g_assert_cmpuint (reply->code, ==, 220);
  g_assert_cmpstr (reply->lines[0], ==, "");
  g_assert_null (reply->enhanced);
}

static void
test_multi_line (void)
{
  g_autoptr(RelaySmtpReply) reply = parse_ok ("250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", NULL);

  g_assert_cmpuint (reply->code, ==, 250);
  g_assert_cmpuint (g_strv_length (reply->lines), ==, 3);
  g_assert_cmpstr (reply->lines[2], ==, "SIZE 1000");
}

static void
test_incomplete (void)
{
  assert_incomplete ("");
  assert_incomplete ("25");
  assert_incomplete ("250 ok");
  assert_incomplete ("250 ok\r");
  assert_incomplete ("250-first\r\n");
  assert_incomplete ("250-first\r\n250 sec");
}

static void
test_malformed (void)
{
  assert_malformed ("25 ok\r\n");
  assert_malformed ("2500 ok\r\n");
  assert_malformed ("abc ok\r\n");
  assert_malformed ("650 ok\r\n");
  assert_malformed ("+OK POP3 ready\r\n");
  assert_malformed ("250_ok\r\n");
  assert_malformed (" 250 ok\r\n");
  /* mismatched codes in one reply */
  assert_malformed ("250-first\r\n251 second\r\n");
  /* bare LF and bare CR */
  assert_malformed ("250 ok\n");
  assert_malformed ("250-a\r\n250 ok\n");
  assert_malformed ("250 o\rk\r\n");
  /* NUL */
  assert_malformed_len ("250 o\0k\r\n", 9);
}

static void
test_enhanced (void)
{
  g_autoptr(RelaySmtpReply) a = parse_ok ("550 5.1.1 <x@example.com>: Recipient address rejected\r\n", NULL);
  g_autoptr(RelaySmtpReply) b = parse_ok ("550 2.1.1 mismatched class\r\n", NULL);
  g_autoptr(RelaySmtpReply) c = parse_ok ("535 5.7.8\r\n", NULL);
  g_autoptr(RelaySmtpReply) d = parse_ok ("250 1.2.3 not a class\r\n", NULL);
  g_autoptr(RelaySmtpReply) e = parse_ok ("451 4.3.1000 too long detail\r\n", NULL);
  g_autoptr(RelaySmtpReply) f = parse_ok ("250 2.0.0x no space\r\n", NULL);

  g_assert_cmpstr (a->enhanced, ==, "5.1.1");
  g_assert_null (b->enhanced);
  g_assert_cmpstr (c->enhanced, ==, "5.7.8");
  g_assert_null (d->enhanced);
  g_assert_null (e->enhanced);
  g_assert_null (f->enhanced);
}

static void
test_endless_line (void)
{
  g_autofree char *line = g_strnfill (RELAY_SMTP_REPLY_MAX_LINE + 10, 'x');
  g_autofree char *reply = g_strconcat ("250 ", line, NULL);

  /* Without any CRLF, the parser must give up instead of asking for more forever. */
  assert_malformed (reply);
  memcpy (reply, "250 ", 4);
  {
    g_autofree char *terminated = g_strconcat (reply, "\r\n", NULL);

    assert_malformed (terminated);
  }
}

static void
test_too_many_lines (void)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < RELAY_SMTP_REPLY_MAX_LINES + 5; i++)
    g_string_append (text, "250-line\r\n");
  assert_malformed (text->str);

  /* Many long lines: bounded by the total size too. */
  g_string_truncate (text, 0);
  for (guint i = 0; i < 40 && text->len <= RELAY_SMTP_REPLY_MAX_TOTAL + 4096; i++)
    {
      g_autofree char *filler = g_strnfill (RELAY_SMTP_REPLY_MAX_LINE - 10, 'y');

      g_string_append_printf (text, "250-%s\r\n", filler);
    }
  assert_malformed (text->str);
}

static void
test_display_sanitised (void)
{
  g_autoptr(RelaySmtpReply) reply = parse_ok ("554 evil\x1b[31m red \xe2\x80\xae" "desrever\t\xff end\r\n", NULL);
  g_autofree char *display = relay_smtp_reply_to_display (reply);

  g_assert_null (strchr (display, '\x1b'));
  g_assert_null (strstr (display, "\xe2\x80\xae"));
  g_assert_null (strchr (display, '\t'));
  g_assert_true (g_utf8_validate (display, -1, NULL));
  g_assert_true (g_str_has_prefix (display, "554 evil"));
}

static void
assert_sanitized (const char *input,
                  const char *expected)
{
  g_autofree char *clean = relay_smtp_sanitize_text (input, -1);

  g_assert_cmpstr (clean, ==, expected);
}

static void
test_capabilities_empty_lines (void)
{
  /* empty keyword lines are skipped, not read as a NULL keyword */
  g_autoptr(RelaySmtpReply) reply = parse_ok ("250-mx\r\n250-\r\n250- \r\n250 STARTTLS\r\n", NULL);
  RelaySmtpCapabilities caps = { 0 };

  relay_smtp_capabilities_parse (reply, &caps);
  g_assert_true (caps.starttls);
  g_assert_false (caps.auth);
  relay_smtp_capabilities_clear (&caps);
}

static void
test_sanitize_text (void)
{
  g_autofree char *long_text = g_strnfill (5000, 'x');
  g_autofree char *clean = relay_smtp_sanitize_text (long_text, -1);

  /* terminal escapes go as a whole: colour (CSI), window title (OSC with BEL or ST), C1 CSI */
  assert_sanitized ("a\x1b[1;31mred\x1b[0m b", "ared b");
  assert_sanitized ("\x1b]0;pwned\x07title", "title");
  assert_sanitized ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link");
  assert_sanitized ("x\xc2\x9b" "2Jy", "xy");
  assert_sanitized ("cut\x1b[", "cut");
  /* markup is text: the UI shows it in plain labels, so it must stay literal, not vanish */
  assert_sanitized ("550 <b>bold</b> &amp; <a href='x'>", "550 <b>bold</b> &amp; <a href='x'>");
  /* bidi overrides, isolates, marks and a BOM: Trojan Source */
  assert_sanitized ("abc\xe2\x80\xae" "fed\xe2\x81\xa6" "x\xe2\x81\xa9\xe2\x80\x8f\xef\xbb\xbf", "abcfedx");
  /* C0 and C1 controls, DEL, NUL-free invalid UTF-8 */
  assert_sanitized ("a\x01\x7f\xc2\x85" "b\rc\nd", "abcd");
  assert_sanitized ("tab\there", "tab here");
  g_assert_true (g_utf8_validate (clean, -1, NULL));
  g_assert_cmpuint (g_utf8_strlen (clean, -1), <=, 601);
  g_assert_true (g_str_has_suffix (clean, "…"));
  clean = (g_free (clean), relay_smtp_sanitize_text ("bad \xff\xfe utf8", -1));
  g_assert_true (g_utf8_validate (clean, -1, NULL));
  g_assert_true (g_str_has_prefix (clean, "bad "));
}

static void
test_capabilities (void)
{
  g_autoptr(RelaySmtpReply) reply = parse_ok ("250-mx.example.com Hello\r\n"
                                              "250-SIZE 35882577\r\n"
                                              "250-8BITMIME\r\n"
                                              "250-pipelining\r\n"
                                              "250-AUTH LOGIN PLAIN XOAUTH2\r\n"
                                              "250-AUTH=CRAM-MD5\r\n"
                                              "250-ENHANCEDSTATUSCODES\r\n"
                                              "250-SMTPUTF8\r\n"
                                              "250-CHUNKING\r\n"
                                              "250 STARTTLS\r\n", NULL);
  RelaySmtpCapabilities caps = { 0 };

  relay_smtp_capabilities_parse (reply, &caps);
  g_assert_true (caps.esmtp);
  g_assert_true (caps.size);
  g_assert_cmpuint (caps.size_limit, ==, 35882577);
  g_assert_true (caps.eightbitmime);
  g_assert_true (caps.pipelining);
  g_assert_true (caps.auth);
  g_assert_cmpint (caps.auth_mechs, ==, RELAY_SMTP_AUTH_LOGIN | RELAY_SMTP_AUTH_PLAIN | RELAY_SMTP_AUTH_CRAM_MD5);
  g_assert_nonnull (strstr (caps.auth_offered, "XOAUTH2"));
  g_assert_true (caps.enhanced_status_codes);
  g_assert_true (caps.smtputf8);
  g_assert_true (caps.chunking);
  g_assert_true (caps.starttls);
  relay_smtp_capabilities_clear (&caps);
}

static void
test_capabilities_minimal (void)
{
  /* The greeting line is never a keyword, even when it looks like one. */
  g_autoptr(RelaySmtpReply) reply = parse_ok ("250-STARTTLS\r\n250 SIZE x\r\n", NULL);
  RelaySmtpCapabilities caps = { 0 };

  relay_smtp_capabilities_parse (reply, &caps);
  g_assert_false (caps.starttls);
  g_assert_true (caps.size);
  g_assert_cmpuint (caps.size_limit, ==, 0);
  g_assert_false (caps.auth);
  g_assert_cmpint (caps.auth_mechs, ==, 0);
  relay_smtp_capabilities_clear (&caps);
}

/* Random input never crashes the parser, and a reply it returns always fits the limits. */
static void
test_random_input (void)
{
  static const char alphabet[] = "2345 -\r\n\0x.";

  for (guint round = 0; round < 20000; round++)
    {
      guint8 data[256];
      gsize length = g_test_rand_int_range (0, sizeof data);
      g_autoptr(GError) error = NULL;
      g_autoptr(RelaySmtpReply) reply = NULL;
      gsize consumed = 0;

      for (gsize i = 0; i < length; i++)
        data[i] = g_test_rand_bit () ? alphabet[g_test_rand_int_range (0, sizeof alphabet - 1)]
                                     : (guint8) g_test_rand_int_range (0, 256);
      reply = relay_smtp_reply_parse (data, length, &consumed, &error);
      if (reply != NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (consumed, <=, length);
          g_assert_cmpuint (reply->code, >=, 200);
          g_assert_cmpuint (reply->code, <=, 559);
          g_assert_nonnull (reply->lines[0]);
        }
      else if (error != NULL)
        g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PROTOCOL);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/relay/smtp/reply/single-line", test_single_line);
  g_test_add_func ("/relay/smtp/reply/code-only", test_code_only);
  g_test_add_func ("/relay/smtp/reply/multi-line", test_multi_line);
  g_test_add_func ("/relay/smtp/reply/incomplete", test_incomplete);
  g_test_add_func ("/relay/smtp/reply/malformed", test_malformed);
  g_test_add_func ("/relay/smtp/reply/enhanced", test_enhanced);
  g_test_add_func ("/relay/smtp/reply/endless-line", test_endless_line);
  g_test_add_func ("/relay/smtp/reply/too-many-lines", test_too_many_lines);
  g_test_add_func ("/relay/smtp/reply/display-sanitised", test_display_sanitised);
  g_test_add_func ("/relay/smtp/reply/sanitize-text", test_sanitize_text);
  g_test_add_func ("/relay/smtp/reply/capabilities-empty-lines", test_capabilities_empty_lines);
  g_test_add_func ("/relay/smtp/reply/capabilities", test_capabilities);
  g_test_add_func ("/relay/smtp/reply/capabilities-minimal", test_capabilities_minimal);
  g_test_add_func ("/relay/smtp/reply/random-input", test_random_input);

  return g_test_run ();
}
