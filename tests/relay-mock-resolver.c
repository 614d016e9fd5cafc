/* relay-mock-resolver.c: a scriptable GResolver for tests
 *
 * Each name gets a scripted answer: addresses, a GResolverError, or no answer at all, optionally
 * after a delay; every lookup is counted. GNetworkAddress and GSocketClient call the *_with_flags
 * vfuncs (one lookup per address family), so those are implemented as well as the plain ones.
 * SRV and MX records, for Detect, are relay-fake-resolver.c's.
 *
 *   RelayMockResolver *resolver = relay_mock_resolver_install ();
 *
 *   relay_mock_resolver_set_addresses (resolver, "smtp.test", 0, "127.0.0.1", "::1", NULL);
 *   relay_mock_resolver_set_error (resolver, "down.test", 0, G_RESOLVER_ERROR_TEMPORARY_FAILURE);
 *   ...
 *   g_assert_cmpuint (relay_mock_resolver_get_lookups (resolver, "smtp.test"), ==, 1);
 *   relay_mock_resolver_uninstall (resolver);
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "relay-mock-resolver.h"

typedef enum
{
  ANSWER_ADDRESSES,
  ANSWER_ERROR,
  ANSWER_HANG,
} AnswerKind;

typedef struct
{
  AnswerKind     kind;
  GStrv          addresses;
  GResolverError code;
  guint          delay_ms;
} Answer;

struct _RelayMockResolver
{
  GResolver   parent_instance;

  GMutex      lock;           /* the sync vfuncs run in other threads */
  GHashTable *answers;        /* normalised name → Answer */
  GHashTable *lookups;        /* normalised name → count */
  guint       total_lookups;
  gboolean    ignore_cancel;

  GResolver  *previous;       /* the default before install */
};

G_DEFINE_FINAL_TYPE (RelayMockResolver, relay_mock_resolver, G_TYPE_RESOLVER)

/* One asynchronous lookup waiting for its delay to pass or its cancellable to fire. */
typedef struct
{
  GTask   *task;
  GSource *answer_source;
  GSource *cancel_source;
  GList   *addresses;
  GError  *error;
} Pending;

static void
answer_free (gpointer data)
{
  Answer *answer = data;

  g_strfreev (answer->addresses);
  g_free (answer);
}

static char *
normalize_name (const char *name)
{
  char *key = g_ascii_strdown (name, -1);
  gsize len = strlen (key);

  if (len > 1 && key[len - 1] == '.')
    key[len - 1] = '\0';

  return key;
}

static void
set_answer (RelayMockResolver *self,
            const char        *name,
            Answer            *answer)
{
  g_mutex_lock (&self->lock);
  g_hash_table_replace (self->answers, normalize_name (name), answer);
  g_mutex_unlock (&self->lock);
}

/* Counts the lookup and copies out its scripted answer. Returns FALSE when it never answers. */
static gboolean
script_answer (RelayMockResolver         *self,
               const char                *hostname,
               GResolverNameLookupFlags   flags,
               GList                    **addresses,
               GError                   **error,
               guint                     *delay_ms)
{
  g_autofree char *key = normalize_name (hostname);
  const Answer *answer;
  gboolean answers = TRUE;

  *addresses = NULL;
  *delay_ms = 0;

  g_mutex_lock (&self->lock);

  g_hash_table_replace (self->lookups, g_strdup (key),
                        GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (self->lookups,
                                                                                 key)) + 1));
  self->total_lookups++;

  answer = g_hash_table_lookup (self->answers, key);
  if (answer == NULL)
    {
      g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                   "Error resolving “%s”: Name or service not known", hostname);
    }
  else if (answer->kind == ANSWER_HANG)
    {
      answers = FALSE;
    }
  else if (answer->kind == ANSWER_ERROR)
    {
      *delay_ms = answer->delay_ms;
      g_set_error (error, G_RESOLVER_ERROR, answer->code, "Error resolving “%s”: %s", hostname,
                   answer->code == G_RESOLVER_ERROR_NOT_FOUND
                     ? "Name or service not known"
                     : answer->code == G_RESOLVER_ERROR_TEMPORARY_FAILURE
                       ? "Temporary failure in name resolution"
                       : "Mock internal error");
    }
  else
    {
      *delay_ms = answer->delay_ms;
      for (guint i = 0; answer->addresses[i] != NULL; i++)
        {
          GInetAddress *address = g_inet_address_new_from_string (answer->addresses[i]);
          GSocketFamily family = g_inet_address_get_family (address);

          gboolean ipv4_only = (flags & G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY) != 0;
          gboolean ipv6_only = (flags & G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY) != 0;

          if ((ipv4_only && family != G_SOCKET_FAMILY_IPV4) ||
              (ipv6_only && family != G_SOCKET_FAMILY_IPV6))
            g_object_unref (address);
          else
            *addresses = g_list_append (*addresses, address);
        }

      if (*addresses == NULL)
        g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                     "Error resolving “%s”: No address associated with hostname", hostname);
    }

  g_mutex_unlock (&self->lock);

  return answers;
}

static GList *
relay_mock_resolver_lookup_by_name_with_flags (GResolver                 *resolver,
                                               const char                *hostname,
                                               GResolverNameLookupFlags   flags,
                                               GCancellable              *cancellable,
                                               GError                   **error)
{
  RelayMockResolver *self = RELAY_MOCK_RESOLVER (resolver);
  g_autoptr(GError) local_error = NULL;
  GList *addresses = NULL;
  gboolean answers;
  guint delay_ms;
  GPollFD pollfd;

  answers = script_answer (self, hostname, flags, &addresses, &local_error, &delay_ms);

  /* Wait out the delay, or forever for a hang, waking up early when cancelled. */
  if (!answers || delay_ms > 0)
    {
      gboolean cancellable_fd = cancellable != NULL && !self->ignore_cancel &&
                                g_cancellable_make_pollfd (cancellable, &pollfd);

      g_poll (cancellable_fd ? &pollfd : NULL, cancellable_fd ? 1 : 0,
              answers ? (int) delay_ms : -1);
      if (cancellable_fd)
        g_cancellable_release_fd (cancellable);
    }

  if (!self->ignore_cancel && g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      g_list_free_full (addresses, g_object_unref);
      return NULL;
    }

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  return addresses;
}

static GList *
relay_mock_resolver_lookup_by_name (GResolver     *resolver,
                                    const char    *hostname,
                                    GCancellable  *cancellable,
                                    GError       **error)
{
  return relay_mock_resolver_lookup_by_name_with_flags (resolver, hostname,
                                                        G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT,
                                                        cancellable, error);
}

static void
complete_pending (Pending  *pending,
                  gboolean  cancelled)
{
  GTask *task = pending->task;

  if (pending->answer_source != NULL)
    g_source_destroy (pending->answer_source);
  g_clear_pointer (&pending->answer_source, g_source_unref);
  if (pending->cancel_source != NULL)
    g_source_destroy (pending->cancel_source);
  g_clear_pointer (&pending->cancel_source, g_source_unref);

  if (cancelled)
    g_task_return_error_if_cancelled (task);
  else if (pending->error != NULL)
    g_task_return_error (task, g_steal_pointer (&pending->error));
  else
    g_task_return_pointer (task, g_steal_pointer (&pending->addresses),
                           (GDestroyNotify) g_resolver_free_addresses);

  g_list_free_full (pending->addresses, g_object_unref);
  g_clear_error (&pending->error);
  g_free (pending);
  g_object_unref (task);
}

static gboolean
on_answer_cb (gpointer user_data)
{
  complete_pending (user_data, FALSE);

  return G_SOURCE_REMOVE;
}

static gboolean
on_cancelled_cb (GCancellable *cancellable,
                 gpointer      user_data)
{
  complete_pending (user_data, TRUE);

  return G_SOURCE_REMOVE;
}

static void
relay_mock_resolver_lookup_by_name_with_flags_async (GResolver                *resolver,
                                                     const char               *hostname,
                                                     GResolverNameLookupFlags  flags,
                                                     GCancellable             *cancellable,
                                                     GAsyncReadyCallback       callback,
                                                     gpointer                  user_data)
{
  RelayMockResolver *self = RELAY_MOCK_RESOLVER (resolver);
  Pending *pending = g_new0 (Pending, 1);
  guint delay_ms;
  gboolean answers;

  pending->task = g_task_new (resolver, cancellable, callback, user_data);
  g_task_set_source_tag (pending->task, relay_mock_resolver_lookup_by_name_with_flags_async);
  /* A resolver deaf to cancellation delivers its late answer, as a stuck getaddrinfo() might. */
  g_task_set_check_cancellable (pending->task, !self->ignore_cancel);

  answers = script_answer (self, hostname, flags, &pending->addresses, &pending->error, &delay_ms);

  if (answers)
    {
      pending->answer_source = g_timeout_source_new (delay_ms);
      g_source_set_callback (pending->answer_source, on_answer_cb, pending, NULL);
      g_source_attach (pending->answer_source, g_task_get_context (pending->task));
    }

  if (cancellable != NULL && !self->ignore_cancel)
    {
      pending->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (pending->cancel_source, G_SOURCE_FUNC (on_cancelled_cb), pending,
                             NULL);
      g_source_attach (pending->cancel_source, g_task_get_context (pending->task));
    }
}

static GList *
relay_mock_resolver_lookup_by_name_with_flags_finish (GResolver     *resolver,
                                                      GAsyncResult  *result,
                                                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, resolver), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
relay_mock_resolver_lookup_by_name_async (GResolver           *resolver,
                                          const char          *hostname,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  relay_mock_resolver_lookup_by_name_with_flags_async (resolver, hostname,
                                                       G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT,
                                                       cancellable, callback, user_data);
}

static GList *
relay_mock_resolver_lookup_by_name_finish (GResolver     *resolver,
                                           GAsyncResult  *result,
                                           GError       **error)
{
  return relay_mock_resolver_lookup_by_name_with_flags_finish (resolver, result, error);
}

static void
relay_mock_resolver_finalize (GObject *object)
{
  RelayMockResolver *self = RELAY_MOCK_RESOLVER (object);

  g_clear_pointer (&self->answers, g_hash_table_unref);
  g_clear_pointer (&self->lookups, g_hash_table_unref);
  g_clear_object (&self->previous);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (relay_mock_resolver_parent_class)->finalize (object);
}

static void
relay_mock_resolver_class_init (RelayMockResolverClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GResolverClass *resolver_class = G_RESOLVER_CLASS (klass);

  object_class->finalize = relay_mock_resolver_finalize;

  resolver_class->lookup_by_name = relay_mock_resolver_lookup_by_name;
  resolver_class->lookup_by_name_async = relay_mock_resolver_lookup_by_name_async;
  resolver_class->lookup_by_name_finish = relay_mock_resolver_lookup_by_name_finish;
  resolver_class->lookup_by_name_with_flags = relay_mock_resolver_lookup_by_name_with_flags;
  resolver_class->lookup_by_name_with_flags_async =
    relay_mock_resolver_lookup_by_name_with_flags_async;
  resolver_class->lookup_by_name_with_flags_finish =
    relay_mock_resolver_lookup_by_name_with_flags_finish;
}

static void
relay_mock_resolver_init (RelayMockResolver *self)
{
  g_mutex_init (&self->lock);
  self->answers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, answer_free);
  self->lookups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * relay_mock_resolver_install:
 *
 * Creates a mock resolver and makes it the default resolver (g_resolver_set_default()), which
 * GSocketClient, GNetworkAddress and g_resolver_get_default() use from then on. A name without a
 * script is not found, at once.
 *
 * Returns: (transfer full): the mock; give it back with relay_mock_resolver_uninstall()
 */
RelayMockResolver *
relay_mock_resolver_install (void)
{
  RelayMockResolver *self = g_object_new (RELAY_TYPE_MOCK_RESOLVER, NULL);

  self->previous = g_resolver_get_default ();
  g_resolver_set_default (G_RESOLVER (self));

  return self;
}

/**
 * relay_mock_resolver_uninstall:
 * @self: (transfer full): a mock installed by relay_mock_resolver_install()
 *
 * Restores the default resolver that was in place before relay_mock_resolver_install() and drops
 * the caller's reference; fits g_clear_pointer().
 */
void
relay_mock_resolver_uninstall (RelayMockResolver *self)
{
  g_return_if_fail (RELAY_IS_MOCK_RESOLVER (self));

  if (self->previous != NULL)
    g_resolver_set_default (self->previous);
  g_object_unref (self);
}

/**
 * relay_mock_resolver_set_addresses:
 * @self: a #RelayMockResolver
 * @name: the host name to script (matched without case and trailing dot)
 * @delay_ms: how long the answer takes
 * @first_address: the first IP address to return, as a string
 * @...: more addresses, then %NULL
 *
 * Makes lookups of @name return these addresses, in this order (those of the requested family for
 * a lookup with IPv4/IPv6-only flags; none of that family is NOT_FOUND). Replaces the previous
 * script of @name, also for the lookups that follow a pending one.
 */
void
relay_mock_resolver_set_addresses (RelayMockResolver *self,
                                   const char        *name,
                                   guint              delay_ms,
                                   const char        *first_address,
                                   ...)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  Answer *answer = g_new0 (Answer, 1);
  va_list args;

  g_return_if_fail (RELAY_IS_MOCK_RESOLVER (self));
  g_return_if_fail (first_address != NULL);

  va_start (args, first_address);
  for (const char *address = first_address; address != NULL; address = va_arg (args, const char *))
    {
      g_assert (g_hostname_is_ip_address (address));
      g_strv_builder_add (builder, address);
    }
  va_end (args);

  answer->kind = ANSWER_ADDRESSES;
  answer->addresses = g_strv_builder_end (builder);
  answer->delay_ms = delay_ms;
  set_answer (self, name, answer);
}

/**
 * relay_mock_resolver_set_error:
 * @self: a #RelayMockResolver
 * @name: the host name to script
 * @delay_ms: how long the answer takes
 * @code: the error to fail with, e.g. %G_RESOLVER_ERROR_NOT_FOUND for NXDOMAIN or
 *   %G_RESOLVER_ERROR_TEMPORARY_FAILURE for an unreachable DNS server
 *
 * Makes lookups of @name fail with a #G_RESOLVER_ERROR.
 */
void
relay_mock_resolver_set_error (RelayMockResolver *self,
                               const char        *name,
                               guint              delay_ms,
                               GResolverError     code)
{
  Answer *answer = g_new0 (Answer, 1);

  g_return_if_fail (RELAY_IS_MOCK_RESOLVER (self));

  answer->kind = ANSWER_ERROR;
  answer->code = code;
  answer->delay_ms = delay_ms;
  set_answer (self, name, answer);
}

/**
 * relay_mock_resolver_set_hang:
 * @self: a #RelayMockResolver
 * @name: the host name to script
 *
 * Makes lookups of @name never answer, like a silent DNS server with no resolver timeout. They
 * return %G_IO_ERROR_CANCELLED as soon as their cancellable is cancelled (unless cancellation is
 * ignored); without a cancellable they stay pending for ever.
 */
void
relay_mock_resolver_set_hang (RelayMockResolver *self,
                              const char        *name)
{
  Answer *answer = g_new0 (Answer, 1);

  g_return_if_fail (RELAY_IS_MOCK_RESOLVER (self));

  answer->kind = ANSWER_HANG;
  set_answer (self, name, answer);
}

/**
 * relay_mock_resolver_set_ignore_cancel:
 * @self: a #RelayMockResolver
 * @ignore_cancel: whether lookups started from now on ignore their cancellable
 *
 * Normally a cancelled lookup returns %G_IO_ERROR_CANCELLED at once. When cancellation is ignored,
 * lookups deliver their scripted answer when its delay is over, even after being cancelled: the
 * worst case a caller must survive (a stale answer arriving late). Off by default.
 */
void
relay_mock_resolver_set_ignore_cancel (RelayMockResolver *self,
                                       gboolean           ignore_cancel)
{
  g_return_if_fail (RELAY_IS_MOCK_RESOLVER (self));

  self->ignore_cancel = !!ignore_cancel;
}

/**
 * relay_mock_resolver_get_lookups:
 * @self: a #RelayMockResolver
 * @name: (nullable): a host name, or %NULL for all names
 *
 * Counts the lookups that reached the mock: one per call, so a GNetworkAddress that asks for IPv4
 * and IPv6 separately counts twice. IP literals never reach a resolver.
 *
 * Returns: the number of lookups of @name so far
 */
guint
relay_mock_resolver_get_lookups (RelayMockResolver *self,
                                 const char        *name)
{
  g_autofree char *key = NULL;
  guint count;

  g_return_val_if_fail (RELAY_IS_MOCK_RESOLVER (self), 0);

  g_mutex_lock (&self->lock);
  if (name == NULL)
    {
      count = self->total_lookups;
    }
  else
    {
      key = normalize_name (name);
      count = GPOINTER_TO_UINT (g_hash_table_lookup (self->lookups, key));
    }
  g_mutex_unlock (&self->lock);

  return count;
}
