/* relay-application.h
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define RELAY_TYPE_APPLICATION (relay_application_get_type ())

G_DECLARE_FINAL_TYPE (RelayApplication, relay_application, RELAY, APPLICATION, AdwApplication)

RelayApplication *relay_application_new (void);

G_END_DECLS
