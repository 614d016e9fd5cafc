/* test-smtp-hostile.c: whatever a server sends, the client stays safe, bounded and truthful
 *
 * A scripted server (smtp-test-helpers) plays a hostile or broken relay at every step of a
 * session: dripping, hanging, closing, flooding, malformed codes, forged STARTTLS replies,
 * capabilities that change across TLS, endless AUTH challenges and text meant to fool a
 * person. With throw-away certificates made by openssl it also speaks real TLS, so the TLS
 * identity rules and the certificate failure reasons are checked end to end.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "relay-mock-resolver.h"
#include "relay-smtp-client.h"
#include "relay-smtp-error.h"
#include "smtp-test-helpers.h"

#define GREETING "> 220 mx.example.test ESMTP ready\r\n"
#define USER "alice@example.com"
/* a canary: it must never be seen anywhere but on the wire, inside TLS */
#define CANARY "Canary-7f3a9c-Pässwörd"
#define REPLY_TIMEOUT_MS test_ms (500)

static TestCerts *certs;   /* NULL when openssl is missing: the TLS tests skip */

typedef struct
{
  RelaySmtpClient   *client;
  RelaySmtpMessage  *message;
  RelayMockResolver *resolver;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  const char * const to[] = { "ops@example.org", NULL };
  g_autoptr(GError) error = NULL;

  fixture->resolver = relay_mock_resolver_install ();
  relay_mock_resolver_set_addresses (fixture->resolver, "relay.example.test", 0, "127.0.0.1", NULL);
  fixture->message = relay_smtp_message_new ("alerts@example.com", "Robot", to, "Test",
                                             "Hello\n.\nBye\n", &error);
  g_assert_no_error (error);
  fixture->client = relay_smtp_client_new ();
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_NONE);
  relay_smtp_client_set_helo_name (fixture->client, "client.example.test");
  relay_smtp_client_set_host (fixture->client, "127.0.0.1");
  /* Every phase has a deadline: the reply to the end of the message too, which normally
   * gets the RFC's 10 minutes (test-smtp-client checks that one). */
  g_object_set (fixture->client, "reply-timeout", REPLY_TIMEOUT_MS,
                "data-end-timeout", REPLY_TIMEOUT_MS, NULL);
  if (certs != NULL)
    relay_smtp_client_set_tls_database (fixture->client, certs->ca);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_assert_finalize_object (fixture->client);
  relay_smtp_message_unref (fixture->message);
  relay_mock_resolver_uninstall (fixture->resolver);
}

static gboolean
need_certs (void)
{
  if (certs == NULL)
    g_test_skip ("openssl could not make test certificates");
  return certs != NULL;
}

/* A TLS handshake under a sanitizer on a busy CI machine can take longer than the short
 * deadline of the misbehaving-server tests: sessions that must succeed get a long one. */
static void
allow_slow_handshake (Fixture *fixture)
{
  g_object_set (fixture->client, "reply-timeout", test_ms (10000), NULL);
}

static void
enable_auth (Fixture *fixture)
{
  relay_smtp_client_set_username (fixture->client, USER);
  relay_smtp_client_set_password (fixture->client, CANARY);
}

/* Runs one session against @server; returns the error (NULL on success). */
static GError *
run_against (Fixture      *fixture,
             ScriptServer *server,
             char        **reply_out)
{
  GError *error = NULL;
  char *reply;

  relay_smtp_client_set_port (fixture->client, script_server_get_port (server));
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  if (reply_out)
    *reply_out = reply;
  else
    g_free (reply);
  return error;
}

static void
assert_error (GError         *error,
              RelaySmtpError  code,
              const char     *in_message)
{
  g_assert_error (error, RELAY_SMTP_ERROR, (int) code);
  if (in_message != NULL && strstr (error->message, in_message) == NULL)
    g_error ("“%s” not in “%s”", in_message, error->message);
  /* whatever went wrong, the message is plain, valid, one-line text */
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_null (strpbrk (error->message, "\r\n\x1b"));
}

static void
assert_no_failure (ScriptServer *server)
{
  g_assert_cmpstr (script_server_get_failure (server), ==, NULL);
}

/* --- every phase: drip, hang, close ------------------------------------------------------- */

typedef enum
{
  MISBEHAVE_DRIP,
  MISBEHAVE_HANG,
  MISBEHAVE_CLOSE,
} Misbehaviour;

typedef struct
{
  const char *name;
  const char *during;     /* in the error text */
  const char *script[16];
} PhaseScript;

/* Each script brings the session to the point where the client waits for one reply. */
static const PhaseScript phases[] = {
  { "greeting", "greeting", { NULL } },
  { "ehlo", "EHLO", { GREETING, "< EHLO ", NULL } },
  { "auth", "logging in",
    { GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n", "< AUTH PLAIN", NULL } },
  { "mail", "sender",
    { GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n", "< AUTH PLAIN", "> 235 ok\r\n",
      "< MAIL", NULL } },
  { "rcpt", "recipients",
    { GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n", "< AUTH PLAIN", "> 235 ok\r\n",
      "< MAIL", "> 250 ok\r\n", "< RCPT", NULL } },
  { "data", "starting the message",
    { GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n", "< AUTH PLAIN", "> 235 ok\r\n",
      "< MAIL", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n", "< DATA", NULL } },
  { "end-of-data", "waiting for the message to be accepted",
    { GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n", "< AUTH PLAIN", "> 235 ok\r\n",
      "< MAIL", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n", "< DATA", "> 354 go\r\n", "data",
      NULL } },
};

static void
run_phase (Fixture           *fixture,
           const PhaseScript *phase,
           Misbehaviour       how)
{
  g_autoptr(GPtrArray) script = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  ScriptServer *server;
  gint64 start;
  gint64 elapsed;

  for (guint i = 0; phase->script[i] != NULL; i++)
    g_ptr_array_add (script, (char *) phase->script[i]);
  if (how == MISBEHAVE_DRIP)
    /* 100 ms a byte: 5 s for the line, while the reply deadline is 300 ms */
    g_ptr_array_add (script, (char *) "drip 250 this reply comes one byte at a time, far too slowly\r\n");
  else if (how == MISBEHAVE_CLOSE)
    g_ptr_array_add (script, (char *) "close");
  g_ptr_array_add (script, NULL);

  server = script_server_new ((const char * const *) script->pdata);
  start = g_get_monotonic_time ();
  error = run_against (fixture, server, NULL);
  elapsed = g_get_monotonic_time () - start;

  g_test_message ("%s/%d: %s (%.2f s)", phase->name, how, error ? error->message : "no error",
                  elapsed / 1e6);
  if (how == MISBEHAVE_CLOSE)
    assert_error (error, RELAY_SMTP_ERROR_CLOSED, NULL);
  else
    assert_error (error, RELAY_SMTP_ERROR_TIMEOUT, phase->during);
  /* the deadline of a phase is not stretched by a dripping server */
  g_assert_cmpint (elapsed, <, (REPLY_TIMEOUT_MS + test_ms (1500)) * 1000);
  assert_no_failure (server);
  script_server_free (server);
}

static void
test_phases (Fixture       *fixture,
             gconstpointer  data)
{
  Misbehaviour how = GPOINTER_TO_INT (data);

  enable_auth (fixture);
  relay_smtp_client_set_allow_plaintext_auth (fixture->client, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
    run_phase (fixture, &phases[i], how);
}

/* --- unbounded and malformed replies ------------------------------------------------------ */

static void
test_endless_continuation (Fixture       *fixture,
                           gconstpointer  data)
{
  const char * const script[] = { "lines 100000 220-still greeting\r\n", NULL };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = run_against (fixture, server, NULL);

  assert_error (error, RELAY_SMTP_ERROR_PROTOCOL, "lines");
}

static void
test_huge_reply (Fixture       *fixture,
                 gconstpointer  data)
{
  /* each line is within the line limit, all together they are not */
  g_autofree char *filler = g_strnfill (4000, 'x');
  g_autofree char *lines = g_strdup_printf ("lines 40 220-%s\r\n", filler);
  const char * const script[] = { lines, NULL };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = run_against (fixture, server, NULL);

  assert_error (error, RELAY_SMTP_ERROR_PROTOCOL, NULL);
}

static void
test_huge_line (Fixture       *fixture,
                gconstpointer  data)
{
  const char * const script[] = { GREETING, "< EHLO ", "flood", NULL };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = run_against (fixture, server, NULL);

  assert_error (error, RELAY_SMTP_ERROR_PROTOCOL, "longer than");
}

static void
test_malformed_codes (Fixture       *fixture,
                      gconstpointer  data)
{
  const char *greetings[] = {
    "> 2200 ready\r\n", "> 22 ready\r\n", "> 2x0 ready\r\n", "> 220ready\r\n", "> -220 ready\r\n",
    "> 099 ready\r\n", "> 620 ready\r\n", "> 190 ready\r\n", "> 220\tready\r\n",
    "> \xd9\xa2\xd9\xa2\xd9\xa0 ready\r\n", "> 220-a\r\n221 b\r\n", "> 220 a\r\r\n",
    "> 220 a\nb\r\n", "> +220 ready\r\n", "> 220-\r\n220-\r\n2x0 a\r\n", "> \r\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (greetings); i++)
    {
      const char * const script[] = { greetings[i], NULL };
      g_autoptr(ScriptServer) server = script_server_new (script);
      g_autoptr(GError) error = run_against (fixture, server, NULL);

      g_test_message ("%u: %s", i, error ? error->message : "accepted");
      assert_error (error, RELAY_SMTP_ERROR_PROTOCOL, NULL);
      /* nothing was sent to a server that is not speaking SMTP */
      g_assert_cmpstr (script_server_get_received (server), ==, "");
    }
}

static void
test_hostile_text (Fixture       *fixture,
                   gconstpointer  data)
{
  const char * const script[] = {
    "> 554 5.7.1 \x1b[31m\x1b]0;owned\x07<b>Go away</b> <a href=\"http://x\">click</a> "
    "\xe2\x80\xae" "gnp.exe\x07\r\n", NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = run_against (fixture, server, NULL);
  const char *transcript = relay_smtp_client_get_transcript (fixture->client);

  assert_error (error, RELAY_SMTP_ERROR_GREETING, "<b>Go away</b> <a href=\"http://x\">click</a>");
  g_assert_null (strstr (error->message, "\xe2\x80\xae"));
  g_assert_null (strstr (error->message, "[31m"));
  g_assert_null (strstr (error->message, "owned"));
  g_assert_null (strchr (error->message, '\x07'));
  g_assert_null (strstr (transcript, "\xe2\x80\xae"));
  g_assert_null (strchr (transcript, '\x1b'));
}

static void
test_auth_challenges (Fixture       *fixture,
                      gconstpointer  data)
{
  /* PLAIN sends everything at once: any challenge after it is one too many. CRAM-MD5 has
   * exactly one. */
  const char * const plain[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n", "< AUTH PLAIN ", "> 334 \r\n", NULL
  };
  const char * const cram[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH CRAM-MD5\r\n", "< AUTH CRAM-MD5",
    "> 334 PDEyMzQ1LjY3ODlAZXhhbXBsZT4=\r\n", "< ", "> 334 PDEyMzQ1LjY3ODlAZXhhbXBsZT4=\r\n", NULL
  };
  const char * const *scripts[] = { plain, cram };

  enable_auth (fixture);
  relay_smtp_client_set_allow_plaintext_auth (fixture->client, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (scripts); i++)
    {
      g_autoptr(ScriptServer) server = script_server_new (scripts[i]);
      g_autoptr(GError) error = run_against (fixture, server, NULL);

      assert_error (error, RELAY_SMTP_ERROR_AUTH, "more login steps");
      g_assert_null (strstr (script_server_get_received (server), "MAIL"));
    }
}

static void
test_eight_bit_needs_8bitmime (Fixture       *fixture,
                               gconstpointer  data)
{
  const char * const to[] = { "ops@example.org", NULL };
  /* an 8-bit address: encoded-words may not stand there */
  static const char text[] = "From: Andr\xc3\xa9 <alerts@example.com>\r\n\r\nna\xc3\xafve\r\n";
  g_autoptr(GBytes) raw = g_bytes_new_static (text, strlen (text));
  g_autoptr(GError) local_error = NULL;
  const char * const script[] = { GREETING, "< EHLO ", "> 250-mx\r\n250 SIZE 1000\r\n", NULL };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;

  relay_smtp_message_unref (fixture->message);
  fixture->message = relay_smtp_message_new_raw ("alerts@example.com", to, raw, &local_error);
  g_assert_no_error (local_error);
  error = run_against (fixture, server, NULL);
  assert_error (error, RELAY_SMTP_ERROR_DATA, "8BITMIME");
  /* says why it was not re-encoded, and no hint points to a reply that never came */
  g_assert_nonnull (strstr (error->message, "header field “From”"));
  g_assert_null (relay_smtp_error_hint (error, relay_smtp_client_get_last_reply_code (fixture->client)));
  /* refused before MAIL: nothing of the message reached the server */
  g_assert_null (strstr (script_server_get_received (server), "MAIL"));
}

/* An 8-bit body goes to a server without 8BITMIME re-encoded, as Postfix would send it, rather
 * than fail for good (cron's UTF-8 output to an old relay). */
static void
test_eight_bit_body_reencoded (Fixture       *fixture,
                               gconstpointer  data)
{
  const char * const to[] = { "ops@example.org", NULL };
  static const char text[] = "Subject: disk\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                             "Secteur d\xc3\xa9" "fectueux\r\n";
  g_autoptr(GBytes) raw = g_bytes_new_static (text, strlen (text));
  g_autoptr(GError) local_error = NULL;
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 PIPELINING\r\n",
    "<< 3", "> 250 ok\r\n250 ok\r\n354 go\r\n", "data", "> 250 queued\r\n", "< QUIT", "> 221 bye\r\n", NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  const char *sent;

  relay_smtp_message_unref (fixture->message);
  fixture->message = relay_smtp_message_new_raw ("alerts@example.com", to, raw, &local_error);
  g_assert_no_error (local_error);
  error = run_against (fixture, server, NULL);
  g_assert_no_error (error);
  assert_no_failure (server);

  g_assert_null (strstr (script_server_get_received (server), "BODY=8BITMIME"));
  sent = script_server_get_data (server);
  for (const char *p = sent; *p; p++)
    g_assert_cmpuint ((guchar) *p, <, 0x80);
  g_assert_nonnull (strstr (sent, "Content-Transfer-Encoding: quoted-printable\r\n"));
  g_assert_nonnull (strstr (sent, "\r\n\r\nSecteur d=C3=A9fectueux\r\n"));
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

static void
test_cancel_each_phase (Fixture       *fixture,
                        gconstpointer  data)
{
  /* The server hangs in each phase; the caller cancels while the client waits there. */
  enable_auth (fixture);
  relay_smtp_client_set_allow_plaintext_auth (fixture->client, TRUE);
  g_object_set (fixture->client, "reply-timeout", test_ms (30000), NULL);
  for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
    {
      g_autoptr(ScriptServer) server = script_server_new (phases[i].script);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *reply = NULL;
      gint64 start = g_get_monotonic_time ();

      relay_smtp_client_set_port (fixture->client, script_server_get_port (server));
      g_timeout_add_full (G_PRIORITY_DEFAULT, test_ms (150), cancel_cb, g_object_ref (cancellable),
                          g_object_unref);
      reply = run_send (fixture->client, fixture->message, cancellable, &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (g_get_monotonic_time () - start, <, test_ms (2000) * 1000);
    }
}

static void
test_command_line_limits (Fixture       *fixture,
                          gconstpointer  data)
{
  /* The longest addresses the validators let through, with every MAIL parameter: each command
   * line stays within RFC 5321's 512 octets. */
  g_autofree char *local = g_strnfill (64, 'l');
  g_autofree char *label = g_strnfill (61, 'd');
  g_autofree char *shorter = g_strnfill (57, 'e');
  /* 64 + 1 + 62 + 62 + 58 + 7 = 254 octets, the longest path */
  g_autofree char *address = g_strconcat (local, "@", label, ".", label, ".", shorter,
                                          ".example", NULL);
  const char * const to[] = { address, address, NULL };
  static const char text[] = "Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve\r\n";
  g_autoptr(GBytes) raw = g_bytes_new_static (text, strlen (text));
  g_autoptr(GError) local_error = NULL;
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n",
    "<< 4", "> 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", "data", "> 250 queued\r\n", "< QUIT", "> 221 bye\r\n", NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_cmpuint (strlen (address), ==, 254);
  relay_smtp_message_unref (fixture->message);
  fixture->message = relay_smtp_message_new_raw (address, to, raw, &local_error);
  g_assert_no_error (local_error);
  error = run_against (fixture, server, NULL);
  g_assert_no_error (error);
  assert_no_failure (server);

  lines = g_strsplit (script_server_get_received (server), "\r\n", -1);
  g_assert_true (g_str_has_prefix (lines[1], "MAIL FROM:<"));
  g_assert_nonnull (strstr (lines[1], "BODY=8BITMIME SIZE="));
  for (guint i = 0; lines[i] != NULL && !g_str_has_prefix (lines[i], "Subject:"); i++)
    g_assert_cmpuint (strlen (lines[i]) + 2, <=, 512);

  /* one octet more in the local part and the address is refused before any connection */
  {
    g_autofree char *longer = g_strconcat ("l", address, NULL);
    const char * const too_long[] = { longer, NULL };
    RelaySmtpMessage *refused = relay_smtp_message_new_raw (NULL, too_long, raw, &local_error);

    g_assert_null (refused);
    g_assert_error (local_error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT);
  }
}

/* --- TLS ---------------------------------------------------------------------------------- */

static void
test_capabilities_after_tls (Fixture       *fixture,
                             gconstpointer  data)
{
  /* Before TLS the server (or a man in the middle) offers PLAIN and PIPELINING; after TLS
   * only LOGIN and no PIPELINING. The client must use what it learnt after TLS only. */
  g_autofree char *user64 = g_base64_encode ((const guchar *) USER, strlen (USER));
  g_autofree char *pw64 = g_base64_encode ((const guchar *) CANARY, strlen (CANARY));
  g_autofree char *expect_user = g_strconcat ("< ", user64, NULL);
  g_autofree char *expect_pw = g_strconcat ("< ", pw64, NULL);
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-PIPELINING\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
    "< STARTTLS", "alone", "> 220 2.0.0 go ahead\r\n", "tls",
    "< EHLO ", "> 250-mx\r\n250 AUTH LOGIN\r\n",
    "< AUTH LOGIN", "> 334 VXNlcm5hbWU6\r\n", expect_user, "> 334 UGFzc3dvcmQ6\r\n", expect_pw,
    "> 235 2.7.0 ok\r\n",
    "< MAIL FROM:<alerts@example.com>", "alone", "> 250 ok\r\n",
    "< RCPT TO:<ops@example.org>", "alone", "> 250 ok\r\n",
    "< DATA", "alone", "> 354 go\r\n", "data", "> 250 2.0.0 queued\r\n", "< QUIT", "> 221 bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_auto(GStrv) parts = NULL;

  if (!need_certs ())
    return;
  allow_slow_handshake (fixture);
  server = script_server_new_tls (script, certs->dns);
  relay_smtp_client_set_host (fixture->client, "relay.example.test");
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  enable_auth (fixture);
  error = run_against (fixture, server, &reply);
  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, "250 2.0.0 queued");
  assert_no_failure (server);

  /* before the handshake: exactly EHLO and STARTTLS, nothing else */
  parts = g_strsplit (script_server_get_received (server), "<TLS>\r\n", 2);
  g_assert_cmpstr (parts[0], ==, "EHLO client.example.test\r\nSTARTTLS\r\n");
  g_assert_nonnull (parts[1]);
}

static void
test_starttls_hang_and_drip (Fixture       *fixture,
                             gconstpointer  data)
{
  /* after the 220 the server never starts TLS; then, in a second run, it drips after TLS */
  const char * const hang[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 STARTTLS\r\n", "< STARTTLS", "> 220 go\r\n", NULL
  };
  const char * const drip[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 STARTTLS\r\n", "< STARTTLS", "> 220 go\r\n", "tls",
    "< EHLO ", "drip 250 this reply comes one byte at a time, so that it takes eight seconds or so\r\n",
    NULL
  };
  const char * const * const scripts[] = { hang, drip };
  const char *during[] = { "encryption", "EHLO" };

  if (!need_certs ())
    return;
  /* long enough for a handshake under a sanitizer on two busy cores, far shorter than the 8 s
   * of the dripped reply */
  g_object_set (fixture->client, "reply-timeout", test_ms (2500), NULL);
  relay_smtp_client_set_host (fixture->client, "relay.example.test");
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  for (guint i = 0; i < G_N_ELEMENTS (scripts); i++)
    {
      g_autoptr(ScriptServer) server = script_server_new_tls (scripts[i], certs->dns);
      gint64 start = g_get_monotonic_time ();
      g_autoptr(GError) error = run_against (fixture, server, NULL);

      assert_error (error, RELAY_SMTP_ERROR_TIMEOUT, during[i]);
      g_assert_cmpint (g_get_monotonic_time () - start, <, test_ms (6500) * 1000);
    }
}

static void
test_cancel_during_handshake (Fixture       *fixture,
                              gconstpointer  data)
{
  /* the server agrees to STARTTLS and then never answers the ClientHello */
  const char * const script[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 STARTTLS\r\n", "< STARTTLS", "> 220 go\r\n", NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  gint64 start = g_get_monotonic_time ();

  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  g_object_set (fixture->client, "reply-timeout", test_ms (30000), NULL);
  relay_smtp_client_set_port (fixture->client, script_server_get_port (server));
  g_timeout_add_full (G_PRIORITY_DEFAULT, test_ms (200), cancel_cb, g_object_ref (cancellable),
                      g_object_unref);
  reply = run_send (fixture->client, fixture->message, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (relay_smtp_client_get_step (fixture->client), ==, RELAY_SMTP_STEP_SECURING);
  /* well before the 30 s deadline; the first handshake of the process also loads the trust
   * store, which takes seconds under a sanitizer */
  g_assert_cmpint (g_get_monotonic_time () - start, <, test_ms (10000) * 1000);
}

static void
test_implicit_tls_first (Fixture       *fixture,
                         gconstpointer  data)
{
  /* "tls" fails the script if any byte before the ClientHello is not a TLS record */
  const char * const script[] = {
    "tls", GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n", "< AUTH PLAIN ", "> 235 ok\r\n",
    "< MAIL", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n", "< DATA", "> 354 go\r\n", "data",
    "> 250 queued\r\n", "< QUIT", "> 221 bye\r\n", NULL
  };
  g_autoptr(ScriptServer) server = NULL;
  g_autoptr(GError) error = NULL;

  if (!need_certs ())
    return;
  allow_slow_handshake (fixture);
  server = script_server_new_tls (script, certs->dns);
  relay_smtp_client_set_host (fixture->client, "relay.example.test");
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_TLS);
  enable_auth (fixture);
  error = run_against (fixture, server, NULL);
  g_assert_no_error (error);
  assert_no_failure (server);
  g_assert_true (g_str_has_prefix (script_server_get_received (server), "<TLS>\r\nEHLO "));
}

typedef struct
{
  const char           *host;
  GTlsCertificate     **certificate;
  GTlsCertificateFlags  flag;        /* 0: must succeed */
  const char           *reason;
} IdentityCase;

static void
test_certificates (Fixture       *fixture,
                   gconstpointer  data)
{
  if (!need_certs ())
    return;
  allow_slow_handshake (fixture);
  {
    const IdentityCase cases[] = {
      /* an IP literal needs an IP SAN: a DNS name in the certificate does not count */
      { "127.0.0.1", &certs->dns, G_TLS_CERTIFICATE_BAD_IDENTITY,
        "It was issued for a different host name than 127.0.0.1." },
      { "127.0.0.1", &certs->ip, 0, NULL },
      /* the configured name, normalised, is the identity */
      { "RELAY.Example.Test.", &certs->dns, 0, NULL },
      { "relay.example.test", &certs->ip, G_TLS_CERTIFICATE_BAD_IDENTITY,
        "It was issued for a different host name than relay.example.test." },
      { "relay.example.test", &certs->wrong_name, G_TLS_CERTIFICATE_BAD_IDENTITY,
        "It was issued for a different host name than relay.example.test." },
      { "relay.example.test", &certs->expired, G_TLS_CERTIFICATE_EXPIRED, "It has expired." },
      { "relay.example.test", &certs->unknown_ca, G_TLS_CERTIFICATE_UNKNOWN_CA,
        "It is signed by an unknown issuer." },
    };

    relay_mock_resolver_set_addresses (fixture->resolver, "relay.example.test.", 0, "127.0.0.1", NULL);
    enable_auth (fixture);
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        const char * const script[] = {
          "tls", GREETING, "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n", "< AUTH PLAIN ",
          "> 235 ok\r\n", "< MAIL", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n", "< DATA",
          "> 354 go\r\n", "data", "> 250 queued\r\n", "< QUIT", "> 221 bye\r\n", NULL
        };
        g_autoptr(ScriptServer) server = script_server_new_tls (script, *cases[i].certificate);
        g_autoptr(GError) error = NULL;

        relay_smtp_client_set_host (fixture->client, cases[i].host);
        relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_TLS);
        error = run_against (fixture, server, NULL);
        g_test_message ("%s: %s", cases[i].host, error ? error->message : "ok");
        if (cases[i].flag == 0)
          {
            g_assert_no_error (error);
            assert_no_failure (server);
            continue;
          }
        assert_error (error, RELAY_SMTP_ERROR_CERTIFICATE, cases[i].reason);
        /* whole sentences, so that each translates on its own */
        g_assert_nonnull (strstr (error->message, " is not trusted. It "));
        g_assert_nonnull (strstr (error->message, ". Its SHA-256 fingerprint is "));
        g_assert_true (relay_smtp_client_get_certificate_errors (fixture->client) & cases[i].flag);
        /* nothing but the handshake happened */
        g_assert_true (g_str_has_prefix (script_server_get_received (server), "<TLS failed>"));
        g_assert_null (strstr (script_server_get_received (server), "EHLO"));
      }
  }
}

/* --- secrets ------------------------------------------------------------------------------ */

static GString *captured_log;

static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  if (captured_log != NULL)
    {
      for (gsize i = 0; i < n_fields; i++)
        if (fields[i].length < 0)
          g_string_append_printf (captured_log, "%s=%s\n", fields[i].key, (const char *) fields[i].value);
        else if (fields[i].value != NULL)
          {
            g_string_append_printf (captured_log, "%s=", fields[i].key);
            g_string_append_len (captured_log, fields[i].value, fields[i].length);
            g_string_append_c (captured_log, '\n');
          }
    }
  /* TAP owns stdout: pass on only what the default writer would print anyway */
  if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
capture_handler (const char     *domain,
                 GLogLevelFlags  level,
                 const char     *message,
                 gpointer        user_data)
{
  if (captured_log != NULL)
    g_string_append_printf (captured_log, "%s: %s\n", domain ? domain : "", message);
}

/* The secret and every form of it that a careless client could write somewhere. */
static GPtrArray *
secret_forms (void)
{
  GPtrArray *forms = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) plain = g_string_new (NULL);

  g_string_append_c (plain, '\0');
  g_string_append (plain, USER);
  g_string_append_c (plain, '\0');
  g_string_append (plain, CANARY);
  g_ptr_array_add (forms, g_strdup (CANARY));
  g_ptr_array_add (forms, g_base64_encode ((const guchar *) plain->str, plain->len));
  g_ptr_array_add (forms, g_base64_encode ((const guchar *) CANARY, strlen (CANARY)));
  /* part of the password, in case something truncates or escapes it */
  g_ptr_array_add (forms, g_strdup ("Canary-7f3a9c"));
  return forms;
}

static void
assert_clean (const char *where,
              const char *text,
              gsize       length)
{
  g_autoptr(GPtrArray) forms = secret_forms ();

  for (guint i = 0; i < forms->len; i++)
    if (g_strstr_len (text, length, forms->pdata[i]) != NULL)
      g_error ("the password (as “%s”) appears in %s", (char *) forms->pdata[i], where);
}

static void
assert_proc_clean (const char *file)
{
  g_autofree char *path = g_build_filename ("/proc/self", file, NULL);
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (g_file_get_contents (path, &contents, &length, NULL))
    assert_clean (path, contents, length);
}

static void
test_secrets (Fixture       *fixture,
              gconstpointer  data)
{
  g_autofree char *pw64 = g_base64_encode ((const guchar *) CANARY, strlen (CANARY));
  g_autofree char *expect_pw = g_strconcat ("< ", pw64, NULL);
  /* success with PLAIN, success with LOGIN, a rejected password, a server hanging up after
   * the password: each session's transcript, error and logs are checked */
  const char * const plain[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n", "< STARTTLS",
    "> 220 go\r\n", "tls", "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n", "< AUTH PLAIN ",
    "> 235 ok\r\n", "< MAIL", "> 250 ok\r\n", "< RCPT", "> 250 ok\r\n", "< DATA", "> 354 go\r\n",
    "data", "> 250 queued\r\n", "< QUIT", "> 221 bye\r\n", NULL
  };
  const char * const login[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 STARTTLS\r\n", "< STARTTLS", "> 220 go\r\n", "tls",
    "< EHLO ", "> 250-mx\r\n250 AUTH LOGIN\r\n", "< AUTH LOGIN", "> 334 VXNlcm5hbWU6\r\n", "< ",
    "> 334 UGFzc3dvcmQ6\r\n", expect_pw, "> 235 ok\r\n", "< MAIL", "> 250 ok\r\n", "< RCPT",
    "> 250 ok\r\n", "< DATA", "> 354 go\r\n", "data", "> 250 queued\r\n", "< QUIT", "> 221 bye\r\n", NULL
  };
  /* a hostile server echoes the credentials back in its error reply */
  g_autofree char *echo = g_strdup_printf ("> 535 5.7.8 bad credentials %s, that is %s\r\n",
                                           pw64, CANARY);
  const char * const rejected[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 STARTTLS\r\n", "< STARTTLS", "> 220 go\r\n", "tls",
    "< EHLO ", "> 250-mx\r\n250 AUTH LOGIN\r\n", "< AUTH LOGIN", "> 334 VXNlcm5hbWU6\r\n", "< ",
    "> 334 UGFzc3dvcmQ6\r\n", expect_pw, echo, NULL
  };
  /* ...and once more at the end of a reply long enough to be cut in the middle of it */
  g_autofree char *long_echo = g_strdup_printf ("> 535 5.7.8 %0*d %s\r\n", 570, 0, CANARY);
  const char * const rejected_long[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 STARTTLS\r\n", "< STARTTLS", "> 220 go\r\n", "tls",
    "< EHLO ", "> 250-mx\r\n250 AUTH LOGIN\r\n", "< AUTH LOGIN", "> 334 VXNlcm5hbWU6\r\n", "< ",
    "> 334 UGFzc3dvcmQ6\r\n", expect_pw, long_echo, NULL
  };
  const char * const closed[] = {
    GREETING, "< EHLO ", "> 250-mx\r\n250 STARTTLS\r\n", "< STARTTLS", "> 220 go\r\n", "tls",
    "< EHLO ", "> 250-mx\r\n250 AUTH PLAIN\r\n", "< AUTH PLAIN ", "close", NULL
  };
  const char * const * const scripts[] = { plain, login, rejected, rejected_long, closed };
  GLogFunc old_handler;

  if (!need_certs ())
    return;
  allow_slow_handshake (fixture);
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  captured_log = g_string_new (NULL);
  /* g_test_init() routes g_log() to its own handler, structured logging goes to the writer:
   * capture both */
  old_handler = g_log_set_default_handler (capture_handler, NULL);
  relay_smtp_client_set_host (fixture->client, "relay.example.test");
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  enable_auth (fixture);

  for (guint i = 0; i < G_N_ELEMENTS (scripts); i++)
    {
      g_autoptr(ScriptServer) server = script_server_new_tls (scripts[i], certs->dns);
      g_autoptr(GError) error = NULL;
      g_autofree char *reply = NULL;
      GBytes *message = relay_smtp_message_get_data (fixture->message);
      gsize length;
      const char *bytes = g_bytes_get_data (message, &length);

      error = run_against (fixture, server, &reply);
      if (i < 2)
        g_assert_no_error (error);
      else
        {
          g_assert_nonnull (error);
          assert_clean ("the error", error->message, strlen (error->message));
        }
      assert_no_failure (server);
      assert_clean ("the transcript", relay_smtp_client_get_transcript (fixture->client), -1);
      g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client), "<redacted>"));
      assert_clean ("the message", bytes, length);
      assert_clean ("the data the server received", script_server_get_data (server), -1);
      if (reply != NULL)
        assert_clean ("the reply", reply, -1);
    }

  /* the debug log did record the sessions, and nothing of the password */
  g_assert_nonnull (strstr (captured_log->str, "C: EHLO client.example.test"));
  g_assert_nonnull (strstr (captured_log->str, "<redacted>"));
  assert_clean ("the log", captured_log->str, captured_log->len);
  g_string_free (g_steal_pointer (&captured_log), TRUE);
  g_log_set_default_handler (old_handler, NULL);
  g_unsetenv ("G_MESSAGES_DEBUG");

  assert_proc_clean ("cmdline");
  assert_proc_clean ("environ");
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  certs = test_certs_new (&error);
  if (certs == NULL)
    g_test_message ("no test certificates: %s", error->message);

#define ADD(path, func, data) \
  g_test_add ("/relay/smtp/hostile/" path, Fixture, data, fixture_setup, func, fixture_teardown)

  ADD ("phases/drip", test_phases, GINT_TO_POINTER (MISBEHAVE_DRIP));
  ADD ("phases/hang", test_phases, GINT_TO_POINTER (MISBEHAVE_HANG));
  ADD ("phases/close", test_phases, GINT_TO_POINTER (MISBEHAVE_CLOSE));
  ADD ("phases/cancel", test_cancel_each_phase, NULL);
  ADD ("endless-continuation", test_endless_continuation, NULL);
  ADD ("huge-reply", test_huge_reply, NULL);
  ADD ("huge-line", test_huge_line, NULL);
  ADD ("malformed-codes", test_malformed_codes, NULL);
  ADD ("hostile-text", test_hostile_text, NULL);
  ADD ("auth-challenges", test_auth_challenges, NULL);
  ADD ("8bit-needs-8bitmime", test_eight_bit_needs_8bitmime, NULL);
  ADD ("8bit-body-reencoded", test_eight_bit_body_reencoded, NULL);
  ADD ("command-line-limits", test_command_line_limits, NULL);
  ADD ("tls/cancel-during-handshake", test_cancel_during_handshake, NULL);
  ADD ("tls/capabilities-after-starttls", test_capabilities_after_tls, NULL);
  ADD ("tls/starttls-hang-and-drip", test_starttls_hang_and_drip, NULL);
  ADD ("tls/implicit-nothing-before-handshake", test_implicit_tls_first, NULL);
  ADD ("tls/certificates", test_certificates, NULL);
  ADD ("secrets", test_secrets, NULL);

  status = g_test_run ();
  g_clear_pointer (&certs, test_certs_free);
  return status;
}
