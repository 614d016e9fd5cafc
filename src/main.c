/* main.c: decides between the window and the command line, nothing else
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gi18n.h>
#include <gmodule.h>
#include <locale.h>

#include "relay-cli.h"
#include "relay-ui-main.h"

/* The window's module: next to the executable in the build tree, in PKGLIBDIR once installed.
 * The installed binary never looks beside itself, so nothing dropped into its directory is
 * loaded. */
static char *
ui_module_path (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = exe != NULL ? g_path_get_dirname (exe) : NULL;

  if (dir != NULL && g_strcmp0 (dir, BINDIR) != 0)
    {
      char *beside = g_build_filename (dir, RELAY_UI_MODULE_NAME, NULL);

      if (g_file_test (beside, G_FILE_TEST_EXISTS))
        return beside;
      g_free (beside);
    }
  return g_build_filename (PKGLIBDIR, RELAY_UI_MODULE_NAME, NULL);
}

/* GTK and libadwaita are loaded here, and only here: the command-line modes, which cron and
 * alert scripts start for every message, do not pay for linking them (about 18 ms). */
static int
run_window (int    argc,
            char **argv)
{
  g_autofree char *path = ui_module_path ();
  GModule *module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  RelayUiMain ui_main = NULL;

  if (module == NULL || !g_module_symbol (module, RELAY_UI_MAIN_SYMBOL, (gpointer *) &ui_main))
    {
      /* TRANSLATORS: %s is the loader's explanation, which names the missing file */
      g_printerr (_("Cannot open the window, the installation is incomplete: %s\n"),
                  g_module_error ());
      return 1;
    }
  /* The module stays loaded until the process exits: GTK cannot be unloaded. */
  return ui_main (argc, argv);
}

int
main (int   argc,
      char *argv[])
{
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
  /* Any first argument that is not an option is a command: the window takes none, and a
   * mistyped command in a script or over ssh gets the list of commands, not a window or a
   * "cannot open display". */
  if (argc > 1 && argv[1][0] != '-')
    return relay_cli_run (argc - 1, argv + 1);

  return run_window (argc, argv);
}
