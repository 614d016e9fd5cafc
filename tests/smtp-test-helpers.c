/* smtp-test-helpers.c
 *
 * The scripted server runs each connection in a GThreadedSocketService worker with blocking
 * I/O, so a script reads top to bottom; the client under test runs on the main context.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gstdio.h>
#include <stdarg.h>
#include <string.h>

#include "relay-mock-resolver.h"
#include "smtp-test-helpers.h"

struct _ScriptServer
{
  gatomicrefcount  ref_count;
  GSocketService  *service;
  guint16          port;
  char           **script;

  GTlsCertificate *certificate;   /* for "tls", or NULL */

  GMutex           lock;
  GCond            cond;
  guint            connections;
  guint            finished;
  GString         *received;
  GString         *data;
  guint            flight_reads;
  char            *failure;
};

typedef struct
{
  ScriptServer      *server;
  GSocketConnection *connection;
  GIOStream         *tls;
  GInputStream      *in;
  GOutputStream     *out;
  GString           *pending;
  guint              reads;
} Conn;

static void script_server_unref (ScriptServer *server);

static gboolean
conn_fill (Conn *c)
{
  char buf[4096];
  gssize n = g_input_stream_read (c->in, buf, sizeof buf, NULL, NULL);

  if (n <= 0)
    return FALSE;
  c->reads++;
  g_string_append_len (c->pending, buf, n);
  g_mutex_lock (&c->server->lock);
  g_string_append_len (c->server->received, buf, n);
  g_mutex_unlock (&c->server->lock);
  return TRUE;
}

static char *
conn_read_line (Conn *c)
{
  const char *end;
  char *line;

  while ((end = strstr (c->pending->str, "\r\n")) == NULL)
    if (!conn_fill (c))
      return NULL;
  line = g_strndup (c->pending->str, end - c->pending->str);
  g_string_erase (c->pending, 0, end - c->pending->str + 2);
  return line;
}

static void
set_failure (ScriptServer *server,
             char         *failure)
{
  g_mutex_lock (&server->lock);
  if (server->failure == NULL)
    server->failure = failure;
  else
    g_free (failure);
  g_mutex_unlock (&server->lock);
}

/* Moves the message, up to and with the CRLF . CRLF at @end, from what was read to data. */
static void
take_message (Conn       *c,
              const char *end)
{
  gsize length = end - c->pending->str + 5;

  g_mutex_lock (&c->server->lock);
  g_string_append_len (c->server->data, c->pending->str, length);
  g_mutex_unlock (&c->server->lock);
  g_string_erase (c->pending, 0, length);
}

static gboolean
run_action (Conn       *c,
            const char *action)
{
  if (g_str_has_prefix (action, "> "))
    return g_output_stream_write_all (c->out, action + 2, strlen (action + 2), NULL, NULL, NULL);

  if (g_str_has_prefix (action, "< "))
    {
      g_autofree char *line = conn_read_line (c);

      if (line == NULL)
        return FALSE;
      if (g_ascii_strncasecmp (line, action + 2, strlen (action + 2)) != 0)
        {
          set_failure (c->server, g_strdup_printf ("expected “%s”, got “%s”", action + 2, line));
          return FALSE;
        }
      return TRUE;
    }

  if (g_str_has_prefix (action, "<< "))
    {
      guint wanted = atoi (action + 3);
      guint before = c->reads;
      guint lines = 0;

      /* Count complete lines; already buffered bytes count as no read. */
      while (TRUE)
        {
          lines = 0;
          for (const char *p = c->pending->str; (p = strstr (p, "\r\n")) != NULL; p += 2)
            lines++;
          if (lines >= wanted)
            break;
          if (!conn_fill (c))
            return FALSE;
        }
      g_mutex_lock (&c->server->lock);
      c->server->flight_reads = c->reads - before;
      g_mutex_unlock (&c->server->lock);
      for (guint i = 0; i < wanted; i++)
        g_free (conn_read_line (c));
      return TRUE;
    }

  if (strcmp (action, "data") == 0)
    {
      const char *end;

      while ((end = strstr (c->pending->str, "\r\n.\r\n")) == NULL)
        if (!conn_fill (c))
          return FALSE;
      take_message (c, end);
      return TRUE;
    }

  if (strcmp (action, "bdat") == 0)
    {
      /* "BDAT N LAST" and its chunk of N bytes, which go to data as they are */
      g_autofree char *line = conn_read_line (c);
      guint64 size;

      if (line == NULL)
        return FALSE;
      if (!g_str_has_prefix (line, "BDAT ") || !g_str_has_suffix (line, " LAST"))
        {
          set_failure (c->server, g_strdup_printf ("expected “BDAT … LAST”, got “%s”", line));
          return FALSE;
        }
      size = g_ascii_strtoull (line + 5, NULL, 10);
      while (c->pending->len < size)
        if (!conn_fill (c))
          return FALSE;
      g_mutex_lock (&c->server->lock);
      g_string_append_len (c->server->data, c->pending->str, size);
      g_mutex_unlock (&c->server->lock);
      g_string_erase (c->pending, 0, size);
      return TRUE;
    }

  if (strcmp (action, "slow data") == 0)
    {
      /* "data", read as a slow link would: 32 KiB every 10 ms (about 25 Mbit/s less the
       * scheduling), so that a large message takes longer than a reply deadline to arrive. */
      g_autofree char *buf = g_malloc (32 * 1024);
      gsize scanned = 0;
      const char *end;

      while ((end = g_strstr_len (c->pending->str + scanned, c->pending->len - scanned,
                                  "\r\n.\r\n")) == NULL)
        {
          gssize n;

          scanned = c->pending->len > 4 ? c->pending->len - 4 : 0;
          g_usleep (test_ms (10) * 1000);
          n = g_input_stream_read (c->in, buf, 32 * 1024, NULL, NULL);
          if (n <= 0)
            return FALSE;
          g_string_append_len (c->pending, buf, n);
        }
      take_message (c, end);
      return TRUE;
    }

  if (strcmp (action, "sleep") == 0)
    {
      g_usleep (test_ms (2000) * 1000);
      return TRUE;
    }

  if (g_str_has_prefix (action, "drip "))
    {
      for (const char *p = action + 5; *p; p++)
        {
          if (!g_output_stream_write_all (c->out, p, 1, NULL, NULL, NULL))
            return FALSE;
          g_usleep (test_ms (100) * 1000);
        }
      return TRUE;
    }

  if (strcmp (action, "flood") == 0)
    {
      g_autofree char *chunk = g_strnfill (64 * 1024, 'x');

      if (!g_output_stream_write_all (c->out, "250-", 4, NULL, NULL, NULL))
        return FALSE;
      for (guint i = 0; i < 256; i++)
        if (!g_output_stream_write_all (c->out, chunk, 64 * 1024, NULL, NULL, NULL))
          return FALSE;
      return TRUE;
    }

  if (strcmp (action, "close") == 0)
    return FALSE;

  if (g_str_has_prefix (action, "lines "))
    {
      /* "lines N TEXT": TEXT N times, as fast as the client takes it */
      char *end = NULL;
      guint64 n = g_ascii_strtoull (action + 6, &end, 10);

      for (guint64 i = 0; i < n; i++)
        if (!g_output_stream_write_all (c->out, end + 1, strlen (end + 1), NULL, NULL, NULL))
          return FALSE;
      return TRUE;
    }

  if (strcmp (action, "alone") == 0)
    {
      /* The last command came without anything after it (no pipelining): wait a moment for
       * stragglers, since a pipelined flight is one write but may be split by the kernel. */
      GSocket *socket = g_socket_connection_get_socket (c->connection);

      if (c->tls == NULL)
        g_socket_condition_timed_wait (socket, G_IO_IN, 100 * 1000, NULL, NULL);
      else
        g_usleep (100 * 1000);
      if (c->pending->len > 0
          || (c->tls == NULL && g_socket_get_available_bytes (socket) > 0)
          || (c->tls != NULL && g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (c->in))))
        {
          set_failure (c->server, g_strdup ("the client pipelined commands it should not have"));
          return FALSE;
        }
      return TRUE;
    }

  if (strcmp (action, "tls") == 0)
    {
      GSocket *socket = g_socket_connection_get_socket (c->connection);
      g_autoptr(GError) error = NULL;
      guint8 first = 0;
      GInputVector vector = { &first, 1 };
      int flags = G_SOCKET_MSG_PEEK;

      /* Nothing may precede the ClientHello, whose first byte starts a TLS handshake record
       * (22): peek at it, since plain text there is what a downgrade would send. */
      if (c->pending->len > 0)
        {
          set_failure (c->server, g_strdup ("the client sent plain text before the TLS handshake"));
          return FALSE;
        }
      if (g_socket_receive_message (socket, NULL, &vector, 1, NULL, NULL, &flags, NULL, NULL) != 1)
        return FALSE;
      if (first != 22)
        {
          set_failure (c->server, g_strdup ("the client sent plain text before the TLS handshake"));
          return FALSE;
        }
      g_assert_nonnull (c->server->certificate);
      c->tls = g_tls_server_connection_new (G_IO_STREAM (c->connection),
                                            c->server->certificate, &error);
      g_assert_no_error (error);
      if (!g_tls_connection_handshake (G_TLS_CONNECTION (c->tls), NULL, &error))
        {
          /* the client refused the certificate: that is what the test wants to see */
          g_mutex_lock (&c->server->lock);
          g_string_append (c->server->received, "<TLS failed>\r\n");
          g_mutex_unlock (&c->server->lock);
          return FALSE;
        }
      g_mutex_lock (&c->server->lock);
      g_string_append (c->server->received, "<TLS>\r\n");
      g_mutex_unlock (&c->server->lock);
      c->in = g_io_stream_get_input_stream (c->tls);
      c->out = g_io_stream_get_output_stream (c->tls);
      return TRUE;
    }

  g_error ("unknown script action %s", action);
  return FALSE;
}

static gboolean
on_run_cb (GThreadedSocketService *service,
           GSocketConnection      *connection,
           GObject                *source,
           gpointer                user_data)
{
  ScriptServer *server = user_data;
  Conn c = { server, connection, NULL, g_io_stream_get_input_stream (G_IO_STREAM (connection)),
             g_io_stream_get_output_stream (G_IO_STREAM (connection)), g_string_new (NULL), 0 };
  gboolean go_on = TRUE;
  guint number, start = 0;

  g_mutex_lock (&server->lock);
  number = server->connections++;
  g_mutex_unlock (&server->lock);

  /* Connection N runs the N-th part of a script split by "--"; the last part goes on. */
  for (guint i = 0; number > 0 && server->script[i] != NULL; i++)
    if (strcmp (server->script[i], "--") == 0)
      {
        start = i + 1;
        number--;
      }
  for (guint i = start; go_on && server->script[i] != NULL && strcmp (server->script[i], "--") != 0; i++)
    go_on = run_action (&c, server->script[i]);

  /* Record whatever else the client sends until it goes away. */
  if (go_on)
    while (conn_fill (&c))
      ;

  /* Close the socket itself: a TLS close_notify would wait on a peer that went away. */
  g_socket_close (g_socket_connection_get_socket (connection), NULL);
  g_clear_object (&c.tls);
  g_string_free (c.pending, TRUE);

  g_mutex_lock (&server->lock);
  server->finished++;
  g_cond_broadcast (&server->cond);
  g_mutex_unlock (&server->lock);
  return TRUE;
}

static void
on_closure_destroyed_cb (gpointer  data,
                         GClosure *closure)
{
  script_server_unref (data);
}

/**
 * script_server_new_tls:
 * @certificate: the server's certificate with its key, for the "tls" action
 *
 * Like script_server_new(); "tls" in the script does the server side of a TLS handshake
 * (after "220" to STARTTLS, or first thing for implicit TLS) and the rest of the script runs
 * encrypted. received gets "<TLS>" (or "<TLS failed>") at that point.
 */
ScriptServer *
script_server_new_tls (const char * const *script,
                       GTlsCertificate    *certificate)
{
  ScriptServer *server = script_server_new (script);

  server->certificate = g_object_ref (certificate);
  return server;
}

ScriptServer *
script_server_new (const char * const *script)
{
  ScriptServer *server = g_new0 (ScriptServer, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  g_atomic_ref_count_init (&server->ref_count);
  g_mutex_init (&server->lock);
  g_cond_init (&server->cond);
  server->script = g_strdupv ((char **) script);
  server->received = g_string_new (NULL);
  server->data = g_string_new (NULL);
  server->service = g_threaded_socket_service_new (4);
  g_socket_listener_add_address (G_SOCKET_LISTENER (server->service), address,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                 &effective, &error);
  g_assert_no_error (error);
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  /* A connection accepted just before the test ends may still start its worker afterwards:
   * the handler keeps the server data alive for as long as the service exists. */
  g_atomic_ref_count_inc (&server->ref_count);
  g_signal_connect_data (server->service, "run", G_CALLBACK (on_run_cb), server,
                         on_closure_destroyed_cb, 0);
  g_socket_service_start (server->service);
  return server;
}

guint16
script_server_get_port (ScriptServer *server)
{
  return server->port;
}

/* Waits until every accepted connection has finished its script (the client closed). */
void
script_server_wait (ScriptServer *server)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_mutex_lock (&server->lock);
  while (server->finished < server->connections)
    if (!g_cond_wait_until (&server->cond, &server->lock, deadline))
      g_error ("scripted server did not finish");
  g_mutex_unlock (&server->lock);
}

const char *
script_server_get_received (ScriptServer *server)
{
  script_server_wait (server);
  return server->received->str;
}

const char *
script_server_get_data (ScriptServer *server)
{
  script_server_wait (server);
  return server->data->str;
}

guint
script_server_get_flight_reads (ScriptServer *server)
{
  script_server_wait (server);
  return server->flight_reads;
}

guint
script_server_get_connections (ScriptServer *server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->connections;
  g_mutex_unlock (&server->lock);
  return n;
}

const char *
script_server_get_failure (ScriptServer *server)
{
  script_server_wait (server);
  return server->failure;
}

static void
script_server_unref (ScriptServer *server)
{
  if (!g_atomic_ref_count_dec (&server->ref_count))
    return;
  g_strfreev (server->script);
  g_clear_object (&server->certificate);
  g_string_free (server->received, TRUE);
  g_string_free (server->data, TRUE);
  g_free (server->failure);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->cond);
  g_free (server);
}

void
script_server_free (ScriptServer *server)
{
  script_server_wait (server);
  g_socket_service_stop (server->service);
  g_socket_listener_close (G_SOCKET_LISTENER (server->service));
  g_clear_object (&server->service);
  script_server_unref (server);
}

/* --- the names the client tests use ------------------------------------------------------- */

/**
 * fake_resolver_new:
 *
 * A relay-mock-resolver scripted with the names of the client tests: ok.test is 127.0.0.1;
 * two.test is 127.0.0.2 (loopback too, but the test servers listen on 127.0.0.1 only, so it
 * refuses) and then 127.0.0.1; slow.test is 127.0.0.3 (which a test turns into a black hole)
 * and then 127.0.0.1; tempfail.test is a temporary DNS failure; hang.test never answers; any
 * other name does not exist.
 */
GResolver *
fake_resolver_new (void)
{
  RelayMockResolver *resolver = g_object_new (RELAY_TYPE_MOCK_RESOLVER, NULL);

  relay_mock_resolver_set_addresses (resolver, "ok.test", 0, "127.0.0.1", NULL);
  relay_mock_resolver_set_addresses (resolver, "two.test", 0, "127.0.0.2", "127.0.0.1", NULL);
  relay_mock_resolver_set_addresses (resolver, "slow.test", 0, "127.0.0.3", "127.0.0.1", NULL);
  relay_mock_resolver_set_error (resolver, "tempfail.test", 0, G_RESOLVER_ERROR_TEMPORARY_FAILURE);
  relay_mock_resolver_set_hang (resolver, "hang.test");
  return G_RESOLVER (resolver);
}

/* --- driving the client ------------------------------------------------------------------- */

static void
store_result_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

char *
run_send (RelaySmtpClient   *client,
          RelaySmtpMessage  *message,
          GCancellable      *cancellable,
          GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  relay_smtp_client_send_async (client, message, cancellable, store_result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return relay_smtp_client_send_finish (client, result, error);
}

/* --- throw-away certificates -------------------------------------------------------------- */

static gboolean
run_openssl (const char  *dir,
             GError     **error,
             ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  int status = 0;
  va_list args;

  g_ptr_array_add (argv, (char *) "openssl");
  va_start (args, error);
  for (const char *arg; (arg = va_arg (args, const char *)) != NULL;)
    g_ptr_array_add (argv, (char *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  if (!g_spawn_sync (dir, (char **) argv->pdata, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, error))
    return FALSE;
  return g_spawn_check_wait_status (status, error);
}

#define EC_KEY "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"

static gboolean
make_ca (const char  *dir,
         const char  *name,
         GError     **error)
{
  g_autofree char *key = g_strconcat (name, ".key", NULL);
  g_autofree char *pem = g_strconcat (name, ".pem", NULL);
  g_autofree char *subject = g_strconcat ("/CN=Relay Test ", name, NULL);

  return run_openssl (dir, error, "req", "-x509", EC_KEY, "-keyout", key, "-out", pem,
                      "-days", "2", "-subj", subject,
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign", NULL);
}

static GTlsCertificate *
make_leaf (const char  *dir,
           const char  *name,
           const char  *san,
           const char  *ca,
           const char  *days,
           GError     **error)
{
  g_autofree char *key = g_strconcat (name, ".key", NULL);
  g_autofree char *csr = g_strconcat (name, ".csr", NULL);
  g_autofree char *pem = g_strconcat (name, ".pem", NULL);
  g_autofree char *ext = g_strconcat (name, ".ext", NULL);
  g_autofree char *ca_pem = g_strconcat (ca, ".pem", NULL);
  g_autofree char *ca_key = g_strconcat (ca, ".key", NULL);
  g_autofree char *ext_path = g_build_filename (dir, ext, NULL);
  g_autofree char *ext_text = g_strdup_printf ("subjectAltName=%s\n"
                                               "basicConstraints=CA:FALSE\n"
                                               "keyUsage=critical,digitalSignature\n"
                                               "extendedKeyUsage=serverAuth\n", san);
  g_autofree char *pem_path = g_build_filename (dir, pem, NULL);
  g_autofree char *key_path = g_build_filename (dir, key, NULL);

  if (!g_file_set_contents (ext_path, ext_text, -1, error)
      || !run_openssl (dir, error, "req", EC_KEY, "-keyout", key, "-out", csr,
                       "-subj", "/CN=Relay Test Server", NULL)
      /* "-days -1" makes a certificate that expired a day before it was issued */
      || !run_openssl (dir, error, "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
                       "-CAcreateserial", "-out", pem, "-days", days, "-extfile", ext, NULL))
    return NULL;
  return g_tls_certificate_new_from_files (pem_path, key_path, error);
}

/**
 * test_certs_new:
 *
 * Makes a CA, another CA nobody trusts, and server certificates for the TLS tests.
 *
 * Returns: (transfer full): the certificates, or %NULL when openssl is missing or failed
 */
TestCerts *
test_certs_new (GError **error)
{
  g_autoptr(TestCerts) certs = g_new0 (TestCerts, 1);
  g_autofree char *ca_path = NULL;

  certs->dir = g_dir_make_tmp ("relay-certs-XXXXXX", error);
  if (certs->dir == NULL
      || !make_ca (certs->dir, "ca", error)
      || !make_ca (certs->dir, "other-ca", error)
      || !(certs->dns = make_leaf (certs->dir, "dns", "DNS:relay.example.test", "ca", "2", error))
      || !(certs->ip = make_leaf (certs->dir, "ip", "IP:127.0.0.1", "ca", "2", error))
      || !(certs->expired = make_leaf (certs->dir, "expired", "DNS:relay.example.test", "ca", "-1", error))
      || !(certs->wrong_name = make_leaf (certs->dir, "wrong-name", "DNS:other.example.test", "ca", "2", error))
      || !(certs->unknown_ca = make_leaf (certs->dir, "unknown-ca", "DNS:relay.example.test", "other-ca", "2", error)))
    return NULL;
  ca_path = g_build_filename (certs->dir, "ca.pem", NULL);
  certs->ca = g_tls_file_database_new (ca_path, error);
  if (certs->ca == NULL)
    return NULL;
  return g_steal_pointer (&certs);
}

void
test_certs_free (TestCerts *certs)
{
  if (certs->dir != NULL)
    {
      g_autoptr(GDir) dir = g_dir_open (certs->dir, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (certs->dir, name, NULL);

          g_remove (path);
        }
      g_rmdir (certs->dir);
    }
  g_free (certs->dir);
  g_clear_object (&certs->ca);
  g_clear_object (&certs->dns);
  g_clear_object (&certs->ip);
  g_clear_object (&certs->expired);
  g_clear_object (&certs->wrong_name);
  g_clear_object (&certs->unknown_ca);
  g_free (certs);
}

/* A time limit of a test, stretched by RELAY_TEST_SLOWDOWN (valgrind runs many times slower). */
guint
test_ms (guint ms)
{
  const char *slowdown = g_getenv ("RELAY_TEST_SLOWDOWN");
  guint64 factor = 1;

  if (slowdown != NULL && !g_ascii_string_to_unsigned (slowdown, 10, 1, 100, &factor, NULL))
    factor = 1;
  return ms * factor;
}

const char * const script_accept_one[] = {
    "> 220 relay.example.test ESMTP\r\n",
    "< EHLO",
    "> 250-relay.example.test\r\n250 PIPELINING\r\n",
    "<< 3",
    "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
    "data",
    "> 250 2.0.0 Ok: queued as 9A\r\n",
    "< QUIT",
    "> 221 2.0.0 Bye\r\n",
    NULL
};
