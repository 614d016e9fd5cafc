/* relay-module.h: finding and opening the program's own modules (the window, Detect), and its
 * catalogues
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gmodule.h>

#include "relay-detect-module.h"

G_BEGIN_DECLS

const char *relay_module_locale_dir (void);

gpointer relay_module_load (const char  *file_name,
                            const char  *symbol,
                            char       **error_message);

typedef const RelayDetectModule *(*RelayDetectModuleLoader) (char **error_message);

const RelayDetectModule *relay_module_load_detect (char **error_message);

G_END_DECLS
