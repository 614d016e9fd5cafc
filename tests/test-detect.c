/* test-detect.c: Detect settings, against a local HTTPS server and a fake resolver
 *
 * The server on 127.0.0.1 answers for every test domain: the fake resolver sends all names
 * there, and the detector's URL templates carry the server's port. Its certificate is made with
 * the openssl command at start-up and trusted through the session's tls-database, so the
 * certificate checks of production run unchanged.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <libsoup/soup.h>

#include "relay-address.h"
#include "relay-cli-detect.h"
#include "relay-detector.h"
#include "relay-fake-resolver.h"

/* Every domain the server answers for; the certificate names each and its autoconfig host. */
static const char * const test_domains[] = {
  "good.test", "srv.test", "weight.test", "none.test", "bad.test", "huge.test", "slow.test",
  "redir.test", "redirok.test", "mx.test", "provider.test", "plain.test", "ispdb.test",
  "esc.test", "login.test", "down.test",
};

static GTlsCertificate *server_certificate;
static GTlsDatabase *client_database;
static char *scratch_dir;

typedef struct
{
  RelayFakeResolver *resolver;
  GResolver         *original_resolver;
  SoupServer        *server;         /* lives in server_thread */
  GThread           *server_thread;
  GMainContext      *server_context;
  int                server_quit;
  GMutex             server_lock;
  GCond              server_cond;
  gboolean           server_ready;
  int                server_done;
  guint              https_port;
  guint              http_port;
  SoupSession       *session;
  RelayDetector     *detector;
  GSettings         *settings;
} Fixture;

/* ---- documents ---- */

static char *
autoconfig_document (const char *servers)
{
  return g_strdup_printf ("<?xml version=\"1.0\"?>\n"
                          "<clientConfig version=\"1.1\">\n"
                          " <emailProvider id=\"test\">\n"
                          "  <domain>test</domain>\n"
                          "  <incomingServer type=\"imap\"><hostname>imap.test</hostname></incomingServer>\n"
                          "%s"
                          " </emailProvider>\n"
                          "</clientConfig>\n", servers);
}

static char *
smtp_server (const char *host,
             const char *port,
             const char *socket_type,
             const char *username)
{
  return g_strdup_printf ("  <outgoingServer type=\"smtp\">\n"
                          "   <hostname>%s</hostname><port>%s</port><socketType>%s</socketType>\n"
                          "   <authentication>password-cleartext</authentication>\n"
                          "   <username>%s</username>\n"
                          "  </outgoingServer>\n", host, port, socket_type, username);
}

static void
respond (SoupServerMessage *msg,
         guint              status,
         char              *body)
{
  soup_server_message_set_status (msg, status, NULL);
  if (body != NULL)
    soup_server_message_set_response (msg, "application/xml", SOUP_MEMORY_TAKE, body, strlen (body));
}

static void
redirect (SoupServerMessage *msg,
          const char        *location)
{
  soup_server_message_set_status (msg, SOUP_STATUS_FOUND, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location", location);
}

static void
server_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  Fixture *fixture = user_data;
  GUri *uri = soup_server_message_get_uri (msg);
  const char *host = g_uri_get_host (uri);
  gboolean autoconfig_path = g_str_equal (path, "/mail/config-v1.1.xml");
  gboolean well_known = g_str_equal (path, "/.well-known/autoconfig/mail/config-v1.1.xml");

  if (g_str_equal (host, "autoconfig.good.test") && autoconfig_path)
    {
      g_autofree char *s = smtp_server ("smtp.%EMAILDOMAIN%", "587", "STARTTLS", "%EMAILADDRESS%");
      respond (msg, SOUP_STATUS_OK, autoconfig_document (s));
    }
  else if (g_str_equal (host, "good.test") && well_known)
    {
      g_autofree char *s = smtp_server ("smtp.good.test", "465", "SSL", "%EMAILADDRESS%");
      respond (msg, SOUP_STATUS_OK, autoconfig_document (s));
    }
  else if (g_str_equal (host, "srv.test") && well_known)
    {
      g_autofree char *s = smtp_server ("smtps.srv.test", "465", "SSL", "%EMAILLOCALPART%");
      respond (msg, SOUP_STATUS_OK, autoconfig_document (s));
    }
  else if (g_str_equal (host, "autoconfig.bad.test") && autoconfig_path)
    respond (msg, SOUP_STATUS_OK, g_strdup ("<clientConfig><emailProvider><outgoingServer type=\"smtp\">"));
  else if (g_str_equal (host, "bad.test") && well_known)
    {
      g_autofree char *a = smtp_server ("smtp.bad.test", "0", "STARTTLS", "x");
      g_autofree char *b = smtp_server ("smtp.bad.test", "99999", "SSL", "x");
      g_autofree char *c = smtp_server ("smtp.bad.test", "587", "weird", "x");
      g_autofree char *d = smtp_server ("bad host.test", "587", "STARTTLS", "x");
      g_autofree char *all = g_strconcat (a, b, c, d, NULL);
      respond (msg, SOUP_STATUS_OK, autoconfig_document (all));
    }
  else if (g_str_equal (host, "esc.test") && well_known)
    {
      /* A host name that would clear a terminal and print a fake proposal if it were quoted
       * as it is in a note. */
      g_autofree char *a = smtp_server ("x\x1b[2J\x1b[HServer: smtp.attacker.test\x1b[8m", "587",
                                        "STARTTLS", "x");
      g_autofree char *b = smtp_server ("smtp.esc.test", "587", "STARTTLS", "x");
      g_autofree char *all = g_strconcat (a, b, NULL);
      respond (msg, SOUP_STATUS_OK, autoconfig_document (all));
    }
  else if (g_str_equal (host, "login.test") && well_known)
    {
      /* A login method, but no user name */
      respond (msg, SOUP_STATUS_OK,
               autoconfig_document ("  <outgoingServer type=\"smtp\">\n"
                                    "   <hostname>smtp.login.test</hostname><port>587</port>\n"
                                    "   <socketType>STARTTLS</socketType>\n"
                                    "   <authentication>password-cleartext</authentication>\n"
                                    "  </outgoingServer>\n"));
    }
  else if (g_str_equal (host, "autoconfig.huge.test") && autoconfig_path)
    {
      g_autofree char *s = smtp_server ("smtp.huge.test", "587", "STARTTLS", "x");
      g_autofree char *padding = g_strnfill (1024 * 1024, ' ');
      g_autofree char *doc = autoconfig_document (s);
      respond (msg, SOUP_STATUS_OK, g_strconcat (doc, padding, NULL));
    }
  else if (g_str_equal (host, "autoconfig.slow.test") && autoconfig_path)
    soup_server_message_pause (msg);   /* never answers; the client gives up at its deadline */
  else if (g_str_equal (host, "autoconfig.redir.test") && autoconfig_path)
    {
      g_autofree char *to = g_strdup_printf ("http://autoconfig.redir.test:%u/plain.xml",
                                             fixture->http_port);
      redirect (msg, to);
    }
  else if (g_str_equal (host, "redir.test") && g_str_has_prefix (path, "/.well-known/"))
    redirect (msg, "/loop/1");
  else if (g_str_equal (host, "redir.test") && g_str_has_prefix (path, "/loop/"))
    {
      g_autofree char *to = g_strdup_printf ("/loop/%d", atoi (path + 6) + 1);
      redirect (msg, to);
    }
  else if (g_str_equal (host, "autoconfig.redirok.test") && autoconfig_path)
    redirect (msg, "/step/1");
  else if (g_str_equal (host, "autoconfig.redirok.test") && g_str_equal (path, "/step/1"))
    redirect (msg, "/final.xml");
  else if (g_str_equal (host, "autoconfig.redirok.test") && g_str_equal (path, "/final.xml"))
    {
      g_autofree char *s = smtp_server ("smtp.redirok.test", "587", "STARTTLS", "%EMAILADDRESS%");
      respond (msg, SOUP_STATUS_OK, autoconfig_document (s));
    }
  else if (g_str_equal (host, "redirok.test") && well_known)
    {
      /* to another host, over https: followed, and the proposal says where it came from */
      g_autofree char *to = g_strdup_printf ("https://provider.test:%u/elsewhere.xml",
                                             fixture->https_port);
      redirect (msg, to);
    }
  else if (g_str_equal (host, "provider.test") && g_str_equal (path, "/elsewhere.xml"))
    {
      g_autofree char *s = smtp_server ("smtp.elsewhere.test", "465", "SSL", "%EMAILADDRESS%");
      respond (msg, SOUP_STATUS_OK, autoconfig_document (s));
    }
  else if (g_str_equal (host, "autoconfig.plain.test") && autoconfig_path)
    {
      g_autofree char *a = smtp_server ("smtp.plain.test", "25", "plain", "x");
      g_autofree char *b = smtp_server ("smtp.plain.test", "587", "STARTTLS", "x");
      g_autofree char *all = g_strconcat (a, b, NULL);
      respond (msg, SOUP_STATUS_OK, autoconfig_document (all));
    }
  else if (g_str_equal (host, "ispdb.test") && g_str_equal (path, "/v1.1/bigprovider.co.uk"))
    {
      g_autofree char *s = smtp_server ("smtp.bigprovider.co.uk", "465", "SSL", "%EMAILADDRESS%");
      respond (msg, SOUP_STATUS_OK, autoconfig_document (s));
    }
  else if (g_str_equal (host, "ispdb.test") && g_str_equal (path, "/v1.1/provider.test"))
    {
      g_autofree char *s = smtp_server ("smtp.provider.test", "465", "SSL", "%EMAILADDRESS%");
      respond (msg, SOUP_STATUS_OK, autoconfig_document (s));
    }
  else if (g_str_equal (path, "/plain.xml"))
    {
      /* Reached only over plain HTTP, which the client must refuse before asking. */
      g_autofree char *s = smtp_server ("smtp.insecure.test", "587", "STARTTLS", "x");
      respond (msg, SOUP_STATUS_OK, autoconfig_document (s));
    }
  else
    respond (msg, SOUP_STATUS_NOT_FOUND, NULL);
}

/* ---- fixture ---- */

static guint
listen_port (SoupServer           *server,
             SoupServerListenOptions options)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;
  guint port = 0;
  const char *scheme = (options & SOUP_SERVER_LISTEN_HTTPS) ? "https" : "http";

  soup_server_listen_local (server, 0, options | SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);

  uris = soup_server_get_uris (server);
  for (GSList *l = uris; l != NULL; l = l->next)
    if (g_str_equal (g_uri_get_scheme (l->data), scheme))
      port = g_uri_get_port (l->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_assert_cmpuint (port, !=, 0);
  return port;
}

/* The server has its own thread and context, as in libsoup's tests, so that the client's
 * context can keep running while the server shuts down. */
static gpointer
server_thread_func (gpointer user_data)
{
  Fixture *fixture = user_data;

  g_main_context_push_thread_default (fixture->server_context);

  fixture->server = soup_server_new ("tls-certificate", server_certificate, NULL);
  soup_server_add_handler (fixture->server, NULL, server_cb, fixture, NULL);
  fixture->https_port = listen_port (fixture->server, SOUP_SERVER_LISTEN_HTTPS);
  fixture->http_port = listen_port (fixture->server, 0);

  g_mutex_lock (&fixture->server_lock);
  fixture->server_ready = TRUE;
  g_cond_signal (&fixture->server_cond);
  g_mutex_unlock (&fixture->server_lock);

  while (!g_atomic_int_get (&fixture->server_quit))
    g_main_context_iteration (fixture->server_context, TRUE);

  soup_server_disconnect (fixture->server);
  g_clear_object (&fixture->server);
  while (g_main_context_iteration (fixture->server_context, FALSE))
    ;
  g_main_context_pop_thread_default (fixture->server_context);

  g_atomic_int_set (&fixture->server_done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GProxyResolver) no_proxy = g_simple_proxy_resolver_new (NULL, NULL);
  g_autofree char *url1 = NULL;
  g_autofree char *url2 = NULL;
  g_autofree char *isp = NULL;
  RelayFakeResolver *resolver;

  if (server_certificate == NULL)
    {
      g_test_skip ("no test certificate (is the openssl command installed?)");
      return;
    }

  fixture->resolver = resolver = relay_fake_resolver_new ();
  fixture->original_resolver = g_resolver_get_default ();
  g_resolver_set_default (G_RESOLVER (resolver));

  relay_fake_resolver_add_srv (resolver, "_submissions._tcp.srv.test", "smtps.srv.test", 465, 10, 0);
  relay_fake_resolver_add_srv (resolver, "_submissions._tcp.srv.test", "backup.srv.test", 465, 20, 0);
  relay_fake_resolver_add_srv (resolver, "_submission._tcp.srv.test", "sub.srv.test", 587, 0, 0);
  relay_fake_resolver_add_srv (resolver, "_submissions._tcp.weight.test", "a.weight.test", 465, 10, 5);
  relay_fake_resolver_add_srv (resolver, "_submissions._tcp.weight.test", "b.weight.test", 465, 10, 50);
  relay_fake_resolver_add_srv (resolver, "_submissions._tcp.weight.test", "c.weight.test", 4650, 5, 0);
  relay_fake_resolver_add_srv (resolver, "_submissions._tcp.none.test", ".", 0, 0, 0);
  relay_fake_resolver_add_srv (resolver, "_submissions._tcp.slow.test", "smtp.slow.test", 465, 0, 0);
  relay_fake_resolver_add_mx (resolver, "mx.test", "mx9.elsewhere.test", 20);
  relay_fake_resolver_add_mx (resolver, "mx.test", "mx1.provider.test", 10);
  relay_fake_resolver_add_mx (resolver, "none.test", "mail.none.test", 10);
  relay_fake_resolver_add_mx (resolver, "shop.test", "mx1.bigprovider.co.uk", 10);

  fixture->server_context = g_main_context_new ();
  g_mutex_init (&fixture->server_lock);
  g_cond_init (&fixture->server_cond);
  fixture->server_thread = g_thread_new ("test-server", server_thread_func, fixture);
  g_mutex_lock (&fixture->server_lock);
  while (!fixture->server_ready)
    g_cond_wait (&fixture->server_cond, &fixture->server_lock);
  g_mutex_unlock (&fixture->server_lock);

  fixture->session = soup_session_new_with_options ("tls-database", client_database,
                                                    "proxy-resolver", no_proxy,
                                                    NULL);
  fixture->detector = relay_detector_new (fixture->session);
  url1 = g_strdup_printf ("https://autoconfig.{domain}:%u/mail/config-v1.1.xml", fixture->https_port);
  url2 = g_strdup_printf ("https://{domain}:%u/.well-known/autoconfig/mail/config-v1.1.xml",
                          fixture->https_port);
  isp = g_strdup_printf ("https://ispdb.test:%u/v1.1/", fixture->https_port);
  relay_detector_set_autoconfig_urls (fixture->detector, (const char * const[]) { url1, url2, NULL });
  relay_detector_set_isp_database_url (fixture->detector, isp);
  relay_detector_set_timeout (fixture->detector, 10000);

  fixture->settings = g_settings_new ("io.github.smtprelay.SmtpRelay");
  {
    g_autoptr(GSettingsSchema) schema = NULL;
    g_auto(GStrv) keys = NULL;

    g_object_get (fixture->settings, "settings-schema", &schema, NULL);
    keys = g_settings_schema_list_keys (schema);
    for (guint i = 0; keys[i] != NULL; i++)
      g_settings_reset (fixture->settings, keys[i]);
  }
  g_settings_set_string (fixture->settings, "isp-database-url", isp);
}

/* Like g_assert_finalize_object(), but connection attempts that were cancelled may still hold
 * the resolver until their callbacks have run in this context. */
static void
wait_for_finalize (gpointer object)
{
  gpointer weak = object;
  gint64 give_up = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_object_add_weak_pointer (object, &weak);
  g_object_unref (object);
  while (weak != NULL && g_get_monotonic_time () < give_up)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  if (weak != NULL)
    g_object_remove_weak_pointer (weak, &weak);
  g_assert_null (weak);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  gint64 give_up;

  if (fixture->resolver == NULL)
    return;

  /* Lookups and requests of a run that ended at its deadline finish now, cancelled. */
  g_assert_finalize_object (g_steal_pointer (&fixture->settings));
  g_clear_object (&fixture->detector);
  give_up = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (relay_fake_resolver_get_pending (fixture->resolver) > 0 && g_get_monotonic_time () < give_up)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (relay_fake_resolver_get_pending (fixture->resolver), ==, 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;

  soup_session_abort (fixture->session);
  g_clear_object (&fixture->session);

  /* The server closes its TLS connections synchronously, waiting for handshakes in progress;
   * those end only when the client side, driven by this thread's context, lets go. */
  g_atomic_int_set (&fixture->server_quit, 1);
  g_main_context_wakeup (fixture->server_context);
  while (!g_atomic_int_get (&fixture->server_done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (g_steal_pointer (&fixture->server_thread));
  g_clear_pointer (&fixture->server_context, g_main_context_unref);
  g_mutex_clear (&fixture->server_lock);
  g_cond_clear (&fixture->server_cond);

  g_resolver_set_default (fixture->original_resolver);
  g_clear_object (&fixture->original_resolver);
  wait_for_finalize (g_steal_pointer (&fixture->resolver));
}

/* ---- helpers ---- */

typedef struct
{
  RelayDetectReport *report;
  GError            *error;
  gboolean           done;
} Wait;

static void
detect_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  Wait *wait = user_data;

  wait->report = relay_detector_detect_finish (RELAY_DETECTOR (object), result, &wait->error);
  wait->done = TRUE;
}

static RelayDetectReport *
run_detect (Fixture      *fixture,
            const char   *address,
            GCancellable *cancellable,
            GError      **error)
{
  Wait wait = { 0 };

  relay_detector_detect_async (fixture->detector, address, cancellable, detect_cb, &wait);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);
  if (wait.error != NULL)
    g_propagate_error (error, wait.error);
  return wait.report;
}

static RelayDetectReport *
detect_ok (Fixture    *fixture,
           const char *address)
{
  g_autoptr(GError) error = NULL;
  RelayDetectReport *report = run_detect (fixture, address, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (report);
  for (const char * const *n = relay_detect_report_get_notes (report); *n; n++)
    g_test_message ("note: %s", *n);
  return report;
}

static gboolean
strv_contains_substring (const char * const *strv,
                         const char         *needle)
{
  for (; strv != NULL && *strv != NULL; strv++)
    if (strstr (*strv, needle) != NULL)
      return TRUE;
  return FALSE;
}

static void
assert_proposal (RelayDetectProposal *proposal,
                 const char          *host,
                 guint16              port,
                 RelaySecurity        security)
{
  g_assert_nonnull (proposal);
  g_assert_cmpstr (relay_detect_proposal_get_host (proposal), ==, host);
  g_assert_cmpuint (relay_detect_proposal_get_port (proposal), ==, port);
  g_assert_cmpint (relay_detect_proposal_get_security (proposal), ==, security);
}

static guint
get_port (GSettings *settings)
{
  g_autoptr(GVariant) value = g_settings_get_value (settings, "port");

  return g_variant_get_uint16 (value);
}

static void
assert_settings_untouched (Fixture *fixture)
{
  g_autofree char *server = g_settings_get_string (fixture->settings, "server");
  g_autofree char *username = g_settings_get_string (fixture->settings, "username");

  g_assert_cmpstr (server, ==, "");
  g_assert_cmpstr (username, ==, "");
  g_assert_cmpuint (get_port (fixture->settings), ==, 0);
}

/* ---- tests ---- */

static void
test_autoconfig_good (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  RelayDetectProposal *best;

  if (fixture->resolver == NULL)
    return;

  report = detect_ok (fixture, "Alice@Good.Test");
  best = relay_detect_report_get_best (report);
  assert_proposal (best, "smtp.good.test", 587, RELAY_SECURITY_STARTTLS);
  g_assert_true (g_str_has_prefix (relay_detect_proposal_get_source (best), "autoconfig document https://autoconfig.good.test:"));
  g_assert_cmpstr (relay_detect_proposal_get_username (best), ==, "Alice@good.test");
  g_assert_cmpstr (relay_detect_proposal_get_auth_mechanism (best), ==, "password-cleartext");
  g_assert_true (relay_detect_proposal_get_requires_auth (best));
  g_assert_cmpstr (relay_detect_proposal_get_login_source (best), ==, relay_detect_proposal_get_source (best));

  /* The .well-known document disagrees: an alternative, and a note on the best proposal. */
  g_assert_cmpuint (relay_detect_report_get_proposals (report)->len, ==, 2);
  assert_proposal (g_ptr_array_index (relay_detect_report_get_proposals (report), 1),
                   "smtp.good.test", 465, RELAY_SECURITY_TLS);
  g_assert_true (strv_contains_substring (relay_detect_proposal_get_notes (best),
                                          "proposes smtp.good.test, port 465, TLS instead"));
  g_assert_cmpuint (relay_detect_report_get_guesses (report)->len, ==, 0);
  assert_settings_untouched (fixture);
}

static void
test_srv_submissions_preferred (Fixture       *fixture,
                                gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  RelayDetectProposal *best;
  GPtrArray *proposals;

  if (fixture->resolver == NULL)
    return;

  report = detect_ok (fixture, "alice@srv.test");
  best = relay_detect_report_get_best (report);
  proposals = relay_detect_report_get_proposals (report);

  assert_proposal (best, "smtps.srv.test", 465, RELAY_SECURITY_TLS);
  g_assert_cmpstr (relay_detect_proposal_get_source (best), ==, "DNS SRV _submissions._tcp.srv.test");
  /* DNS says nothing about logging in: that half comes from the autoconfig document. */
  g_assert_cmpstr (relay_detect_proposal_get_username (best), ==, "alice");
  g_assert_true (g_str_has_prefix (relay_detect_proposal_get_login_source (best),
                                   "autoconfig document https://srv.test:"));
  g_assert_true (strv_contains_substring (relay_detect_proposal_get_notes (best), "Also proposed by autoconfig"));
  g_assert_false (strv_contains_substring (relay_detect_proposal_get_notes (best), "backup.srv.test"));
  g_assert_true (strv_contains_substring (relay_detect_proposal_get_notes (best),
                                          "DNS SRV _submission._tcp.srv.test proposes sub.srv.test, port 587, STARTTLS instead"));

  /* Priority 20 after 10; STARTTLS submission after both implicit-TLS ones. */
  g_assert_cmpuint (proposals->len, ==, 3);
  assert_proposal (g_ptr_array_index (proposals, 1), "backup.srv.test", 465, RELAY_SECURITY_TLS);
  assert_proposal (g_ptr_array_index (proposals, 2), "sub.srv.test", 587, RELAY_SECURITY_STARTTLS);
  g_assert_cmpstr (relay_detect_proposal_get_source (g_ptr_array_index (proposals, 2)), ==,
                   "DNS SRV _submission._tcp.srv.test");
  assert_settings_untouched (fixture);
}

static void
test_srv_priority_weight (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  GPtrArray *proposals;

  if (fixture->resolver == NULL)
    return;

  report = detect_ok (fixture, "alice@weight.test");
  proposals = relay_detect_report_get_proposals (report);
  g_assert_cmpuint (proposals->len, ==, 3);
  assert_proposal (g_ptr_array_index (proposals, 0), "c.weight.test", 4650, RELAY_SECURITY_TLS);
  assert_proposal (g_ptr_array_index (proposals, 1), "b.weight.test", 465, RELAY_SECURITY_TLS);
  assert_proposal (g_ptr_array_index (proposals, 2), "a.weight.test", 465, RELAY_SECURITY_TLS);
}

static void
test_srv_dot_means_none (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  GPtrArray *guesses;

  if (fixture->resolver == NULL)
    return;

  report = detect_ok (fixture, "alice@none.test");
  g_assert_null (relay_detect_report_get_best (report));
  g_assert_cmpuint (relay_detect_report_get_proposals (report)->len, ==, 0);
  g_assert_true (strv_contains_substring (relay_detect_report_get_notes (report),
                                          "DNS SRV _submissions._tcp.none.test: the domain says it offers no such service"));
  g_assert_true (strv_contains_substring (relay_detect_report_get_notes (report),
                                          "the MX host mail.none.test is in the domain itself"));
  /* What to do then is the window's and the command line's to say, not a note's. */
  g_assert_false (strv_contains_substring (relay_detect_report_get_notes (report), "No source"));

  guesses = relay_detect_report_get_guesses (report);
  g_assert_cmpuint (guesses->len, ==, 4);
  assert_proposal (g_ptr_array_index (guesses, 0), "smtp.none.test", 587, RELAY_SECURITY_STARTTLS);
  assert_proposal (g_ptr_array_index (guesses, 1), "smtp.none.test", 465, RELAY_SECURITY_TLS);
  assert_proposal (g_ptr_array_index (guesses, 2), "mail.none.test", 587, RELAY_SECURITY_STARTTLS);
  assert_proposal (g_ptr_array_index (guesses, 3), "mail.none.test", 465, RELAY_SECURITY_TLS);
}

static void
test_autoconfig_rejected (Fixture       *fixture,
                          gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  const char * const *notes;

  if (fixture->resolver == NULL)
    return;

  report = detect_ok (fixture, "alice@bad.test");
  notes = relay_detect_report_get_notes (report);
  g_assert_null (relay_detect_report_get_best (report));
  g_assert_true (strv_contains_substring (notes, "the document was rejected: The document is not well-formed XML"));
  g_assert_true (strv_contains_substring (notes, "the port “0” is not a number from 1 to 65535"));
  g_assert_true (strv_contains_substring (notes, "the port “99999” is not a number from 1 to 65535"));
  g_assert_true (strv_contains_substring (notes, "unknown connection security “weird”"));
  g_assert_true (strv_contains_substring (notes, "The server host name “bad host.test” was rejected"));
  g_assert_true (strv_contains_substring (notes, "the document lists no usable SMTP server"));
  assert_settings_untouched (fixture);
}

static void
test_https_huge (Fixture       *fixture,
                 gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;

  if (fixture->resolver == NULL)
    return;

  report = detect_ok (fixture, "alice@huge.test");
  g_assert_null (relay_detect_report_get_best (report));
  g_assert_true (strv_contains_substring (relay_detect_report_get_notes (report),
                                          "The answer is larger than 256 KiB"));
}

static void
test_https_redirects (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) refused = NULL;
  g_autoptr(RelayDetectReport) followed = NULL;
  const char * const *notes;

  if (fixture->resolver == NULL)
    return;

  refused = detect_ok (fixture, "alice@redir.test");
  notes = relay_detect_report_get_notes (refused);
  g_assert_null (relay_detect_report_get_best (refused));
  g_assert_true (strv_contains_substring (notes, "Refused to follow a redirection to the unencrypted address http://autoconfig.redir.test:"));
  g_assert_true (strv_contains_substring (notes, "Too many redirections"));

  /* Two redirections within the same https origin are fine. */
  followed = detect_ok (fixture, "alice@redirok.test");
  assert_proposal (relay_detect_report_get_best (followed), "smtp.redirok.test", 587,
                   RELAY_SECURITY_STARTTLS);
  g_assert_null (strstr (relay_detect_proposal_get_source (relay_detect_report_get_best (followed)),
                         "redirected"));

  /* To another host: the values come from there, and their source says so. */
  {
    GPtrArray *proposals = relay_detect_report_get_proposals (followed);
    RelayDetectProposal *other = NULL;

    for (guint i = 0; i < proposals->len; i++)
      if (g_str_equal (relay_detect_proposal_get_host (g_ptr_array_index (proposals, i)),
                       "smtp.elsewhere.test"))
        other = g_ptr_array_index (proposals, i);
    g_assert_nonnull (other);
    g_assert_nonnull (strstr (relay_detect_proposal_get_source (other),
                              "/.well-known/autoconfig/mail/config-v1.1.xml (redirected to provider.test)"));
  }
}

static void
test_https_untrusted (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(RelayDetector) detector = NULL;
  g_autoptr(GProxyResolver) no_proxy = g_simple_proxy_resolver_new (NULL, NULL);
  g_autoptr(SoupSession) session = NULL;
  RelayDetector *saved;
  g_autoptr(RelayDetectReport) report = NULL;

  if (fixture->resolver == NULL)
    return;

  /* Same server, but a session that trusts only the system store: the certificate fails. */
  session = soup_session_new_with_options ("proxy-resolver", no_proxy, NULL);
  detector = relay_detector_new (session);
  g_object_set (detector,
                "autoconfig-urls", relay_detector_get_autoconfig_urls (fixture->detector),
                "isp-database-url", relay_detector_get_isp_database_url (fixture->detector),
                NULL);
  saved = fixture->detector;
  fixture->detector = detector;
  report = detect_ok (fixture, "alice@good.test");
  fixture->detector = saved;
  g_assert_null (relay_detect_report_get_best (report));
  g_assert_true (strv_contains_substring (relay_detect_report_get_notes (report),
                                          "mail/config-v1.1.xml: Unacceptable TLS certificate"));
}

static void
test_deadline (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  gint64 start;
  gint64 elapsed;

  if (fixture->resolver == NULL)
    return;

  /* The autoconfig server never answers and the SRV answer comes late, but in time. */
  relay_fake_resolver_set_delay (fixture->resolver, "_submissions._tcp.slow.test", 100);
  relay_fake_resolver_set_delay (fixture->resolver, "_submission._tcp.slow.test", 60000);
  relay_detector_set_timeout (fixture->detector, 2000);

  start = g_get_monotonic_time ();
  report = detect_ok (fixture, "alice@slow.test");
  elapsed = g_get_monotonic_time () - start;

  /* Not a speed check: the late source would take 60 s, so finishing well before proves that
   * the deadline, not the slowest source, ended the run (with room for a loaded CI machine). */
  g_assert_cmpint (elapsed, >=, 1900 * 1000);
  g_assert_cmpint (elapsed, <, 30 * G_USEC_PER_SEC);
  assert_proposal (relay_detect_report_get_best (report), "smtp.slow.test", 465, RELAY_SECURITY_TLS);
  g_assert_true (strv_contains_substring (relay_detect_report_get_notes (report),
                                          "DNS SRV _submission._tcp.slow.test: no answer within 2.0 seconds"));
  g_assert_true (strv_contains_substring (relay_detect_report_get_notes (report),
                                          "config-v1.1.xml: no answer within 2.0 seconds"));
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) precancelled = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  RelayDetectReport *report;
  gint64 start;

  if (fixture->resolver == NULL)
    return;

  relay_fake_resolver_set_delay (fixture->resolver, "_submissions._tcp.slow.test", 60000);
  relay_detector_set_timeout (fixture->detector, 60000);

  g_timeout_add (150, cancel_cb, cancellable);
  start = g_get_monotonic_time ();
  report = run_detect (fixture, "alice@slow.test", cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (report);
  /* The sources would take 60 s: ending well before proves the cancellation. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);

  g_cancellable_cancel (precancelled);
  report = run_detect (fixture, "alice@good.test", precancelled, &error2);
  g_assert_error (error2, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (report);
  assert_settings_untouched (fixture);
}

static void
test_mx_isp_database (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  RelayDetectProposal *best;

  if (fixture->resolver == NULL)
    return;

  report = detect_ok (fixture, "alice@mx.test");
  best = relay_detect_report_get_best (report);
  assert_proposal (best, "smtp.provider.test", 465, RELAY_SECURITY_TLS);
  g_assert_true (strstr (relay_detect_proposal_get_source (best), "/v1.1/provider.test (for the MX host mx1.provider.test)") != NULL);
  g_assert_cmpstr (relay_detect_proposal_get_username (best), ==, "alice@mx.test");
  g_assert_true (strv_contains_substring (relay_detect_report_get_notes (report), "/v1.1/mx.test: nothing published there"));

  /* A provider under a public suffix of two labels is asked about by its own name. */
  g_clear_object (&report);
  report = detect_ok (fixture, "alice@shop.test");
  assert_proposal (relay_detect_report_get_best (report), "smtp.bigprovider.co.uk", 465,
                   RELAY_SECURITY_TLS);
}

static void
test_plain_ranks_last (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  GPtrArray *proposals;

  if (fixture->resolver == NULL)
    return;

  report = detect_ok (fixture, "alice@plain.test");
  proposals = relay_detect_report_get_proposals (report);
  g_assert_cmpuint (proposals->len, ==, 2);
  assert_proposal (g_ptr_array_index (proposals, 0), "smtp.plain.test", 587, RELAY_SECURITY_STARTTLS);
  assert_proposal (g_ptr_array_index (proposals, 1), "smtp.plain.test", 25, RELAY_SECURITY_NONE);
  g_assert_true (strv_contains_substring (relay_detect_proposal_get_notes (g_ptr_array_index (proposals, 1)),
                                          "would not be encrypted"));
}

static void
test_bad_address (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;

  if (fixture->resolver == NULL)
    return;

  g_assert_null (run_detect (fixture, "no-at-sign", NULL, &error));
  g_assert_error (error, RELAY_ADDRESS_ERROR, RELAY_ADDRESS_ERROR_NO_AT);
  g_assert_null (run_detect (fixture, "alice@[192.0.2.1]", NULL, &error2));
  g_assert_error (error2, RELAY_DETECT_ERROR, RELAY_DETECT_ERROR_NO_DOMAIN);
}

static void
test_apply (Fixture       *fixture,
            gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *server = NULL;
  g_autofree char *username = NULL;

  if (fixture->resolver == NULL)
    return;

  g_settings_set_value (fixture->settings, "port", g_variant_new_uint16 (2525));
  report = detect_ok (fixture, "alice@good.test");
  g_assert_cmpuint (get_port (fixture->settings), ==, 2525);

  g_assert_true (relay_detect_proposal_apply (relay_detect_report_get_best (report),
                                              fixture->settings, &error));
  g_assert_no_error (error);
  server = g_settings_get_string (fixture->settings, "server");
  username = g_settings_get_string (fixture->settings, "username");
  g_assert_cmpstr (server, ==, "smtp.good.test");
  g_assert_cmpuint (get_port (fixture->settings), ==, 587);
  g_assert_cmpint (g_settings_get_enum (fixture->settings, "security"), ==, RELAY_SECURITY_STARTTLS);
  g_assert_cmpstr (username, ==, "alice@good.test");
  g_assert_true (g_settings_get_boolean (fixture->settings, "requires-auth"));
  /* Applying did not leave the caller's object in delay-apply mode. */
  g_assert_false (g_settings_get_has_unapplied (fixture->settings));
  g_settings_set_value (fixture->settings, "port", g_variant_new_uint16 (2526));
  g_assert_cmpuint (get_port (fixture->settings), ==, 2526);
}

/* What a document says reaches people without control characters. */
static void
test_notes_sanitized (Fixture       *fixture,
                      gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  const char * const *notes;

  if (fixture->resolver == NULL)
    return;

  report = detect_ok (fixture, "alice@esc.test");
  assert_proposal (relay_detect_report_get_best (report), "smtp.esc.test", 587,
                   RELAY_SECURITY_STARTTLS);
  notes = relay_detect_report_get_notes (report);
  g_assert_true (strv_contains_substring (notes, "was rejected"));
  for (guint i = 0; notes[i] != NULL; i++)
    g_assert_null (strchr (notes[i], '\x1b'));
}

/* Applying a proposal that needs a login but names no user does not hand the previous relay's
 * user name (and with it the password on screen) to the new server. */
static void
test_apply_login_without_name (Fixture       *fixture,
                               gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *username = NULL;

  if (fixture->resolver == NULL)
    return;

  g_settings_set_string (fixture->settings, "server", "old-relay.corp.test");
  g_settings_set_string (fixture->settings, "username", "bob-on-the-old-relay");
  report = detect_ok (fixture, "alice@login.test");
  g_assert_true (relay_detect_proposal_apply (relay_detect_report_get_best (report),
                                              fixture->settings, &error));
  g_assert_no_error (error);
  username = g_settings_get_string (fixture->settings, "username");
  g_assert_cmpstr (username, ==, "");
  g_assert_true (g_settings_get_boolean (fixture->settings, "requires-auth"));

  /* The same server again (detect run twice): the user's name for it stays. */
  g_settings_set_string (fixture->settings, "username", "alice");
  g_assert_true (relay_detect_proposal_apply (relay_detect_report_get_best (report),
                                              fixture->settings, &error));
  g_free (username);
  username = g_settings_get_string (fixture->settings, "username");
  g_assert_cmpstr (username, ==, "alice");

  /* The same server as the user typed it (a trailing root dot): still the same server. */
  {
    g_autofree char *host = g_strconcat (relay_detect_proposal_get_host (relay_detect_report_get_best (report)), ".", NULL);
    g_settings_set_string (fixture->settings, "server", host);
  }
  g_assert_true (relay_detect_proposal_apply (relay_detect_report_get_best (report),
                                              fixture->settings, &error));
  g_free (username);
  username = g_settings_get_string (fixture->settings, "username");
  g_assert_cmpstr (username, ==, "alice");
}

/* Sources that could not be asked (no answer, DNS down) make "nothing found" a "try again". */
static void
test_unreachable (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_autoptr(RelayDetectReport) report = NULL;

  if (fixture->resolver == NULL)
    return;

  relay_fake_resolver_set_delay (fixture->resolver, "_submissions._tcp.down.test", 60000);
  relay_fake_resolver_set_delay (fixture->resolver, "_submission._tcp.down.test", 60000);
  relay_detector_set_timeout (fixture->detector, 1000);
  report = detect_ok (fixture, "alice@down.test");
  g_assert_null (relay_detect_report_get_best (report));
  g_assert_true (relay_detect_report_get_incomplete (report));
  g_assert_false (strv_contains_substring (relay_detect_report_get_notes (report),
                                           "No source"));

  /* Every source answered "nothing": that is the answer (with time to answer under valgrind). */
  g_clear_object (&report);
  relay_detector_set_timeout (fixture->detector, 30000);
  report = detect_ok (fixture, "alice@none.test");
  g_assert_null (relay_detect_report_get_best (report));
  g_assert_false (relay_detect_report_get_incomplete (report));
}

/* ---- the command line ---- */

static GString *captured;

static void
capture_cb (const char *text)
{
  g_string_append (captured, text);
}

static int
run_cli (const char * const *args,
         char              **output)
{
  GPrintFunc old_print, old_printerr;
  int status;
  g_auto(GStrv) argv = g_strdupv ((char **) args);

  captured = g_string_new (NULL);
  old_print = g_set_print_handler (capture_cb);
  old_printerr = g_set_printerr_handler (capture_cb);
  status = relay_cli_detect (g_strv_length (argv), argv);
  g_set_print_handler (old_print);
  g_set_printerr_handler (old_printerr);
  g_test_message ("%s", captured->str);
  *output = g_string_free (g_steal_pointer (&captured), FALSE);
  return status;
}

static void
test_cli (Fixture       *fixture,
          gconstpointer  user_data)
{
  g_autofree char *out1 = NULL;
  g_autofree char *out2 = NULL;
  g_autofree char *out3 = NULL;
  g_autofree char *out4 = NULL;
  g_autofree char *out5 = NULL;
  g_autofree char *out6 = NULL;
  g_autofree char *server = NULL;

  if (fixture->resolver == NULL)
    return;

  g_assert_cmpint (run_cli ((const char *[]) { "detect", NULL }, &out1), ==, RELAY_CLI_EXIT_USAGE);
  g_assert_cmpint (run_cli ((const char *[]) { "detect", "a@b.test", "extra", NULL }, &out2), ==,
                   RELAY_CLI_EXIT_USAGE);

  /* The command line uses the real autoconfig URLs (port 443, where nothing listens here) and
   * the ISP database URL from GSettings, which the fixture pointed at the test server. */
  g_assert_cmpint (run_cli ((const char *[]) { "detect", "alice@none.test", NULL }, &out3), ==,
                   RELAY_CLI_EXIT_NOHOST);
  g_assert_nonnull (strstr (out3, "No settings found for none.test"));
  g_assert_nonnull (strstr (out3, "No source describes the mail server of none.test"));
  g_assert_nonnull (strstr (out3, "smtp.none.test, port 587, STARTTLS"));

  g_assert_cmpint (run_cli ((const char *[]) { "detect", "alice@srv.test", NULL }, &out4), ==,
                   RELAY_CLI_EXIT_OK);
  g_assert_nonnull (strstr (out4, "Server:     smtps.srv.test"));
  g_assert_nonnull (strstr (out4, "from DNS SRV _submissions._tcp.srv.test"));
  g_assert_nonnull (strstr (out4, "Nothing was changed"));
  assert_settings_untouched (fixture);

  g_assert_cmpint (run_cli ((const char *[]) { "detect", "not-an-address", NULL }, &out6), ==,
                   RELAY_CLI_EXIT_USAGE);
  g_assert_nonnull (strstr (out6, "Cannot detect settings for “not-an-address”"));

  /* main()'s own vector works too. */
  g_assert_cmpint (run_cli ((const char *[]) { "smtp-relay", "detect", "--apply", "alice@srv.test", NULL }, &out5), ==,
                   RELAY_CLI_EXIT_OK);
  server = g_settings_get_string (fixture->settings, "server");
  g_assert_cmpstr (server, ==, "smtps.srv.test");
  g_assert_cmpuint (get_port (fixture->settings), ==, 465);
  g_assert_cmpint (g_settings_get_enum (fixture->settings, "security"), ==, RELAY_SECURITY_TLS);
  g_assert_nonnull (strstr (out5, "The settings were changed"));
}

/* ---- set-up of the whole program ---- */

static gboolean
make_certificate (void)
{
  g_autoptr(GString) san = g_string_new ("subjectAltName=DNS:localhost");
  g_autoptr(GError) error = NULL;
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  scratch_dir = g_dir_make_tmp ("relay-detect-XXXXXX", &error);
  g_assert_no_error (error);
  cert = g_build_filename (scratch_dir, "cert.pem", NULL);
  key = g_build_filename (scratch_dir, "key.pem", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (test_domains); i++)
    g_string_append_printf (san, ",DNS:%s,DNS:autoconfig.%s", test_domains[i], test_domains[i]);

  {
    const char *argv[] = {
      "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
      "-nodes", "-days", "2", "-subj", "/CN=SMTP Relay test server", "-addext", san->str,
      "-keyout", key, "-out", cert, NULL
    };

    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                       NULL, NULL, NULL, &err, &status, &error) ||
        !g_spawn_check_wait_status (status, &error))
      {
        g_printerr ("# openssl failed: %s %s\n", error->message, err ? err : "");
        return FALSE;
      }
  }

  server_certificate = g_tls_certificate_new_from_files (cert, key, &error);
  g_assert_no_error (error);
  client_database = g_tls_file_database_new (cert, &error);
  g_assert_no_error (error);
  return TRUE;
}

static void
remove_scratch (void)
{
  g_autoptr(GDir) dir = g_dir_open (scratch_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (scratch_dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (scratch_dir);
  g_clear_pointer (&scratch_dir, g_free);
}

#define ADD(path, func) \
  g_test_add ("/relay/detect/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  make_certificate ();

  ADD ("autoconfig/good", test_autoconfig_good);
  ADD ("autoconfig/rejected", test_autoconfig_rejected);
  ADD ("autoconfig/plain-ranks-last", test_plain_ranks_last);
  ADD ("srv/submissions-preferred", test_srv_submissions_preferred);
  ADD ("srv/priority-weight", test_srv_priority_weight);
  ADD ("srv/dot-means-none", test_srv_dot_means_none);
  ADD ("https/too-large", test_https_huge);
  ADD ("https/redirects", test_https_redirects);
  ADD ("https/untrusted-certificate", test_https_untrusted);
  ADD ("isp-database/via-mx", test_mx_isp_database);
  ADD ("deadline", test_deadline);
  ADD ("cancel", test_cancel);
  ADD ("bad-address", test_bad_address);
  ADD ("apply", test_apply);
  ADD ("apply/login-without-name", test_apply_login_without_name);
  ADD ("notes-sanitized", test_notes_sanitized);
  ADD ("unreachable", test_unreachable);
  ADD ("cli", test_cli);

  status = g_test_run ();

  g_clear_object (&server_certificate);
  g_clear_object (&client_database);
  if (scratch_dir != NULL)
    remove_scratch ();
  return status;
}
