/* relay-autoconfig.h: the outgoing servers of a Mozilla autoconfig document
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "relay-security.h"

G_BEGIN_DECLS

#define RELAY_AUTOCONFIG_ERROR (relay_autoconfig_error_quark ())

typedef enum
{
  RELAY_AUTOCONFIG_ERROR_TOO_LARGE,
  RELAY_AUTOCONFIG_ERROR_MALFORMED,
  RELAY_AUTOCONFIG_ERROR_NOT_AUTOCONFIG,
} RelayAutoconfigError;

/* Real documents are a few KiB; anything much larger is not an autoconfig document. */
#define RELAY_AUTOCONFIG_MAX_SIZE (256 * 1024)

typedef struct
{
  char          *hostname;        /* normalised: ASCII, lower case */
  guint16        port;
  RelaySecurity  security;
  char          *username;        /* placeholders replaced; NULL when the document has none */
  char          *authentication;  /* the first method SMTP Relay understands, or NULL */
  gboolean       requires_auth;
} RelayAutoconfigServer;

GQuark     relay_autoconfig_error_quark  (void);

void       relay_autoconfig_server_free  (RelayAutoconfigServer *server);

GPtrArray *relay_autoconfig_parse        (const char  *data,
                                          gsize        length,
                                          const char  *address,
                                          GPtrArray  **notes,
                                          GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayAutoconfigServer, relay_autoconfig_server_free)

G_END_DECLS
