/* relay-detector.h: proposes relay settings from the sender's domain (DNS SRV, autoconfig)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "relay-detect-report.h"

G_BEGIN_DECLS

#define RELAY_DETECT_ERROR (relay_detect_error_quark ())

typedef enum
{
  RELAY_DETECT_ERROR_NO_DOMAIN,
} RelayDetectError;

#define RELAY_DETECTOR_DEFAULT_ISP_DATABASE_URL "https://autoconfig.thunderbird.net/v1.1/"
#define RELAY_DETECTOR_DEFAULT_TIMEOUT_MS 5000
#define RELAY_DETECTOR_MAX_REDIRECTS 3

#define RELAY_TYPE_DETECTOR (relay_detector_get_type ())

G_DECLARE_FINAL_TYPE (RelayDetector, relay_detector, RELAY, DETECTOR, GObject)

GQuark              relay_detect_error_quark                (void);

RelayDetector      *relay_detector_new                      (SoupSession         *session);

void                relay_detector_set_isp_database_url     (RelayDetector       *self,
                                                             const char          *url);
const char         *relay_detector_get_isp_database_url     (RelayDetector       *self);
void                relay_detector_set_autoconfig_urls      (RelayDetector       *self,
                                                             const char * const  *templates);
const char * const *relay_detector_get_autoconfig_urls      (RelayDetector       *self);
void                relay_detector_set_timeout              (RelayDetector       *self,
                                                             guint                timeout_ms);
guint               relay_detector_get_timeout              (RelayDetector       *self);
SoupSession        *relay_detector_get_session              (RelayDetector       *self);

void                relay_detector_detect_async             (RelayDetector       *self,
                                                             const char          *address,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
RelayDetectReport  *relay_detector_detect_finish            (RelayDetector       *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);

G_END_DECLS
