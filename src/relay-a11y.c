/* relay-a11y.c
 *
 * Accessible names that the toolkit gets wrong on Debian 12 (GTK 4.8, libadwaita 1.2).
 *
 * GTK 4.8 gives a button made with a mnemonic label ("_Test") its raw label, underscore and
 * all, as accessible label, and its label child names it as well (the mnemonic's relation),
 * so a screen reader says "underscore Test Test". Without the label property the name is the
 * child's text alone. Later GTK versions name buttons otherwise; they are left as they are.
 *
 * A button with only an icon is named after its image, and an image without a label after its
 * type: the password row's button that shows the text is read as "GtkImage".
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

static void
on_toast_widgets_changed_cb (GListModel *children,
                             guint       position,
                             guint       removed,
                             guint       added,
                             GtkWidget  *overlay)
{
  if (added > 0)
    relay_a11y_fix_button_names (overlay);
}

/**
 * relay_a11y_watch_toasts:
 *
 * relay_a11y_fix_button_names() for every toast @overlay shows, when it shows it: libadwaita
 * 1.2 makes a new widget for a toast each time, also for one that a high-priority toast put
 * back in the queue and that comes back later.
 */
void
relay_a11y_watch_toasts (AdwToastOverlay *overlay)
{
  GListModel *children;

  if (gtk_get_major_version () != 4 || gtk_get_minor_version () != 8)
    return;
  children = gtk_widget_observe_children (GTK_WIDGET (overlay));
  g_signal_connect (children, "items-changed", G_CALLBACK (on_toast_widgets_changed_cb),
                    overlay);
  /* The model lives as long as the overlay, which it does not keep alive. */
  g_object_set_data_full (G_OBJECT (overlay), "relay-a11y-children", children, g_object_unref);
}

static void
name_after_tooltip (GtkWidget *button)
{
  const char *tooltip = gtk_widget_get_tooltip_text (button);

  if (tooltip != NULL && *tooltip != '\0')
    gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                    tooltip, -1);
}

static void
on_tooltip_changed_cb (GObject    *button,
                       GParamSpec *pspec,
                       gpointer    user_data)
{
  name_after_tooltip (GTK_WIDGET (button));
}

/**
 * relay_a11y_find_reveal_button:
 * @root: a password row
 *
 * Finds the row's show-text button by its icon (the row's other icon button, Apply, is named).
 *
 * Returns: (transfer none) (nullable): the button
 */
GtkWidget *
relay_a11y_find_reveal_button (GtkWidget *root)
{
  const char *icon = GTK_IS_BUTTON (root) ? gtk_button_get_icon_name (GTK_BUTTON (root)) : NULL;

  if (icon != NULL && g_str_has_prefix (icon, "view-reveal"))
    return root;

  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = relay_a11y_find_reveal_button (child);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/**
 * relay_a11y_name_reveal_button:
 * @row: a password row
 *
 * Names the row's show-text button after its tooltip ("Show Text", then "Hide Text"), which
 * libadwaita translates and switches with the icon; the name follows the tooltip.
 */
void
relay_a11y_name_reveal_button (AdwPasswordEntryRow *row)
{
  GtkWidget *button = relay_a11y_find_reveal_button (GTK_WIDGET (row));

  if (button == NULL)
    return;
  name_after_tooltip (button);
  g_signal_connect (button, "notify::tooltip-text", G_CALLBACK (on_tooltip_changed_cb), NULL);
}
