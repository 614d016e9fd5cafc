/* main.c: decides between the window and the command line, nothing else
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gi18n.h>
#include <locale.h>

#include "relay-application.h"
#include "relay-bench.h"
#include "relay-cli.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(RelayApplication) app = NULL;
  const char *command = relay_cli_command_for_program (argv[0]);

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* The command-line modes run without a display, from cron, services and scripts. A link
   * named sendmail is the sendmail mode, so `update-alternatives` can point at this binary. */
  if (command != NULL)
    {
      argv[0] = (char *) command;
      return relay_cli_run (argc, argv);
    }
  if (argc > 1 && relay_cli_handles (argv[1]))
    return relay_cli_run (argc - 1, argv + 1);

  relay_bench_mark ("main");
  app = relay_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
