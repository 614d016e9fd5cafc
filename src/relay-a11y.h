/* relay-a11y.h: accessible names that libadwaita 1.2 does not give
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

void relay_a11y_label_row (AdwPreferencesRow *row);

G_END_DECLS
