/* relay-config.c
 *
 * The window, `smtp-relay test` and `smtp-relay send` all send from a RelayConfig, so they go
 * through the same code path with the same values.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-config"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <libsecret/secret.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay-config.h"
#include "relay-hostname.h"
#include "relay-secret-store.h"

G_DEFINE_QUARK (relay-config-error-quark, relay_config_error)

/**
 * relay_config_new_from_settings:
 *
 * Reads every key that a send needs from @settings. The password is not among them: see
 * relay_config_load_password_async() and relay_config_set_password().
 */
RelayConfig *
relay_config_new_from_settings (GSettings *settings)
{
  RelayConfig *config = g_new0 (RelayConfig, 1);

  config->server = g_settings_get_string (settings, "server");
  g_settings_get (settings, "port", "q", &config->port);
  config->security = g_settings_get_enum (settings, "security");
  config->requires_auth = g_settings_get_boolean (settings, "requires-auth");
  config->username = g_settings_get_string (settings, "username");
  config->allow_plaintext_auth = g_settings_get_boolean (settings, "allow-plaintext-auth");
  config->sender = g_settings_get_string (settings, "sender");
  config->local_recipient = g_settings_get_string (settings, "local-recipient");
  config->pinned_certificate = g_settings_get_string (settings, "pinned-certificate");
  config->test_recipient = g_settings_get_string (settings, "test-recipient");
  config->password_file = g_settings_get_string (settings, "password-file");
  return config;
}

/**
 * relay_config_check:
 *
 * Checks what every send needs of the settings, before anything is sent: a server, one that
 * is a valid name or address, and a user name when the server requires a login (without one
 * the client would send without logging in, and a relay that needs the login refuses the
 * message for good).
 *
 * Returns: %FALSE with a #RELAY_CONFIG_ERROR that says what to set
 */
gboolean
relay_config_check (const RelayConfig  *config,
                    GError            **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *host = NULL;

  if (*config->server == '\0')
    {
      g_set_error_literal (error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_NO_SERVER,
                           _("No server is set: open SMTP Relay and enter one."));
      return FALSE;
    }
  host = relay_hostname_normalize (config->server, NULL, &local_error);
  if (host == NULL)
    {
      g_set_error (error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_INVALID_SERVER,
                   _("The server in the settings is not valid: %s"), local_error->message);
      return FALSE;
    }
  if (config->requires_auth && *config->username == '\0')
    {
      g_set_error_literal (error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_NO_USERNAME,
                           _("The server requires authentication, but no user name is set: "
                             "enter it under Authentication, or turn off "
                             "“Server Requires Authentication”."));
      return FALSE;
    }
  return TRUE;
}

void
relay_config_set_password (RelayConfig *config,
                           const char  *password)
{
  g_clear_pointer (&config->password, secret_password_free);
  config->password = g_strdup (password);
}

void
relay_config_free (RelayConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->server);
  g_free (config->username);
  g_clear_pointer (&config->password, secret_password_free);
  g_free (config->sender);
  g_free (config->local_recipient);
  g_free (config->pinned_certificate);
  g_free (config->test_recipient);
  g_free (config->password_file);
  g_free (config);
}

static void
on_password_looked_up_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RelayConfig *config = g_task_get_task_data (task);
  GError *error = NULL;
  char *password;

  password = relay_secret_store_lookup_finish (result, &error);
  if (error != NULL)
    {
      g_prefix_error (&error, _("The password could not be read from the keyring: "));
      g_task_return_error (task, error);
      return;
    }
  if (password == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               _("No password for “%s” on %s is stored in the keyring. "
                                 "Enter it in SMTP Relay, or store it with secret-tool."),
                               config->username, config->server);
      return;
    }
  /* `echo PASSWORD | secret-tool store …` stores the line's end too: it is no part of the
   * password (the password file is read the same way). */
  {
    gsize len = strlen (password);

    if (len > 0 && password[len - 1] == '\n')
      password[--len] = '\0';
    if (len > 0 && password[len - 1] == '\r')
      password[--len] = '\0';
  }
  /* Any other control character is a password no SMTP login can carry: a setting to fix,
   * not a fault of the message (a flush would otherwise set every queued alert aside). */
  for (const guchar *p = (const guchar *) password; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      {
        secret_password_free (password);
        g_task_return_new_error (task, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_INVALID_PASSWORD,
                                 _("The password stored in the keyring for “%s” on %s contains a "
                                   "line break or another control character, which SMTP cannot "
                                   "send: store it again in SMTP Relay."),
                                 config->username, config->server);
        return;
      }
  g_clear_pointer (&config->password, secret_password_free);
  config->password = password;
  g_task_return_boolean (task, TRUE);
}

#define PASSWORD_FILE_MAX 4096

/**
 * relay_config_read_password_file:
 * @path: the file named by the `password-file` key
 *
 * Reads the password from @path, which must be a regular file owned by the user with no access
 * for group or others (mode 0600 or stricter): a password file anyone else can read is refused
 * rather than used, with %RELAY_CONFIG_ERROR_PASSWORD_FILE. One trailing line end is dropped.
 *
 * Returns: (transfer full): the password, to be freed with secret_password_free()
 */
char *
relay_config_read_password_file (const char  *path,
                                 GError     **error)
{
  char buffer[PASSWORD_FILE_MAX + 1];
  struct stat st;
  gsize length = 0;
  char *password;
  int fd;

  /* O_NOFOLLOW and fstat() on the open file: the checks are about the file that is read.
   * O_NONBLOCK: opening a FIFO would wait for a writer, forever; it is refused below instead
   * (a regular file's reads ignore the flag). */
  fd = g_open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  if (fd < 0)
    {
      int saved = errno;

      if (saved == ELOOP)
        g_set_error (error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_PASSWORD_FILE,
                     _("The password file %s is a symbolic link, which is refused: set the path "
                       "of the file itself."), path);
      else
        g_set_error (error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_PASSWORD_FILE,
                     _("The password file %s cannot be opened: %s"), path, g_strerror (saved));
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_PASSWORD_FILE,
                   _("The password file %s is not a regular file."), path);
      close (fd);
      return NULL;
    }
  if (st.st_uid != getuid ())
    {
      g_set_error (error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_PASSWORD_FILE,
                   _("The password file %s is refused: it belongs to another user. Use a file "
                     "of your own, with mode 0600."), path);
      close (fd);
      return NULL;
    }
  if ((st.st_mode & 0077) != 0)
    {
      g_set_error (error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_PASSWORD_FILE,
                   _("The password file %s is refused: it must belong to you and have mode 0600 "
                     "(it has mode %04o). Run: chmod 600 %s"),
                   path, (guint) (st.st_mode & 07777), path);
      close (fd);
      return NULL;
    }
  while (length < sizeof buffer)
    {
      gssize n = read (fd, buffer + length, sizeof buffer - length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          explicit_bzero (buffer, sizeof buffer);
          close (fd);
          g_set_error (error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_PASSWORD_FILE,
                       _("The password file %s cannot be read: %s"), path, g_strerror (saved));
          return NULL;
        }
      if (n == 0)
        break;
      length += n;
    }
  close (fd);

  if (length > 0 && buffer[length - 1] == '\n')
    length--;
  if (length > 0 && buffer[length - 1] == '\r')
    length--;
  if (length == 0 || length > PASSWORD_FILE_MAX || memchr (buffer, '\0', length) != NULL
      || memchr (buffer, '\n', length) != NULL)
    {
      explicit_bzero (buffer, sizeof buffer);
      g_set_error (error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_PASSWORD_FILE,
                   _("The password file %s must hold the password on one line."), path);
      return NULL;
    }
  buffer[length] = '\0';
  password = g_strdup (buffer);
  explicit_bzero (buffer, sizeof buffer);
  return password;
}

static void
read_password_file_thread (GTask        *task,
                           gpointer      source_object,
                           gpointer      task_data,
                           GCancellable *cancellable)
{
  GError *error = NULL;
  char *password = relay_config_read_password_file (task_data, &error);

  if (password == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, password, (GDestroyNotify) secret_password_free);
}

static void
on_password_file_read_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  GTask *task = user_data;
  RelayConfig *config = g_task_get_task_data (task);
  GError *error = NULL;
  char *password = g_task_propagate_pointer (G_TASK (result), &error);

  if (password == NULL)
    g_task_return_error (task, error);
  else
    {
      g_clear_pointer (&config->password, secret_password_free);
      config->password = password;
      g_task_return_boolean (task, TRUE);
    }
  g_object_unref (task);
}

/**
 * relay_config_load_password_async:
 *
 * Fills in the password: from the `password-file` when one is set (a headless opt-in), else
 * from the keyring, for the configured server and user. Fails with %G_IO_ERROR_NOT_FOUND when
 * the keyring has none, %RELAY_CONFIG_ERROR_PASSWORD_FILE when the file is not acceptable.
 */
void
relay_config_load_password_async (RelayConfig         *config,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, relay_config_load_password_async);
  g_task_set_task_data (task, config, NULL);

  if (config->password_file != NULL && *config->password_file != '\0')
    {
      /* In a thread: the file may be on a network share that hangs, and the window flushes the
       * queue (and so reads the file) from its main loop. */
      GTask *read = g_task_new (NULL, cancellable, on_password_file_read_cb, task);

      g_task_set_task_data (read, g_strdup (config->password_file), g_free);
      /* The caller's deadline (the keyring's, 25 s) holds for a hung read too: the thread
       * uses only the task's own copy of the path, and its late result is dropped. */
      g_task_set_return_on_cancel (read, TRUE);
      g_task_run_in_thread (read, read_password_file_thread);
      g_object_unref (read);
      return;
    }
  relay_secret_store_lookup_async (config->server, config->username, cancellable,
                                   on_password_looked_up_cb, task);
}

gboolean
relay_config_load_password_finish (RelayConfig   *config,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * relay_config_create_client:
 *
 * Returns: (transfer full): an SMTP client set up from @config
 */
RelaySmtpClient *
relay_config_create_client (const RelayConfig *config)
{
  RelaySmtpClient *client = relay_smtp_client_new ();

  relay_smtp_client_set_host (client, config->server);
  relay_smtp_client_set_port (client, config->port);
  relay_smtp_client_set_security (client, config->security);
  if (config->requires_auth)
    {
      relay_smtp_client_set_username (client, config->username);
      relay_smtp_client_set_password (client, config->password);
      relay_smtp_client_set_allow_plaintext_auth (client, config->allow_plaintext_auth);
    }
  if (config->pinned_certificate != NULL && *config->pinned_certificate != '\0')
    relay_smtp_client_set_pinned_certificate (client, config->pinned_certificate);
  return client;
}
