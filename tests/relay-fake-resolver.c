/* relay-fake-resolver.c
 *
 * Every host name resolves to 127.0.0.1, so that "autoconfig.example.test" reaches the test's
 * own server; SRV and MX answers are scripted per name, with an optional delay. Delayed answers
 * honour cancellation, as the real resolver does, so a test can end while one is outstanding.
 * GNetworkAddress (and so libsoup) uses the _with_flags vfuncs: they must exist.
 *
 * For Detect's record lookups. Tests of name lookups themselves (answers, errors, hangs,
 * counts) use relay-mock-resolver.c, where an unscripted name is not found.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay-fake-resolver.h"

struct _RelayFakeResolver
{
  GResolver   parent_instance;

  GHashTable *srv;      /* rrname → GList of GSrvTarget */
  GHashTable *mx;       /* domain → GList of GVariant (qs) */
  GHashTable *delays;   /* name → delay in ms */
  guint       pending;
};

G_DEFINE_FINAL_TYPE (RelayFakeResolver, relay_fake_resolver, G_TYPE_RESOLVER)

typedef struct
{
  RelayFakeResolver *resolver;
  GTask             *task;
  gpointer           result;
  GDestroyNotify     result_free;
  GError            *error;
  GSource           *timeout;
  GSource           *cancelled;
} Pending;

static void
pending_finish (Pending  *pending,
                gboolean  cancelled)
{
  if (pending->timeout != NULL)
    {
      g_source_destroy (pending->timeout);
      g_source_unref (pending->timeout);
    }
  if (pending->cancelled != NULL)
    {
      g_source_destroy (pending->cancelled);
      g_source_unref (pending->cancelled);
    }

  if (cancelled)
    {
      if (pending->result != NULL)
        pending->result_free (pending->result);
      g_clear_error (&pending->error);
      g_task_return_new_error (pending->task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
    }
  else if (pending->error != NULL)
    g_task_return_error (pending->task, pending->error);
  else
    g_task_return_pointer (pending->task, pending->result, pending->result_free);

  pending->resolver->pending--;
  g_object_unref (pending->task);
  g_free (pending);
}

static gboolean
timeout_cb (gpointer user_data)
{
  pending_finish (user_data, FALSE);
  return G_SOURCE_REMOVE;
}

static gboolean
cancelled_cb (GCancellable *cancellable,
              gpointer      user_data)
{
  pending_finish (user_data, TRUE);
  return G_SOURCE_REMOVE;
}

static void
answer_later (RelayFakeResolver *self,
              const char        *name,
              GCancellable      *cancellable,
              GAsyncReadyCallback callback,
              gpointer           user_data,
              gpointer           result,
              GDestroyNotify     result_free,
              GError            *error)
{
  Pending *pending = g_new0 (Pending, 1);
  guint delay = GPOINTER_TO_UINT (g_hash_table_lookup (self->delays, name));

  pending->resolver = self;
  pending->task = g_task_new (self, cancellable, callback, user_data);
  pending->result = result;
  pending->result_free = result_free;
  pending->error = error;
  self->pending++;

  pending->timeout = g_timeout_source_new (delay);
  g_source_set_callback (pending->timeout, timeout_cb, pending, NULL);
  g_source_attach (pending->timeout, g_task_get_context (pending->task));
  if (cancellable != NULL)
    {
      pending->cancelled = g_cancellable_source_new (cancellable);
      g_source_set_callback (pending->cancelled, G_SOURCE_FUNC (cancelled_cb), pending, NULL);
      g_source_attach (pending->cancelled, g_task_get_context (pending->task));
    }
}

static GList *
loopback_addresses (GResolverNameLookupFlags   flags,
                    GError                   **error)
{
  if (flags & G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY)
    {
      g_set_error_literal (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "no IPv6 address");
      return NULL;
    }
  return g_list_append (NULL, g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4));
}

static GList *
lookup_by_name_with_flags (GResolver                 *resolver,
                           const char                *hostname,
                           GResolverNameLookupFlags   flags,
                           GCancellable              *cancellable,
                           GError                   **error)
{
  return loopback_addresses (flags, error);
}

static void
lookup_by_name_with_flags_async (GResolver                *resolver,
                                 const char               *hostname,
                                 GResolverNameLookupFlags  flags,
                                 GCancellable             *cancellable,
                                 GAsyncReadyCallback       callback,
                                 gpointer                  user_data)
{
  GError *error = NULL;
  GList *addresses = loopback_addresses (flags, &error);

  answer_later (RELAY_FAKE_RESOLVER (resolver), hostname, cancellable, callback, user_data,
                addresses, (GDestroyNotify) g_resolver_free_addresses, error);
}

static GList *
lookup_finish (GResolver     *resolver,
               GAsyncResult  *result,
               GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static GList *
lookup_by_name (GResolver     *resolver,
                const char    *hostname,
                GCancellable  *cancellable,
                GError       **error)
{
  return loopback_addresses (G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT, error);
}

static void
lookup_by_name_async (GResolver           *resolver,
                      const char          *hostname,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  lookup_by_name_with_flags_async (resolver, hostname, G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT,
                                   cancellable, callback, user_data);
}

static char *
lookup_by_address (GResolver     *resolver,
                   GInetAddress  *address,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_set_error_literal (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "no reverse lookups");
  return NULL;
}

static GList *
copy_targets (RelayFakeResolver  *self,
              const char         *rrname,
              GError            **error)
{
  GList *targets = g_hash_table_lookup (self->srv, rrname);
  GList *copy = NULL;

  if (targets == NULL)
    {
      g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "No SRV record for %s", rrname);
      return NULL;
    }
  for (GList *l = targets; l != NULL; l = l->next)
    copy = g_list_append (copy, g_srv_target_copy (l->data));
  return copy;
}

static GList *
lookup_service (GResolver     *resolver,
                const char    *rrname,
                GCancellable  *cancellable,
                GError       **error)
{
  return copy_targets (RELAY_FAKE_RESOLVER (resolver), rrname, error);
}

static void
lookup_service_async (GResolver           *resolver,
                      const char          *rrname,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  GError *error = NULL;
  GList *targets = copy_targets (RELAY_FAKE_RESOLVER (resolver), rrname, &error);

  answer_later (RELAY_FAKE_RESOLVER (resolver), rrname, cancellable, callback, user_data,
                targets, (GDestroyNotify) g_resolver_free_targets, error);
}

static void
free_records (GList *records)
{
  g_list_free_full (records, (GDestroyNotify) g_variant_unref);
}

static GList *
copy_records (RelayFakeResolver    *self,
              const char           *rrname,
              GResolverRecordType   type,
              GError              **error)
{
  GList *records = type == G_RESOLVER_RECORD_MX ? g_hash_table_lookup (self->mx, rrname) : NULL;

  if (records == NULL)
    {
      g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "No record for %s", rrname);
      return NULL;
    }
  return g_list_copy_deep (records, (GCopyFunc) (void (*) (void)) g_variant_ref, NULL);
}

static GList *
lookup_records (GResolver            *resolver,
                const char           *rrname,
                GResolverRecordType   record_type,
                GCancellable         *cancellable,
                GError              **error)
{
  return copy_records (RELAY_FAKE_RESOLVER (resolver), rrname, record_type, error);
}

static void
lookup_records_async (GResolver           *resolver,
                      const char          *rrname,
                      GResolverRecordType  record_type,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  GError *error = NULL;
  GList *records = copy_records (RELAY_FAKE_RESOLVER (resolver), rrname, record_type, &error);

  answer_later (RELAY_FAKE_RESOLVER (resolver), rrname, cancellable, callback, user_data,
                records, (GDestroyNotify) free_records, error);
}

static void
free_target_list (gpointer data)
{
  g_list_free_full (data, (GDestroyNotify) g_srv_target_free);
}

static void
relay_fake_resolver_finalize (GObject *object)
{
  RelayFakeResolver *self = RELAY_FAKE_RESOLVER (object);

  g_clear_pointer (&self->srv, g_hash_table_unref);
  g_clear_pointer (&self->mx, g_hash_table_unref);
  g_clear_pointer (&self->delays, g_hash_table_unref);

  G_OBJECT_CLASS (relay_fake_resolver_parent_class)->finalize (object);
}

static void
relay_fake_resolver_class_init (RelayFakeResolverClass *klass)
{
  GResolverClass *resolver_class = G_RESOLVER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = relay_fake_resolver_finalize;

  resolver_class->lookup_by_name = lookup_by_name;
  resolver_class->lookup_by_name_async = lookup_by_name_async;
  resolver_class->lookup_by_name_finish = lookup_finish;
  resolver_class->lookup_by_name_with_flags = lookup_by_name_with_flags;
  resolver_class->lookup_by_name_with_flags_async = lookup_by_name_with_flags_async;
  resolver_class->lookup_by_name_with_flags_finish = lookup_finish;
  resolver_class->lookup_by_address = lookup_by_address;
  resolver_class->lookup_service = lookup_service;
  resolver_class->lookup_service_async = lookup_service_async;
  resolver_class->lookup_service_finish = lookup_finish;
  resolver_class->lookup_records = lookup_records;
  resolver_class->lookup_records_async = lookup_records_async;
  resolver_class->lookup_records_finish = lookup_finish;
}

static void
relay_fake_resolver_init (RelayFakeResolver *self)
{
  self->srv = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_target_list);
  self->mx = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) free_records);
  self->delays = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

RelayFakeResolver *
relay_fake_resolver_new (void)
{
  return g_object_new (RELAY_TYPE_FAKE_RESOLVER, NULL);
}

/* @rrname as GResolver builds it: "_submissions._tcp.example.test"; @target "." means "none". */
void
relay_fake_resolver_add_srv (RelayFakeResolver *self,
                             const char        *rrname,
                             const char        *target,
                             guint16            port,
                             guint16            priority,
                             guint16            weight)
{
  GList *targets = g_hash_table_lookup (self->srv, rrname);

  targets = g_list_append (targets, g_srv_target_new (target, port, priority, weight));
  {
    gpointer old_key = NULL;

    /* The list head is unchanged by appending, but the table must not free it: steal, reinsert. */
    if (g_hash_table_steal_extended (self->srv, rrname, &old_key, NULL))
      g_free (old_key);
  }
  g_hash_table_insert (self->srv, g_strdup (rrname), targets);
}

void
relay_fake_resolver_add_mx (RelayFakeResolver *self,
                            const char        *domain,
                            const char        *exchange,
                            guint16            preference)
{
  GList *records = g_hash_table_lookup (self->mx, domain);

  records = g_list_append (records, g_variant_ref_sink (g_variant_new ("(qs)", preference, exchange)));
  {
    gpointer old_key = NULL;

    /* The list head is unchanged by appending, but the table must not free it: steal, reinsert. */
    if (g_hash_table_steal_extended (self->mx, domain, &old_key, NULL))
      g_free (old_key);
  }
  g_hash_table_insert (self->mx, g_strdup (domain), records);
}

void
relay_fake_resolver_set_delay (RelayFakeResolver *self,
                               const char        *name,
                               guint              delay_ms)
{
  g_hash_table_insert (self->delays, g_strdup (name), GUINT_TO_POINTER (delay_ms));
}

/* Lookups not answered yet: a test waits for 0 before it ends. */
guint
relay_fake_resolver_get_pending (RelayFakeResolver *self)
{
  return self->pending;
}
