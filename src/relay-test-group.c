/* relay-test-group.c: the Test group of the window
 *
 * Sends the test message with the values on screen, shows the progress by step, and ends with
 * the server's own words or with what failed and what to do; the transcript is one click away.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-test-group"

#include <glib/gi18n.h>

#include "relay-config.h"
#include "relay-smtp-client.h"
#include "relay-smtp-error.h"
#include "relay-test-group.h"
#include "relay-test-message.h"

struct _RelayTestGroup
{
  AdwPreferencesGroup  parent_instance;

  GSettings           *settings;
  GtkEditable         *password_source;   /* weak: the window's password row */

  /* Template children */
  AdwEntryRow         *test_recipient_row;
  GtkButton           *test_button;
  GtkBox              *test_progress_box;
  GtkSpinner          *test_spinner;
  GtkLabel            *test_progress_label;
  GtkButton           *test_cancel_button;
  GtkBox              *test_result_box;
  GtkImage            *test_result_icon;
  GtkLabel            *test_result_title;
  GtkLabel            *test_result_message;
  GtkLabel            *test_result_hint;
  GtkButton           *trust_certificate_button;
  GtkButton           *copy_details_button;
  GtkExpander         *details_expander;
  GtkTextView         *transcript_view;

  /* The running test, if any */
  GCancellable        *test_cancellable;
  gboolean             focus_result;      /* focus was on Test (or nowhere): give it the result */
  RelaySmtpClient     *test_client;
  char                *test_host;
  char                *test_recipient;  /* as sent: the row may change while a test runs */
  char                *offered_fingerprint;
  RelayResolverWatch  *resolver_watch;   /* weak */
  guint                scroll_tick_id;
  guint                scroll_frames;
};

G_DEFINE_FINAL_TYPE (RelayTestGroup, relay_test_group, ADW_TYPE_PREFERENCES_GROUP)

static void
add_toast (RelayTestGroup *self,
           const char     *title)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (title));
}

static void scroll_to_test_result (RelayTestGroup *self);


static void
update_test_progress (RelayTestGroup *self)
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

static GtkWidget *
get_focus_widget (RelayTestGroup *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  return root != NULL ? gtk_root_get_focus (root) : NULL;
}

static void
set_test_running (RelayTestGroup *self,
                  gboolean     running)
{
  GtkWidget *focus = get_focus_widget (self);

  /* The Test button is made insensitive and Cancel hidden: a keyboard or screen reader user
   * on either would be left with the focus nowhere (the next Tab starts at the top of the
   * window) and hear nothing. Cancel takes the focus while the test runs, the result after. */
  if (running)
    self->focus_result = focus == NULL || focus == GTK_WIDGET (self->test_button);
  else
    /* Still on Cancel (where the start put it) or nowhere: not where the user went since. */
    self->focus_result = focus == NULL || focus == GTK_WIDGET (self->test_cancel_button);
  gtk_widget_set_visible (GTK_WIDGET (self->test_progress_box), running);
  gtk_spinner_set_spinning (self->test_spinner, running);
  if (running && self->focus_result)
    gtk_widget_grab_focus (GTK_WIDGET (self->test_cancel_button));
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
  RelayTestGroup *self = RELAY_TEST_GROUP (widget);
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
scroll_to_test_result (RelayTestGroup *self)
{
  self->scroll_frames = 0;
  if (self->scroll_tick_id == 0)
    self->scroll_tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self),
                                                         scroll_to_test_result_cb, NULL, NULL);
}

static void
reveal_test_result (RelayTestGroup *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->test_result_box), TRUE);
  /* GTK 4.8 has no announcements, and showing the result emits no event a screen reader
   * acts on: the focus goes to the outcome (a selectable label, read out when focused) when
   * it was on Test or Cancel. A test started from elsewhere (Ctrl+T, Enter in the row) leaves
   * the focus where it is. */
  if (self->focus_result || get_focus_widget (self) == NULL)
    gtk_widget_grab_focus (GTK_WIDGET (self->test_result_message));
  self->focus_result = FALSE;
  scroll_to_test_result (self);
}

static void
show_test_result (RelayTestGroup *self,
                  const char   *reply,
                  const GError *error,
                  const char   *transcript)
{
  GtkWidget *icon = GTK_WIDGET (self->test_result_icon);
  g_autofree char *message = NULL;
  const char *hint = NULL;
  gboolean offer_trust;

  gtk_widget_remove_css_class (icon, "success");
  gtk_widget_remove_css_class (icon, "error");
  g_clear_pointer (&self->offered_fingerprint, g_free);

  if (error == NULL)
    {
      gtk_image_set_from_icon_name (self->test_result_icon, "emblem-ok-symbolic");
      gtk_widget_add_css_class (icon, "success");
      gtk_label_set_text (self->test_result_title, _("Test message sent"));
      message = g_strdup_printf (_("%s accepted the message for %s. The server said: %s"),
                                 self->test_host, self->test_recipient, reply);
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
      if (error->domain == RELAY_SMTP_ERROR)
        hint = relay_smtp_error_hint (error, self->test_client != NULL ?
                                             relay_smtp_client_get_last_reply_code (self->test_client) : 0);

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
  g_autoptr(RelayTestGroup) self = g_weak_ref_get (weak);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  g_weak_ref_clear (weak);
  g_free (weak);
  reply = relay_smtp_client_send_finish (RELAY_SMTP_CLIENT (object), result, &error);

  /* Only a weak reference, so that closing the window disposes the group, which cancels the
   * test; then there is nothing left to show the outcome in. */
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

/* The window looked the name up for the line under the server row moments ago: the test
 * connects to those addresses instead of asking DNS again, one round trip less on a slow
 * link. After a minute it asks again, so that a changed record is seen. */
#define REUSE_LOOKUP_MAX_AGE_US (60 * G_USEC_PER_SEC)

static void
reuse_lookup (RelayTestGroup *self)
{
  gint64 age;
  g_autolist(GInetAddress) addresses = NULL;

  if (self->resolver_watch == NULL)
    return;
  age = relay_resolver_watch_get_resolved_age (self->resolver_watch);
  if (age < 0 || age > REUSE_LOOKUP_MAX_AGE_US)
    return;
  addresses = relay_resolver_watch_get_inet_addresses (self->resolver_watch);
  /* The client uses them only if the watch's name is the one the test goes to. */
  relay_smtp_client_set_known_addresses (self->test_client,
                                         relay_resolver_watch_get_server (self->resolver_watch),
                                         addresses);
}

static void
on_test_clicked_cb (RelayTestGroup *self)
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
  if (self->password_source != NULL)
    relay_config_set_password (config, gtk_editable_get_text (self->password_source));

  g_clear_object (&self->test_client);
  g_free (self->test_host);
  self->test_host = g_strdup (config->server);
  g_free (self->test_recipient);
  self->test_recipient = g_strstrip (g_strdup (recipient));

  if (*config->server == '\0')
    {
      g_set_error_literal (&error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                           _("No server is set. Enter the name or IP address of the relay "
                             "under Server."));
      show_test_result (self, NULL, error, NULL);
      return;
    }

  /* An invalid server, or a login without a user name: the message says what to set. */
  if (!relay_config_check (config, &error))
    {
      show_test_result (self, NULL, error, NULL);
      return;
    }
  /* An empty password is never a login: it is still loading from the keyring, or the keyring
   * is locked (said above the row), or it was not entered. */
  if (config->requires_auth && (config->password == NULL || *config->password == '\0'))
    {
      g_set_error (&error, RELAY_CONFIG_ERROR, RELAY_CONFIG_ERROR_NO_PASSWORD,
                   _("No password is entered for “%s”. Enter it under Authentication."),
                   config->username);
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
  reuse_lookup (self);
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
on_test_cancel_clicked_cb (RelayTestGroup *self)
{
  g_cancellable_cancel (self->test_cancellable);
}

static void
on_copy_details_clicked_cb (RelayTestGroup *self)
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
  add_toast (self, _("Details copied"));
}

static void
on_trust_certificate_clicked_cb (RelayTestGroup *self)
{
  if (self->offered_fingerprint == NULL)
    return;

  g_settings_set_string (self->settings, "pinned-certificate", self->offered_fingerprint);
  gtk_widget_set_visible (GTK_WIDGET (self->trust_certificate_button), FALSE);
  add_toast (self, _("Certificate trusted. Test again to use it."));
}

/**
 * relay_test_group_send:
 *
 * Runs a test now, as the Test button does (for the window's action and shortcut).
 */
void
relay_test_group_send (RelayTestGroup *self)
{
  g_return_if_fail (RELAY_IS_TEST_GROUP (self));

  on_test_clicked_cb (self);
}

/**
 * relay_test_group_invalidate_result:
 *
 * Takes away the result of the last test: the settings it was made with changed, so it would
 * say that a relay works, or fails, when nobody knows yet, and offer to trust a certificate
 * for a server that is no longer the one configured. The group follows its settings itself;
 * the window calls this when the user edits the password (not when the keyring fills it in).
 */
void
relay_test_group_invalidate_result (RelayTestGroup *self)
{
  g_return_if_fail (RELAY_IS_TEST_GROUP (self));

  gtk_widget_set_visible (GTK_WIDGET (self->test_result_box), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->trust_certificate_button), FALSE);
  g_clear_pointer (&self->offered_fingerprint, g_free);
}

static void
on_settings_changed_cb (RelayTestGroup *self,
                        const char     *key)
{
  /* Not the recipient (the result names the address it went to) nor the pinned certificate
   * (trusting it is the result's own button, which says to test again). */
  static const char * const keys[] = {
    "server", "port", "security", "requires-auth", "allow-plaintext-auth", "username",
    "sender", NULL
  };

  if (key != NULL && !g_strv_contains (keys, key))
    return;
  relay_test_group_invalidate_result (self);
}

/**
 * relay_test_group_set_settings:
 *
 * The settings that a test uses; the recipient row is bound to their test-recipient key.
 */
void
relay_test_group_set_settings (RelayTestGroup *self,
                               GSettings      *settings)
{
  g_return_if_fail (RELAY_IS_TEST_GROUP (self));
  g_return_if_fail (self->settings == NULL);

  self->settings = g_object_ref (settings);
  g_settings_bind (self->settings, "test-recipient", self->test_recipient_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (on_settings_changed_cb), self,
                           G_CONNECT_SWAPPED);
}

/**
 * relay_test_group_set_password_source:
 *
 * Where the password of a test comes from: the window's password row, which may hold text
 * that the keyring has not taken yet.
 */
void
relay_test_group_set_password_source (RelayTestGroup *self,
                                      GtkEditable    *editable)
{
  g_return_if_fail (RELAY_IS_TEST_GROUP (self));

  g_set_weak_pointer (&self->password_source, editable);
}

/**
 * relay_test_group_set_resolver_watch:
 *
 * The window's DNS watch: a test reuses the addresses it has just looked up.
 */
void
relay_test_group_set_resolver_watch (RelayTestGroup     *self,
                                     RelayResolverWatch *watch)
{
  g_return_if_fail (RELAY_IS_TEST_GROUP (self));

  g_set_weak_pointer (&self->resolver_watch, watch);
}

static void
relay_test_group_dispose (GObject *object)
{
  RelayTestGroup *self = RELAY_TEST_GROUP (object);

  g_cancellable_cancel (self->test_cancellable);
  g_clear_weak_pointer (&self->password_source);
  g_clear_weak_pointer (&self->resolver_watch);
  gtk_widget_dispose_template (GTK_WIDGET (self), RELAY_TYPE_TEST_GROUP);

  G_OBJECT_CLASS (relay_test_group_parent_class)->dispose (object);
}

static void
relay_test_group_finalize (GObject *object)
{
  RelayTestGroup *self = RELAY_TEST_GROUP (object);

  g_clear_object (&self->test_cancellable);
  g_clear_object (&self->test_client);
  g_clear_pointer (&self->test_host, g_free);
  g_clear_pointer (&self->test_recipient, g_free);
  g_clear_pointer (&self->offered_fingerprint, g_free);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (relay_test_group_parent_class)->finalize (object);
}

static void
relay_test_group_class_init (RelayTestGroupClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = relay_test_group_dispose;
  object_class->finalize = relay_test_group_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/smtprelay/SmtpRelay/relay-test-group.ui");
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_recipient_row);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_button);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_progress_box);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_spinner);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_progress_label);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_cancel_button);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_result_box);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_result_icon);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_result_title);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_result_message);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, test_result_hint);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, trust_certificate_button);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, copy_details_button);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, details_expander);
  gtk_widget_class_bind_template_child (widget_class, RelayTestGroup, transcript_view);
  gtk_widget_class_bind_template_callback (widget_class, on_test_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_test_cancel_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_copy_details_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_trust_certificate_clicked_cb);
}

static void
relay_test_group_init (RelayTestGroup *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
