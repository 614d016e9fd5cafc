/* test-application.c: quitting waits for the keyring
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <adwaita.h>
#include <glib/gstdio.h>

#include "relay-application.h"
#include "relay-secret-store.h"
#include "relay-test-gui.h"
#include "relay-window.h"

/* The shortcuts window is not built with the main window (start-up time), yet Ctrl+? and the
 * menu still reach it. */
static gboolean
shows_accelerator (GtkWidget  *root,
                   const char *accelerator)
{
  if (GTK_IS_SHORTCUT_LABEL (root) &&
      g_strcmp0 (gtk_shortcut_label_get_accelerator (GTK_SHORTCUT_LABEL (root)), accelerator) == 0)
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (shows_accelerator (child, accelerator))
      return TRUE;
  return FALSE;
}

static void
check_shortcuts_on_demand (GtkApplication *app)
{
  g_auto(GStrv) accels = gtk_application_get_accels_for_action (app, "win.show-help-overlay");
  GtkWindow *window = gtk_application_get_active_window (app);

  g_assert_true (g_strv_contains ((const char * const *) accels, "<Control>question"));
  g_assert_null (relay_test_find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL));
  g_assert_nonnull (relay_test_find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW));
  /* ... and shows the keys of the application's accelerators, not only the actions' names. */
  g_assert_true (shows_accelerator (GTK_WIDGET (relay_test_find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW)),
                                    "<Control>t"));
}

static gboolean
type_and_quit_cb (gpointer user_data)
{
  GtkApplication *app = user_data;
  GtkWindow *window = gtk_application_get_active_window (app);
  GtkEditable *password;

  g_assert_nonnull (window);
  /* X11 window managers other than GNOME Shell's show this as the window's icon. */
  g_assert_cmpstr (gtk_window_get_default_icon_name (), ==, APP_ID);
  check_shortcuts_on_demand (app);
  password = GTK_EDITABLE (gtk_widget_get_template_child (GTK_WIDGET (window), RELAY_TYPE_WINDOW,
                                                          "password_row"));
  gtk_editable_set_text (password, "typed just before Ctrl+Q");
  g_assert_true (relay_window_has_pending_password (RELAY_WINDOW (window)));

  /* What Ctrl+Q does */
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  return G_SOURCE_REMOVE;
}

static void
on_window_added_cb (GtkApplication *app,
                    GtkWindow      *window)
{
  /* Let the window's own start-up (the keyring lookup) go first. */
  g_timeout_add (500, type_and_quit_cb, app);
}

/* Ctrl+Q right after typing: the password typed at the last moment still reaches the keyring. */
static void
test_quit_waits_for_keyring (void)
{
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  g_autoptr(RelayApplication) app = relay_application_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *password = NULL;

  g_settings_set_string (settings, "server", "quit.example.com");
  g_settings_set_string (settings, "username", "erin");
  g_settings_set_boolean (settings, "requires-auth", TRUE);

  /* No D-Bus name: the test must not meet another instance. */
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "window-added", G_CALLBACK (on_window_added_cb), NULL);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 0, NULL), ==, 0);

  /* run() has returned. Look with the sync call, which runs a main context of its own: iterating
   * the default one here would finish a store that the application walked away from. */
  password = secret_password_lookup_sync (relay_secret_store_get_schema (), NULL, &error,
                                          "server", "quit.example.com", "user", "erin", NULL);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, "typed just before Ctrl+Q");
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = g_dir_make_tmp ("relay-app-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "test.keyring", NULL);
  int ret;

  relay_test_keep_mime_database ();
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_setenv ("SECRET_BACKEND", "file", TRUE);
  g_setenv ("SECRET_FILE_TEST_PATH", path, TRUE);
  g_setenv ("SECRET_FILE_TEST_PASSWORD", "test-keyring-password", TRUE);

  if (!gtk_init_check ())
    {
      if (g_getenv ("CI"))
        g_error ("No display in CI: run the tests with build-aux/test.sh");
      g_print ("1..0 # SKIP no display: run under xvfb-run -a, or use build-aux/test.sh\n");
      return 0;
    }

  g_test_add_func ("/relay/application/quit-waits-for-keyring", test_quit_waits_for_keyring);
  ret = g_test_run ();

  g_unlink (path);
  g_rmdir (dir);
  return ret;
}
