/* test-queue.c: the on-disk queue: what is written, with which modes, what counts as
 * temporary, and that a flush does its file work off the caller's thread (the end-to-end
 * flushes of the command line are in test-cli-send.py)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <dlfcn.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "relay-queue.h"
#include "relay-smtp-error.h"
#include "smtp-test-helpers.h"

/* The calls that stall on a slow home folder, counted by the thread that makes them. The
 * executable's definitions come before libc's for every library, GLib's included; each then
 * calls the real one. */
static int calls_on_main, calls_elsewhere;

static void
count_call (void)
{
  if (syscall (SYS_gettid) == getpid ())
    g_atomic_int_inc (&calls_on_main);
  else
    g_atomic_int_inc (&calls_elsewhere);
}

int
fsync (int fd)
{
  static int (*real) (int);

  if (real == NULL)
    real = (int (*) (int)) dlsym (RTLD_NEXT, "fsync");
  count_call ();
  return real (fd);
}

/* Set by a test: the file system answers as a read-only or unreadable one would. The tests run
 * as root in CI, for whom permission bits change nothing. */
static int unlink_errno, access_errno, opendir_errno;

int
unlink (const char *path)
{
  static int (*real) (const char *);

  if (real == NULL)
    real = (int (*) (const char *)) dlsym (RTLD_NEXT, "unlink");
  count_call ();
  if (unlink_errno != 0 && g_str_has_suffix (path, ".msg"))
    {
      errno = unlink_errno;
      return -1;
    }
  return real (path);
}

int
access (const char *path,
        int         mode)
{
  static int (*real) (const char *, int);

  if (real == NULL)
    real = (int (*) (const char *, int)) dlsym (RTLD_NEXT, "access");
  if (access_errno != 0 && (mode & W_OK) != 0)
    {
      errno = access_errno;
      return -1;
    }
  return real (path, mode);
}

int
rename (const char *from,
        const char *to)
{
  static int (*real) (const char *, const char *);

  if (real == NULL)
    real = (int (*) (const char *, const char *)) dlsym (RTLD_NEXT, "rename");
  count_call ();
  return real (from, to);
}

DIR *
opendir (const char *path)
{
  static DIR *(*real) (const char *);

  if (real == NULL)
    real = (DIR *(*) (const char *)) dlsym (RTLD_NEXT, "opendir");
  count_call ();
  if (opendir_errno != 0)
    {
      errno = opendir_errno;
      return NULL;
    }
  return real (path);
}

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

  g_assert_cmpuint (relay_queue_count (NULL), ==, 0);
  message = relay_smtp_message_new ("alerts@example.com", NULL, to, "Subject", "Body\n", &error);
  g_assert_no_error (error);
  relay_queue_add (message, "Relay down:\nreally", &id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  g_assert_cmpuint (relay_queue_count (NULL), ==, 1);

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
    g_assert_cmpuint (relay_queue_count (NULL), ==, 1);
    g_unlink (tmp);
  }
  g_unlink (path);
  g_assert_cmpuint (relay_queue_count (NULL), ==, 0);
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

typedef struct
{
  gboolean done;
  gboolean ok;
  guint    sent, waiting, failed;
  GError  *error;
  char    *last_failure;   /* relay_queue_flush_get_last_failure() */
} Flushed;

static void
flushed_clear (Flushed *flushed)
{
  g_clear_error (&flushed->error);
  g_clear_pointer (&flushed->last_failure, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Flushed, flushed_clear)

static void
on_flushed_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Flushed *flushed = user_data;

  flushed->ok = relay_queue_flush_finish (result, &flushed->sent, &flushed->waiting,
                                          &flushed->failed, &flushed->error);
  flushed->last_failure = g_strdup (relay_queue_flush_get_last_failure (result));
  flushed->done = TRUE;
}

/* Flushes the queue through a server that runs @script for each message, and checks that
 * the caller's thread made none of the slow file calls meanwhile. @server_out, if given, gets
 * the server, to look at what it received. */
static void
flush_through (GSettings          *settings,
               const char * const *script,
               Flushed            *flushed,
               ScriptServer      **server_out)
{
  g_autoptr(ScriptServer) server = script_server_new (script);

  g_settings_set (settings, "port", "q", script_server_get_port (server));
  g_atomic_int_set (&calls_on_main, 0);
  g_atomic_int_set (&calls_elsewhere, 0);
  flushed_clear (flushed);
  memset (flushed, 0, sizeof *flushed);
  relay_queue_flush_async (settings, NULL, on_flushed_cb, flushed);
  while (!flushed->done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (g_atomic_int_get (&calls_on_main), ==, 0);
  /* Each delivery, rewrite or move syncs the directory: the calls were made, elsewhere. */
  g_assert_cmpint (g_atomic_int_get (&calls_elsewhere), >, 0);
  if (server_out != NULL)
    *server_out = g_steal_pointer (&server);
}

static void
queue_alert (const char *subject)
{
  const char * const to[] = { "oncall@example.org", NULL };
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = relay_smtp_message_new ("alerts@example.com", NULL, to, subject, "Body\n", &error);
  g_assert_no_error (error);
  g_assert_true (relay_queue_add (message, "the relay did not answer", NULL, &error));
  g_assert_no_error (error);
}

static void
use_script_server_settings (GSettings *settings)
{
  g_settings_set_string (settings, "server", "127.0.0.1");
  g_settings_set_string (settings, "security", "none");
  g_settings_set_string (settings, "sender", "alerts@example.com");
}

/* Queues one alert per subject, a second apart: ids sort by the second they were queued in. */
static void
queue_in_order (const char **subjects,
                guint        n)
{
  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_usleep (1100000);
      queue_alert (subjects[i]);
    }
}

static void
assert_sent_in_order (ScriptServer  *server,
                      const char   **subjects,
                      guint          n)
{
  const char *data = script_server_get_data (server);

  for (guint i = 0; i < n; i++)
    g_assert_nonnull (strstr (data, subjects[i]));
  for (guint i = 1; i < n; i++)
    g_assert_true (strstr (data, subjects[i - 1]) < strstr (data, subjects[i]));
}

/* A relay that takes @n pipelined messages on one session: a flush sends all but the last
 * without QUIT. */
static GPtrArray *
accept_script (guint n)
{
  GPtrArray *script = g_ptr_array_new ();

  g_ptr_array_add (script, (char *) "> 220 relay.example.test ESMTP\r\n");
  g_ptr_array_add (script, (char *) "< EHLO");
  g_ptr_array_add (script, (char *) "> 250-relay.example.test\r\n250 PIPELINING\r\n");
  for (guint i = 0; i < n; i++)
    {
      g_ptr_array_add (script, (char *) "<< 3");
      g_ptr_array_add (script, (char *) "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n");
      g_ptr_array_add (script, (char *) "data");
      g_ptr_array_add (script, (char *) "> 250 2.0.0 Ok: queued\r\n");
    }
  g_ptr_array_add (script, (char *) "< QUIT");
  g_ptr_array_add (script, (char *) "> 221 2.0.0 Bye\r\n");
  g_ptr_array_add (script, NULL);
  return script;
}

/* The window flushes on its UI thread: listing, claiming, reading, rewriting, unlinking and
 * fsync()ing entries happen in workers, for each outcome (kept, refused, delivered). */
static void
test_flush_off_main_thread (void)
{
  const char * const later[] = {
    "> 220 relay.example.test ESMTP\r\n",
    "< EHLO",
    "> 250-relay.example.test\r\n250 PIPELINING\r\n",
    "<< 3",
    "> 250 2.1.0 Ok\r\n451 4.3.0 Try again later\r\n503 5.5.1 No recipients\r\n",
    /* the next entry on the same session, after an RSET */
    "< RSET", "<< 3",
    "> 250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n451 4.3.0 Try again later\r\n503 5.5.1 No recipients\r\n",
    NULL
  };
  const char * const refused[] = {
    "> 220 relay.example.test ESMTP\r\n",
    "< EHLO",
    "> 250-relay.example.test\r\n250 PIPELINING\r\n",
    "<< 3",
    "> 250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n503 5.5.1 No recipients\r\n",
    "< RSET", "<< 3",
    "> 250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n503 5.5.1 No recipients\r\n",
    "< RSET", "<< 3",
    "> 250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n503 5.5.1 No recipients\r\n",
    NULL
  };
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(GPtrArray) accepted = accept_script (2);
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) failed = NULL;
  g_autofree char *failed_dir = relay_queue_get_failed_directory ();
  g_autoptr(GError) error = NULL;
  g_auto(Flushed) flushed = { 0 };

  use_script_server_settings (settings);
  queue_alert ("Disk /dev/sda failing");
  queue_alert ("Backup failed");

  /* 451: both stay, their attempts and last error brought up to date. */
  flush_through (settings, later, &flushed, NULL);
  g_assert_no_error (flushed.error);
  g_assert_true (flushed.ok);
  g_assert_cmpuint (flushed.sent, ==, 0);
  g_assert_cmpuint (flushed.waiting, ==, 2);
  entries = relay_queue_list (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 2);
  for (guint i = 0; i < entries->len; i++)
    {
      RelayQueueEntry *entry = entries->pdata[i];

      g_assert_cmpuint (entry->attempts, ==, 1);
      g_assert_nonnull (strstr (entry->last_error, "451"));
    }

  /* 550: refused for good, moved out of the queue for a person to read. */
  queue_alert ("Firewall rule changed");
  g_clear_pointer (&entries, g_ptr_array_unref);
  flush_through (settings, refused, &flushed, NULL);
  g_assert_cmpuint (flushed.failed, ==, 3);
  g_assert_cmpuint (relay_queue_count (NULL), ==, 0);
  failed = relay_queue_list (failed_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (failed->len, ==, 3);

  /* 250: delivered and gone. */
  queue_alert ("Disk /dev/sdb failing");
  queue_alert ("Certificate expires in 7 days");
  flush_through (settings, (const char * const *) accepted->pdata, &flushed, NULL);
  g_assert_no_error (flushed.error);
  g_assert_cmpuint (flushed.sent, ==, 2);
  g_assert_cmpuint (flushed.waiting, ==, 0);
  g_assert_cmpuint (relay_queue_count (NULL), ==, 0);
}

static void
on_counted_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  guint *count = user_data;
  g_autoptr(GError) error = NULL;

  *count = relay_queue_count_finish (result, &error);
  g_assert_no_error (error);
}

/* The window's "N messages waiting" reads the directory in a worker too. */
static void
test_count_async (void)
{
  guint count = G_MAXUINT;

  queue_alert ("Disk /dev/sdc failing");
  g_atomic_int_set (&calls_on_main, 0);
  g_atomic_int_set (&calls_elsewhere, 0);
  relay_queue_count_async (NULL, on_counted_cb, &count);
  while (count == G_MAXUINT)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (count, ==, relay_queue_count (NULL));
  g_assert_cmpuint (count, >=, 1);
  g_assert_cmpint (g_atomic_int_get (&calls_elsewhere), ==, 1);
}

/* A flush delivers the oldest message first: alerts arrive in the order they were raised. All
 * go on one session: connecting, securing and logging in once, not once per message. */
static void
test_flush_oldest_first (void)
{
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(GPtrArray) script = accept_script (4);
  g_autoptr(ScriptServer) server = NULL;
  const char *subjects[] = { "Alert one", "Alert two", "Alert three", "Alert four" };
  g_auto(Flushed) flushed = { 0 };

  use_script_server_settings (settings);
  queue_in_order (subjects, G_N_ELEMENTS (subjects));
  flush_through (settings, (const char * const *) script->pdata, &flushed, &server);
  g_assert_cmpuint (flushed.sent, ==, G_N_ELEMENTS (subjects));
  script_server_wait (server);
  g_assert_cmpstr (script_server_get_failure (server), ==, NULL);
  g_assert_cmpuint (script_server_get_connections (server), ==, 1);

  assert_sent_in_order (server, subjects, G_N_ELEMENTS (subjects));
}

/* An entry that the relay refuses, after its content (a content filter's 554), at its
 * recipient (greylisting's 451) or for now after its content (452, out of storage), ends its
 * transaction, not the session: the next entries go on the same connection, each after an
 * RSET in its own flight. */
static void
test_flush_refused_keeps_session (void)
{
  const char * const script[] = {
    "> 220 relay.example.test ESMTP\r\n",
    "< EHLO",
    "> 250-relay.example.test\r\n250 PIPELINING\r\n",
    "<< 3", "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
    "data", "> 250 2.0.0 Ok: queued\r\n",
    "<< 3", "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
    "data", "> 554 5.7.1 Rejected by the content filter\r\n",
    "< RSET", "<< 3",
    "> 250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n451 4.7.1 Greylisted\r\n554 5.5.1 No valid recipients\r\n",
    "< RSET", "<< 3",
    "> 250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
    "data", "> 452 4.3.1 Insufficient system storage\r\n",
    "< RSET", "<< 3",
    "> 250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
    "data", "< QUIT", "> 250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n",
    NULL
  };
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(ScriptServer) server = NULL;
  const char *subjects[] = { "Alert one", "Alert two", "Alert three", "Alert four",
                             "Alert five" };
  g_auto(Flushed) flushed = { 0 };

  use_script_server_settings (settings);
  queue_in_order (subjects, G_N_ELEMENTS (subjects));
  flush_through (settings, script, &flushed, &server);
  g_assert_no_error (flushed.error);
  g_assert_cmpuint (flushed.sent, ==, 2);
  g_assert_cmpuint (flushed.failed, ==, 1);
  g_assert_cmpuint (flushed.waiting, ==, 2);
  g_assert_nonnull (strstr (flushed.last_failure, "452"));
  script_server_wait (server);
  g_assert_cmpstr (script_server_get_failure (server), ==, NULL);
  g_assert_cmpuint (script_server_get_connections (server), ==, 1);
}

/* The relay ends the session kept open between two entries, by closing it (an idle timeout)
 * or with a 421 (a limit of messages per connection): the entry goes again at once on a new
 * connection, with no error recorded. */
static void
test_flush_stale_session (void)
{
  const char *endings[] = { "close", "> 421 4.7.0 relay.example.test Too many messages\r\n" };

  for (guint e = 0; e < G_N_ELEMENTS (endings); e++)
    {
      const char * const script[] = {
        "> 220 relay.example.test ESMTP\r\n", "< EHLO",
        "> 250-relay.example.test\r\n250 PIPELINING\r\n",
        "<< 3", "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
        "data", "> 250 2.0.0 Ok: queued\r\n",
        e == 0 ? "close" : "<< 3", endings[e], "close",
        "--",
        "> 220 relay.example.test ESMTP\r\n", "< EHLO",
        "> 250-relay.example.test\r\n250 PIPELINING\r\n",
        "<< 3", "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
        "data", "> 250 2.0.0 Ok: queued\r\n",
        "<< 3", "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
        "data", "< QUIT", "> 250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n",
        NULL
      };
      g_autoptr(GSettings) settings = g_settings_new (APP_ID);
      g_autoptr(ScriptServer) server = NULL;
      const char *subjects[] = { "Stale one", "Stale two", "Stale three" };
      g_auto(Flushed) flushed = { 0 };

      use_script_server_settings (settings);
      queue_in_order (subjects, G_N_ELEMENTS (subjects));
      flush_through (settings, script, &flushed, &server);
      g_assert_no_error (flushed.error);
      g_assert_cmpuint (flushed.sent, ==, 3);
      g_assert_cmpuint (flushed.waiting, ==, 0);
      g_assert_cmpuint (relay_queue_count (NULL), ==, 0);
      script_server_wait (server);
      g_assert_cmpstr (script_server_get_failure (server), ==, NULL);
      g_assert_cmpuint (script_server_get_connections (server), ==, 2);
      assert_sent_in_order (server, subjects, G_N_ELEMENTS (subjects));
    }
}

/* The entry after a stale session goes again on a new connection, which the relay closes at
 * once, without a greeting: the relay is down, and the flush stops there, as it would have on
 * a first entry. The 250 of the entry before must not count as this connection's reply. */
static void
test_flush_stops_on_dead_relay_after_reuse (void)
{
  const char * const script[] = {
    "> 220 relay.example.test ESMTP\r\n", "< EHLO",
    "> 250-relay.example.test\r\n250 PIPELINING\r\n",
    "<< 3", "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
    "data", "> 250 2.0.0 Ok: queued\r\n", "close",
    "--",
    "close",
    NULL
  };
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(ScriptServer) server = NULL;
  const char *subjects[] = { "Dead one", "Dead two", "Dead three", "Dead four" };
  g_auto(Flushed) flushed = { 0 };

  use_script_server_settings (settings);
  queue_in_order (subjects, G_N_ELEMENTS (subjects));
  flush_through (settings, script, &flushed, &server);
  g_assert_cmpuint (flushed.sent, ==, 1);
  g_assert_cmpuint (flushed.waiting, ==, 3);
  script_server_wait (server);
  /* the kept session, the stale entry's new one, and no more */
  g_assert_cmpuint (script_server_get_connections (server), ==, 2);
}

/* One entry kept (451), the next refused for good (too big): the reason the window shows for
 * the one that still waits is the 451, not the other one's refusal. */
static void
test_last_failure_is_of_a_waiting_entry (void)
{
  const char * const script[] = {
    "> 220 relay.example.test ESMTP\r\n",
    "< EHLO",
    "> 250-relay.example.test\r\n250-SIZE 1000\r\n250 PIPELINING\r\n",
    "<< 3",
    "> 250 2.1.0 Ok\r\n451 4.3.0 Try again later\r\n503 5.5.1 No recipients\r\n",
    NULL
  };
  const char * const to[] = { "oncall@example.org", NULL };
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(RelaySmtpMessage) big = NULL;
  g_autofree char *body = g_strnfill (3000, 'x');
  g_auto(Flushed) flushed = { 0 };

  use_script_server_settings (settings);
  queue_alert ("small, gets 451");
  g_usleep (1100000);   /* ids sort by the second: the small one is tried first */
  big = relay_smtp_message_new ("alerts@example.com", NULL, to, "big", body, NULL);
  g_assert_true (relay_queue_add (big, "x", NULL, NULL));
  flush_through (settings, script, &flushed, NULL);
  g_assert_cmpuint (flushed.waiting, ==, 1);
  g_assert_cmpuint (flushed.failed, ==, 1);
  g_assert_nonnull (strstr (flushed.last_failure, "451"));
}

static guint
count_messages (ScriptServer *server)
{
  const char *received = script_server_get_received (server);
  guint n = 0;

  for (const char *p = received; (p = strstr (p, "MAIL FROM:")) != NULL; p++)
    n++;
  return n;
}


/* A message sent that cannot be removed from the queue would be sent again by every flush (the
 * timer's: every 15 minutes): the flush stops there and says so. */
static void
test_delivered_but_not_removed (void)
{
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(ScriptServer) server = NULL;
  g_auto(Flushed) flushed = { 0 };

  use_script_server_settings (settings);
  queue_alert ("one");
  queue_alert ("two");
  unlink_errno = EIO;
  flush_through (settings, script_accept_one, &flushed, &server);
  unlink_errno = 0;
  g_assert_false (flushed.ok);
  g_assert_nonnull (strstr (flushed.error->message, "could not be removed"));
  g_assert_cmpuint (flushed.sent, ==, 1);
  g_assert_cmpuint (flushed.waiting, ==, 1);
  g_assert_cmpuint (count_messages (server), ==, 1);
  /* the session kept open for the second entry still ends with QUIT */
  script_server_wait (server);
  g_assert_cmpstr (script_server_get_failure (server), ==, NULL);
  g_assert_true (g_str_has_suffix (script_server_get_received (server), "QUIT\r\n"));
}

/* From a queue on a file system remounted read-only nothing is sent at all. */
static void
test_read_only_queue_sends_nothing (void)
{
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(ScriptServer) server = NULL;
  g_auto(Flushed) flushed = { 0 };
  g_autofree char *directory = relay_queue_get_directory ();

  use_script_server_settings (settings);
  queue_alert ("read-only");
  access_errno = EROFS;
  flush_through (settings, script_accept_one, &flushed, &server);
  access_errno = 0;
  g_assert_false (flushed.ok);
  g_assert_nonnull (strstr (flushed.error->message, directory));
  g_assert_nonnull (strstr (flushed.error->message, g_strerror (EROFS)));
  g_assert_cmpuint (flushed.sent, ==, 0);
  g_assert_cmpuint (flushed.waiting, ==, 1);
  g_assert_cmpuint (count_messages (server), ==, 0);
  g_assert_cmpuint (relay_queue_count (NULL), ==, 1);
}

/* A queue that cannot be read (another user's) is not an empty one. */
static void
test_unreadable_queue (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  guint count;

  queue_alert ("unreadable");
  opendir_errno = EACCES;
  count = relay_queue_count (&error);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_ACCES);
  g_assert_cmpuint (count, ==, 0);
  g_clear_error (&error);
  entries = relay_queue_list (NULL, &error);
  opendir_errno = 0;
  g_assert_null (entries);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_ACCES);
  g_assert_cmpuint (relay_queue_count (NULL), ==, 1);
}

/* Files that are not entries (a FIFO, a link, garbage) neither hang the listing or the flush
 * nor count as refused by the server; they are set aside, and the real message goes. */
static void
test_foreign_files (void)
{
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(ScriptServer) server = NULL;
  g_auto(Flushed) flushed = { 0 };
  g_autofree char *directory = relay_queue_get_directory ();
  g_autofree char *failed_dir = relay_queue_get_failed_directory ();
  g_autofree char *fifo = g_build_filename (directory, "20200101T000000Z-fifo.msg", NULL);
  g_autofree char *link = g_build_filename (directory, "20200101T000000Z-link.msg", NULL);
  g_autofree char *junk = g_build_filename (directory, "20200101T000000Z-junk.msg", NULL);
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) error = NULL;

  use_script_server_settings (settings);
  queue_alert ("real");
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (symlink ("/etc/passwd", link), ==, 0);
  g_assert_true (g_file_set_contents (junk, "\x89PNG garbage", -1, NULL));

  entries = relay_queue_list (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 4);

  flush_through (settings, script_accept_one, &flushed, &server);
  g_assert_no_error (flushed.error);
  g_assert_cmpuint (flushed.sent, ==, 1);
  g_assert_cmpuint (flushed.failed, ==, 3);
  g_assert_cmpuint (count_messages (server), ==, 1);
  g_assert_cmpuint (relay_queue_count (NULL), ==, 0);
  g_assert_false (g_file_test (fifo, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (link, G_FILE_TEST_IS_SYMLINK));
  g_clear_pointer (&entries, g_ptr_array_unref);
  entries = relay_queue_list (failed_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 3);
}

/* What a killed write leaves behind ("<id>.msg.XXXXXX") is removed once it is an hour old;
 * a younger one may be a write in progress. */
static void
test_stale_temporaries_removed (void)
{
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(ScriptServer) server = NULL;
  g_auto(Flushed) flushed = { 0 };
  g_autofree char *directory = relay_queue_get_directory ();
  g_autofree char *stale = g_build_filename (directory, "20200101T000000Z-0000beef.msg.AB12CD",
                                             NULL);
  g_autofree char *fresh = g_build_filename (directory, "20200101T000000Z-0000cafe.msg.EF34GH",
                                             NULL);
  struct utimbuf two_hours_ago;

  use_script_server_settings (settings);
  queue_alert ("real");
  g_assert_true (g_file_set_contents (stale, "half", -1, NULL));
  g_assert_true (g_file_set_contents (fresh, "half", -1, NULL));
  two_hours_ago.actime = two_hours_ago.modtime = time (NULL) - 2 * 60 * 60;
  g_assert_cmpint (utime (stale, &two_hours_ago), ==, 0);

  flush_through (settings, script_accept_one, &flushed, &server);
  g_assert_cmpuint (flushed.sent, ==, 1);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_unlink (fresh);
}

/* one open() of a queue entry fails as a flaky disk or network home folder would. */
static int open_errno;

static int
fake_open (const char *path, int flags, va_list ap, const char *symbol)
{
  static int (*real) (const char *, int, ...);
  mode_t mode = 0;

  if (real == NULL)
    real = (int (*) (const char *, int, ...)) dlsym (RTLD_NEXT, symbol);
  if (flags & O_CREAT)
    mode = va_arg (ap, mode_t);
  if (open_errno != 0 && g_str_has_suffix (path, ".msg") && strstr (path, "/queue/") != NULL)
    {
      errno = open_errno;
      open_errno = 0;
      return -1;
    }
  return real (path, flags, mode);
}

int
open (const char *path, int flags, ...)
{
  va_list ap;
  int fd;

  va_start (ap, flags);
  fd = fake_open (path, flags, ap, "open64");
  va_end (ap);
  return fd;
}

int plain_open (const char *path, int flags, ...) __asm__ ("open");

int
plain_open (const char *path, int flags, ...)
{
  va_list ap;
  int fd;

  va_start (ap, flags);
  fd = fake_open (path, flags, ap, "open");
  va_end (ap);
  return fd;
}

/* a passing failure to open an entry does not set a good message aside for ever. */
static void
test_transient_open_error (void)
{
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(ScriptServer) server = NULL;
  g_auto(Flushed) flushed = { 0 };

  use_script_server_settings (settings);
  queue_alert ("disk briefly unhappy");
  open_errno = EIO;
  flush_through (settings, script_accept_one, &flushed, &server);
  g_assert_cmpuint (flushed.failed, ==, 0);
  g_assert_cmpuint (relay_queue_count (NULL), ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/relay/queue/add-and-list", test_add_and_list);
  g_test_add_func ("/relay/queue/temporary", test_temporary);
  g_test_add_func ("/relay/queue/flush-off-main-thread", test_flush_off_main_thread);
  g_test_add_func ("/relay/queue/count-async", test_count_async);
  g_test_add_func ("/relay/queue/last-failure-is-of-a-waiting-entry", test_last_failure_is_of_a_waiting_entry);
  g_test_add_func ("/relay/queue/flush-oldest-first", test_flush_oldest_first);
  g_test_add_func ("/relay/queue/flush-refused-keeps-session", test_flush_refused_keeps_session);
  g_test_add_func ("/relay/queue/flush-stale-session", test_flush_stale_session);
  g_test_add_func ("/relay/queue/flush-stops-on-dead-relay-after-reuse", test_flush_stops_on_dead_relay_after_reuse);
  g_test_add_func ("/relay/queue/delivered-but-not-removed", test_delivered_but_not_removed);
  g_test_add_func ("/relay/queue/read-only-queue-sends-nothing", test_read_only_queue_sends_nothing);
  g_test_add_func ("/relay/queue/unreadable-queue", test_unreadable_queue);
  g_test_add_func ("/relay/queue/transient-open-error", test_transient_open_error);
  g_test_add_func ("/relay/queue/foreign-files", test_foreign_files);
  g_test_add_func ("/relay/queue/stale-temporaries-removed", test_stale_temporaries_removed);
  return g_test_run ();
}
