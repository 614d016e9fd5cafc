/* relay-detect-module.h: Detect as the window reaches it, from the module that holds Detect and
 * libsoup
 *
 * The window's module does not link libsoup: only Detect fetches over HTTPS, and libsoup with
 * its Kerberos, SQLite and HTTP/2 libraries would cost every start of the window about 4 ms and
 * 1.3 MiB (tests/bench/RESULTS.md). The window opens smtp-relay-detect.so at the first Detect
 * (relay_module_load_detect()) and calls it through this table; relay-detector.h, which needs
 * libsoup's headers, stays out of the window.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <gmodule.h>

#include "relay-detect-report.h"

G_BEGIN_DECLS

/* The file name of the module, in PKGLIBDIR once installed, next to the executable in the
 * build tree (relay-module.c). */
#define RELAY_DETECT_MODULE_NAME "smtp-relay-detect.so"
#define RELAY_DETECT_MODULE_SYMBOL "relay_detect_module"

/**
 * RelayDetectModule:
 * @detector_new: a RelayDetector with its own HTTP session; it has the "isp-database-url"
 *   property that the window binds to its setting
 * @detect_async: relay_detector_detect_async()
 * @detect_finish: relay_detector_detect_finish()
 */
typedef struct
{
  GObject           *(*detector_new)  (void);
  void               (*detect_async)  (GObject              *detector,
                                       const char           *address,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data);
  RelayDetectReport *(*detect_finish) (GObject              *detector,
                                       GAsyncResult         *result,
                                       GError              **error);
} RelayDetectModule;

typedef const RelayDetectModule *(*RelayDetectModuleFunc) (void);

G_MODULE_EXPORT const RelayDetectModule *relay_detect_module (void);

G_END_DECLS
