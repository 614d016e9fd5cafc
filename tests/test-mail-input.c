/* test-mail-input.c: what `smtp-relay sendmail` makes of a message on standard input
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "relay-mail-input.h"
#include "relay-smtp-error.h"

static void
assert_addresses (const char *value,
                  const char *expected)
{
  g_autoptr(GPtrArray) list = relay_mail_parse_address_list (value);
  g_autoptr(GString) joined = g_string_new (NULL);

  for (guint i = 0; i < list->len; i++)
    g_string_append_printf (joined, "%s%s", i > 0 ? "|" : "", (char *) list->pdata[i]);
  g_assert_cmpstr (joined->str, ==, expected);
}

static void
test_address_list (void)
{
  assert_addresses ("a@example.org", "a@example.org");
  assert_addresses (" a@example.org , b@example.org ", "a@example.org|b@example.org");
  assert_addresses ("\"Ops, Team\" <ops@example.org>, Zoë <z@example.org>",
                    "ops@example.org|z@example.org");
  assert_addresses ("Team: a@example.org, \"B\" <b@example.org>;, c@example.org",
                    "a@example.org|b@example.org|c@example.org");
  assert_addresses ("undisclosed-recipients:;", "");
  assert_addresses ("c@example.org (the boss)", "c@example.org");
  assert_addresses ("(comment, with comma) <d@example.org>", "d@example.org");
  assert_addresses ("\"a,b\"@example.org", "\"a,b\"@example.org");
  assert_addresses ("<@relay.example:e@example.org>", "e@example.org");
  assert_addresses ("f@[192.0.2.1]", "f@[192.0.2.1]");
  assert_addresses ("John Smith", "John Smith");
  assert_addresses ("", "");
}

static RelayMailInput *
parse (const char           *text,
       RelayMailInputFlags   flags,
       GError              **error)
{
  g_autoptr(GBytes) raw = g_bytes_new (text, strlen (text));
  g_autoptr(GDateTime) now = g_date_time_new_utc (2026, 1, 2, 3, 4, 5);

  return relay_mail_input_parse (raw, flags, "alerts@example.com", "Relay", now, error);
}

static const char *
data_of (RelayMailInput *input)
{
  return g_bytes_get_data (input->data, NULL);
}

static void
test_headers (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayMailInput) input = NULL;
  const char *data;

  input = parse ("From: Author <author@example.net>\n"
                 "To: a@example.org,\n"
                 "\tb@example.org\r\n"
                 "Bcc: secret@example.org,\n"
                 " other-secret@example.org\n"
                 "Cc: A@example.org\n"
                 "Subject: x\n"
                 "\n"
                 "body\rline\n", RELAY_MAIL_INPUT_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (input->from_address, ==, "author@example.net");
  g_assert_cmpuint (input->recipients->len, ==, 4);   /* A@ repeats a@ */
  g_assert_cmpstr (input->recipients->pdata[2], ==, "secret@example.org");
  g_assert_cmpstr (input->recipients->pdata[3], ==, "other-secret@example.org");
  data = data_of (input);
  g_assert_null (strstr (data, "secret"));
  g_assert_true (g_str_has_prefix (data, "From: Author <author@example.net>\r\n"
                                         "To: a@example.org,\r\n\tb@example.org\r\n"
                                         "Cc: A@example.org\r\nSubject: x\r\n"
                                         "Date: Fri, 02 Jan 2026 03:04:05 +0000\r\n"
                                         "Message-ID: <"));
  g_assert_true (g_str_has_suffix (data, "@example.net>\r\n\r\nbody\r\nline\r\n"));
}

static void
test_added_from_and_kept_date (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayMailInput) input = NULL;

  input = parse ("Subject: x\nDate: Thu, 1 Jan 2026 00:00:00 +0000\nMessage-ID: <a@b>\n",
                 RELAY_MAIL_INPUT_NONE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (input->from_address, ==, "alerts@example.com");
  g_assert_cmpstr (data_of (input), ==,
                   "Subject: x\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <a@b>\r\n"
                   "From: \"Relay\" <alerts@example.com>\r\n\r\n");
}

/* A From that names only a local user (cron's "root (Cron Daemon)") would be refused by strict
 * servers: it becomes the sender, keeping the name the message gave. A real From stays. */
static void
test_local_from (void)
{
  static const struct { const char *from; const char *expected; } cases[] = {
    { "root (Cron Daemon)", "From: \"Cron Daemon\" <alerts@example.com>\r\n" },
    { "\"Backup \\\"nightly\\\"\" <backup>", "From: \"Backup \\\"nightly\\\"\" <alerts@example.com>\r\n" },
    { "Disk Health <smartd>", "From: \"Disk Health\" <alerts@example.com>\r\n" },
    { "root", "From: \"Relay\" <alerts@example.com>\r\n" },          /* -F's name */
    { "root (=?UTF-8?B?w6k=?=)", "From: \"Relay\" <alerts@example.com>\r\n" },
    { "Author <author@example.net>", "From: Author <author@example.net>\r\n" },
    { "Two <root>, <www-data>", "From: Two <root>, <www-data>\r\n" },   /* not one mailbox */
    /* a local user at this machine, as fail2ban, mdadm and mailutils write it */
    { "root@localhost", "From: \"Relay\" <alerts@example.com>\r\n" },
    { "mdadm monitoring <root@localhost>", "From: \"mdadm monitoring\" <alerts@example.com>\r\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelayMailInput) input = NULL;
      g_autofree char *text = g_strdup_printf ("From: %s\nTo: root\nSubject: x\n\nb\n",
                                               cases[i].from);
      gboolean replaced = strstr (cases[i].expected, "alerts@example.com") != NULL;

      g_test_message ("%s", cases[i].from);
      input = parse (text, RELAY_MAIL_INPUT_NONE, &error);
      g_assert_no_error (error);
      g_assert_true (g_str_has_prefix (data_of (input), cases[i].expected));
      g_assert_cmpint (input->from_replaced, ==, replaced);
      if (replaced)
        g_assert_cmpstr (input->from_address, ==, "alerts@example.com");
      /* Only one From, and the rest of the header as it was. */
      g_assert_null (strstr (data_of (input) + 5, "From:"));
      g_assert_nonnull (strstr (data_of (input), "\r\nTo: root\r\nSubject: x\r\n"));
    }

  /* With no sender to use, it is left alone: the server decides. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) raw = g_bytes_new_static ("From: root\n\nb\n", 14);
    g_autoptr(RelayMailInput) input = relay_mail_input_parse (raw, RELAY_MAIL_INPUT_NONE,
                                                              NULL, "Relay", NULL, &error);

    g_assert_no_error (error);
    g_assert_true (g_str_has_prefix (data_of (input), "From: root\r\n"));
    g_assert_false (input->from_replaced);
    g_assert_cmpstr (input->from_address, ==, "root");
  }
}

static void
test_dot_terminator (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayMailInput) stopped = NULL;
  g_autoptr(RelayMailInput) kept = NULL;
  const char *text = "Subject: x\nDate: d\nMessage-ID: <a@b>\nFrom: f@example.org\n\n.a\n.\nrest\n";

  stopped = parse (text, RELAY_MAIL_INPUT_STOP_AT_DOT, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (data_of (stopped), "\r\n\r\n.a\r\n"));
  kept = parse (text, RELAY_MAIL_INPUT_NONE, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (data_of (kept), "\r\n\r\n.a\r\n.\r\nrest\r\n"));
}

static void
test_mbox_from_line (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayMailInput) input = NULL;

  input = parse ("From someone Thu Jan  1 00:00:00 2026\nSubject: x\n\nb\n",
                 RELAY_MAIL_INPUT_NONE, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (data_of (input), "Subject: x\r\n"));
}

/* What a script pipes in without a header ("echo failed | sendmail root"), or with a line that
 * is no header field, is sent, as sendmail and Postfix send it: the header ends there, and that
 * line begins the body. Refusing would lose the alert. */
static void
test_body_without_header (void)
{
  static const struct { const char *text; const char *header; const char *body; } cases[] = {
    { "Backup of /srv failed\n", "", "Backup of /srv failed\r\n" },
    { "Subject: x\nbody without separator\n", "Subject: x\r\n", "body without separator\r\n" },
    { " continuation first\n\nx\n", "", " continuation first\r\n\r\nx\r\n" },
    { ": no name\n\nx\n", "", ": no name\r\n\r\nx\r\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelayMailInput) input = parse (cases[i].text, RELAY_MAIL_INPUT_NONE, &error);
      const char *data;

      g_test_message ("%s", cases[i].text);
      g_assert_no_error (error);
      data = data_of (input);
      g_assert_true (g_str_has_prefix (data, cases[i].header));
      g_assert_true (strstr (data, "\r\nFrom: \"Relay\" <alerts@example.com>\r\n") != NULL ||
                     g_str_has_prefix (data, "From: \"Relay\" <alerts@example.com>\r\n"));
      g_assert_true (g_str_has_suffix (data, cases[i].body));
      /* one empty line between the header (with its added fields) and the body */
      g_assert_nonnull (strstr (data, "\r\n\r\n"));
      g_assert_true (strstr (data, "\r\n\r\n") < strstr (data, cases[i].body));
    }
}

/* RFC 5322's obsolete syntax, which Postfix accepts: white space before the colon is still a
 * header field (not the start of the body), and "To :" still names a recipient with -t. */
static void
test_obsolete_field_syntax (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayMailInput) input =
    parse ("Date: Sun, 29 Nov 2026 20:00:00 +0000\nTo : ops@example.org\nSubject\t: x\n"
           "Content-Type : text/plain; charset=UTF-8\n\nbody\n", RELAY_MAIL_INPUT_NONE, &error);
  const char *data;

  g_assert_no_error (error);
  data = data_of (input);
  g_assert_true (g_str_has_prefix (data, "Date: Sun, 29 Nov 2026 20:00:00 +0000\r\n"
                                         "To : ops@example.org\r\nSubject\t: x\r\n"
                                         "Content-Type : text/plain; charset=UTF-8\r\n"));
  g_assert_true (g_str_has_suffix (data, "\r\n\r\nbody\r\n"));
  g_assert_cmpuint (input->recipients->len, ==, 1);
  g_assert_cmpstr (input->recipients->pdata[0], ==, "ops@example.org");

  /* ...but not on the first line: "Erreur : disque plein" there is a body without header */
  {
    g_autoptr(RelayMailInput) french = parse ("Erreur : disque plein\n", RELAY_MAIL_INPUT_NONE,
                                              &error);

    g_assert_no_error (error);
    g_assert_nonnull (strstr (data_of (french), "\r\n\r\nErreur : disque plein\r\n"));
  }
}

/* cron mails what a command prints: a body line longer than SMTP allows is broken into lines
 * that fit (not inside a UTF-8 character), and a NUL byte is sent as a space. */
static void
test_long_lines_and_nul (void)
{
  g_autoptr(GString) text = g_string_new ("Subject: x\n\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayMailInput) input = NULL;
  g_autoptr(GBytes) raw = NULL;
  const char *data;
  gsize length;

  for (guint i = 0; i < 997; i++)
    g_string_append_c (text, 'a');
  g_string_append (text, "\xc3\xa9");    /* "é" across octets 998 and 999 */
  for (guint i = 0; i < 1500; i++)
    g_string_append_c (text, 'b');
  g_string_append (text, "\nend\n");
  raw = g_bytes_new (text->str, text->len);
  input = relay_mail_input_parse (raw, RELAY_MAIL_INPUT_NONE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (input->data, &length);
  for (const char *line = data, *end; (end = g_strstr_len (line, data + length - line, "\r\n")) != NULL;
       line = end + 2)
    g_assert_cmpint (end - line, <=, 998);
  g_assert_true (g_utf8_validate (data, length, NULL));
  g_assert_nonnull (strstr (data, "aaa\r\n\xc3\xa9" "bbb"));
  g_assert_true (g_str_has_suffix (data, "b\r\nend\r\n"));
  g_assert_false (input->nul_replaced);
  g_clear_pointer (&input, relay_mail_input_free);
  g_clear_pointer (&raw, g_bytes_unref);

  raw = g_bytes_new ("Subject: x\n\na\0b\n", 15);
  input = relay_mail_input_parse (raw, RELAY_MAIL_INPUT_NONE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (input->nul_replaced);
  g_assert_true (g_str_has_suffix (data_of (input), "\r\n\r\na b\r\n"));
}

static void
test_refused (void)
{
  const char *bad[] = { "" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(RelayMailInput) input = parse (bad[i], RELAY_MAIL_INPUT_NONE, &error);

      g_assert_null (input);
      g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT);
    }

  {
    /* A header line longer than SMTP allows cannot be broken without changing the field. */
    g_autoptr(GError) error = NULL;
    g_autoptr(GString) text = g_string_new ("Subject: ");
    g_autoptr(GBytes) raw = NULL;
    g_autoptr(RelayMailInput) input = NULL;

    while (text->len < 998)
      g_string_append_c (text, 'a');
    g_string_append (text, "\n\nbody\n");
    raw = g_bytes_new (text->str, text->len);
    input = relay_mail_input_parse (raw, RELAY_MAIL_INPUT_NONE, NULL, NULL, NULL, &error);
    g_assert_no_error (error);   /* 998 is allowed */
    g_clear_pointer (&input, relay_mail_input_free);
    g_clear_pointer (&raw, g_bytes_unref);

    g_string_insert_c (text, 10, 'a');
    raw = g_bytes_new (text->str, text->len);
    input = relay_mail_input_parse (raw, RELAY_MAIL_INPUT_NONE, NULL, NULL, NULL, &error);
    g_assert_null (input);
    g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/relay/mail-input/address-list", test_address_list);
  g_test_add_func ("/relay/mail-input/headers", test_headers);
  g_test_add_func ("/relay/mail-input/added-from", test_added_from_and_kept_date);
  g_test_add_func ("/relay/mail-input/local-from", test_local_from);
  g_test_add_func ("/relay/mail-input/dot-terminator", test_dot_terminator);
  g_test_add_func ("/relay/mail-input/mbox-from-line", test_mbox_from_line);
  g_test_add_func ("/relay/mail-input/refused", test_refused);
  g_test_add_func ("/relay/mail-input/body-without-header", test_body_without_header);
  g_test_add_func ("/relay/mail-input/long-lines-and-nul", test_long_lines_and_nul);
  g_test_add_func ("/relay/mail-input/obsolete-field-syntax", test_obsolete_field_syntax);
  return g_test_run ();
}
