/* relay-https-fetch.h: a small document over HTTPS, with redirects and size bounded
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define RELAY_HTTPS_FETCH_ERROR (relay_https_fetch_error_quark ())

typedef enum
{
  RELAY_HTTPS_FETCH_ERROR_NOT_HTTPS,
  RELAY_HTTPS_FETCH_ERROR_TOO_MANY_REDIRECTS,
  RELAY_HTTPS_FETCH_ERROR_NOT_FOUND,
  RELAY_HTTPS_FETCH_ERROR_HTTP_STATUS,
  RELAY_HTTPS_FETCH_ERROR_TOO_LARGE,
} RelayHttpsFetchError;

GQuark  relay_https_fetch_error_quark (void);

void    relay_https_fetch_async       (SoupSession          *session,
                                       const char           *url,
                                       gsize                 max_size,
                                       guint                 max_redirects,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
GBytes *relay_https_fetch_finish      (GAsyncResult         *result,
                                       GError              **error);
const char *relay_https_fetch_get_host (GAsyncResult        *result);

G_END_DECLS
