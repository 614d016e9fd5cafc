/* relay-a11y.c
 *
 * GTK 4.8 gives a button made with a mnemonic label ("_Test") its raw label, underscore and
 * all, as accessible label, and its label child names it as well (the mnemonic's relation),
 * so a screen reader says "underscore Test Test". Without the label property the name is the
 * child's text alone. Later GTK versions name buttons otherwise; they are left as they are.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay-a11y.h"

/**
 * relay_a11y_fix_button_names:
 *
 * Drops the raw accessible label of every button with a mnemonic label in @root (GTK 4.8).
 */
void
relay_a11y_fix_button_names (GtkWidget *root)
{
  if (gtk_get_major_version () != 4 || gtk_get_minor_version () != 8)
    return;

  if (GTK_IS_BUTTON (root) && gtk_button_get_use_underline (GTK_BUTTON (root))
      && gtk_button_get_label (GTK_BUTTON (root)) != NULL)
    gtk_accessible_reset_property (GTK_ACCESSIBLE (root), GTK_ACCESSIBLE_PROPERTY_LABEL);

  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    relay_a11y_fix_button_names (child);
}
