/* relay-a11y.h: accessible-name fixes for GTK 4.8 and libadwaita 1.2
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

void       relay_a11y_fix_button_names   (GtkWidget           *root);
void       relay_a11y_watch_toasts       (AdwToastOverlay     *overlay);
GtkWidget *relay_a11y_find_reveal_button (GtkWidget           *root);
void       relay_a11y_name_reveal_button (AdwPasswordEntryRow *row);

G_END_DECLS
