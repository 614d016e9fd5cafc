/* relay-detect-module.c: the entry point of smtp-relay-detect.so for the window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay-detect-module.h"
#include "relay-detector.h"

static GObject *
detector_new (void)
{
  return G_OBJECT (relay_detector_new (NULL));
}

static void
detect_async (GObject             *detector,
              const char          *address,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  relay_detector_detect_async (RELAY_DETECTOR (detector), address, cancellable, callback,
                               user_data);
}

static RelayDetectReport *
detect_finish (GObject       *detector,
               GAsyncResult  *result,
               GError       **error)
{
  return relay_detector_detect_finish (RELAY_DETECTOR (detector), result, error);
}

/**
 * relay_detect_module:
 *
 * The module's entry point for the window (relay_module_load_detect()); the tests, which link
 * Detect into the program, call it directly.
 *
 * Returns: (transfer none): Detect's functions
 */
const RelayDetectModule *
relay_detect_module (void)
{
  static const RelayDetectModule module = { detector_new, detect_async, detect_finish };

  return &module;
}
