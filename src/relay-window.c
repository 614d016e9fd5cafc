/* relay-window.c: the settings window
 *
 * Glue between the template's rows and GSettings (bound, so changes apply at once and a key the
 * administrator locked makes its row insensitive) and the keyring (async, debounced).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-window"

#include <glib/gi18n.h>

#include "relay-address.h"
#include "relay-config.h"
#include "relay-resolver-watch.h"
#include "relay-secret-store.h"
#include "relay-security.h"
#include "relay-smtp-client.h"
#include "relay-smtp-error.h"
#include "relay-test-message.h"
#include "relay-window.h"

/* Long enough for a burst of keystrokes, short enough that a quick close rarely has to wait. */
#define PASSWORD_STORE_DELAY_MS 600
#define KEY_CHANGE_LOOKUP_DELAY_MS 800

struct _RelayWindow
{
  AdwApplicationWindow  parent_instance;

  GSettings            *settings;
  GCancellable         *cancellable;
  RelayResolverWatch   *resolver_watch;

  /* Template children */
  AdwToastOverlay      *toast_overlay;
  AdwEntryRow          *server_row;
  GtkBox               *dns_status_box;
  GtkImage             *dns_status_icon;
  GtkLabel             *dns_warning_label;
  AdwActionRow         *port_row;
  GtkSpinButton        *port_spin;
  AdwComboRow          *security_row;
  AdwActionRow         *auth_row;
  GtkSwitch            *auth_switch;
  AdwEntryRow          *username_row;
  AdwPasswordEntryRow  *password_row;
  AdwActionRow         *plaintext_row;
  GtkSwitch            *plaintext_switch;
  GtkLabel             *keyring_status_label;
  AdwEntryRow          *sender_row;
  GtkLabel             *sender_error_label;
  AdwEntryRow          *test_recipient_row;
  GtkButton            *test_button;
  GtkBox               *test_progress_box;
  GtkSpinner           *test_spinner;
  GtkLabel             *test_progress_label;
  GtkButton            *test_cancel_button;
  GtkBox               *test_result_box;
  GtkImage             *test_result_icon;
  GtkLabel             *test_result_title;
  GtkLabel             *test_result_message;
  GtkLabel             *test_result_hint;
  GtkButton            *trust_certificate_button;
  GtkExpander          *details_expander;
  GtkTextView          *transcript_view;

  /* The running test, if any */
  GCancellable         *test_cancellable;
  RelaySmtpClient      *test_client;
  char                 *test_host;
  char                 *offered_fingerprint;
  guint                 scroll_tick_id;
  guint                 scroll_frames;

  /* Password state. The row is the source of truth while the keyring cannot take it. */
  guint                 store_timeout_id;
  guint                 lookup_timeout_id;
  guint                 stores_in_flight;
  guint                 password_edits;     /* bumped by each edit, to spot stale lookups */
  gboolean              password_dirty;     /* the row holds text that the keyring lacks */
  gboolean              setting_password;   /* the row is being filled from the keyring */
};

G_DEFINE_FINAL_TYPE (RelayWindow, relay_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static gboolean on_store_timeout_cb      (gpointer       user_data);
static void     scroll_to_test_result    (RelayWindow   *self);

/* Settings mappings */

static gboolean
security_get_mapping (GValue   *value,
                      GVariant *variant,
                      gpointer  user_data)
{
  RelaySecurity security;

  if (!relay_security_from_nick (g_variant_get_string (variant, NULL), &security))
    return FALSE;
  g_value_set_uint (value, security);
  return TRUE;
}

static GVariant *
security_set_mapping (const GValue       *value,
                      const GVariantType *expected_type,
                      gpointer            user_data)
{
  const char *nick = relay_security_to_nick (g_value_get_uint (value));

  return nick != NULL ? g_variant_new_string (nick) : NULL;
}

/* Port: 0 is shown as an empty field; the row's subtitle says which port that means. */

static int
on_port_spin_input_cb (GtkSpinButton *spin,
                       double        *new_value,
                       gpointer       user_data)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (spin));
  g_autofree char *stripped = g_strstrip (g_strdup (text));
  guint64 port = 0;

  if (*stripped == '\0')
    {
      *new_value = 0;
      return TRUE;
    }
  if (!g_ascii_string_to_unsigned (stripped, 10, 0, 65535, &port, NULL))
    return GTK_INPUT_ERROR;
  *new_value = port;
  return TRUE;
}

static gboolean
on_port_spin_output_cb (GtkSpinButton *spin,
                        gpointer       user_data)
{
  guint port = (guint) gtk_spin_button_get_value (spin);
  g_autofree char *text = port == 0 ? g_strdup ("") : g_strdup_printf ("%u", port);

  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (spin)), text) != 0)
    gtk_editable_set_text (GTK_EDITABLE (spin), text);
  return TRUE;
}

static void
update_port_subtitle (RelayWindow *self)
{
  RelaySecurity security = g_settings_get_enum (self->settings, "security");
  guint16 port = 0;
  guint standard = relay_security_default_port (security);
  g_autofree char *subtitle = NULL;

  g_settings_get (self->settings, "port", "q", &port);
  switch (security)
    {
    case RELAY_SECURITY_NONE:
      subtitle = port == 0
        ? g_strdup_printf (_("Empty: port %u, the standard for connections without encryption"), standard)
        : g_strdup_printf (_("Leave empty for %u, the standard for connections without encryption"), standard);
      break;
    case RELAY_SECURITY_TLS:
      subtitle = port == 0
        ? g_strdup_printf (_("Empty: port %u, the standard for TLS"), standard)
        : g_strdup_printf (_("Leave empty for %u, the standard for TLS"), standard);
      break;
    case RELAY_SECURITY_STARTTLS:
    default:
      subtitle = port == 0
        ? g_strdup_printf (_("Empty: port %u, the standard for STARTTLS"), standard)
        : g_strdup_printf (_("Leave empty for %u, the standard for STARTTLS"), standard);
      break;
    }
  adw_action_row_set_subtitle (self->port_row, subtitle);
}

/* Server name: the resolver watch says whether it can be used, and clears by itself. */

static void
update_dns_status (RelayWindow *self)
{
  RelayResolverState state = relay_resolver_watch_get_state (self->resolver_watch);
  const char *message = relay_resolver_watch_get_message (self->resolver_watch);
  GtkWidget *label = GTK_WIDGET (self->dns_warning_label);
  GtkWidget *icon = GTK_WIDGET (self->dns_status_icon);
  g_autofree char *text = NULL;
  gboolean visible = TRUE;

  gtk_widget_remove_css_class (label, "warning");
  gtk_widget_remove_css_class (label, "error");
  gtk_widget_remove_css_class (label, "dim-label");
  gtk_widget_remove_css_class (icon, "warning");
  gtk_widget_remove_css_class (icon, "error");

  switch (state)
    {
    case RELAY_RESOLVER_STATE_NOT_FOUND:
    case RELAY_RESOLVER_STATE_DNS_FAILURE:
      text = g_strdup (message);
      gtk_image_set_from_icon_name (self->dns_status_icon, "dialog-warning-symbolic");
      gtk_widget_add_css_class (label, "warning");
      gtk_widget_add_css_class (icon, "warning");
      gtk_widget_set_visible (icon, TRUE);
      break;
    case RELAY_RESOLVER_STATE_INVALID:
      text = g_strdup (message);
      gtk_image_set_from_icon_name (self->dns_status_icon, "dialog-error-symbolic");
      gtk_widget_add_css_class (label, "error");
      gtk_widget_add_css_class (icon, "error");
      gtk_widget_set_visible (icon, TRUE);
      break;
    case RELAY_RESOLVER_STATE_RESOLVING:
      text = g_strdup (message);
      gtk_widget_add_css_class (label, "dim-label");
      gtk_widget_set_visible (icon, FALSE);
      break;
    case RELAY_RESOLVER_STATE_RESOLVED:
      {
        const char * const *addresses = relay_resolver_watch_get_addresses (self->resolver_watch);
        g_autofree char *server = g_strstrip (g_strdup (relay_resolver_watch_get_server (self->resolver_watch)));

        text = addresses != NULL ? g_strjoinv (", ", (char **) addresses) : NULL;
        /* An IP address resolves to itself: nothing worth repeating under the row. */
        visible = text != NULL && *text != '\0' && g_ascii_strcasecmp (text, server) != 0;
        gtk_widget_add_css_class (label, "dim-label");
        gtk_widget_set_visible (icon, FALSE);
      }
      break;
    case RELAY_RESOLVER_STATE_IDLE:
    default:
      visible = FALSE;
      break;
    }

  visible = visible && text != NULL && *text != '\0';
  gtk_label_set_text (self->dns_warning_label, visible ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->dns_status_box), visible);
  gtk_accessible_update_state (GTK_ACCESSIBLE (self->server_row),
                               GTK_ACCESSIBLE_STATE_INVALID,
                               state == RELAY_RESOLVER_STATE_INVALID
                               ? GTK_ACCESSIBLE_INVALID_TRUE : GTK_ACCESSIBLE_INVALID_FALSE,
                               -1);
}

/* Authentication rows follow the switch, and a locked user name stays insensitive. */

static void
update_auth_sensitivity (RelayWindow *self)
{
  gboolean requires_auth = g_settings_get_boolean (self->settings, "requires-auth");

  gtk_widget_set_sensitive (GTK_WIDGET (self->username_row),
                            requires_auth && g_settings_is_writable (self->settings, "username"));
  gtk_widget_set_sensitive (GTK_WIDGET (self->password_row), requires_auth);

  /* The opt-in to send the password in clear text only means something without encryption. */
  gtk_widget_set_visible (GTK_WIDGET (self->plaintext_row),
                          requires_auth &&
                          g_settings_get_enum (self->settings, "security") == RELAY_SECURITY_NONE);
}

/* Sender */

static void
update_sender_error (RelayWindow *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->sender_row));
  g_autoptr(GError) error = NULL;
  g_autofree char *normalized = NULL;
  gboolean invalid;

  /* An empty sender is "not set yet", not a typing mistake: the group description says why
   * it matters; a test refuses to run without one. */
  normalized = relay_address_normalize (text, &error);
  invalid = normalized == NULL && !g_error_matches (error, RELAY_ADDRESS_ERROR,
                                                    RELAY_ADDRESS_ERROR_EMPTY);
  if (invalid)
    {
      gtk_label_set_text (self->sender_error_label, error->message);
      gtk_widget_add_css_class (GTK_WIDGET (self->sender_row), "error");
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self->sender_row), "error");
    }
  gtk_widget_set_visible (GTK_WIDGET (self->sender_error_label), invalid);
  gtk_accessible_update_state (GTK_ACCESSIBLE (self->sender_row),
                               GTK_ACCESSIBLE_STATE_INVALID,
                               invalid ? GTK_ACCESSIBLE_INVALID_TRUE : GTK_ACCESSIBLE_INVALID_FALSE,
                               -1);
}

/* Password */

static void
show_keyring_problem (RelayWindow *self,
                      const char  *message)
{
  gtk_label_set_text (self->keyring_status_label, message);
  gtk_widget_set_visible (GTK_WIDGET (self->keyring_status_label), message != NULL);
}

static void
hold_application (RelayWindow *self)
{
  GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));

  if (app != NULL)
    g_application_hold (app);
}

static void
release_application (RelayWindow *self)
{
  GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));

  if (app != NULL)
    g_application_release (app);
}

static void
handle_save_result (RelayWindow *self,
                    GError      *error)
{
  g_autofree char *message = NULL;
  AdwToast *toast;

  self->stores_in_flight--;
  release_application (self);

  if (self->toast_overlay == NULL)
    {
      /* The window is gone: the log is the only place left to say it (never the password). */
      if (error != NULL)
        g_warning ("Could not save the password in the keyring: %s", error->message);
      return;
    }

  if (error == NULL)
    {
      show_keyring_problem (self, NULL);
      return;
    }

  g_debug ("Could not save the password in the keyring: %s", error->message);
  self->password_dirty = TRUE;
  message = g_strdup_printf (_("The password could not be saved in the keyring: %s. "
                               "It stays in this window and is saved when you edit it "
                               "or choose Retry."), error->message);
  show_keyring_problem (self, message);

  toast = adw_toast_new (_("Password not saved in the keyring"));
  adw_toast_set_button_label (toast, _("_Retry"));
  adw_toast_set_action_name (toast, "win.retry-password");
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
on_password_stored_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(RelayWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  relay_secret_store_store_finish (result, &error);
  handle_save_result (self, error);
}

static void
on_password_cleared_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(RelayWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  relay_secret_store_clear_finish (result, &error);
  handle_save_result (self, error);
}

static void
store_password_now (RelayWindow *self)
{
  g_autofree char *server = g_settings_get_string (self->settings, "server");
  g_autofree char *user = g_settings_get_string (self->settings, "username");
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));

  g_clear_handle_id (&self->store_timeout_id, g_source_remove);
  if (!self->password_dirty)
    return;
  self->password_dirty = FALSE;

  /* Held until the keyring answers, so that closing the window right after typing still saves
   * the password: the application does not exit while it is held. */
  self->stores_in_flight++;
  hold_application (self);

  /* No cancellable: a store that has started must finish even if the window goes away. */
  if (*password == '\0')
    relay_secret_store_clear_async (server, user, NULL, on_password_cleared_cb,
                                    g_object_ref (self));
  else
    relay_secret_store_store_async (server, user, password, NULL, on_password_stored_cb,
                                    g_object_ref (self));
}

static void
schedule_store (RelayWindow *self)
{
  self->password_dirty = TRUE;
  g_clear_handle_id (&self->store_timeout_id, g_source_remove);
  self->store_timeout_id = g_timeout_add (PASSWORD_STORE_DELAY_MS, on_store_timeout_cb, self);
}

static gboolean
on_store_timeout_cb (gpointer user_data)
{
  RelayWindow *self = user_data;

  self->store_timeout_id = 0;
  store_password_now (self);
  return G_SOURCE_REMOVE;
}

static void
on_password_row_changed_cb (RelayWindow *self)
{
  if (self->setting_password)
    return;

  self->password_edits++;
  schedule_store (self);
}

typedef struct
{
  RelayWindow *self;
  guint        password_edits;
} LookupData;

static void
on_password_looked_up_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autofree LookupData *data = user_data;
  g_autoptr(GError) error = NULL;
  RelayWindow *self;
  char *password;

  password = relay_secret_store_lookup_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* the window is gone, or a newer server/user pair superseded this lookup */

  self = data->self;
  if (error != NULL)
    {
      g_autofree char *message = NULL;

      g_debug ("Could not read the password from the keyring: %s", error->message);
      message = g_strdup_printf (_("The keyring could not be read: %s. A password typed here "
                                   "is saved once the keyring is available."), error->message);
      show_keyring_problem (self, message);
      return;
    }

  show_keyring_problem (self, NULL);

  /* What the user typed and the keyring does not have yet is never replaced: it is saved under
   * the new server and user instead. Likewise when nothing is stored for them yet, so that
   * correcting the server name does not make the user type the password again. */
  if (self->password_dirty || data->password_edits != self->password_edits ||
      (password == NULL && *gtk_editable_get_text (GTK_EDITABLE (self->password_row)) != '\0'))
    {
      schedule_store (self);
    }
  else if (password != NULL)
    {
      self->setting_password = TRUE;
      gtk_editable_set_text (GTK_EDITABLE (self->password_row), password);
      self->setting_password = FALSE;
    }

  if (password != NULL)
    secret_password_free (password);
}

static void
lookup_password (RelayWindow *self)
{
  g_autofree char *server = g_settings_get_string (self->settings, "server");
  g_autofree char *user = g_settings_get_string (self->settings, "username");
  LookupData *data = g_new0 (LookupData, 1);

  data->self = self;
  data->password_edits = self->password_edits;
  relay_secret_store_lookup_async (server, user, self->cancellable, on_password_looked_up_cb, data);
}

static gboolean
on_lookup_timeout_cb (gpointer user_data)
{
  RelayWindow *self = user_data;

  self->lookup_timeout_id = 0;
  lookup_password (self);
  return G_SOURCE_REMOVE;
}

static void
on_settings_changed_cb (RelayWindow *self,
                        const char  *key,
                        GSettings   *settings)
{
  if (g_str_equal (key, "security") || g_str_equal (key, "port"))
    {
      update_port_subtitle (self);
      update_auth_sensitivity (self);
    }
  else if (g_str_equal (key, "requires-auth"))
    {
      update_auth_sensitivity (self);
    }
  else if (g_str_equal (key, "sender"))
    {
      update_sender_error (self);
    }
  else if (g_str_equal (key, "server") || g_str_equal (key, "username"))
    {
      /* A pending edit stays pending (password_dirty): the lookup for the new pair decides where
       * it goes, and closing the window meanwhile still saves it. */
      g_clear_handle_id (&self->store_timeout_id, g_source_remove);
      g_clear_handle_id (&self->lookup_timeout_id, g_source_remove);
      self->lookup_timeout_id = g_timeout_add (KEY_CHANGE_LOOKUP_DELAY_MS, on_lookup_timeout_cb,
                                               self);
    }
}

static void
on_writable_changed_cb (RelayWindow *self,
                        const char  *key,
                        GSettings   *settings)
{
  if (g_str_equal (key, "username") || g_str_equal (key, "requires-auth"))
    update_auth_sensitivity (self);
}

static void
retry_password_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  RelayWindow *self = RELAY_WINDOW (widget);

  self->password_dirty = TRUE;
  store_password_now (self);
}

/* Test */

static void
update_test_progress (RelayWindow *self)
{
  g_autofree char *text = NULL;
  g_autofree char *user = NULL;

  switch (relay_smtp_client_get_step (self->test_client))
    {
    case RELAY_SMTP_STEP_RESOLVING:
      text = g_strdup_printf (_("Looking up %s…"), self->test_host);
      break;
    case RELAY_SMTP_STEP_CONNECTING:
      text = g_strdup_printf (_("Connecting to %s…"), self->test_host);
      break;
    case RELAY_SMTP_STEP_SECURING:
      text = g_strdup (_("Securing the connection…"));
      break;
    case RELAY_SMTP_STEP_GREETING:
      text = g_strdup (_("Waiting for the server to greet…"));
      break;
    case RELAY_SMTP_STEP_AUTHENTICATING:
      user = g_settings_get_string (self->settings, "username");
      text = g_strdup_printf (_("Logging in as “%s”…"), user);
      break;
    case RELAY_SMTP_STEP_SENDING:
      text = g_strdup (_("Sending the test message…"));
      break;
    case RELAY_SMTP_STEP_IDLE:
    case RELAY_SMTP_STEP_DONE:
    default:
      return;
    }
  gtk_label_set_text (self->test_progress_label, text);
}

static void
set_test_running (RelayWindow *self,
                  gboolean     running)
{
  gtk_widget_set_visible (GTK_WIDGET (self->test_progress_box), running);
  gtk_spinner_set_spinning (self->test_spinner, running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->test_button), !running);
  if (running)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->test_result_box), FALSE);
      scroll_to_test_result (self);
    }
}

/* The Test group is the last one: scroll to the end of the page so that the progress or the
 * result is seen. The page grows over the next frames (wrapped labels take their height late),
 * so keep following it for a few frames. */
static gboolean
scroll_to_test_result_cb (GtkWidget     *widget,
                          GdkFrameClock *frame_clock,
                          gpointer       user_data)
{
  RelayWindow *self = RELAY_WINDOW (widget);
  GtkWidget *scrolled = gtk_widget_get_ancestor (GTK_WIDGET (self->test_result_box),
                                                 GTK_TYPE_SCROLLED_WINDOW);
  GtkAdjustment *adjustment;
  guint *frames = &self->scroll_frames;

  if (scrolled == NULL)
    return G_SOURCE_REMOVE;

  adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment) -
                                        gtk_adjustment_get_page_size (adjustment));
  if (++(*frames) < 10)
    return G_SOURCE_CONTINUE;
  *frames = 0;
  self->scroll_tick_id = 0;
  return G_SOURCE_REMOVE;
}

static void
scroll_to_test_result (RelayWindow *self)
{
  self->scroll_frames = 0;
  if (self->scroll_tick_id == 0)
    self->scroll_tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self),
                                                         scroll_to_test_result_cb, NULL, NULL);
}

static void
reveal_test_result (RelayWindow *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->test_result_box), TRUE);
  scroll_to_test_result (self);
}

static void
show_test_result (RelayWindow  *self,
                  const char   *reply,
                  const GError *error,
                  const char   *transcript)
{
  GtkWidget *icon = GTK_WIDGET (self->test_result_icon);
  g_autofree char *message = NULL;
  const char *hint;
  gboolean offer_trust;

  gtk_widget_remove_css_class (icon, "success");
  gtk_widget_remove_css_class (icon, "error");
  g_clear_pointer (&self->offered_fingerprint, g_free);

  if (error == NULL)
    {
      g_autofree char *recipient = g_settings_get_string (self->settings, "test-recipient");

      gtk_image_set_from_icon_name (self->test_result_icon, "emblem-ok-symbolic");
      gtk_widget_add_css_class (icon, "success");
      gtk_label_set_text (self->test_result_title, _("Test message sent"));
      message = g_strdup_printf (_("%s accepted the message for %s. The server said: %s"),
                                 self->test_host, recipient, reply);
      hint = _("Check that it arrived. If it did not, look in the spam folder, and make sure "
               "the relay may send for the sender address.");
      offer_trust = FALSE;
    }
  else
    {
      gtk_image_set_from_icon_name (self->test_result_icon, "dialog-error-symbolic");
      gtk_widget_add_css_class (icon, "error");
      gtk_label_set_text (self->test_result_title, _("Test failed"));
      message = g_strdup (error->message);
      hint = error->domain == RELAY_SMTP_ERROR ? relay_smtp_error_hint (error) : NULL;

      offer_trust = g_error_matches (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_CERTIFICATE) &&
                    self->test_client != NULL &&
                    relay_smtp_client_get_peer_fingerprint (self->test_client) != NULL;
      if (offer_trust)
        self->offered_fingerprint =
          g_strdup (relay_smtp_client_get_peer_fingerprint (self->test_client));
    }

  gtk_label_set_text (self->test_result_message, message);
  gtk_label_set_text (self->test_result_hint, hint != NULL ? hint : "");
  gtk_widget_set_visible (GTK_WIDGET (self->test_result_hint), hint != NULL && *hint != '\0');
  gtk_widget_set_visible (GTK_WIDGET (self->trust_certificate_button), offer_trust);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->transcript_view),
                            transcript != NULL ? transcript : "", -1);
  gtk_widget_set_visible (GTK_WIDGET (self->details_expander),
                          transcript != NULL && *transcript != '\0');
  reveal_test_result (self);
}

static void
on_test_sent_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr(RelayWindow) self = g_weak_ref_get (weak);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  g_weak_ref_clear (weak);
  g_free (weak);
  reply = relay_smtp_client_send_finish (RELAY_SMTP_CLIENT (object), result, &error);

  /* Only a weak reference, so that closing the window disposes it, which cancels the test;
   * then there is nothing left to show the outcome in. */
  if (self == NULL || self->test_result_box == NULL)
    return;

  g_clear_object (&self->test_cancellable);
  set_test_running (self, FALSE);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      gtk_image_set_from_icon_name (self->test_result_icon, "process-stop-symbolic");
      gtk_widget_remove_css_class (GTK_WIDGET (self->test_result_icon), "success");
      gtk_widget_remove_css_class (GTK_WIDGET (self->test_result_icon), "error");
      gtk_label_set_text (self->test_result_title, _("Test cancelled"));
      gtk_label_set_text (self->test_result_message, _("No message was sent."));
      gtk_widget_set_visible (GTK_WIDGET (self->test_result_hint), FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->trust_certificate_button), FALSE);
      gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->transcript_view),
                                relay_smtp_client_get_transcript (self->test_client), -1);
      reveal_test_result (self);
      return;
    }

  show_test_result (self, reply, error, relay_smtp_client_get_transcript (self->test_client));
}

static void
on_test_clicked_cb (RelayWindow *self)
{
  g_autoptr(RelayConfig) config = NULL;
  g_autoptr(RelaySmtpMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  const char *recipient;
  GWeakRef *weak;

  if (self->test_cancellable != NULL)
    return;   /* one test at a time; Enter in the row while one runs does nothing */

  recipient = gtk_editable_get_text (GTK_EDITABLE (self->test_recipient_row));
  config = relay_config_new_from_settings (self->settings);
  /* The values on screen: the password row may hold text the keyring has not taken yet. */
  relay_config_set_password (config, gtk_editable_get_text (GTK_EDITABLE (self->password_row)));

  g_clear_object (&self->test_client);
  g_free (self->test_host);
  self->test_host = g_strdup (config->server);

  if (*config->server == '\0')
    {
      g_set_error_literal (&error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                           _("No server is set. Enter the name or IP address of the relay "
                             "under Server."));
      show_test_result (self, NULL, error, NULL);
      return;
    }

  /* Bad addresses are refused here, before any connection. */
  message = relay_test_message_new (config, recipient, NULL, &error);
  if (message == NULL)
    {
      show_test_result (self, NULL, error, NULL);
      return;
    }

  self->test_client = relay_config_create_client (config);
  g_signal_connect_object (self->test_client, "notify::step",
                           G_CALLBACK (update_test_progress), self, G_CONNECT_SWAPPED);
  self->test_cancellable = g_cancellable_new ();
  set_test_running (self, TRUE);
  gtk_label_set_text (self->test_progress_label, _("Starting the test…"));
  weak = g_new0 (GWeakRef, 1);
  g_weak_ref_init (weak, self);
  relay_smtp_client_send_async (self->test_client, message, self->test_cancellable,
                                on_test_sent_cb, weak);
}

static void
send_test_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  on_test_clicked_cb (RELAY_WINDOW (widget));
}

static void
on_test_cancel_clicked_cb (RelayWindow *self)
{
  g_cancellable_cancel (self->test_cancellable);
  /* Disposing the watch cancels its lookups: no answer reaches a destroyed label. */
  if (self->resolver_watch != NULL)
    g_signal_handlers_disconnect_by_data (self->resolver_watch, self);
  g_clear_object (&self->resolver_watch);
}

static void
on_copy_details_clicked_cb (RelayWindow *self)
{
  g_autoptr(GString) text = g_string_new (NULL);
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->transcript_view);
  g_autofree char *transcript = NULL;
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  transcript = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);

  g_string_append_printf (text, "%s\n%s\n", gtk_label_get_text (self->test_result_title),
                          gtk_label_get_text (self->test_result_message));
  if (gtk_widget_get_visible (GTK_WIDGET (self->test_result_hint)))
    g_string_append_printf (text, "%s\n", gtk_label_get_text (self->test_result_hint));
  if (*transcript != '\0')
    g_string_append_printf (text, "\n%s", transcript);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), text->str);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (_("Details copied")));
}

static void
on_trust_certificate_clicked_cb (RelayWindow *self)
{
  if (self->offered_fingerprint == NULL)
    return;

  g_settings_set_string (self->settings, "pinned-certificate", self->offered_fingerprint);
  gtk_widget_set_visible (GTK_WIDGET (self->trust_certificate_button), FALSE);
  adw_toast_overlay_add_toast (self->toast_overlay,
                               adw_toast_new (_("Certificate trusted. Test again to use it.")));
}

static gboolean
relay_window_close_request (GtkWindow *window)
{
  RelayWindow *self = RELAY_WINDOW (window);

  /* A pending edit is saved now rather than lost; the application waits for it (see above). */
  g_clear_handle_id (&self->lookup_timeout_id, g_source_remove);
  store_password_now (self);

  return GTK_WINDOW_CLASS (relay_window_parent_class)->close_request (window);
}

static void
bind_settings (RelayWindow *self)
{
  g_settings_bind (self->settings, "server", self->server_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "port", self->port_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_writable (self->settings, "port", self->port_row, "sensitive", FALSE);
  g_settings_bind_with_mapping (self->settings, "security", self->security_row, "selected",
                                G_SETTINGS_BIND_DEFAULT,
                                security_get_mapping, security_set_mapping, NULL, NULL);
  g_settings_bind (self->settings, "requires-auth", self->auth_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_writable (self->settings, "requires-auth", self->auth_row, "sensitive", FALSE);
  g_settings_bind (self->settings, "allow-plaintext-auth", self->plaintext_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_writable (self->settings, "allow-plaintext-auth", self->plaintext_row,
                            "sensitive", FALSE);
  /* Its sensitivity also depends on requires-auth: see update_auth_sensitivity(). */
  g_settings_bind (self->settings, "username", self->username_row, "text",
                   G_SETTINGS_BIND_DEFAULT | G_SETTINGS_BIND_NO_SENSITIVITY);
  g_settings_bind (self->settings, "sender", self->sender_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "test-recipient", self->test_recipient_row, "text",
                   G_SETTINGS_BIND_DEFAULT);

  g_signal_connect_object (self->settings, "changed", G_CALLBACK (on_settings_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "writable-changed",
                           G_CALLBACK (on_writable_changed_cb), self, G_CONNECT_SWAPPED);

  update_port_subtitle (self);
  update_auth_sensitivity (self);
  update_sender_error (self);
}

/* The icons of a test (spinner, result) are loaded by GTK's worker threads now, so that the first
 * test does not load the SVG loader and render them on the main thread in the middle of it. */
static void
preload_test_icons (GtkWidget *widget)
{
  static const char * const names[] = {
    "process-working-symbolic", "emblem-ok-symbolic", "dialog-error-symbolic",
  };
  GtkIconTheme *theme = gtk_icon_theme_get_for_display (gtk_widget_get_display (widget));

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_object_unref (gtk_icon_theme_lookup_icon (theme, names[i], NULL, 16,
                                                gtk_widget_get_scale_factor (widget),
                                                gtk_widget_get_direction (widget),
                                                GTK_ICON_LOOKUP_PRELOAD));
}

/* The first tick comes before the first frame is drawn, the second one after it. */
static gboolean
lookup_after_first_frame_cb (GtkWidget     *widget,
                             GdkFrameClock *frame_clock,
                             gpointer       user_data)
{
  guint *ticks = user_data;

  if ((*ticks)++ == 0)
    return G_SOURCE_CONTINUE;
  lookup_password (RELAY_WINDOW (widget));
  preload_test_icons (widget);
  return G_SOURCE_REMOVE;
}

static void
relay_window_constructed (GObject *object)
{
  RelayWindow *self = RELAY_WINDOW (object);

  G_OBJECT_CLASS (relay_window_parent_class)->constructed (object);

  if (self->settings == NULL)
    self->settings = g_settings_new (APP_ID);

  self->resolver_watch = relay_resolver_watch_new ();
  g_signal_connect_object (self->resolver_watch, "notify::state",
                           G_CALLBACK (update_dns_status), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->resolver_watch, "notify::message",
                           G_CALLBACK (update_dns_status), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->resolver_watch, "notify::addresses",
                           G_CALLBACK (update_dns_status), self, G_CONNECT_SWAPPED);
  g_settings_bind (self->settings, "server", self->resolver_watch, "server",
                   G_SETTINGS_BIND_GET);

  bind_settings (self);
  /* issue 9: the keyring is read after the first frame, not on the start-up path. */
  gtk_widget_add_tick_callback (GTK_WIDGET (self), lookup_after_first_frame_cb,
                                g_new0 (guint, 1), g_free);
}

static void
relay_window_dispose (GObject *object)
{
  RelayWindow *self = RELAY_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->test_cancellable);
  /* Disposing the watch cancels its lookups: no answer reaches a destroyed label. */
  if (self->resolver_watch != NULL)
    g_signal_handlers_disconnect_by_data (self->resolver_watch, self);
  g_clear_object (&self->resolver_watch);
  g_clear_handle_id (&self->lookup_timeout_id, g_source_remove);
  /* dispose may run more than once; the rows are only there the first time. */
  if (self->password_row != NULL)
    store_password_now (self);

  gtk_widget_dispose_template (GTK_WIDGET (self), RELAY_TYPE_WINDOW);

  G_OBJECT_CLASS (relay_window_parent_class)->dispose (object);
}

static void
relay_window_finalize (GObject *object)
{
  RelayWindow *self = RELAY_WINDOW (object);

  g_clear_object (&self->cancellable);
  g_clear_object (&self->test_cancellable);
  g_clear_object (&self->test_client);
  g_clear_pointer (&self->test_host, g_free);
  g_clear_pointer (&self->offered_fingerprint, g_free);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (relay_window_parent_class)->finalize (object);
}

static void
relay_window_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  RelayWindow *self = RELAY_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relay_window_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  RelayWindow *self = RELAY_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relay_window_class_init (RelayWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = relay_window_constructed;
  object_class->dispose = relay_window_dispose;
  object_class->finalize = relay_window_finalize;
  object_class->set_property = relay_window_set_property;
  object_class->get_property = relay_window_get_property;
  window_class->close_request = relay_window_close_request;

  /**
   * RelayWindow:settings:
   *
   * The settings the window edits; tests pass one on a private backend.
   */
  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL,
                         G_TYPE_SETTINGS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/smtprelay/SmtpRelay/relay-window.ui");
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, dns_status_box);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, dns_status_icon);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, dns_warning_label);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, port_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, port_spin);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, security_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, auth_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, auth_switch);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, username_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, password_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, plaintext_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, plaintext_switch);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, keyring_status_label);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, sender_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, sender_error_label);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_recipient_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_button);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_progress_box);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_spinner);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_progress_label);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_cancel_button);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_result_box);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_result_icon);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_result_title);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_result_message);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_result_hint);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, trust_certificate_button);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, details_expander);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, transcript_view);
  gtk_widget_class_bind_template_callback (widget_class, on_test_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_test_cancel_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_copy_details_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_trust_certificate_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_port_spin_input_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_port_spin_output_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_password_row_changed_cb);

  gtk_widget_class_install_action (widget_class, "win.retry-password", NULL,
                                   retry_password_action);
  gtk_widget_class_install_action (widget_class, "win.send-test", NULL, send_test_action);
}

static void
relay_window_init (RelayWindow *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

RelayWindow *
relay_window_new (GtkApplication *application,
                  GSettings      *settings)
{
  return g_object_new (RELAY_TYPE_WINDOW,
                       "application", application,
                       "settings", settings,
                       NULL);
}

/**
 * relay_window_has_pending_password:
 *
 * Whether an edited password has not reached the keyring yet (waiting or being stored).
 */
gboolean
relay_window_has_pending_password (RelayWindow *self)
{
  g_return_val_if_fail (RELAY_IS_WINDOW (self), FALSE);

  return self->store_timeout_id != 0 || self->stores_in_flight > 0;
}
