/* relay-module.c: finding and opening the program's own modules, and its catalogues
 *
 * The executable links neither GTK nor libsoup: the command-line modes, which cron and alert
 * scripts start for every message, would pay for loading them (GTK and libadwaita about 18 ms,
 * libsoup and its Kerberos, SQLite and HTTP/2 libraries about 6 ms). The window and Detect live
 * in modules that are opened only when they are used.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>

#include "relay-module.h"

/* Next to the executable in the build tree, in PKGLIBDIR once installed. The installed binary
 * never looks beside itself, so nothing dropped into its directory is loaded. */
/* The directory of the running executable, or NULL. */
static char *
exe_dir (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);

  return exe != NULL ? g_path_get_dirname (exe) : NULL;
}

static char *
module_path (const char *file_name)
{
  g_autofree char *dir = exe_dir ();

  if (dir != NULL && g_strcmp0 (dir, BINDIR) != 0)
    {
      char *beside = g_build_filename (dir, file_name, NULL);

      if (g_file_test (beside, G_FILE_TEST_EXISTS))
        return beside;
      g_free (beside);
    }
  return g_build_filename (PKGLIBDIR, file_name, NULL);
}

/**
 * relay_module_locale_dir:
 *
 * build-aux/run.sh starts the binary in the build tree through `meson devenv`, which names the
 * build tree's catalogues in `SMTP_RELAY_BUILD_LOCALEDIR` (nothing is installed yet, and the
 * window would be in English whatever the language). As for its modules, the installed binary
 * never looks anywhere but LOCALEDIR.
 *
 * Returns: the directory to bind the text domain to
 */
const char *
relay_module_locale_dir (void)
{
  const char *build_tree = g_getenv ("SMTP_RELAY_BUILD_LOCALEDIR");
  g_autofree char *dir = NULL;
  g_autofree char *exe_root = NULL;
  g_autofree char *real_tree = NULL;
  g_autofree char *build_root = NULL;

  if (build_tree == NULL || (dir = exe_dir ()) == NULL
      || (real_tree = realpath (build_tree, NULL)) == NULL)
    return LOCALEDIR;
  /* <build>/src/smtp-relay and <build>/po: only the binary of that same build tree */
  exe_root = g_path_get_dirname (dir);
  build_root = g_path_get_dirname (real_tree);
  return g_strcmp0 (exe_root, build_root) == 0 ? build_tree : LOCALEDIR;
}

/**
 * relay_module_load:
 * @file_name: the module's file name, such as `smtp-relay-ui.so`
 * @symbol: the entry point to look up in it
 * @error_message: (out) (transfer full): on failure, the loader's explanation, which names the
 *   missing file
 *
 * Opens one of the program's modules for the rest of the process (neither GTK nor libsoup can
 * be unloaded) and looks up its entry point.
 *
 * Returns: (nullable): the entry point, or %NULL
 */
gpointer
relay_module_load (const char  *file_name,
                   const char  *symbol,
                   char       **error_message)
{
  g_autofree char *path = module_path (file_name);
  GModule *module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  gpointer entry = NULL;

  if (module == NULL || !g_module_symbol (module, symbol, &entry))
    {
      *error_message = g_strdup (g_module_error ());
      return NULL;
    }
  return entry;
}

/**
 * relay_module_load_detect:
 * @error_message: (out) (transfer full): on failure, the loader's explanation
 *
 * Opens smtp-relay-detect.so for the window's Detect (relay-detect-module.h); the window keeps
 * what it returns.
 *
 * Returns: (nullable) (transfer none): Detect's functions, or %NULL
 */
const RelayDetectModule *
relay_module_load_detect (char **error_message)
{
  RelayDetectModuleFunc entry = relay_module_load (RELAY_DETECT_MODULE_NAME,
                                                   RELAY_DETECT_MODULE_SYMBOL, error_message);

  return entry != NULL ? entry () : NULL;
}
