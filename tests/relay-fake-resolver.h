/* relay-fake-resolver.h: a GResolver with scripted SRV and MX answers for tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RELAY_TYPE_FAKE_RESOLVER (relay_fake_resolver_get_type ())

G_DECLARE_FINAL_TYPE (RelayFakeResolver, relay_fake_resolver, RELAY, FAKE_RESOLVER, GResolver)

RelayFakeResolver *relay_fake_resolver_new       (void);

void               relay_fake_resolver_add_srv   (RelayFakeResolver *self,
                                                  const char        *rrname,
                                                  const char        *target,
                                                  guint16            port,
                                                  guint16            priority,
                                                  guint16            weight);
void               relay_fake_resolver_add_mx    (RelayFakeResolver *self,
                                                  const char        *domain,
                                                  const char        *exchange,
                                                  guint16            preference);
void               relay_fake_resolver_set_delay (RelayFakeResolver *self,
                                                  const char        *name,
                                                  guint              delay_ms);
guint              relay_fake_resolver_get_pending (RelayFakeResolver *self);

G_END_DECLS
