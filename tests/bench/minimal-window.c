/* minimal-window.c: the reference for window-bench.py — the smallest libadwaita application
 * window (a header bar and a status page), with the same first-frame hook as SMTP Relay.
 *
 * With RELAY_BENCH_FRAME_GAPS it is also the reference for the frame gaps (run-all.sh): at
 * the size given by RELAY_BENCH_REFERENCE_SIZE (SMTP Relay's, since a frame costs what its
 * pixels cost), it makes the same kind of change as SMTP Relay in each phase: the text of a
 * line changes (lookup: the DNS status under the server row says it is looking the name up),
 * changes again (keyring: the server is an address again), and a spinner with a label appears
 * (send: the Test button).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <adwaita.h>
#include <stdio.h>

#include "relay-bench.h"

static AdwStatusPage *page;
static GtkWidget *status_line;
static GtkWidget *progress;

static void
poke (GtkWindow  *window,
      const char *phase)
{
  if (g_str_equal (phase, "lookup"))
    gtk_label_set_text (GTK_LABEL (status_line), "Looking up “mail.example.com”…");
  else if (g_str_equal (phase, "keyring"))
    gtk_label_set_text (GTK_LABEL (status_line), "An IP address: used as it is, no DNS lookup");
  else if (g_str_equal (phase, "send"))
    gtk_widget_set_visible (progress, TRUE);
}

static void
on_activate_cb (GApplication *app,
                gpointer      user_data)
{
  GtkWidget *window;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  const char *size = g_getenv ("RELAY_BENCH_REFERENCE_SIZE");
  int width, height;

  relay_bench_mark ("activate");
  window = adw_application_window_new (GTK_APPLICATION (app));
  page = ADW_STATUS_PAGE (adw_status_page_new ());
  adw_status_page_set_title (page, "Hello");
  gtk_widget_set_vexpand (GTK_WIDGET (page), TRUE);
  gtk_box_append (GTK_BOX (box), adw_header_bar_new ());
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (page));
  adw_application_window_set_content (ADW_APPLICATION_WINDOW (window), box);
  gtk_window_set_title (GTK_WINDOW (window), "Minimal");

  if (size != NULL && sscanf (size, "%dx%d", &width, &height) == 2)
    gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  if (g_getenv ("RELAY_BENCH_FRAME_GAPS") != NULL)
    {
      GtkWidget *spinner = gtk_spinner_new ();
      GtkWidget *lines = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);

      status_line = gtk_label_new ("No server set yet: alerts cannot be sent");
      gtk_label_set_wrap (GTK_LABEL (status_line), TRUE);
      gtk_widget_add_css_class (status_line, "dim-label");
      gtk_box_append (GTK_BOX (lines), status_line);
      progress = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
      gtk_widget_set_halign (progress, GTK_ALIGN_CENTER);
      gtk_spinner_start (GTK_SPINNER (spinner));
      gtk_box_append (GTK_BOX (progress), spinner);
      gtk_box_append (GTK_BOX (progress), gtk_label_new ("Sending a test message…"));
      gtk_widget_set_visible (progress, FALSE);
      gtk_box_append (GTK_BOX (lines), progress);
      adw_status_page_set_child (page, lines);
      relay_bench_set_poke (poke);
    }

  relay_bench_mark ("window-built");
  relay_bench_attach (GTK_WINDOW (window));
  gtk_window_present (GTK_WINDOW (window));
  relay_bench_mark ("presented");
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(AdwApplication) app = NULL;

  relay_bench_mark ("main");
  app = adw_application_new ("io.github.smtprelay.BenchMinimal", G_APPLICATION_DEFAULT_FLAGS);
  g_signal_connect (app, "activate", G_CALLBACK (on_activate_cb), NULL);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
