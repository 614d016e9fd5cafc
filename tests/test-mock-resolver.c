/* test-mock-resolver.c: the test helper itself, as GIO's own users (GSocketClient) see it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay-mock-resolver.h"

#define WAIT_MS 3000

typedef struct
{
  RelayMockResolver *resolver;
  GAsyncResult      *result;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->resolver = relay_mock_resolver_install ();
  relay_mock_resolver_set_addresses (f->resolver, "ok.test", 0, "192.0.2.1", "2001:db8::1", NULL);
  relay_mock_resolver_set_addresses (f->resolver, "v4.test", 0, "127.0.0.1", NULL);
  relay_mock_resolver_set_addresses (f->resolver, "slow.test", 100, "192.0.2.2", NULL);
  relay_mock_resolver_set_error (f->resolver, "down.test", 0, G_RESOLVER_ERROR_TEMPORARY_FAILURE);
  relay_mock_resolver_set_hang (f->resolver, "hang.test");
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->result);
  g_clear_pointer (&f->resolver, relay_mock_resolver_uninstall);
}

static void
on_result_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Fixture *f = user_data;

  g_assert_null (f->result);
  f->result = g_object_ref (result);
}

static gboolean
on_timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Returns the async result, which the next call replaces. */
static GAsyncResult *
wait_for_result (Fixture *f)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (WAIT_MS, on_timeout_cb, &timed_out);

  g_clear_object (&f->result);
  while (f->result == NULL && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);

  g_assert_nonnull (f->result);
  return f->result;
}

static void
assert_addresses (GList *addresses,
                  ...)
{
  va_list args;
  const GList *l = addresses;

  va_start (args, addresses);
  for (const char *a = va_arg (args, const char *); a != NULL; a = va_arg (args, const char *))
    {
      g_autofree char *text = NULL;

      g_assert_nonnull (l);
      text = g_inet_address_to_string (l->data);
      g_assert_cmpstr (text, ==, a);
      l = l->next;
    }
  va_end (args);

  g_assert_null (l);
}

static void
test_install (void)
{
  g_autoptr(GResolver) before = g_resolver_get_default ();
  g_autoptr(GResolver) during = NULL;
  g_autoptr(GResolver) after = NULL;
  RelayMockResolver *resolver = relay_mock_resolver_install ();

  during = g_resolver_get_default ();
  g_assert_true (during == G_RESOLVER (resolver));
  relay_mock_resolver_uninstall (resolver);
  after = g_resolver_get_default ();
  g_assert_true (after == before);
}

static void
test_async (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  g_autoptr(GError) error = NULL;
  GList *addresses;

  g_resolver_lookup_by_name_async (resolver, "OK.test.", NULL, on_result_cb, f);
  addresses = g_resolver_lookup_by_name_finish (resolver, wait_for_result (f), &error);
  g_assert_no_error (error);
  assert_addresses (addresses, "192.0.2.1", "2001:db8::1", NULL);
  g_resolver_free_addresses (addresses);

  g_resolver_lookup_by_name_async (resolver, "down.test", NULL, on_result_cb, f);
  addresses = g_resolver_lookup_by_name_finish (resolver, wait_for_result (f), &error);
  g_assert_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE);
  g_assert_null (addresses);
  g_clear_error (&error);

  g_resolver_lookup_by_name_async (resolver, "unknown.test", NULL, on_result_cb, f);
  addresses = g_resolver_lookup_by_name_finish (resolver, wait_for_result (f), &error);
  g_assert_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "ok.test"), ==, 1);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "unknown.test"), ==, 1);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, NULL), ==, 3);
}

static void
test_flags (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  g_autoptr(GError) error = NULL;
  GList *addresses;

  g_resolver_lookup_by_name_with_flags_async (resolver, "ok.test",
                                              G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY,
                                              NULL, on_result_cb, f);
  addresses = g_resolver_lookup_by_name_with_flags_finish (resolver, wait_for_result (f), &error);
  g_assert_no_error (error);
  assert_addresses (addresses, "2001:db8::1", NULL);
  g_resolver_free_addresses (addresses);

  addresses = g_resolver_lookup_by_name_with_flags (resolver, "v4.test",
                                                    G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY,
                                                    NULL, &error);
  g_assert_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND);
  g_assert_null (addresses);
}

static gpointer
cancel_later_thread (gpointer data)
{
  g_usleep (50 * G_TIME_SPAN_MILLISECOND);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_sync (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GThread *thread;
  GList *addresses;

  addresses = g_resolver_lookup_by_name (resolver, "slow.test", NULL, &error);
  g_assert_no_error (error);
  assert_addresses (addresses, "192.0.2.2", NULL);
  g_resolver_free_addresses (addresses);

  thread = g_thread_new ("cancel", cancel_later_thread, cancellable);
  addresses = g_resolver_lookup_by_name (resolver, "hang.test", cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (addresses);
  g_thread_join (thread);
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  g_autoptr(GError) error = NULL;
  GList *addresses;

  for (guint i = 0; i < 2; i++)
    {
      const char *name = i == 0 ? "hang.test" : "slow.test";
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();

      g_resolver_lookup_by_name_async (resolver, name, cancellable, on_result_cb, f);
      g_cancellable_cancel (cancellable);
      addresses = g_resolver_lookup_by_name_finish (resolver, wait_for_result (f), &error);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_null (addresses);
      g_clear_error (&error);
    }

  /* a deaf resolver answers anyway, late */
  relay_mock_resolver_set_ignore_cancel (f->resolver, TRUE);
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();

    g_resolver_lookup_by_name_async (resolver, "slow.test", cancellable, on_result_cb, f);
    g_cancellable_cancel (cancellable);
    addresses = g_resolver_lookup_by_name_finish (resolver, wait_for_result (f), &error);
    g_assert_no_error (error);
    assert_addresses (addresses, "192.0.2.2", NULL);
    g_resolver_free_addresses (addresses);
  }
}

/* GSocketClient goes through GNetworkAddress and so through the *_with_flags vfuncs. */
static void
test_socket_client (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port;

  /* GSETTINGS_SCHEMA_DIR points at our schemas only, so glib-networking's GNOME proxy resolver
   * would abort on the missing org.gnome.system.proxy; a mock-resolved host needs no proxy. */
  g_socket_client_set_enable_proxy (client, FALSE);

  g_socket_listener_add_address (G_SOCKET_LISTENER (service), address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  g_socket_client_connect_to_host_async (client, "v4.test", port, NULL, on_result_cb, f);
  connection = g_socket_client_connect_to_host_finish (client, wait_for_result (f), &error);
  g_assert_no_error (error);
  g_assert_nonnull (connection);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "v4.test"), >=, 1);

  g_socket_client_connect_to_host_async (client, "down.test", port, NULL, on_result_cb, f);
  g_assert_null (g_socket_client_connect_to_host_finish (client, wait_for_result (f), &error));
  g_assert_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE);

  g_socket_service_stop (service);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/relay/mock-resolver/install", test_install);

#define ADD(path, func) \
  g_test_add ("/relay/mock-resolver/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("async", test_async);
  ADD ("flags", test_flags);
  ADD ("sync", test_sync);
  ADD ("cancel", test_cancel);
  ADD ("socket-client", test_socket_client);

#undef ADD

  return g_test_run ();
}
