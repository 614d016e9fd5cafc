/* relay-bench.h: measurement hooks for tests/bench/, inert unless their environment variable
 * is set
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

void relay_bench_attach (GtkWindow *window);
void relay_bench_mark (const char *what);

typedef void (*RelayBenchPoke) (GtkWindow  *window,
                                const char *phase);
void relay_bench_set_poke (RelayBenchPoke func);

G_END_DECLS
