/* relay-secret-store.c
 *
 * One keyring item per (server, user), so that an administrator can script it:
 *   secret-tool store --label='SMTP Relay' xdg:schema io.github.smtprelay.SmtpRelay \
 *     server HOST user NAME
 * Only the async libsecret calls are used: the window must never wait for the keyring, which may
 * be prompting the user to unlock it.
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

static void
on_store_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!secret_password_store_finish (result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
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
  g_autoptr(GTask) task = NULL;
  g_autofree char *label = NULL;

  g_return_if_fail (password != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, relay_secret_store_store_async);

  /* Translators: the label of the password in the keyring (Seahorse "Passwords and Keys") */
  label = g_strdup_printf (_("SMTP Relay password for %s@%s"), NN (user), NN (server));
  secret_password_store (relay_secret_store_get_schema (), SECRET_COLLECTION_DEFAULT, label,
                         password, cancellable, on_store_done_cb, g_steal_pointer (&task),
                         "server", NN (server),
                         "user", NN (user),
                         NULL);
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

static void
on_lookup_done_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  char *password;

  password = secret_password_lookup_finish (result, &error);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, password, (GDestroyNotify) secret_password_free);
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
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, relay_secret_store_lookup_async);
  secret_password_lookup (relay_secret_store_get_schema (), cancellable, on_lookup_done_cb, task,
                          "server", NN (server),
                          "user", NN (user),
                          NULL);
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

static void
on_clear_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  /* FALSE without error only means there was nothing to remove. */
  secret_password_clear_finish (result, &error);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
relay_secret_store_clear_async (const char          *server,
                                const char          *user,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, relay_secret_store_clear_async);
  secret_password_clear (relay_secret_store_get_schema (), cancellable, on_clear_done_cb, task,
                         "server", NN (server),
                         "user", NN (user),
                         NULL);
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
