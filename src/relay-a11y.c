/* relay-a11y.c
 *
 * libadwaita 1.2 gives its rows no accessible name (later versions label them by their title),
 * so a screen reader would announce "text" for every entry row.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "relay-a11y.h"

/**
 * relay_a11y_label_row:
 *
 * Names @row after its title, without the mnemonic underscore, and the text field inside an
 * entry row too, since that is what takes the focus.
 */
void
relay_a11y_label_row (AdwPreferencesRow *row)
{
  const char *title = adw_preferences_row_get_title (row);
  g_autoptr(GString) name = g_string_new (NULL);

  for (const char *p = title; *p != '\0'; p++)
    {
      if (*p == '_' && p[1] == '_')
        g_string_append_c (name, *p++);
      else if (*p != '_')
        g_string_append_c (name, *p);
    }

  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, name->str,
                                  -1);
  if (GTK_IS_EDITABLE (row))
    {
      GtkEditable *delegate = gtk_editable_get_delegate (GTK_EDITABLE (row));

      if (delegate != NULL)
        gtk_accessible_update_property (GTK_ACCESSIBLE (delegate), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                        name->str, -1);
    }
}
