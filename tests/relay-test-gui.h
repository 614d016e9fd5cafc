/* relay-test-gui.h: small helpers shared by the GUI tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

/* G_TEST_OPTION_ISOLATE_DIRS points XDG_DATA_DIRS at an empty directory, so GIO would find no
 * MIME database and gdk-pixbuf could not tell that GTK's built-in SVG icons (the search icon of
 * the shortcuts window) are SVG: a warning, fatal in tests, that no desktop shows. Called before
 * g_test_init(), this keeps the system's database, as GLib's documentation advises. */
static inline void
relay_test_keep_mime_database (void)
{
  g_content_type_set_mime_dirs (NULL);
}

/* The last toplevel window of @type (a dialog, the shortcuts window), or NULL. */
static inline GtkWindow *
relay_test_find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();
  GtkWindow *found = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type))
        found = GTK_WINDOW (window);
    }
  return found;
}
