/* test-resolver-watch.c: the debounced DNS check of the server name, against a mock resolver
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <locale.h>
#include <string.h>

#include "relay-hostname.h"
#include "relay-mock-resolver.h"
#include "relay-resolver-watch.h"

#define CANNOT_BE_RESOLVED "The IP address of specified SMTP server cannot be resolved"
#define WAIT_MS 3000   /* safety net for a wait that should end much sooner */

/* A GNetworkMonitor whose network-changed the test emits by hand. */
#define FAKE_TYPE_NETWORK_MONITOR (fake_network_monitor_get_type ())
G_DECLARE_FINAL_TYPE (FakeNetworkMonitor, fake_network_monitor, FAKE, NETWORK_MONITOR, GObject)

struct _FakeNetworkMonitor
{
  GObject parent_instance;
};

enum {
  MONITOR_PROP_0,
  MONITOR_PROP_NETWORK_AVAILABLE,
  MONITOR_PROP_NETWORK_METERED,
  MONITOR_PROP_CONNECTIVITY,
};

static gboolean
fake_network_monitor_initable_init (GInitable     *initable,
                                    GCancellable  *cancellable,
                                    GError       **error)
{
  return TRUE;
}

static void
fake_network_monitor_initable_iface_init (GInitableIface *iface)
{
  iface->init = fake_network_monitor_initable_init;
}

static void
fake_network_monitor_iface_init (GNetworkMonitorInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE (FakeNetworkMonitor, fake_network_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      fake_network_monitor_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR,
                                                      fake_network_monitor_iface_init))

static void
fake_network_monitor_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  switch (prop_id)
    {
    case MONITOR_PROP_NETWORK_AVAILABLE:
      g_value_set_boolean (value, TRUE);
      break;

    case MONITOR_PROP_NETWORK_METERED:
      g_value_set_boolean (value, FALSE);
      break;

    case MONITOR_PROP_CONNECTIVITY:
      g_value_set_enum (value, G_NETWORK_CONNECTIVITY_FULL);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
fake_network_monitor_class_init (FakeNetworkMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = fake_network_monitor_get_property;

  g_object_class_override_property (object_class, MONITOR_PROP_NETWORK_AVAILABLE,
                                    "network-available");
  g_object_class_override_property (object_class, MONITOR_PROP_NETWORK_METERED,
                                    "network-metered");
  g_object_class_override_property (object_class, MONITOR_PROP_CONNECTIVITY, "connectivity");
}

static void
fake_network_monitor_init (FakeNetworkMonitor *self)
{
}

typedef struct
{
  guint    debounce_ms;
  guint    deadline_ms;
  guint    retry_min_ms;
  guint    retry_max_ms;
  gboolean ignore_cancel;
} Tunables;

static const Tunables default_tunables = { 20, 200, 50, 200, FALSE };
static const Tunables fast_retry = { 20, 200, 20, 80, FALSE };
static const Tunables slow_typing = { 200, 200, 50, 200, FALSE };
static const Tunables no_timed_retry = { 20, 200, 60000, 60000, FALSE };
static const Tunables fast_deadline = { 20, 100, 50, 60000, FALSE };
static const Tunables long_deadline = { 20, 2000, 50, 200, FALSE };
static const Tunables long_deadline_deaf = { 20, 2000, 50, 200, TRUE };
static const Tunables short_deadline_deaf = { 20, 100, 60000, 60000, TRUE };

typedef struct
{
  RelayMockResolver  *resolver;
  FakeNetworkMonitor *monitor;
  RelayResolverWatch *watch;
  GArray             *states;           /* every state notified, in order */
  guint               message_notifies;
} Fixture;

static void
on_watch_notify_state_cb (RelayResolverWatch *watch,
                          GParamSpec         *pspec,
                          Fixture            *f)
{
  RelayResolverState state = relay_resolver_watch_get_state (watch);

  g_array_append_val (f->states, state);
}

static void
on_watch_notify_message_cb (RelayResolverWatch *watch,
                            GParamSpec         *pspec,
                            Fixture            *f)
{
  f->message_notifies++;
}

static RelayResolverWatch *
create_watch (Fixture        *f,
              const Tunables *t)
{
  return g_object_new (RELAY_TYPE_RESOLVER_WATCH,
                       "debounce-ms", t->debounce_ms,
                       "deadline-ms", t->deadline_ms,
                       "retry-min-ms", t->retry_min_ms,
                       "retry-max-ms", t->retry_max_ms,
                       "network-monitor", f->monitor,
                       NULL);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  const Tunables *t = data ? data : &default_tunables;

  f->resolver = relay_mock_resolver_install ();
  relay_mock_resolver_set_addresses (f->resolver, "ok.test", 0, "192.0.2.1", "2001:db8::1", NULL);
  relay_mock_resolver_set_error (f->resolver, "nx.test", 0, G_RESOLVER_ERROR_NOT_FOUND);
  relay_mock_resolver_set_error (f->resolver, "down.test", 0, G_RESOLVER_ERROR_TEMPORARY_FAILURE);
  relay_mock_resolver_set_hang (f->resolver, "hang.test");
  relay_mock_resolver_set_addresses (f->resolver, "slow.test", 150, "192.0.2.2", NULL);
  relay_mock_resolver_set_ignore_cancel (f->resolver, t->ignore_cancel);

  f->monitor = g_object_new (FAKE_TYPE_NETWORK_MONITOR, NULL);
  f->watch = create_watch (f, t);
  f->states = g_array_new (FALSE, FALSE, sizeof (RelayResolverState));
  g_signal_connect (f->watch, "notify::state", G_CALLBACK (on_watch_notify_state_cb), f);
  g_signal_connect (f->watch, "notify::message", G_CALLBACK (on_watch_notify_message_cb), f);
}

static void
drain_main_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_finalize_object (f->watch);
  drain_main_context ();   /* cancelled lookups complete now, inside this test */
  g_assert_finalize_object (f->monitor);
  g_clear_pointer (&f->resolver, relay_mock_resolver_uninstall);
  g_array_unref (f->states);
}

static gboolean
on_timeout_cb (gpointer user_data)
{
  gboolean *done = user_data;

  *done = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_timeout_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static void
wait_for_state (RelayResolverWatch *watch,
                RelayResolverState  state)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (WAIT_MS, on_timeout_cb, &timed_out);

  while (relay_resolver_watch_get_state (watch) != state && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);

  g_assert_cmpint (relay_resolver_watch_get_state (watch), ==, state);
}

static void
wait_for_lookups (Fixture    *f,
                  const char *name,
                  guint       count)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (WAIT_MS, on_timeout_cb, &timed_out);

  while (relay_mock_resolver_get_lookups (f->resolver, name) < count && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);

  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, name), >=, count);
}

static void
assert_states (Fixture *f,
               ...)
{
  va_list args;
  guint i = 0;
  int state;

  va_start (args, f);
  while ((state = va_arg (args, int)) != -1)
    {
      g_assert_cmpuint (i, <, f->states->len);
      g_assert_cmpint (g_array_index (f->states, RelayResolverState, i), ==, state);
      i++;
    }
  va_end (args);

  g_assert_cmpuint (i, ==, f->states->len);
}

static void
assert_addresses (RelayResolverWatch *watch,
                  ...)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) expected = NULL;
  g_autolist(GInetAddress) inet_addresses = relay_resolver_watch_get_inet_addresses (watch);
  const char * const *addresses = relay_resolver_watch_get_addresses (watch);
  const GList *l = inet_addresses;
  va_list args;

  va_start (args, watch);
  for (const char *a = va_arg (args, const char *); a != NULL; a = va_arg (args, const char *))
    g_strv_builder_add (builder, a);
  va_end (args);
  expected = g_strv_builder_end (builder);

  g_assert_nonnull (addresses);
  g_assert_cmpstrv (addresses, expected);
  if (expected[0] == NULL)
    g_assert_cmpint (relay_resolver_watch_get_resolved_age (watch), ==, -1);

  g_assert_cmpuint (g_list_length (inet_addresses), ==, g_strv_length (expected));
  for (guint i = 0; expected[i] != NULL; i++, l = l->next)
    {
      g_autofree char *text = g_inet_address_to_string (l->data);

      g_assert_cmpstr (text, ==, expected[i]);
    }
}

static void
test_defaults (void)
{
  g_autoptr(RelayResolverWatch) watch = relay_resolver_watch_new ();
  g_autoptr(GNetworkMonitor) monitor = NULL;
  g_auto(GStrv) addresses = NULL;
  g_autofree char *message = NULL;
  g_autofree char *server = NULL;
  RelayResolverState state;
  guint debounce_ms, deadline_ms, retry_min_ms, retry_max_ms;
  GEnumClass *enum_class;

  g_object_get (watch,
                "server", &server,
                "state", &state,
                "message", &message,
                "addresses", &addresses,
                "debounce-ms", &debounce_ms,
                "deadline-ms", &deadline_ms,
                "retry-min-ms", &retry_min_ms,
                "retry-max-ms", &retry_max_ms,
                "network-monitor", &monitor,
                NULL);

  g_assert_null (server);
  g_assert_cmpint (state, ==, RELAY_RESOLVER_STATE_IDLE);
  g_assert_null (message);
  g_assert_nonnull (addresses);
  g_assert_cmpuint (g_strv_length (addresses), ==, 0);
  g_assert_cmpuint (debounce_ms, ==, 500);
  g_assert_cmpuint (deadline_ms, ==, 8000);
  g_assert_cmpuint (retry_min_ms, ==, 3000);
  g_assert_cmpuint (retry_max_ms, ==, 60000);
  g_assert_true (monitor == g_network_monitor_get_default ());

  enum_class = g_type_class_ref (RELAY_TYPE_RESOLVER_STATE);
  g_assert_cmpstr (g_enum_get_value (enum_class, RELAY_RESOLVER_STATE_DNS_FAILURE)->value_nick,
                   ==, "dns-failure");
  g_assert_cmpuint (enum_class->n_values, ==, 6);
  g_type_class_unref (enum_class);
}

static void
test_ip_literals (Fixture       *f,
                  gconstpointer  data)
{
  const struct {
    const char *input;
    const char *address;
  } cases[] = {
    { "192.0.2.10", "192.0.2.10" },
    { " 192.0.2.11 ", "192.0.2.11" },
    { "2001:DB8::10", "2001:db8::10" },
    { "[2001:db8::11]", "2001:db8::11" },
    { "::1", "::1" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      relay_resolver_watch_set_server (f->watch, cases[i].input);

      /* at once, with no main loop iteration */
      g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==,
                       RELAY_RESOLVER_STATE_RESOLVED);
      g_assert_null (relay_resolver_watch_get_message (f->watch));
      assert_addresses (f->watch, cases[i].address, NULL);
      /* Not from DNS: nothing for a send to reuse instead of a lookup. */
      g_assert_cmpint (relay_resolver_watch_get_resolved_age (f->watch), ==, -1);
    }

  relay_resolver_watch_recheck (f->watch);
  run_for (100);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, NULL), ==, 0);
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, RELAY_RESOLVER_STATE_RESOLVED);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVED, -1);
}

static void
test_empty (Fixture       *f,
            gconstpointer  data)
{
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, RELAY_RESOLVER_STATE_IDLE);
  g_assert_null (relay_resolver_watch_get_message (f->watch));
  assert_addresses (f->watch, NULL);

  relay_resolver_watch_set_server (f->watch, "ok.test");
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, RELAY_RESOLVER_STATE_RESOLVING);
  relay_resolver_watch_set_server (f->watch, "   ");
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, RELAY_RESOLVER_STATE_IDLE);
  g_assert_null (relay_resolver_watch_get_message (f->watch));

  /* the debounced lookup of "ok.test" went with it */
  run_for (100);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, NULL), ==, 0);

  relay_resolver_watch_set_server (f->watch, "192.0.2.1");
  relay_resolver_watch_set_server (f->watch, NULL);
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, RELAY_RESOLVER_STATE_IDLE);
  assert_addresses (f->watch, NULL);
  relay_resolver_watch_set_server (f->watch, "");
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, RELAY_RESOLVER_STATE_IDLE);

  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_IDLE,
                 RELAY_RESOLVER_STATE_RESOLVED, RELAY_RESOLVER_STATE_IDLE, -1);
}

static void
test_invalid (Fixture       *f,
              gconstpointer  data)
{
  const char *inputs[] = {
    "a b.test", "-bad-.test", "a..test", "127.1", "smtp_relay.test",
    /* link-local without the interface that reaches it, or through one that is not here */
    "fe80::1", "fe80::1%no-such-if9",
  };
  g_autofree char *message = NULL;

  relay_resolver_watch_set_server (f->watch, "192.0.2.1");

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = relay_hostname_normalize (inputs[i], NULL, &error);

      g_assert_null (name);
      relay_resolver_watch_set_server (f->watch, inputs[i]);
      g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==,
                       RELAY_RESOLVER_STATE_INVALID);
      g_assert_cmpstr (relay_resolver_watch_get_message (f->watch), ==, error->message);
      assert_addresses (f->watch, NULL);
    }

  /* A link-local address with its interface is an address like any other: nothing to look up. */
  relay_resolver_watch_set_server (f->watch, "fe80::1%lo");
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, RELAY_RESOLVER_STATE_RESOLVED);
  message = g_strdup (relay_resolver_watch_get_message (f->watch));
  g_assert_null (message);

  relay_resolver_watch_recheck (f->watch);
  run_for (100);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, NULL), ==, 0);
}

static void
test_resolve (Fixture       *f,
              gconstpointer  data)
{
  g_auto(GStrv) addresses = NULL;
  RelayResolverState state;

  g_object_set (f->watch, "server", " OK.Test. ", NULL);
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, RELAY_RESOLVER_STATE_RESOLVING);
  g_assert_cmpstr (relay_resolver_watch_get_message (f->watch), ==, "Looking up “OK.Test”…");
  g_assert_cmpstr (relay_resolver_watch_get_server (f->watch), ==, " OK.Test. ");

  wait_for_state (f->watch, RELAY_RESOLVER_STATE_RESOLVED);
  g_assert_null (relay_resolver_watch_get_message (f->watch));
  assert_addresses (f->watch, "192.0.2.1", "2001:db8::1", NULL);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "ok.test"), ==, 1);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_RESOLVED, -1);
  /* From the lookup that just ended; the bound only tells it from an unset time. */
  g_assert_cmpint (relay_resolver_watch_get_resolved_age (f->watch), >=, 0);
  g_assert_cmpint (relay_resolver_watch_get_resolved_age (f->watch), <, 60 * G_USEC_PER_SEC);

  g_object_get (f->watch, "state", &state, "addresses", &addresses, NULL);
  g_assert_cmpint (state, ==, RELAY_RESOLVER_STATE_RESOLVED);
  g_assert_cmpstrv (addresses, ((const char * const[]) { "192.0.2.1", "2001:db8::1", NULL }));

  /* the same name, written differently: no new lookup, no state change */
  relay_resolver_watch_set_server (f->watch, "ok.test");
  run_for (100);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, NULL), ==, 1);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_RESOLVED, -1);
}

static void
test_idn (Fixture       *f,
          gconstpointer  data)
{
  relay_mock_resolver_set_addresses (f->resolver, "xn--bcher-kva.test", 0, "192.0.2.3", NULL);

  relay_resolver_watch_set_server (f->watch, "Bücher.test");
  g_assert_cmpstr (relay_resolver_watch_get_message (f->watch), ==, "Looking up “Bücher.test”…");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_RESOLVED);
  assert_addresses (f->watch, "192.0.2.3", NULL);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "xn--bcher-kva.test"), ==, 1);
}

static void
test_debounce (Fixture       *f,
               gconstpointer  data)
{
  relay_mock_resolver_set_addresses (f->resolver, "h9.test", 0, "192.0.2.9", NULL);

  /* ten edits, 10 ms apart, well within the 200 ms debounce */
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *name = g_strdup_printf ("h%u.test", i);

      relay_resolver_watch_set_server (f->watch, name);
      run_for (10);
    }

  wait_for_state (f->watch, RELAY_RESOLVER_STATE_RESOLVED);
  assert_addresses (f->watch, "192.0.2.9", NULL);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "h9.test"), ==, 1);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, NULL), ==, 1);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_RESOLVED, -1);
}

/* A dot typed after a label normalises to the same name, but the user is still typing: the
 * pause starts again, and the name before the dot is not looked up (and reported missing). */
static void
test_debounce_trailing_dot (Fixture       *f,
                            gconstpointer  data)
{
  relay_mock_resolver_set_error (f->resolver, "smtp", 0, G_RESOLVER_ERROR_NOT_FOUND);

  relay_resolver_watch_set_server (f->watch, "smtp");
  run_for (150);
  relay_resolver_watch_set_server (f->watch, "smtp.");
  run_for (150);   /* 300 ms after "smtp", 150 ms after the dot: within the 200 ms pause */
  relay_resolver_watch_set_server (f->watch, "smtp.ok.test");
  /* ok.test stands for the finished name */
  relay_resolver_watch_set_server (f->watch, "ok.test");

  wait_for_state (f->watch, RELAY_RESOLVER_STATE_RESOLVED);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "smtp"), ==, 0);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_RESOLVED, -1);
}

/* slow.test answers after 150 ms, whether or not its lookup was cancelled in between. */
static void
test_stale_answer (Fixture       *f,
                   gconstpointer  data)
{
  relay_mock_resolver_set_error (f->resolver, "slower.test", 400, G_RESOLVER_ERROR_NOT_FOUND);

  relay_resolver_watch_set_server (f->watch, "slow.test");
  wait_for_lookups (f, "slow.test", 1);

  /* the old answer comes while the new name is still being looked up */
  relay_resolver_watch_set_server (f->watch, "slower.test");
  wait_for_lookups (f, "slower.test", 1);
  run_for (250);
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, RELAY_RESOLVER_STATE_RESOLVING);
  assert_addresses (f->watch, NULL);
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_NOT_FOUND);

  /* and after the new name resolved */
  relay_resolver_watch_set_server (f->watch, "slow.test");
  wait_for_lookups (f, "slow.test", 2);
  relay_resolver_watch_set_server (f->watch, "ok.test");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_RESOLVED);
  run_for (250);
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, RELAY_RESOLVER_STATE_RESOLVED);
  assert_addresses (f->watch, "192.0.2.1", "2001:db8::1", NULL);

  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_NOT_FOUND,
                 RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_RESOLVED, -1);
}

static void
test_not_found (Fixture       *f,
                gconstpointer  data)
{
  const char *message;

  relay_resolver_watch_set_server (f->watch, "NX.test");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_NOT_FOUND);

  message = relay_resolver_watch_get_message (f->watch);
  g_assert_true (g_str_has_prefix (message, CANNOT_BE_RESOLVED));
  g_assert_nonnull (strstr (message, "the name “NX.test” does not exist, or has no IP address"));
  g_assert_null (strstr (message, "not responding"));
  assert_addresses (f->watch, NULL);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_NOT_FOUND, -1);
}

static void
test_temporary_failure (Fixture       *f,
                        gconstpointer  data)
{
  const char *message;

  relay_resolver_watch_set_server (f->watch, "down.test");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_DNS_FAILURE);

  message = relay_resolver_watch_get_message (f->watch);
  g_assert_true (g_str_has_prefix (message, CANNOT_BE_RESOLVED));
  g_assert_nonnull (strstr (message, "the DNS server is not responding"));
  g_assert_null (strstr (message, "does not exist"));
  assert_addresses (f->watch, NULL);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_DNS_FAILURE, -1);
}

static void
test_other_error (Fixture       *f,
                  gconstpointer  data)
{
  relay_mock_resolver_set_error (f->resolver, "odd.test", 0, G_RESOLVER_ERROR_INTERNAL);

  relay_resolver_watch_set_server (f->watch, "odd.test");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_DNS_FAILURE);
}

static void
test_deadline (Fixture       *f,
               gconstpointer  data)
{
  gint64 start = g_get_monotonic_time ();
  const char *message;

  relay_resolver_watch_set_server (f->watch, "hang.test");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_DNS_FAILURE);

  /* debounce (20 ms) + deadline (200 ms) */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 200 * G_TIME_SPAN_MILLISECOND);
  message = relay_resolver_watch_get_message (f->watch);
  g_assert_true (g_str_has_prefix (message, CANNOT_BE_RESOLVED));
  g_assert_nonnull (strstr (message, "not responding"));
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_DNS_FAILURE, -1);
}

/* The resolver ignores cancellation and answers after the deadline: too late to count. */
static void
test_deadline_late_answer (Fixture       *f,
                           gconstpointer  data)
{
  relay_resolver_watch_set_server (f->watch, "slow.test");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_DNS_FAILURE);
  run_for (250);

  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==,
                   RELAY_RESOLVER_STATE_DNS_FAILURE);
  assert_addresses (f->watch, NULL);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "slow.test"), ==, 1);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_DNS_FAILURE, -1);
}

static void
assert_retried_until_resolved (Fixture            *f,
                               const char         *name,
                               RelayResolverState  failure)
{
  guint message_notifies;

  relay_resolver_watch_set_server (f->watch, name);
  wait_for_state (f->watch, failure);
  message_notifies = f->message_notifies;

  /* retries keep failing: the state and its message stay, no flicker through RESOLVING */
  wait_for_lookups (f, name, 3);
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==, failure);
  g_assert_cmpuint (f->message_notifies, ==, message_notifies);

  relay_mock_resolver_set_addresses (f->resolver, name, 0, "192.0.2.4", NULL);
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_RESOLVED);
  g_assert_null (relay_resolver_watch_get_message (f->watch));
  assert_addresses (f->watch, "192.0.2.4", NULL);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, failure, RELAY_RESOLVER_STATE_RESOLVED, -1);

  /* resolved names are not looked up again */
  {
    guint lookups = relay_mock_resolver_get_lookups (f->resolver, name);

    run_for (200);
    g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, name), ==, lookups);
  }
}

static void
test_retry_dns_failure (Fixture       *f,
                        gconstpointer  data)
{
  assert_retried_until_resolved (f, "down.test", RELAY_RESOLVER_STATE_DNS_FAILURE);
}

static void
test_retry_not_found (Fixture       *f,
                      gconstpointer  data)
{
  assert_retried_until_resolved (f, "nx.test", RELAY_RESOLVER_STATE_NOT_FOUND);
}

static void
test_backoff (Fixture       *f,
              gconstpointer  data)
{
  guint lookups;

  relay_resolver_watch_set_server (f->watch, "down.test");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_DNS_FAILURE);
  run_for (400);

  /* retries after 20, 40, 80, 80, 80… ms: about 6 in 400 ms, where a fixed 20 ms interval
   * would make 20 (a loaded machine makes fewer, never more) */
  lookups = relay_mock_resolver_get_lookups (f->resolver, "down.test");
  g_assert_cmpuint (lookups, >=, 3);
  g_assert_cmpuint (lookups, <=, 8);
}

static void
test_network_changed (Fixture       *f,
                      gconstpointer  data)
{
  relay_resolver_watch_set_server (f->watch, "down.test");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_DNS_FAILURE);
  run_for (100);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "down.test"), ==, 1);

  relay_mock_resolver_set_addresses (f->resolver, "down.test", 0, "192.0.2.5", NULL);
  g_signal_emit_by_name (f->monitor, "network-changed", TRUE);
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_RESOLVED);
  assert_addresses (f->watch, "192.0.2.5", NULL);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "down.test"), ==, 2);

  /* a resolved name stays as it is */
  g_signal_emit_by_name (f->monitor, "network-changed", TRUE);
  run_for (100);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "down.test"), ==, 2);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_DNS_FAILURE,
                 RELAY_RESOLVER_STATE_RESOLVED, -1);
}

/* A retry already running is not restarted by every network-changed of a burst. */
static void
test_network_changed_during_lookup (Fixture       *f,
                                    gconstpointer  data)
{
  relay_resolver_watch_set_server (f->watch, "hang.test");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_DNS_FAILURE);

  /* the first retry is running (for up to its 100 ms deadline) */
  wait_for_lookups (f, "hang.test", 2);
  for (guint i = 0; i < 5; i++)
    g_signal_emit_by_name (f->monitor, "network-changed", TRUE);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "hang.test"), ==, 2);

  /* it still ends at its deadline, and the retries go on */
  wait_for_lookups (f, "hang.test", 3);
  g_assert_cmpint (relay_resolver_watch_get_state (f->watch), ==,
                   RELAY_RESOLVER_STATE_DNS_FAILURE);
  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_DNS_FAILURE, -1);
}

static void
test_recheck (Fixture       *f,
              gconstpointer  data)
{
  relay_resolver_watch_set_server (f->watch, "ok.test");
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_RESOLVED);

  relay_mock_resolver_set_addresses (f->resolver, "ok.test", 0, "192.0.2.6", NULL);
  relay_resolver_watch_recheck (f->watch);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "ok.test"), ==, 2);
  run_for (50);
  assert_addresses (f->watch, "192.0.2.6", NULL);

  relay_mock_resolver_set_error (f->resolver, "ok.test", 0, G_RESOLVER_ERROR_NOT_FOUND);
  relay_resolver_watch_recheck (f->watch);
  wait_for_state (f->watch, RELAY_RESOLVER_STATE_NOT_FOUND);
  assert_addresses (f->watch, NULL);

  assert_states (f, RELAY_RESOLVER_STATE_RESOLVING, RELAY_RESOLVER_STATE_RESOLVED,
                 RELAY_RESOLVER_STATE_NOT_FOUND, -1);
}

static void
on_notify_fail_cb (GObject    *object,
                   GParamSpec *pspec,
                   gpointer    user_data)
{
  g_error ("notify::%s after dispose", pspec->name);
}

static void
dispose_when (Fixture        *f,
              const Tunables *t,
              const char     *name,
              guint           lookups_before,
              gboolean        wait_failure)
{
  RelayResolverWatch *watch = create_watch (f, t);
  guint lookups;

  relay_mock_resolver_set_ignore_cancel (f->resolver, t->ignore_cancel);
  relay_resolver_watch_set_server (watch, name);
  if (lookups_before > 0)
    wait_for_lookups (f, name, lookups_before);
  if (wait_failure)
    wait_for_state (watch, RELAY_RESOLVER_STATE_DNS_FAILURE);

  g_signal_connect (watch, "notify", G_CALLBACK (on_notify_fail_cb), NULL);
  g_object_run_dispose (G_OBJECT (watch));
  lookups = relay_mock_resolver_get_lookups (f->resolver, NULL);
  g_signal_emit_by_name (f->monitor, "network-changed", TRUE);
  run_for (200);

  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, NULL), ==, lookups);
  g_assert_finalize_object (watch);
}

static void
test_dispose (Fixture       *f,
              gconstpointer  data)
{
  dispose_when (f, &default_tunables, "ok.test", 0, FALSE);               /* debouncing */
  dispose_when (f, &long_deadline, "hang.test", 1, FALSE);                /* lookup pending */
  dispose_when (f, &long_deadline_deaf, "slow.test", 1, FALSE);           /* answer after dispose */
  dispose_when (f, &no_timed_retry, "down.test", 1, TRUE);                /* waiting to retry */

  /* the last reference dropped, rather than an explicit dispose, during a deaf lookup */
  {
    RelayResolverWatch *watch = create_watch (f, &long_deadline_deaf);

    relay_resolver_watch_set_server (watch, "slow.test");
    wait_for_lookups (f, "slow.test", 2);
    g_assert_finalize_object (watch);
    run_for (200);
  }
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/relay/resolver-watch/defaults", test_defaults);

#define ADD(path, data, func) \
  g_test_add ("/relay/resolver-watch/" path, Fixture, data, fixture_setup, func, fixture_teardown)

  ADD ("ip-literals", NULL, test_ip_literals);
  ADD ("empty", NULL, test_empty);
  ADD ("invalid", NULL, test_invalid);
  ADD ("resolve", NULL, test_resolve);
  ADD ("idn", NULL, test_idn);
  ADD ("debounce", &slow_typing, test_debounce);
  ADD ("debounce/trailing-dot", &slow_typing, test_debounce_trailing_dot);
  ADD ("stale-answer/cancelled", &long_deadline, test_stale_answer);
  ADD ("stale-answer/deaf-resolver", &long_deadline_deaf, test_stale_answer);
  ADD ("not-found", NULL, test_not_found);
  ADD ("temporary-failure", NULL, test_temporary_failure);
  ADD ("other-error", NULL, test_other_error);
  ADD ("deadline", NULL, test_deadline);
  ADD ("deadline/late-answer", &short_deadline_deaf, test_deadline_late_answer);
  ADD ("retry/dns-failure", &fast_retry, test_retry_dns_failure);
  ADD ("retry/not-found", &fast_retry, test_retry_not_found);
  ADD ("backoff", &fast_retry, test_backoff);
  ADD ("network-changed", &no_timed_retry, test_network_changed);
  ADD ("network-changed/during-lookup", &fast_deadline, test_network_changed_during_lookup);
  ADD ("recheck", NULL, test_recheck);
  ADD ("dispose", NULL, test_dispose);

#undef ADD

  return g_test_run ();
}
