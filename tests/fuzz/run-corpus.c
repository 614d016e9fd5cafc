/* run-corpus.c: feeds every file of the given folders to LLVMFuzzerTestOneInput
 *
 * Keeps the fuzz target's hostile inputs in the default test suite, without clang or libFuzzer.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <gio/gio.h>

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);

int
main (int   argc,
      char *argv[])
{
  guint n_files = 0;

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDir) dir = g_dir_open (argv[i], 0, &error);
      const char *name;

      if (dir == NULL)
        g_error ("%s", error->message);

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (argv[i], name, NULL);
          g_autofree char *contents = NULL;
          gsize length = 0;

          if (!g_file_get_contents (path, &contents, &length, &error))
            g_error ("%s", error->message);
          /* A copy of exactly the file's size, so that ASan sees any read past its end. */
          {
            g_autofree guint8 *copy = g_memdup2 (contents, length);

            LLVMFuzzerTestOneInput (copy, length);
          }
          n_files++;
        }
    }

  g_print ("1..1\nok 1 - %u inputs\n", n_files);
  return n_files > 0 ? 0 : 1;
}
