/* fuzz-autoconfig.c: libFuzzer target for the autoconfig parser
 *
 * Build with clang and -Dfuzzing=true; tests/fuzz/run-corpus.c runs the same entry point over
 * tests/fuzz/corpus/autoconfig/ in the ordinary test suite.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay-autoconfig.h"

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GPtrArray) servers = NULL;
  g_autoptr(GPtrArray) notes = NULL;
  g_autoptr(GError) error = NULL;

  servers = relay_autoconfig_parse ((const char *) data, size, "fuzz.user@example.com",
                                    &notes, &error);

  /* The contract: either a list (maybe empty) with notes, or an error; never both. */
  g_assert ((servers == NULL) != (error == NULL));
  g_assert ((servers == NULL) == (notes == NULL));
  for (guint i = 0; servers != NULL && i < servers->len; i++)
    {
      RelayAutoconfigServer *server = g_ptr_array_index (servers, i);

      g_assert (server->hostname != NULL && *server->hostname != '\0');
      g_assert (server->port != 0);
      g_assert ((guint) server->security <= RELAY_SECURITY_LAST);
    }
  return 0;
}
