/* relay-secret-store.c
 *
 * One keyring item per (server, user), so that an administrator can script it:
 *   secret-tool store --label='SMTP Relay' xdg:schema io.github.smtprelay.SmtpRelay \
 *     server HOST user NAME
 * The window must never wait for the keyring, which may be prompting the user to unlock it, nor
 * for libsecret's key derivation, which its async calls do on the calling thread (20–40 ms): so
 * every call runs in a worker thread, one at a time, and only the _async/_finish pairs below
 * are public.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-secret"

#include <glib/gi18n-lib.h>

#include "relay-secret-store.h"

const SecretSchema *
relay_secret_store_get_schema (void)
{
  static const SecretSchema schema = {
    "io.github.smtprelay.SmtpRelay", SECRET_SCHEMA_NONE,
    {
      { "server", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    }
  };
  return &schema;
}

/* The keyring cannot hold NULL attribute values; an unset server or user is the empty string. */
#define NN(s) ((s) != NULL ? (s) : "")

/* Every keyring call runs in a worker thread, one at a time: libsecret's asynchronous calls
 * still do their work on the caller's main context (its file backend derives the key there,
 * 20-40 ms of CPU; the Secret Service one sets up an encrypted session), which would stall the
 * window's frames. The mutex keeps libsecret itself from being used by two threads at once. */
static GMutex secret_lock;

typedef enum { OP_LOOKUP, OP_STORE, OP_CLEAR } OpKind;

typedef struct
{
  OpKind  kind;
  char   *server;
  char   *user;
  char   *password;
  char   *label;
} SecretOp;

static void
secret_op_free (SecretOp *op)
{
  g_free (op->server);
  g_free (op->user);
  if (op->password != NULL)
    {
      explicit_bzero (op->password, strlen (op->password));
      g_free (op->password);
    }
  g_free (op->label);
  g_free (op);
}

/* Without a session bus, GDBus says "Cannot autolaunch D-Bus without X11 $DISPLAY" or "Could
 * not connect: No such file or directory" (G_IO_ERROR_NOT_FOUND, which would read as "no
 * password stored"): after a failure, look whether that is why. (The file backend of the tests
 * needs no bus, so this is not asked first.) */
static gboolean
session_bus_reachable (GCancellable *cancellable)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, cancellable, NULL);

  return bus != NULL;
}

static void
secret_op_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  SecretOp *op = task_data;
  GError *error = NULL;
  char *password = NULL;

  g_mutex_lock (&secret_lock);
  switch (op->kind)
    {
    case OP_LOOKUP:
      password = secret_password_lookup_sync (relay_secret_store_get_schema (), cancellable, &error,
                                              "server", op->server, "user", op->user, NULL);
      if (password == NULL && error == NULL)
        {
          /* No error either when the item is there but its collection stayed locked (the
           * unlock prompt was dismissed or could not be shown): "nothing stored" would send
           * without the password, or tell the user to store it again. A search without
           * unlocking finds locked items too. */
          GList *items = secret_password_search_sync (relay_secret_store_get_schema (),
                                                      SECRET_SEARCH_NONE, cancellable, NULL,
                                                      "server", op->server, "user", op->user,
                                                      NULL);

          if (items != NULL)
            error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                                         _("the keyring is locked and was not unlocked"));
          g_list_free_full (items, g_object_unref);
        }
      break;
    case OP_STORE:
      secret_password_store_sync (relay_secret_store_get_schema (), SECRET_COLLECTION_DEFAULT,
                                  op->label, op->password, cancellable, &error,
                                  "server", op->server, "user", op->user, NULL);
      break;
    case OP_CLEAR:
    default:
      /* FALSE without error only means there was nothing to remove. */
      secret_password_clear_sync (relay_secret_store_get_schema (), cancellable, &error,
                                  "server", op->server, "user", op->user, NULL);
      break;
    }
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN))
    {
      g_debug ("No Secret Service: %s", error->message);
      g_clear_error (&error);
      error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                   _("no keyring service (such as GNOME Keyring) runs in this session"));
    }
  else if (error != NULL && error->domain == G_IO_ERROR && !session_bus_reachable (cancellable))
    {
      g_debug ("No session bus: %s", error->message);
      g_clear_error (&error);
      error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                   _("there is no desktop session (D-Bus session bus) to reach a keyring through"));
    }
  g_mutex_unlock (&secret_lock);

  if (error != NULL)
    g_task_return_error (task, error);
  else if (op->kind == OP_LOOKUP)
    g_task_return_pointer (task, password, (GDestroyNotify) secret_password_free);
  else
    g_task_return_boolean (task, TRUE);
}

static void
run_secret_op (OpKind               kind,
               const char          *server,
               const char          *user,
               const char          *password,
               const char          *label,
               gpointer             source_tag,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  SecretOp *op = g_new0 (SecretOp, 1);

  op->kind = kind;
  op->server = g_strdup (NN (server));
  op->user = g_strdup (NN (user));
  op->password = g_strdup (password);
  op->label = g_strdup (label);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, op, (GDestroyNotify) secret_op_free);
  g_task_run_in_thread (task, secret_op_thread);
}

/**
 * relay_secret_store_store_async:
 *
 * Stores @password for @server and @user in the default collection, replacing the previous one.
 */
void
relay_secret_store_store_async (const char          *server,
                                const char          *user,
                                const char          *password,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autofree char *label = NULL;

  g_return_if_fail (password != NULL);

  /* Translators: the label of the password in the keyring (Seahorse "Passwords and Keys") */
  label = g_strdup_printf (_("SMTP Relay password for %s@%s"), NN (user), NN (server));
  run_secret_op (OP_STORE, server, user, password, label, relay_secret_store_store_async,
                 cancellable, callback, user_data);
}

gboolean
relay_secret_store_store_finish (GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relay_secret_store_store_async,
                        FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * relay_secret_store_lookup_async:
 *
 * Looks up the password for @server and @user. Finishes with %NULL and no error when there is
 * none.
 */
void
relay_secret_store_lookup_async (const char          *server,
                                 const char          *user,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  run_secret_op (OP_LOOKUP, server, user, NULL, NULL, relay_secret_store_lookup_async,
                 cancellable, callback, user_data);
}

/**
 * relay_secret_store_lookup_finish:
 *
 * Returns: (transfer full) (nullable): the password, to be freed with secret_password_free()
 *   (which wipes it), or %NULL when none is stored or on error
 */
char *
relay_secret_store_lookup_finish (GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relay_secret_store_lookup_async,
                        NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
relay_secret_store_clear_async (const char          *server,
                                const char          *user,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  run_secret_op (OP_CLEAR, server, user, NULL, NULL, relay_secret_store_clear_async,
                 cancellable, callback, user_data);
}

gboolean
relay_secret_store_clear_finish (GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == relay_secret_store_clear_async,
                        FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
