/* test-i18n.c: the window speaks the user's language
 *
 * Runs with LANGUAGE set by meson (de, then fr) and the catalogues of the build tree, and checks
 * that strings from the template and from C come out translated, and that the translated
 * labels' Alt+letters do not clash.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <adwaita.h>
#include <glib/gi18n.h>
#include <locale.h>

#include "relay-test-backend.h"
#include "relay-test-gui.h"
#include "relay-window.h"

static const char *expected_sender;
static const char *expected_auth;

static void
test_window_translated (void)
{
  g_autoptr(RelayTestBackend) backend = relay_test_backend_new ();
  g_autoptr(GSettings) settings = g_settings_new_with_backend (APP_ID, G_SETTINGS_BACKEND (backend));
  RelayWindow *window = relay_window_new (NULL, settings);
  AdwPreferencesGroup *sender_group;
  AdwPreferencesGroup *auth_group;

  sender_group = ADW_PREFERENCES_GROUP (gtk_widget_get_template_child (GTK_WIDGET (window),
                                                                       RELAY_TYPE_WINDOW,
                                                                       "sender_group"));
  auth_group = ADW_PREFERENCES_GROUP (gtk_widget_get_template_child (GTK_WIDGET (window),
                                                                     RELAY_TYPE_WINDOW,
                                                                     "auth_group"));
  g_assert_cmpstr (adw_preferences_group_get_title (sender_group), ==, expected_sender);
  g_assert_cmpstr (adw_preferences_group_get_title (auth_group), ==, expected_auth);
  /* A string from C, through the same catalogue. */
  g_assert_cmpstr (_("Sender"), ==, expected_sender);
  /* Translated labels choose their own Alt+letters: still one control each. */
  relay_test_assert_unique_mnemonics (GTK_WIDGET (window),
                                      GTK_WIDGET (gtk_widget_get_template_child (
                                        GTK_WIDGET (window), RELAY_TYPE_WINDOW, "test_group")));
  relay_test_assert_toast_mnemonic_free (GTK_WIDGET (window), _("Try A_gain"));
  relay_test_assert_toast_mnemonic_free (GTK_WIDGET (window), _("Deta_ils"));

  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  const char *language = g_getenv ("LANGUAGE");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("RELAY_TEST_LOCALEDIR"));
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_test_init (&argc, &argv, NULL);

  if (g_strcmp0 (language, "de") == 0)
    {
      expected_sender = "Absender";
      expected_auth = "Authentifizierung";
    }
  else if (g_strcmp0 (language, "fr") == 0)
    {
      expected_sender = "Expéditeur";
      expected_auth = "Authentification";
    }
  else
    g_error ("run with LANGUAGE=de or LANGUAGE=fr");

  if (!gtk_init_check ())
    {
      if (g_getenv ("CI"))
        g_error ("No display in CI: run the tests with build-aux/test.sh");
      g_print ("1..0 # SKIP no display: run under xvfb-run -a, or use build-aux/test.sh\n");
      return 0;
    }
  adw_init ();

  g_test_add_func ("/relay/i18n/window-translated", test_window_translated);
  return g_test_run ();
}
