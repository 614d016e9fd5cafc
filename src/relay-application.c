/* relay-application.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-application"

#include <glib/gi18n.h>

#include "relay-application.h"
#include "relay-bench.h"
#include "relay-cli.h"
#include "relay-window.h"

struct _RelayApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (RelayApplication, relay_application, ADW_TYPE_APPLICATION)

static void
relay_application_activate (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  relay_bench_mark ("activate");
  if (window == NULL)
    {
      window = GTK_WINDOW (relay_window_new (GTK_APPLICATION (app), NULL));
      relay_bench_mark ("window-built");
      relay_bench_attach (window);  /* inert unless tests/bench asks for it */
    }
  gtk_window_present (window);
  relay_bench_mark ("presented");
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  GtkApplication *app = GTK_APPLICATION (user_data);
  GList *windows = gtk_application_get_windows (app);

  /* Close rather than g_application_quit(): closing saves a pending password, and the
   * application keeps running until the keyring has it (see relay-window.c). */
  for (GList *l = windows; l != NULL;)
    {
      GtkWindow *window = l->data;

      l = l->next;
      gtk_window_close (window);
    }
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  GtkApplication *app = GTK_APPLICATION (user_data);
  const char *developers[] = { _("The SMTP Relay authors"), NULL };

  adw_show_about_window (gtk_application_get_active_window (app),
                         "application-name", _("SMTP Relay"),
                         "application-icon", APP_ID,
                         "developer-name", _("The SMTP Relay authors"),
                         "version", PACKAGE_VERSION,
                         "website", "https://github.com/smtprelay/SmtpRelay",
                         "issue-url", "https://github.com/smtprelay/SmtpRelay/issues",
                         "developers", developers,
                         "copyright", "© 2026 The SMTP Relay authors",
                         "license-type", GTK_LICENSE_GPL_3_0,
                         /* Translators: your names, one per line, to be credited in About */
                         "translator-credits", _("translator-credits"),
                         NULL);
}

/* Also reachable from outside: `gapplication action io.github.smtprelay.SmtpRelay send-test`. */
static void
send_test_action (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  GtkApplication *app = GTK_APPLICATION (user_data);
  GtkWindow *window = gtk_application_get_active_window (app);

  if (window == NULL)
    {
      g_application_activate (G_APPLICATION (app));
      window = gtk_application_get_active_window (app);
    }
  gtk_widget_activate_action (GTK_WIDGET (window), "win.send-test", NULL);
}

static const GActionEntry app_actions[] = {
  { "quit", quit_action },
  { "send-test", send_test_action },
  { "about", about_action },
};

static void
relay_application_startup (GApplication *app)
{
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };
  static const char *test_accels[] = { "<Control>t", NULL };
  /* What GtkApplication sets when it finds gtk/help-overlay.ui; ours is loaded on demand. */
  static const char *help_accels[] = { "<Control>question", NULL };

  G_APPLICATION_CLASS (relay_application_parent_class)->startup (app);

  /* X11 window managers other than GNOME Shell's take the window's icon from _NET_WM_ICON,
   * which GTK sets only from a default icon name. */
  gtk_window_set_default_icon_name (APP_ID);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions),
                                   app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "window.close", close_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.send-test", test_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.show-help-overlay",
                                         help_accels);
}

/* Before registration and GTK's start-up: --version needs neither a display nor the bus. */
static int
relay_application_handle_local_options (GApplication *app,
                                        GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("smtp-relay %s\n", PACKAGE_VERSION);
      return 0;
    }
  return -1;
}

static void
relay_application_class_init (RelayApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->activate = relay_application_activate;
  app_class->startup = relay_application_startup;
  app_class->handle_local_options = relay_application_handle_local_options;
}

static void
relay_application_init (RelayApplication *self)
{
  g_application_add_main_option (G_APPLICATION (self), "version", 0, G_OPTION_FLAG_NONE,
                                 G_OPTION_ARG_NONE, _("Show the version and exit"), NULL);
}

RelayApplication *
relay_application_new (void)
{
  RelayApplication *app = g_object_new (RELAY_TYPE_APPLICATION,
                                        "application-id", APP_ID,
                                        "flags", G_APPLICATION_DEFAULT_FLAGS,
                                        "resource-base-path", "/io/github/smtprelay/SmtpRelay",
                                        NULL);
  g_autofree char *commands = relay_cli_describe_commands ();

  /* `smtp-relay --help` is where someone at a terminal looks for the command line. */
  g_application_set_option_context_parameter_string (G_APPLICATION (app), _("[COMMAND …]"));
  g_application_set_option_context_summary (G_APPLICATION (app),
                                            _("Without a command, opens the window to configure "
                                              "the SMTP relay that alerts are sent through."));
  g_application_set_option_context_description (G_APPLICATION (app), commands);
  return app;
}
