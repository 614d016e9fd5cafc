/* relay-secret-store.h: the relay password in the keyring
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libsecret/secret.h>

G_BEGIN_DECLS

const SecretSchema *relay_secret_store_get_schema (void) G_GNUC_CONST;

void      relay_secret_store_store_async   (const char          *server,
                                            const char          *user,
                                            const char          *password,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
gboolean  relay_secret_store_store_finish  (GAsyncResult        *result,
                                            GError             **error);

void      relay_secret_store_lookup_async  (const char          *server,
                                            const char          *user,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
char     *relay_secret_store_lookup_finish (GAsyncResult        *result,
                                            GError             **error);

void      relay_secret_store_clear_async   (const char          *server,
                                            const char          *user,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
gboolean  relay_secret_store_clear_finish  (GAsyncResult        *result,
                                            GError             **error);

G_END_DECLS
