/* relay-resolver-watch.h: debounced DNS check of the relay's server name
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * RelayResolverState:
 * @RELAY_RESOLVER_STATE_IDLE: no server is set
 * @RELAY_RESOLVER_STATE_RESOLVING: the first lookup of a new name is pending
 * @RELAY_RESOLVER_STATE_RESOLVED: the name has addresses (IP literals are resolved at once)
 * @RELAY_RESOLVER_STATE_NOT_FOUND: DNS says the name does not exist or has no address
 * @RELAY_RESOLVER_STATE_DNS_FAILURE: DNS could not be asked: unreachable, refusing or too slow
 * @RELAY_RESOLVER_STATE_INVALID: the text is not a valid host name or IP address
 *
 * What is known about the server name. NOT_FOUND and DNS_FAILURE are retried in the background
 * and turn into RESOLVED by themselves once a retry succeeds.
 */
typedef enum
{
  RELAY_RESOLVER_STATE_IDLE,
  RELAY_RESOLVER_STATE_RESOLVING,
  RELAY_RESOLVER_STATE_RESOLVED,
  RELAY_RESOLVER_STATE_NOT_FOUND,
  RELAY_RESOLVER_STATE_DNS_FAILURE,
  RELAY_RESOLVER_STATE_INVALID,
} RelayResolverState;

#define RELAY_TYPE_RESOLVER_STATE (relay_resolver_state_get_type ())
GType relay_resolver_state_get_type (void);

#define RELAY_TYPE_RESOLVER_WATCH (relay_resolver_watch_get_type ())

G_DECLARE_FINAL_TYPE (RelayResolverWatch, relay_resolver_watch, RELAY, RESOLVER_WATCH, GObject)

RelayResolverWatch  *relay_resolver_watch_new                (void);

const char          *relay_resolver_watch_get_server         (RelayResolverWatch *self);
void                 relay_resolver_watch_set_server         (RelayResolverWatch *self,
                                                              const char         *server);
RelayResolverState   relay_resolver_watch_get_state          (RelayResolverWatch *self);
const char          *relay_resolver_watch_get_message        (RelayResolverWatch *self);
const char * const  *relay_resolver_watch_get_addresses      (RelayResolverWatch *self);
GList               *relay_resolver_watch_get_inet_addresses (RelayResolverWatch *self);
gint64               relay_resolver_watch_get_resolved_age   (RelayResolverWatch *self);
void                 relay_resolver_watch_recheck            (RelayResolverWatch *self);

G_END_DECLS
