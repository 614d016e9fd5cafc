/* relay-test-mime.h: keeps the system's MIME database for GUI tests in isolated directories
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

/* G_TEST_OPTION_ISOLATE_DIRS points XDG_DATA_DIRS at an empty directory, so GIO would find no
 * MIME database and gdk-pixbuf could not tell that GTK's built-in SVG icons (the search icon of
 * the shortcuts window) are SVG: a warning, fatal in tests, that no desktop shows. Called before
 * g_test_init(), this keeps the system's database, as GLib's documentation advises. */
static inline void
relay_test_keep_mime_database (void)
{
  g_content_type_set_mime_dirs (NULL);
}
