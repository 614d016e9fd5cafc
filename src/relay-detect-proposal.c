/* relay-detect-proposal.c
 *
 * A proposal is inert: it only describes settings. Nothing reaches GSettings until
 * relay_detect_proposal_apply(), so the user can review first. Host, port and security always
 * come from one source (they only make sense together); the login (user name, method) may come
 * from another, so each half records its own origin.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-detect"

#include <glib/gi18n-lib.h>

#include "relay-detect-proposal.h"
#include "relay-hostname.h"

struct _RelayDetectProposal
{
  GObject        parent_instance;

  char          *host;
  guint16        port;
  RelaySecurity  security;
  char          *source;

  char          *username;
  char          *auth_mechanism;
  gboolean       requires_auth;
  char          *login_source;

  GPtrArray     *notes;   /* NULL-terminated, for get_notes */
};

G_DEFINE_FINAL_TYPE (RelayDetectProposal, relay_detect_proposal, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_HOST,
  PROP_PORT,
  PROP_SECURITY,
  PROP_SOURCE,
  PROP_USERNAME,
  PROP_AUTH_MECHANISM,
  PROP_REQUIRES_AUTH,
  PROP_LOGIN_SOURCE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
relay_detect_proposal_finalize (GObject *object)
{
  RelayDetectProposal *self = RELAY_DETECT_PROPOSAL (object);

  g_clear_pointer (&self->host, g_free);
  g_clear_pointer (&self->source, g_free);
  g_clear_pointer (&self->username, g_free);
  g_clear_pointer (&self->auth_mechanism, g_free);
  g_clear_pointer (&self->login_source, g_free);
  g_clear_pointer (&self->notes, g_ptr_array_unref);

  G_OBJECT_CLASS (relay_detect_proposal_parent_class)->finalize (object);
}

static void
relay_detect_proposal_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  RelayDetectProposal *self = RELAY_DETECT_PROPOSAL (object);

  switch (prop_id)
    {
    case PROP_HOST:
      g_value_set_string (value, self->host);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_SECURITY:
      g_value_set_uint (value, self->security);
      break;
    case PROP_SOURCE:
      g_value_set_string (value, self->source);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_AUTH_MECHANISM:
      g_value_set_string (value, self->auth_mechanism);
      break;
    case PROP_REQUIRES_AUTH:
      g_value_set_boolean (value, self->requires_auth);
      break;
    case PROP_LOGIN_SOURCE:
      g_value_set_string (value, self->login_source);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relay_detect_proposal_class_init (RelayDetectProposalClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = relay_detect_proposal_finalize;
  object_class->get_property = relay_detect_proposal_get_property;

  properties[PROP_HOST] = g_param_spec_string ("host", NULL, NULL, NULL, flags);
  properties[PROP_PORT] = g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0, flags);
  /* RelaySecurity is a plain C enum (the schema owns the nicks), so this is its numeric value. */
  properties[PROP_SECURITY] = g_param_spec_uint ("security", NULL, NULL,
                                                 0, RELAY_SECURITY_LAST, RELAY_SECURITY_STARTTLS,
                                                 flags);
  properties[PROP_SOURCE] = g_param_spec_string ("source", NULL, NULL, NULL, flags);
  properties[PROP_USERNAME] = g_param_spec_string ("username", NULL, NULL, NULL, flags);
  properties[PROP_AUTH_MECHANISM] = g_param_spec_string ("auth-mechanism", NULL, NULL, NULL, flags);
  properties[PROP_REQUIRES_AUTH] = g_param_spec_boolean ("requires-auth", NULL, NULL, FALSE, flags);
  properties[PROP_LOGIN_SOURCE] = g_param_spec_string ("login-source", NULL, NULL, NULL, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
relay_detect_proposal_init (RelayDetectProposal *self)
{
  self->notes = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->notes, NULL);
}

/**
 * relay_detect_proposal_new:
 * @host: the normalised host name
 * @port: the port, 1..65535
 * @security: how the connection is protected
 * @source: for people: where these three values were found, such as
 *   "DNS SRV _submissions._tcp.example.com"
 */
RelayDetectProposal *
relay_detect_proposal_new (const char    *host,
                           guint16        port,
                           RelaySecurity  security,
                           const char    *source)
{
  RelayDetectProposal *self;

  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (source != NULL, NULL);

  self = g_object_new (RELAY_TYPE_DETECT_PROPOSAL, NULL);
  self->host = g_strdup (host);
  self->port = port;
  self->security = security;
  self->source = g_strdup (source);
  return self;
}

const char *
relay_detect_proposal_get_host (RelayDetectProposal *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), NULL);
  return self->host;
}

guint16
relay_detect_proposal_get_port (RelayDetectProposal *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), 0);
  return self->port;
}

RelaySecurity
relay_detect_proposal_get_security (RelayDetectProposal *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), RELAY_SECURITY_STARTTLS);
  return self->security;
}

const char *
relay_detect_proposal_get_source (RelayDetectProposal *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), NULL);
  return self->source;
}

/**
 * relay_detect_proposal_set_login:
 * @username: (nullable): the user name, placeholders already replaced
 * @auth_mechanism: (nullable): the autoconfig method name, such as "password-cleartext"
 * @requires_auth: whether the server wants a login
 * @source: where the login information was found
 */
void
relay_detect_proposal_set_login (RelayDetectProposal *self,
                                 const char          *username,
                                 const char          *auth_mechanism,
                                 gboolean             requires_auth,
                                 const char          *source)
{
  g_return_if_fail (RELAY_IS_DETECT_PROPOSAL (self));
  g_return_if_fail (source != NULL);

  g_free (self->username);
  self->username = g_strdup (username);
  g_free (self->auth_mechanism);
  self->auth_mechanism = g_strdup (auth_mechanism);
  self->requires_auth = requires_auth;
  g_free (self->login_source);
  self->login_source = g_strdup (source);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USERNAME]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTH_MECHANISM]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REQUIRES_AUTH]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOGIN_SOURCE]);
}

const char *
relay_detect_proposal_get_username (RelayDetectProposal *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), NULL);
  return self->username;
}

const char *
relay_detect_proposal_get_auth_mechanism (RelayDetectProposal *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), NULL);
  return self->auth_mechanism;
}

gboolean
relay_detect_proposal_get_requires_auth (RelayDetectProposal *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), FALSE);
  return self->requires_auth;
}

/**
 * relay_detect_proposal_get_login_source:
 *
 * Returns: (nullable): where the user name and login method came from, or %NULL when no source
 *   said anything about logging in
 */
const char *
relay_detect_proposal_get_login_source (RelayDetectProposal *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), NULL);
  return self->login_source;
}

void
relay_detect_proposal_add_note (RelayDetectProposal *self,
                                const char          *note)
{
  g_return_if_fail (RELAY_IS_DETECT_PROPOSAL (self));
  g_return_if_fail (note != NULL);

  g_ptr_array_insert (self->notes, self->notes->len - 1, g_strdup (note));
}

/**
 * relay_detect_proposal_get_notes:
 *
 * Returns: (transfer none): remarks for people, such as another source disagreeing
 */
const char * const *
relay_detect_proposal_get_notes (RelayDetectProposal *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), NULL);
  return (const char * const *) self->notes->pdata;
}

/**
 * relay_detect_proposal_same_server:
 *
 * Whether both propose the same host, port and security, whatever their sources.
 */
gboolean
relay_detect_proposal_same_server (RelayDetectProposal *self,
                                   RelayDetectProposal *other)
{
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), FALSE);
  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (other), FALSE);

  return g_strcmp0 (self->host, other->host) == 0 &&
         self->port == other->port &&
         self->security == other->security;
}

/**
 * relay_detect_proposal_describe:
 *
 * Returns: (transfer full): several lines for people: each value with its origin, then the notes
 */
char *
relay_detect_proposal_describe (RelayDetectProposal *self)
{
  GString *text;

  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), NULL);

  text = g_string_new (NULL);
  g_string_append_printf (text, _("Server:     %s\n"), self->host);
  g_string_append_printf (text, _("Port:       %u\n"), self->port);
  g_string_append_printf (text, _("Security:   %s\n"), relay_security_to_label (self->security));
  g_string_append_printf (text, _("  from %s\n"), self->source);
  if (self->login_source != NULL)
    {
      g_string_append_printf (text, _("Login:      %s\n"),
                              self->requires_auth ? _("required") : _("not required"));
      if (self->username != NULL)
        g_string_append_printf (text, _("User name:  %s\n"), self->username);
      if (self->auth_mechanism != NULL)
        g_string_append_printf (text, _("Method:     %s\n"), self->auth_mechanism);
      g_string_append_printf (text, _("  from %s\n"), self->login_source);
    }
  for (guint i = 0; i + 1 < self->notes->len; i++)
    g_string_append_printf (text, _("Note: %s\n"), (const char *) g_ptr_array_index (self->notes, i));

  return g_string_free (text, FALSE);
}

/**
 * relay_detect_proposal_apply:
 * @settings: an io.github.smtprelay.SmtpRelay #GSettings
 * @error: a #G_IO_ERROR_PERMISSION_DENIED when an administrator locked a key
 *
 * Writes the proposal as one change: server, port and security, and the user name and
 * "requires-auth" when a source said something about logging in. The password is not touched.
 */
gboolean
relay_detect_proposal_apply (RelayDetectProposal  *self,
                             GSettings            *settings,
                             GError              **error)
{
  static const char * const keys[] = { "server", "port", "security", "username", "requires-auth" };
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettingsBackend) backend = NULL;
  g_autoptr(GSettings) batch = NULL;
  g_autofree char *path = NULL;
  g_autofree char *current_server = NULL;
  g_autofree char *current_host = NULL;

  g_return_val_if_fail (RELAY_IS_DETECT_PROPOSAL (self), FALSE);
  g_return_val_if_fail (G_IS_SETTINGS (settings), FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      gboolean needed = i < 3 || self->login_source != NULL;

      if (needed && !g_settings_is_writable (settings, keys[i]))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       _("The setting “%s” is locked by the administrator"), keys[i]);
          return FALSE;
        }
    }

  /* One delayed change, so that a window bound to these keys never sees a half-applied server.
   * A private twin of @settings (same schema, backend and path) is delayed rather than @settings
   * itself, because delay mode cannot be switched off again. */
  g_object_get (settings, "settings-schema", &schema, "backend", &backend, "path", &path, NULL);
  batch = g_settings_new_full (schema, backend, path);
  g_settings_delay (batch);
  g_settings_set_string (batch, "server", self->host);
  g_settings_set_value (batch, "port", g_variant_new_uint16 (self->port));
  g_settings_set_enum (batch, "security", self->security);
  if (self->login_source != NULL)
    {
      current_server = g_settings_get_string (settings, "server");
      current_host = relay_hostname_normalize (current_server, NULL, NULL);
      if (self->username != NULL)
        g_settings_set_string (batch, "username", self->username);
      else if (g_strcmp0 (current_host, self->host) != 0)
        /* A login without a name given: the name of the previous relay's account would go to
         * this server, and the password the window holds for it with it. */
        g_settings_set_string (batch, "username", "");
      g_settings_set_boolean (batch, "requires-auth", self->requires_auth);
    }
  g_settings_apply (batch);
  return TRUE;
}
