/* relay-bench.c: measurement hooks for tests/bench/ (window-bench.py)
 *
 * Nothing happens unless one of these is set in the environment:
 *
 *   RELAY_BENCH_EXIT_AFTER_FIRST_FRAME=1
 *       After the first frame is painted, print "first-frame-us=T vmhwm-kb=K" (T: the monotonic
 *       clock, as Python's time.monotonic_ns() / 1000 reads it; K: peak resident memory) and
 *       exit at once. The tests/bench reference window uses the same hook.
 *   RELAY_BENCH_FRAME_GAPS=FILE
 *       Keep the window redrawing every frame and drive a scenario from the first frame on:
 *       idle; the server name set to RELAY_BENCH_LOOKUP_NAME (a DNS lookup by the resolver
 *       watch, then a keyring lookup); the server set back (a keyring lookup); the Test button
 *       (win.send-test) for RELAY_BENCH_SEND_MS. Append the longest gap between two painted
 *       frames in each phase to FILE as one line of JSON, then quit. The reference window
 *       makes changes of its own instead (relay_bench_set_poke()).
 *   RELAY_BENCH_TRACE=1
 *       Print "mark NAME T" on stderr at the steps of start-up (main, activate, window built,
 *       realized, presented) and at the phases of each frame (layout done, paint done), and for
 *       each gap between frames over 20 ms: where the time goes (window-bench.py --trace).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-bench"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay-bench.h"

static long
vm_hwm_kb (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "VmHWM:");
  return line != NULL ? strtol (line + strlen ("VmHWM:"), NULL, 10) : -1;
}

/* --- trace ------------------------------------------------------------------------------- */

/**
 * relay_bench_mark:
 * @what: the step reached
 *
 * With RELAY_BENCH_TRACE=1, prints the step and the monotonic time in µs on stderr.
 */
void
relay_bench_mark (const char *what)
{
  static int on = -1;

  if (on < 0)
    on = g_strcmp0 (g_getenv ("RELAY_BENCH_TRACE"), "1") == 0;
  if (on)
    g_printerr ("mark %s %" G_GINT64_FORMAT "\n", what, g_get_monotonic_time ());
}

static void
on_mark_cb (GdkFrameClock *clock,
            gpointer       what)
{
  relay_bench_mark (what);
}

/* --- first frame -------------------------------------------------------------------------- */

static void
on_first_paint_cb (GdkFrameClock *clock,
                   gpointer       user_data)
{
  gint64 now = g_get_monotonic_time ();

  printf ("first-frame-us=%" G_GINT64_FORMAT " vmhwm-kb=%ld\n", now, vm_hwm_kb ());
  fflush (stdout);
  _exit (0);
}

/* --- frame gaps --------------------------------------------------------------------------- */

typedef enum { PHASE_IDLE, PHASE_LOOKUP, PHASE_KEYRING, PHASE_SEND, N_PHASES } Phase;
static const char * const phase_names[N_PHASES] = { "idle", "lookup", "keyring", "send" };

typedef struct
{
  GtkWindow *window;
  char      *path;
  char      *server;      /* the configured server, restored for the keyring phase */
  GSettings *settings;
  Phase      phase;
  gint64     start;
  gint64     last_paint;
  gint64     max_gap[N_PHASES];
  gint64     worst_at[N_PHASES];
  /* The frame that first shows a phase's change (new text, the progress line, a scroll) is
   * the toolkit drawing what the user did; the ones after it are drawn while the lookup,
   * keyring call or send runs. Both are reported. */
  gboolean   first_pending;
  gint64     first_gap[N_PHASES];
  gint64     max_after_first[N_PHASES];
  guint      frames[N_PHASES];
  GArray    *all[N_PHASES];  /* every gap in µs, for the median */
  GString   *long_gaps;      /* [at_ms, gap_ms, phase] of gaps over 20 ms */
  guint      send_ms;
} Gaps;

static Gaps *gaps;
static RelayBenchPoke poke;

static gboolean
on_tick_cb (GtkWidget     *widget,
            GdkFrameClock *clock,
            gpointer       user_data)
{
  /* A frame every refresh, as during an animation: a stalled main loop shows as a long gap. */
  gtk_widget_queue_draw (widget);
  return G_SOURCE_CONTINUE;
}

static void
on_gap_paint_cb (GdkFrameClock *clock,
                 gpointer       user_data)
{
  gint64 now = g_get_monotonic_time ();

  if (gaps->last_paint != 0)
    {
      gint64 gap = now - gaps->last_paint;

      g_array_append_val (gaps->all[gaps->phase], gap);
      if (gap > 20000)
        {
          g_autofree char *what = g_strdup_printf ("long-gap-%s-%.1fms-since-%" G_GINT64_FORMAT,
                                                   phase_names[gaps->phase], gap / 1000.0,
                                                   gaps->last_paint);
          relay_bench_mark (what);
        }
      if (gap > 20000 && gaps->long_gaps->len < 4000)
        g_string_append_printf (gaps->long_gaps, "%s[%.0f, %.1f, \"%s\"]",
                                gaps->long_gaps->len ? ", " : "", (now - gaps->start) / 1000.0,
                                gap / 1000.0, phase_names[gaps->phase]);
      if (gap > gaps->max_gap[gaps->phase])
        {
          gaps->max_gap[gaps->phase] = gap;
          gaps->worst_at[gaps->phase] = now - gaps->start;
        }
      if (gaps->first_pending)
        gaps->first_gap[gaps->phase] = gap;
      else if (gap > gaps->max_after_first[gaps->phase])
        gaps->max_after_first[gaps->phase] = gap;
      gaps->first_pending = FALSE;
    }
  gaps->frames[gaps->phase]++;
  gaps->last_paint = now;
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static gboolean
step_cb (gpointer user_data)
{
  gaps->first_pending = gaps->phase != PHASE_SEND;
  switch (gaps->phase)
    {
    case PHASE_IDLE:
      gaps->phase = PHASE_LOOKUP;
      if (poke != NULL)
        poke (gaps->window, phase_names[gaps->phase]);
      else if (gaps->settings != NULL)
        g_settings_set_string (gaps->settings, "server",
                             g_getenv ("RELAY_BENCH_LOOKUP_NAME") ? g_getenv ("RELAY_BENCH_LOOKUP_NAME")
                                                                  : "localhost");
      g_timeout_add (2000, step_cb, NULL);
      break;
    case PHASE_LOOKUP:
      gaps->phase = PHASE_KEYRING;
      if (poke != NULL)
        poke (gaps->window, phase_names[gaps->phase]);
      else if (gaps->settings != NULL)
        g_settings_set_string (gaps->settings, "server", gaps->server);
      g_timeout_add (1500, step_cb, NULL);
      break;
    case PHASE_KEYRING:
      gaps->phase = PHASE_SEND;
      if (poke != NULL)
        poke (gaps->window, phase_names[gaps->phase]);
      else
        gtk_widget_activate_action (GTK_WIDGET (gaps->window), "win.send-test", NULL);
      g_timeout_add (gaps->send_ms, step_cb, NULL);
      break;
    case PHASE_SEND:
    default:
      {
        GString *json = g_string_new ("{");

        for (guint i = 0; i < N_PHASES; i++)
          {
            GArray *a = gaps->all[i];
            double median = 0;

            if (a->len > 0)
              {
                g_array_sort (a, compare_gint64);
                median = g_array_index (a, gint64, a->len / 2) / 1000.0;
              }
            g_string_append_printf (json, "%s\"%s\": {\"max_gap_ms\": %.1f, \"at_ms\": %.0f, \"median_gap_ms\": %.1f, \"frames\": %u, \"first_frame_gap_ms\": %.1f, \"max_gap_after_first_ms\": %.1f}",
                                    i ? ", " : "", phase_names[i], gaps->max_gap[i] / 1000.0,
                                    gaps->worst_at[i] / 1000.0, median, gaps->frames[i],
                                    gaps->first_gap[i] / 1000.0,
                                    gaps->max_after_first[i] / 1000.0);
          }
        g_string_append_printf (json, ", \"long_gaps\": [%s], \"vmhwm_kb\": %ld}\n",
                                gaps->long_gaps->str, vm_hwm_kb ());
        {
          /* One line per run: the benchmark runs the window several times. */
          FILE *out = fopen (gaps->path, "a");

          if (out == NULL || fputs (json->str, out) < 0 || fclose (out) != 0)
            g_printerr ("relay-bench: cannot write %s\n", gaps->path);
        }
        g_string_free (json, TRUE);
        fflush (stdout);
        _exit (0);
      }
    }
  return G_SOURCE_REMOVE;
}

static void
on_gap_first_paint_cb (GdkFrameClock *clock,
                       gpointer       user_data)
{
  g_signal_handlers_disconnect_by_func (clock, on_gap_first_paint_cb, user_data);
  gaps->start = g_get_monotonic_time ();
  g_signal_connect (clock, "after-paint", G_CALLBACK (on_gap_paint_cb), NULL);
  gtk_widget_add_tick_callback (GTK_WIDGET (gaps->window), on_tick_cb, NULL, NULL);
  g_timeout_add (500, step_cb, NULL);
}

/* --- attaching ---------------------------------------------------------------------------- */

static void
on_realize_cb (GtkWidget *widget,
               gpointer   user_data)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);

  relay_bench_mark ("realized");
  /* Connected after GDK's own handlers: these mark when layout and painting are done. */
  g_signal_connect (clock, "layout", G_CALLBACK (on_mark_cb), (gpointer) "layout-done");
  g_signal_connect (clock, "paint", G_CALLBACK (on_mark_cb), (gpointer) "paint-done");

  if (g_strcmp0 (g_getenv ("RELAY_BENCH_EXIT_AFTER_FIRST_FRAME"), "1") == 0)
    g_signal_connect (clock, "after-paint", G_CALLBACK (on_first_paint_cb), NULL);
  else
    g_signal_connect (clock, "after-paint", G_CALLBACK (on_gap_first_paint_cb), NULL);
}

/**
 * relay_bench_set_poke:
 * @func: called at the start of each phase after "idle" instead of SMTP Relay's own scenario
 *
 * For the reference window (tests/bench/minimal-window.c): it makes a comparable change of its
 * own, so that its frame gaps show what the toolkit and the display cost for one change.
 */
void
relay_bench_set_poke (RelayBenchPoke func)
{
  poke = func;
}

/**
 * relay_bench_attach:
 * @window: the main window, before it is presented
 *
 * Installs the hooks the environment asks for (see the top of this file); does nothing else.
 */
void
relay_bench_attach (GtkWindow *window)
{
  const char *gaps_path = g_getenv ("RELAY_BENCH_FRAME_GAPS");

  if (g_strcmp0 (g_getenv ("RELAY_BENCH_EXIT_AFTER_FIRST_FRAME"), "1") != 0
      && (gaps_path == NULL || *gaps_path == '\0'))
    return;

  if (gaps_path != NULL && *gaps_path != '\0' && gaps == NULL)
    {
      GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
      g_autoptr(GSettingsSchema) schema = source ? g_settings_schema_source_lookup (source, APP_ID, TRUE)
                                                 : NULL;

      gaps = g_new0 (Gaps, 1);
      gaps->window = window;
      gaps->path = g_strdup (gaps_path);
      gaps->long_gaps = g_string_new (NULL);
      for (guint i = 0; i < N_PHASES; i++)
        gaps->all[i] = g_array_new (FALSE, FALSE, sizeof (gint64));
      if (schema != NULL)
        {
          gaps->settings = g_settings_new_full (schema, NULL, NULL);
          gaps->server = g_settings_get_string (gaps->settings, "server");
        }
      gaps->send_ms = g_getenv ("RELAY_BENCH_SEND_MS") ? atoi (g_getenv ("RELAY_BENCH_SEND_MS")) : 2500;
    }
  if (gtk_widget_get_realized (GTK_WIDGET (window)))
    on_realize_cb (GTK_WIDGET (window), NULL);
  else
    g_signal_connect (window, "realize", G_CALLBACK (on_realize_cb), NULL);
}
