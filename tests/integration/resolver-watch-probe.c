/* resolver-watch-probe.c: looks one name up with RelayResolverWatch and the system's resolver
 *
 * Run by dns-netns.sh inside a network namespace whose DNS server it controls. Exits 0 when the
 * watch ends in the expected state (and address, and time window).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <locale.h>
#include <string.h>

#include "relay-resolver-watch.h"

static gboolean
on_timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayResolverWatch) watch = NULL;
  g_autofree char *addresses = NULL;
  GEnumClass *enum_class;
  const char *nick;
  const char *message;
  int deadline_ms = 5000;
  int min_ms = 0;
  int max_ms = 0;
  gboolean timed_out = FALSE;
  gboolean ok;
  gint64 start, elapsed_ms;
  GOptionEntry entries[] = {
    { "deadline-ms", 0, 0, G_OPTION_ARG_INT, &deadline_ms, "Deadline of the lookup", "MS" },
    { "min-ms", 0, 0, G_OPTION_ARG_INT, &min_ms, "Fail if the answer comes sooner", "MS" },
    { "max-ms", 0, 0, G_OPTION_ARG_INT, &max_ms, "Fail if the answer comes later", "MS" },
    { NULL }
  };

  setlocale (LC_ALL, "");

  context = g_option_context_new ("NAME STATE [ADDRESS]");
  g_option_context_set_summary (context, "Looks NAME up with RelayResolverWatch and checks that it "
                                         "ends in STATE (a nick: resolved, not-found, "
                                         "dns-failure…), with ADDRESS among the addresses.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc < 3 || argc > 4)
    {
      g_printerr ("%s\n", error ? error->message
                                 : "Usage: resolver-watch-probe NAME STATE [ADDRESS]");
      return 2;
    }

  /* No debounce, and no retry to muddle the first answer. */
  watch = g_object_new (RELAY_TYPE_RESOLVER_WATCH,
                        "debounce-ms", 0,
                        "deadline-ms", deadline_ms,
                        "retry-min-ms", G_MAXINT,
                        "retry-max-ms", G_MAXINT,
                        NULL);

  start = g_get_monotonic_time ();
  relay_resolver_watch_set_server (watch, argv[1]);
  g_timeout_add (deadline_ms + 15000, on_timeout_cb, &timed_out);
  while (relay_resolver_watch_get_state (watch) == RELAY_RESOLVER_STATE_RESOLVING && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  elapsed_ms = (g_get_monotonic_time () - start) / G_TIME_SPAN_MILLISECOND;

  enum_class = g_type_class_ref (RELAY_TYPE_RESOLVER_STATE);
  nick = g_enum_get_value (enum_class, relay_resolver_watch_get_state (watch))->value_nick;
  addresses = g_strjoinv (", ", (char **) relay_resolver_watch_get_addresses (watch));
  message = relay_resolver_watch_get_message (watch);

  g_print ("# %s: %s after %" G_GINT64_FORMAT " ms, addresses [%s], message: %s\n",
           argv[1], nick, elapsed_ms, addresses, message ? message : "(none)");

  ok = g_str_equal (nick, argv[2]) &&
       (argc < 4 || g_strv_contains (relay_resolver_watch_get_addresses (watch), argv[3])) &&
       elapsed_ms >= min_ms &&
       (max_ms == 0 || elapsed_ms <= max_ms);

  g_type_class_unref (enum_class);

  return ok ? 0 : 1;
}
