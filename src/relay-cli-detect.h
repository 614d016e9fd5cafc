/* relay-cli-detect.h: `smtp-relay detect ADDRESS [--apply]`, the entry point of the module that
 * holds Detect and libsoup
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gmodule.h>

#include "relay-detect-module.h"

G_BEGIN_DECLS

/* Exit statuses from sysexits.h, which scripts around mail tools already know. */
#define RELAY_CLI_EXIT_OK 0
#define RELAY_CLI_EXIT_USAGE 64       /* EX_USAGE */
#define RELAY_CLI_EXIT_NOHOST 68      /* EX_NOHOST: nothing found */
#define RELAY_CLI_EXIT_TEMPFAIL 75    /* EX_TEMPFAIL: nothing found, but not every source answered */
#define RELAY_CLI_EXIT_NOPERM 77      /* EX_NOPERM: a key is locked */

/* relay-cli.c opens the module (RELAY_DETECT_MODULE_NAME) only for `smtp-relay detect`. */
#define RELAY_CLI_DETECT_SYMBOL "relay_cli_detect"

typedef int (*RelayCliDetect) (int    argc,
                               char **argv);

G_MODULE_EXPORT int relay_cli_detect (int    argc,
                                      char **argv);

G_END_DECLS
