/* relay-config.h: one snapshot of the settings (and the password) that a send uses
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "relay-security.h"
#include "relay-smtp-client.h"

G_BEGIN_DECLS

#define RELAY_CONFIG_ERROR (relay_config_error_quark ())

typedef enum
{
  RELAY_CONFIG_ERROR_PASSWORD_FILE,   /* missing, unreadable, empty, or not private */
  RELAY_CONFIG_ERROR_NO_SERVER,
  RELAY_CONFIG_ERROR_INVALID_SERVER,
  RELAY_CONFIG_ERROR_NO_USERNAME,     /* a login is required, but with no name */
  RELAY_CONFIG_ERROR_NO_PASSWORD,     /* ... or, in the window, with no password */
  RELAY_CONFIG_ERROR_INVALID_PASSWORD, /* one SMTP cannot carry: a control character */
} RelayConfigError;

GQuark relay_config_error_quark (void);

typedef struct
{
  char          *server;
  guint16        port;               /* 0: the default of @security */
  RelaySecurity  security;
  gboolean       requires_auth;
  char          *username;
  char          *password;           /* from the keyring or the window; wiped when freed */
  gboolean       allow_plaintext_auth;
  char          *sender;
  char          *local_recipient;    /* where mail for a local user name goes; "" = refused */
  char          *pinned_certificate;
  char          *test_recipient;
  char          *password_file;      /* opt-in for headless sending; "" = keyring only */
} RelayConfig;

RelayConfig     *relay_config_new_from_settings   (GSettings           *settings);
void             relay_config_free                (RelayConfig         *config);
gboolean         relay_config_check               (const RelayConfig   *config,
                                                   GError             **error);
void             relay_config_set_password        (RelayConfig         *config,
                                                   const char          *password);

void             relay_config_load_password_async  (RelayConfig         *config,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean         relay_config_load_password_finish (RelayConfig         *config,
                                                    GAsyncResult        *result,
                                                    GError             **error);

char            *relay_config_read_password_file   (const char          *path,
                                                    GError             **error);

RelaySmtpClient *relay_config_create_client       (const RelayConfig   *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayConfig, relay_config_free)

G_END_DECLS
