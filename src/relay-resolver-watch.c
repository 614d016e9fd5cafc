/* relay-resolver-watch.c
 *
 * Looks the server name up while the user types, to warn early when it cannot be resolved.
 * GLib 2.74's GResolver has no timeout and cancelling it does not stop the worker's getaddrinfo(),
 * so lookups are debounced, at most one is in flight, each has its own deadline, and an answer
 * that arrives for anything but the current lookup is dropped.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-resolver-watch"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-hostname.h"
#include "relay-resolver-watch.h"

#define DEFAULT_DEBOUNCE_MS   500
#define DEFAULT_DEADLINE_MS   8000
#define DEFAULT_RETRY_MIN_MS  3000
#define DEFAULT_RETRY_MAX_MS  60000

G_DEFINE_ENUM_TYPE (RelayResolverState, relay_resolver_state,
  G_DEFINE_ENUM_VALUE (RELAY_RESOLVER_STATE_IDLE, "idle"),
  G_DEFINE_ENUM_VALUE (RELAY_RESOLVER_STATE_RESOLVING, "resolving"),
  G_DEFINE_ENUM_VALUE (RELAY_RESOLVER_STATE_RESOLVED, "resolved"),
  G_DEFINE_ENUM_VALUE (RELAY_RESOLVER_STATE_NOT_FOUND, "not-found"),
  G_DEFINE_ENUM_VALUE (RELAY_RESOLVER_STATE_DNS_FAILURE, "dns-failure"),
  G_DEFINE_ENUM_VALUE (RELAY_RESOLVER_STATE_INVALID, "invalid"))

struct _RelayResolverWatch
{
  GObject             parent_instance;

  char               *server;          /* as set, for the property */
  char               *name;            /* normalised name or IP literal; NULL if idle or invalid */
  char               *display_name;    /* the name as typed (not punycode), for messages */
  gboolean            is_ip_literal;

  RelayResolverState  state;
  char               *message;
  GStrv               addresses;       /* never NULL */
  GList              *inet_addresses;
  gint64              resolved_at;     /* monotonic time of the lookup that gave them */

  guint               debounce_ms;
  guint               deadline_ms;
  guint               retry_min_ms;
  guint               retry_max_ms;
  guint               retry_delay_ms;  /* the next backoff step */

  GMainContext       *context;
  GSource            *debounce_source;
  GSource            *deadline_source;
  GSource            *retry_source;

  GCancellable       *lookup_cancellable;  /* of the lookup in flight, if any */
  guint               generation;          /* bumped whenever a pending answer becomes stale */

  GNetworkMonitor    *network_monitor;
  gulong              network_changed_id;
};

G_DEFINE_FINAL_TYPE (RelayResolverWatch, relay_resolver_watch, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SERVER,
  PROP_STATE,
  PROP_MESSAGE,
  PROP_ADDRESSES,
  PROP_DEBOUNCE_MS,
  PROP_DEADLINE_MS,
  PROP_RETRY_MIN_MS,
  PROP_RETRY_MAX_MS,
  PROP_NETWORK_MONITOR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The callback's only link to the watch: a weak reference, so that even a resolver that answers
 * after being cancelled cannot reach a finalized watch. */
typedef struct
{
  GWeakRef watch;
  guint    generation;
} LookupData;

static void start_lookup (RelayResolverWatch *self);
static void ensure_network_monitor (RelayResolverWatch *self);

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static GSource *
add_timeout (RelayResolverWatch *self,
             guint               interval_ms,
             GSourceFunc         func,
             const char         *name)
{
  GSource *source = g_timeout_source_new (interval_ms);

  /* No reference: dispose destroys every source before the watch goes away. */
  g_source_set_callback (source, func, self, NULL);
  g_source_set_static_name (source, name);
  g_source_attach (source, self->context);

  return source;
}

static gpointer
copy_object (gconstpointer src,
             gpointer      data)
{
  return g_object_ref ((gpointer) src);
}

static char *
format_message (RelayResolverState  state,
                const char         *name)
{
  switch (state)
    {
    case RELAY_RESOLVER_STATE_RESOLVING:
      return g_strdup_printf (_("Looking up “%s”…"), name);

    case RELAY_RESOLVER_STATE_NOT_FOUND:
      /* The resolver cannot tell "no such name" from "a name with no address record". */
      return g_strdup_printf (_("The IP address of specified SMTP server cannot be resolved: "
                                "the name “%s” does not exist, or has no IP address. Check its "
                                "spelling, or enter the server's IP address instead."), name);

    case RELAY_RESOLVER_STATE_DNS_FAILURE:
      return g_strdup (_("The IP address of specified SMTP server cannot be resolved: the DNS "
                         "server is not responding. Check the network connection, or enter the "
                         "server's IP address instead."));

    case RELAY_RESOLVER_STATE_IDLE:
    case RELAY_RESOLVER_STATE_RESOLVED:
    case RELAY_RESOLVER_STATE_INVALID:
    default:
      return NULL;
    }
}

static void
set_state (RelayResolverWatch *self,
           RelayResolverState  state,
           const char         *message)
{
  if (self->state != state)
    {
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }

  if (g_strcmp0 (self->message, message) != 0)
    {
      g_free (self->message);
      self->message = g_strdup (message);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
    }
}

/* Takes ownership of @inet_addresses. */
static void
set_addresses (RelayResolverWatch *self,
               GList              *inet_addresses)
{
  g_auto(GStrv) addresses = g_new0 (char *, g_list_length (inet_addresses) + 1);
  guint i = 0;

  for (const GList *l = inet_addresses; l != NULL; l = l->next)
    addresses[i++] = g_inet_address_to_string (l->data);

  g_list_free_full (self->inet_addresses, g_object_unref);
  self->inet_addresses = inet_addresses;

  if (!g_strv_equal ((const char * const *) self->addresses, (const char * const *) addresses))
    {
      g_strfreev (self->addresses);
      self->addresses = g_steal_pointer (&addresses);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRESSES]);
    }
}

/* Forgets the lookup in flight: its answer, if it ever comes, is stale from now on. */
static void
stop_lookup (RelayResolverWatch *self)
{
  self->generation++;
  clear_source (&self->deadline_source);
  if (self->lookup_cancellable != NULL)
    {
      g_cancellable_cancel (self->lookup_cancellable);
      g_clear_object (&self->lookup_cancellable);
    }
}

static void
stop_all (RelayResolverWatch *self)
{
  stop_lookup (self);
  clear_source (&self->debounce_source);
  clear_source (&self->retry_source);
}

static gboolean
on_retry_cb (gpointer user_data)
{
  RelayResolverWatch *self = user_data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  g_debug ("Retrying “%s”", self->name);
  start_lookup (self);

  return G_SOURCE_REMOVE;
}

static void
schedule_retry (RelayResolverWatch *self)
{
  clear_source (&self->retry_source);
  g_debug ("Next lookup of “%s” in %u ms", self->name, self->retry_delay_ms);
  self->retry_source = add_timeout (self, self->retry_delay_ms, on_retry_cb,
                                    "[relay] resolver watch retry");

  if (self->retry_delay_ms > self->retry_max_ms / 2)
    self->retry_delay_ms = self->retry_max_ms;
  else
    self->retry_delay_ms *= 2;
}

/* The failure state stays while retries run in the background: the warning must not flicker. */
static void
fail (RelayResolverWatch *self,
      RelayResolverState  state)
{
  g_autofree char *message = format_message (state, self->display_name);

  g_object_freeze_notify (G_OBJECT (self));
  set_addresses (self, NULL);
  set_state (self, state, message);
  g_object_thaw_notify (G_OBJECT (self));

  schedule_retry (self);
}

static gboolean
on_deadline_cb (gpointer user_data)
{
  RelayResolverWatch *self = user_data;

  g_clear_pointer (&self->deadline_source, g_source_unref);
  g_debug ("No answer for “%s” within %u ms", self->name, self->deadline_ms);
  stop_lookup (self);
  fail (self, RELAY_RESOLVER_STATE_DNS_FAILURE);

  return G_SOURCE_REMOVE;
}

static void
on_lookup_done_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  LookupData *data = user_data;
  g_autoptr(RelayResolverWatch) self = g_weak_ref_get (&data->watch);
  guint generation = data->generation;
  g_autoptr(GError) error = NULL;
  GList *addresses;

  g_weak_ref_clear (&data->watch);
  g_free (data);

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);

  /* Cancelled, superseded by a newer name or lookup, past its deadline, or the watch is gone. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      self == NULL ||
      generation != self->generation)
    {
      g_list_free_full (addresses, g_object_unref);
      return;
    }

  clear_source (&self->deadline_source);
  g_clear_object (&self->lookup_cancellable);

  if (error != NULL)
    {
      g_debug ("Lookup of “%s” failed: %s", self->name, error->message);
      fail (self, g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND)
                    ? RELAY_RESOLVER_STATE_NOT_FOUND
                    : RELAY_RESOLVER_STATE_DNS_FAILURE);
      return;
    }

  g_debug ("“%s” resolved", self->name);
  self->retry_delay_ms = self->retry_min_ms;
  self->resolved_at = g_get_monotonic_time ();
  g_object_freeze_notify (G_OBJECT (self));
  set_addresses (self, addresses);
  set_state (self, RELAY_RESOLVER_STATE_RESOLVED, NULL);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
start_lookup (RelayResolverWatch *self)
{
  g_autoptr(GResolver) resolver = NULL;
  LookupData *data;

  g_assert (self->name != NULL && !self->is_ip_literal);

  ensure_network_monitor (self);
  stop_lookup (self);
  self->lookup_cancellable = g_cancellable_new ();
  self->deadline_source = add_timeout (self, self->deadline_ms, on_deadline_cb,
                                       "[relay] resolver watch deadline");

  data = g_new0 (LookupData, 1);
  g_weak_ref_init (&data->watch, self);
  data->generation = self->generation;

  /* Fetched each time: the default may be replaced (tests install a fake one). */
  resolver = g_resolver_get_default ();
  g_debug ("Looking up “%s”", self->name);
  g_resolver_lookup_by_name_async (resolver, self->name, self->lookup_cancellable,
                                   on_lookup_done_cb, data);
}

static gboolean
on_debounce_cb (gpointer user_data)
{
  RelayResolverWatch *self = user_data;

  g_clear_pointer (&self->debounce_source, g_source_unref);
  start_lookup (self);

  return G_SOURCE_REMOVE;
}

static void
on_network_monitor_network_changed_cb (GNetworkMonitor *monitor,
                                       gboolean         network_available,
                                       gpointer         user_data)
{
  RelayResolverWatch *self = user_data;

  if (self->state != RELAY_RESOLVER_STATE_NOT_FOUND &&
      self->state != RELAY_RESOLVER_STATE_DNS_FAILURE)
    return;

  /* Cancelling would not stop the running getaddrinfo() thread, and a burst of network-changed
   * would pile them up: let the running retry end, and retry soon after if it fails. */
  if (self->lookup_cancellable != NULL)
    {
      self->retry_delay_ms = self->retry_min_ms;
      return;
    }

  g_debug ("Network changed (available: %d), looking up “%s” again",
           network_available, self->name);
  relay_resolver_watch_recheck (self);
}

static void
ensure_network_monitor (RelayResolverWatch *self)
{
  if (self->network_changed_id != 0)
    return;
  if (self->network_monitor == NULL)
    self->network_monitor = g_object_ref (g_network_monitor_get_default ());
  self->network_changed_id =
    g_signal_connect (self->network_monitor, "network-changed",
                      G_CALLBACK (on_network_monitor_network_changed_cb), self);
}

static void
relay_resolver_watch_constructed (GObject *object)
{
  RelayResolverWatch *self = RELAY_RESOLVER_WATCH (object);

  G_OBJECT_CLASS (relay_resolver_watch_parent_class)->constructed (object);

  self->context = g_main_context_ref_thread_default ();

  if (self->retry_max_ms < self->retry_min_ms)
    self->retry_max_ms = self->retry_min_ms;
  self->retry_delay_ms = self->retry_min_ms;

  /* The default monitor comes with the first lookup (ensure_network_monitor()): making it can
   * mean a synchronous call to NetworkManager on the system bus, not for the window's start-up. */
  if (self->network_monitor != NULL)
    ensure_network_monitor (self);
}

static void
relay_resolver_watch_dispose (GObject *object)
{
  RelayResolverWatch *self = RELAY_RESOLVER_WATCH (object);

  stop_all (self);
  if (self->network_monitor != NULL)
    g_clear_signal_handler (&self->network_changed_id, self->network_monitor);
  g_clear_object (&self->network_monitor);
  g_list_free_full (g_steal_pointer (&self->inet_addresses), g_object_unref);

  G_OBJECT_CLASS (relay_resolver_watch_parent_class)->dispose (object);
}

static void
relay_resolver_watch_finalize (GObject *object)
{
  RelayResolverWatch *self = RELAY_RESOLVER_WATCH (object);

  g_clear_pointer (&self->server, g_free);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->display_name, g_free);
  g_clear_pointer (&self->message, g_free);
  g_clear_pointer (&self->addresses, g_strfreev);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (relay_resolver_watch_parent_class)->finalize (object);
}

static void
relay_resolver_watch_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  RelayResolverWatch *self = RELAY_RESOLVER_WATCH (object);

  switch (prop_id)
    {
    case PROP_SERVER:
      g_value_set_string (value, self->server);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_MESSAGE:
      g_value_set_string (value, self->message);
      break;

    case PROP_ADDRESSES:
      g_value_set_boxed (value, self->addresses);
      break;

    case PROP_DEBOUNCE_MS:
      g_value_set_uint (value, self->debounce_ms);
      break;

    case PROP_DEADLINE_MS:
      g_value_set_uint (value, self->deadline_ms);
      break;

    case PROP_RETRY_MIN_MS:
      g_value_set_uint (value, self->retry_min_ms);
      break;

    case PROP_RETRY_MAX_MS:
      g_value_set_uint (value, self->retry_max_ms);
      break;

    case PROP_NETWORK_MONITOR:
      ensure_network_monitor (self);
      g_value_set_object (value, self->network_monitor);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relay_resolver_watch_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  RelayResolverWatch *self = RELAY_RESOLVER_WATCH (object);

  switch (prop_id)
    {
    case PROP_SERVER:
      relay_resolver_watch_set_server (self, g_value_get_string (value));
      break;

    case PROP_DEBOUNCE_MS:
      self->debounce_ms = g_value_get_uint (value);
      break;

    case PROP_DEADLINE_MS:
      self->deadline_ms = g_value_get_uint (value);
      break;

    case PROP_RETRY_MIN_MS:
      self->retry_min_ms = g_value_get_uint (value);
      break;

    case PROP_RETRY_MAX_MS:
      self->retry_max_ms = g_value_get_uint (value);
      break;

    case PROP_NETWORK_MONITOR:
      self->network_monitor = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relay_resolver_watch_class_init (RelayResolverWatchClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = relay_resolver_watch_constructed;
  object_class->dispose = relay_resolver_watch_dispose;
  object_class->finalize = relay_resolver_watch_finalize;
  object_class->get_property = relay_resolver_watch_get_property;
  object_class->set_property = relay_resolver_watch_set_property;

  /**
   * RelayResolverWatch:server:
   *
   * The server name or IP address as the user typed it.
   */
  properties[PROP_SERVER] =
    g_param_spec_string ("server", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * RelayResolverWatch:state:
   *
   * What is known about the server name.
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       RELAY_TYPE_RESOLVER_STATE, RELAY_RESOLVER_STATE_IDLE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * RelayResolverWatch:message:
   *
   * A sentence to show for the state, or %NULL when there is nothing to say (idle, resolved).
   */
  properties[PROP_MESSAGE] =
    g_param_spec_string ("message", NULL, NULL,
                         NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * RelayResolverWatch:addresses:
   *
   * The resolved addresses as strings, in the resolver's order; empty unless resolved.
   */
  properties[PROP_ADDRESSES] =
    g_param_spec_boxed ("addresses", NULL, NULL,
                        G_TYPE_STRV,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * RelayResolverWatch:debounce-ms:
   *
   * How long the name must stay unchanged before it is looked up.
   */
  properties[PROP_DEBOUNCE_MS] =
    g_param_spec_uint ("debounce-ms", NULL, NULL,
                       0, G_MAXINT, DEFAULT_DEBOUNCE_MS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * RelayResolverWatch:deadline-ms:
   *
   * How long one lookup may take before the DNS server counts as not responding.
   */
  properties[PROP_DEADLINE_MS] =
    g_param_spec_uint ("deadline-ms", NULL, NULL,
                       1, G_MAXINT, DEFAULT_DEADLINE_MS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * RelayResolverWatch:retry-min-ms:
   *
   * The first delay before a failed lookup is retried; it doubles up to
   * #RelayResolverWatch:retry-max-ms.
   */
  properties[PROP_RETRY_MIN_MS] =
    g_param_spec_uint ("retry-min-ms", NULL, NULL,
                       1, G_MAXINT, DEFAULT_RETRY_MIN_MS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * RelayResolverWatch:retry-max-ms:
   *
   * The longest delay between retries of a failed lookup.
   */
  properties[PROP_RETRY_MAX_MS] =
    g_param_spec_uint ("retry-max-ms", NULL, NULL,
                       1, G_MAXINT, DEFAULT_RETRY_MAX_MS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * RelayResolverWatch:network-monitor:
   *
   * The monitor whose #GNetworkMonitor::network-changed triggers an immediate retry; the
   * default one when %NULL.
   */
  properties[PROP_NETWORK_MONITOR] =
    g_param_spec_object ("network-monitor", NULL, NULL,
                         G_TYPE_NETWORK_MONITOR,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
relay_resolver_watch_init (RelayResolverWatch *self)
{
  self->state = RELAY_RESOLVER_STATE_IDLE;
  self->addresses = g_new0 (char *, 1);
  self->debounce_ms = DEFAULT_DEBOUNCE_MS;
  self->deadline_ms = DEFAULT_DEADLINE_MS;
  self->retry_min_ms = DEFAULT_RETRY_MIN_MS;
  self->retry_max_ms = DEFAULT_RETRY_MAX_MS;
}

/**
 * relay_resolver_watch_new:
 *
 * Creates a watch with the default tunables, the default #GNetworkMonitor and no server. Lookups
 * use g_resolver_get_default() and the thread-default main context of the caller.
 *
 * Returns: (transfer full): a new #RelayResolverWatch
 */
RelayResolverWatch *
relay_resolver_watch_new (void)
{
  return g_object_new (RELAY_TYPE_RESOLVER_WATCH, NULL);
}

/**
 * relay_resolver_watch_get_server:
 * @self: a #RelayResolverWatch
 *
 * Returns: (nullable): the server text as last set
 */
const char *
relay_resolver_watch_get_server (RelayResolverWatch *self)
{
  g_return_val_if_fail (RELAY_IS_RESOLVER_WATCH (self), NULL);

  return self->server;
}

/**
 * relay_resolver_watch_set_server:
 * @self: a #RelayResolverWatch
 * @server: (nullable): a host name or IP address as the user typed it
 *
 * Starts watching @server. Empty text makes the watch idle, invalid text invalid, and an IP
 * literal resolved at once without DNS traffic. A name turns the state to resolving and is looked
 * up once it has not changed for #RelayResolverWatch:debounce-ms; whatever was pending for the
 * previous name is cancelled and its answer ignored. Text that normalises to the name already
 * watched ("Example.COM." after "example.com") changes nothing.
 */
void
relay_resolver_watch_set_server (RelayResolverWatch *self,
                                 const char         *server)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  gboolean is_ip_literal = FALSE;

  g_return_if_fail (RELAY_IS_RESOLVER_WATCH (self));

  if (g_strcmp0 (self->server, server) == 0)
    return;

  g_free (self->server);
  self->server = g_strdup (server);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SERVER]);

  name = relay_hostname_normalize (server, &is_ip_literal, &error);
  if (name != NULL && g_strcmp0 (name, self->name) == 0)
    {
      /* Still typing ("smtp" then "smtp."): the pause starts again, or the name before the
       * dot is looked up (and reported missing) while the next label is being typed. */
      if (self->debounce_source != NULL)
        {
          clear_source (&self->debounce_source);
          self->debounce_source = add_timeout (self, self->debounce_ms, on_debounce_cb,
                                               "[relay] resolver watch debounce");
        }
      return;
    }

  stop_all (self);
  self->retry_delay_ms = self->retry_min_ms;
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->display_name, g_free);
  self->is_ip_literal = FALSE;

  g_object_freeze_notify (G_OBJECT (self));

  if (name == NULL)
    {
      set_addresses (self, NULL);
      if (g_error_matches (error, RELAY_HOSTNAME_ERROR, RELAY_HOSTNAME_ERROR_EMPTY))
        set_state (self, RELAY_RESOLVER_STATE_IDLE, NULL);
      else
        set_state (self, RELAY_RESOLVER_STATE_INVALID, error->message);
    }
  else if (is_ip_literal)
    {
      g_autoptr(GSocketAddress) literal = g_inet_socket_address_new_from_string (name, 0);
      GInetAddress *address = literal != NULL ?
        g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (literal))) : NULL;

      if (address != NULL)
        {
          self->name = g_steal_pointer (&name);
          self->is_ip_literal = TRUE;
          set_addresses (self, g_list_prepend (NULL, address));
          set_state (self, RELAY_RESOLVER_STATE_RESOLVED, NULL);
        }
      else
        {
          /* The validator parsed it; only an interface gone since then makes this fail. */
          g_autofree char *message = g_strdup_printf (_("“%s” is not a usable IP address"), name);

          set_addresses (self, NULL);
          set_state (self, RELAY_RESOLVER_STATE_INVALID, message);
        }
    }
  else
    {
      g_autofree char *message = NULL;
      gsize len;

      self->name = g_steal_pointer (&name);
      self->display_name = g_strstrip (g_strdup (server));
      len = strlen (self->display_name);
      if (len > 0 && self->display_name[len - 1] == '.')
        self->display_name[len - 1] = '\0';

      message = format_message (RELAY_RESOLVER_STATE_RESOLVING, self->display_name);
      set_addresses (self, NULL);
      set_state (self, RELAY_RESOLVER_STATE_RESOLVING, message);
      self->debounce_source = add_timeout (self, self->debounce_ms, on_debounce_cb,
                                           "[relay] resolver watch debounce");
    }

  g_object_thaw_notify (G_OBJECT (self));
}

/**
 * relay_resolver_watch_get_state:
 * @self: a #RelayResolverWatch
 *
 * Returns: what is known about the server name
 */
RelayResolverState
relay_resolver_watch_get_state (RelayResolverWatch *self)
{
  g_return_val_if_fail (RELAY_IS_RESOLVER_WATCH (self), RELAY_RESOLVER_STATE_IDLE);

  return self->state;
}

/**
 * relay_resolver_watch_get_message:
 * @self: a #RelayResolverWatch
 *
 * Returns: (nullable): a translated sentence describing the state, or %NULL when idle or resolved
 */
const char *
relay_resolver_watch_get_message (RelayResolverWatch *self)
{
  g_return_val_if_fail (RELAY_IS_RESOLVER_WATCH (self), NULL);

  return self->message;
}

/**
 * relay_resolver_watch_get_addresses:
 * @self: a #RelayResolverWatch
 *
 * Returns: (transfer none): the resolved addresses as strings in the resolver's order, empty
 *   unless the state is %RELAY_RESOLVER_STATE_RESOLVED
 */
const char * const *
relay_resolver_watch_get_addresses (RelayResolverWatch *self)
{
  g_return_val_if_fail (RELAY_IS_RESOLVER_WATCH (self), NULL);

  return (const char * const *) self->addresses;
}

/**
 * relay_resolver_watch_get_inet_addresses:
 * @self: a #RelayResolverWatch
 *
 * The resolved addresses for a caller that wants to connect to them.
 *
 * Returns: (transfer full) (element-type GInetAddress): the resolved addresses in the resolver's
 *   order, %NULL unless resolved; free with `g_list_free_full (list, g_object_unref)`
 */
GList *
relay_resolver_watch_get_inet_addresses (RelayResolverWatch *self)
{
  g_return_val_if_fail (RELAY_IS_RESOLVER_WATCH (self), NULL);

  return g_list_copy_deep (self->inet_addresses, copy_object, NULL);
}

/**
 * relay_resolver_watch_get_resolved_age:
 * @self: a #RelayResolverWatch
 *
 * How fresh relay_resolver_watch_get_inet_addresses() is, for a caller that would rather reuse
 * the addresses than ask DNS again.
 *
 * Returns: microseconds since DNS gave the addresses, or -1 unless a name is resolved
 */
gint64
relay_resolver_watch_get_resolved_age (RelayResolverWatch *self)
{
  g_return_val_if_fail (RELAY_IS_RESOLVER_WATCH (self), -1);

  if (self->state != RELAY_RESOLVER_STATE_RESOLVED || self->is_ip_literal
      || self->inet_addresses == NULL)
    return -1;
  return g_get_monotonic_time () - self->resolved_at;
}

/**
 * relay_resolver_watch_recheck:
 * @self: a #RelayResolverWatch
 *
 * Looks the current name up again now, without debounce, and restarts the retry backoff. The
 * state stays as it is until the answer comes. Does nothing when idle, invalid or for an IP
 * literal.
 */
void
relay_resolver_watch_recheck (RelayResolverWatch *self)
{
  g_return_if_fail (RELAY_IS_RESOLVER_WATCH (self));

  if (self->name == NULL || self->is_ip_literal)
    return;

  clear_source (&self->debounce_source);
  clear_source (&self->retry_source);
  self->retry_delay_ms = self->retry_min_ms;
  start_lookup (self);
}
