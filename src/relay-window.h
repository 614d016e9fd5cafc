/* relay-window.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "relay-module.h"

G_BEGIN_DECLS

#define RELAY_TYPE_WINDOW (relay_window_get_type ())

G_DECLARE_FINAL_TYPE (RelayWindow, relay_window, RELAY, WINDOW, AdwApplicationWindow)

RelayWindow *relay_window_new                    (GtkApplication *application,
                                                  GSettings      *settings);
gboolean     relay_window_has_pending_password   (RelayWindow    *self);
void         relay_window_set_queue_retry_interval (RelayWindow  *self,
                                                  guint         milliseconds);

void         relay_window_set_detect_module_loader (RelayDetectModuleLoader loader);

G_END_DECLS
