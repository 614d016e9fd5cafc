/* relay-queue.c
 *
 * A message that could not be sent for a passing reason (relay down, 4xx, no keyring) waits in
 * $XDG_STATE_HOME/smtp-relay/queue, one file per message (mode 0600, directory 0700):
 *
 *   SMTP-Relay-Queue: 1
 *   Queued: <Unix time>
 *   Attempts: <n>
 *   Sender: <envelope sender>
 *   Recipient: <address>            (one line per envelope recipient)
 *   Last-Error: <one line>
 *   <empty line>
 *   <the message, CRLF line ends, exactly the bytes DATA will carry before dot-stuffing>
 *
 * No password is ever written: the flush reads it again from the keyring (or the password
 * file). Files are written whole to a temporary name, fsync()ed and renamed, so a crash leaves
 * either the old or the new entry, never half of one.
 *
 * Several flushes may run at once (the window, the systemd timer, a script). Each entry is
 * claimed with flock(LOCK_EX | LOCK_NB) on its file; after locking, the path must still name
 * the locked inode (an update renames a new file over it, a delivery unlinks it), otherwise
 * another flush got there first. The entry is removed, still locked, only after the server
 * answered 250 to the final dot. A crash between that 250 and the unlink is the one window in
 * which the next flush sends the message a second time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-queue"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay-config.h"
#include "relay-queue.h"
#include "relay-smtp-error.h"

#define QUEUE_MAGIC "SMTP-Relay-Queue: 1"
#define SUFFIX ".msg"
/* libsecret waits for an unlock prompt as long as it takes; a flush does not. */
#define PASSWORD_TIMEOUT_S 60

void
relay_queue_entry_free (RelayQueueEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->id);
  g_free (entry->sender);
  g_strfreev (entry->recipients);
  g_free (entry->last_error);
  g_free (entry);
}

/**
 * relay_queue_get_directory:
 *
 * Returns: (transfer full): `$XDG_STATE_HOME/smtp-relay/queue`
 */
char *
relay_queue_get_directory (void)
{
  return g_build_filename (g_get_user_state_dir (), "smtp-relay", "queue", NULL);
}

/**
 * relay_queue_get_failed_directory:
 *
 * Where a queued message goes when the server refuses it for good (5xx) during a flush: it is
 * kept for a person to read, never retried.
 *
 * Returns: (transfer full): `$XDG_STATE_HOME/smtp-relay/failed`
 */
char *
relay_queue_get_failed_directory (void)
{
  return g_build_filename (g_get_user_state_dir (), "smtp-relay", "failed", NULL);
}

static gboolean
ensure_directory (const char  *path,
                  GError     **error)
{
  struct stat st;

  if (g_mkdir_with_parents (path, 0700) != 0 || g_stat (path, &st) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("The queue directory %s cannot be created: %s"), path, g_strerror (saved));
      return FALSE;
    }
  if (st.st_uid != getuid ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   _("The queue directory %s belongs to another user."), path);
      return FALSE;
    }
  if ((st.st_mode & 0777) != 0700 && g_chmod (path, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("The queue directory %s cannot be made private: %s"), path,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static void
sync_directory (const char *path)
{
  int fd = g_open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

  /* The rename or unlink itself must reach the disk, not only the file's data. */
  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
}

static char *
one_line (const char *text)
{
  g_autofree char *spaced = g_strdup (text != NULL ? text : "");
  char *line;

  /* Line breaks become spaces first: the sanitiser would join the words. */
  for (char *p = spaced; *p != '\0'; p++)
    if (*p == '\r' || *p == '\n' || *p == '\t')
      *p = ' ';
  line = relay_smtp_sanitize_text (spaced, -1);
  for (char *p = line; *p != '\0'; p++)
    if (*p == '\r' || *p == '\n')
      *p = ' ';
  return line;
}

static GBytes *
serialize (const RelayQueueEntry *entry,
           GBytes                *message)
{
  GString *out = g_string_new (QUEUE_MAGIC "\n");
  g_autofree char *error_line = one_line (entry->last_error);

  g_string_append_printf (out, "Queued: %" G_GINT64_FORMAT "\n", entry->queued_at);
  g_string_append_printf (out, "Attempts: %u\n", entry->attempts);
  g_string_append_printf (out, "Sender: %s\n", entry->sender);
  for (guint i = 0; entry->recipients[i] != NULL; i++)
    g_string_append_printf (out, "Recipient: %s\n", entry->recipients[i]);
  g_string_append_printf (out, "Last-Error: %s\n\n", error_line);
  g_string_append_len (out, g_bytes_get_data (message, NULL), g_bytes_get_size (message));
  return g_string_free_to_bytes (out);
}

/* g_set_str() is GLib 2.76. */
static void
replace_str (char       **target,
             const char  *value)
{
  g_free (*target);
  *target = g_strdup (value);
}

/* Parses an entry file; @message (optional) receives the message bytes. */
static RelayQueueEntry *
parse (const char  *id,
       GBytes      *contents,
       GBytes     **message,
       GError     **error)
{
  g_autoptr(RelayQueueEntry) entry = g_new0 (RelayQueueEntry, 1);
  g_autoptr(GPtrArray) recipients = g_ptr_array_new_with_free_func (g_free);
  gsize length;
  const char *data = g_bytes_get_data (contents, &length);
  const char *end = data != NULL ? g_strstr_len (data, length, "\n\n") : NULL;
  g_autofree char *header = NULL;
  g_auto(GStrv) lines = NULL;

  if (end == NULL || !g_str_has_prefix (data, QUEUE_MAGIC "\n"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("The queue entry %s is damaged."), id);
      return NULL;
    }
  header = g_strndup (data, end - data);
  lines = g_strsplit (header, "\n", -1);
  entry->id = g_strdup (id);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      const char *line = lines[i];

      if (g_str_has_prefix (line, "Queued: "))
        entry->queued_at = g_ascii_strtoll (line + 8, NULL, 10);
      else if (g_str_has_prefix (line, "Attempts: "))
        entry->attempts = (guint) g_ascii_strtoull (line + 10, NULL, 10);
      else if (g_str_has_prefix (line, "Sender: "))
        replace_str (&entry->sender, line + 8);
      else if (g_str_has_prefix (line, "Recipient: "))
        g_ptr_array_add (recipients, g_strdup (line + 11));
      else if (g_str_has_prefix (line, "Last-Error: "))
        replace_str (&entry->last_error, line + 12);
    }
  if (entry->sender == NULL || recipients->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("The queue entry %s is damaged."), id);
      return NULL;
    }
  g_ptr_array_add (recipients, NULL);
  entry->recipients = (char **) g_ptr_array_free (g_steal_pointer (&recipients), FALSE);
  if (message != NULL)
    *message = g_bytes_new_from_bytes (contents, end + 2 - data, length - (end + 2 - data));
  return g_steal_pointer (&entry);
}

static gboolean
write_entry (const char             *directory,
             const RelayQueueEntry  *entry,
             GBytes                 *message,
             GError                **error)
{
  g_autofree char *name = g_strconcat (entry->id, SUFFIX, NULL);
  g_autofree char *path = g_build_filename (directory, name, NULL);
  g_autoptr(GBytes) contents = serialize (entry, message);

  /* A temporary file in the same directory, fsync()ed, then renamed over @path. */
  if (!g_file_set_contents_full (path, g_bytes_get_data (contents, NULL),
                                 g_bytes_get_size (contents),
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, error))
    return FALSE;
  sync_directory (directory);
  return TRUE;
}

static char *
new_id (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");

  return g_strdup_printf ("%s-%08x", stamp, g_random_int ());
}

/**
 * relay_queue_add:
 * @message: the message, with its envelope
 * @reason: why it could not be sent now, shown by `smtp-relay queue`
 * @id: (out) (optional): the new entry's id
 *
 * Writes @message to the queue atomically (a crash leaves no half entry). No password is
 * written.
 */
gboolean
relay_queue_add (RelaySmtpMessage  *message,
                 const char        *reason,
                 char             **id,
                 GError           **error)
{
  g_autofree char *directory = relay_queue_get_directory ();
  g_autoptr(RelayQueueEntry) entry = g_new0 (RelayQueueEntry, 1);

  if (!ensure_directory (directory, error))
    return FALSE;

  entry->queued_at = g_get_real_time () / G_USEC_PER_SEC;
  entry->sender = g_strdup (relay_smtp_message_get_sender (message));
  entry->recipients = g_strdupv ((char **) relay_smtp_message_get_recipients (message));
  entry->last_error = g_strdup (reason);
  for (guint tries = 0; tries < 16; tries++)
    {
      g_autofree char *name = NULL;
      g_autofree char *path = NULL;

      g_free (entry->id);
      entry->id = new_id ();
      name = g_strconcat (entry->id, SUFFIX, NULL);
      path = g_build_filename (directory, name, NULL);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        break;
    }
  if (!write_entry (directory, entry, relay_smtp_message_get_data (message), error))
    {
      g_prefix_error (error, _("The message could not be queued: "));
      return FALSE;
    }
  if (id != NULL)
    *id = g_strdup (entry->id);
  return TRUE;
}

static gint
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  const RelayQueueEntry *x = *(RelayQueueEntry **) a;
  const RelayQueueEntry *y = *(RelayQueueEntry **) b;

  if (x->queued_at != y->queued_at)
    return x->queued_at < y->queued_at ? -1 : 1;
  return strcmp (x->id, y->id);
}

/* g_ptr_array_sort() passes pointers to the elements. */
static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The entries' file names, oldest first. A queue that does not exist yet is empty; one that
 * cannot be read (another user's, say) is an error, not "empty", with messages in it. */
static GPtrArray *
list_names (const char  *directory,
            GError     **error)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) dir = g_dir_open (directory, 0, &local_error);
  const char *name;

  if (dir == NULL && !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    g_set_error (error, local_error->domain, local_error->code,
                 _("The queue cannot be read: %s"), local_error->message);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, SUFFIX) && name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  /* Ids begin with the time they were queued: oldest first. */
  g_ptr_array_sort (names, compare_names);
  return names;
}

static char *
id_of (const char *name)
{
  return g_strndup (name, strlen (name) - strlen (SUFFIX));
}

/* Opens a queue entry for reading without following a link and without waiting on a FIFO
 * that someone named *.msg: only a regular file is an entry. */
static int
open_entry (const char  *path,
            GError     **error)
{
  struct stat st;
  int fd = g_open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
  int saved = errno;

  if (fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   _("The queue entry %s cannot be opened: %s"), path, g_strerror (saved));
      return -1;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   _("The queue entry %s is not a regular file."), path);
      return -1;
    }
  return fd;
}

/**
 * relay_queue_list:
 * @directory: (nullable): the queue (%NULL) or relay_queue_get_failed_directory()
 *
 * Returns: (transfer full) (element-type RelayQueueEntry): the entries, oldest first
 */
GPtrArray *
relay_queue_list (const char  *directory,
                  GError     **error)
{
  g_autofree char *queue = directory == NULL ? relay_queue_get_directory () : NULL;
  g_autoptr(GError) list_error = NULL;
  g_autoptr(GPtrArray) names = list_names (directory != NULL ? directory : queue, &list_error);
  g_autoptr(GPtrArray) entries =
    g_ptr_array_new_with_free_func ((GDestroyNotify) relay_queue_entry_free);

  if (list_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&list_error));
      return NULL;
    }

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (directory != NULL ? directory : queue,
                                                names->pdata[i], NULL);
      g_autofree char *id = id_of (names->pdata[i]);
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GMappedFile) file = NULL;
      g_autoptr(GBytes) contents = NULL;
      RelayQueueEntry *entry = NULL;
      int fd = open_entry (path, &local_error);

      if (fd < 0 && g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        continue;   /* delivered by a flush since the listing */
      if (fd >= 0)
        {
          file = g_mapped_file_new_from_fd (fd, FALSE, &local_error);
          close (fd);
        }
      if (file != NULL)
        {
          contents = g_mapped_file_get_bytes (file);
          entry = parse (id, contents, NULL, &local_error);
        }
      if (entry == NULL)
        {
          entry = g_new0 (RelayQueueEntry, 1);
          entry->id = g_steal_pointer (&id);
          entry->sender = g_strdup ("");
          entry->recipients = g_new0 (char *, 1);
          entry->last_error = g_strdup (local_error->message);
        }
      g_ptr_array_add (entries, entry);
    }
  g_ptr_array_sort (entries, compare_entries);
  return g_steal_pointer (&entries);
}

/**
 * relay_queue_count:
 *
 * How many messages are waiting, for the window's "N messages waiting" row. Cheap: it reads
 * only the directory.
 */
guint
relay_queue_count (GError **error)
{
  g_autofree char *directory = relay_queue_get_directory ();
  g_autoptr(GPtrArray) names = list_names (directory, error);

  return names->len;
}

/* The Last-Error of the entry @name in @directory, or NULL if it cannot be read. */
static char *
read_last_error (const char *directory,
                 const char *name)
{
  g_autofree char *path = g_build_filename (directory, name, NULL);
  g_autofree char *id = id_of (name);
  g_autoptr(GMappedFile) file = NULL;
  g_autoptr(GBytes) contents = NULL;
  g_autoptr(RelayQueueEntry) entry = NULL;
  int fd = open_entry (path, NULL);

  if (fd < 0)
    return NULL;
  file = g_mapped_file_new_from_fd (fd, FALSE, NULL);
  close (fd);
  if (file == NULL)
    return NULL;
  contents = g_mapped_file_get_bytes (file);
  entry = parse (id, contents, NULL, NULL);
  return entry != NULL && entry->last_error != NULL && *entry->last_error != '\0'
         ? g_strdup (entry->last_error) : NULL;
}

static void
count_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  g_autofree char *directory = relay_queue_get_directory ();
  GError *error = NULL;
  g_autoptr(GPtrArray) names = list_names (directory, &error);

  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* Why the newest message waits, as `send` wrote it down: one small file, read only when the
   * queue changed. */
  if (names->len > 0)
    g_task_set_task_data (task, read_last_error (directory, names->pdata[names->len - 1]),
                          g_free);
  g_task_return_int (task, names->len);
}

/**
 * relay_queue_count_async:
 *
 * relay_queue_count() in a worker thread, for the window: listing a directory can stall on
 * a slow or network home folder.
 */
void
relay_queue_count_async (GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, relay_queue_count_async);
  g_task_run_in_thread (task, count_thread);
}

/**
 * relay_queue_count_get_newest_error:
 * @result: the count's result, after relay_queue_count_finish()
 *
 * Returns: (nullable): why the newest waiting message is in the queue (its Last-Error: what
 *   `send` could not do, or the last flush's failure), or %NULL
 */
const char *
relay_queue_count_get_newest_error (GAsyncResult *result)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_get_task_data (G_TASK (result));
}

/**
 * relay_queue_count_finish:
 *
 * Returns: how many messages are waiting; 0 with @error if cancelled
 */
guint
relay_queue_count_finish (GAsyncResult  *result,
                          GError       **error)
{
  gssize count;

  g_return_val_if_fail (g_task_is_valid (result, NULL), 0);
  count = g_task_propagate_int (G_TASK (result), error);
  return count > 0 ? (guint) count : 0;
}

/**
 * relay_queue_is_temporary_failure:
 * @reply_code: the server's last reply code, 0 if none
 *
 * Whether a send that failed with @error is worth trying again later: the relay could not be
 * reached or did not answer in time (DNS unavailable, refused, unreachable, timeout, closed), or
 * it answered 4xx (RFC 5321 §4.2.1). A 5xx, a name that does not exist, a login or TLS failure
 * is not: waiting would not change it.
 */
gboolean
relay_queue_is_temporary_failure (const GError *error,
                                  guint         reply_code)
{
  if (error == NULL || error->domain != RELAY_SMTP_ERROR)
    return FALSE;
  switch ((RelaySmtpError) error->code)
    {
    case RELAY_SMTP_ERROR_DNS_FAILURE:
    case RELAY_SMTP_ERROR_CONNECT:
    case RELAY_SMTP_ERROR_REFUSED:
    case RELAY_SMTP_ERROR_UNREACHABLE:
    case RELAY_SMTP_ERROR_BLOCKED:
    case RELAY_SMTP_ERROR_TIMEOUT:
    case RELAY_SMTP_ERROR_CLOSED:
      return TRUE;
    case RELAY_SMTP_ERROR_INVALID_INPUT:
      return FALSE;
    default:
      return reply_code >= 400 && reply_code < 500;
    }
}

/* Failures that belong to one message, not to the relay or its settings: another message may
 * still go through, and this one never will. */
static gboolean
is_message_failure (const GError *error)
{
  return error->domain == RELAY_SMTP_ERROR
         && (error->code == RELAY_SMTP_ERROR_SENDER || error->code == RELAY_SMTP_ERROR_RECIPIENT
             || error->code == RELAY_SMTP_ERROR_DATA
             || error->code == RELAY_SMTP_ERROR_INVALID_INPUT);
}

/* Failures of reaching the relay at all: the next entries would fail the same way. A relay
 * that accepts the connection but never says a word (@reply_code 0: not even its greeting)
 * counts too, or it would hold every entry for the whole reply deadline. */
static gboolean
is_connection_failure (const GError *error,
                       guint         reply_code)
{
  return error->domain == RELAY_SMTP_ERROR
         && (error->code == RELAY_SMTP_ERROR_DNS_FAILURE || error->code == RELAY_SMTP_ERROR_RESOLVE
             || error->code == RELAY_SMTP_ERROR_CONNECT || error->code == RELAY_SMTP_ERROR_REFUSED
             || error->code == RELAY_SMTP_ERROR_UNREACHABLE
             || error->code == RELAY_SMTP_ERROR_BLOCKED
             || (reply_code == 0 && (error->code == RELAY_SMTP_ERROR_TIMEOUT
                                     || error->code == RELAY_SMTP_ERROR_CLOSED)));
}

/* --- flush ------------------------------------------------------------------------------- */

typedef struct _Flush Flush;
typedef void (*FileStep) (Flush *flush);

struct _Flush
{
  RelayConfig     *config;
  /* The file side: only the current file step touches these (see run_file_step()). */
  FileStep         step;
  char            *directory;
  GPtrArray       *names;
  GError          *list_error;   /* the queue cannot be read or changed: nothing is sent */
  guint            index;
  int              fd;           /* the claimed entry, locked; -1 */
  char            *path;
  RelayQueueEntry *entry;
  GBytes          *message;
  RelaySmtpMessage *next;        /* step_claim_next()'s result: the entry to send, or none */
  char            *refusal;      /* why the server refused the entry for good */
  /* The caller's side. */
  RelaySmtpClient *client;       /* one for the whole flush: its session carries on */
  RelaySmtpMessage *sending;     /* the entry being sent */
  gboolean         resent;       /* …again, on a new connection (a stale session) */
  gboolean         stop;         /* after this entry's step: the relay is at fault */
  GError          *stop_error;   /* …and the flush fails with this */
  char            *last_failure; /* why the last entry tried was left in the queue */
  char            *last_refusal; /* why the server refused the last entry it refused for good */
  GCancellable    *password_deadline;
  GCancellable    *sends;        /* every send's: the caller's cancellation, or no password */
  GCancellable    *caller;
  GCancellable    *stop_after;   /* once cancelled, no further entry is begun */
  gulong           caller_handler;
  gulong           sends_handler;
  guint            password_timer;
  gboolean         password_pending;  /* the keyring is being read while the first send runs */
  GError          *password_error;    /* the keyring gave no password: the flush stops */
  guint            sent;
  guint            waiting;
  guint            failed;
  guint            damaged;      /* of failed: entries that could not be read, set aside */
};

static void
release_entry (Flush *flush)
{
  if (flush->fd >= 0)
    close (flush->fd);   /* drops the lock */
  flush->fd = -1;
  g_clear_pointer (&flush->path, g_free);
  g_clear_pointer (&flush->entry, relay_queue_entry_free);
  g_clear_pointer (&flush->message, g_bytes_unref);
  g_clear_pointer (&flush->refusal, g_free);
}

static void
flush_free (gpointer data)
{
  Flush *flush = data;

  release_entry (flush);
  g_clear_pointer (&flush->next, relay_smtp_message_unref);
  g_clear_pointer (&flush->sending, relay_smtp_message_unref);
  g_clear_object (&flush->client);
  g_clear_error (&flush->stop_error);
  g_clear_error (&flush->list_error);
  g_free (flush->last_failure);
  g_free (flush->last_refusal);
  g_clear_handle_id (&flush->password_timer, g_source_remove);
  if (flush->caller_handler != 0)
    g_cancellable_disconnect (flush->caller, flush->caller_handler);
  if (flush->sends_handler != 0)
    g_cancellable_disconnect (flush->caller, flush->sends_handler);
  g_clear_object (&flush->caller);
  g_clear_object (&flush->stop_after);
  g_clear_object (&flush->password_deadline);
  g_clear_object (&flush->sends);
  g_clear_error (&flush->password_error);
  g_clear_pointer (&flush->config, relay_config_free);
  g_free (flush->directory);
  g_clear_pointer (&flush->names, g_ptr_array_unref);
  g_free (flush);
}

typedef enum
{
  CLAIM_OK,
  CLAIM_BUSY,    /* another flush holds it */
  CLAIM_GONE,    /* delivered or moved since the listing */
  CLAIM_DAMAGED, /* not an entry we can read: a link, a FIFO, unreadable */
  CLAIM_FAILED,  /* could not be opened now (EIO, EMFILE, ENOMEM…): left for the next flush */
} Claim;

/* What open_entry() said about the file itself rather than about the moment. */
static gboolean
is_not_an_entry (const GError *error)
{
  return error->domain == G_FILE_ERROR
         && (error->code == G_FILE_ERROR_LOOP || error->code == G_FILE_ERROR_INVAL
             || error->code == G_FILE_ERROR_ACCES || error->code == G_FILE_ERROR_PERM
             || error->code == G_FILE_ERROR_NXIO);
}

static Claim
claim (const char  *path,
       int         *fd_out,
       GError     **error)
{
  struct stat locked, named;
  g_autoptr(GError) open_error = NULL;
  int fd = open_entry (path, &open_error);

  if (fd < 0)
    {
      if (g_error_matches (open_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return CLAIM_GONE;
      if (!is_not_an_entry (open_error))
        {
          g_message ("%s", open_error->message);
          return CLAIM_FAILED;
        }
      g_propagate_error (error, g_steal_pointer (&open_error));
      return CLAIM_DAMAGED;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      close (fd);
      return CLAIM_BUSY;
    }
  /* Locked, but is it still the entry? An update renamed a new file over the path, or a
   * delivery unlinked it, while this process waited between open() and flock(). */
  if (fstat (fd, &locked) != 0 || g_stat (path, &named) != 0
      || locked.st_ino != named.st_ino || locked.st_dev != named.st_dev)
    {
      close (fd);
      return CLAIM_GONE;
    }
  *fd_out = fd;
  return CLAIM_OK;
}

/**
 * relay_queue_hold:
 * @id: an entry's id, as relay_queue_add() gave it
 *
 * Holds the entry as a flush holds the one it sends: every flush (this process's too) leaves
 * it where it is until the file descriptor returned is closed.
 *
 * Returns: the descriptor to close(), or -1 when the entry is gone or held already
 */
int
relay_queue_hold (const char *id)
{
  g_autofree char *directory = relay_queue_get_directory ();
  g_autofree char *name = g_strconcat (id, SUFFIX, NULL);
  g_autofree char *path = g_build_filename (directory, name, NULL);
  int fd = -1;

  return claim (path, &fd, NULL) == CLAIM_OK ? fd : -1;
}

/* --- file steps ----------------------------------------------------------------------------
 * Listing, claiming, reading, rewriting and unlinking entries, and the fsync()s that make the
 * last two durable, can each stall for long on a slow or network home folder, and the flush
 * runs on the caller's main context: the window's UI thread. So each runs in GIO's worker
 * pool, one at a time, while the caller's context waits for nothing. The sends stay on the
 * caller's context, where the SMTP client's callbacks and cancellation handlers belong. A step
 * touches only the file side of Flush; the caller's side (client, keyring) never waits for it. */

static void
file_step_thread (GTask        *step,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  Flush *flush = task_data;

  flush->step (flush);
  g_task_return_boolean (step, TRUE);
}

/* Runs @func in a worker, then @done on the caller's context with @task as user data. A step
 * is never cancelled halfway: an entry is always left whole. */
static void
run_file_step (GTask               *task,
               FileStep             func,
               GAsyncReadyCallback  done)
{
  Flush *flush = g_task_get_task_data (task);
  g_autoptr(GTask) step = g_task_new (NULL, NULL, done, g_object_ref (task));

  flush->step = func;
  g_task_set_task_data (step, flush, NULL);
  g_task_run_in_thread (step, file_step_thread);
}

/* A write killed between creating its temporary file ("<id>.msg.XXXXXX") and the rename
 * leaves the file behind, never listed and never removed. The caller that was killed knew it
 * had not queued: an hour later it is nobody's. */
#define STALE_TEMPORARY_S (60 * 60)

static void
remove_stale_temporaries (const char *directory)
{
  g_autoptr(GDir) dir = g_dir_open (directory, 0, NULL);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      const char *suffix = strstr (name, SUFFIX ".");
      g_autofree char *path = NULL;
      struct stat st;

      if (suffix == NULL || strlen (suffix) != strlen (SUFFIX) + 7)
        continue;
      path = g_build_filename (directory, name, NULL);
      if (g_lstat (path, &st) == 0 && S_ISREG (st.st_mode)
          && now - st.st_mtime > STALE_TEMPORARY_S)
        g_unlink (path);
    }
}

static void
step_list (Flush *flush)
{
  remove_stale_temporaries (flush->directory);
  flush->names = list_names (flush->directory, &flush->list_error);
  /* A delivered entry must be removed, or every later flush sends it again: from a queue that
   * cannot be changed (a file system remounted read-only, another user's directory), nothing
   * is sent. */
  if (flush->names->len > 0 && flush->list_error == NULL
      && g_access (flush->directory, W_OK) != 0)
    {
      int saved = errno;

      g_set_error (&flush->list_error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   _("The queue %s cannot be changed (%s), so a message sent could not be "
                     "removed from it; nothing was sent."),
                   flush->directory, g_strerror (saved));
    }
}

/* Claims and reads the next entry that can be sent; sets flush->next, or leaves it NULL when
 * none is left. A damaged entry is set aside, so that it does not block every flush. */
static void
step_claim_next (Flush *flush)
{
  while (flush->index < flush->names->len)
    {
      const char *name = flush->names->pdata[flush->index++];
      g_autofree char *id = id_of (name);
      g_autoptr(GError) error = NULL;
      g_autoptr(GMappedFile) file = NULL;
      g_autoptr(GBytes) contents = NULL;

      flush->path = g_build_filename (flush->directory, name, NULL);
      switch (claim (flush->path, &flush->fd, &error))
        {
        case CLAIM_BUSY:
        case CLAIM_FAILED:
          flush->waiting++;
          G_GNUC_FALLTHROUGH;
        case CLAIM_GONE:
          release_entry (flush);
          continue;
        case CLAIM_DAMAGED:
        case CLAIM_OK:
        default:
          break;
        }

      if (flush->fd >= 0 && !(file = g_mapped_file_new_from_fd (flush->fd, FALSE, &error)))
        {
          /* Opened but not read (EIO, ENOMEM): the moment's fault, not the entry's. */
          g_message ("%s", error->message);
          flush->waiting++;
          release_entry (flush);
          continue;
        }
      if (file != NULL)
        {
          contents = g_mapped_file_get_bytes (file);
          flush->entry = parse (id, contents, &flush->message, &error);
        }
      if (flush->entry != NULL)
        flush->next = relay_smtp_message_new_raw (flush->entry->sender,
                                                  (const char * const *) flush->entry->recipients,
                                                  flush->message, &error);
      if (flush->next == NULL)
        {
          g_autofree char *failed = relay_queue_get_failed_directory ();
          g_autofree char *target = g_build_filename (failed, name, NULL);
          g_autoptr(GError) move_error = NULL;

          /* Said on stderr by the command line and in the journal: which file, and why. */
          g_message (_("Set aside, not sent: %s"), error->message);
          if (ensure_directory (failed, &move_error) && g_rename (flush->path, target) == 0)
            {
              sync_directory (flush->directory);
              flush->failed++;
              flush->damaged++;
            }
          else
            flush->waiting++;
          release_entry (flush);
          continue;
        }
      return;
    }
}

/* 250 to the final dot: only now may the entry go. */
static void
step_delivered (Flush *flush)
{
  if (g_unlink (flush->path) != 0)
    {
      int saved = errno;

      /* Sent but still queued: the next flush would send it again. Send nothing more. */
      flush->stop = TRUE;
      g_clear_error (&flush->stop_error);
      g_set_error (&flush->stop_error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   _("A message was sent but could not be removed from the queue (%s): %s; "
                     "the next attempt would send it again, so nothing more was sent."),
                   g_strerror (saved), flush->path);
    }
  sync_directory (flush->directory);
  flush->sent++;
  release_entry (flush);
}

/* Not sent this time: the entry stays, with its attempts and last error brought up to date. */
static void
step_keep (Flush *flush)
{
  g_autoptr(GError) error = NULL;

  if (!write_entry (flush->directory, flush->entry, flush->message, &error))
    g_warning ("%s", error->message);
  flush->waiting++;
  release_entry (flush);
}

/* Refused for good (5xx for this message): kept for a person, never retried. */
static void
step_refused (Flush *flush)
{
  g_autofree char *failed = relay_queue_get_failed_directory ();
  g_autoptr(GError) error = NULL;

  if (!ensure_directory (failed, &error)
      || !write_entry (failed, flush->entry, flush->message, &error))
    g_warning ("%s", error->message);
  else
    {
      g_unlink (flush->path);
      sync_directory (flush->directory);
    }
  g_debug ("Queued message %s was refused and moved to %s: %s", flush->entry->id,
           failed, flush->refusal);
  flush->failed++;
  release_entry (flush);
}

/* --- sends ---------------------------------------------------------------------------------- */

static void on_claimed_cb (GObject      *object,
                           GAsyncResult *result,
                           gpointer      user_data);
static void on_closed_cb  (GObject      *object,
                           GAsyncResult *result,
                           gpointer      user_data);

static void
on_entry_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Flush *flush = g_task_get_task_data (task);

  if (flush->stop)
    {
      /* The relay or its settings are at fault: the other entries would fail alike. */
      flush->waiting += flush->names->len - flush->index;
      flush->index = flush->names->len;
      /* The session kept open for the entries left still ends with QUIT. */
      if (flush->client != NULL)
        {
          relay_smtp_client_close_async (flush->client, flush->sends, on_closed_cb,
                                         g_steal_pointer (&task));
          return;
        }
      if (flush->stop_error != NULL)
        g_task_return_error (task, g_steal_pointer (&flush->stop_error));
      else
        g_task_return_boolean (task, TRUE);
      return;
    }
  run_file_step (task, step_claim_next, on_claimed_cb);
}

static void
on_entry_sent_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Flush *flush = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  guint code;

  reply = relay_smtp_client_send_finish (flush->client, result, &error);
  code = relay_smtp_client_get_last_reply_code (flush->client);

  if (reply == NULL && relay_smtp_client_get_stale_session (flush->client) && !flush->resent
      && !g_cancellable_is_cancelled (flush->sends))
    {
      /* The server ended the session kept open from the last entry before taking any of this
       * one (an idle timeout, a limit of messages per connection): once more, connecting. */
      g_debug ("%s", error->message);
      flush->resent = TRUE;
      relay_smtp_client_send_async (flush->client, flush->sending, flush->sends,
                                    on_entry_sent_cb, g_object_ref (task));
      return;
    }
  flush->resent = FALSE;
  g_clear_pointer (&flush->sending, relay_smtp_message_unref);

  if (reply == NULL && flush->password_error != NULL)
    {
      /* Stopped before AUTH because the keyring gave no password: this entry and the rest
       * stay as they are. */
      release_entry (flush);
      flush->waiting += flush->names->len - flush->index + 1;
      flush->index = flush->names->len;
      g_task_return_error (task, g_steal_pointer (&flush->password_error));
      return;
    }

  if (reply != NULL)
    {
      run_file_step (task, step_delivered, on_entry_done_cb);
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      release_entry (flush);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  flush->entry->attempts++;
  replace_str (&flush->entry->last_error, error->message);

  if (relay_queue_is_temporary_failure (error, code) || !is_message_failure (error))
    {
      replace_str (&flush->last_failure, error->message);
      flush->stop = !relay_queue_is_temporary_failure (error, code)
                    || is_connection_failure (error, code);
      if (!relay_queue_is_temporary_failure (error, code))
        flush->stop_error = g_steal_pointer (&error);
      run_file_step (task, step_keep, on_entry_done_cb);
      return;
    }

  flush->refusal = g_strdup (error->message);
  replace_str (&flush->last_refusal, error->message);
  run_file_step (task, step_refused, on_entry_done_cb);
}

static void
on_closed_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Flush *flush = g_task_get_task_data (task);

  relay_smtp_client_close_finish (RELAY_SMTP_CLIENT (object), result, NULL);
  if (flush->stop_error != NULL)
    g_task_return_error (task, g_steal_pointer (&flush->stop_error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_claimed_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Flush *flush = g_task_get_task_data (task);

  if (flush->next != NULL && flush->stop_after != NULL
      && g_cancellable_is_cancelled (flush->stop_after))
    {
      /* The caller is stopping (a signal): this entry and the rest stay as they are, and the
       * session ends as after the last one. */
      g_clear_pointer (&flush->next, relay_smtp_message_unref);
      release_entry (flush);
      flush->waiting += flush->names->len - flush->index + 1;
      flush->index = flush->names->len;
    }
  if (flush->next == NULL)
    {
      /* The entries listed after the last one sent were gone or held by another flush. */
      if (flush->client != NULL)
        relay_smtp_client_close_async (flush->client, flush->sends, on_closed_cb,
                                       g_steal_pointer (&task));
      else
        g_task_return_boolean (task, TRUE);
      return;
    }
  /* One session for the whole flush: each entry after the first costs one or two round trips
   * instead of a connection, a TLS handshake and a login. */
  if (flush->client == NULL)
    {
      flush->client = relay_config_create_client (flush->config);
      if (flush->password_pending)
        relay_smtp_client_set_password_pending (flush->client, TRUE);
    }
  /* The last entry listed goes with QUIT, in the same flight. */
  relay_smtp_client_set_keep_open (flush->client, flush->index < flush->names->len);
  flush->sending = g_steal_pointer (&flush->next);
  /* If the caller cancelled or the keyring failed meanwhile, flush->sends is cancelled and
   * the send comes back at once; on_entry_sent_cb() leaves the entry as it is. */
  relay_smtp_client_send_async (flush->client, flush->sending, flush->sends,
                                on_entry_sent_cb, g_object_ref (task));
}

static gboolean
on_password_deadline_cb (gpointer user_data)
{
  Flush *flush = user_data;

  flush->password_timer = 0;
  g_cancellable_cancel (flush->password_deadline);
  return G_SOURCE_REMOVE;
}

static void
on_password_loaded_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Flush *flush = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  g_clear_handle_id (&flush->password_timer, g_source_remove);
  flush->password_pending = FALSE;
  if (!relay_config_load_password_finish (flush->config, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
          && !g_cancellable_is_cancelled (g_task_get_cancellable (task)))
        {
          g_clear_error (&error);
          g_set_error (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       _("The keyring did not give the password within %u seconds; is it locked?"),
                       PASSWORD_TIMEOUT_S);
        }
      /* The send waiting at AUTH, or the next one, comes back cancelled and ends the flush
       * with this error (on_entry_sent_cb()). */
      flush->password_error = g_steal_pointer (&error);
      g_cancellable_cancel (flush->sends);
      return;
    }
  if (flush->client != NULL)
    relay_smtp_client_set_password (flush->client, flush->config->password);
}

static void
on_caller_cancelled_cb (GCancellable *cancellable,
                        GCancellable *deadline)
{
  g_cancellable_cancel (deadline);
}

static void
on_listed_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Flush *flush = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(GError) error = NULL;

  if (flush->names->len == 0 && flush->list_error == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;
  if (flush->list_error != NULL)
    {
      flush->waiting = flush->names->len;
      g_task_return_error (task, g_steal_pointer (&flush->list_error));
      return;
    }
  if (!relay_config_check (flush->config, &error))
    {
      flush->waiting = flush->names->len;
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  flush->sends = g_cancellable_new ();
  if (cancellable != NULL)
    {
      flush->caller = g_object_ref (cancellable);
      flush->sends_handler =
        g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled_cb),
                               g_object_ref (flush->sends), g_object_unref);
    }
  if (flush->config->requires_auth && flush->client == NULL)
    {
      /* As `send` does: the keyring is read while the first entry's send resolves, connects,
       * secures the connection and reads the capabilities; it waits for the password at
       * AUTH. */
      flush->password_deadline = g_cancellable_new ();
      if (cancellable != NULL)
        flush->caller_handler =
          g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled_cb),
                                 g_object_ref (flush->password_deadline), g_object_unref);
      flush->password_timer = g_timeout_add_seconds (PASSWORD_TIMEOUT_S,
                                                     on_password_deadline_cb, flush);
      flush->password_pending = TRUE;
      relay_config_load_password_async (flush->config, flush->password_deadline,
                                        on_password_loaded_cb, g_object_ref (task));
    }
  run_file_step (task, step_claim_next, on_claimed_cb);
}

/**
 * relay_queue_flush_async:
 * @settings: the application's settings: the relay and the password come from them
 *
 * Tries to deliver every queued message once, oldest first. An empty queue finishes at once
 * without touching the keyring, so the window can call this on every start. Entries that
 * another flush is delivering are left to it. A message that the server refuses for good is
 * moved to relay_queue_get_failed_directory(); after a failure that is the relay's (down,
 * login refused), the remaining entries are left for the next flush.
 */
void
relay_queue_flush_async (GSettings           *settings,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  relay_queue_flush_on_client_async (settings, NULL, NULL, cancellable, callback, user_data);
}

/**
 * relay_queue_flush_on_client_async:
 * @client: (nullable): a client whose last send left its session open
 *   (relay_smtp_client_set_keep_open()), with its password: the entries go on that session,
 *   and the keyring is not read again; %NULL for relay_queue_flush_async()
 * @stop: (nullable): once cancelled, the entry being sent still gets its reply (unlike with
 *   @cancellable), but no further entry is begun
 *
 * After a message that just went through, what waited goes on the same session (`send`). The
 * caller ends the session with relay_smtp_client_close_async() afterwards, whatever the flush
 * did.
 */
void
relay_queue_flush_on_client_async (GSettings           *settings,
                                   RelaySmtpClient     *client,
                                   GCancellable        *stop,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  Flush *flush = g_new0 (Flush, 1);

  g_task_set_source_tag (task, relay_queue_flush_async);
  flush->fd = -1;
  flush->directory = relay_queue_get_directory ();
  flush->config = relay_config_new_from_settings (settings);
  flush->client = client != NULL ? g_object_ref (client) : NULL;
  flush->stop_after = stop != NULL ? g_object_ref (stop) : NULL;
  g_task_set_task_data (task, flush, flush_free);
  run_file_step (task, step_list, on_listed_cb);
}

/**
 * relay_queue_flush_finish:
 * @n_sent: (out) (optional): messages delivered
 * @n_waiting: (out) (optional): messages still queued (left for later or for another flush)
 * @n_failed: (out) (optional): messages refused for good and moved out of the queue
 *
 * The counts are set even when the flush fails (for example when the keyring is locked).
 *
 * Returns: %FALSE with @error when the flush stopped: no password, settings at fault,
 *   cancelled
 */
/* The state behind a flush's result, for the getters below. */
static Flush *
flush_of (GAsyncResult *result)
{
  g_assert (g_task_is_valid (result, NULL));
  return g_task_get_task_data (G_TASK (result));
}

/**
 * relay_queue_flush_get_last_failure:
 * @result: the flush's result, after relay_queue_flush_finish()
 *
 * Returns: (nullable): why the last message the flush tried stayed in the queue (the relay's
 *   error, as in the entry's Last-Error), or %NULL when none did
 */
const char *
relay_queue_flush_get_last_failure (GAsyncResult *result)
{
  return flush_of (result)->last_failure;
}

/**
 * relay_queue_flush_get_last_refusal:
 * @result: the flush's result, after relay_queue_flush_finish()
 *
 * Returns: (nullable): why the server refused, for good, the last message it refused (moved
 *   to relay_queue_get_failed_directory()), or %NULL when it refused none
 */
const char *
relay_queue_flush_get_last_refusal (GAsyncResult *result)
{
  return flush_of (result)->last_refusal;
}

/**
 * relay_queue_flush_get_damaged:
 * @result: the flush's result, after relay_queue_flush_finish()
 *
 * Returns: how many of the failed entries were not refused by the server but could not be
 *   read at all (damaged, or not files), and were set aside in the failed directory
 */
guint
relay_queue_flush_get_damaged (GAsyncResult *result)
{
  return flush_of (result)->damaged;
}

gboolean
relay_queue_flush_finish (GAsyncResult  *result,
                          guint         *n_sent,
                          guint         *n_waiting,
                          guint         *n_failed,
                          GError       **error)
{
  Flush *flush;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  flush = g_task_get_task_data (G_TASK (result));
  if (n_sent != NULL)
    *n_sent = flush->sent;
  if (n_waiting != NULL)
    *n_waiting = flush->waiting;
  if (n_failed != NULL)
    *n_failed = flush->failed;
  return g_task_propagate_boolean (G_TASK (result), error);
}
