/* test-window.c: the settings window under a real display
 *
 * Settings live on a lockable in-memory backend (relay-test-backend.c) shared with a second
 * GSettings that plays "gsettings set" from elsewhere; the password goes to libsecret's file
 * backend in a throw-away file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <adwaita.h>
#include <glib/gstdio.h>

#include "relay-a11y.h"
#include "relay-fake-resolver.h"
#include "relay-mock-resolver.h"
#include "relay-queue.h"
#include "relay-secret-store.h"
#include "smtp-test-helpers.h"
#include "relay-test-backend.h"
#include "relay-test-group.h"
#include "relay-test-gui.h"
#include "relay-window.h"

/* The keyring refuses to store while this is set: the test binary's own definition of
 * libsecret's call, which the window's keyring worker then uses (symbol interposition). */
static gint refuse_stores;

gboolean
secret_password_store_sync (const SecretSchema *schema,
                            const gchar        *collection,
                            const gchar        *label,
                            const gchar        *password,
                            GCancellable       *cancellable,
                            GError            **error,
                            ...)
{
  GHashTable *attributes;
  gboolean ok;
  va_list va;

  if (g_atomic_int_get (&refuse_stores))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "refused by the test");
      return FALSE;
    }
  va_start (va, error);
  attributes = secret_attributes_buildv (schema, va);
  va_end (va);
  ok = secret_password_storev_sync (schema, attributes, collection, label, password,
                                    cancellable, error);
  g_hash_table_unref (attributes);
  return ok;
}

#define KEY_PATH "/io/github/smtprelay/SmtpRelay/"

typedef struct
{
  RelayTestBackend *backend;
  GSettings        *settings;    /* the window's */
  GSettings        *elsewhere;   /* another client of the same backend */
  RelayWindow      *window;
  RelayMockResolver *resolver;
} Fixture;

typedef gboolean (*Condition) (gpointer data);

static gboolean
on_timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until @condition holds; fails the test after @timeout_ms, naming the line
 * that waited. */
static void
wait_until_at (Condition  condition,
               gpointer   data,
               guint      timeout_ms,
               int        line)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, on_timeout_cb, &timed_out);

  while (!condition (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  if (!condition (data))
    g_error ("the condition waited for at line %d did not come within %u ms", line, timeout_ms);
}
#define wait_until(condition, data, timeout_ms) \
  wait_until_at (condition, data, timeout_ms, __LINE__)

static void
spin_main_loop (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_timeout_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* A named part of the window, or of its Test group. */
static gpointer
child (Fixture    *f,
       const char *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (f->window), RELAY_TYPE_WINDOW,
                                                   name);
  if (object == NULL)
    {
      GObject *group = gtk_widget_get_template_child (GTK_WIDGET (f->window), RELAY_TYPE_WINDOW,
                                                      "test_group");
      object = gtk_widget_get_template_child (GTK_WIDGET (group), RELAY_TYPE_TEST_GROUP, name);
    }
  g_assert_nonnull (object);
  return object;
}

/* f->window goes NULL when the window is finalized: a closed window lives only as long as its
 * keyring calls (which may all have answered by the end of a test). */
static void
set_window (Fixture     *f,
            RelayWindow *window)
{
  if (f->window != NULL)
    g_object_remove_weak_pointer (G_OBJECT (f->window), (gpointer *) &f->window);
  f->window = window;
  if (window != NULL)
    g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &f->window);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->resolver = relay_mock_resolver_install ();
  f->backend = relay_test_backend_new ();
  f->settings = g_settings_new_with_backend (APP_ID, G_SETTINGS_BACKEND (f->backend));
  f->elsewhere = g_settings_new_with_backend (APP_ID, G_SETTINGS_BACKEND (f->backend));
  set_window (f, relay_window_new (NULL, f->settings));
  gtk_window_present (GTK_WINDOW (f->window));
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->window != NULL)
    gtk_window_destroy (GTK_WINDOW (f->window));
  /* Let pending keyring calls finish: they hold a reference to the window. */
  spin_main_loop (50);
  set_window (f, NULL);
  g_clear_object (&f->elsewhere);
  g_clear_object (&f->settings);
  g_clear_object (&f->backend);
  relay_mock_resolver_uninstall (f->resolver);
}

static gboolean
is_visible (gpointer widget)
{
  return gtk_widget_get_visible (widget);
}

typedef struct
{
  gpointer    editable;
  const char *text;
} TextCheck;

static gboolean
has_text (gpointer data)
{
  TextCheck *check = data;

  return g_strcmp0 (gtk_editable_get_text (check->editable), check->text) == 0;
}

/* Editing a row writes its key at once. */
static void
test_row_writes_key (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *server = NULL;
  g_autofree char *user = NULL;
  g_autofree char *sender = NULL;
  g_autofree char *local = NULL;
  guint16 port = 0;

  gtk_editable_set_text (child (f, "server_row"), "smtp.example.com");
  server = g_settings_get_string (f->elsewhere, "server");
  g_assert_cmpstr (server, ==, "smtp.example.com");

  gtk_spin_button_set_value (child (f, "port_spin"), 2525);
  g_settings_get (f->elsewhere, "port", "q", &port);
  g_assert_cmpuint (port, ==, 2525);

  adw_combo_row_set_selected (child (f, "security_row"), 2);
  g_assert_cmpint (g_settings_get_enum (f->elsewhere, "security"), ==, 2);
  adw_combo_row_set_selected (child (f, "security_row"), 0);
  g_assert_cmpint (g_settings_get_enum (f->elsewhere, "security"), ==, 0);

  gtk_switch_set_active (child (f, "auth_switch"), TRUE);
  g_assert_true (g_settings_get_boolean (f->elsewhere, "requires-auth"));

  gtk_editable_set_text (child (f, "username_row"), "alerts");
  user = g_settings_get_string (f->elsewhere, "username");
  g_assert_cmpstr (user, ==, "alerts");

  gtk_editable_set_text (child (f, "sender_row"), "alerts@example.com");
  sender = g_settings_get_string (f->elsewhere, "sender");
  g_assert_cmpstr (sender, ==, "alerts@example.com");

  gtk_editable_set_text (child (f, "local_recipient_row"), "admin@example.com");
  local = g_settings_get_string (f->elsewhere, "local-recipient");
  g_assert_cmpstr (local, ==, "admin@example.com");
}

/* A change made by another client shows up in the open window. */
static void
test_key_updates_row (Fixture       *f,
                      gconstpointer  data)
{
  TextCheck server = { child (f, "server_row"), "relay.example.org" };
  TextCheck sender = { child (f, "sender_row"), "ops@example.org" };
  TextCheck local = { child (f, "local_recipient_row"), "root@example.org" };

  g_settings_set_string (f->elsewhere, "server", "relay.example.org");
  wait_until (has_text, &server, 2000);

  g_settings_set_string (f->elsewhere, "sender", "ops@example.org");
  wait_until (has_text, &sender, 2000);

  g_settings_set_string (f->elsewhere, "local-recipient", "root@example.org");
  wait_until (has_text, &local, 2000);

  g_settings_set (f->elsewhere, "port", "q", (guint16) 465);
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_cmpfloat (gtk_spin_button_get_value (child (f, "port_spin")), ==, 465);

  g_settings_set_string (f->elsewhere, "security", "tls");
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_cmpuint (adw_combo_row_get_selected (child (f, "security_row")), ==, 2);

  g_settings_set_boolean (f->elsewhere, "requires-auth", TRUE);
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_true (gtk_switch_get_active (child (f, "auth_switch")));
}

/* A key the administrator locked makes its row insensitive, and unlocking gives it back. */
static void
test_locked_key_insensitive (Fixture       *f,
                             gconstpointer  data)
{
  static const struct { const char *key; const char *widget; } rows[] = {
    { "server", "server_row" },
    { "port", "port_row" },
    { "security", "security_row" },
    { "requires-auth", "auth_row" },
    { "sender", "sender_row" },
    { "local-recipient", "local_recipient_row" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autofree char *path = g_strconcat (KEY_PATH, rows[i].key, NULL);
      GtkWidget *widget = child (f, rows[i].widget);

      g_test_message ("key %s", rows[i].key);
      g_assert_true (gtk_widget_get_sensitive (widget));
      relay_test_backend_lock (f->backend, path, TRUE);
      while (g_main_context_iteration (NULL, FALSE));
      g_assert_false (gtk_widget_get_sensitive (widget));
      relay_test_backend_lock (f->backend, path, FALSE);
      while (g_main_context_iteration (NULL, FALSE));
      g_assert_true (gtk_widget_get_sensitive (widget));
    }

  /* The user name also depends on the switch: locked stays insensitive even with auth on. */
  g_settings_set_boolean (f->settings, "requires-auth", TRUE);
  g_assert_true (gtk_widget_get_sensitive (child (f, "username_row")));
  relay_test_backend_lock (f->backend, KEY_PATH "username", TRUE);
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_false (gtk_widget_get_sensitive (child (f, "username_row")));
  g_assert_true (gtk_widget_get_sensitive (child (f, "password_row")));
}

/* A value stored behind the window's back that GSettings ignores (`dconf write` of port
 * 70000, security 'ssl3' in an administrator's database): the rows show the defaults, so the
 * window says which value is ignored and why, from the start and as soon as it is stored, and
 * "Use Defaults" stores the defaults in its place. */
static void
test_unusable_setting (Fixture       *f,
                       gconstpointer  data)
{
  GSettingsBackend *backend = G_SETTINGS_BACKEND (f->backend);
  GtkWidget *group = child (f, "settings_problem_group");
  const char *text;
  g_autoptr(GVariant) security = NULL;

  g_assert_false (gtk_widget_get_visible (group));
  G_SETTINGS_BACKEND_GET_CLASS (backend)->write (backend, KEY_PATH "port",
                                                 g_variant_new_int32 (70000), NULL);
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_true (gtk_widget_get_visible (group));
  text = gtk_label_get_text (child (f, "settings_problem_label"));
  g_assert_nonnull (strstr (text, "(port) holds 70000"));
  g_assert_null (strstr (text, "security"));

  /* An administrator's value, which a reset leaves in force; a window opened now says both */
  relay_test_backend_set_system (f->backend, KEY_PATH "security", g_variant_new_string ("ssl3"));
  gtk_window_destroy (GTK_WINDOW (f->window));
  set_window (f, relay_window_new (NULL, f->settings));
  gtk_window_present (GTK_WINDOW (f->window));
  group = child (f, "settings_problem_group");
  g_assert_true (gtk_widget_get_visible (group));
  text = gtk_label_get_text (child (f, "settings_problem_label"));
  g_assert_nonnull (strstr (text, "(port) holds 70000"));
  g_assert_nonnull (strstr (text, "holds 'ssl3', which is not one of 'none', 'starttls', 'tls'"));
  g_assert_cmpuint (adw_combo_row_get_selected (child (f, "security_row")), ==,
                    RELAY_SECURITY_STARTTLS);

  gtk_widget_grab_focus (child (f, "settings_problem_button"));
  g_signal_emit_by_name (child (f, "settings_problem_button"), "clicked");
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_false (gtk_widget_get_visible (group));
  security = g_settings_get_user_value (f->settings, "security");
  g_assert_nonnull (security);
  g_assert_cmpstr (g_variant_get_string (security, NULL), ==, "starttls");
  g_assert_null (g_settings_get_user_value (f->settings, "port"));
  /* The button went with the group; the focus did not go with it */
  g_assert_true (gtk_widget_is_ancestor (gtk_root_get_focus (GTK_ROOT (f->window)),
                                         child (f, "server_row")));
}

/* An unusable value that an administrator set and locked: the window still says it, but offers
 * no "Use Defaults" that could not store them; once the lock goes, it does. */
static void
test_unusable_setting_locked (Fixture       *f,
                              gconstpointer  data)
{
  GtkWidget *group;
  GtkWidget *button;

  relay_test_backend_set_system (f->backend, KEY_PATH "security", g_variant_new_string ("ssl3"));
  relay_test_backend_lock (f->backend, KEY_PATH "security", TRUE);
  while (g_main_context_iteration (NULL, FALSE));
  group = child (f, "settings_problem_group");
  button = child (f, "settings_problem_button");
  g_assert_true (gtk_widget_get_visible (group));
  g_assert_nonnull (strstr (gtk_label_get_text (child (f, "settings_problem_label")),
                            "holds 'ssl3'"));
  g_assert_false (gtk_widget_get_visible (button));

  relay_test_backend_lock (f->backend, KEY_PATH "security", FALSE);
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_true (gtk_widget_get_visible (button));
  g_signal_emit_by_name (button, "clicked");
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_false (gtk_widget_get_visible (group));
}

/* The user name and password rows are usable only when the server requires authentication. */
static void
test_auth_switch_sensitivity (Fixture       *f,
                              gconstpointer  data)
{
  GtkWidget *username = child (f, "username_row");
  GtkWidget *password = child (f, "password_row");

  g_assert_false (gtk_switch_get_active (child (f, "auth_switch")));
  g_assert_false (gtk_widget_get_sensitive (username));
  g_assert_false (gtk_widget_get_sensitive (password));

  gtk_switch_set_active (child (f, "auth_switch"), TRUE);
  g_assert_true (gtk_widget_get_sensitive (username));
  g_assert_true (gtk_widget_get_sensitive (password));

  g_settings_set_boolean (f->elsewhere, "requires-auth", FALSE);
  while (g_main_context_iteration (NULL, FALSE));
  g_assert_false (gtk_widget_get_sensitive (username));
  g_assert_false (gtk_widget_get_sensitive (password));
}

/* Sending the password in clear text is offered, and only as an explicit opt-in, when the
 * connection security is None. */
static void
test_plaintext_opt_in (Fixture       *f,
                       gconstpointer  data)
{
  GtkWidget *row = child (f, "plaintext_row");

  g_assert_false (gtk_widget_get_visible (row));
  g_settings_set_boolean (f->settings, "requires-auth", TRUE);
  g_assert_false (gtk_widget_get_visible (row));
  adw_combo_row_set_selected (child (f, "security_row"), 0);
  g_assert_true (gtk_widget_get_visible (row));
  g_assert_false (gtk_switch_get_active (child (f, "plaintext_switch")));

  gtk_switch_set_active (child (f, "plaintext_switch"), TRUE);
  g_assert_true (g_settings_get_boolean (f->elsewhere, "allow-plaintext-auth"));

  adw_combo_row_set_selected (child (f, "security_row"), 1);
  g_assert_false (gtk_widget_get_visible (row));
  gtk_switch_set_active (child (f, "auth_switch"), FALSE);
  adw_combo_row_set_selected (child (f, "security_row"), 0);
  g_assert_false (gtk_widget_get_visible (row));
}

/* An invalid sender shows the inline error; a valid one clears it. */
static void
test_sender_validation (Fixture       *f,
                        gconstpointer  data)
{
  GtkWidget *row = child (f, "sender_row");
  GtkLabel *label = child (f, "sender_error_label");

  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (label)));

  gtk_editable_set_text (GTK_EDITABLE (row), "alerts@localhost");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (label)));
  g_assert_true (gtk_widget_has_css_class (row, "error"));
  g_assert_nonnull (strstr (gtk_label_get_text (label), "fully qualified"));

  gtk_editable_set_text (GTK_EDITABLE (row), "alerts example.com");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (label)));
  g_assert_nonnull (strstr (gtk_label_get_text (label), "@"));
  /* A screen reader hears why, not only "invalid" (GTK 4.8 describes nothing by relation). */
  gtk_test_accessible_assert_property (row, GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                       gtk_label_get_text (label));

  /* What the user typed is kept, even while invalid. */
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "alerts example.com");

  gtk_editable_set_text (GTK_EDITABLE (row), "alerts@bücher.example");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (label)));
  g_assert_false (gtk_widget_has_css_class (row, "error"));
  g_assert_false (gtk_test_accessible_has_property (GTK_ACCESSIBLE (row),
                                                    GTK_ACCESSIBLE_PROPERTY_DESCRIPTION));

  /* An invalid value that arrives through GSettings is flagged too. */
  g_settings_set_string (f->elsewhere, "sender", "root@@example.com");
  wait_until (is_visible, label, 2000);
}

/* The local mail recipient is checked like the sender; empty is allowed (mail to "root" is then
 * refused by sendmail), a local name is not an address. */
static void
test_local_recipient_validation (Fixture       *f,
                                 gconstpointer  data)
{
  GtkWidget *row = child (f, "local_recipient_row");
  GtkLabel *label = child (f, "local_recipient_error_label");
  g_autofree char *stored = NULL;

  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (label)));

  gtk_editable_set_text (GTK_EDITABLE (row), "root");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (label)));
  g_assert_true (gtk_widget_has_css_class (row, "error"));
  g_assert_nonnull (strstr (gtk_label_get_text (label), "@"));
  gtk_test_accessible_assert_state (row, GTK_ACCESSIBLE_STATE_INVALID, GTK_ACCESSIBLE_INVALID_TRUE);
  /* The sender is another row: its error stays hidden. */
  g_assert_false (gtk_widget_get_visible (child (f, "sender_error_label")));
  /* What the user typed is kept, even while invalid. */
  stored = g_settings_get_string (f->elsewhere, "local-recipient");
  g_assert_cmpstr (stored, ==, "root");

  gtk_editable_set_text (GTK_EDITABLE (row), "admin@example.com");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (label)));
  g_assert_false (gtk_widget_has_css_class (row, "error"));
  gtk_test_accessible_assert_state (row, GTK_ACCESSIBLE_STATE_INVALID,
                                    GTK_ACCESSIBLE_INVALID_FALSE);

  gtk_editable_set_text (GTK_EDITABLE (row), "");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (label)));

  /* An invalid value that arrives through GSettings is flagged too. */
  g_settings_set_string (f->elsewhere, "local-recipient", "admin@localhost");
  wait_until (is_visible, label, 2000);
  g_assert_nonnull (strstr (gtk_label_get_text (label), "fully qualified"));
}

/* The port row says which port an empty field means, for the chosen security. */
static void
test_port_default_shown (Fixture       *f,
                         gconstpointer  data)
{
  AdwActionRow *row = child (f, "port_row");
  GtkSpinButton *spin = child (f, "port_spin");

  g_assert_nonnull (strstr (adw_action_row_get_subtitle (row), "587"));
  adw_combo_row_set_selected (child (f, "security_row"), 0);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (row), "25"));
  adw_combo_row_set_selected (child (f, "security_row"), 2);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (row), "465"));

  /* 0 is shown as an empty field, and typing nothing means 0 again. */
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (spin)), ==, "");
  gtk_editable_set_text (GTK_EDITABLE (spin), "2525");
  gtk_spin_button_update (spin);
  g_assert_cmpfloat (gtk_spin_button_get_value (spin), ==, 2525);
  gtk_editable_set_text (GTK_EDITABLE (spin), "");
  gtk_spin_button_update (spin);
  g_assert_cmpfloat (gtk_spin_button_get_value (spin), ==, 0);
}

/* DNS warning */

typedef struct
{
  GtkLabel   *label;
  const char *needle;
} LabelCheck;

static gboolean
label_shows (gpointer data)
{
  LabelCheck *check = data;

  return gtk_widget_get_visible (gtk_widget_get_parent (GTK_WIDGET (check->label))) &&
         strstr (gtk_label_get_text (check->label), check->needle) != NULL;
}

/* The height of the Server group (its row and the line under it) at a given width. */
static int
server_group_height (Fixture *f)
{
  int minimum, natural;

  GtkWidget *group = gtk_widget_get_ancestor (child (f, "dns_status_box"),
                                              ADW_TYPE_PREFERENCES_GROUP);

  gtk_widget_measure (group, GTK_ORIENTATION_VERTICAL, 600, &minimum, &natural, NULL, NULL);
  return natural;
}

/* The warning under the server row follows the name's DNS state, and clears by itself. */
static void
test_dns_warning (Fixture       *f,
                  gconstpointer  data)
{
  GtkLabel *label = child (f, "dns_warning_label");
  LabelCheck not_found = { label, "The IP address of specified SMTP server cannot be resolved" };
  LabelCheck spelling = { label, "does not exist" };
  LabelCheck no_dns = { label, "not responding" };
  LabelCheck addresses = { label, "192.0.2.10, 2001:db8::10" };
  LabelCheck invalid = { label, "hyphen" };
  LabelCheck ip = { label, "An IP address" };
  LabelCheck no_server = { label, "No server set" };
  int one_line;

  relay_mock_resolver_set_error (f->resolver, "nx.example.com", 0, G_RESOLVER_ERROR_NOT_FOUND);
  relay_mock_resolver_set_error (f->resolver, "down.example.com", 0,
                                 G_RESOLVER_ERROR_TEMPORARY_FAILURE);
  relay_mock_resolver_set_addresses (f->resolver, "smtp.example.com", 0,
                                     "192.0.2.10", "2001:db8::10", NULL);

  /* The line is always there: the rows below do not move while a name is typed. */
  g_assert_true (label_shows (&no_server));
  one_line = server_group_height (f);
  /* "No server set yet" is no Tab stop; a warning can be selected and copied. */
  g_assert_false (gtk_widget_get_focusable (GTK_WIDGET (label)));

  gtk_editable_set_text (child (f, "server_row"), "nx.example.com");
  wait_until (label_shows, &not_found, 5000);
  g_assert_true (label_shows (&spelling));
  g_assert_true (gtk_label_get_selectable (label));
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (label), "warning"));

  gtk_editable_set_text (child (f, "server_row"), "down.example.com");
  wait_until (label_shows, &no_dns, 5000);
  g_assert_true (label_shows (&not_found));

  /* While a name is typed the line does not change at each keystroke (a screen reader reads
   * an alert out whenever it changes). */
  gtk_editable_set_text (child (f, "server_row"), "smtp.exam");
  while (g_main_context_iteration (NULL, FALSE))
    ;
  {
    g_autofree char *typing = g_strdup (gtk_label_get_text (label));

    gtk_editable_set_text (child (f, "server_row"), "smtp.examp");
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_assert_cmpstr (gtk_label_get_text (label), ==, typing);
    g_assert_null (strstr (typing, "smtp.exam"));
  }
  gtk_editable_set_text (child (f, "server_row"), "smtp.example.com");
  wait_until (label_shows, &addresses, 5000);
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (label), "warning"));
  g_assert_cmpint (server_group_height (f), ==, one_line);

  /* An IP address needs no lookup: the line says so, in the same place. */
  gtk_editable_set_text (child (f, "server_row"), "192.0.2.7");
  wait_until (label_shows, &ip, 5000);
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (label), "warning"));
  g_assert_cmpint (server_group_height (f), ==, one_line);

  gtk_editable_set_text (child (f, "server_row"), "-bad-.example.com");
  wait_until (label_shows, &invalid, 5000);

  gtk_editable_set_text (child (f, "server_row"), "");
  wait_until (label_shows, &no_server, 5000);
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (label), "error"));
  g_assert_cmpint (server_group_height (f), ==, one_line);
}

/* An internationalised name is shown as sent, and a lookalike that mixes alphabets is flagged. */
static void
test_server_note (Fixture       *f,
                  gconstpointer  data)
{
  GtkLabel *label = child (f, "server_note_label");
  GtkWidget *box = child (f, "server_note_box");

  g_assert_false (gtk_widget_get_visible (box));

  gtk_editable_set_text (child (f, "server_row"), "bücher.example");
  g_assert_true (gtk_widget_get_visible (box));
  g_assert_nonnull (strstr (gtk_label_get_text (label), "xn--bcher-kva.example"));
  g_assert_false (gtk_widget_get_visible (child (f, "server_note_icon")));

  /* "раypal.com": the first two letters are Cyrillic */
  gtk_editable_set_text (child (f, "server_row"), "\xd1\x80\xd0\xb0ypal.com");
  g_assert_true (gtk_widget_get_visible (box));
  g_assert_true (gtk_widget_get_visible (child (f, "server_note_icon")));
  g_assert_cmpstr (gtk_label_get_text (label), !=, "");

  gtk_editable_set_text (child (f, "server_row"), "smtp.example.com");
  g_assert_false (gtk_widget_get_visible (box));
}

/* When DNS comes back, the warning goes away without the user doing anything. */
static void
test_dns_warning_clears (Fixture       *f,
                         gconstpointer  data)
{
  GtkLabel *label = child (f, "dns_warning_label");
  LabelCheck no_dns = { label, "not responding" };
  LabelCheck resolved = { label, "192.0.2.25" };

  relay_mock_resolver_set_error (f->resolver, "flaky.example.com", 0,
                                 G_RESOLVER_ERROR_TEMPORARY_FAILURE);
  g_settings_set_string (f->elsewhere, "server", "flaky.example.com");
  wait_until (label_shows, &no_dns, 5000);

  relay_mock_resolver_set_addresses (f->resolver, "flaky.example.com", 0, "192.0.2.25", NULL);
  /* The first retry comes a few seconds later. */
  wait_until (label_shows, &resolved, 15000);
}

/* Test button */

static void
configure_relay (Fixture    *f,
                 const char *server,
                 guint16     port)
{
  g_settings_set_string (f->settings, "server", server);
  g_settings_set (f->settings, "port", "q", port);
  g_settings_set_string (f->settings, "security", "none");
  g_settings_set_string (f->settings, "sender", "alerts@example.com");
  gtk_editable_set_text (child (f, "test_recipient_row"), "admin@example.com");
}

static gboolean
test_finished (gpointer data)
{
  Fixture *f = data;

  return gtk_widget_get_visible (child (f, "test_result_box")) &&
         !gtk_widget_get_visible (child (f, "test_progress_box"));
}

/* gtk_widget_activate() on a button clicks only after its press animation: click at once. */
static void
click (GtkButton *button)
{
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (button)));
  g_signal_emit_by_name (button, "clicked");
}

static guint16
closed_port (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  /* Closed again when the listener goes: nothing listens on the port afterwards. */
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static gboolean
result_hidden (gpointer data)
{
  Fixture *f = data;

  return !gtk_widget_get_visible (child (f, "test_result_box"));
}

/* GTK 4.8 adds the raw mnemonic label to a button's name ("_Close Close") unless
 * relay_a11y_fix_button_names() went over it: in dialogs and toasts as in the window. */
static void
assert_buttons_named_once (GtkWidget *root)
{
  if (gtk_get_minor_version () != 8)
    return;
  if (GTK_IS_BUTTON (root) && gtk_button_get_use_underline (GTK_BUTTON (root))
      && gtk_button_get_label (GTK_BUTTON (root)) != NULL)
    {
      g_test_message ("button %s", gtk_button_get_label (GTK_BUTTON (root)));
      g_assert_false (gtk_test_accessible_has_property (GTK_ACCESSIBLE (root),
                                                        GTK_ACCESSIBLE_PROPERTY_LABEL));
    }
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    assert_buttons_named_once (c);
}

/* Labels that show host names break them without inserting a hyphen ("mail.exam-ple.org" at
 * large text sizes): a hyphen is a legal character in a host name. */
static gboolean
inserts_no_hyphens (GtkLabel *label)
{
  PangoAttrList *attrs = gtk_label_get_attributes (label);
  PangoAttrIterator *iter = attrs != NULL ? pango_attr_list_get_iterator (attrs) : NULL;
  PangoAttribute *attr = iter != NULL ? pango_attr_iterator_get (iter, PANGO_ATTR_INSERT_HYPHENS)
                                      : NULL;
  gboolean none = attr != NULL && !((PangoAttrInt *) attr)->value;

  g_clear_pointer (&iter, pango_attr_iterator_destroy);
  return none;
}

static void
assert_no_hyphens (GtkWidget *root)
{
  if (GTK_IS_LABEL (root) && gtk_label_get_selectable (GTK_LABEL (root)))
    g_assert_true (inserts_no_hyphens (GTK_LABEL (root)));
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    assert_no_hyphens (c);
}

static GtkWidget *
focus_of (Fixture *f)
{
  return gtk_root_get_focus (GTK_ROOT (f->window));
}

/* a user who moves on while the test runs (types in another row) keeps the focus
 * there when the result comes. */
static void
test_test_focus_moved_away (Fixture       *f,
                            gconstpointer  data)
{
  GtkWidget *row = child (f, "server_row");

  configure_relay (f, "127.0.0.1", closed_port ());
  gtk_widget_grab_focus (child (f, "test_button"));
  click (child (f, "test_button"));
  g_assert_true (focus_of (f) == child (f, "test_cancel_button"));
  gtk_widget_grab_focus (row);
  wait_until (test_finished, f, 10000);
  g_assert_true (gtk_widget_is_ancestor (focus_of (f), row) || focus_of (f) == row);
}

/* A test against a port where nothing listens ends in a clear failure, not a hang. */
static void
test_test_refused (Fixture       *f,
                   gconstpointer  data)
{
  GtkLabel *message = child (f, "test_result_message");

  configure_relay (f, "127.0.0.1", closed_port ());
  /* From the Test button, the keyboard's focus follows the test: Cancel while it runs (Test
   * is made insensitive), the outcome after (a screen reader reads it out); not nowhere. */
  gtk_widget_grab_focus (child (f, "test_button"));
  click (child (f, "test_button"));
  g_assert_true (focus_of (f) == child (f, "test_cancel_button"));
  wait_until (test_finished, f, 10000);
  g_assert_true (focus_of (f) == GTK_WIDGET (message));
  g_assert_true (inserts_no_hyphens (message));
  g_assert_true (inserts_no_hyphens (child (f, "dns_warning_label")));
  g_assert_true (inserts_no_hyphens (child (f, "server_note_label")));

  g_assert_cmpstr (gtk_label_get_text (child (f, "test_result_title")), ==, "Test failed");
  g_assert_nonnull (strstr (gtk_label_get_text (message), "refused"));
  g_assert_true (gtk_widget_has_css_class (child (f, "test_result_icon"), "error"));
  g_assert_true (gtk_widget_get_visible (child (f, "test_result_hint")));
  g_assert_true (gtk_widget_get_sensitive (child (f, "test_button")));

  /* The result describes the settings it was made with: not the recipient's, but another
   * port's, another password's. */
  gtk_editable_set_text (child (f, "test_recipient_row"), "other@example.com");
  g_assert_true (gtk_widget_get_visible (child (f, "test_result_box")));
  g_settings_set (f->elsewhere, "port", "q", closed_port ());
  wait_until (result_hidden, f, 5000);
  click (child (f, "test_button"));
  wait_until (test_finished, f, 10000);
  gtk_editable_set_text (child (f, "password_row"), "another password");
  g_assert_false (gtk_widget_get_visible (child (f, "test_result_box")));
}

/* A name that does not resolve is reported as such, not as a connection failure. */
static void
test_test_unresolvable (Fixture       *f,
                        gconstpointer  data)
{
  const char *message;

  relay_mock_resolver_set_error (f->resolver, "nx.example.com", 0, G_RESOLVER_ERROR_NOT_FOUND);
  configure_relay (f, "nx.example.com", 25);
  click (child (f, "test_button"));
  wait_until (test_finished, f, 10000);

  message = gtk_label_get_text (child (f, "test_result_message"));
  g_assert_nonnull (strstr (message, "cannot be resolved"));
  g_assert_null (strstr (message, "refused"));
}

/* A scripted relay accepts the message: the window says so, with the server's own words. */
static void
test_test_success (Fixture       *f,
                   gconstpointer  data)
{
  const char * const script[] = {
    "> 220 relay.example.test ESMTP\r\n",
    "< EHLO",
    "> 250-relay.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
    "<< 3",
    "> 250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n",
    "data",
    "> 250 2.0.0 Ok: queued as 7C2D\r\n",
    "< QUIT",
    "> 221 2.0.0 Bye\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  g_autofree char *recipient = NULL;
  GtkTextBuffer *buffer;
  g_autofree char *transcript = NULL;
  GtkTextIter start, end;
  g_autofree char *typed_port = g_strdup_printf ("%u", script_server_get_port (server));
  guint16 port;

  /* The port field holds the server's port, typed but not committed (no Enter, focus kept):
   * Ctrl+T tests what is on screen, and saves it. */
  configure_relay (f, "127.0.0.1", closed_port ());
  gtk_editable_set_text (child (f, "port_spin"), typed_port);
  gtk_editable_set_text (child (f, "test_recipient_row"), "oncall@example.org");
  gtk_widget_activate_action (GTK_WIDGET (f->window), "win.send-test", NULL);
  g_assert_true (gtk_widget_get_visible (child (f, "test_progress_box")));
  g_assert_false (gtk_widget_get_sensitive (child (f, "test_button")));
  g_settings_get (f->elsewhere, "port", "q", &port);
  g_assert_cmpuint (port, ==, script_server_get_port (server));
  /* The recipient is remembered for the next test. */
  recipient = g_settings_get_string (f->elsewhere, "test-recipient");
  g_assert_cmpstr (recipient, ==, "oncall@example.org");
  /* Edited while the test runs: the result still names the address the test went to. */
  gtk_editable_set_text (child (f, "test_recipient_row"), "other@example.org");
  wait_until (test_finished, f, 10000);

  g_assert_cmpstr (gtk_label_get_text (child (f, "test_result_title")), ==, "Test message sent");
  g_assert_nonnull (strstr (gtk_label_get_text (child (f, "test_result_message")),
                            "queued as 7C2D"));
  g_assert_nonnull (strstr (gtk_label_get_text (child (f, "test_result_message")),
                            "for oncall@example.org"));
  g_assert_true (gtk_widget_has_css_class (child (f, "test_result_icon"), "success"));
  g_assert_nonnull (strstr (script_server_get_data (server), "Subject: SMTP Relay test message"));
  g_assert_nonnull (strstr (script_server_get_data (server), "From: "));

  buffer = gtk_text_view_get_buffer (child (f, "transcript_view"));
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  transcript = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_assert_nonnull (strstr (transcript, "MAIL FROM:<alerts@example.com>"));
}

/* The Test connects to the addresses that the line under the server row shows: no second DNS
 * query on the way. */
static void
test_test_reuses_lookup (Fixture       *f,
                         gconstpointer  data)
{
  const char * const script[] = {
    "> 220 relay.example.test ESMTP\r\n",
    "< EHLO",
    "> 554 5.7.1 enough for this test\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);
  LabelCheck resolved = { child (f, "dns_warning_label"), "127.0.0.1" };
  GtkTextBuffer *buffer;
  g_autofree char *transcript = NULL;
  GtkTextIter start, end;

  relay_mock_resolver_set_addresses (f->resolver, "relay.example.test", 0, "127.0.0.1", NULL);
  configure_relay (f, "relay.example.test", script_server_get_port (server));
  wait_until (label_shows, &resolved, 5000);
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "relay.example.test"), ==, 1);

  click (child (f, "test_button"));
  wait_until (test_finished, f, 10000);

  /* The server's refusal shows that the test got through to it, without a new lookup. */
  g_assert_nonnull (strstr (gtk_label_get_text (child (f, "test_result_message")), "5.7.1"));
  g_assert_cmpuint (relay_mock_resolver_get_lookups (f->resolver, "relay.example.test"), ==, 1);
  buffer = gtk_text_view_get_buffer (child (f, "transcript_view"));
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  transcript = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_assert_nonnull (strstr (transcript, "relay.example.test was looked up just before: 127.0.0.1"));
}

/* Bad input is refused before any connection, and nothing the user typed is lost. */
static void
test_test_invalid_recipient (Fixture       *f,
                             gconstpointer  data)
{
  configure_relay (f, "127.0.0.1", closed_port ());
  gtk_editable_set_text (child (f, "test_recipient_row"), "admin@example.com\r\nRCPT TO:<x@y.z>");
  click (child (f, "test_button"));

  /* Decided on the spot: no connection was even started. */
  g_assert_true (test_finished (f));
  g_assert_cmpstr (gtk_label_get_text (child (f, "test_result_title")), ==, "Test failed");
  g_assert_nonnull (strstr (gtk_label_get_text (child (f, "test_result_message")), "recipient"));
  g_assert_nonnull (strstr (gtk_editable_get_text (child (f, "test_recipient_row")), "RCPT"));
}

/* "Server Requires Authentication" without a user name: a test would send without logging in
 * and pass against a lax server, while alerts fail at a strict one. Refused on the spot. */
static void
test_test_login_without_user (Fixture       *f,
                              gconstpointer  data)
{
  configure_relay (f, "127.0.0.1", closed_port ());
  g_settings_set_boolean (f->settings, "requires-auth", TRUE);
  g_settings_set_string (f->settings, "username", "");
  click (child (f, "test_button"));

  g_assert_true (test_finished (f));
  g_assert_cmpstr (gtk_label_get_text (child (f, "test_result_title")), ==, "Test failed");
  g_assert_nonnull (strstr (gtk_label_get_text (child (f, "test_result_message")), "no user name"));

  /* Nor with a user name and no password (the keyring locked, or nothing entered yet). */
  g_settings_set_string (f->settings, "username", "alice");
  gtk_editable_set_text (child (f, "password_row"), "");
  click (child (f, "test_button"));
  g_assert_true (test_finished (f));
  g_assert_nonnull (strstr (gtk_label_get_text (child (f, "test_result_message")), "No password"));
}

/* A server that never answers: the test shows its progress and can be cancelled. */
static void
test_test_cancel (Fixture       *f,
                  gconstpointer  data)
{
  const char * const script[] = { NULL };   /* accepts, then stays silent */
  g_autoptr(ScriptServer) server = script_server_new (script);
  GtkLabel *progress = child (f, "test_progress_label");

  configure_relay (f, "127.0.0.1", script_server_get_port (server));
  click (child (f, "test_button"));
  g_assert_true (gtk_widget_get_visible (child (f, "test_progress_box")));
  spin_main_loop (300);
  g_assert_cmpstr (gtk_label_get_text (progress), !=, "");

  click (child (f, "test_cancel_button"));
  wait_until (test_finished, f, 5000);
  g_assert_cmpstr (gtk_label_get_text (child (f, "test_result_title")), ==, "Test cancelled");

  /* Cancelling a test leaves the rest of the window working: the DNS check still follows. */
  {
    LabelCheck not_found = { child (f, "dns_warning_label"), "does not exist" };

    relay_mock_resolver_set_error (f->resolver, "typo.example.com", 0,
                                   G_RESOLVER_ERROR_NOT_FOUND);
    gtk_editable_set_text (child (f, "server_row"), "typo.example.com");
    wait_until (label_shows, &not_found, 5000);
  }
}

/* Closing the window while a test runs: the answer must not reach destroyed widgets. */
static void
test_test_close_while_running (Fixture       *f,
                               gconstpointer  data)
{
  const char * const script[] = { NULL };
  g_autoptr(ScriptServer) server = script_server_new (script);

  configure_relay (f, "127.0.0.1", script_server_get_port (server));
  click (child (f, "test_button"));
  spin_main_loop (200);
  gtk_window_destroy (GTK_WINDOW (f->window));
  spin_main_loop (300);

  /* The fixture destroys a window again: give it a fresh one. */
  set_window (f, relay_window_new (NULL, f->settings));
}

/* Accessibility: every control has a name, and what changes by itself is announced. */
static void
test_accessible (Fixture       *f,
                 gconstpointer  data)
{
  static const char * const named[] = {
    "server_row", "port_row", "security_row", "auth_row", "username_row", "password_row",
    "plaintext_row", "sender_row", "local_recipient_row", "test_recipient_row",
  };
  /* libadwaita names each control after its row's title, as the row's activatable widget. */
  static const char * const in_rows[] = { "port_spin", "auth_switch", "plaintext_switch" };
  static const char * const buttons[] = {
    "test_button", "test_cancel_button", "copy_details_button", "trust_certificate_button",
    "queue_flush_button",
  };

  /* Named by libadwaita (labelled-by their title): a label property as well would make GTK 4.8
   * say each name twice ("Port Port"). */
  for (guint i = 0; i < G_N_ELEMENTS (named); i++)
    {
      g_test_message ("%s", named[i]);
      g_assert_true (gtk_test_accessible_has_relation (child (f, named[i]),
                                                       GTK_ACCESSIBLE_RELATION_LABELLED_BY));
      g_assert_false (gtk_test_accessible_has_property (child (f, named[i]),
                                                        GTK_ACCESSIBLE_PROPERTY_LABEL));
    }
  for (guint i = 0; i < G_N_ELEMENTS (in_rows); i++)
    {
      g_test_message ("%s", in_rows[i]);
      g_assert_true (gtk_test_accessible_has_relation (child (f, in_rows[i]),
                                                       GTK_ACCESSIBLE_RELATION_LABELLED_BY));
      g_assert_false (gtk_test_accessible_has_property (child (f, in_rows[i]),
                                                        GTK_ACCESSIBLE_PROPERTY_LABEL));
    }

  for (guint i = 0; i < G_N_ELEMENTS (buttons); i++)
    {
      const char *label = gtk_button_get_label (child (f, buttons[i]));

      g_test_message ("%s", buttons[i]);
      g_assert_true (label != NULL && *label != '\0');
      g_assert_true (gtk_button_get_use_underline (child (f, buttons[i])));
      /* GTK 4.8 would add the raw "_Test" to the name the label gives ("_Test Test"). */
      if (gtk_get_minor_version () == 8)
        g_assert_false (gtk_test_accessible_has_property (child (f, buttons[i]),
                                                          GTK_ACCESSIBLE_PROPERTY_LABEL));
    }

  /* libadwaita's icon button that shows the password would be named after its image's type,
   * "GtkImage"; it takes its tooltip's words, and follows them when it is pressed. */
  {
    GtkWidget *reveal = relay_a11y_find_reveal_button (child (f, "password_row"));

    g_assert_nonnull (reveal);
    gtk_test_accessible_assert_property (reveal, GTK_ACCESSIBLE_PROPERTY_LABEL, "Show Text");
    g_signal_emit_by_name (reveal, "clicked");
    gtk_test_accessible_assert_property (reveal, GTK_ACCESSIBLE_PROPERTY_LABEL, "Hide Text");
    g_signal_emit_by_name (reveal, "clicked");
  }

  /* The DNS warning and the test outcome are announced when they appear. */
  g_assert_true (gtk_test_accessible_has_role (child (f, "dns_warning_label"),
                                               GTK_ACCESSIBLE_ROLE_ALERT));
  g_assert_true (gtk_test_accessible_has_role (child (f, "test_result_title"),
                                               GTK_ACCESSIBLE_ROLE_ALERT));
  g_assert_true (gtk_test_accessible_has_role (child (f, "test_progress_label"),
                                               GTK_ACCESSIBLE_ROLE_STATUS));
  g_assert_true (gtk_test_accessible_has_relation (child (f, "server_row"),
                                                   GTK_ACCESSIBLE_RELATION_DESCRIBED_BY));
  g_assert_true (gtk_test_accessible_has_relation (child (f, "sender_row"),
                                                   GTK_ACCESSIBLE_RELATION_DESCRIBED_BY));
  g_assert_true (gtk_test_accessible_has_relation (child (f, "local_recipient_row"),
                                                   GTK_ACCESSIBLE_RELATION_DESCRIBED_BY));

  /* An invalid sender is flagged to assistive technologies too, not only in red; the dimmed
   * Detect button says what it needs. */
  gtk_editable_set_text (child (f, "sender_row"), "not an address");
  g_assert_false (gtk_widget_get_sensitive (child (f, "detect_button")));
  g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (child (f, "detect_button")),
                            "Enter a sender address"));
  g_assert_true (gtk_test_accessible_has_state (child (f, "sender_row"),
                                                GTK_ACCESSIBLE_STATE_INVALID));
  gtk_test_accessible_assert_state (child (f, "sender_row"), GTK_ACCESSIBLE_STATE_INVALID,
                                    GTK_ACCESSIBLE_INVALID_TRUE);
  gtk_editable_set_text (child (f, "sender_row"), "alerts@example.com");
  gtk_test_accessible_assert_state (child (f, "sender_row"), GTK_ACCESSIBLE_STATE_INVALID,
                                    GTK_ACCESSIBLE_INVALID_FALSE);
}

/* Queue */

static gboolean
group_hidden (gpointer data)
{
  return !gtk_widget_get_visible (data);
}

typedef struct
{
  AdwActionRow *row;
  const char   *needle;
} SubtitleCheck;

static gboolean
subtitle_shows (gpointer data)
{
  SubtitleCheck *check = data;
  const char *subtitle = adw_action_row_get_subtitle (check->row);

  return subtitle != NULL && strstr (subtitle, check->needle) != NULL;
}

/* What `smtp-relay send` leaves in the queue when the relay does not answer. */
static void
queue_alert (const char *subject,
             const char *body)
{
  const char *to[] = { "oncall@example.org", NULL };
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  message = relay_smtp_message_new ("alerts@example.com", NULL, to, subject, body, &error);
  g_assert_no_error (error);
  g_assert_true (relay_queue_add (message, "the relay did not answer", NULL, &error));
  g_assert_no_error (error);
}

/* Messages that scripts queued are shown, and "Send Now" delivers them through the relay. */
static void
test_queue_send_now (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(ScriptServer) server = NULL;
  GtkWidget *group;

  queue_alert ("Disk /dev/sda failing", "SMART says so.\n");

  /* A window that opens with a message waiting shows it (the relay is not set yet), once it
   * is on screen: the queue is not read on the start-up path. */
  gtk_window_destroy (GTK_WINDOW (f->window));
  set_window (f, relay_window_new (NULL, f->settings));
  gtk_window_present (GTK_WINDOW (f->window));
  group = child (f, "queue_group");
  wait_until (is_visible, group, 5000);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (child (f, "queue_row")), "1 message"));
  spin_main_loop (300);   /* the start-up flush fails: no server */
  g_assert_true (gtk_widget_get_visible (group));

  /* A relay that refuses: "Send Now" says why the message still waits, under the row. */
  {
    SubtitleCheck why = { child (f, "queue_row"), "Last attempt: 127.0.0.1 port" };

    configure_relay (f, "127.0.0.1", closed_port ());
    /* from the keyboard: the focus stays in the row, not nowhere (the next Tab would start at
     * the top of the window) */
    gtk_widget_grab_focus (child (f, "queue_flush_button"));
    click (child (f, "queue_flush_button"));
    wait_until (subtitle_shows, &why, 10000);
    g_assert_nonnull (strstr (adw_action_row_get_subtitle (child (f, "queue_row")), "refused"));
    g_assert_true (gtk_window_get_focus (GTK_WINDOW (f->window)) == child (f, "queue_row"));
  }

  server = script_server_new (script_accept_one);
  configure_relay (f, "127.0.0.1", script_server_get_port (server));
  gtk_widget_grab_focus (child (f, "queue_flush_button"));
  click (child (f, "queue_flush_button"));
  wait_until (group_hidden, group, 10000);
  /* the row is gone: the group below has the focus */
  g_assert_nonnull (gtk_window_get_focus (GTK_WINDOW (f->window)));
  g_assert_true (gtk_widget_is_ancestor (gtk_window_get_focus (GTK_WINDOW (f->window)),
                                         child (f, "test_group")));
  g_assert_nonnull (strstr (script_server_get_data (server), "Subject: Disk /dev/sda failing"));
  g_assert_cmpuint (relay_queue_count (NULL), ==, 0);
}

/* Messages that wait are tried again while the window is open, without Send Now: the systemd
 * timer is not enabled by default, and the relay may come back at any time. */
static void
test_queue_retried (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(ScriptServer) server = NULL;
  SubtitleCheck why = { NULL, "Last attempt: 127.0.0.1 port" };

  queue_alert ("RAID degraded", "md0: 1 of 2 disks\n");
  configure_relay (f, "127.0.0.1", closed_port ());

  gtk_window_destroy (GTK_WINDOW (f->window));
  set_window (f, relay_window_new (NULL, f->settings));
  relay_window_set_queue_retry_interval (f->window, 200);
  gtk_window_present (GTK_WINDOW (f->window));
  why.row = child (f, "queue_row");
  wait_until (subtitle_shows, &why, 10000);   /* the start-up flush: refused */

  /* The relay comes back: the next retry delivers, nobody clicks. */
  server = script_server_new (script_accept_one);
  configure_relay (f, "127.0.0.1", script_server_get_port (server));
  wait_until (group_hidden, child (f, "queue_group"), 10000);
  g_assert_nonnull (strstr (script_server_get_data (server), "Subject: RAID degraded"));
  g_assert_cmpuint (relay_queue_count (NULL), ==, 0);
}

/* a message that a script queues while the window is open (the relay just went down)
 * is tried again too, as the row and the command line promise. */
static void
test_queue_retried_when_queued_while_open (Fixture       *f,
                                           gconstpointer  data)
{
  g_autoptr(ScriptServer) server = NULL;

  gtk_window_destroy (GTK_WINDOW (f->window));
  set_window (f, relay_window_new (NULL, f->settings));
  relay_window_set_queue_retry_interval (f->window, 200);
  gtk_window_present (GTK_WINDOW (f->window));
  spin_main_loop (2000);   /* the start-up flush: nothing waits */

  queue_alert ("RAID degraded", "md0: 1 of 2 disks\n");
  wait_until (is_visible, child (f, "queue_group"), 5000);
  /* Before the window has tried it, why `send` queued it. */
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (child (f, "queue_row")),
                            "Last attempt: the relay did not answer"));

  server = script_server_new (script_accept_one);
  configure_relay (f, "127.0.0.1", script_server_get_port (server));
  wait_until (group_hidden, child (f, "queue_group"), 10000);
  g_assert_cmpuint (relay_queue_count (NULL), ==, 0);
}

/* Keyboard: Tab alone reaches every control a user needs, in order, from the top. */
static void
test_keyboard_reach (Fixture       *f,
                     gconstpointer  data)
{
  static const char * const controls[] = {
    "server_row", "detect_button", "port_spin", "security_row", "auth_switch", "username_row",
    "password_row", "sender_row", "local_recipient_row", "test_recipient_row", "test_button",
  };
  gboolean reached[G_N_ELEMENTS (controls)] = { FALSE, };

  /* Make every control usable: the auth rows need the switch, Detect a valid sender. */
  g_settings_set_boolean (f->settings, "requires-auth", TRUE);
  g_settings_set_string (f->settings, "sender", "alerts@example.com");
  while (g_main_context_iteration (NULL, FALSE));

  for (guint step = 0; step < 60; step++)
    {
      GtkWidget *focus;

      if (!gtk_widget_child_focus (GTK_WIDGET (f->window), GTK_DIR_TAB_FORWARD))
        break;
      focus = gtk_root_get_focus (GTK_ROOT (f->window));
      for (guint i = 0; i < G_N_ELEMENTS (controls); i++)
        {
          GtkWidget *control = child (f, controls[i]);

          if (focus == control || (focus != NULL && gtk_widget_is_ancestor (focus, control)))
            reached[i] = TRUE;
        }
    }

  for (guint i = 0; i < G_N_ELEMENTS (controls); i++)
    {
      g_test_message ("%s", controls[i]);
      g_assert_true (reached[i]);
    }
}

/* Keyboard: every Alt+letter of the window reaches one control only (test-i18n checks the
 * translations). */
static void
test_keyboard_mnemonics (Fixture       *f,
                         gconstpointer  data)
{
  relay_test_assert_unique_mnemonics (GTK_WIDGET (f->window), child (f, "test_group"));
  /* The keyring-failure toast's button (relay-window.c). */
  relay_test_assert_toast_mnemonic_free (GTK_WIDGET (f->window), "Try A_gain");
  /* The refused-for-good toast's (test_refused_toast_details()). */
  relay_test_assert_toast_mnemonic_free (GTK_WIDGET (f->window), "Deta_ils");
}

static gboolean
find_shortcuts_window (gpointer data)
{
  GtkWindow **found = data;

  *found = relay_test_find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);
  return *found != NULL;
}

/* Built on first use, for this window; closing hides it for next time; it goes with the window. */
static void
test_shortcuts_window (Fixture       *f,
                       gconstpointer  data)
{
  GtkWindow *shortcuts = NULL;
  GtkWindow *again = NULL;

  g_assert_false (find_shortcuts_window (&shortcuts));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.show-help-overlay",
                                             NULL));
  g_assert_true (find_shortcuts_window (&shortcuts));
  g_assert_true (gtk_window_get_transient_for (shortcuts) == GTK_WINDOW (f->window));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (shortcuts)));
  g_assert_cmpstr (gtk_window_get_title (shortcuts), ==, "Keyboard Shortcuts");

  gtk_window_close (shortcuts);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (shortcuts)));
  gtk_widget_activate_action (GTK_WIDGET (f->window), "win.show-help-overlay", NULL);
  g_assert_true (find_shortcuts_window (&again));
  g_assert_true (again == shortcuts);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (shortcuts)));

  gtk_window_destroy (GTK_WINDOW (f->window));
  set_window (f, NULL);
  g_assert_false (find_shortcuts_window (&again));
}

/* Detect */

static gboolean
find_message_dialog (gpointer data)
{
  AdwMessageDialog **dialog = data;

  *dialog = (AdwMessageDialog *) relay_test_find_toplevel (ADW_TYPE_MESSAGE_DIALOG);
  return *dialog != NULL;
}

typedef struct
{
  GtkWidget  *root;
  const char *text;
} LabelSearch;

static gboolean
shows_label (GtkWidget  *widget,
             const char *text)
{
  /* the text as shown: a toast's title is markup, whose source has "&amp;" for "&" */
  if (GTK_IS_LABEL (widget) && strstr (gtk_label_get_text (GTK_LABEL (widget)), text) != NULL)
    return gtk_widget_is_visible (widget);
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c; c = gtk_widget_get_next_sibling (c))
    if (shows_label (c, text))
      return TRUE;
  return FALSE;
}

static gboolean
label_shown (gpointer data)
{
  LabelSearch *search = data;

  return shows_label (search->root, search->text);
}

/* Detect proposes what DNS says for the sender's domain, and writes nothing until Apply. */
static void
test_detect_apply (Fixture       *f,
                   gconstpointer  data)
{
  /* Answers SRV for the domain and sends every other name to 127.0.0.1, where no HTTPS
   * server listens: the autoconfig sources fail fast. */
  RelayFakeResolver *resolver = relay_fake_resolver_new ();
  GResolver *previous = g_resolver_get_default ();
  AdwMessageDialog *dialog = NULL;
  g_autofree char *server = NULL;
  guint16 port = 0;

  relay_fake_resolver_add_srv (resolver, "_submissions._tcp.example.org", "mail.example.org",
                               465, 0, 1);
  g_resolver_set_default (G_RESOLVER (resolver));

  g_assert_false (gtk_widget_get_sensitive (child (f, "detect_button")));
  gtk_editable_set_text (child (f, "sender_row"), "alerts@example.org");
  g_assert_true (gtk_widget_get_sensitive (child (f, "detect_button")));

  click (child (f, "detect_button"));
  /* While it runs the button stops it, and says so to a screen reader too. */
  gtk_test_accessible_assert_property (child (f, "detect_button"), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       "Stop Detecting");
  wait_until (find_message_dialog, &dialog, 10000);
  gtk_test_accessible_assert_property (child (f, "detect_button"), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       "Detect Settings");
  assert_buttons_named_once (GTK_WIDGET (dialog));
  assert_no_hyphens (GTK_WIDGET (dialog));
  /* The proposal is listed in a label of its own, left-aligned (the body is centred). */
  g_assert_true (shows_label (adw_message_dialog_get_extra_child (dialog), "mail.example.org"));

  /* Nothing is written before the user applies. */
  server = g_settings_get_string (f->elsewhere, "server");
  g_assert_cmpstr (server, ==, "");
  g_clear_pointer (&server, g_free);

  adw_message_dialog_response (dialog, "apply");
  server = g_settings_get_string (f->elsewhere, "server");
  g_assert_cmpstr (server, ==, "mail.example.org");
  g_settings_get (f->elsewhere, "port", "q", &port);
  g_assert_cmpuint (port, ==, 465);
  g_assert_cmpint (g_settings_get_enum (f->elsewhere, "security"), ==, 2);   /* tls */

  g_resolver_set_default (previous);
  g_object_unref (resolver);
}

/* Detect is linked into this program; the application opens it from its module. */
static const RelayDetectModule *
linked_detect_module (char **error_message)
{
  return relay_detect_module ();
}

static const RelayDetectModule *
missing_detect_module (char **error_message)
{
  *error_message = g_strdup ("/nowhere/smtp-relay-detect.so: cannot open shared object file");
  return NULL;
}

/* Without Detect's module (an incomplete installation), Detect says so in the window, names the
 * file, logs why, and stays ready; nothing is written. */
static void
test_detect_module_missing (Fixture       *f,
                            gconstpointer  data)
{
  LabelSearch toast = { GTK_WIDGET (f->window), "Detect is not available (smtp-relay-detect.so)" };
  g_autofree char *server = NULL;

  relay_window_set_detect_module_loader (missing_detect_module);
  gtk_editable_set_text (child (f, "sender_row"), "alerts@example.org");
  /* The loader's own words, for whoever repairs the installation. */
  g_test_expect_message ("relay-window", G_LOG_LEVEL_WARNING,
                         "Cannot load Detect: /nowhere/smtp-relay-detect.so: cannot open*");
  click (child (f, "detect_button"));
  g_test_assert_expected_messages ();
  wait_until (label_shown, &toast, 5000);
  g_assert_true (gtk_widget_is_sensitive (child (f, "detect_button")));
  g_assert_cmpstr (gtk_button_get_icon_name (child (f, "detect_button")), ==,
                   "system-search-symbolic");
  server = g_settings_get_string (f->elsewhere, "server");
  g_assert_cmpstr (server, ==, "");
  relay_window_set_detect_module_loader (linked_detect_module);
}

/* Keyring helpers */

typedef struct
{
  gboolean  done;
  char     *password;
  GError   *error;
} Lookup;

static void
lookup_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Lookup *lookup = user_data;

  lookup->password = relay_secret_store_lookup_finish (result, &lookup->error);
  lookup->done = TRUE;
}

static char *
keyring_lookup (const char *server,
                const char *user)
{
  Lookup lookup = { 0 };

  relay_secret_store_lookup_async (server, user, NULL, lookup_done_cb, &lookup);
  while (!lookup.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (lookup.error);
  return lookup.password;
}

static void
store_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (relay_secret_store_store_finish (result, &error));
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

static void
keyring_store (const char *server,
               const char *user,
               const char *password)
{
  gboolean done = FALSE;

  relay_secret_store_store_async (server, user, password, NULL, store_done_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

typedef struct
{
  const char *server;
  const char *user;
  const char *expected;
} KeyringCheck;

static gboolean
keyring_has (gpointer data)
{
  KeyringCheck *check = data;
  g_autofree char *password = keyring_lookup (check->server, check->user);

  return g_strcmp0 (password, check->expected) == 0;
}

static gboolean
no_pending_password (gpointer window)
{
  return !relay_window_has_pending_password (window);
}

/* The typed password reaches the keyring (debounced), never GSettings. */
static void
test_password_stored (Fixture       *f,
                      gconstpointer  data)
{
  KeyringCheck check = { "stored.example.com", "alice", "correct horse" };
  g_autoptr(GSettingsSchema) schema = NULL;
  g_auto(GStrv) keys = NULL;

  g_settings_set_string (f->settings, "server", "stored.example.com");
  g_settings_set_string (f->settings, "username", "alice");
  g_settings_set_boolean (f->settings, "requires-auth", TRUE);
  spin_main_loop (1000);   /* the lookup for the new server/user has answered: nothing stored */

  gtk_editable_set_text (child (f, "password_row"), "correct horse");
  g_assert_true (relay_window_has_pending_password (f->window));
  wait_until (keyring_has, &check, 5000);
  wait_until (no_pending_password, f->window, 1000);
  g_assert_false (gtk_widget_get_visible (child (f, "keyring_status_label")));

  g_object_get (f->settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr(GVariant) value = g_settings_get_value (f->settings, keys[i]);
      g_autofree char *text = g_variant_print (value, FALSE);

      g_assert_null (strstr (text, "correct horse"));
    }
}

/* Opening the window shows the stored password for the configured server and user. */
static void
test_password_loaded (Fixture       *f,
                      gconstpointer  data)
{
  TextCheck shown;

  keyring_store ("loaded.example.com", "bob", "from the keyring");
  gtk_window_destroy (GTK_WINDOW (f->window));

  g_settings_set_string (f->settings, "server", "loaded.example.com");
  g_settings_set_string (f->settings, "username", "bob");
  set_window (f, relay_window_new (NULL, f->settings));
  gtk_window_present (GTK_WINDOW (f->window));

  shown = (TextCheck) { child (f, "password_row"), "from the keyring" };
  wait_until (has_text, &shown, 5000);
  g_assert_false (relay_window_has_pending_password (f->window));
}

/* Closing the window right after typing still saves the password. */
static void
test_password_saved_on_close (Fixture       *f,
                              gconstpointer  data)
{
  KeyringCheck check = { "close.example.com", "carol", "typed then closed" };

  g_settings_set_string (f->settings, "server", "close.example.com");
  g_settings_set_string (f->settings, "username", "carol");
  spin_main_loop (1000);

  gtk_editable_set_text (child (f, "password_row"), "typed then closed");
  gtk_window_close (GTK_WINDOW (f->window));
  wait_until (keyring_has, &check, 5000);
}

/* The window opens at the size it had when it was closed, and maximized if it was. */
static void
test_window_state (Fixture       *f,
                   gconstpointer  data)
{
  int width, height, frame_width, frame_height;

  gtk_window_get_default_size (GTK_WINDOW (f->window), &width, &height);
  g_assert_cmpint (width, ==, 640);
  g_assert_cmpint (height, ==, 760);
  /* The default size counts the client-side decorations' margins; the widget's does not. */
  spin_main_loop (300);
  frame_width = width - gtk_widget_get_width (GTK_WIDGET (f->window));
  frame_height = height - gtk_widget_get_height (GTK_WIDGET (f->window));

  gtk_window_set_default_size (GTK_WINDOW (f->window), 720, 540);
  gtk_window_close (GTK_WINDOW (f->window));
  g_assert_null (f->window);
  g_assert_cmpint (g_settings_get_int (f->settings, "window-width"), ==, 720);
  g_assert_cmpint (g_settings_get_int (f->settings, "window-height"), ==, 540);
  g_assert_false (g_settings_get_boolean (f->settings, "window-maximized"));

  set_window (f, relay_window_new (NULL, f->settings));
  gtk_window_present (GTK_WINDOW (f->window));
  spin_main_loop (300);
  g_assert_cmpint (gtk_widget_get_width (GTK_WIDGET (f->window)), ==, 720 - frame_width);
  g_assert_cmpint (gtk_widget_get_height (GTK_WIDGET (f->window)), ==, 540 - frame_height);
  g_assert_false (gtk_window_is_maximized (GTK_WINDOW (f->window)));
  gtk_window_destroy (GTK_WINDOW (f->window));

  /* Maximized: asked for before the window is shown, and kept along with the size to return
   * to. (Without a window manager under Xvfb a shown window never becomes maximized.) */
  g_settings_set_boolean (f->settings, "window-maximized", TRUE);
  set_window (f, relay_window_new (NULL, f->settings));
  g_assert_true (gtk_window_is_maximized (GTK_WINDOW (f->window)));
  gtk_window_close (GTK_WINDOW (f->window));
  g_assert_true (g_settings_get_boolean (f->settings, "window-maximized"));
  g_assert_cmpint (g_settings_get_int (f->settings, "window-width"), ==, 720);
}

/* Correcting the server name keeps the typed password and saves it for the new name. */
static void
test_password_follows_server (Fixture       *f,
                              gconstpointer  data)
{
  KeyringCheck check = { "fixed.example.com", "dave", "keep me" };

  g_settings_set_string (f->settings, "server", "fixd.example.com");
  g_settings_set_string (f->settings, "username", "dave");
  spin_main_loop (1000);
  gtk_editable_set_text (child (f, "password_row"), "keep me");

  /* Before the debounced store: the pending edit must not be lost either. */
  gtk_editable_set_text (child (f, "server_row"), "fixed.example.com");
  wait_until (keyring_has, &check, 5000);
  g_assert_cmpstr (gtk_editable_get_text (child (f, "password_row")), ==, "keep me");
}

/* Two servers with a password each for alice; the window shows the first one's. */
static void
show_password_one_of_two (Fixture *f)
{
  TextCheck shown = { child (f, "password_row"), "password one" };

  keyring_store ("one.example.com", "alice", "password one");
  keyring_store ("two.example.com", "alice", "password two");
  g_settings_set_string (f->settings, "username", "alice");
  g_settings_set_string (f->settings, "server", "one.example.com");
  g_settings_set_boolean (f->settings, "requires-auth", TRUE);
  wait_until (has_text, &shown, 5000);
}

/* A password carried over to a name that has none is not an edit: when the user goes on
 * typing to a name that has a password of its own (a pause at "mail."), that one is shown, not
 * overwritten, and the half-typed name gets no copy. */
static void
test_password_carry_yields (Fixture       *f,
                            gconstpointer  data)
{
  KeyringCheck other_kept = { "two.example.com", "alice", "password two" };
  KeyringCheck no_copy = { "mail.", "alice", NULL };
  TextCheck shown = { child (f, "password_row"), NULL };

  show_password_one_of_two (f);

  /* The lookup for the half-typed name answers "nothing stored": the password is carried. */
  gtk_editable_set_text (child (f, "server_row"), "mail.");
  spin_main_loop (1500);
  g_assert_cmpstr (gtk_editable_get_text (child (f, "password_row")), ==, "password one");

  gtk_editable_set_text (child (f, "server_row"), "two.example.com");
  shown.text = "password two";
  wait_until (has_text, &shown, 5000);
  g_assert_false (relay_window_has_pending_password (f->window));
  g_assert_true (keyring_has (&other_kept));
  g_assert_true (keyring_has (&no_copy));
}

/* Emptying the row clears the password of the server it showed, even when the server changes
 * before the clear is saved; the next server's password is shown, not deleted. */
static void
test_password_clear_stays_with_its_server (Fixture       *f,
                                           gconstpointer  data)
{
  KeyringCheck cleared = { "one.example.com", "alice", NULL };
  KeyringCheck other_kept = { "two.example.com", "alice", "password two" };
  TextCheck shown = { child (f, "password_row"), NULL };

  show_password_one_of_two (f);

  gtk_editable_set_text (child (f, "password_row"), "");
  gtk_editable_set_text (child (f, "server_row"), "two.example.com");
  shown.text = "password two";
  wait_until (has_text, &shown, 5000);
  wait_until (keyring_has, &cleared, 5000);
  wait_until (no_pending_password, f->window, 5000);
  g_assert_true (keyring_has (&other_kept));
}

static gboolean
window_gone (gpointer data)
{
  return ((Fixture *) data)->window == NULL;
}

/* When the keyring cannot take the password, the window says so and keeps what was typed.
 * Runs in a subprocess whose keyring file cannot be written. */
static void
test_keyring_unavailable (Fixture       *f,
                          gconstpointer  data)
{
  AdwMessageDialog *dialog = NULL;
  GtkLabel *label;

  if (!g_test_subprocess ())
    {
      g_autofree char *saved = g_strdup (g_getenv ("SECRET_FILE_TEST_PATH"));

      g_setenv ("SECRET_FILE_TEST_PATH", "/proc/self/no-such-dir/keyring", TRUE);
      g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
      g_setenv ("SECRET_FILE_TEST_PATH", saved, TRUE);
      g_test_trap_assert_passed ();
      return;
    }

  label = child (f, "keyring_status_label");
  g_settings_set_string (f->settings, "server", "broken.example.com");
  g_settings_set_boolean (f->settings, "requires-auth", TRUE);
  spin_main_loop (1000);

  gtk_editable_set_text (child (f, "password_row"), "not lost");
  wait_until (is_visible, label, 5000);
  {
    /* the save's failure, not only the lookup's */
    LabelCheck not_saved = { label, "could not be saved" };

    wait_until (label_shows, &not_saved, 5000);
  }
  g_assert_nonnull (strstr (gtk_label_get_text (label), "keyring"));
  g_assert_cmpstr (gtk_editable_get_text (child (f, "password_row")), ==, "not lost");
  g_assert_null (strstr (gtk_label_get_text (label), "not lost"));

  /* The toast's Try Again stays for as long as the password is not saved (the line under the
   * row says to choose it), not the few seconds of a toast. */
  {
    LabelSearch try_again = { GTK_WIDGET (f->window), "Password not saved" };

    wait_until (label_shown, &try_again, 5000);
    spin_main_loop (6000);
    g_assert_true (label_shown (&try_again));
  }

  /* Closing would lose it: the window asks first, and stays open unless told to discard. */
  assert_buttons_named_once (GTK_WIDGET (f->window));   /* the toast's Try Again */
  gtk_window_close (GTK_WINDOW (f->window));
  g_assert_nonnull (f->window);
  g_assert_true (find_message_dialog (&dialog));
  assert_buttons_named_once (GTK_WIDGET (dialog));
  adw_message_dialog_response (dialog, "cancel");
  g_assert_nonnull (f->window);
  g_assert_cmpstr (gtk_editable_get_text (child (f, "password_row")), ==, "not lost");

  gtk_window_close (GTK_WINDOW (f->window));
  g_assert_true (find_message_dialog (&dialog));
  adw_message_dialog_response (dialog, "discard");
  wait_until (window_gone, f, 5000);
}

/* A carried password whose save the keyring refused is still a carried one, not one the user
 * typed: the next server's own password is shown, not overwritten. */
static void
test_password_carry_refused (Fixture       *f,
                             gconstpointer  data)
{
  KeyringCheck three_kept = { "third.example.net", "alice", "third password" };
  TextCheck shown = { child (f, "password_row"), "first password" };
  GtkLabel *label = child (f, "keyring_status_label");
  LabelCheck not_saved = { label, "could not be saved" };

  keyring_store ("first.example.net", "alice", "first password");
  keyring_store ("third.example.net", "alice", "third password");
  g_settings_set_string (f->settings, "username", "alice");
  g_settings_set_string (f->settings, "server", "first.example.net");
  g_settings_set_boolean (f->settings, "requires-auth", TRUE);
  wait_until (has_text, &shown, 5000);

  g_atomic_int_set (&refuse_stores, TRUE);
  /* Nothing is stored for the second (each test's servers are their own: the keyring file is
   * the process's): the password is carried, and its save is refused. */
  gtk_editable_set_text (child (f, "server_row"), "second.example.net");
  wait_until (label_shows, &not_saved, 10000);
  g_atomic_int_set (&refuse_stores, FALSE);

  gtk_editable_set_text (child (f, "server_row"), "third.example.net");
  shown.text = "third password";
  wait_until (has_text, &shown, 5000);
  spin_main_loop (1000);   /* a store that should not happen would have begun by now */
  g_assert_true (keyring_has (&three_kept));
}

/* A relay that refuses the recipient of the one message queued, for good. */
static const char * const script_refuse_recipient[] = {
  "> 220 relay.example.test ESMTP\r\n", "< EHLO",
  "> 250-relay.example.test\r\n250 PIPELINING\r\n",
  "<< 3", "> 250 2.1.0 Ok\r\n550 5.1.1 <oncall@example.org>: Recipient address rejected: User unknown\r\n"
          "554 5.5.1 Error: no valid recipients\r\n",
  NULL
};

/* A new window over the relay at @port, as at login: waits for its start-up flush's toast,
 * which shows @text. */
static void
open_until_toast (Fixture    *f,
                  guint16     port,
                  const char *text)
{
  LabelSearch toast = { NULL, text };

  configure_relay (f, "127.0.0.1", port);
  gtk_window_destroy (GTK_WINDOW (f->window));
  set_window (f, relay_window_new (NULL, f->settings));
  gtk_window_present (GTK_WINDOW (f->window));
  toast.root = GTK_WIDGET (f->window);
  wait_until (label_shown, &toast, 10000);
}

/* A toast's title is markup: a server's words ("<host[ip]>", "&") are shown as they are, not
 * as an empty toast (or as the server's own markup). */
static void
test_toast_shows_server_text (Fixture       *f,
                              gconstpointer  data)
{
  const char * const script[] = {
    "> 554 5.7.1 <localhost[127.0.0.1]>: Client host rejected & <b>denied</b>\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);

  queue_alert ("x", "x\n");
  open_until_toast (f, script_server_get_port (server),
                    "<localhost[127.0.0.1]>: Client host rejected & <b>denied</b>");
}

static GtkButton *
find_button (GtkWidget  *root,
             const char *label)
{
  if (GTK_IS_BUTTON (root) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0)
    return GTK_BUTTON (root);
  for (GtkWidget *c = gtk_widget_get_first_child (root); c; c = gtk_widget_get_next_sibling (c))
    {
      GtkButton *found = find_button (c, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
details_button_shown (gpointer data)
{
  return find_button (data, "Deta_ils") != NULL;
}

/* A toast that another high-priority one (the keyring's "Password not saved", a later flush's
 * refusal) puts back in the queue gets a new widget when it comes back: its button is named
 * once then too. */
static void
test_refused_toast_shown_again (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr(ScriptServer) server = script_server_new (script_refuse_recipient);
  AdwToast *other = adw_toast_new ("Password not saved");

  queue_alert ("RAID degraded", "md0: one disk failed\n");
  open_until_toast (f, script_server_get_port (server), "1 message refused for good");
  assert_buttons_named_once (GTK_WIDGET (f->window));

  g_object_ref (other);
  adw_toast_set_priority (other, ADW_TOAST_PRIORITY_HIGH);
  adw_toast_set_timeout (other, 0);
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (child (f, "toast_overlay")), other);
  spin_main_loop (1000);   /* the refused toast's widget is gone */
  g_assert_false (details_button_shown (f->window));
  adw_toast_dismiss (other);
  g_object_unref (other);
  wait_until (details_button_shown, f->window, 5000);
  assert_buttons_named_once (GTK_WIDGET (f->window));
}

/* A queued message that the relay refuses for good leaves the queue, and the queue row with
 * it: the toast stays, and its Details say why and where the message went. */
static void
test_refused_toast_details (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(ScriptServer) server = script_server_new (script_refuse_recipient);
  g_autofree char *failed = relay_queue_get_failed_directory ();
  AdwMessageDialog *dialog = NULL;
  GtkButton *details;
  const char *body;

  queue_alert ("RAID degraded", "md0: one disk failed\n");
  open_until_toast (f, script_server_get_port (server), "1 message refused for good");
  details = find_button (GTK_WIDGET (f->window), "Deta_ils");
  g_assert_nonnull (details);
  assert_buttons_named_once (GTK_WIDGET (f->window));

  spin_main_loop (6000);   /* longer than a toast's usual 5 s: it waits to be read */
  g_assert_true (label_shown (&(LabelSearch) { GTK_WIDGET (f->window),
                                               "1 message refused for good" }));

  click (details);
  wait_until (find_message_dialog, &dialog, 5000);
  body = adw_message_dialog_get_body (dialog);
  g_test_message ("%s", body);
  g_assert_nonnull (strstr (body, failed));
  g_assert_nonnull (strstr (body, "smtp-relay queue --failed"));
  g_assert_nonnull (strstr (body, "User unknown"));
  assert_buttons_named_once (GTK_WIDGET (dialog));
  adw_message_dialog_response (dialog, "close");
}

/* A flush that refuses a message for good and then stops at the relay's fault still says
 * what it set aside: the message has left the queue row either way. */
static void
test_refused_toast_when_flush_fails (Fixture       *f,
                                     gconstpointer  data)
{
  const char * const script[] = {
    "> 220 relay.example.test ESMTP\r\n", "< EHLO",
    "> 250-relay.example.test\r\n250 PIPELINING\r\n",
    "<< 3", "> 250 2.1.0 Ok\r\n550 5.1.1 <oncall@example.org>: Recipient address rejected: User unknown\r\n"
            "554 5.5.1 Error: no valid recipients\r\n",
    /* the next entry, on the same session */
    "< RSET", "<< 3",
    "> 250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n"
    "554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: Access denied\r\n"
    "554 5.5.1 Error: no valid recipients\r\n",
    NULL
  };
  g_autoptr(ScriptServer) server = script_server_new (script);

  queue_alert ("RAID degraded", "md0: one disk failed\n");
  queue_alert ("RAID degraded", "md0: one disk failed\n");
  open_until_toast (f, script_server_get_port (server), "1 message refused for good");
  g_assert_nonnull (find_button (GTK_WIDGET (f->window), "Deta_ils"));
}

/* A file in the queue that is no message is set aside, not refused by a server: the toast and
 * its Details say that, and where it went. */
static void
test_damaged_toast (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *queue = relay_queue_get_directory ();
  g_autofree char *path = g_build_filename (queue, "20261129T000000Z-00000001.msg", NULL);
  g_autofree char *failed = relay_queue_get_failed_directory ();
  g_autoptr(GError) error = NULL;
  AdwMessageDialog *dialog = NULL;
  const char *body;

  g_assert_cmpint (g_mkdir_with_parents (queue, 0700), ==, 0);
  g_file_set_contents (path, "not a queue entry\n", -1, &error);
  g_assert_no_error (error);
  open_until_toast (f, closed_port (), "1 damaged queue file set aside");
  click (find_button (GTK_WIDGET (f->window), "Deta_ils"));
  wait_until (find_message_dialog, &dialog, 5000);
  body = adw_message_dialog_get_body (dialog);
  g_assert_nonnull (strstr (body, "could not be read as a message"));
  g_assert_nonnull (strstr (body, failed));
  g_assert_null (strstr (body, "The server refused"));
  adw_message_dialog_response (dialog, "close");
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  int ret;

  relay_test_keep_mime_database ();
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  if (!g_getenv ("SECRET_FILE_TEST_PATH"))
    {
      dir = g_dir_make_tmp ("relay-window-XXXXXX", NULL);
      path = g_build_filename (dir, "test.keyring", NULL);
      g_setenv ("SECRET_BACKEND", "file", TRUE);
      g_setenv ("SECRET_FILE_TEST_PATH", path, TRUE);
      g_setenv ("SECRET_FILE_TEST_PASSWORD", "test-keyring-password", TRUE);
    }

  if (!gtk_init_check ())
    {
      if (g_getenv ("CI"))
        g_error ("No display in CI: run the tests with build-aux/test.sh");
      g_print ("1..0 # SKIP no display: run under xvfb-run -a, or use build-aux/test.sh\n");
      return 0;
    }
  adw_init ();
  relay_window_set_detect_module_loader (linked_detect_module);

#define ADD(name, func) \
  g_test_add ("/relay/window/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("row-writes-key", test_row_writes_key);
  ADD ("key-updates-row", test_key_updates_row);
  ADD ("locked-key-insensitive", test_locked_key_insensitive);
  ADD ("unusable-setting", test_unusable_setting);
  ADD ("unusable-setting-locked", test_unusable_setting_locked);
  ADD ("auth-switch-sensitivity", test_auth_switch_sensitivity);
  ADD ("plaintext-opt-in", test_plaintext_opt_in);
  ADD ("sender-validation", test_sender_validation);
  ADD ("local-recipient-validation", test_local_recipient_validation);
  ADD ("port-default-shown", test_port_default_shown);
  ADD ("accessible", test_accessible);
  ADD ("keyboard-reach", test_keyboard_reach);
  ADD ("keyboard-mnemonics", test_keyboard_mnemonics);
  ADD ("shortcuts-window", test_shortcuts_window);
  ADD ("detect/apply", test_detect_apply);
  ADD ("detect/module-missing", test_detect_module_missing);
  ADD ("queue/send-now", test_queue_send_now);
  ADD ("queue/retried", test_queue_retried);
  ADD ("queue/refused-toast-shown-again", test_refused_toast_shown_again);
  ADD ("queue/retried-when-queued-while-open", test_queue_retried_when_queued_while_open);
  ADD ("queue/toast-shows-server-text", test_toast_shows_server_text);
  ADD ("queue/refused-toast-details", test_refused_toast_details);
  ADD ("queue/damaged-toast", test_damaged_toast);
  ADD ("queue/refused-toast-when-flush-fails", test_refused_toast_when_flush_fails);
  ADD ("test/refused", test_test_refused);
  ADD ("test/focus-moved-away", test_test_focus_moved_away);
  ADD ("test/success", test_test_success);
  ADD ("test/unresolvable", test_test_unresolvable);
  ADD ("test/reuses-lookup", test_test_reuses_lookup);
  ADD ("test/invalid-recipient", test_test_invalid_recipient);
  ADD ("test/login-without-user", test_test_login_without_user);
  ADD ("test/cancel", test_test_cancel);
  ADD ("test/close-while-running", test_test_close_while_running);
  ADD ("dns/warning", test_dns_warning);
  ADD ("dns/warning-clears", test_dns_warning_clears);
  ADD ("server-note", test_server_note);
  ADD ("password/stored", test_password_stored);
  ADD ("password/loaded", test_password_loaded);
  ADD ("password/saved-on-close", test_password_saved_on_close);
  ADD ("password/follows-server", test_password_follows_server);
  ADD ("password/carry-yields", test_password_carry_yields);
  ADD ("password/carry-refused", test_password_carry_refused);
  ADD ("password/clear-stays-with-its-server", test_password_clear_stays_with_its_server);
  ADD ("window-state", test_window_state);
  ADD ("password/keyring-unavailable", test_keyring_unavailable);
#undef ADD

  ret = g_test_run ();

  if (path != NULL)
    {
      g_unlink (path);
      g_rmdir (dir);
    }
  return ret;
}
