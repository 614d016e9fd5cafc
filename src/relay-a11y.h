/* relay-a11y.h: a GTK 4.8 accessible-name fix for buttons with mnemonics
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

void relay_a11y_fix_button_names (GtkWidget *root);

G_END_DECLS
