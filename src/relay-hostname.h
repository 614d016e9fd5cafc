/* relay-hostname.h: validation and normalisation of the relay's host name
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RELAY_HOSTNAME_ERROR (relay_hostname_error_quark ())

typedef enum
{
  RELAY_HOSTNAME_ERROR_EMPTY,
  RELAY_HOSTNAME_ERROR_INVALID_CHARACTER,
  RELAY_HOSTNAME_ERROR_TOO_LONG,
  RELAY_HOSTNAME_ERROR_BAD_LABEL,
  RELAY_HOSTNAME_ERROR_NUMERIC,
} RelayHostnameError;

GQuark   relay_hostname_error_quark   (void);

char    *relay_hostname_normalize     (const char  *input,
                                       gboolean    *is_ip_literal,
                                       GError     **error);
gboolean relay_hostname_is_ldh_name   (const char  *ascii);
char    *relay_hostname_describe      (const char  *input);
char    *relay_hostname_check_mixed_scripts (const char *input);

G_END_DECLS
