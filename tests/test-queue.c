/* test-queue.c: the on-disk queue: what is written, with which modes, and what counts as
 * temporary (the end-to-end flushes are in test-cli-send.py)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "relay-queue.h"
#include "relay-smtp-error.h"

static void
test_add_and_list (void)
{
  const char * const to[] = { "ops@example.org", "b@example.org", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autofree char *id = NULL;
  g_autofree char *directory = relay_queue_get_directory ();
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  RelayQueueEntry *entry;
  struct stat st;

  g_assert_cmpuint (relay_queue_count (), ==, 0);
  message = relay_smtp_message_new ("alerts@example.com", NULL, to, "Subject", "Body\n", &error);
  g_assert_no_error (error);
  relay_queue_add (message, "Relay down:\nreally", &id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  g_assert_cmpuint (relay_queue_count (), ==, 1);

  name = g_strconcat (id, ".msg", NULL);
  path = g_build_filename (directory, name, NULL);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpint (g_stat (directory, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (contents, "SMTP-Relay-Queue: 1\n"));
  g_assert_nonnull (strstr (contents, "\nLast-Error: Relay down: really\n\n"));
  g_assert_true (g_str_has_suffix (contents, "\r\n\r\nBody\r\n"));

  entries = relay_queue_list (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 1);
  entry = entries->pdata[0];
  g_assert_cmpstr (entry->id, ==, id);
  g_assert_cmpstr (entry->sender, ==, "alerts@example.com");
  g_assert_cmpstr (entry->recipients[0], ==, "ops@example.org");
  g_assert_cmpstr (entry->recipients[1], ==, "b@example.org");
  g_assert_null (entry->recipients[2]);
  g_assert_cmpuint (entry->attempts, ==, 0);
  g_assert_cmpstr (entry->last_error, ==, "Relay down: really");
  g_assert_cmpint (ABS (entry->queued_at - g_get_real_time () / G_USEC_PER_SEC), <, 60);

  /* Temporary files of an interrupted write are not entries. */
  {
    g_autofree char *tmp = g_strconcat (path, ".ABC123", NULL);

    g_file_set_contents (tmp, "half", -1, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (relay_queue_count (), ==, 1);
    g_unlink (tmp);
  }
  g_unlink (path);
  g_assert_cmpuint (relay_queue_count (), ==, 0);
}

static void
test_temporary (void)
{
  static const struct
  {
    RelaySmtpError code;
    guint          reply;
    gboolean       temporary;
  } cases[] = {
    { RELAY_SMTP_ERROR_REFUSED, 0, TRUE },
    { RELAY_SMTP_ERROR_UNREACHABLE, 0, TRUE },
    { RELAY_SMTP_ERROR_DNS_FAILURE, 0, TRUE },
    { RELAY_SMTP_ERROR_TIMEOUT, 250, TRUE },
    { RELAY_SMTP_ERROR_CLOSED, 354, TRUE },
    { RELAY_SMTP_ERROR_RECIPIENT, 451, TRUE },
    { RELAY_SMTP_ERROR_GREETING, 421, TRUE },
    { RELAY_SMTP_ERROR_RECIPIENT, 550, FALSE },
    { RELAY_SMTP_ERROR_DATA, 554, FALSE },
    { RELAY_SMTP_ERROR_AUTH, 535, FALSE },
    { RELAY_SMTP_ERROR_RESOLVE, 0, FALSE },
    { RELAY_SMTP_ERROR_CERTIFICATE, 220, FALSE },
    { RELAY_SMTP_ERROR_INVALID_INPUT, 0, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = g_error_new_literal (RELAY_SMTP_ERROR, cases[i].code, "x");

      g_assert_cmpint (relay_queue_is_temporary_failure (error, cases[i].reply), ==,
                       cases[i].temporary);
    }
  {
    g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x");

    g_assert_false (relay_queue_is_temporary_failure (error, 451));
    g_assert_false (relay_queue_is_temporary_failure (NULL, 451));
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/relay/queue/add-and-list", test_add_and_list);
  g_test_add_func ("/relay/queue/temporary", test_temporary);
  return g_test_run ();
}
