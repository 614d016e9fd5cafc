/* relay-ui-main.c: runs the application and its window; the one entry point of the module
 * that holds everything that needs GTK
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <gmodule.h>

#include "relay-application.h"
#include "relay-bench.h"
#include "relay-ui-main.h"

int
relay_ui_main (int    argc,
               char **argv)
{
  g_autoptr(RelayApplication) app = NULL;

  relay_bench_mark ("main");
  app = relay_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
