/* relay-address.h: validation of mail addresses that reach the wire
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RELAY_ADDRESS_ERROR (relay_address_error_quark ())

typedef enum
{
  RELAY_ADDRESS_ERROR_EMPTY,
  RELAY_ADDRESS_ERROR_INVALID_CHARACTER,
  RELAY_ADDRESS_ERROR_NO_AT,
  RELAY_ADDRESS_ERROR_LOCAL_PART,
  RELAY_ADDRESS_ERROR_DOMAIN,
  RELAY_ADDRESS_ERROR_TOO_LONG,
} RelayAddressError;

GQuark   relay_address_error_quark (void);

char    *relay_address_normalize   (const char  *address,
                                    GError     **error);
gboolean relay_address_is_local_name (const char *text);

G_END_DECLS
