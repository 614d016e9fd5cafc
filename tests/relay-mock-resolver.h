/* relay-mock-resolver.h: a scriptable GResolver for tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RELAY_TYPE_MOCK_RESOLVER (relay_mock_resolver_get_type ())

G_DECLARE_FINAL_TYPE (RelayMockResolver, relay_mock_resolver, RELAY, MOCK_RESOLVER, GResolver)

RelayMockResolver *relay_mock_resolver_install           (void);
void               relay_mock_resolver_uninstall         (RelayMockResolver *self);

void               relay_mock_resolver_set_addresses     (RelayMockResolver *self,
                                                          const char        *name,
                                                          guint              delay_ms,
                                                          const char        *first_address,
                                                          ...) G_GNUC_NULL_TERMINATED;
void               relay_mock_resolver_set_error         (RelayMockResolver *self,
                                                          const char        *name,
                                                          guint              delay_ms,
                                                          GResolverError     code);
void               relay_mock_resolver_set_hang          (RelayMockResolver *self,
                                                          const char        *name);
void               relay_mock_resolver_set_ignore_cancel (RelayMockResolver *self,
                                                          gboolean           ignore_cancel);

guint              relay_mock_resolver_get_lookups       (RelayMockResolver *self,
                                                          const char        *name);

G_END_DECLS
