/* relay-queue.h: messages waiting for the relay or the keyring, on disk, delivered once
 *
 * Usage from the window: on start, relay_queue_flush_async (settings, cancellable, …) and, in
 * the callback, relay_queue_flush_finish (result, &sent, &waiting, &failed, &error) (ignore
 * G_IO_ERROR_CANCELLED; otherwise show error->message). relay_queue_count_async() gives the
 * number for "N messages waiting"; watch relay_queue_get_directory() with
 * g_file_monitor_directory() to update it. "Send now" is another relay_queue_flush_async(). An
 * empty queue never touches the keyring. The flush and the count do their file work in worker
 * threads, so a slow home folder never stalls the window.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "relay-smtp-client.h"
#include "relay-smtp-message.h"

G_BEGIN_DECLS

typedef struct
{
  char    *id;
  char    *sender;        /* envelope sender, "" for the null sender */
  char   **recipients;    /* envelope recipients */
  gint64   queued_at;     /* Unix time */
  guint    attempts;      /* delivery attempts so far */
  char    *last_error;    /* why it is waiting, one line */
} RelayQueueEntry;

void         relay_queue_entry_free             (RelayQueueEntry      *entry);

char        *relay_queue_get_directory          (void);
char        *relay_queue_get_failed_directory   (void);

gboolean     relay_queue_add                    (RelaySmtpMessage     *message,
                                                 const char           *reason,
                                                 char                **id,
                                                 GError              **error);
int          relay_queue_hold                   (const char           *id);
const char  *relay_queue_flush_get_last_failure (GAsyncResult         *result);
const char  *relay_queue_flush_get_last_refusal (GAsyncResult         *result);
guint        relay_queue_flush_get_damaged      (GAsyncResult         *result);
GPtrArray   *relay_queue_list                   (const char           *directory,
                                                 GError              **error);
guint        relay_queue_count                  (GError              **error);
void         relay_queue_count_async            (GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
guint        relay_queue_count_finish           (GAsyncResult         *result,
                                                 GError              **error);
const char  *relay_queue_count_get_newest_error (GAsyncResult         *result);

gboolean     relay_queue_is_temporary_failure   (const GError         *error,
                                                 guint                 reply_code);

void         relay_queue_flush_async            (GSettings            *settings,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
void         relay_queue_flush_on_client_async  (GSettings            *settings,
                                                 RelaySmtpClient      *client,
                                                 GCancellable         *stop,
                                                 GCancellable         *cancellable,
                                                 GAsyncReadyCallback   callback,
                                                 gpointer              user_data);
gboolean     relay_queue_flush_finish           (GAsyncResult         *result,
                                                 guint                *n_sent,
                                                 guint                *n_waiting,
                                                 guint                *n_failed,
                                                 GError              **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayQueueEntry, relay_queue_entry_free)

G_END_DECLS
