/* relay-window.c: the settings window
 *
 * Glue between the template's rows and GSettings (bound, so changes apply at once and a key the
 * administrator locked makes its row insensitive) and the keyring (async, debounced).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-window"

#include <glib/gi18n.h>
#include <string.h>

#include "relay-a11y.h"
#include "relay-address.h"
#include "relay-detect-module.h"
#include "relay-hostname.h"
#include "relay-queue.h"
#include "relay-resolver-watch.h"
#include "relay-secret-store.h"
#include "relay-security.h"
#include "relay-settings-check.h"
#include "relay-smtp-client.h"
#include "relay-test-group.h"
#include "relay-window.h"

/* Long enough for a burst of keystrokes, short enough that a quick close rarely has to wait. */
#define PASSWORD_STORE_DELAY_MS 600
/* A password carried over to a new server name is saved only once the name has stayed put this
 * long: a pause while typing "mail.example.com" must not leave a copy under "mail.". */
#define PASSWORD_CARRY_DELAY_MS 5000
#define KEY_CHANGE_LOOKUP_DELAY_MS 800
/* Messages that still wait are tried again this often while the window is open, and soon
 * after the network comes back. */
#define QUEUE_RETRY_MS (5 * 60 * 1000)
#define QUEUE_RETRY_AFTER_NETWORK_MS 3000

struct _RelayWindow
{
  AdwApplicationWindow  parent_instance;

  GSettings            *settings;
  GCancellable         *cancellable;
  RelayResolverWatch   *resolver_watch;
  GObject              *detector;           /* a RelayDetector, created on the first Detect */
  GCancellable         *detect_cancellable; /* set while Detect runs */
  GFileMonitor         *queue_monitor;
  gboolean              flushing;
  gboolean              counting;           /* the queue is being counted… */
  gboolean              count_again;        /* …and changed since that count began */
  char                 *queue_failure;      /* why the last flush left messages, or NULL */
  guint                 queue_retry_id;     /* the next automatic flush, while messages wait */
  guint                 queue_retry_ms;
  gboolean              flush_quiet;        /* an automatic retry: a toast only if it sent */
  gboolean              queue_blocked;      /* the last flush could not change the queue */

  /* Template children */
  AdwToastOverlay      *toast_overlay;
  AdwPreferencesGroup  *settings_problem_group;
  GtkLabel             *settings_problem_label;
  GtkButton            *settings_problem_button;
  AdwEntryRow          *server_row;
  GtkButton            *detect_button;
  GtkBox               *server_note_box;
  GtkImage             *server_note_icon;
  GtkLabel             *server_note_label;
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
  AdwEntryRow          *local_recipient_row;
  GtkLabel             *local_recipient_error_label;
  RelayTestGroup       *test_group;
  AdwPreferencesGroup  *queue_group;
  AdwActionRow         *queue_row;
  GtkButton            *queue_flush_button;

  /* Password state. The row is the source of truth while the keyring cannot take it. */
  guint                 store_timeout_id;
  guint                 lookup_timeout_id;
  guint                 stores_in_flight;
  guint                 password_edits;     /* bumped by each edit, to spot stale lookups */
  gboolean              password_dirty;     /* the row holds text that the keyring lacks */
  gboolean              password_carried;   /* ... taken over from the previous server/user,
                                             * not typed for these */
  char                 *edit_server;        /* the server and user the last edit was made */
  char                 *edit_user;          /* for */
  gboolean              setting_password;   /* the row is being filled from the keyring */
  gboolean              password_save_failed; /* the keyring refused the last save */
  AdwToast             *keyring_toast;      /* its "Try Again", shown until a save works */
};

G_DEFINE_FINAL_TYPE (RelayWindow, relay_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static gboolean on_store_timeout_cb      (gpointer       user_data);

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

/* The mouse wheel over the port scrolls the page, as it does over every other row: a spin
 * button takes the wheel for itself, and a page scrolled with the wheel changed the port (and
 * saved it) as soon as the field passed under the pointer. Keys and the -/+ buttons still
 * change it. */
static gboolean
on_port_spin_scroll_cb (GtkEventControllerScroll *controller,
                        double                    dx,
                        double                    dy,
                        gpointer                  user_data)
{
  GtkWidget *spin = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (controller));
  GtkWidget *scrolled = gtk_widget_get_ancestor (spin, GTK_TYPE_SCROLLED_WINDOW);
  GtkAdjustment *adjustment;
  double step;

  if (scrolled == NULL)
    return FALSE;
  adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));
  step = MAX (gtk_adjustment_get_page_size (adjustment) / 8.0, 24.0);
  if (gtk_event_controller_scroll_get_unit (controller) == GDK_SCROLL_UNIT_SURFACE)
    step = 1.0;
  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_value (adjustment) + dy * step);
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

/* Server name: the resolver watch says whether it can be used, and clears by itself. The line
 * under the row always holds one line of text, so that the rows below stay where they are
 * while a name is typed and looked up (and the frame does not have to lay out and redraw the
 * whole page); only a warning, which needs more words, makes it taller. */

static void
update_dns_status (RelayWindow *self)
{
  RelayResolverState state = relay_resolver_watch_get_state (self->resolver_watch);
  const char *message = relay_resolver_watch_get_message (self->resolver_watch);
  GtkWidget *label = GTK_WIDGET (self->dns_warning_label);
  GtkWidget *icon = GTK_WIDGET (self->dns_status_icon);
  g_autofree char *text = NULL;

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
      /* Not the name being typed: the line is an alert for screen readers, and would be read
       * out again at every keystroke. The name is just above, in the row. */
      text = g_strdup (_("Looking up the server’s address…"));
      gtk_widget_add_css_class (label, "dim-label");
      gtk_widget_set_visible (icon, FALSE);
      break;
    case RELAY_RESOLVER_STATE_RESOLVED:
      {
        const char * const *addresses = relay_resolver_watch_get_addresses (self->resolver_watch);
        g_autofree char *server = g_strstrip (g_strdup (relay_resolver_watch_get_server (self->resolver_watch)));

        text = addresses != NULL ? g_strjoinv (", ", (char **) addresses) : NULL;
        /* An IP address resolves to itself: say so rather than repeat it. */
        if (text == NULL || *text == '\0' || g_ascii_strcasecmp (text, server) == 0)
          {
            g_free (text);
            text = g_strdup (_("An IP address: used as it is, no DNS lookup"));
          }
        gtk_widget_add_css_class (label, "dim-label");
        gtk_widget_set_visible (icon, FALSE);
      }
      break;
    case RELAY_RESOLVER_STATE_IDLE:
    default:
      text = g_strdup (_("No server set yet: alerts cannot be sent"));
      gtk_widget_add_css_class (label, "dim-label");
      gtk_widget_set_visible (icon, FALSE);
      break;
    }

  gtk_label_set_text (self->dns_warning_label, text != NULL ? text : "");
  /* A warning or the addresses may be worth copying; "No server set yet" and "Looking up…" are
   * not, and a selectable label is a Tab stop on every pass through the window. */
  gtk_label_set_selectable (self->dns_warning_label,
                            state != RELAY_RESOLVER_STATE_IDLE &&
                            state != RELAY_RESOLVER_STATE_RESOLVING);
}

/* An internationalised name is shown as it goes on the wire too, and a name that mixes
 * alphabets (a lookalike of another name) is pointed out: the user should see which server
 * the alerts really go to. */
static void
update_server_note (RelayWindow *self)
{
  g_autofree char *server = g_settings_get_string (self->settings, "server");
  g_autofree char *warning = relay_hostname_check_mixed_scripts (server);
  g_autofree char *described = NULL;
  g_autofree char *text = NULL;

  if (warning == NULL && (described = relay_hostname_describe (server)) != NULL &&
      strstr (described, "xn--") != NULL)
    /* Translators: %s is a name as typed and as sent, e.g. "bücher.example (xn--bcher-kva.example)" */
    text = g_strdup_printf (_("Connects to %s"), described);

  gtk_widget_set_visible (GTK_WIDGET (self->server_note_icon), warning != NULL);
  gtk_label_set_text (self->server_note_label, warning != NULL ? warning : text != NULL ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->server_note_box), warning != NULL || text != NULL);
}

/* Detect: propose server, port and security from the sender's domain; apply only on request. */

static void
set_detect_running (RelayWindow *self,
                    gboolean     running)
{
  if (running)
    {
      GtkWidget *spinner = gtk_spinner_new ();

      gtk_spinner_start (GTK_SPINNER (spinner));
      gtk_button_set_child (self->detect_button, spinner);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->detect_button), _("Stop detecting"));
      /* A screen reader names the button by what it does now, not "Detect Settings". */
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->detect_button),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, _("Stop Detecting"), -1);
    }
  else
    {
      gtk_button_set_icon_name (self->detect_button, "system-search-symbolic");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->detect_button),
                                   _("Detect the server, port and security from the sender address"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->detect_button),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, _("Detect Settings"), -1);
    }
}

/* An AdwToast's title is Pango markup (libadwaita 1.2 has no way to turn that off), and an
 * error may quote a server ("535 5.7.8 <user>: bad password & locked") or a name the user
 * typed: escaped, it shows as written instead of an empty toast or markup of the server's. */
static void
add_text_toast (AdwToastOverlay *overlay,
                const char      *text)
{
  g_autofree char *escaped = g_markup_escape_text (text, -1);

  adw_toast_overlay_add_toast (overlay, adw_toast_new (escaped));
}

static void
on_detect_response_cb (AdwMessageDialog *dialog,
                       const char       *response,
                       RelayWindow      *self)
{
  RelayDetectProposal *proposal = g_object_get_data (G_OBJECT (dialog), "proposal");
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (response, "apply") != 0 || proposal == NULL)
    return;

  if (!relay_detect_proposal_apply (proposal, self->settings, &error))
    add_text_toast (self->toast_overlay, error->message);
  else
    adw_toast_overlay_add_toast (self->toast_overlay,
                                 adw_toast_new (_("Settings applied: send a test message to check them")));
}

static void
show_detect_report (RelayWindow       *self,
                    RelayDetectReport *report)
{
  RelayDetectProposal *best = relay_detect_report_get_best (report);
  GPtrArray *proposals = relay_detect_report_get_proposals (report);
  const char * const *notes = relay_detect_report_get_notes (report);
  g_autoptr(GString) body = g_string_new (NULL);
  AdwMessageDialog *dialog;
  GtkWidget *details;
  GtkWidget *scrolled;

  if (best != NULL)
    {
      g_autofree char *text = relay_detect_proposal_describe (best);

      g_string_append (body, text);
      if (proposals != NULL && proposals->len > 1)
        {
          g_string_append_printf (body, "\n\n%s", _("Other candidates:"));
          for (guint i = 1; i < proposals->len; i++)
            {
              RelayDetectProposal *other = g_ptr_array_index (proposals, i);

              g_string_append_printf (body, _("\n• %s, port %u (%s)"),
                                      relay_detect_proposal_get_host (other),
                                      relay_detect_proposal_get_port (other),
                                      relay_detect_proposal_get_source (other));
            }
        }
      dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self),
                                                           _("Use These Settings?"),
                                                           _("Nothing is changed until you choose Apply.")));
      adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "apply", _("_Apply"), NULL);
      adw_message_dialog_set_response_appearance (dialog, "apply", ADW_RESPONSE_SUGGESTED);
      adw_message_dialog_set_default_response (dialog, "apply");
      g_object_set_data_full (G_OBJECT (dialog), "proposal", g_object_ref (best), g_object_unref);
    }
  else
    {
      GPtrArray *guesses = relay_detect_report_get_guesses (report);
      g_autofree char *heading = g_strdup_printf (_("No Settings Found for %s"),
                                                  relay_detect_report_get_domain (report));

      const char *summary =
        relay_detect_report_get_incomplete (report)
        ? _("Some sources could not be asked: check the network connection and try again. "
            "Meanwhile, the usual names are below.")
        : _("No source describes this domain's mail server. Ask the provider, or try one of the "
            "usual names below.");

      for (guint i = 0; guesses != NULL && i < guesses->len; i++)
        {
          RelayDetectProposal *guess = g_ptr_array_index (guesses, i);
          const char *security = relay_security_to_label (relay_detect_proposal_get_security (guess));

          g_string_append_printf (body, _("\n• %s, port %u, %s"),
                                  relay_detect_proposal_get_host (guess),
                                  relay_detect_proposal_get_port (guess), security);
        }
      dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), NULL, summary));
      {
        /* The domain: a hyphen inserted at a line break would read as part of it. */
        g_autofree char *markup = g_markup_printf_escaped ("<span insert_hyphens=\"false\">%s</span>",
                                                           heading);

        adw_message_dialog_set_heading_use_markup (dialog, TRUE);
        adw_message_dialog_set_heading (dialog, markup);
      }
      adw_message_dialog_add_responses (dialog, "close", _("_Close"), NULL);
    }

  if (notes != NULL && notes[0] != NULL)
    {
      g_string_append_printf (body, "\n\n%s", _("What the sources said:"));
      for (guint i = 0; notes[i] != NULL; i++)
        g_string_append_printf (body, "\n• %s", notes[i]);
    }

  /* The details in a label of their own: the dialog's body is centred, which scatters lists
   * ("• …") that wrap, and long notes scroll rather than grow the dialog off the screen. */
  details = gtk_label_new (g_strchug (body->str));
  gtk_label_set_xalign (GTK_LABEL (details), 0);
  gtk_label_set_wrap (GTK_LABEL (details), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (details), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (details), TRUE);
  {
    /* host names: a hyphen inserted at a line break would read as part of one */
    g_autoptr(PangoAttrList) attrs = pango_attr_list_new ();

    pango_attr_list_insert (attrs, pango_attr_insert_hyphens_new (FALSE));
    gtk_label_set_attributes (GTK_LABEL (details), attrs);
  }
  gtk_widget_set_valign (details, GTK_ALIGN_START);
  scrolled = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scrolled), TRUE);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scrolled), 320);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), details);
  adw_message_dialog_set_extra_child (dialog, scrolled);
  relay_a11y_fix_button_names (GTK_WIDGET (dialog));   /* "_Apply Apply" otherwise */
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_detect_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Detect and libsoup are opened at the first Detect, not with the window (relay-detect-module.h),
 * and kept for the process; a failed load is tried again at the next click. Opening a local
 * module takes a few milliseconds once; it is done here rather than in a thread, which exit()
 * could catch in the middle of dlopen(). */
static RelayDetectModuleLoader detect_module_loader = relay_module_load_detect;
static const RelayDetectModule *detect_module;

/**
 * relay_window_set_detect_module_loader:
 * @loader: how the windows get Detect from now on
 *
 * For the tests, which link Detect into the program: the application opens its module.
 */
void
relay_window_set_detect_module_loader (RelayDetectModuleLoader loader)
{
  detect_module_loader = loader;
  detect_module = NULL;
}

static void
on_detected_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr(RelayWindow) self = g_weak_ref_get (weak);
  g_autoptr(RelayDetectReport) report = NULL;
  g_autoptr(GError) error = NULL;

  g_weak_ref_clear (weak);
  g_free (weak);
  report = detect_module->detect_finish (object, result, &error);
  /* A weak reference: closing the window disposes it, which cancels the detection. */
  if (self == NULL || self->detect_button == NULL)
    return;

  g_clear_object (&self->detect_cancellable);
  set_detect_running (self, FALSE);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error != NULL)
    {
      add_text_toast (self->toast_overlay, error->message);
      return;
    }
  show_detect_report (self, report);
}

static void
on_detect_clicked_cb (RelayWindow *self)
{
  g_autofree char *sender = NULL;
  GWeakRef *weak;

  if (self->detect_cancellable != NULL)
    {
      g_cancellable_cancel (self->detect_cancellable);
      return;
    }

  if (self->detector == NULL)
    {
      g_autofree char *why = NULL;

      if (detect_module == NULL)
        detect_module = detect_module_loader (&why);
      if (detect_module == NULL)
        {
          /* A toast has room for a line: the loader's whole explanation goes to the log.
           * Translators: %s is a file name, smtp-relay-detect.so */
          g_autofree char *message = g_strdup_printf (_("Detect is not available (%s)"),
                                                      RELAY_DETECT_MODULE_NAME);

          g_warning ("Cannot load Detect: %s", why);
          adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
          return;
        }
      self->detector = detect_module->detector_new ();
      g_settings_bind (self->settings, "isp-database-url", self->detector, "isp-database-url",
                       G_SETTINGS_BIND_GET);
    }

  sender = g_settings_get_string (self->settings, "sender");
  self->detect_cancellable = g_cancellable_new ();
  set_detect_running (self, TRUE);
  weak = g_new0 (GWeakRef, 1);
  g_weak_ref_init (weak, self);
  detect_module->detect_async (self->detector, sender, self->detect_cancellable, on_detected_cb,
                                weak);
}

/* The queue: messages that `smtp-relay send`/`sendmail` could not deliver yet. */

static void count_queue (RelayWindow *self);
static void schedule_queue_retry (RelayWindow *self,
                                  guint        delay_ms);

static void
on_queue_counted_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(RelayWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  guint count = relay_queue_count_finish (result, &error);
  g_autofree char *subtitle = NULL;
  const char *reason;

  self->counting = FALSE;
  if (error != NULL || self->queue_row == NULL)
    return;   /* cancelled: the window is closing */
  if (self->count_again)
    {
      count_queue (self);
      return;
    }

  if (count == 0)
    {
      GtkWidget *focus = gtk_window_get_focus (GTK_WINDOW (self));
      gboolean had_focus = focus != NULL &&
                           gtk_widget_is_ancestor (focus, GTK_WIDGET (self->queue_group));

      /* Hiding the focused row would leave the focus nowhere: the next Tab would start at the
       * top of the window. The group below takes it. */
      gtk_widget_set_visible (GTK_WIDGET (self->queue_group), FALSE);
      if (had_focus)
        gtk_widget_child_focus (GTK_WIDGET (self->test_group), GTK_DIR_TAB_FORWARD);
      return;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->queue_group), TRUE);
  /* Queued while the window is open (the relay just went down): tried again like what the
   * start-up flush found. Not from a queue a flush could not change (sent, not removed). */
  if (!self->flushing && self->queue_retry_id == 0 && !self->queue_blocked)
    schedule_queue_retry (self, self->queue_retry_ms);

  subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                           "%u message could not be delivered yet; it is tried again every few minutes while SMTP Relay is open",
                                           "%u messages could not be delivered yet; they are tried again every few minutes while SMTP Relay is open",
                                           count), count);
  /* Before the window's own flush has tried, why `send` queued the newest message. */
  reason = self->queue_failure != NULL ? self->queue_failure
                                       : relay_queue_count_get_newest_error (result);
  if (reason != NULL)
    {
      /* The subtitle is markup; the reason may quote a server ("<alerts@example.com>"). */
      g_autofree char *escaped = g_markup_escape_text (reason, -1);
      g_autofree char *both = g_strdup_printf (_("%s. Last attempt: %s"), subtitle, escaped);

      g_free (subtitle);
      subtitle = g_steal_pointer (&both);
    }
  adw_action_row_set_subtitle (self->queue_row, subtitle);
  gtk_widget_set_sensitive (GTK_WIDGET (self->queue_flush_button), !self->flushing);
}

/* A flush changes the directory once per message: one count at a time, and one more after it
 * if anything changed meanwhile. */
static void
count_queue (RelayWindow *self)
{
  if (self->counting)
    {
      self->count_again = TRUE;
      return;
    }
  self->counting = TRUE;
  self->count_again = FALSE;
  relay_queue_count_async (self->cancellable, on_queue_counted_cb, g_object_ref (self));
}

static void add_count_toast (RelayWindow *self,
                             const char  *format,
                             ...) G_GNUC_PRINTF (2, 3);

/* @format: a translated plural form (g_dngettext() keeps it checked) */
static void
add_count_toast (RelayWindow *self,
                 const char  *format,
                 ...)
{
  g_autofree char *title = NULL;
  va_list args;

  va_start (args, format);
  title = g_strdup_vprintf (format, args);
  va_end (args);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (title));
}

static void
on_refused_details_cb (AdwToast    *toast,
                       RelayWindow *self)
{
  AdwMessageDialog *dialog;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), _("Refused for Good"),
                                                       g_object_get_data (G_OBJECT (toast), "details")));
  adw_message_dialog_add_responses (dialog, "close", _("_Close"), NULL);
  relay_a11y_fix_button_names (GTK_WIDGET (dialog));
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The messages a flush set aside leave the queue row: the toast's Details say why, and where
 * they are kept, since nothing else in the window shows them. */
static void
show_refused_toast (RelayWindow  *self,
                    GAsyncResult *result,
                    guint         failed)
{
  guint damaged = MIN (relay_queue_flush_get_damaged (result), failed);
  const char *reason = relay_queue_flush_get_last_refusal (result);
  g_autofree char *directory = relay_queue_get_failed_directory ();
  g_autofree char *title = NULL;
  GString *details = g_string_new (NULL);
  AdwToast *toast;

  if (damaged == failed)
    title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u damaged queue file set aside",
                                          "%u damaged queue files set aside", failed), failed);
  else
    title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u message refused for good",
                                          "%u messages refused for good", failed), failed);
  if (failed > damaged)
    g_string_append_printf (details,
                            g_dngettext (GETTEXT_PACKAGE,
                                         "The server refused %u waiting message for good, so it is not tried again. It was moved to %s, and “smtp-relay queue --failed” lists it.",
                                         "The server refused %u waiting messages for good, so they are not tried again. They were moved to %s, and “smtp-relay queue --failed” lists them.",
                                         failed - damaged),
                            failed - damaged, directory);
  if (reason != NULL)
    g_string_append_printf (details, "\n\n%s", reason);
  if (damaged > 0)
    {
      if (details->len > 0)
        g_string_append (details, "\n\n");
      g_string_append_printf (details,
                              g_dngettext (GETTEXT_PACKAGE,
                                           "%u file in the queue could not be read as a message; it was set aside in %s.",
                                           "%u files in the queue could not be read as messages; they were set aside in %s.",
                                           damaged),
                              damaged, directory);
    }

  toast = adw_toast_new (title);
  /* Translators: the underlined letter is pressed with Alt while the toast shows; pick one that
   * no row or button of the window uses (in English, D, E, T, A, L and S are taken). */
  adw_toast_set_button_label (toast, _("Deta_ils"));
  g_object_set_data_full (G_OBJECT (toast), "details", g_string_free (details, FALSE), g_free);
  g_signal_connect_object (toast, "button-clicked", G_CALLBACK (on_refused_details_cb), self, 0);
  /* An alert that will never arrive: shown at once, before a "sent" toast, and until dismissed. */
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  adw_toast_set_timeout (toast, 0);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
on_queue_flushed_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(RelayWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  guint sent = 0, waiting = 0, failed = 0;

  relay_queue_flush_finish (result, &sent, &waiting, &failed, &error);
  self->flushing = FALSE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->queue_row == NULL)
    return;

  /* Why the rest still waits goes under the queue row, where it stays; a toast says the
   * outcome, so that "Send Now" never ends without a word. */
  g_free (self->queue_failure);
  self->queue_failure = waiting > 0 ? g_strdup (relay_queue_flush_get_last_failure (result)) : NULL;
  if (self->queue_failure == NULL && waiting > 0 && error != NULL)
    self->queue_failure = g_strdup (error->message);
  self->queue_blocked = sent > 0 && error != NULL && error->domain == G_FILE_ERROR;
  count_queue (self);   /* which schedules the next try while messages wait */
  if (self->flush_quiet && sent == 0 && failed == 0)
    return;   /* a retry that changed nothing: the row says it */
  if (error != NULL)
    add_text_toast (self->toast_overlay, error->message);
  else if (sent > 0)
    add_count_toast (self, g_dngettext (GETTEXT_PACKAGE, "%u waiting message sent",
                                        "%u waiting messages sent", sent), sent);
  else if (waiting > 0)
    add_count_toast (self, g_dngettext (GETTEXT_PACKAGE, "Not sent: %u message still waits",
                                        "Not sent: %u messages still wait", waiting), waiting);
  /* Even when the flush then stopped (the relay refused this computer, the keyring gave no
   * password): what it set aside has left the queue row, and only this toast says so. */
  if (failed > 0)
    show_refused_toast (self, result, failed);
}

static void
flush_queue (RelayWindow *self,
             gboolean     quiet)
{
  g_clear_handle_id (&self->queue_retry_id, g_source_remove);
  if (self->flushing)
    return;
  self->flushing = TRUE;
  self->flush_quiet = quiet;
  /* An insensitive button loses the focus to nowhere; the row keeps it, and its description
   * (the subtitle) says how the flush went. */
  if (gtk_widget_has_focus (GTK_WIDGET (self->queue_flush_button)))
    gtk_widget_grab_focus (GTK_WIDGET (self->queue_row));
  gtk_widget_set_sensitive (GTK_WIDGET (self->queue_flush_button), FALSE);
  relay_queue_flush_async (self->settings, self->cancellable, on_queue_flushed_cb,
                           g_object_ref (self));
}

static void
on_queue_flush_clicked_cb (RelayWindow *self)
{
  flush_queue (self, FALSE);
}

static gboolean
on_queue_retry_cb (gpointer user_data)
{
  RelayWindow *self = user_data;

  self->queue_retry_id = 0;
  flush_queue (self, TRUE);
  return G_SOURCE_REMOVE;
}

/* Messages that wait are tried again while the window is open: the systemd timer is not
 * enabled by default, and an alert queued in a short outage should not wait for the next
 * start. */
static void
schedule_queue_retry (RelayWindow *self,
                      guint        delay_ms)
{
  g_clear_handle_id (&self->queue_retry_id, g_source_remove);
  self->queue_retry_id = g_timeout_add (delay_ms, on_queue_retry_cb, self);
}

/* Back on a network: the relay may be reachable now. */
static void
on_network_changed_cb (RelayWindow *self,
                       gboolean     available)
{
  if (available && self->queue_retry_id != 0)
    schedule_queue_retry (self, MIN (self->queue_retry_ms, QUEUE_RETRY_AFTER_NETWORK_MS));
}

static void
on_queue_changed_cb (RelayWindow       *self,
                     GFile             *file,
                     GFile             *other,
                     GFileMonitorEvent  event,
                     GFileMonitor      *monitor)
{
  count_queue (self);
}

static void
watch_queue (RelayWindow *self)
{
  g_autofree char *directory = relay_queue_get_directory ();
  g_autoptr(GFile) file = g_file_new_for_path (directory);

  /* The directory may not exist yet; the monitor still reports when it appears. */
  self->queue_monitor = g_file_monitor_directory (file, G_FILE_MONITOR_NONE, NULL, NULL);
  if (self->queue_monitor != NULL)
    g_signal_connect_object (self->queue_monitor, "changed", G_CALLBACK (on_queue_changed_cb),
                             self, G_CONNECT_SWAPPED);
  g_signal_connect_object (g_network_monitor_get_default (), "network-changed",
                           G_CALLBACK (on_network_changed_cb), self, G_CONNECT_SWAPPED);
  count_queue (self);
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

/* Shows why the address in @row is invalid under it, in red and to assistive technologies.
 * An empty row is "not set yet", not a typing mistake: the group description says why it
 * matters. What the user typed stays as it is. Returns whether the address is valid. */
static gboolean
update_address_error (AdwEntryRow *row,
                      GtkLabel    *label)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (row));
  g_autoptr(GError) error = NULL;
  g_autofree char *normalized = NULL;
  gboolean invalid;

  normalized = relay_address_normalize (text, &error);
  invalid = normalized == NULL && !g_error_matches (error, RELAY_ADDRESS_ERROR,
                                                    RELAY_ADDRESS_ERROR_EMPTY);
  if (invalid)
    {
      gtk_label_set_text (label, error->message);
      gtk_widget_add_css_class (GTK_WIDGET (row), "error");
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (row), "error");
    }
  gtk_widget_set_visible (GTK_WIDGET (label), invalid);
  gtk_accessible_update_state (GTK_ACCESSIBLE (row),
                               GTK_ACCESSIBLE_STATE_INVALID,
                               invalid ? GTK_ACCESSIBLE_INVALID_TRUE : GTK_ACCESSIBLE_INVALID_FALSE,
                               -1);
  /* GTK 4.8 gives a screen reader no description from the described-by relation: the reason
   * is the row's description itself, or it would hear "invalid" without why. */
  if (invalid)
    gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                    error->message, -1);
  else
    gtk_accessible_reset_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);
  return normalized != NULL;
}

static void
update_sender_error (RelayWindow *self)
{
  gboolean valid = update_address_error (self->sender_row, self->sender_error_label);

  /* Detect works from the sender's domain; a test refuses to run without a sender. The
   * tooltip (and the description a screen reader gives) says why the button is dimmed: on
   * first run it is the first control, and the Sender group is three groups below. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->detect_button), valid);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->detect_button),
                               valid ? _("Detect the server, port and security from the sender address")
                                     : _("Enter a sender address under Sender first: Detect works from its domain"));
}

/* Password */

static void
show_keyring_problem (RelayWindow *self,
                      const char  *message)
{
  gtk_label_set_text (self->keyring_status_label, message);
  gtk_widget_set_visible (GTK_WIDGET (self->keyring_status_label), message != NULL);
}

/* What a keyring store keeps alive until it is answered: the window, to report the outcome,
 * and a hold on the application, which the window may no longer belong to by then. */
typedef struct
{
  RelayWindow  *self;
  GApplication *application;
  gboolean      carried;      /* what was saved had been carried over, not typed */
  guint         edits;        /* the window's password_edits when the save began */
} SaveData;

static SaveData *
save_data_new (RelayWindow *self)
{
  SaveData *data = g_new0 (SaveData, 1);
  GtkApplication *application = gtk_window_get_application (GTK_WINDOW (self));

  data->self = g_object_ref (self);
  if (application != NULL)
    {
      data->application = g_object_ref (G_APPLICATION (application));
      g_application_hold (data->application);
    }
  return data;
}

static void
save_data_free (SaveData *data)
{
  if (data->application != NULL)
    {
      g_application_release (data->application);
      g_object_unref (data->application);
    }
  g_object_unref (data->self);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SaveData, save_data_free)

static void
on_keyring_toast_dismissed_cb (RelayWindow *self)
{
  g_clear_weak_pointer (&self->keyring_toast);
}

static void
handle_save_result (RelayWindow *self,
                    gboolean     carried,
                    GError      *error)
{
  g_autofree char *message = NULL;
  AdwToast *toast;

  self->stores_in_flight--;

  if (self->toast_overlay == NULL)
    {
      /* The window is gone: the log is the only place left to say it (never the password). */
      if (error != NULL)
        g_warning ("Could not save the password in the keyring: %s", error->message);
      return;
    }

  self->password_save_failed = error != NULL;
  if (error == NULL)
    {
      show_keyring_problem (self, NULL);
      if (self->keyring_toast != NULL)
        adw_toast_dismiss (self->keyring_toast);
      return;
    }

  g_debug ("Could not save the password in the keyring: %s", error->message);
  self->password_dirty = TRUE;
  /* Still pending as what it was: a carried password that failed to save stays one that a
   * stored password of the next server replaces (unless the user has typed since). */
  self->password_carried = carried;
  message = g_strdup_printf (_("The password could not be saved in the keyring: %s. "
                               "It stays in this window and is saved when you edit it "
                               "or choose Try Again."), error->message);
  show_keyring_problem (self, message);

  if (self->keyring_toast != NULL)
    return;   /* still shown, with its button */
  toast = adw_toast_new (_("Password not saved"));
  /* Translators: the underlined letter is pressed with Alt while the toast shows; pick one that
   * no row or button of the window uses (in English, not R, E, T or Y: so not "_Retry"). */
  adw_toast_set_button_label (toast, _("Try A_gain"));
  adw_toast_set_action_name (toast, "win.retry-password");
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  /* The line under the password says to choose Try Again: the button stays until a save
   * works (or the user dismisses it), rather than going after a few seconds. */
  adw_toast_set_timeout (toast, 0);
  g_set_weak_pointer (&self->keyring_toast, toast);
  g_signal_connect_object (toast, "dismissed", G_CALLBACK (on_keyring_toast_dismissed_cb), self,
                           G_CONNECT_SWAPPED);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
on_password_stored_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(SaveData) data = user_data;
  g_autoptr(GError) error = NULL;

  relay_secret_store_store_finish (result, &error);
  handle_save_result (data->self, data->carried && data->edits == data->self->password_edits,
                      error);
}

static void
on_password_cleared_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(SaveData) data = user_data;
  g_autoptr(GError) error = NULL;

  relay_secret_store_clear_finish (result, &error);
  handle_save_result (data->self, data->carried && data->edits == data->self->password_edits,
                      error);
}

/* Saves the row's text for @server and @user, or clears what they have when the row is empty. */
static void
store_password_for (RelayWindow *self,
                    const char  *server,
                    const char  *user)
{
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));
  gboolean carried = self->password_carried;
  SaveData *data;

  g_clear_handle_id (&self->store_timeout_id, g_source_remove);
  if (!self->password_dirty)
    return;
  self->password_dirty = FALSE;
  self->password_carried = FALSE;

  /* The application is held until the keyring answers, so that closing the window right after
   * typing still saves the password: it does not exit while it is held. No cancellable: a
   * store that has started must finish even if the window goes away. */
  self->stores_in_flight++;
  data = save_data_new (self);
  data->carried = carried;
  data->edits = self->password_edits;
  if (*password == '\0')
    relay_secret_store_clear_async (server, user, NULL, on_password_cleared_cb, data);
  else
    relay_secret_store_store_async (server, user, password, NULL, on_password_stored_cb, data);
}

static void
store_password_now (RelayWindow *self)
{
  g_autofree char *server = g_settings_get_string (self->settings, "server");
  g_autofree char *user = g_settings_get_string (self->settings, "username");

  store_password_for (self, server, user);
}

static void
schedule_store (RelayWindow *self,
                guint        delay_ms)
{
  self->password_dirty = TRUE;
  g_clear_handle_id (&self->store_timeout_id, g_source_remove);
  self->store_timeout_id = g_timeout_add (delay_ms, on_store_timeout_cb, self);
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
  self->password_carried = FALSE;
  g_free (self->edit_server);
  self->edit_server = g_settings_get_string (self->settings, "server");
  g_free (self->edit_user);
  self->edit_user = g_settings_get_string (self->settings, "username");
  schedule_store (self, PASSWORD_STORE_DELAY_MS);
  relay_test_group_invalidate_result (self->test_group);
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
   * the new server and user instead. */
  if ((self->password_dirty && !self->password_carried) ||
      data->password_edits != self->password_edits)
    {
      schedule_store (self, PASSWORD_STORE_DELAY_MS);
    }
  else if (password != NULL)
    {
      /* Theirs, not a password carried over from the name typed before (half a name, say). */
      self->password_dirty = FALSE;
      self->password_carried = FALSE;
      self->setting_password = TRUE;
      gtk_editable_set_text (GTK_EDITABLE (self->password_row), password);
      self->setting_password = FALSE;
    }
  else if (*gtk_editable_get_text (GTK_EDITABLE (self->password_row)) != '\0')
    {
      /* Nothing stored for them yet: correcting the server name does not make the user type
       * the password again. */
      self->password_carried = TRUE;
      schedule_store (self, PASSWORD_CARRY_DELAY_MS);
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

/* A value stored behind the window's back (`dconf write`, a keyfile, a system-wide database)
 * that GSettings ignores: the rows show the defaults in its place, so say which and why. */
static void
update_settings_problem (RelayWindow *self)
{
  g_autoptr(GPtrArray) unusable = relay_settings_find_unusable (self->settings);
  g_autoptr(GString) text = g_string_new (NULL);
  gboolean writable = FALSE;

  for (guint i = 0; i < unusable->len; i++)
    {
      const RelayUnusableSetting *entry = g_ptr_array_index (unusable, i);

      g_string_append_printf (text, "%s%s", text->len ? "\n" : "", entry->message);
      writable |= g_settings_is_writable (self->settings, entry->key);
    }
  if (text->len > 0)
    gtk_label_set_text (self->settings_problem_label, text->str);
  /* An administrator's lock: "Use Defaults" could store nothing */
  gtk_widget_set_visible (GTK_WIDGET (self->settings_problem_button), writable);
  gtk_widget_set_visible (GTK_WIDGET (self->settings_problem_group), text->len > 0);
}

static void
on_settings_problem_clicked_cb (RelayWindow *self)
{
  g_autoptr(GPtrArray) unusable = relay_settings_find_unusable (self->settings);

  /* The button goes with the group: keep the keyboard focus in the page. */
  gtk_widget_grab_focus (GTK_WIDGET (self->server_row));
  relay_settings_replace_unusable (self->settings, unusable);
  update_settings_problem (self);
}

static void
on_settings_changed_cb (RelayWindow *self,
                        const char  *key,
                        GSettings   *settings)
{
  update_settings_problem (self);
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
  else if (g_str_equal (key, "local-recipient"))
    {
      update_address_error (self->local_recipient_row, self->local_recipient_error_label);
    }
  else if (g_str_equal (key, "server") || g_str_equal (key, "username"))
    {
      if (g_str_equal (key, "server"))
        update_server_note (self);
      /* Emptying the row clears the password of the server and user it showed; applied to the
       * new pair, it would delete a password the user never saw. */
      if (self->password_dirty && !self->password_carried && self->edit_server != NULL &&
          *gtk_editable_get_text (GTK_EDITABLE (self->password_row)) == '\0')
        store_password_for (self, self->edit_server, self->edit_user);
      /* A typed edit stays pending (password_dirty): the lookup for the new pair decides where
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
  update_settings_problem (self);
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

static void
send_test_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  RelayWindow *self = RELAY_WINDOW (widget);

  /* Ctrl+T while a port is typed in the field: the spin button commits it only on Enter or
   * focus-out, and the test reads the settings. Test what is on screen. */
  gtk_spin_button_update (self->port_spin);
  relay_test_group_send (self->test_group);
}

/* GtkApplication would build the shortcuts window along with every main window, from
 * gtk/help-overlay.ui: a few milliseconds before the first frame for a window that few open.
 * It is built here on first use instead (the accelerators are set in relay-application.c), and
 * handed to the window as its help overlay: only then does it find the accelerators to show
 * (transient for the window, it listed the actions without their keys). */
static void
show_help_overlay_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  GtkApplicationWindow *window = GTK_APPLICATION_WINDOW (widget);
  GtkShortcutsWindow *overlay = gtk_application_window_get_help_overlay (window);

  if (overlay == NULL)
    {
      g_autoptr(GtkBuilder) builder =
        gtk_builder_new_from_resource ("/io/github/smtprelay/SmtpRelay/help-overlay.ui");

      overlay = GTK_SHORTCUTS_WINDOW (gtk_builder_get_object (builder, "help_overlay"));
      gtk_application_window_set_help_overlay (window, overlay);
    }
  gtk_window_present (GTK_WINDOW (overlay));
}

/* The size a window had when it was closed is the size the next one opens with (GSettings
 * falls back to the defaults for values outside the schema's range). */
static void
restore_window_state (RelayWindow *self)
{
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
}

static void
save_window_state (RelayWindow *self)
{
  int width, height;

  /* While maximized the default size is still the unmaximized one: that is what to keep. */
  gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
  if (width > 0 && height > 0)
    {
      g_settings_set_int (self->settings, "window-width", CLAMP (width, 200, 16384));
      g_settings_set_int (self->settings, "window-height", CLAMP (height, 200, 16384));
    }
  g_settings_set_boolean (self->settings, "window-maximized",
                          gtk_window_is_maximized (GTK_WINDOW (self)));
}

static gboolean
close_after_dialog_cb (gpointer user_data)
{
  gtk_window_close (GTK_WINDOW (user_data));
  return G_SOURCE_REMOVE;
}

static void
on_unsaved_password_response_cb (AdwMessageDialog *dialog,
                                 const char       *response,
                                 RelayWindow      *self)
{
  if (!g_str_equal (response, "discard"))
    return;
  self->password_dirty = FALSE;
  self->password_save_failed = FALSE;
  /* Not from inside the dialog's own response: closing the window destroys the dialog, which
   * closes itself once the response is delivered. */
  g_idle_add_full (G_PRIORITY_DEFAULT, close_after_dialog_cb, g_object_ref (self), g_object_unref);
}

/* The keyring refused the password, and closing would try once more out of sight and lose it
 * if that fails too: ask first. */
static gboolean
confirm_unsaved_password (RelayWindow *self)
{
  AdwMessageDialog *dialog;

  if (!self->password_save_failed || !self->password_dirty ||
      *gtk_editable_get_text (GTK_EDITABLE (self->password_row)) == '\0')
    return FALSE;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self),
                                                       _("Discard the Password?"),
                                                       _("The keyring has not taken the password "
                                                         "typed in this window, so it would be "
                                                         "lost. Unlock the keyring and choose Try "
                                                         "Again to keep it.")));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Keep Window Open"),
                                    "discard", _("_Discard and Close"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "discard", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  relay_a11y_fix_button_names (GTK_WIDGET (dialog));
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_unsaved_password_response_cb),
                           self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
  return TRUE;
}

static gboolean
relay_window_close_request (GtkWindow *window)
{
  RelayWindow *self = RELAY_WINDOW (window);

  save_window_state (self);
  if (confirm_unsaved_password (self))
    return TRUE;

  /* A pending edit is saved now rather than lost; the application waits for it (see above). */
  /* The window is going: a late keyring lookup has nothing left to fill in. */
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->lookup_timeout_id, g_source_remove);
  store_password_now (self);

  return GTK_WINDOW_CLASS (relay_window_parent_class)->close_request (window);
}

static void
bind_settings (RelayWindow *self)
{
  g_settings_bind (self->settings, "server", self->server_row, "text", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "port", self->port_spin, "value", G_SETTINGS_BIND_DEFAULT);
  {
    GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);

    gtk_event_controller_set_propagation_phase (scroll, GTK_PHASE_CAPTURE);
    g_signal_connect (scroll, "scroll", G_CALLBACK (on_port_spin_scroll_cb), NULL);
    gtk_widget_add_controller (GTK_WIDGET (self->port_spin), scroll);
  }
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
  g_settings_bind (self->settings, "local-recipient", self->local_recipient_row, "text",
                   G_SETTINGS_BIND_DEFAULT);

  g_signal_connect_object (self->settings, "changed", G_CALLBACK (on_settings_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "writable-changed",
                           G_CALLBACK (on_writable_changed_cb), self, G_CONNECT_SWAPPED);

  update_port_subtitle (self);
  update_auth_sensitivity (self);
  update_sender_error (self);
  update_address_error (self->local_recipient_row, self->local_recipient_error_label);
  update_server_note (self);
  update_settings_problem (self);
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
  /* The Test button then needs no CPU for it while its spinner turns. */
  if (g_settings_get_enum (RELAY_WINDOW (widget)->settings, "security") != RELAY_SECURITY_NONE)
    relay_smtp_client_warm_tls ();
  /* Deliver what scripts queued while no keyring was at hand: the desktop session has one. */
  watch_queue (RELAY_WINDOW (widget));
  flush_queue (RELAY_WINDOW (widget), FALSE);
  return G_SOURCE_REMOVE;
}

static void
relay_window_constructed (GObject *object)
{
  RelayWindow *self = RELAY_WINDOW (object);

  G_OBJECT_CLASS (relay_window_parent_class)->constructed (object);

  if (self->settings == NULL)
    self->settings = g_settings_new (APP_ID);
  restore_window_state (self);
  relay_a11y_fix_button_names (GTK_WIDGET (self));
  relay_a11y_name_reveal_button (self->password_row);

  self->resolver_watch = relay_resolver_watch_new ();
  g_signal_connect_object (self->resolver_watch, "notify::state",
                           G_CALLBACK (update_dns_status), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->resolver_watch, "notify::message",
                           G_CALLBACK (update_dns_status), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->resolver_watch, "notify::addresses",
                           G_CALLBACK (update_dns_status), self, G_CONNECT_SWAPPED);
  g_settings_bind (self->settings, "server", self->resolver_watch, "server",
                   G_SETTINGS_BIND_GET);
  update_dns_status (self);   /* an empty server notifies nothing */

  bind_settings (self);
  relay_test_group_set_settings (self->test_group, self->settings);
  relay_test_group_set_password_source (self->test_group, GTK_EDITABLE (self->password_row));
  relay_test_group_set_resolver_watch (self->test_group, self->resolver_watch);

  /* The keyring and the queue are read after the first frame, not on the start-up path. */
  gtk_widget_add_tick_callback (GTK_WIDGET (self), lookup_after_first_frame_cb,
                                g_new0 (guint, 1), g_free);
}

/**
 * relay_window_set_queue_retry_interval:
 * @milliseconds: how long after a flush that left messages waiting the next one starts
 *
 * Five minutes unless set (the tests shorten it).
 */
void
relay_window_set_queue_retry_interval (RelayWindow *self,
                                       guint        milliseconds)
{
  g_return_if_fail (RELAY_IS_WINDOW (self));
  self->queue_retry_ms = milliseconds;
  if (self->queue_retry_id != 0)
    schedule_queue_retry (self, milliseconds);
}

static void
relay_window_dispose (GObject *object)
{
  RelayWindow *self = RELAY_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->detect_cancellable);
  /* Disposing the watch cancels its lookups: no answer reaches a destroyed label. */
  if (self->resolver_watch != NULL)
    g_signal_handlers_disconnect_by_data (self->resolver_watch, self);
  g_clear_object (&self->resolver_watch);
  g_clear_handle_id (&self->lookup_timeout_id, g_source_remove);
  g_clear_handle_id (&self->queue_retry_id, g_source_remove);
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
  g_clear_object (&self->detect_cancellable);
  g_free (self->queue_failure);
  g_clear_weak_pointer (&self->keyring_toast);
  g_free (self->edit_server);
  g_free (self->edit_user);
  g_clear_object (&self->detector);
  g_clear_object (&self->queue_monitor);
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
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, settings_problem_group);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, settings_problem_label);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, settings_problem_button);
  /* Reachable with gtk_widget_get_template_child() for the tests, no field needed. */
  gtk_widget_class_bind_template_child_full (widget_class, "sender_group", FALSE, 0);
  gtk_widget_class_bind_template_child_full (widget_class, "auth_group", FALSE, 0);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, detect_button);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, server_note_box);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, server_note_icon);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, server_note_label);
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
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, local_recipient_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, local_recipient_error_label);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, test_group);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, queue_group);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, queue_row);
  gtk_widget_class_bind_template_child (widget_class, RelayWindow, queue_flush_button);
  gtk_widget_class_bind_template_callback (widget_class, on_detect_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_settings_problem_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_queue_flush_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_port_spin_input_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_port_spin_output_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_password_row_changed_cb);

  gtk_widget_class_install_action (widget_class, "win.retry-password", NULL,
                                   retry_password_action);
  gtk_widget_class_install_action (widget_class, "win.send-test", NULL, send_test_action);
  gtk_widget_class_install_action (widget_class, "win.show-help-overlay", NULL,
                                   show_help_overlay_action);
}

static void
relay_window_init (RelayWindow *self)
{
  g_type_ensure (RELAY_TYPE_TEST_GROUP);
  self->cancellable = g_cancellable_new ();
  self->queue_retry_ms = QUEUE_RETRY_MS;
  gtk_widget_init_template (GTK_WIDGET (self));
  relay_a11y_watch_toasts (self->toast_overlay);
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
