/* fuzz.h: the libFuzzer entry point, also driven by fuzz-main.c over the corpus
 *
 * g_assert() is used for the invariants on purpose: it aborts, which both libFuzzer and the
 * corpus test see as a crash.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <stddef.h>

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);
