/* relay-test-group.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "relay-resolver-watch.h"

G_BEGIN_DECLS

#define RELAY_TYPE_TEST_GROUP (relay_test_group_get_type ())

G_DECLARE_FINAL_TYPE (RelayTestGroup, relay_test_group, RELAY, TEST_GROUP, AdwPreferencesGroup)

void relay_test_group_set_settings        (RelayTestGroup *self,
                                           GSettings      *settings);
void relay_test_group_set_password_source (RelayTestGroup *self,
                                           GtkEditable    *editable);
void relay_test_group_set_resolver_watch  (RelayTestGroup     *self,
                                           RelayResolverWatch *watch);
void relay_test_group_send                (RelayTestGroup *self);
void relay_test_group_invalidate_result   (RelayTestGroup *self);

G_END_DECLS
