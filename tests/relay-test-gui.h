/* relay-test-gui.h: small helpers shared by the GUI tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

/* G_TEST_OPTION_ISOLATE_DIRS points XDG_DATA_DIRS at an empty directory, so GIO would find no
 * MIME database and gdk-pixbuf could not tell that GTK's built-in SVG icons (the search icon of
 * the shortcuts window) are SVG: a warning, fatal in tests, that no desktop shows. Called before
 * g_test_init(), this keeps the system's database, as GLib's documentation advises. */
static inline void
relay_test_keep_mime_database (void)
{
  g_content_type_set_mime_dirs (NULL);
}

/* The last toplevel window of @type (a dialog, the shortcuts window), or NULL. */
static inline GtkWindow *
relay_test_find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();
  GtkWindow *found = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type))
        found = GTK_WINDOW (window);
    }
  return found;
}

typedef struct
{
  GtkWidget  *label;
  GtkWidget  *owner;   /* the row or button: an entry row holds its title twice */
  guint       keyval;
} RelayTestMnemonic;

static inline void
relay_test_collect_mnemonics (GtkWidget *widget,
                              GtkNative *native,
                              GArray    *found)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_get_native (widget) == native
      && gtk_label_get_use_underline (GTK_LABEL (widget))
      && gtk_label_get_mnemonic_keyval (GTK_LABEL (widget)) != GDK_KEY_VoidSymbol)
    {
      guint keyval = gtk_label_get_mnemonic_keyval (GTK_LABEL (widget));
      RelayTestMnemonic m = { widget, gtk_widget_get_ancestor (widget, ADW_TYPE_PREFERENCES_ROW),
                     gdk_keyval_to_lower (keyval) };

      if (m.owner == NULL)
        m.owner = gtk_widget_get_ancestor (widget, GTK_TYPE_BUTTON);
      if (m.owner == NULL)
        m.owner = widget;

      g_array_append_val (found, m);
    }
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    relay_test_collect_mnemonics (c, native, found);
}

/* Every Alt+letter of @window reaches one control only. In @test_group (the Test group), the
 * progress line and the result of a test are never shown together, so their buttons may share
 * a letter. */
static inline void
relay_test_assert_unique_mnemonics (GtkWidget *window,
                                    GtkWidget *test_group)
{
  g_autoptr(GArray) found = g_array_new (FALSE, FALSE, sizeof (RelayTestMnemonic));
  GtkWidget *progress = GTK_WIDGET (gtk_widget_get_template_child (test_group,
                                                                   G_OBJECT_TYPE (test_group),
                                                                   "test_progress_box"));
  GtkWidget *result = GTK_WIDGET (gtk_widget_get_template_child (test_group,
                                                                 G_OBJECT_TYPE (test_group),
                                                                 "test_result_box"));

  relay_test_collect_mnemonics (window, GTK_NATIVE (window), found);
  g_assert_cmpuint (found->len, >=, 10);
  for (guint i = 0; i < found->len; i++)
    for (guint j = i + 1; j < found->len; j++)
      {
        RelayTestMnemonic *a = &g_array_index (found, RelayTestMnemonic, i);
        RelayTestMnemonic *b = &g_array_index (found, RelayTestMnemonic, j);
        gboolean apart = (gtk_widget_is_ancestor (a->label, progress)
                          && gtk_widget_is_ancestor (b->label, result))
                         || (gtk_widget_is_ancestor (a->label, result)
                             && gtk_widget_is_ancestor (b->label, progress));

        if (a->keyval == b->keyval && a->owner != b->owner && !apart)
          g_error ("Alt+%s is both “%s” and “%s”", gdk_keyval_name (a->keyval),
                   gtk_label_get_label (GTK_LABEL (a->label)),
                   gtk_label_get_label (GTK_LABEL (b->label)));
      }
}

/* A toast's button label shows over the window for a while: its Alt+letter must not be one of
 * the window's, or pressing it only moves the focus between the two. */
static inline void
relay_test_assert_toast_mnemonic_free (GtkWidget  *window,
                                       const char *button_label)
{
  g_autoptr(GArray) found = g_array_new (FALSE, FALSE, sizeof (RelayTestMnemonic));
  const char *underline = strchr (button_label, '_');
  guint keyval;

  g_assert_nonnull (underline);
  keyval = gdk_keyval_to_lower (gdk_unicode_to_keyval (g_utf8_get_char (underline + 1)));
  relay_test_collect_mnemonics (window, GTK_NATIVE (window), found);
  for (guint i = 0; i < found->len; i++)
    if (g_array_index (found, RelayTestMnemonic, i).keyval == keyval)
      g_error ("Alt+%s is both “%s” and the toast's “%s”", gdk_keyval_name (keyval),
               gtk_label_get_label (GTK_LABEL (g_array_index (found, RelayTestMnemonic, i).label)),
               button_label);
}
