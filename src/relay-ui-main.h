/* relay-ui-main.h: the entry point of the window's module, which main.c loads only to open
 * the window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gmodule.h>

G_BEGIN_DECLS

/* The file name of the module, in PKGLIBDIR once installed, next to the executable in the
 * build tree. */
#define RELAY_UI_MODULE_NAME "smtp-relay-ui.so"
#define RELAY_UI_MAIN_SYMBOL "relay_ui_main"

typedef int (*RelayUiMain) (int    argc,
                            char **argv);

G_MODULE_EXPORT int relay_ui_main (int    argc,
                                   char **argv);

G_END_DECLS
