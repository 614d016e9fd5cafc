/* relay-detector.c
 *
 * Detect asks every source at once and waits for all of them, or for the deadline, whichever
 * comes first: only then can it say where sources disagree. Sources, best first:
 *
 *   1. DNS SRV _submissions._tcp (implicit TLS) and _submission._tcp (STARTTLS), RFC 6186/8314;
 *   2. Mozilla autoconfig at autoconfig.DOMAIN, then DOMAIN/.well-known;
 *   3. the ISP database for DOMAIN, or failing that for the domain of its MX host.
 *
 * Proposals with an unencrypted connection rank after every encrypted one. Nothing is sent but
 * the domain: no address in the autoconfig URLs (Thunderbird adds one; the format works without
 * it) and never a password. GLib 2.74's resolver has no timeout, so the deadline is a timeout
 * source that answers with what has arrived and cancels the rest.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-detect"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-address.h"
#include "relay-autoconfig.h"
#include "relay-detect-rank.h"
#include "relay-detector.h"
#include "relay-hostname.h"
#include "relay-https-fetch.h"
#include "relay-smtp-error.h"

G_DEFINE_QUARK (relay-detect-error-quark, relay_detect_error)

#define DOMAIN_PLACEHOLDER "{domain}"

static const char * const default_autoconfig_urls[] = {
  "https://autoconfig." DOMAIN_PLACEHOLDER "/mail/config-v1.1.xml",
  "https://" DOMAIN_PLACEHOLDER "/.well-known/autoconfig/mail/config-v1.1.xml",
  NULL
};

struct _RelayDetector
{
  GObject      parent_instance;

  SoupSession *session;
  char        *isp_database_url;
  GStrv        autoconfig_urls;
  guint        timeout_ms;
};

G_DEFINE_FINAL_TYPE (RelayDetector, relay_detector, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SESSION,
  PROP_ISP_DATABASE_URL,
  PROP_AUTOCONFIG_URLS,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* One place that may propose settings, in the order of preference. */
typedef struct
{
  char      *label;       /* for people: "DNS SRV _submissions._tcp.example.com" */
  char      *url;         /* what is fetched, for the HTTPS sources */
  gboolean   started;     /* the ISP database via MX starts only when the first one had nothing */
  gboolean   done;
  gboolean   unreachable; /* no answer: the deadline, or DNS or the network down */
  GPtrArray *proposals;   /* RelayDetectProposal, in the source's own order */
  GPtrArray *notes;       /* char *: why it proposed nothing, what it rejected */
} Source;

typedef struct
{
  SoupSession  *session;
  GResolver    *resolver;
  char         *address;
  char         *domain;
  GCancellable *inner;            /* cancels the lookups still running when the run ends */
  GSource      *deadline;
  GSource      *cancelled;
  GPtrArray    *sources;          /* Source * */
  guint         pending;
  guint         timeout_ms;
  guint         isp_index;        /* the ISP database source for the domain */
  guint         isp_mx_index;     /* ... and for the domain of the MX host */
  char         *isp_base;
  gboolean      finished;
} DetectData;

/* What an operation needs to report back: the run and which source it belongs to. */
typedef struct
{
  GTask *task;
  guint  index;
} SourceOp;

static void
source_free (Source *source)
{
  g_free (source->label);
  g_free (source->url);
  g_ptr_array_unref (source->proposals);
  g_ptr_array_unref (source->notes);
  g_free (source);
}

static Source *
source_new (char *label,
            char *url)
{
  Source *source = g_new0 (Source, 1);

  source->label = label;
  source->url = url;
  source->proposals = g_ptr_array_new_with_free_func (g_object_unref);
  source->notes = g_ptr_array_new_with_free_func (g_free);
  return source;
}

static void
detect_data_free (DetectData *data)
{
  if (data->deadline != NULL)
    g_source_destroy (data->deadline);
  g_clear_pointer (&data->deadline, g_source_unref);
  if (data->cancelled != NULL)
    g_source_destroy (data->cancelled);
  g_clear_pointer (&data->cancelled, g_source_unref);
  g_clear_object (&data->session);
  g_clear_object (&data->resolver);
  g_clear_object (&data->inner);
  g_clear_pointer (&data->address, g_free);
  g_clear_pointer (&data->domain, g_free);
  g_clear_pointer (&data->isp_base, g_free);
  g_clear_pointer (&data->sources, g_ptr_array_unref);
  g_free (data);
}

static SourceOp *
source_op_new (GTask *task,
               guint  index)
{
  SourceOp *op = g_new0 (SourceOp, 1);

  op->task = g_object_ref (task);
  op->index = index;
  return op;
}

static void
source_op_free (SourceOp *op)
{
  g_clear_object (&op->task);
  g_free (op);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SourceOp, source_op_free)

static Source *
get_source (DetectData *data,
            guint       index)
{
  return g_ptr_array_index (data->sources, index);
}

/* Whether @error means that the source could not be asked, rather than that it has nothing:
 * then "nothing found" is not the answer, and trying again later may give one. */
static gboolean
is_unreachable (const GError *error)
{
  return g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

static RelayDetectReport *
build_report (DetectData *data)
{
  gboolean incomplete = FALSE;
  g_autoptr(GPtrArray) per_source = g_ptr_array_new ();
  g_autoptr(GPtrArray) proposals = NULL;
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) guesses = NULL;

  for (guint s = 0; s < data->sources->len; s++)
    g_ptr_array_add (per_source, get_source (data, s)->proposals);
  proposals = relay_detect_rank (per_source);

  for (guint s = 0; s < data->sources->len; s++)
    {
      Source *source = get_source (data, s);

      incomplete |= source->unreachable;
      for (guint i = 0; i < source->notes->len; i++)
        {
          /* What a document or a server said is shown to people, and printed to terminals:
           * no control characters (a host name could carry escape sequences). */
          /* TRANSLATORS: a source of Detect and what it said, e.g. "DNS SRV records for
           * example.org: no record" (French puts a space before the colon) */
          g_autofree char *note = g_strdup_printf (_("%s: %s"), source->label,
                                                   (const char *) g_ptr_array_index (source->notes, i));

          g_ptr_array_add (notes, relay_smtp_sanitize_text (note, -1));
        }
    }

  /* What to do when nothing was found is the caller's to say (the window and the command
   * line each in their own way), from the guesses and relay_detect_report_get_incomplete(). */
  if (proposals->len == 0)
    guesses = relay_detect_usual_guesses (data->domain);

  return relay_detect_report_new (data->domain, proposals, notes, guesses, incomplete);
}

static void
finish_run (GTask *task)
{
  DetectData *data = g_task_get_task_data (task);

  if (data->finished)
    return;
  data->finished = TRUE;

  if (data->deadline != NULL)
    g_source_destroy (data->deadline);
  if (data->cancelled != NULL)
    g_source_destroy (data->cancelled);
  g_cancellable_cancel (data->inner);

  if (g_task_return_error_if_cancelled (task))
    return;
  g_task_return_pointer (task, build_report (data), g_object_unref);
}

static void
source_done (GTask *task,
             guint  index)
{
  DetectData *data = g_task_get_task_data (task);

  get_source (data, index)->done = TRUE;
  g_assert (data->pending > 0);
  if (--data->pending == 0)
    finish_run (task);
}

static gboolean
deadline_cb (gpointer user_data)
{
  GTask *task = user_data;
  DetectData *data = g_task_get_task_data (task);

  for (guint s = 0; s < data->sources->len; s++)
    {
      Source *source = get_source (data, s);

      if (source->started && !source->done)
        {
          source->unreachable = TRUE;
          g_ptr_array_add (source->notes,
                           g_strdup_printf (_("no answer within %.1f seconds"), data->timeout_ms / 1000.0));
        }
    }
  finish_run (task);
  return G_SOURCE_REMOVE;
}

static gboolean
cancelled_cb (GCancellable *cancellable,
              gpointer      user_data)
{
  finish_run (G_TASK (user_data));
  return G_SOURCE_REMOVE;
}

/* ---- DNS SRV ---- */

static void
srv_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(SourceOp) op = user_data;
  DetectData *data = g_task_get_task_data (op->task);
  g_autoptr(GError) error = NULL;
  GList *targets;
  Source *source;

  targets = g_resolver_lookup_service_finish (G_RESOLVER (object), result, &error);
  if (data->finished)
    {
      g_list_free_full (targets, (GDestroyNotify) g_srv_target_free);
      return;   /* the run ended (deadline or cancelled); this answer came too late */
    }

  source = get_source (data, op->index);
  if (targets == NULL)
    {
      source->unreachable = is_unreachable (error);
      if (g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
        g_ptr_array_add (source->notes, g_strdup (_("no record")));
      else
        g_ptr_array_add (source->notes, g_strdup (error ? error->message : _("no record")));
    }
  else
    {
      /* _submissions is implicit TLS (RFC 8314), _submission is STARTTLS (RFC 6186). */
      relay_detect_srv_proposals (targets,
                                  op->index == 0 ? RELAY_SECURITY_TLS : RELAY_SECURITY_STARTTLS,
                                  source->label, source->proposals, source->notes);
      g_list_free_full (targets, (GDestroyNotify) g_srv_target_free);
    }

  source_done (op->task, op->index);
}

/* ---- autoconfig documents ---- */

static void start_mx_lookup (GTask *task);

static void
add_autoconfig_servers (DetectData *data,
                        Source     *source,
                        GBytes     *bytes)
{
  g_autoptr(GPtrArray) servers = NULL;
  g_autoptr(GPtrArray) notes = NULL;
  g_autoptr(GError) error = NULL;
  gsize length = 0;
  const char *contents = g_bytes_get_data (bytes, &length);

  servers = relay_autoconfig_parse (contents, length, data->address, &notes, &error);
  if (servers == NULL)
    {
      g_ptr_array_add (source->notes, g_strdup_printf (_("the document was rejected: %s"),
                                                       error->message));
      return;
    }

  for (guint i = 0; i < notes->len; i++)
    g_ptr_array_add (source->notes, g_strdup (g_ptr_array_index (notes, i)));

  if (servers->len == 0)
    g_ptr_array_add (source->notes, g_strdup (_("the document lists no usable SMTP server")));

  for (guint i = 0; i < servers->len; i++)
    {
      RelayAutoconfigServer *server = g_ptr_array_index (servers, i);
      RelayDetectProposal *proposal;

      proposal = relay_detect_proposal_new (server->hostname, server->port, server->security,
                                            source->label);
      if (server->username != NULL || server->authentication != NULL || server->requires_auth)
        relay_detect_proposal_set_login (proposal, server->username, server->authentication,
                                         server->requires_auth, source->label);
      g_ptr_array_add (source->proposals, proposal);
    }
}

/* A fetch's failure in the words of a note; most domains publish no autoconfig host at all. */
static char *
describe_fetch_error (const GError *error)
{
  if (g_error_matches (error, RELAY_HTTPS_FETCH_ERROR, RELAY_HTTPS_FETCH_ERROR_NOT_FOUND))
    return g_strdup (_("nothing published there"));
  if (g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
    return g_strdup (_("no such host: nothing published there"));
  if (g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE))
    return g_strdup (_("DNS did not answer"));
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    return g_strdup (_("no web server there: nothing published"));
  return g_strdup (error->message);
}

static void
fetch_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(SourceOp) op = user_data;
  DetectData *data = g_task_get_task_data (op->task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  Source *source;

  bytes = relay_https_fetch_finish (result, &error);
  if (data->finished)
    return;

  source = get_source (data, op->index);
  if (bytes == NULL)
    {
      source->unreachable = is_unreachable (error);
      g_ptr_array_add (source->notes, describe_fetch_error (error));
    }
  else
    {
      g_autoptr(GUri) asked = g_uri_parse (source->url, G_URI_FLAGS_NONE, NULL);
      const char *host = relay_https_fetch_get_host (result);

      /* Redirected to another host: the values come from there, and the label says so. */
      if (asked != NULL && host != NULL && g_ascii_strcasecmp (g_uri_get_host (asked), host) != 0)
        {
          char *label = g_strdup_printf (_("%s (redirected to %s)"), source->label, host);

          g_free (source->label);
          source->label = label;
        }
      add_autoconfig_servers (data, source, bytes);
    }

  /* The ISP database knows many domains only by their provider: ask about the MX host's. */
  if (op->index == data->isp_index && source->proposals->len == 0)
    start_mx_lookup (op->task);

  source_done (op->task, op->index);
}

/* The caller counts the operation in data->pending. */
static void
start_fetch (GTask *task,
             guint  index)
{
  DetectData *data = g_task_get_task_data (task);

  get_source (data, index)->started = TRUE;
  relay_https_fetch_async (data->session, get_source (data, index)->url, RELAY_AUTOCONFIG_MAX_SIZE,
                           RELAY_DETECTOR_MAX_REDIRECTS, data->inner,
                           fetch_cb, source_op_new (task, index));
}

/* "mx1.mail.provider.example" → "provider.example", what the ISP database is keyed by: the
 * registrable domain by the Public Suffix List (libsoup's, from libpsl), so that a provider
 * under "co.uk" is asked about as "provider.co.uk", not "co.uk". Without an answer from the
 * list, the last two labels. */
static const char *
registrable_part (const char *host)
{
  const char *base = soup_tld_get_base_domain (host, NULL);
  const char *last = strrchr (host, '.');

  if (base != NULL)
    return base;

  if (last == NULL)
    return host;
  for (const char *p = last - 1; p >= host; p--)
    if (*p == '.')
      return p + 1;
  return host;
}

static void
mx_cb (GObject      *object,
       GAsyncResult *result,
       gpointer      user_data)
{
  g_autoptr(SourceOp) op = user_data;
  DetectData *data = g_task_get_task_data (op->task);
  g_autoptr(GError) error = NULL;
  g_autofree char *best_host = NULL;
  g_autofree char *host = NULL;
  g_autofree char *url = NULL;
  Source *source;
  GList *records;
  guint best_preference = G_MAXUINT;
  gboolean is_ip = FALSE;

  records = g_resolver_lookup_records_finish (G_RESOLVER (object), result, &error);
  if (data->finished)
    {
      g_list_free_full (records, (GDestroyNotify) g_variant_unref);
      return;
    }

  source = get_source (data, op->index);
  for (GList *l = records; l != NULL; l = l->next)
    {
      guint16 preference;
      const char *exchange;

      if (!g_variant_is_of_type (l->data, G_VARIANT_TYPE ("(qs)")))
        continue;
      g_variant_get (l->data, "(q&s)", &preference, &exchange);
      if (preference < best_preference)
        {
          best_preference = preference;
          g_free (best_host);
          best_host = g_strdup (exchange);
        }
    }
  g_list_free_full (records, (GDestroyNotify) g_variant_unref);

  if (best_host == NULL)
    {
      source->unreachable = is_unreachable (error);
      g_ptr_array_add (source->notes, g_strdup (error != NULL &&
                                                !g_error_matches (error, G_RESOLVER_ERROR,
                                                                  G_RESOLVER_ERROR_NOT_FOUND)
                                                ? error->message : _("the domain has no MX record")));
      source_done (op->task, op->index);
      return;
    }

  host = relay_hostname_normalize (best_host, &is_ip, NULL);
  if (host == NULL || is_ip)
    {
      g_ptr_array_add (source->notes, g_strdup_printf (_("the MX host “%s” is not a usable name"),
                                                       best_host));
      source_done (op->task, op->index);
      return;
    }
  if (strcmp (registrable_part (host), data->domain) == 0)
    {
      g_ptr_array_add (source->notes, g_strdup_printf (_("the MX host %s is in the domain itself"),
                                                       host));
      source_done (op->task, op->index);
      return;
    }

  /* The lookup's place in data->pending passes to the fetch. */
  url = g_strconcat (data->isp_base, registrable_part (host), NULL);
  g_free (source->label);
  source->label = g_strdup_printf (_("ISP database %s (for the MX host %s)"), url, host);
  source->url = g_steal_pointer (&url);
  start_fetch (op->task, op->index);
}

static void
start_mx_lookup (GTask *task)
{
  DetectData *data = g_task_get_task_data (task);

  data->pending++;
  get_source (data, data->isp_mx_index)->started = TRUE;
  g_resolver_lookup_records_async (data->resolver, data->domain, G_RESOLVER_RECORD_MX,
                                   data->inner, mx_cb, source_op_new (task, data->isp_mx_index));
}

/* ---- the object ---- */

static void
relay_detector_dispose (GObject *object)
{
  RelayDetector *self = RELAY_DETECTOR (object);

  g_clear_object (&self->session);

  G_OBJECT_CLASS (relay_detector_parent_class)->dispose (object);
}

static void
relay_detector_finalize (GObject *object)
{
  RelayDetector *self = RELAY_DETECTOR (object);

  g_clear_pointer (&self->isp_database_url, g_free);
  g_clear_pointer (&self->autoconfig_urls, g_strfreev);

  G_OBJECT_CLASS (relay_detector_parent_class)->finalize (object);
}

static void
relay_detector_constructed (GObject *object)
{
  RelayDetector *self = RELAY_DETECTOR (object);

  G_OBJECT_CLASS (relay_detector_parent_class)->constructed (object);

  /* The default session verifies certificates against the system's trust store. */
  if (self->session == NULL)
    self->session = soup_session_new_with_options ("user-agent", "smtp-relay/" PACKAGE_VERSION " ",
                                                   NULL);
}

static void
relay_detector_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  RelayDetector *self = RELAY_DETECTOR (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    case PROP_ISP_DATABASE_URL:
      g_value_set_string (value, self->isp_database_url);
      break;
    case PROP_AUTOCONFIG_URLS:
      g_value_set_boxed (value, self->autoconfig_urls);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relay_detector_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  RelayDetector *self = RELAY_DETECTOR (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      self->session = g_value_dup_object (value);
      break;
    case PROP_ISP_DATABASE_URL:
      relay_detector_set_isp_database_url (self, g_value_get_string (value));
      break;
    case PROP_AUTOCONFIG_URLS:
      relay_detector_set_autoconfig_urls (self, g_value_get_boxed (value));
      break;
    case PROP_TIMEOUT:
      relay_detector_set_timeout (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relay_detector_class_init (RelayDetectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = relay_detector_dispose;
  object_class->finalize = relay_detector_finalize;
  object_class->constructed = relay_detector_constructed;
  object_class->get_property = relay_detector_get_property;
  object_class->set_property = relay_detector_set_property;

  /**
   * RelayDetector:session:
   *
   * The session for HTTPS; tests pass one whose tls-database trusts their own server.
   */
  properties[PROP_SESSION] =
    g_param_spec_object ("session", NULL, NULL, SOUP_TYPE_SESSION,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * RelayDetector:isp-database-url:
   *
   * Base URL of the ISP database; the domain is appended. Only https URLs are used.
   */
  properties[PROP_ISP_DATABASE_URL] =
    g_param_spec_string ("isp-database-url", NULL, NULL, RELAY_DETECTOR_DEFAULT_ISP_DATABASE_URL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * RelayDetector:autoconfig-urls:
   *
   * Where domains publish autoconfig documents, best first, with "{domain}" standing for the
   * domain. Tests point these at their own server and port.
   */
  properties[PROP_AUTOCONFIG_URLS] =
    g_param_spec_boxed ("autoconfig-urls", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * RelayDetector:timeout:
   *
   * Milliseconds after which a run answers with what it has.
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 1, 10 * 60 * 1000, RELAY_DETECTOR_DEFAULT_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
relay_detector_init (RelayDetector *self)
{
  self->isp_database_url = g_strdup (RELAY_DETECTOR_DEFAULT_ISP_DATABASE_URL);
  self->autoconfig_urls = g_strdupv ((char **) default_autoconfig_urls);
  self->timeout_ms = RELAY_DETECTOR_DEFAULT_TIMEOUT_MS;
}

/**
 * relay_detector_new:
 * @session: (nullable): the session for HTTPS, or %NULL for one with the system's trust store
 */
RelayDetector *
relay_detector_new (SoupSession *session)
{
  g_return_val_if_fail (session == NULL || SOUP_IS_SESSION (session), NULL);

  return g_object_new (RELAY_TYPE_DETECTOR, "session", session, NULL);
}

void
relay_detector_set_isp_database_url (RelayDetector *self,
                                     const char    *url)
{
  g_return_if_fail (RELAY_IS_DETECTOR (self));

  if (g_strcmp0 (self->isp_database_url, url) == 0)
    return;
  g_free (self->isp_database_url);
  self->isp_database_url = g_strdup (url);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ISP_DATABASE_URL]);
}

const char *
relay_detector_get_isp_database_url (RelayDetector *self)
{
  g_return_val_if_fail (RELAY_IS_DETECTOR (self), NULL);
  return self->isp_database_url;
}

void
relay_detector_set_autoconfig_urls (RelayDetector      *self,
                                    const char * const *templates)
{
  g_return_if_fail (RELAY_IS_DETECTOR (self));

  if (templates == NULL)
    templates = default_autoconfig_urls;
  if (g_strv_equal ((const char * const *) self->autoconfig_urls, templates))
    return;
  g_strfreev (self->autoconfig_urls);
  self->autoconfig_urls = g_strdupv ((char **) templates);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTOCONFIG_URLS]);
}

const char * const *
relay_detector_get_autoconfig_urls (RelayDetector *self)
{
  g_return_val_if_fail (RELAY_IS_DETECTOR (self), NULL);
  return (const char * const *) self->autoconfig_urls;
}

void
relay_detector_set_timeout (RelayDetector *self,
                            guint          timeout_ms)
{
  g_return_if_fail (RELAY_IS_DETECTOR (self));

  timeout_ms = MAX (timeout_ms, 1);
  if (self->timeout_ms == timeout_ms)
    return;
  self->timeout_ms = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

guint
relay_detector_get_timeout (RelayDetector *self)
{
  g_return_val_if_fail (RELAY_IS_DETECTOR (self), 0);
  return self->timeout_ms;
}

/**
 * relay_detector_get_session:
 *
 * Returns: (transfer none): the session used for HTTPS
 */
SoupSession *
relay_detector_get_session (RelayDetector *self)
{
  g_return_val_if_fail (RELAY_IS_DETECTOR (self), NULL);
  return self->session;
}

static char *
expand_url_template (const char *template,
                     const char *domain)
{
  g_auto(GStrv) parts = g_strsplit (template, DOMAIN_PLACEHOLDER, -1);

  return g_strjoinv (domain, parts);
}

/**
 * relay_detector_detect_async:
 * @address: the sender's mail address; only its domain is used (and the address itself to fill
 *   in the user name templates of autoconfig documents, which are never sent anywhere)
 * @cancellable: (nullable): cancels the whole run
 *
 * Asks every source at once and completes when all have answered or after
 * #RelayDetector:timeout milliseconds, with what has arrived by then. Nothing is written to
 * GSettings; see relay_detect_proposal_apply().
 */
void
relay_detector_detect_async (RelayDetector       *self,
                             const char          *address,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *normalized = NULL;
  DetectData *data;
  const char *domain;
  guint n_templates;

  g_return_if_fail (RELAY_IS_DETECTOR (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, relay_detector_detect_async);

  if (g_task_return_error_if_cancelled (task))
    return;

  normalized = relay_address_normalize (address, &error);
  if (normalized == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  domain = strrchr (normalized, '@') + 1;
  if (*domain == '[')
    {
      g_task_return_new_error (task, RELAY_DETECT_ERROR, RELAY_DETECT_ERROR_NO_DOMAIN,
                               _("Detect needs an address with a domain name, not an IP address"));
      return;
    }

  data = g_new0 (DetectData, 1);
  data->session = g_object_ref (self->session);
  data->resolver = g_resolver_get_default ();
  data->domain = g_ascii_strdown (domain, -1);
  data->address = g_steal_pointer (&normalized);
  data->inner = g_cancellable_new ();
  data->timeout_ms = self->timeout_ms;
  data->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) source_free);
  g_task_set_task_data (task, data, (GDestroyNotify) detect_data_free);

  /* Order of the sources = order of preference. */
  g_ptr_array_add (data->sources,
                   source_new (g_strdup_printf (_("DNS SRV _submissions._tcp.%s"), data->domain), NULL));
  g_ptr_array_add (data->sources,
                   source_new (g_strdup_printf (_("DNS SRV _submission._tcp.%s"), data->domain), NULL));
  n_templates = g_strv_length (self->autoconfig_urls);
  for (guint i = 0; i < n_templates; i++)
    {
      char *url = expand_url_template (self->autoconfig_urls[i], data->domain);

      g_ptr_array_add (data->sources,
                       source_new (g_strdup_printf (_("autoconfig document %s"), url), url));
    }
  data->isp_index = data->sources->len;
  data->isp_base = g_strdup (self->isp_database_url ? self->isp_database_url : "");
  {
    char *url = g_strconcat (data->isp_base, data->domain, NULL);

    g_ptr_array_add (data->sources, source_new (g_strdup_printf (_("ISP database %s"), url), url));
  }
  data->isp_mx_index = data->sources->len;
  g_ptr_array_add (data->sources,
                   source_new (g_strdup (_("ISP database, for the domain of the MX host")), NULL));

  data->deadline = g_timeout_source_new (data->timeout_ms);
  g_source_set_callback (data->deadline, deadline_cb, g_object_ref (task), g_object_unref);
  g_source_set_static_name (data->deadline, "[relay] detect deadline");
  g_source_attach (data->deadline, g_task_get_context (task));

  if (cancellable != NULL)
    {
      data->cancelled = g_cancellable_source_new (cancellable);
      g_source_set_callback (data->cancelled, G_SOURCE_FUNC (cancelled_cb), g_object_ref (task),
                             g_object_unref);
      g_source_attach (data->cancelled, g_task_get_context (task));
    }

  data->pending += 2;
  get_source (data, 0)->started = get_source (data, 1)->started = TRUE;
  g_resolver_lookup_service_async (data->resolver, "submissions", "tcp", data->domain, data->inner,
                                   srv_cb, source_op_new (task, 0));
  g_resolver_lookup_service_async (data->resolver, "submission", "tcp", data->domain, data->inner,
                                   srv_cb, source_op_new (task, 1));

  for (guint i = 0; i < n_templates; i++)
    {
      data->pending++;
      start_fetch (task, 2 + i);
    }

  if (g_str_has_prefix (data->isp_base, "https://"))
    {
      data->pending++;
      start_fetch (task, data->isp_index);
    }
  else
    {
      get_source (data, data->isp_index)->done = TRUE;
      g_ptr_array_add (get_source (data, data->isp_index)->notes,
                       g_strdup (_("skipped: the database address is not an https address")));
      get_source (data, data->isp_mx_index)->done = TRUE;
    }
}

/**
 * relay_detector_detect_finish:
 *
 * Returns: (transfer full): the report (which may hold no proposal: see
 *   relay_detect_report_get_best()), or %NULL when the address has no usable domain or the run
 *   was cancelled
 */
RelayDetectReport *
relay_detector_detect_finish (RelayDetector  *self,
                              GAsyncResult   *result,
                              GError        **error)
{
  g_return_val_if_fail (RELAY_IS_DETECTOR (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relay_detector_detect_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
