/* relay-config.c
 *
 * The window, `smtp-relay test` and `smtp-relay send` all send from a RelayConfig, so they go
 * through the same code path with the same values.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-config"

#include <glib/gi18n-lib.h>
#include <libsecret/secret.h>

#include "relay-config.h"
#include "relay-secret-store.h"

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
  config->pinned_certificate = g_settings_get_string (settings, "pinned-certificate");
  config->test_recipient = g_settings_get_string (settings, "test-recipient");
  return config;
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
  g_free (config->pinned_certificate);
  g_free (config->test_recipient);
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
  g_clear_pointer (&config->password, secret_password_free);
  config->password = password;
  g_task_return_boolean (task, TRUE);
}

/**
 * relay_config_load_password_async:
 *
 * Fills in the password from the keyring, for the configured server and user. Fails with
 * %G_IO_ERROR_NOT_FOUND when none is stored.
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
