/* test-smtp-aiosmtpd.c: interoperability with a real server (python3-aiosmtpd)
 *
 * Each test starts tests/smtp-test-server.py with GSubprocess, reads its port from the JSON
 * line it prints, and kills it in teardown. A throw-away CA made with openssl at run time is
 * given to the client as its tls-database, as a user's system trust store would be.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gstdio.h>
#include <string.h>

#include "relay-smtp-client.h"
#include "relay-smtp-error.h"
#include "smtp-test-helpers.h"

#define USER "relay-user"
#define PASSWORD "correct horse battery staple"

static char *certdir;

typedef struct
{
  GSubprocess      *server;
  char             *outdir;
  guint16           port;
  char             *ca_file;
  char             *cert_file;
  RelaySmtpClient  *client;
  RelaySmtpMessage *message;
  GResolver        *old_resolver;
} Fixture;

typedef struct
{
  const char *mode;
  const char *auth;
} ServerConfig;

static const ServerConfig plain_server = { "plain", "none" };
static const ServerConfig starttls_server = { "starttls", "none" };
static const ServerConfig tls_server = { "tls", "none" };
static const ServerConfig starttls_plain_auth = { "starttls", "plain" };
static const ServerConfig starttls_login_auth = { "starttls", "login" };
static const ServerConfig tls_plain_auth = { "tls", "plain" };

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  const ServerConfig *config = data;
  const char *python = g_getenv ("SMTP_TEST_PYTHON");
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "smtp-test-server.py", NULL);
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  const char * const to[] = { "ops@example.org", "second@example.org", NULL };
  g_autoptr(GResolver) fake = fake_resolver_new ();

  fixture->old_resolver = g_resolver_get_default ();
  g_resolver_set_default (fake);

  fixture->outdir = g_dir_make_tmp ("relay-aiosmtpd-XXXXXX", &error);
  g_assert_no_error (error);

  fixture->server = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                      &error, python ? python : "/usr/bin/python3", script,
                                      "--mode", config->mode, "--auth", config->auth,
                                      "--outdir", fixture->outdir, "--certdir", certdir, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fixture->server));
  /* The server prints its JSON line once it accepts connections: no sleeping. */
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  fixture->message = relay_smtp_message_new ("alerts@example.com", "Zoë Robot", to,
                                             "Sauvegarde échouée", "Café\n.\nend\n", &error);
  g_assert_no_error (error);
  fixture->client = relay_smtp_client_new ();
  relay_smtp_client_set_host (fixture->client, "127.0.0.1");
  relay_smtp_client_set_helo_name (fixture->client, "client.example.test");
  g_object_set (fixture->client, "reply-timeout", 20000, "connect-timeout", 20000, NULL);

  if (strstr (line, "\"skip\"") != NULL)
    {
      g_test_skip (line);
      return;
    }
  {
    const char *p = strstr (line, "\"port\": ");
    const char *ca = strstr (line, "\"ca\": \"");
    const char *cert = strstr (line, "\"cert\": \"");

    g_assert_nonnull (p);
    g_assert_nonnull (ca);
    g_assert_nonnull (cert);
    fixture->port = (guint16) g_ascii_strtoull (p + 8, NULL, 10);
    fixture->ca_file = g_strndup (ca + 7, strchr (ca + 7, '"') - (ca + 7));
    fixture->cert_file = g_strndup (cert + 9, strchr (cert + 9, '"') - (cert + 9));
  }
  relay_smtp_client_set_port (fixture->client, fixture->port);
}

static void
remove_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = g_build_filename (path, name, NULL);

      g_unlink (file);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_subprocess_force_exit (fixture->server);
  g_subprocess_wait (fixture->server, NULL, NULL);
  g_clear_object (&fixture->server);
  g_assert_finalize_object (fixture->client);
  relay_smtp_message_unref (fixture->message);
  remove_dir (fixture->outdir);
  g_free (fixture->outdir);
  g_free (fixture->ca_file);
  g_free (fixture->cert_file);
  g_resolver_set_default (fixture->old_resolver);
  g_object_unref (fixture->old_resolver);
}

static void
trust_test_ca (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsDatabase) database = g_tls_file_database_new (fixture->ca_file, &error);

  g_assert_no_error (error);
  relay_smtp_client_set_tls_database (fixture->client, database);
}

static char *
read_output (Fixture    *fixture,
             const char *name)
{
  g_autofree char *path = g_build_filename (fixture->outdir, name, NULL);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static char *
header (const char *message,
        const char *name)
{
  g_autofree char *prefix = g_strconcat ("\r\n", name, ": ", NULL);
  g_autofree char *with_start = g_strconcat ("\r\n", message, NULL);
  const char *start = strstr (with_start, prefix);
  const char *end;

  if (start == NULL)
    return NULL;
  start += strlen (prefix);
  end = start;
  while ((end = strstr (end, "\r\n")) != NULL && (end[2] == ' ' || end[2] == '\t'))
    end += 2;
  return g_strndup (start, end - start);
}

/* Checks the delivered message header by header, as the server stored it. */
static void
assert_delivered (Fixture *fixture)
{
  g_autofree char *envelope = read_output (fixture, "1.json");
  g_autofree char *message = read_output (fixture, "1.eml");
  g_autofree char *from = header (message, "From");
  g_autofree char *to = header (message, "To");
  g_autofree char *subject = header (message, "Subject");
  g_autofree char *msgid = header (message, "Message-ID");
  g_autofree char *date = header (message, "Date");
  g_autofree char *cte = header (message, "Content-Transfer-Encoding");
  g_autofree char *ctype = header (message, "Content-Type");
  g_autofree char *mime = header (message, "MIME-Version");
  g_autofree char *auto_submitted = header (message, "Auto-Submitted");
  const char *body;

  g_assert_nonnull (strstr (envelope, "\"mail_from\": \"alerts@example.com\""));
  g_assert_nonnull (strstr (envelope, "\"rcpt_tos\": [\"ops@example.org\", \"second@example.org\"]"));

  g_assert_cmpstr (from, ==, "=?UTF-8?B?Wm/DqyBSb2JvdA==?= <alerts@example.com>");
  g_assert_cmpstr (to, ==, "ops@example.org,\r\n second@example.org");
  g_assert_cmpstr (subject, ==, "=?UTF-8?B?U2F1dmVnYXJkZSDDqWNob3XDqWU=?=");
  g_assert_true (g_str_has_prefix (msgid, "<") && g_str_has_suffix (msgid, "@example.com>"));
  g_assert_nonnull (date);
  g_assert_cmpstr (mime, ==, "1.0");
  g_assert_cmpstr (ctype, ==, "text/plain; charset=UTF-8");
  g_assert_cmpstr (cte, ==, "quoted-printable");
  g_assert_cmpstr (auto_submitted, ==, "auto-generated");

  /* The server removed our dot-stuffing: the lone "." line is back. */
  body = strstr (message, "\r\n\r\n");
  g_assert_nonnull (body);
  g_assert_cmpstr (body + 4, ==, "Caf=C3=A9\r\n.\r\nend\r\n");
}

static char *
send_ok (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  char *reply = run_send (fixture->client, fixture->message, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 Ok: queued as TEST1"));
  return reply;
}

static void
test_no_security (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *reply = NULL;

  if (fixture->port == 0)
    return;
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_NONE);
  reply = send_ok (fixture);
  assert_delivered (fixture);
  g_assert_null (relay_smtp_client_get_peer_fingerprint (fixture->client));
}

static void
test_starttls (Fixture       *fixture,
               gconstpointer  data)
{
  g_autofree char *reply = NULL;
  const char *transcript;

  if (fixture->port == 0)
    return;
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  trust_test_ca (fixture);
  reply = send_ok (fixture);
  assert_delivered (fixture);
  transcript = relay_smtp_client_get_transcript (fixture->client);
  g_assert_nonnull (strstr (transcript, "C: STARTTLS"));
  g_assert_nonnull (strstr (transcript, "TLS: handshake done: TLS 1."));
  /* EHLO again after the handshake */
  g_assert_nonnull (strstr (strstr (transcript, "TLS: handshake done"), "C: EHLO"));
  g_assert_cmpint (relay_smtp_client_get_certificate_errors (fixture->client), ==, 0);
}

static void
test_starttls_required_by_server (Fixture       *fixture,
                                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  if (fixture->port == 0)
    return;
  /* Without STARTTLS, aiosmtpd's require_starttls refuses the transaction. */
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_NONE);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_SENDER);
  g_assert_nonnull (strstr (error->message, "530"));
}

static void
test_implicit_tls (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *reply = NULL;

  if (fixture->port == 0)
    return;
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_TLS);
  trust_test_ca (fixture);
  reply = send_ok (fixture);
  assert_delivered (fixture);
  g_assert_null (strstr (relay_smtp_client_get_transcript (fixture->client), "STARTTLS"));
}

static void
test_auth (Fixture       *fixture,
           gconstpointer  data)
{
  const ServerConfig *config = data;
  g_autofree char *reply = NULL;
  g_autofree char *expect = g_strdup_printf ("C: AUTH %s", g_str_equal (config->auth, "plain") ? "PLAIN <redacted>" : "LOGIN");
  const char *transcript;

  if (fixture->port == 0)
    return;
  relay_smtp_client_set_security (fixture->client,
                                  g_str_equal (config->mode, "tls") ? RELAY_SECURITY_TLS : RELAY_SECURITY_STARTTLS);
  trust_test_ca (fixture);
  relay_smtp_client_set_username (fixture->client, USER);
  relay_smtp_client_set_password (fixture->client, PASSWORD);
  reply = send_ok (fixture);
  assert_delivered (fixture);
  transcript = relay_smtp_client_get_transcript (fixture->client);
  g_assert_nonnull (strstr (transcript, expect));
  g_assert_null (strstr (transcript, PASSWORD));
  g_assert_nonnull (strstr (transcript, "S: 235"));
}

static void
test_wrong_password (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  if (fixture->port == 0)
    return;
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  trust_test_ca (fixture);
  relay_smtp_client_set_username (fixture->client, USER);
  relay_smtp_client_set_password (fixture->client, "wrong password");
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_AUTH);
  /* the server's own words: "535 5.7.8 Authentication credentials invalid" */
  g_assert_nonnull (strstr (error->message, "535 5.7.8"));
  g_assert_null (strstr (relay_smtp_client_get_transcript (fixture->client), "wrong password"));
}

static void
test_recipient_rejected (Fixture       *fixture,
                         gconstpointer  data)
{
  const char * const to[] = { "ops@example.org", "reject@example.org", NULL };
  g_autoptr(RelaySmtpMessage) message = relay_smtp_message_new ("alerts@example.com", NULL, to,
                                                                "s", "b", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *path = g_build_filename (fixture->outdir, "1.eml", NULL);

  if (fixture->port == 0)
    return;
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_NONE);
  reply = run_send (fixture->client, message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_RECIPIENT);
  g_assert_nonnull (strstr (error->message, "reject@example.org"));
  g_assert_nonnull (strstr (error->message, "550 5.1.1"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_keep_open_after_refusal (Fixture       *fixture,
                              gconstpointer  data)
{
  /* A queue flush on a real server, over STARTTLS with a login: the session kept after a
   * refused recipient takes the next message after an RSET (aiosmtpd keeps the sender of the
   * refused transaction, and offers no PIPELINING: the RSET goes alone). So does the session
   * after one refused recipient among two: without PIPELINING, DATA was not sent. */
  const char * const rejected[] = { "reject@example.org", NULL };
  const char * const mixed[] = { "ops@example.org", "reject@example.org", NULL };
  g_autoptr(RelaySmtpMessage) refused = relay_smtp_message_new ("alerts@example.com", NULL,
                                                                rejected, "s", "b", NULL);
  g_autoptr(RelaySmtpMessage) half = relay_smtp_message_new ("alerts@example.com", NULL, mixed,
                                                             "s", "b", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  const char *transcript;

  if (fixture->port == 0)
    return;
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  trust_test_ca (fixture);
  relay_smtp_client_set_username (fixture->client, USER);
  relay_smtp_client_set_password (fixture->client, PASSWORD);
  relay_smtp_client_set_keep_open (fixture->client, TRUE);

  reply = run_send (fixture->client, refused, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_RECIPIENT);
  g_assert_cmpuint (relay_smtp_client_get_last_reply_code (fixture->client), ==, 550);
  g_clear_error (&error);

  reply = send_ok (fixture);
  assert_delivered (fixture);
  transcript = relay_smtp_client_get_transcript (fixture->client);
  g_assert_nonnull (strstr (transcript, "Still connected to"));
  g_assert_nonnull (strstr (transcript, "C: RSET"));
  g_assert_null (strstr (transcript, "AUTH"));
  g_clear_pointer (&reply, g_free);

  reply = run_send (fixture->client, half, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_RECIPIENT);
  g_clear_error (&error);
  relay_smtp_client_set_keep_open (fixture->client, FALSE);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 Ok: queued as TEST2"));
  transcript = relay_smtp_client_get_transcript (fixture->client);
  g_assert_nonnull (strstr (transcript, "Still connected to"));
  g_assert_nonnull (strstr (transcript, "C: RSET"));
  g_assert_nonnull (strstr (transcript, "C: QUIT"));
}

static char *
fingerprint_of_file (const char *file)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) certificate = g_tls_certificate_new_from_file (file, &error);
  g_autoptr(GByteArray) der = NULL;

  g_assert_no_error (error);
  g_object_get (certificate, "certificate", &der, NULL);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
}

static void
test_unknown_issuer (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *expected = NULL;

  if (fixture->port == 0)
    return;
  /* The system trust store does not know our throw-away CA. */
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_TLS);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_CERTIFICATE);
  g_assert_nonnull (strstr (error->message, "unknown issuer"));
  g_assert_true (relay_smtp_client_get_certificate_errors (fixture->client) & G_TLS_CERTIFICATE_UNKNOWN_CA);
  expected = fingerprint_of_file (fixture->cert_file);
  g_assert_cmpstr (relay_smtp_client_get_peer_fingerprint (fixture->client), ==, expected);
  g_assert_nonnull (strstr (error->message, expected));
}

static void
test_pinned (Fixture       *fixture,
             gconstpointer  data)
{
  g_autofree char *fingerprint = NULL;
  g_autofree char *upper = NULL;
  g_autofree char *reply = NULL;

  if (fixture->port == 0)
    return;
  fingerprint = fingerprint_of_file (fixture->cert_file);
  upper = g_ascii_strup (fingerprint, -1);
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_TLS);
  relay_smtp_client_set_pinned_certificate (fixture->client, upper);
  reply = send_ok (fixture);
  assert_delivered (fixture);
  g_assert_true (relay_smtp_client_get_certificate_errors (fixture->client) & G_TLS_CERTIFICATE_UNKNOWN_CA);
  g_assert_nonnull (strstr (relay_smtp_client_get_transcript (fixture->client),
                            "pinned fingerprint, although verification failed: "
                            "It is signed by an unknown issuer."));
}

static void
test_pinned_other (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *other = g_strnfill (64, 'a');

  if (fixture->port == 0)
    return;
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  relay_smtp_client_set_pinned_certificate (fixture->client, other);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_CERTIFICATE);
  g_assert_nonnull (strstr (error->message, "is not trusted. It is signed by an unknown issuer. "
                                            "It does not match the pinned certificate either"));
  /* nothing but EHLO and STARTTLS went out in clear */
  g_assert_null (strstr (relay_smtp_client_get_transcript (fixture->client), "C: MAIL"));
}

static void
test_wrong_host_name (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  if (fixture->port == 0)
    return;
  /* ok.test resolves to 127.0.0.1 but the certificate names smtp.relay.test */
  relay_smtp_client_set_host (fixture->client, "ok.test");
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_TLS);
  trust_test_ca (fixture);
  reply = run_send (fixture->client, fixture->message, NULL, &error);
  g_assert_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_CERTIFICATE);
  g_assert_nonnull (strstr (error->message, "different host name"));
  g_assert_true (relay_smtp_client_get_certificate_errors (fixture->client) & G_TLS_CERTIFICATE_BAD_IDENTITY);
}

static void
on_step_cancel_cb (RelaySmtpClient *client,
                   RelaySmtpStep    step,
                   GCancellable    *cancellable)
{
  if (step == RELAY_SMTP_STEP_SECURING)
    g_cancellable_cancel (cancellable);
}

static void
test_cancel_while_securing (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  if (fixture->port == 0)
    return;
  relay_smtp_client_set_security (fixture->client, RELAY_SECURITY_STARTTLS);
  trust_test_ca (fixture);
  g_signal_connect (fixture->client, "step-changed", G_CALLBACK (on_step_cancel_cb), cancellable);
  reply = run_send (fixture->client, fixture->message, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_signal_handlers_disconnect_by_func (fixture->client, on_step_cancel_cb, cancellable);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  certdir = g_dir_make_tmp ("relay-aiosmtpd-ca-XXXXXX", &error);
  g_assert_no_error (error);

#define ADD(path, config, func) \
  g_test_add ("/relay/smtp/aiosmtpd/" path, Fixture, &config, fixture_setup, func, fixture_teardown)

  ADD ("no-security", plain_server, test_no_security);
  ADD ("recipient-rejected", plain_server, test_recipient_rejected);
  ADD ("starttls", starttls_server, test_starttls);
  ADD ("starttls-required-by-server", starttls_server, test_starttls_required_by_server);
  ADD ("implicit-tls", tls_server, test_implicit_tls);
  ADD ("cancel-while-securing", starttls_server, test_cancel_while_securing);
  ADD ("auth/plain", starttls_plain_auth, test_auth);
  ADD ("auth/login", starttls_login_auth, test_auth);
  ADD ("auth/implicit-tls", tls_plain_auth, test_auth);
  ADD ("auth/wrong-password", starttls_plain_auth, test_wrong_password);
  ADD ("keep-open-after-refusal", starttls_plain_auth, test_keep_open_after_refusal);
  ADD ("certificate/unknown-issuer", tls_server, test_unknown_issuer);
  ADD ("certificate/pinned", tls_server, test_pinned);
  ADD ("certificate/pinned-other", starttls_server, test_pinned_other);
  ADD ("certificate/wrong-host-name", tls_server, test_wrong_host_name);

  ret = g_test_run ();
  remove_dir (certdir);
  g_free (certdir);
  return ret;
}
