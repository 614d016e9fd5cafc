/* test-smtp-client.c: the SMTP client against a scripted, sometimes hostile, server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay-smtp-client.h"
#include "relay-smtp-error.h"
#include "smtp-test-helpers.h"

#define GREETING "> 220 mx.example.test ESMTP ready\r\n"
#define USER "alice@example.com"
#define PASSWORD "s3cret-Pässw0rd"

typedef struct
{
  RelaySmtpClient  *client;
  RelaySmtpMessage *message;
  GResolver        *old_resolver;
  GArray           *steps;
} Fixture;

static void
on_step_changed_cb (RelaySmtpClient *client,
                    RelaySmtpStep    step,
                    Fixture         *fixture)
{
  g_array_append_val (fixture->steps, step);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  const char * const to[] = { "ops@example.org", "second@example.org", NULL };
  g_autoptr(GResolver) fake = fake_resolver_new ();
  g_autoptr(GError) error = NULL;

  fixture->old_resolver = g_resolver_get_default ();
  g_resolver_set_default (fake);

  fixture->message = relay_smtp_message_new ("alerts@example.com", "Robot", to, "Test",
                                             "Hello\n.\nBye\n", &error);
  g_assert_no_error (error);
  fixture->client = relay_smtp_client_new ();
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_NONE);
  relay_smtp_client_set_helo_name (fixture->client, "client.example.test");
  fixture->steps = g_array_new (FALSE, FALSE, sizeof (RelaySmtpStep));
  g_signal_connect (fixture->client, "step-changed", G_CALLBACK (on_step_changed_cb), fixture);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_assert_finalize_object (fixture->client);
  relay_smtp_message_unref (fixture->message);
  g_array_unref (fixture->steps);
  g_resolver_set_default (fixture->old_resolver);
  g_object_unref (fixture->old_resolver);
}

static void
use_server (Fixture      *fixture,
            ScriptServer *server)
{
  relay_smtp_client_set_host (fixture->client, "127.0.0.1");
  relay_smtp_client_set_port (fixture->client, script_server_get_port (server));
}

static gboolean
saw_step (Fixture       *fixture,
          RelaySmtpStep  step)
{
  for (guint i = 0; i < fixture->steps->len; i++)
    if (g_array_index (fixture->steps, RelaySmtpStep, i) == step)
      return TRUE;
  return FALSE;
}

static void
assert_no_failure (ScriptServer *server)
{
  g_assert_cmpstr (script_server_get_failure (server), ==, NULL);
}

/* --- happy paths -------------------------------------------------------------------------- */

static void
test_pipelining (Fixture       *fixture,
                 gconstpointer  data)
{
  const char * const script[] = {
    GREETING,
    "< EHLO client.example.test",
    "> 250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250 ENHANCEDSTATUSCODES\r\n",
    "<< 4",
    "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
    "data",
    "> 250 2.0.0 Ok: queued as 4F1A\r\n",
    "< QUIT",
    "> 221 2.0.0 Bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  const char *received;
  const char *message;

  relay_smtp_client_set_host (fixture->client, "ok.test");
  relay_smtp_client_set_port (fixture->client, script_server_get_port (server));
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 2.0.0 Ok: queued as 4F1A");

  assert_no_failure (server);
  /* MAIL, both RCPTs and DATA arrived in a single read: one flight. */
  g_assert_cmpuint (script_server_get_flight_reads (server), ==, 1);
  received = script_server_get_received (server);
  g_assert_nonnull (strstr (received, "MAIL FROM:<alerts@example.com> SIZE="));
  g_assert_nonnull (strstr (received, "\r\nRCPT TO:<ops@example.org>\r\nRCPT TO:<second@example.org>\r\nDATA\r\n"));
  message = script_server_get_data (server);
  g_assert_nonnull (strstr (message, "\r\n\r\nHello\r\n..\r\nBye\r\n.\r\n"));
  g_assert_true (g_str_has_suffix (message, "Bye\r\n.\r\n"));

  g_assert_true (saw_step (fixture, RELAY_SMTP_STEP_RESOLVING));
  g_assert_true (saw_step (fixture, RELAY_SMTP_STEP_CONNECTING));
  g_assert_true (saw_step (fixture, RELAY_SMTP_STEP_GREETING));
  g_assert_true (saw_step (fixture, RELAY_SMTP_STEP_SENDING));
  g_assert_false (saw_step (fixture, RELAY_SMTP_STEP_AUTHENTICATING));
  g_assert_cmpint (relay_smtp_client_get_step (fixture->client), ==, RELAY_SMTP_STEP_DONE);
  g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client), "C: EHLO client.example.test"));
  g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client), "S: 250 2.0.0 Ok: queued as 4F1A"));
}

static void
test_multi_line_no_pipelining (Fixture       *fixture,
                               gconstpointer  data)
{
  const char * const script[] = {
    "> 220-mx.example.test ESMTP\r\n220-second line\r\n220 third line\r\n",
    "< EHLO ",
    "> 250-mx.example.test\r\n250 8BITMIME\r\n",
    "< MAIL FROM:<alerts@example.com>",
    "> 250 ok\r\n",
    "< RCPT TO:<ops@example.org>",
    "> 250-accepted\r\n250 really\r\n",
    "< RCPT TO:<second@example.org>",
    "> 251 will forward\r\n",
    "< DATA",
    "> 354 go ahead\r\n",
    "data",
    "> 250 queued\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 queued");
  assert_no_failure (server);
  /* no SIZE parameter when the server did not announce SIZE */
  g_assert_null (strstr (script_server_get_received (server), "SIZE="));
}

static void
test_helo_fallback (Fixture       *fixture,
                    gconstpointer  data)
{
  const char * const script[] = {
    GREETING,
    "< EHLO ",
    "> 502 5.5.2 Command not recognized\r\n",
    "< HELO client.example.test",
    "> 250 hello\r\n",
    "< MAIL FROM:",
    "> 250 ok\r\n",
    "< RCPT TO:",
    "> 250 ok\r\n",
    "< RCPT TO:",
    "> 250 ok\r\n",
    "< DATA",
    "> 354 go\r\n",
    "data",
    "> 250 done\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 done");
  assert_no_failure (server);
}

static void
test_quit_ignored (Fixture       *fixture,
                   gconstpointer  data)
{
  /* The server hangs up instead of answering QUIT: the message was accepted all the same. */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250 mx\r\n",
    "< MAIL", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n",
    "< DATA", "> 354 go\r\n", "data", "> 250 done\r\n", "< QUIT", "close",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 done");
}

/* --- server errors and hostile servers ---------------------------------------------------- */

static void
run_expect_error (Fixture        *fixture,
                  const char     *const *script,
                  RelaySmtpError  code,
                  const char     *in_message,
                  ScriptServer  **server_out)
{
  ScriptServer *server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_null (reply);
  g_assert_error (error, RELAY_SMTP_ERROR, (int) code);
  if (in_message != NULL && strstr (error->message, in_message) == NULL)
    g_error ("“%s” not in “%s”", in_message, error->message);
  g_assert_nonnull (relay_smtp_error_hint (error, relay_smtp_client_get_last_reply_code (fixture->client)));
  assert_no_failure (server);
  if (server_out)
    *server_out = server;
  else
    script_server_free (server);
}

static void
test_greeting_421 (Fixture       *fixture,
                   gconstpointer  data)
{
  const char * const script[] = { "> 421 4.3.2 mx.example.test Service not available, try later\r\n", NULL };

  run_expect_error (fixture, script, RELAY_SMTP_ERROR_GREETING,
                    "421 4.3.2 mx.example.test Service not available, try later", NULL);
}

/* The state of the thread named @name: 0 when there is none, or only one that is dead ('X',
 * 'Z'); else its state letter from /proc/self/task/TID/stat ('R', 'S', …). */
static char
thread_state (const char *name)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  char found = 0;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *comm_path = g_build_filename ("/proc/self/task", tid, "comm", NULL);
      g_autofree char *stat_path = g_build_filename ("/proc/self/task", tid, "stat", NULL);
      g_autofree char *comm = NULL;
      g_autofree char *stat = NULL;
      const char *end;

      if (!g_file_get_contents (comm_path, &comm, NULL, NULL)
          || !g_file_get_contents (stat_path, &stat, NULL, NULL))
        continue;   /* it has just gone */
      g_strchomp (comm);
      end = strrchr (stat, ')');   /* "TID (comm) S …" */
      if (g_strcmp0 (comm, name) == 0 && end != NULL && end[1] == ' '
          && end[2] != 'X' && end[2] != 'Z')
        found = end[2];
    }
  return found;
}

/* Whether the TLS warm-up thread is still there, once the kernel's last steps of a thread's
 * exit had 10 ms to pass. Left running, it would still be loading GnuTLS or parsing the CA
 * store (tens of milliseconds; seconds under AddressSanitizer). */
static gboolean
warm_up_still_runs (void)
{
  for (int i = 0; i < 10 && thread_state ("relay-tls-warm") != 0; i++)
    g_usleep (1000);
  return thread_state ("relay-tls-warm") != 0;
}

/* A send that fails before TLS starts leaves the TLS warm-up and the connection's TLS set-up
 * running in threads; exit() would then run the libraries' destructors under them (a crash:
 * GObject's constructor run again by the warm-up's dlopen()). In a subprocess, so that this
 * send is the one that starts the warm-up. Returns FALSE in the parent, which only checks that
 * the subprocess passed, and when the warm-up ended before the send did (nothing to test). */
static gboolean
fail_while_warm_up_runs (Fixture *fixture)
{
  const char * const script[] = { "> 554 5.3.2 mx.example.test go away\r\n", NULL };

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return FALSE;
    }
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_GREETING, "go away", NULL);
  if (thread_state ("relay-tls-warm") == 0)
    {
      /* A busy machine: nothing left to wait for this time. Not g_test_skip(): a skipping
       * subprocess exits 77, which its parent cannot tell from a failure (GLib 2.74 gives the
       * parent no exit status), and the test failed on a loaded machine. */
      g_printerr ("# the TLS warm-up ended before the send did: nothing left to wait for\n");
      return FALSE;
    }
  return TRUE;
}

/* relay_smtp_client_shutdown() returns only once that work is done. */
static void
test_shutdown_waits_for_tls_work (Fixture       *fixture,
                                  gconstpointer  data)
{
  if (!fail_while_warm_up_runs (fixture))
    return;
  relay_smtp_client_shutdown ();
  g_assert_false (warm_up_still_runs ());
}

/* Runs after the SMTP client's own exit handler, which is registered later (during the send). */
static void
check_no_warm_up_at_exit (void)
{
  if (warm_up_still_runs ())
    {
      g_printerr ("the TLS warm-up still ran when exit() reached the destructors\n");
      _exit (1);
    }
}

/* The same through exit() alone: no program has to remember relay_smtp_client_shutdown(). */
static void
test_exit_waits_for_tls_work (Fixture       *fixture,
                              gconstpointer  data)
{
  if (g_test_subprocess ())
    atexit (check_no_warm_up_at_exit);
  if (fail_while_warm_up_runs (fixture))
    exit (0);
}

static void
test_malformed_bare_lf (Fixture       *fixture,
                        gconstpointer  data)
{
  const char * const script[] = { "> 220 mx ready\n", NULL };

  run_expect_error (fixture, script, RELAY_SMTP_ERROR_PROTOCOL, "bare LF", NULL);
}

static void
test_malformed_not_smtp (Fixture       *fixture,
                         gconstpointer  data)
{
  const char * const script[] = { "> SSH-2.0-OpenSSH_9.2\r\n", NULL };

  run_expect_error (fixture, script, RELAY_SMTP_ERROR_PROTOCOL, "SSH-2.0", NULL);
}

static void
test_malformed_mixed_codes (Fixture       *fixture,
                            gconstpointer  data)
{
  const char * const script[] = { GREETING, "< EHLO ", "> 250-mx\r\n550 PIPELINING\r\n", NULL };

  run_expect_error (fixture, script, RELAY_SMTP_ERROR_PROTOCOL, NULL, NULL);
}

static void
test_sender_refused (Fixture       *fixture,
                     gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 PIPELINING\r\n",
    "<< 4", "> 553 5.7.1 <alerts@example.com>: Sender address rejected: not owned by user\r\n554 5.5.1 no valid recipients\r\n554 5.5.1 no valid recipients\r\n554 5.5.1 Error: no valid recipients\r\n",
    NULL
  };
  ScriptServer *server = NULL;

  run_expect_error (fixture, script, RELAY_SMTP_ERROR_SENDER, "Sender address rejected", &server);
  g_assert_null (strstr (script_server_get_received (server), "Hello"));
  script_server_free (server);
}

/* Postfix's default smtpd_delay_reject=yes: MAIL gets 250 and the sender, client and HELO
 * restrictions answer RCPT. The error names what the server refused, not the recipient. */
static void
test_rcpt_blames_other (Fixture       *fixture,
                        gconstpointer  data)
{
  static const struct
  {
    const char     *reply;
    RelaySmtpError  code;
    const char     *named;
  } cases[] = {
    { "553 5.7.1 <alerts@example.com>: Sender address rejected: not owned by user alice", RELAY_SMTP_ERROR_SENDER, "sender" },
    { "450 4.1.8 <alerts@example.com>: Sender address rejected: Domain not found", RELAY_SMTP_ERROR_SENDER, "sender" },
    { "550 5.1.7 bad sender", RELAY_SMTP_ERROR_SENDER, "sender" },
    { "554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: Access denied", RELAY_SMTP_ERROR_GREETING, "this computer" },
    { "554 5.7.1 <[127.0.0.1]>: Helo command rejected: use your FQDN", RELAY_SMTP_ERROR_EHLO, "EHLO" },
    { "550 5.1.1 <first@example.org>: Recipient address rejected: User unknown", RELAY_SMTP_ERROR_RECIPIENT, "first@example.org" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *answer = g_strdup_printf ("> 250 2.1.0 Ok\r\n%s\r\n554 5.5.1 Error: no valid recipients\r\n554 5.5.1 Error: no valid recipients\r\n",
                                                 cases[i].reply);
      const char * const script[] = {
        GREETING, "< EHLO ", "> 250-mx\r\n250 PIPELINING\r\n",
        "<< 4", answer,
        NULL
      };

      run_expect_error (fixture, script, cases[i].code, cases[i].named, NULL);
    }
}

static void
test_recipient_refused (Fixture       *fixture,
                        gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 PIPELINING\r\n",
    "<< 4", "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <second@example.org>: Recipient address rejected: User unknown\r\n354 go ahead\r\n",
    NULL
  };
  ScriptServer *server = NULL;

  run_expect_error (fixture, script, RELAY_SMTP_ERROR_RECIPIENT, "second@example.org", &server);
  /* The body is never sent after a refused recipient, even though DATA got its 354. */
  g_assert_null (strstr (script_server_get_received (server), "Hello"));
  script_server_free (server);
}

static void
test_data_refused (Fixture       *fixture,
                   gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250 mx\r\n",
    "< MAIL", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n",
    "< DATA", "> 354 go\r\n", "data", "> 554 5.7.1 Message rejected as spam\r\n",
    NULL
  };

  run_expect_error (fixture, script, RELAY_SMTP_ERROR_DATA, "rejected as spam", NULL);
}

static void
test_starttls_not_offered (Fixture       *fixture,
                           gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 PIPELINING\r\n", NULL
  };
  ScriptServer *server = NULL;
  const char *received;

  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  relay_smtp_client_set_username (fixture->client, USER);
  relay_smtp_client_set_password (fixture->client, PASSWORD);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_STARTTLS_UNAVAILABLE, "STARTTLS", &server);
  received = script_server_get_received (server);
  g_assert_null (strstr (received, "AUTH"));
  g_assert_null (strstr (received, "MAIL"));
  script_server_free (server);
}

static void
test_starttls_refused (Fixture       *fixture,
                       gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 STARTTLS\r\n",
    "< STARTTLS", "> 454 4.7.0 TLS not available due to temporary reason\r\n", NULL
  };
  ScriptServer *server = NULL;

  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_STARTTLS, "TLS not available", &server);
  g_assert_null (strstr (script_server_get_received (server), "MAIL"));
  script_server_free (server);
}

static void
test_starttls_injection (Fixture       *fixture,
                         gconstpointer  data)
{
  /* A man in the middle appends a reply after the 220 (CVE-2021-22947): it must never be read
   * as a reply of the encrypted session. */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
    "< STARTTLS", "> 220 2.0.0 Ready to start TLS\r\n250-mx\r\n250 AUTH PLAIN\r\n", NULL
  };
  ScriptServer *server = NULL;
  const char *received;

  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  relay_smtp_client_set_username (fixture->client, USER);
  relay_smtp_client_set_password (fixture->client, PASSWORD);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_PROTOCOL, "STARTTLS", &server);
  received = script_server_get_received (server);
  g_assert_true (g_str_has_suffix (received, "STARTTLS\r\n"));
  g_assert_null (strstr (received, "AUTH"));
  script_server_free (server);
}

static void
test_silent_server (Fixture       *fixture,
                    gconstpointer  data)
{
  const char * const script[] = { NULL };
  gint64 start = g_get_monotonic_time ();

  g_object_set (fixture->client, "reply-timeout", 300, NULL);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_TIMEOUT, "greeting", NULL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
}

static void
test_dripping_server (Fixture       *fixture,
                      gconstpointer  data)
{
  /* One byte every 100 ms keeps a socket time-out happy forever; the deadline must not move. */
  const char * const script[] = {
    "drip 220 this greeting takes far too long to arrive, one byte at a time, for fifteen seconds "
    "or so, while the deadline of the reply is a fraction of one\r\n",
    NULL
  };
  gint64 start = g_get_monotonic_time ();

  g_object_set (fixture->client, "reply-timeout", 600, NULL);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_TIMEOUT, NULL, NULL);
  /* Not a speed check: the whole greeting would take 15 s, so ending well before proves that
   * the deadline held (with room for a loaded CI machine). */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
}

/* Implicit TLS to a server that greets in plain text (TLS chosen for port 587 or 25): said in
 * our words, with the TLS library's in the transcript. */
static void
test_tls_to_plain_server (Fixture       *fixture,
                          gconstpointer  data)
{
  /* After its script the server reads until the client closes. */
  const char * const script[] = { "> 220 mx.example.test ESMTP\r\n", NULL };
  ScriptServer *server = NULL;

  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_TLS);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_TLS,
                    "the server did not answer in TLS", &server);
  g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client), "TLS: "));
  script_server_free (server);
}

static void
test_tls_handshake_timeout (Fixture       *fixture,
                            gconstpointer  data)
{
  /* Implicit TLS to a server that accepts TCP and then never speaks TLS. */
  const char * const script[] = { NULL };

  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_TLS);
  g_object_set (fixture->client, "reply-timeout", 300, NULL);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_TIMEOUT, "encryption", NULL);
  g_assert_true (saw_step (fixture, RELAY_SMTP_STEP_SECURING));
}

static void
test_session_deadline (Fixture       *fixture,
                       gconstpointer  data)
{
  /* Each reply is quick enough, the whole session is not. */
  const char * const script[] = { "drip 220-a\r\n220-b\r\n220 c\r\n", NULL };

  g_object_set (fixture->client, "reply-timeout", 10000, "session-timeout", 500, NULL);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_TIMEOUT, NULL, NULL);
}

static void
test_closed_mid_session (Fixture       *fixture,
                         gconstpointer  data)
{
  const char * const script[] = { GREETING, "< EHLO ", "> 250 mx\r\n", "< MAIL", "close", NULL };

  run_expect_error (fixture, script, RELAY_SMTP_ERROR_CLOSED, NULL, NULL);
}

static void
test_endless_line (Fixture       *fixture,
                   gconstpointer  data)
{
  const char * const script[] = { "flood", NULL };

  run_expect_error (fixture, script, RELAY_SMTP_ERROR_PROTOCOL, "longer than", NULL);
  /* the reader gave up early instead of buffering the flood */
  g_assert_null (strstr (relay_smtp_client_get_transcript (fixture->client), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
}

/* --- AUTH --------------------------------------------------------------------------------- */

static char *
plain_token (void)
{
  g_autoptr(GString) raw = g_string_new (NULL);

  g_string_append_c (raw, '\0');
  g_string_append (raw, USER);
  g_string_append_c (raw, '\0');
  g_string_append (raw, PASSWORD);
  return g_base64_encode ((const guchar *) raw->str, raw->len);
}

static void
assert_transcript_clean (Fixture    *fixture,
                         const char *extra_secret)
{
  const char *transcript = relay_smtp_client_get_transcript (fixture->client);
  g_autofree char *token = plain_token ();
  g_autofree char *pw64 = g_base64_encode ((const guchar *) PASSWORD, strlen (PASSWORD));

  g_assert_null (strstr (transcript, PASSWORD));
  g_assert_null (strstr (transcript, token));
  g_assert_null (strstr (transcript, pw64));
  if (extra_secret)
    g_assert_null (strstr (transcript, extra_secret));
  g_assert_nonnull (strstr (transcript, "<redacted>"));
}

static void
enable_auth (Fixture *fixture)
{
  relay_smtp_client_set_username (fixture->client, USER);
  relay_smtp_client_set_password (fixture->client, PASSWORD);
  relay_smtp_client_set_allow_plaintext_auth (fixture->client, TRUE);
}

static void
test_auth_plain (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *token = plain_token ();
  g_autofree char *expect = g_strconcat ("< AUTH PLAIN ", token, NULL);
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-AUTH LOGIN PLAIN\r\n250 PIPELINING\r\n",
    expect, "> 235 2.7.0 Authentication successful\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", "data", "> 250 done\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  enable_auth (fixture);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 done");
  assert_no_failure (server);
  assert_transcript_clean (fixture, NULL);
  g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client), "C: AUTH PLAIN <redacted>"));
  g_assert_true (saw_step (fixture, RELAY_SMTP_STEP_AUTHENTICATING));
}

static void
test_auth_login (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *user64 = g_base64_encode ((const guchar *) USER, strlen (USER));
  g_autofree char *pw64 = g_base64_encode ((const guchar *) PASSWORD, strlen (PASSWORD));
  g_autofree char *expect_user = g_strconcat ("< ", user64, NULL);
  g_autofree char *expect_pw = g_strconcat ("< ", pw64, NULL);
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH LOGIN\r\n",
    "< AUTH LOGIN", "> 334 VXNlcm5hbWU6\r\n", expect_user, "> 334 UGFzc3dvcmQ6\r\n",
    expect_pw, "> 235 ok\r\n",
    "< MAIL", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n",
    "< DATA", "> 354 go\r\n", "data", "> 250 done\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  enable_auth (fixture);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  assert_no_failure (server);
  assert_transcript_clean (fixture, user64);
}

static void
test_auth_cram_md5 (Fixture       *fixture,
                    gconstpointer  data)
{
  const char *challenge = "<1896.697170952@postoffice.example.net>";
  g_autofree char *challenge64 = g_base64_encode ((const guchar *) challenge, strlen (challenge));
  g_autofree char *digest = g_compute_hmac_for_string (G_CHECKSUM_MD5, (const guchar *) PASSWORD,
                                                       strlen (PASSWORD), challenge, -1);
  g_autofree char *response = g_strdup_printf ("%s %s", USER, digest);
  g_autofree char *response64 = g_base64_encode ((const guchar *) response, strlen (response));
  g_autofree char *send_challenge = g_strdup_printf ("> 334 %s\r\n", challenge64);
  g_autofree char *expect_response = g_strconcat ("< ", response64, NULL);
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n",
    "< AUTH CRAM-MD5", send_challenge, expect_response, "> 235 ok\r\n",
    "< MAIL", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n",
    "< DATA", "> 354 go\r\n", "data", "> 250 done\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  enable_auth (fixture);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  assert_no_failure (server);
  assert_transcript_clean (fixture, response64);
}

static void
test_auth_rejected (Fixture       *fixture,
                    gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n",
    "< AUTH PLAIN ", "> 535 5.7.8 Error: authentication failed: bad credentials\r\n", NULL
  };
  ScriptServer *server = NULL;

  enable_auth (fixture);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_AUTH, "5.7.8 Error: authentication failed", &server);
  g_assert_null (strstr (script_server_get_received (server), "MAIL"));
  script_server_free (server);
  assert_transcript_clean (fixture, NULL);
}

static void
test_auth_endless_challenges (Fixture       *fixture,
                              gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH LOGIN\r\n",
    "< AUTH LOGIN", "> 334 VXNlcm5hbWU6\r\n", "< ", "> 334 UGFzc3dvcmQ6\r\n", "< ",
    "> 334 TW9yZTo=\r\n", NULL
  };

  enable_auth (fixture);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_AUTH, NULL, NULL);
}

static void
test_auth_unavailable (Fixture       *fixture,
                       gconstpointer  data)
{
  const char * const script[] = { GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH XOAUTH2 GSSAPI\r\n", NULL };

  enable_auth (fixture);
  run_expect_error (fixture, script, RELAY_SMTP_ERROR_AUTH_UNAVAILABLE, "XOAUTH2", NULL);
}

/* --- refused before connecting ------------------------------------------------------------ */

static void
assert_refused_offline (Fixture        *fixture,
                        RelaySmtpError  code)
{
  const char * const script[] = { GREETING, NULL };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  if (relay_smtp_client_get_host (fixture->client) == NULL)
    use_server (fixture, server);
  else
    relay_smtp_client_set_port (fixture->client, script_server_get_port (server));
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_null (reply);
  g_assert_error (error, RELAY_SMTP_ERROR, (int) code);
  g_assert_cmpuint (script_server_get_connections (server), ==, 0);
}

static void
test_plaintext_auth_refused (Fixture       *fixture,
                             gconstpointer  data)
{
  relay_smtp_client_set_username (fixture->client, USER);
  relay_smtp_client_set_password (fixture->client, PASSWORD);
  assert_refused_offline (fixture, RELAY_SMTP_ERROR_PLAINTEXT_AUTH_REFUSED);
  g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client), "unencrypted"));
  g_assert_null (strstr (relay_smtp_client_get_transcript (fixture->client), PASSWORD));
}

static void
test_injection_refused (Fixture       *fixture,
                        gconstpointer  data)
{
  enable_auth (fixture);
  relay_smtp_client_set_username (fixture->client, "alice\r\nMAIL FROM:<x@example.com>");
  assert_refused_offline (fixture, RELAY_SMTP_ERROR_INVALID_INPUT);

  relay_smtp_client_set_username (fixture->client, USER);
  relay_smtp_client_set_password (fixture->client, "pw\r\nRSET");
  assert_refused_offline (fixture, RELAY_SMTP_ERROR_INVALID_INPUT);

  relay_smtp_client_set_password (fixture->client, "pw\x1b[2J");
  assert_refused_offline (fixture, RELAY_SMTP_ERROR_INVALID_INPUT);

  relay_smtp_client_set_password (fixture->client, "pw\tx");
  assert_refused_offline (fixture, RELAY_SMTP_ERROR_INVALID_INPUT);

  {
    g_autofree char *huge = g_strnfill (1025, 'p');

    relay_smtp_client_set_password (fixture->client, huge);
    assert_refused_offline (fixture, RELAY_SMTP_ERROR_INVALID_INPUT);
  }

  relay_smtp_client_set_password (fixture->client, PASSWORD);
  relay_smtp_client_set_helo_name (fixture->client, "client.example.test\tx");
  assert_refused_offline (fixture, RELAY_SMTP_ERROR_INVALID_INPUT);

  relay_smtp_client_set_helo_name (fixture->client, "client.example.test\r\nMAIL FROM:<x@example.com>");
  assert_refused_offline (fixture, RELAY_SMTP_ERROR_INVALID_INPUT);

  relay_smtp_client_set_helo_name (fixture->client, "not a name");
  assert_refused_offline (fixture, RELAY_SMTP_ERROR_INVALID_INPUT);

  relay_smtp_client_set_helo_name (fixture->client, "[192.0.2.1]");
  relay_smtp_client_set_pinned_certificate (fixture->client, "not-a-fingerprint");
  assert_refused_offline (fixture, RELAY_SMTP_ERROR_INVALID_INPUT);

  relay_smtp_client_set_pinned_certificate (fixture->client, NULL);
  relay_smtp_client_set_host (fixture->client, "bad host\r\nname");
  assert_refused_offline (fixture, RELAY_SMTP_ERROR_INVALID_INPUT);
}

static void
test_default_helo (Fixture       *fixture,
                   gconstpointer  data)
{
  const char * const script[] = { GREETING, "< EHLO ", "> 421 bye\r\n", NULL };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  const char *received;
  g_autofree char *line = NULL;

  relay_smtp_client_set_helo_name (fixture->client, NULL);
  use_server (fixture, server);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_EHLO);
  received = script_server_get_received (server);
  line = g_strndup (received, strstr (received, "\r\n") - received);
  /* either a fully qualified host name or the address literal of the local end */
  g_assert_true (g_str_has_prefix (line, "EHLO "));
  g_assert_true (g_str_equal (line + 5, "[127.0.0.1]") || strchr (line + 5, '.') != NULL);
  g_assert_null (strchr (line + 5, ' '));
}

/* --- network errors ----------------------------------------------------------------------- */

static void
test_connection_refused (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  /* Bound but not listening: connecting is refused, and no other test can take the port. */
  g_assert_true (g_socket_bind (socket, address, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  relay_smtp_client_set_host (fixture->client, "ok.test");
  relay_smtp_client_set_port (fixture->client,
                              g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
}

static void
test_next_address (Fixture       *fixture,
                   gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 421 4.7.0 enough for this test\r\n", NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  const char *transcript;

  relay_smtp_client_set_host (fixture->client, "two.test");
  relay_smtp_client_set_port (fixture->client, script_server_get_port (server));
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  /* reaching EHLO proves the client went on to the second address */
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_EHLO);
  transcript = relay_smtp_client_get_transcript (fixture->client);
  g_assert_nonnull (strstr (transcript, "connecting to 127.0.0.2 port"));
  g_assert_nonnull (strstr (transcript, "connected to 127.0.0.1 port"));
  assert_no_failure (server);
}

/* Addresses the window has just looked up are connected to without asking DNS again, and
 * only for the name they belong to. */
static void
test_known_addresses (Fixture       *fixture,
                      gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 421 4.7.0 enough for this test\r\n", NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GList *known = g_list_prepend (NULL, loopback);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  /* hang.test never answers: only the known addresses can get the send to EHLO. */
  relay_smtp_client_set_host (fixture->client, "hang.test");
  relay_smtp_client_set_port (fixture->client, script_server_get_port (server));
  relay_smtp_client_set_known_addresses (fixture->client, "Hang.Test.", known);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_EHLO);
  g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client),
                            "hang.test was looked up just before: 127.0.0.1"));
  for (guint i = 0; i < fixture->steps->len; i++)
    g_assert_cmpint (g_array_index (fixture->steps, RelaySmtpStep, i), !=,
                     RELAY_SMTP_STEP_RESOLVING);
  assert_no_failure (server);

  /* Another name's addresses are not used: the client asks DNS, which fails. */
  g_clear_error (&error);
  relay_smtp_client_set_host (fixture->client, "tempfail.test");
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DNS_FAILURE);
  g_list_free (known);
}

/* A listening socket whose accept queue is full: Linux drops further SYNs, so a connection
 * to it neither succeeds nor fails until its deadline, like a black-holed address. */
static GSocket *
black_hole_new (const char *ip,
                guint16     port,
                GSocket   **filler)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (ip);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (inet, port);
  g_autoptr(GError) error = NULL;
  GSocket *listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                    G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_socket_bind (listener, address, TRUE, &error);
  g_assert_no_error (error);
  g_socket_set_listen_backlog (listener, 0);
  g_socket_listen (listener, &error);
  g_assert_no_error (error);
  /* The one connection the queue takes; it is never accepted. */
  *filler = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                          &error);
  g_assert_no_error (error);
  g_socket_connect (*filler, address, NULL, &error);
  g_assert_no_error (error);
  return listener;
}

/* Happy Eyeballs (RFC 8305): an address that does not answer does not hold up the next one
 * for the whole connect deadline. */
static void
test_unanswered_address (Fixture       *fixture,
                         gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 421 4.7.0 enough for this test\r\n", NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  GSocket *filler = NULL;
  GSocket *hole = black_hole_new ("127.0.0.3", script_server_get_port (server), &filler);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *failed = NULL;
  const char *transcript;

  relay_smtp_client_set_host (fixture->client, "slow.test");
  relay_smtp_client_set_port (fixture->client, script_server_get_port (server));
  /* Far longer than the test may take: only trying the next address early gets through. */
  g_object_set (fixture->client, "connect-timeout", 120000, NULL);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_EHLO);
  transcript = relay_smtp_client_get_transcript (fixture->client);
  g_assert_nonnull (strstr (transcript, "no answer from 127.0.0.3 port"));
  g_assert_nonnull (strstr (transcript, "trying 127.0.0.1 as well"));
  g_assert_nonnull (strstr (transcript, "connected to 127.0.0.1 port"));
  /* The unanswered attempt was abandoned, not waited for. */
  failed = g_strdup_printf ("connecting to 127.0.0.3 port %u failed",
                            script_server_get_port (server));
  g_assert_null (strstr (transcript, failed));
  assert_no_failure (server);
  g_object_unref (filler);
  g_object_unref (hole);
}

static void
test_dns_not_found (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  relay_smtp_client_set_host (fixture->client, "nxdomain.test");
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_RESOLVE);
  g_assert_nonnull (strstr (error->message, "cannot be resolved"));
}

static void
test_dns_temporary_failure (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  relay_smtp_client_set_host (fixture->client, "tempfail.test");
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DNS_FAILURE);
  g_assert_null (strstr (error->message, "cannot be resolved"));
}

static void
test_dns_hang (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  gint64 start = g_get_monotonic_time ();

  relay_smtp_client_set_host (fixture->client, "hang.test");
  g_object_set (fixture->client, "connect-timeout", 200, NULL);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DNS_FAILURE);
  g_assert_nonnull (strstr (error->message, "did not answer"));
  /* The resolver never answers: ending at all proves the deadline; the bound is a hang guard. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
}

static void
test_error_mapping (void)
{
  struct {
    GQuark domain;
    int code;
    RelaySmtpError expected;
    const char *text;
  } cases[] = {
    { G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, RELAY_SMTP_ERROR_BLOCKED,
      "Connection to SMTP server is blocked by traffic rules" },
    { G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE, RELAY_SMTP_ERROR_UNREACHABLE, "no route" },
    { G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE, RELAY_SMTP_ERROR_UNREACHABLE, "blocked by traffic rules" },
    { G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, RELAY_SMTP_ERROR_REFUSED, "refused" },
    { G_IO_ERROR, G_IO_ERROR_TIMED_OUT, RELAY_SMTP_ERROR_TIMEOUT, "did not answer" },
    { G_IO_ERROR, G_IO_ERROR_FAILED, RELAY_SMTP_ERROR_CONNECT, "Could not connect" },
    { G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, RELAY_SMTP_ERROR_RESOLVE, "cannot be resolved" },
    { G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE, RELAY_SMTP_ERROR_DNS_FAILURE, "DNS" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      /* The GIO text is deliberately misleading: only domain and code may count. */
      g_autoptr(GError) in = g_error_new_literal (cases[i].domain, cases[i].code, "Permission denied");
      g_autoptr(GError) out = relay_smtp_error_new_network (in, "smtp.example.com", "2001:db8::25", 587);

      g_assert_error (out, RELAY_SMTP_ERROR, (int) cases[i].expected);
      if (strstr (out->message, cases[i].text) == NULL)
        g_error ("“%s” not in “%s”", cases[i].text, out->message);
      if (cases[i].expected == RELAY_SMTP_ERROR_BLOCKED)
        g_assert_true (g_str_has_prefix (out->message, cases[i].text));
      g_assert_nonnull (relay_smtp_error_hint (out, 0));
    }
}

/* --- cancellation ------------------------------------------------------------------------- */

typedef struct
{
  GCancellable  *cancellable;
  RelaySmtpStep  at;
} CancelAt;

static void
on_step_cancel_cb (RelaySmtpClient *client,
                   RelaySmtpStep    step,
                   CancelAt        *cancel)
{
  if (step == cancel->at)
    g_cancellable_cancel (cancel->cancellable);
}

static void
test_cancel_each_step (Fixture       *fixture,
                       gconstpointer  data)
{
  RelaySmtpStep steps[] = {
    RELAY_SMTP_STEP_RESOLVING, RELAY_SMTP_STEP_CONNECTING, RELAY_SMTP_STEP_GREETING,
    RELAY_SMTP_STEP_AUTHENTICATING, RELAY_SMTP_STEP_SENDING,
  };
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n",
    "< AUTH PLAIN", "> 235 ok\r\n",
    "< MAIL", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n",
    "< DATA", "> 354 go\r\n", "data", "> 250 done\r\n", NULL
  };

  enable_auth (fixture);
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr(ScriptServer) server = script_server_new (script);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      CancelAt cancel = { cancellable, steps[i] };
      g_autoptr(GError) error = NULL;
      g_autofree char *reply = NULL;
      gulong id;

      relay_smtp_client_set_host (fixture->client, "ok.test");
      relay_smtp_client_set_port (fixture->client, script_server_get_port (server));
      id = g_signal_connect (fixture->client, "step-changed", G_CALLBACK (on_step_cancel_cb), &cancel);
      reply = run_send (fixture->client, fixture->message, cancellable, &error);
      g_signal_handler_disconnect (fixture->client, id);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_null (reply);
      /* nothing of the message got out */
      g_assert_null (strstr (script_server_get_received (server), "Hello"));
    }
}

static gboolean
cancel_later_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

static void
test_cancel_while_waiting (Fixture       *fixture,
                           gconstpointer  data)
{
  const char * const script[] = { GREETING, "< EHLO ", NULL };   /* then silence */
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  g_timeout_add (200, cancel_later_cb, cancellable);
  reply = run_send (fixture->client, fixture->message, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_cancel_dns_hang (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  relay_smtp_client_set_host (fixture->client, "hang.test");
  g_timeout_add (100, cancel_later_cb, cancellable);
  reply = run_send (fixture->client, fixture->message, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_cancel_before_start (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  relay_smtp_client_set_host (fixture->client, "ok.test");
  g_cancellable_cancel (cancellable);
  reply = run_send (fixture->client, fixture->message, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* --- BDAT, a password that comes later ---------------------------------------------------- */

static RelaySmtpMessage *
single_recipient_message (void)
{
  const char * const to[] = { "ops@example.org", NULL };
  g_autoptr(GError) error = NULL;
  RelaySmtpMessage *message = relay_smtp_message_new ("alerts@example.com", "Robot", to, "Test",
                                                      "Hello\n.\nBye\n", &error);

  g_assert_no_error (error);
  return message;
}

static void
test_bdat (Fixture       *fixture,
           gconstpointer  data)
{
  /* CHUNKING with PIPELINING and one recipient: MAIL, RCPT, BDAT LAST with the message (not
   * dot-stuffed) and QUIT in one flight; the replies are checked in order. */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 3", "> 250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(RelaySmtpMessage) message = single_recipient_message ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *bdat = NULL;
  const char *received;
  gsize length;

  use_server (fixture, server);
  reply = run_send (fixture->client, message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 2.0.0 queued");
  assert_no_failure (server);
  g_assert_cmpuint (script_server_get_flight_reads (server), ==, 1);

  received = script_server_get_received (server);
  g_assert_nonnull (strstr (received, "\r\nRCPT TO:<ops@example.org>\r\nBDAT "));
  g_assert_null (strstr (received, "DATA\r\n"));
  /* The chunk is the message as is, with CRLF line ends, and QUIT follows it. */
  g_assert_nonnull (strstr (received, "\r\n\r\nHello\r\n.\r\nBye\r\nQUIT\r\n"));
  length = strstr (received, "QUIT\r\n") - (strstr (received, " LAST\r\n") + strlen (" LAST\r\n"));
  bdat = g_strdup_printf ("BDAT %" G_GSIZE_FORMAT " LAST\r\n", length);
  g_assert_nonnull (strstr (received, bdat));
}

static void
test_bdat_recipient_refused (Fixture       *fixture,
                             gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 3", "> 250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(RelaySmtpMessage) message = single_recipient_message ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  reply = run_send (fixture->client, message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_RECIPIENT);
  g_assert_null (reply);
  g_assert_nonnull (strstr (error->message, "no such user"));
}

static void
test_data_quit_pipelined (Fixture       *fixture,
                          gconstpointer  data)
{
  /* Two recipients: DATA, and then the message, its dot and QUIT in one flight. */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    "data", "< QUIT", "> 250 done\r\n221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 done");
  assert_no_failure (server);
}

static guint
count_of (const char *haystack,
          const char *needle)
{
  guint n = 0;

  for (const char *p = haystack; (p = strstr (p, needle)) != NULL; p += strlen (needle))
    n++;
  return n;
}

static void
on_closed_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  gboolean *done = user_data;

  g_assert_true (relay_smtp_client_close_finish (RELAY_SMTP_CLIENT (object), result, NULL));
  *done = TRUE;
}

static void
test_keep_open (Fixture       *fixture,
                gconstpointer  data)
{
  /* A queue flush: three messages on one session, logged in once, the first two without QUIT
   * (the next MAIL would not match "bdat" otherwise), the last with it; the second and third
   * cost one flight each. */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-AUTH PLAIN\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "< AUTH PLAIN ", "> 235 2.7.0 ok\r\n",
    "<< 2", "bdat", "> 250 ok\r\n250 ok\r\n250 2.0.0 queued as 1\r\n",
    "<< 2", "bdat", "> 250 ok\r\n250 ok\r\n250 2.0.0 queued as 2\r\n",
    "<< 2", "bdat", "< QUIT", "> 250 ok\r\n250 ok\r\n250 2.0.0 queued as 3\r\n221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(RelaySmtpMessage) message = single_recipient_message ();
  g_autoptr(GError) error = NULL;
  const char *received;

  use_server (fixture, server);
  enable_auth (fixture);
  relay_smtp_client_set_keep_open (fixture->client, TRUE);
  for (guint i = 1; i <= 3; i++)
    {
      g_autofree char *reply = NULL;
      g_autofree char *expected = g_strdup_printf ("250 2.0.0 queued as %u", i);

      if (i == 3)
        relay_smtp_client_set_keep_open (fixture->client, FALSE);
      reply = run_send (fixture->client, message, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (reply, ==, expected);
      g_assert_false (relay_smtp_client_get_stale_session (fixture->client));
      if (i > 1)
        {
          const char *transcript = relay_smtp_client_get_transcript (fixture->client);

          g_assert_nonnull (strstr (transcript, "Still connected to 127.0.0.1"));
          g_assert_null (strstr (transcript, "EHLO"));
          g_assert_null (strstr (transcript, "AUTH"));
        }
    }
  script_server_wait (server);
  assert_no_failure (server);
  g_assert_cmpuint (script_server_get_connections (server), ==, 1);
  received = script_server_get_received (server);
  g_assert_cmpuint (count_of (received, "EHLO "), ==, 1);
  g_assert_cmpuint (count_of (received, "AUTH "), ==, 1);
  g_assert_cmpuint (count_of (received, "BDAT "), ==, 3);
  g_assert_cmpuint (count_of (script_server_get_data (server), "Hello\r\n.\r\nBye\r\n"), ==, 3);
  g_assert_cmpuint (count_of (received, "QUIT\r\n"), ==, 1);
  g_assert_true (g_str_has_suffix (received, "QUIT\r\n"));
}

static void
test_keep_open_close (Fixture       *fixture,
                      gconstpointer  data)
{
  /* The run ended without a last message (the flush found the rest gone): close says QUIT. */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 PIPELINING\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    "data", "> 250 done\r\n",
    "< QUIT", "> 221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  gboolean closed = FALSE;

  use_server (fixture, server);
  relay_smtp_client_set_keep_open (fixture->client, TRUE);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 done");
  g_assert_null (strstr (relay_smtp_client_get_transcript (fixture->client), "QUIT"));
  relay_smtp_client_close_async (fixture->client, NULL, on_closed_cb, &closed);
  while (!closed)
    g_main_context_iteration (NULL, TRUE);
  script_server_wait (server);
  assert_no_failure (server);
  g_assert_true (g_str_has_suffix (script_server_get_received (server), ".\r\nQUIT\r\n"));
  g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client), "221 bye"));

  /* Nothing is open any more: a second close has nothing to do. */
  closed = FALSE;
  relay_smtp_client_close_async (fixture->client, NULL, on_closed_cb, &closed);
  while (!closed)
    g_main_context_iteration (NULL, TRUE);
}

static void
test_keep_open_close_redacts (Fixture       *fixture,
                              gconstpointer  data)
{
  /* A server that echoes the password in its goodbye: the QUIT that close sends is part of a
   * logged-in session, and its reply is redacted as every other one. */
  g_autofree char *token = plain_token ();
  g_autofree char *expect = g_strconcat ("< AUTH PLAIN ", token, NULL);
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-AUTH PLAIN\r\n250 PIPELINING\r\n",
    expect, "> 235 2.7.0 ok\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    "data", "> 250 done\r\n",
    "< QUIT", "> 221 bye " PASSWORD "\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  gboolean closed = FALSE;
  const char *transcript;

  use_server (fixture, server);
  enable_auth (fixture);
  relay_smtp_client_set_keep_open (fixture->client, TRUE);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  relay_smtp_client_close_async (fixture->client, NULL, on_closed_cb, &closed);
  while (!closed)
    g_main_context_iteration (NULL, TRUE);
  script_server_wait (server);
  assert_no_failure (server);
  transcript = relay_smtp_client_get_transcript (fixture->client);
  g_assert_nonnull (strstr (transcript, "221 bye <redacted>"));
  g_assert_null (strstr (transcript, PASSWORD));
}

static void
test_keep_open_helo (Fixture       *fixture,
                     gconstpointer  data)
{
  /* Postfix refuses the HELO name at RCPT, on the second message of a session kept open: the
   * error names the name the session introduced itself with, which the reused send knows. */
  const char * const script[] = {
    GREETING, "< EHLO [127.0.0.1]", "> 250-mx\r\n250 PIPELINING\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    "data", "> 250 done\r\n",
    "<< 4", "> 250 2.1.0 Ok\r\n554 5.7.1 <[127.0.0.1]>: Helo command rejected: use your FQDN\r\n"
            "554 5.5.1 Error: no valid recipients\r\n554 5.5.1 Error: no valid recipients\r\n",
    /* every reply read: the session stays for the flush to end */
    "< QUIT", "> 221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *second = NULL;
  gboolean closed = FALSE;

  if (strchr (g_get_host_name (), '.') != NULL)
    {
      g_test_skip ("the host name is fully qualified: it is the default EHLO name");
      return;
    }
  use_server (fixture, server);
  relay_smtp_client_set_helo_name (fixture->client, NULL);   /* as a flush's client */
  relay_smtp_client_set_keep_open (fixture->client, TRUE);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  second = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_null (second);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_EHLO);
  g_assert_nonnull (strstr (error->message, "(EHLO [127.0.0.1])"));
  g_assert_cmpuint (relay_smtp_client_get_last_reply_code (fixture->client), ==, 554);
  relay_smtp_client_close_async (fixture->client, NULL, on_closed_cb, &closed);
  while (!closed)
    g_main_context_iteration (NULL, TRUE);
  script_server_wait (server);
  assert_no_failure (server);
  g_assert_cmpuint (script_server_get_connections (server), ==, 1);
}

static void
test_keep_open_stale (Fixture       *fixture,
                      gconstpointer  data)
{
  /* The server ends the session kept open, by closing it or with a 421 to the next MAIL: the
   * send fails as "stale", and the next one connects anew. A 421 on a new session is not
   * stale: the server means it. */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 2", "bdat", "> 250 ok\r\n250 ok\r\n250 2.0.0 queued as 1\r\n", "close",
    "--",
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 2", "bdat", "> 250 ok\r\n250 ok\r\n250 2.0.0 queued as 2\r\n",
    "<< 2", "> 421 4.4.2 mx Error: timeout exceeded\r\n", "close",
    "--",
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 2", "> 421 4.3.2 mx Service shutting down\r\n", "close",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(RelaySmtpMessage) message = single_recipient_message ();
  struct { const char *reply; gboolean stale; } expected[] = {
    { "250 2.0.0 queued as 1", FALSE },
    { NULL, TRUE },                       /* closed while idle */
    { "250 2.0.0 queued as 2", FALSE },
    { NULL, TRUE },                       /* 421 to MAIL on the kept session */
    { NULL, FALSE },                      /* 421 to MAIL on a new session */
  };

  use_server (fixture, server);
  relay_smtp_client_set_keep_open (fixture->client, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *reply = run_send (fixture->client, message, NULL, &error);

      g_assert_cmpstr (reply, ==, expected[i].reply);
      g_assert_true (reply != NULL || error != NULL);
      g_assert_cmpint (relay_smtp_client_get_stale_session (fixture->client), ==, expected[i].stale);
    }
  g_assert_cmpuint (script_server_get_connections (server), ==, 3);
}

static void
test_keep_open_refused (Fixture       *fixture,
                        gconstpointer  data)
{
  /* A flush meets messages that the server refuses: after their content, at a recipient
   * (greylisting), at the sender. Each transaction ends with every reply read, so the next
   * message goes on the same session, after an RSET (the server may still hold the refused
   * transaction's sender): alone when the flight would carry the message (BDAT), so that a
   * refused RSET leaves nothing of it taken. A 421 ends the session, and so does a 354 (the
   * server waits for a message to the recipient it accepted, which only closing aborts). The
   * code the caller judges by is the refusal's, not that of the replies read after it. */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    /* 1: DATA, refused after the content */
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", "data", "> 554 5.7.1 spam\r\n",
    /* 2: BDAT, refused after the content */
    "< RSET", "alone", "> 250 2.0.0 reset\r\n",
    "<< 2", "bdat", "> 250 ok\r\n250 ok\r\n550 5.7.1 content rejected\r\n",
    /* 3: greylisted recipient; the BDAT is refused for want of one */
    "< RSET", "alone", "> 250 2.0.0 reset\r\n",
    "<< 2", "bdat", "> 250 ok\r\n451 4.7.1 greylisted\r\n554 5.5.1 no valid recipients\r\n",
    /* 4: refused sender; so are the recipient and the BDAT */
    "< RSET", "alone", "> 250 2.0.0 reset\r\n",
    "<< 2", "bdat", "> 553 5.7.1 sender not owned\r\n503 5.5.1 need MAIL\r\n"
    "503 5.5.1 need MAIL\r\n",
    /* 5: accepted */
    "< RSET", "alone", "> 250 2.0.0 reset\r\n",
    "<< 2", "bdat", "> 250 ok\r\n250 ok\r\n250 2.0.0 queued as 1\r\n",
    /* 6: refused after the content by a server that is closing */
    "<< 2", "bdat", "> 250 ok\r\n250 ok\r\n421 4.3.2 shutting down\r\n", "close",
    "--",
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    /* 7: two recipients, the first refused, the second accepted: DATA gets 354 */
    "<< 4", "> 250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n354 go\r\n", "close",
    "--",
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    /* 8: the last, with QUIT */
    "<< 2", "bdat", "< QUIT", "> 250 ok\r\n250 ok\r\n250 2.0.0 queued as 2\r\n221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(RelaySmtpMessage) single = single_recipient_message ();
  struct { gboolean two; const char *reply; RelaySmtpError error; guint code; } expected[] = {
    { TRUE, NULL, RELAY_SMTP_ERROR_DATA, 554 },
    { FALSE, NULL, RELAY_SMTP_ERROR_DATA, 550 },
    { FALSE, NULL, RELAY_SMTP_ERROR_RECIPIENT, 451 },
    { FALSE, NULL, RELAY_SMTP_ERROR_SENDER, 553 },
    { FALSE, "250 2.0.0 queued as 1", 0, 250 },
    { FALSE, NULL, RELAY_SMTP_ERROR_DATA, 421 },
    { TRUE, NULL, RELAY_SMTP_ERROR_RECIPIENT, 550 },
    { FALSE, "250 2.0.0 queued as 2", 0, 221 },
  };

  use_server (fixture, server);
  relay_smtp_client_set_keep_open (fixture->client, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *reply = NULL;

      g_test_message ("message %u", i + 1);
      if (i == G_N_ELEMENTS (expected) - 1)
        relay_smtp_client_set_keep_open (fixture->client, FALSE);
      reply = run_send (fixture->client, expected[i].two ? fixture->message : single, NULL,
                        &error);
      g_assert_cmpstr (reply, ==, expected[i].reply);
      if (reply == NULL)
        g_assert_error (error, RELAY_SMTP_ERROR, (int) expected[i].error);
      g_assert_cmpuint (relay_smtp_client_get_last_reply_code (fixture->client), ==,
                        expected[i].code);
      g_assert_false (relay_smtp_client_get_stale_session (fixture->client));
    }
  script_server_wait (server);
  assert_no_failure (server);
  g_assert_cmpuint (script_server_get_connections (server), ==, 3);
  g_assert_cmpuint (count_of (script_server_get_received (server), "RSET"), ==, 4);
}

/* A server that says more than the replies due (here a 500 after the last one, as when it
 * reads a refused BDAT's chunk as commands) is out of step: the session is not kept, or the
 * next message's RSET would read a reply to something else. */
static void
test_keep_open_refused_extra_reply (Fixture       *fixture,
                                    gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 2", "bdat",
    "> 250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n"
    "500 5.5.2 command not recognized\r\n",
    "--",
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 2", "bdat", "< QUIT", "> 250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(RelaySmtpMessage) single = single_recipient_message ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  relay_smtp_client_set_keep_open (fixture->client, TRUE);
  reply = run_send (fixture->client, single, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_RECIPIENT);
  g_assert_cmpuint (relay_smtp_client_get_last_reply_code (fixture->client), ==, 550);
  g_clear_error (&error);

  relay_smtp_client_set_keep_open (fixture->client, FALSE);
  reply = run_send (fixture->client, single, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 2.0.0 queued");
  g_assert_false (relay_smtp_client_get_stale_session (fixture->client));
  script_server_wait (server);
  assert_no_failure (server);
  g_assert_cmpuint (script_server_get_connections (server), ==, 2);
}

static void
test_keep_open_rset_refused (Fixture       *fixture,
                             gconstpointer  data)
{
  /* The RSET that follows a refused transaction gets 421, or an error: nothing of the message
   * was taken, so the send is "stale" and may go again on a new connection. Without
   * PIPELINING the RSET goes alone, before MAIL, and so it does when the flight would carry
   * the message (BDAT): a server that refuses the RSET may still take what follows it. */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 2", "bdat", "> 250 ok\r\n250 ok\r\n550 5.7.1 content rejected\r\n",
    "< RSET", "alone", "> 421 4.4.2 mx timeout\r\n", "close",
    "--",
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 2", "bdat", "> 250 ok\r\n250 ok\r\n550 5.7.1 content rejected\r\n",
    "< RSET", "alone", "> 502 5.5.1 not now\r\n", "close",
    "--",
    GREETING, "< EHLO ", "> 250 mx\r\n",
    "< MAIL", "> 250 ok\r\n", "< RCPT", "> 550 5.1.1 no such user\r\n",
    "< RSET", "> 502 5.5.1 not implemented\r\n", "close",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(RelaySmtpMessage) single = single_recipient_message ();
  struct { guint code; gboolean stale; } expected[] = {
    { 550, FALSE }, { 421, TRUE }, { 550, FALSE }, { 502, TRUE }, { 550, FALSE }, { 502, TRUE },
  };

  use_server (fixture, server);
  relay_smtp_client_set_keep_open (fixture->client, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *reply = run_send (fixture->client, single, NULL, &error);

      g_test_message ("message %u", i + 1);
      g_assert_null (reply);
      g_assert_nonnull (error);
      g_assert_cmpuint (relay_smtp_client_get_last_reply_code (fixture->client), ==,
                        expected[i].code);
      g_assert_cmpint (relay_smtp_client_get_stale_session (fixture->client), ==,
                       expected[i].stale);
      /* stale: nothing of it went, so a new connection may send it without a duplicate */
      if (expected[i].stale)
        g_assert_false (relay_smtp_client_get_message_written (fixture->client));
    }
  script_server_wait (server);
  assert_no_failure (server);
  g_assert_cmpuint (script_server_get_connections (server), ==, 3);
}

/* A message far larger than the socket buffers: the server can answer and close while the
 * client still writes it. */
static RelaySmtpMessage *
big_message (guint n_recipients)
{
  const char * const to[] = { "ops@example.org", "second@example.org", NULL };
  g_autofree char *line = g_strnfill (900, 'x');
  g_autoptr(GString) body = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  RelaySmtpMessage *message;

  while (body->len < 16 * 1024 * 1024)
    g_string_append_printf (body, "%s\n", line);
  /* Dot-stuffed with DATA; as is with BDAT, where it tells "slow data" where the chunk ends. */
  g_string_append (body, ".\n");
  message = relay_smtp_message_new ("alerts@example.com", "Robot",
                                    n_recipients == 1 ? (const char * const[]) { to[0], NULL } : to,
                                    "Backup log", body->str, &error);
  g_assert_no_error (error);
  return message;
}

/* The server refuses the message while it arrives and closes (552, too big): the write fails,
 * and the reply in the receive buffer says why. Reported as the refusal it is, which is not
 * retried, instead of as a closed connection, which would be queued and sent again forever. */
static void
test_refused_while_writing (Fixture       *fixture,
                            gconstpointer  data)
{
  gboolean bdat = GPOINTER_TO_INT (data);
  const char * const data_script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 PIPELINING\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    "> 552 5.3.4 Message size exceeds fixed limit\r\n", "close",
    NULL
  };
  const char * const bdat_script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 3", "> 250 ok\r\n250 ok\r\n552 5.3.4 Message size exceeds fixed limit\r\n", "close",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (bdat ? bdat_script : data_script);
  g_autoptr(RelaySmtpMessage) message = big_message (bdat ? 1 : 2);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  reply = run_send (fixture->client, message, NULL, &error);
  g_assert_null (reply);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DATA);
  g_assert_nonnull (strstr (error->message, "Message size exceeds fixed limit"));
  g_assert_cmpuint (relay_smtp_client_get_last_reply_code (fixture->client), ==, 552);
  g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client),
                            "S: 552 5.3.4 Message size exceeds fixed limit"));
  assert_no_failure (server);
}

/* As above in a flush: the refusal is read after the write failed, on a connection that the
 * server closed, so the session is not kept: the next message connects at once, rather than
 * failing first on the dead session. */
static void
test_keep_open_refused_while_writing (Fixture       *fixture,
                                      gconstpointer  data)
{
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 PIPELINING\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    "> 552 5.3.4 Message size exceeds fixed limit\r\n", "close",
    "--",
    GREETING, "< EHLO ", "> 250-mx\r\n250 PIPELINING\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    "data", "< QUIT", "> 250 2.0.0 queued\r\n221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(RelaySmtpMessage) big = big_message (2);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  relay_smtp_client_set_keep_open (fixture->client, TRUE);
  reply = run_send (fixture->client, big, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DATA);
  g_assert_cmpuint (relay_smtp_client_get_last_reply_code (fixture->client), ==, 552);
  g_clear_error (&error);

  relay_smtp_client_set_keep_open (fixture->client, FALSE);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 2.0.0 queued");
  g_assert_null (strstr (relay_smtp_client_get_transcript (fixture->client), "Still connected"));
  script_server_wait (server);
  assert_no_failure (server);
  g_assert_cmpuint (script_server_get_connections (server), ==, 2);
}

/* A message that takes longer to arrive than a reply deadline, on a slow link, and a server
 * that scans it for longer than that before it answers (RFC 5321 §4.5.3.2.6 allows it ten
 * minutes): both are a success, not a timeout that queues the message to be sent twice. */
static void
test_slow_transfer_and_answer (Fixture       *fixture,
                               gconstpointer  data)
{
  gboolean bdat = GPOINTER_TO_INT (data);
  const char * const data_script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 PIPELINING\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    "slow data", "sleep", "> 250 2.0.0 queued after a scan\r\n", "< QUIT", "> 221 bye\r\n",
    NULL
  };
  const char * const bdat_script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    "<< 3", "> 250 ok\r\n250 ok\r\n", "slow data", "sleep",
    "> 250 2.0.0 queued after a scan\r\n221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (bdat ? bdat_script : data_script);
  g_autoptr(RelaySmtpMessage) message = big_message (bdat ? 1 : 2);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  g_object_set (fixture->client, "reply-timeout", test_ms (1000), NULL);
  use_server (fixture, server);
  reply = run_send (fixture->client, message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 2.0.0 queued after a scan");
  assert_no_failure (server);
}

static gboolean
give_password_cb (gpointer user_data)
{
  relay_smtp_client_set_password (RELAY_SMTP_CLIENT (user_data), PASSWORD);
  return G_SOURCE_REMOVE;
}

static void
test_password_pending (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autofree char *token = plain_token ();
  g_autofree char *expect = g_strconcat ("< AUTH PLAIN ", token, NULL);
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-AUTH PLAIN\r\n250 PIPELINING\r\n",
    expect, "> 235 2.7.0 Authentication successful\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", "data", "> 250 done\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  enable_auth (fixture);
  relay_smtp_client_set_password (fixture->client, NULL);
  relay_smtp_client_set_password_pending (fixture->client, TRUE);
  g_timeout_add (200, give_password_cb, fixture->client);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 done");
  assert_no_failure (server);
  g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client),
                            "waiting for the password"));
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

static void
test_password_pending_cancelled (Fixture       *fixture,
                                 gconstpointer  data)
{
  /* The keyring has no password: the caller cancels, and nothing past EHLO was sent. */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-AUTH PLAIN\r\n250 PIPELINING\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  use_server (fixture, server);
  enable_auth (fixture);
  relay_smtp_client_set_password_pending (fixture->client, TRUE);
  g_timeout_add (200, cancel_cb, cancellable);
  reply = run_send (fixture->client, fixture->message, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (strstr (script_server_get_received (server), "AUTH"));
  relay_smtp_client_set_password_pending (fixture->client, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) \
  g_test_add ("/relay/smtp/client/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("pipelining", test_pipelining);
  ADD ("keep-open", test_keep_open);
  ADD ("keep-open-close", test_keep_open_close);
  ADD ("keep-open-close-redacts", test_keep_open_close_redacts);
  ADD ("keep-open-helo", test_keep_open_helo);
  ADD ("keep-open-stale", test_keep_open_stale);
  ADD ("keep-open-refused", test_keep_open_refused);
  ADD ("keep-open-rset-refused", test_keep_open_rset_refused);
  ADD ("keep-open-refused-extra-reply", test_keep_open_refused_extra_reply);
  ADD ("keep-open-refused-while-writing", test_keep_open_refused_while_writing);
  ADD ("multi-line-no-pipelining", test_multi_line_no_pipelining);
  ADD ("helo-fallback", test_helo_fallback);
  ADD ("quit-ignored", test_quit_ignored);
  ADD ("bdat", test_bdat);
  ADD ("bdat/recipient-refused", test_bdat_recipient_refused);
  ADD ("data-quit-pipelined", test_data_quit_pipelined);
  g_test_add ("/relay/smtp/client/refused-while-writing/data", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_refused_while_writing, fixture_teardown);
  g_test_add ("/relay/smtp/client/refused-while-writing/bdat", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_refused_while_writing, fixture_teardown);
  g_test_add ("/relay/smtp/client/slow-transfer-and-answer/data", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_slow_transfer_and_answer, fixture_teardown);
  g_test_add ("/relay/smtp/client/slow-transfer-and-answer/bdat", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_slow_transfer_and_answer, fixture_teardown);
  ADD ("auth/password-pending", test_password_pending);
  ADD ("auth/password-pending-cancelled", test_password_pending_cancelled);
  ADD ("default-helo", test_default_helo);
  ADD ("greeting-421", test_greeting_421);
  ADD ("shutdown-waits-for-tls-work", test_shutdown_waits_for_tls_work);
  ADD ("exit-waits-for-tls-work", test_exit_waits_for_tls_work);
  ADD ("malformed/bare-lf", test_malformed_bare_lf);
  ADD ("malformed/not-smtp", test_malformed_not_smtp);
  ADD ("malformed/mixed-codes", test_malformed_mixed_codes);
  ADD ("sender-refused", test_sender_refused);
  ADD ("recipient-refused", test_recipient_refused);
  ADD ("rcpt-blames-other", test_rcpt_blames_other);
  ADD ("data-refused", test_data_refused);
  ADD ("starttls/not-offered", test_starttls_not_offered);
  ADD ("starttls/refused", test_starttls_refused);
  ADD ("starttls/injection", test_starttls_injection);
  ADD ("timeout/silent-server", test_silent_server);
  ADD ("timeout/dripping-server", test_dripping_server);
  ADD ("timeout/session", test_session_deadline);
  ADD ("timeout/tls-handshake", test_tls_handshake_timeout);
  ADD ("tls/plain-server", test_tls_to_plain_server);
  ADD ("closed-mid-session", test_closed_mid_session);
  ADD ("endless-line", test_endless_line);
  ADD ("auth/plain", test_auth_plain);
  ADD ("auth/login", test_auth_login);
  ADD ("auth/cram-md5", test_auth_cram_md5);
  ADD ("auth/rejected", test_auth_rejected);
  ADD ("auth/endless-challenges", test_auth_endless_challenges);
  ADD ("auth/unavailable", test_auth_unavailable);
  ADD ("auth/plaintext-refused", test_plaintext_auth_refused);
  ADD ("injection-refused", test_injection_refused);
  ADD ("connection-refused", test_connection_refused);
  ADD ("next-address", test_next_address);
  ADD ("unanswered-address", test_unanswered_address);
  ADD ("known-addresses", test_known_addresses);
  ADD ("dns/not-found", test_dns_not_found);
  ADD ("dns/temporary-failure", test_dns_temporary_failure);
  ADD ("dns/hang", test_dns_hang);
  ADD ("cancel/each-step", test_cancel_each_step);
  ADD ("cancel/while-waiting", test_cancel_while_waiting);
  ADD ("cancel/dns-hang", test_cancel_dns_hang);
  ADD ("cancel/before-start", test_cancel_before_start);
  g_test_add_func ("/relay/smtp/error/network-mapping", test_error_mapping);

  return g_test_run ();
}
