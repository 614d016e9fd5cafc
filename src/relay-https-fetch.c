/* relay-https-fetch.c
 *
 * libsoup follows redirects on its own, to any scheme and up to 20 times. Settings must not be
 * proposed from a document that travelled over plain HTTP, so redirects are followed here, one at
 * a time: at most @max_redirects, and only to https. The body is read into a buffer one byte
 * larger than allowed, so an oversized answer is detected without reading the rest of it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-https-fetch"

#include <glib/gi18n-lib.h>

#include "relay-https-fetch.h"

G_DEFINE_QUARK (relay-https-fetch-error-quark, relay_https_fetch_error)

typedef struct
{
  SoupSession  *session;
  GUri         *uri;
  SoupMessage  *message;
  GInputStream *stream;
  guint8       *buffer;
  gsize         max_size;
  guint         redirects_left;
} FetchData;

static void
fetch_data_free (FetchData *data)
{
  g_clear_object (&data->session);
  g_clear_pointer (&data->uri, g_uri_unref);
  g_clear_object (&data->message);
  g_clear_object (&data->stream);
  g_clear_pointer (&data->buffer, g_free);
  g_free (data);
}

static gboolean
is_https (GUri *uri)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0;
}

static void send_request (GTask *task);

static void
read_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FetchData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gsize n_read = 0;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (object), result, &n_read, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (n_read > data->max_size)
    {
      g_task_return_new_error (task, RELAY_HTTPS_FETCH_ERROR, RELAY_HTTPS_FETCH_ERROR_TOO_LARGE,
                               /* %lu, not G_GSIZE_FORMAT: xgettext cuts a msgid at a macro */
                               _("The answer is larger than %lu KiB"),
                               (gulong) (data->max_size / 1024));
      return;
    }

  g_task_return_pointer (task, g_bytes_new_take (g_steal_pointer (&data->buffer), n_read),
                         (GDestroyNotify) g_bytes_unref);
}

static void
send_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FetchData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers;
  GCancellable *cancellable;
  guint status;

  data->stream = soup_session_send_finish (SOUP_SESSION (object), result, &error);
  if (data->stream == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  status = soup_message_get_status (data->message);
  headers = soup_message_get_response_headers (data->message);

  if (SOUP_STATUS_IS_REDIRECTION (status) && soup_message_headers_get_one (headers, "Location"))
    {
      const char *location = soup_message_headers_get_one (headers, "Location");
      g_autoptr(GUri) target = NULL;

      if (data->redirects_left == 0)
        {
          g_task_return_new_error (task, RELAY_HTTPS_FETCH_ERROR,
                                   RELAY_HTTPS_FETCH_ERROR_TOO_MANY_REDIRECTS,
                                   _("Too many redirections"));
          return;
        }
      data->redirects_left--;

      target = g_uri_parse_relative (data->uri, location, SOUP_HTTP_URI_FLAGS, &error);
      if (target == NULL)
        {
          g_task_return_new_error (task, RELAY_HTTPS_FETCH_ERROR,
                                   RELAY_HTTPS_FETCH_ERROR_HTTP_STATUS,
                                   _("The server redirected to an invalid address: %s"),
                                   error->message);
          return;
        }
      if (!is_https (target))
        {
          g_autofree char *shown = g_uri_to_string (target);

          g_task_return_new_error (task, RELAY_HTTPS_FETCH_ERROR, RELAY_HTTPS_FETCH_ERROR_NOT_HTTPS,
                                   _("Refused to follow a redirection to the unencrypted address %s"),
                                   shown);
          return;
        }

      g_clear_object (&data->stream);
      g_clear_object (&data->message);
      g_clear_pointer (&data->uri, g_uri_unref);
      data->uri = g_steal_pointer (&target);
      send_request (g_steal_pointer (&task));
      return;
    }

  if (status == SOUP_STATUS_NOT_FOUND || status == SOUP_STATUS_GONE)
    {
      g_task_return_new_error (task, RELAY_HTTPS_FETCH_ERROR, RELAY_HTTPS_FETCH_ERROR_NOT_FOUND,
                               _("Not found (HTTP %u)"), status);
      return;
    }
  if (status != SOUP_STATUS_OK)
    {
      g_task_return_new_error (task, RELAY_HTTPS_FETCH_ERROR, RELAY_HTTPS_FETCH_ERROR_HTTP_STATUS,
                               _("The server answered HTTP %u %s"), status,
                               soup_message_get_reason_phrase (data->message));
      return;
    }

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      (guint64) soup_message_headers_get_content_length (headers) > data->max_size)
    {
      g_task_return_new_error (task, RELAY_HTTPS_FETCH_ERROR, RELAY_HTTPS_FETCH_ERROR_TOO_LARGE,
                               /* %lu, not G_GSIZE_FORMAT: xgettext cuts a msgid at a macro */
                               _("The answer is larger than %lu KiB"),
                               (gulong) (data->max_size / 1024));
      return;
    }

  data->buffer = g_malloc (data->max_size + 1);
  cancellable = g_task_get_cancellable (task);
  g_input_stream_read_all_async (data->stream, data->buffer, data->max_size + 1,
                                 G_PRIORITY_DEFAULT, cancellable,
                                 read_cb, g_steal_pointer (&task));
}

static void
send_request (GTask *task)
{
  FetchData *data = g_task_get_task_data (task);

  data->message = soup_message_new_from_uri (SOUP_METHOD_GET, data->uri);
  soup_message_add_flags (data->message, SOUP_MESSAGE_NO_REDIRECT);
  soup_message_headers_replace (soup_message_get_request_headers (data->message),
                                "Accept", "application/xml, text/xml;q=0.9");
  soup_session_send_async (data->session, data->message, G_PRIORITY_DEFAULT,
                           g_task_get_cancellable (task), send_cb, task);
}

/**
 * relay_https_fetch_async:
 * @session: the session to send with (its TLS database decides which certificates are trusted)
 * @url: an https URL
 * @max_size: the largest body accepted, in bytes
 * @max_redirects: how many redirections are followed; each must lead to https again
 *
 * Fetches @url with GET. Fails with #RELAY_HTTPS_FETCH_ERROR_NOT_FOUND for 404 and 410, so that
 * "nothing published here" can be told from a failure.
 */
void
relay_https_fetch_async (SoupSession          *session,
                         const char           *url,
                         gsize                 max_size,
                         guint                 max_redirects,
                         GCancellable         *cancellable,
                         GAsyncReadyCallback   callback,
                         gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  FetchData *data;

  g_return_if_fail (SOUP_IS_SESSION (session));
  g_return_if_fail (url != NULL);
  g_return_if_fail (max_size < G_MAXSIZE);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, relay_https_fetch_async);

  data = g_new0 (FetchData, 1);
  data->session = g_object_ref (session);
  data->max_size = max_size;
  data->redirects_left = max_redirects;
  g_task_set_task_data (task, data, (GDestroyNotify) fetch_data_free);

  data->uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &error);
  if (data->uri == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!is_https (data->uri))
    {
      g_task_return_new_error (task, RELAY_HTTPS_FETCH_ERROR, RELAY_HTTPS_FETCH_ERROR_NOT_HTTPS,
                               _("Refused to fetch the unencrypted address %s"), url);
      return;
    }

  send_request (g_steal_pointer (&task));
}

/**
 * relay_https_fetch_finish:
 *
 * Returns: (transfer full): the body, or %NULL with @error set
 */
GBytes *
relay_https_fetch_finish (GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relay_https_fetch_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * relay_https_fetch_get_host:
 * @result: a fetch's result
 *
 * Returns: (nullable): the host the body came from, after any redirection: a proposal says
 *   where it came from, and that is where
 */
const char *
relay_https_fetch_get_host (GAsyncResult *result)
{
  FetchData *data;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  data = g_task_get_task_data (G_TASK (result));
  return data->uri != NULL ? g_uri_get_host (data->uri) : NULL;
}
