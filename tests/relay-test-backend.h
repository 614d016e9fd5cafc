/* relay-test-backend.h: an in-memory GSettingsBackend whose keys can be locked, as dconf locks
 * them for an administrator
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gio.h>
#include <gio/gsettingsbackend.h>

G_BEGIN_DECLS

#define RELAY_TYPE_TEST_BACKEND (relay_test_backend_get_type ())

G_DECLARE_FINAL_TYPE (RelayTestBackend, relay_test_backend, RELAY, TEST_BACKEND, GSettingsBackend)

RelayTestBackend *relay_test_backend_new  (void);
void              relay_test_backend_lock (RelayTestBackend *self,
                                           const char       *path,
                                           gboolean          locked);
void              relay_test_backend_set_system (RelayTestBackend *self,
                                                 const char       *path,
                                                 GVariant         *value);

G_END_DECLS
