/* main.c: decides between the window and the command line, and keeps the password out of
 * core files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gi18n.h>
#include <locale.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "relay-cli.h"
#include "relay-module.h"
#include "relay-ui-main.h"

/* GTK and libadwaita are loaded here, and only here: the command-line modes, which cron and
 * alert scripts start for every message, do not pay for linking them (about 18 ms). */
static int
run_window (int    argc,
            char **argv)
{
  g_autofree char *why = NULL;
  RelayUiMain ui_main = relay_module_load (RELAY_UI_MODULE_NAME, RELAY_UI_MAIN_SYMBOL, &why);

  if (ui_main == NULL)
    {
      /* TRANSLATORS: %s is the loader's explanation, which names the missing file */
      g_printerr (_("Cannot open the window, the installation is incomplete: %s\n"), why);
      return 1;
    }
  return ui_main (argc, argv);
}

#if defined(__SANITIZE_ADDRESS__)
#define RELAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RELAY_ASAN 1
#endif
#endif

/* Every mode holds the password while it sends (and the window while it is shown): no core
 * file may keep it (systemd-coredump stores them, crash reports carry them). The command line
 * is also made non-dumpable, so that no other process of the user can read it through ptrace;
 * not the window, because xdg-desktop-portal identifies a caller by its /proc/PID/root, which
 * a non-dumpable process keeps from other processes. */
static void
protect_secrets (gboolean command_line)
{
  const struct rlimit none = { 0, 0 };

  setrlimit (RLIMIT_CORE, &none);
#ifndef RELAY_ASAN
  /* Not under AddressSanitizer: LeakSanitizer stops the world with ptrace, which a
   * non-dumpable process refuses. */
  if (command_line)
    prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
#else
  (void) command_line;
#endif
}

int
main (int   argc,
      char *argv[])
{
  const char *command = relay_cli_command_for_program (argv[0]);

  protect_secrets (command != NULL || (argc > 1 && argv[1][0] != '-'));
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, relay_module_locale_dir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* The command-line modes run without a display, from cron, services and scripts. A link
   * named sendmail is the sendmail mode, so `update-alternatives` can point at this binary. */
  if (command != NULL)
    {
      argv[0] = (char *) command;
      /* mailq lists the queue whatever sendmail options it is given (-v, -Ac): ours are not
       * theirs. */
      if (g_strcmp0 (command, "queue") == 0)
        argc = 1;
      return relay_cli_run (argc, argv);
    }
  /* Any first argument that is not an option is a command: the window takes none, and a
   * mistyped command in a script or over ssh gets the list of commands, not a window or a
   * "cannot open display". */
  if (argc > 1 && argv[1][0] != '-')
    return relay_cli_run (argc - 1, argv + 1);

  return run_window (argc, argv);
}
