/* relay-autoconfig.c
 *
 * Reads the <outgoingServer type="smtp"> entries of a Mozilla autoconfig document
 * (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat). The bytes come from
 * whoever answers for the domain, so this is a pure function with hard limits: GMarkup neither
 * fetches nor expands anything (a DOCTYPE is passed through as text and ignored), nesting, text
 * lengths and the number of servers are bounded, and every value is validated before it can
 * become a proposal.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-autoconfig"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-autoconfig.h"
#include "relay-hostname.h"

G_DEFINE_QUARK (relay-autoconfig-error-quark, relay_autoconfig_error)

#define MAX_DEPTH 32
#define MAX_TEXT 1024
#define MAX_SERVERS 16
#define MAX_AUTH_METHODS 16

/* The placeholders of the format; the address is already normalised, so it is plain ASCII. */
#define FALLBACK_ADDRESS "user@example.com"

typedef enum
{
  FIELD_NONE,
  FIELD_HOSTNAME,
  FIELD_PORT,
  FIELD_SOCKET_TYPE,
  FIELD_USERNAME,
  FIELD_AUTHENTICATION,
} Field;

typedef struct
{
  char      *hostname;
  char      *port;
  char      *socket_type;
  char      *username;
  GPtrArray *authentication;
  gboolean   text_too_long;
} RawServer;

typedef struct
{
  const char *address;
  const char *local_part;   /* not NUL-terminated at the "@": see local_part_len */
  gsize       local_part_len;
  const char *domain;

  guint       depth;
  guint       provider_depth;   /* depth of <emailProvider>, 0 outside */
  guint       server_depth;     /* depth of the current <outgoingServer type="smtp">, 0 outside */
  guint       servers_seen;
  RawServer   raw;
  Field       field;
  GString    *text;

  GPtrArray  *servers;
  GPtrArray  *notes;
} ParseState;

void
relay_autoconfig_server_free (RelayAutoconfigServer *server)
{
  if (server == NULL)
    return;
  g_free (server->hostname);
  g_free (server->username);
  g_free (server->authentication);
  g_free (server);
}

static void
raw_server_clear (RawServer *raw)
{
  g_clear_pointer (&raw->hostname, g_free);
  g_clear_pointer (&raw->port, g_free);
  g_clear_pointer (&raw->socket_type, g_free);
  g_clear_pointer (&raw->username, g_free);
  g_clear_pointer (&raw->authentication, g_ptr_array_unref);
  raw->text_too_long = FALSE;
}

static void
add_note (ParseState *state,
          char       *note)
{
  g_ptr_array_add (state->notes, note);
}

static Field
field_for_element (const char *name)
{
  if (strcmp (name, "hostname") == 0)
    return FIELD_HOSTNAME;
  if (strcmp (name, "port") == 0)
    return FIELD_PORT;
  if (strcmp (name, "socketType") == 0)
    return FIELD_SOCKET_TYPE;
  if (strcmp (name, "username") == 0)
    return FIELD_USERNAME;
  if (strcmp (name, "authentication") == 0)
    return FIELD_AUTHENTICATION;
  return FIELD_NONE;
}

/* Replaces %EMAILADDRESS%, %EMAILLOCALPART% and %EMAILDOMAIN%; any other "%" makes the value
 * unusable, since an unknown placeholder would otherwise reach the server verbatim. */
static char *
expand_placeholders (ParseState *state,
                     const char *value)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (const char *p = value; *p != '\0';)
    {
      if (g_str_has_prefix (p, "%EMAILADDRESS%"))
        {
          g_string_append (out, state->address);
          p += strlen ("%EMAILADDRESS%");
        }
      else if (g_str_has_prefix (p, "%EMAILLOCALPART%"))
        {
          g_string_append_len (out, state->local_part, state->local_part_len);
          p += strlen ("%EMAILLOCALPART%");
        }
      else if (g_str_has_prefix (p, "%EMAILDOMAIN%"))
        {
          g_string_append (out, state->domain);
          p += strlen ("%EMAILDOMAIN%");
        }
      else if (*p == '%')
        return NULL;
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
has_control_characters (const char *s)
{
  for (const guchar *p = (const guchar *) s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

static gboolean
parse_socket_type (const char    *text,
                   RelaySecurity *security)
{
  /* The format says "plain", "STARTTLS" and "SSL"; some providers write "TLS" for the latter. */
  if (g_ascii_strcasecmp (text, "plain") == 0)
    *security = RELAY_SECURITY_NONE;
  else if (g_ascii_strcasecmp (text, "STARTTLS") == 0)
    *security = RELAY_SECURITY_STARTTLS;
  else if (g_ascii_strcasecmp (text, "SSL") == 0 || g_ascii_strcasecmp (text, "TLS") == 0)
    *security = RELAY_SECURITY_TLS;
  else
    return FALSE;
  return TRUE;
}

/* Methods that need no password; everything else means "log in". */
static gboolean
is_passwordless_method (const char *method)
{
  return strcmp (method, "none") == 0 || strcmp (method, "client-IP-address") == 0;
}

static gboolean
is_supported_method (const char *method)
{
  static const char * const known[] = {
    "password-cleartext", "plain", "password-encrypted", "secure", "none", "client-IP-address",
  };

  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (strcmp (method, known[i]) == 0)
      return TRUE;
  return FALSE;
}

static void
finish_server (ParseState *state)
{
  RawServer *raw = &state->raw;
  g_autoptr(RelayAutoconfigServer) server = g_new0 (RelayAutoconfigServer, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  guint64 port = 0;

  if (raw->text_too_long)
    {
      add_note (state, g_strdup (_("An outgoing server was skipped: one of its values is too long")));
      return;
    }

  if (raw->hostname == NULL || *raw->hostname == '\0')
    {
      add_note (state, g_strdup (_("An outgoing server was skipped: it has no host name")));
      return;
    }
  host = expand_placeholders (state, raw->hostname);
  if (host == NULL)
    {
      add_note (state, g_strdup_printf (_("The server host name “%s” was rejected: it contains an unknown placeholder"),
                                        raw->hostname));
      return;
    }
  server->hostname = relay_hostname_normalize (host, NULL, &error);
  if (server->hostname == NULL)
    {
      add_note (state, g_strdup_printf (_("The server host name “%s” was rejected: %s"),
                                        raw->hostname, error->message));
      return;
    }

  if (raw->socket_type == NULL)
    {
      add_note (state, g_strdup_printf (_("The server %s was skipped: the document does not say how the connection is protected"),
                                        server->hostname));
      return;
    }
  if (!parse_socket_type (raw->socket_type, &server->security))
    {
      add_note (state, g_strdup_printf (_("The server %s was skipped: unknown connection security “%s”"),
                                        server->hostname, raw->socket_type));
      return;
    }

  if (raw->port == NULL)
    {
      server->port = relay_security_default_port (server->security);
      add_note (state, g_strdup_printf (_("The document gives no port for %s; assuming the standard port %u"),
                                        server->hostname, server->port));
    }
  else if (!g_ascii_string_to_unsigned (raw->port, 10, 1, G_MAXUINT16, &port, NULL))
    {
      add_note (state, g_strdup_printf (_("The server %s was skipped: the port “%s” is not a number from 1 to 65535"),
                                        server->hostname, raw->port));
      return;
    }
  else
    server->port = (guint16) port;

  if (raw->username != NULL && *raw->username != '\0')
    {
      g_autofree char *username = expand_placeholders (state, raw->username);

      if (username == NULL || has_control_characters (username) || !g_utf8_validate (username, -1, NULL))
        add_note (state, g_strdup_printf (_("The user name “%s” for %s was ignored: it contains an unknown placeholder or a control character"),
                                          raw->username, server->hostname));
      else
        server->username = g_steal_pointer (&username);
    }

  if (raw->authentication != NULL)
    {
      for (guint i = 0; i < raw->authentication->len; i++)
        {
          const char *method = g_ptr_array_index (raw->authentication, i);

          if (is_supported_method (method))
            {
              server->authentication = g_strdup (method);
              server->requires_auth = !is_passwordless_method (method);
              break;
            }
        }
      if (server->authentication == NULL && raw->authentication->len > 0)
        {
          /* OAuth2, GSSAPI, NTLM: the server wants a login that SMTP Relay cannot do itself. */
          server->requires_auth = TRUE;
          add_note (state, g_strdup_printf (_("%s asks for the login method “%s”, which SMTP Relay does not support; an app password may work instead"),
                                            server->hostname,
                                            (const char *) g_ptr_array_index (raw->authentication, 0)));
        }
    }

  g_ptr_array_add (state->servers, g_steal_pointer (&server));
}

static void
start_element_cb (GMarkupParseContext  *context,
                  const char           *element_name,
                  const char          **attribute_names,
                  const char          **attribute_values,
                  gpointer              user_data,
                  GError              **error)
{
  ParseState *state = user_data;

  state->depth++;
  if (state->depth > MAX_DEPTH)
    {
      g_set_error (error, RELAY_AUTOCONFIG_ERROR, RELAY_AUTOCONFIG_ERROR_MALFORMED,
                   _("The document is nested too deeply"));
      return;
    }

  if (state->depth == 1)
    {
      if (strcmp (element_name, "clientConfig") != 0)
        g_set_error (error, RELAY_AUTOCONFIG_ERROR, RELAY_AUTOCONFIG_ERROR_NOT_AUTOCONFIG,
                     _("The document is not a mail client configuration (it starts with <%s>)"),
                     element_name);
      return;
    }

  if (state->depth == 2 && strcmp (element_name, "emailProvider") == 0)
    {
      state->provider_depth = 2;
      return;
    }

  if (state->provider_depth == 2 && state->depth == 3 && strcmp (element_name, "outgoingServer") == 0)
    {
      const char *type = NULL;

      for (guint i = 0; attribute_names[i] != NULL; i++)
        if (strcmp (attribute_names[i], "type") == 0)
          type = attribute_values[i];

      if (g_strcmp0 (type, "smtp") != 0)
        return;
      if (++state->servers_seen > MAX_SERVERS)
        {
          if (state->servers_seen == MAX_SERVERS + 1)
            add_note (state, g_strdup_printf (_("Only the first %d outgoing servers were read"),
                                              MAX_SERVERS));
          return;
        }
      raw_server_clear (&state->raw);
      state->server_depth = 3;
      return;
    }

  if (state->server_depth == 3 && state->depth == 4)
    {
      state->field = field_for_element (element_name);
      g_string_truncate (state->text, 0);
    }
}

static void
store_field (ParseState *state)
{
  RawServer *raw = &state->raw;
  g_autofree char *value = g_strstrip (g_strdup (state->text->str));
  char **slot = NULL;

  switch (state->field)
    {
    case FIELD_HOSTNAME:
      slot = &raw->hostname;
      break;
    case FIELD_PORT:
      slot = &raw->port;
      break;
    case FIELD_SOCKET_TYPE:
      slot = &raw->socket_type;
      break;
    case FIELD_USERNAME:
      slot = &raw->username;
      break;
    case FIELD_AUTHENTICATION:
      if (raw->authentication == NULL)
        raw->authentication = g_ptr_array_new_with_free_func (g_free);
      if (raw->authentication->len < MAX_AUTH_METHODS)
        g_ptr_array_add (raw->authentication, g_steal_pointer (&value));
      return;
    case FIELD_NONE:
    default:
      return;
    }

  /* The first occurrence counts; later duplicates are ignored rather than merged. */
  if (*slot == NULL)
    *slot = g_steal_pointer (&value);
}

static void
end_element_cb (GMarkupParseContext  *context,
                const char           *element_name,
                gpointer              user_data,
                GError              **error)
{
  ParseState *state = user_data;

  if (state->field != FIELD_NONE && state->depth == 4)
    {
      store_field (state);
      state->field = FIELD_NONE;
    }
  else if (state->server_depth != 0 && state->depth == state->server_depth)
    {
      finish_server (state);
      raw_server_clear (&state->raw);
      state->server_depth = 0;
    }
  else if (state->provider_depth != 0 && state->depth == state->provider_depth)
    state->provider_depth = 0;

  state->depth--;
}

static void
text_cb (GMarkupParseContext  *context,
         const char           *text,
         gsize                 text_len,
         gpointer              user_data,
         GError              **error)
{
  ParseState *state = user_data;

  if (state->field == FIELD_NONE || state->depth != 4)
    return;
  if (state->text->len + text_len > MAX_TEXT)
    {
      state->raw.text_too_long = TRUE;
      return;
    }
  g_string_append_len (state->text, text, text_len);
}

static const GMarkupParser parser = {
  start_element_cb,
  end_element_cb,
  text_cb,
  NULL,
  NULL,
};

/**
 * relay_autoconfig_parse:
 * @data: the document as received
 * @length: its length in bytes (at most %RELAY_AUTOCONFIG_MAX_SIZE)
 * @address: (nullable): the normalised mail address, for the %EMAILADDRESS%, %EMAILLOCALPART% and
 *   %EMAILDOMAIN% placeholders
 * @notes: (out) (optional) (element-type utf8) (transfer container): why servers were skipped
 * @error: a #RELAY_AUTOCONFIG_ERROR when the document as a whole is unusable
 *
 * Reads the SMTP servers of a Mozilla autoconfig document. Servers with a nonsense value (a port
 * outside 1..65535, an unknown socketType, a host name that relay_hostname_normalize() refuses)
 * are left out and described in @notes instead.
 *
 * Returns: (transfer container) (element-type RelayAutoconfigServer): the usable servers in the
 *   document's order (possibly none), or %NULL with @error set
 */
GPtrArray *
relay_autoconfig_parse (const char  *data,
                        gsize        length,
                        const char  *address,
                        GPtrArray  **notes,
                        GError     **error)
{
  g_autoptr(GMarkupParseContext) context = NULL;
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_autoconfig_server_free);
  g_autoptr(GPtrArray) state_notes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GError) local_error = NULL;
  ParseState state = { 0 };
  const char *at;

  g_return_val_if_fail (data != NULL || length == 0, NULL);

  if (notes != NULL)
    *notes = NULL;
  if (data == NULL)
    data = "";

  if (length > RELAY_AUTOCONFIG_MAX_SIZE)
    {
      g_set_error (error, RELAY_AUTOCONFIG_ERROR, RELAY_AUTOCONFIG_ERROR_TOO_LARGE,
                   _("The document is larger than %d KiB"), RELAY_AUTOCONFIG_MAX_SIZE / 1024);
      return NULL;
    }

  /* A UTF-8 byte order mark is allowed before the XML declaration (XML 1.0 §4.3.3, and some
   * providers' servers send one); GMarkup does not skip it. */
  if (length >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    {
      data += 3;
      length -= 3;
    }

  /* GMarkup lets NUL through in text, where it would silently cut a host name short. */
  if (memchr (data, '\0', length) != NULL)
    {
      g_set_error (error, RELAY_AUTOCONFIG_ERROR, RELAY_AUTOCONFIG_ERROR_MALFORMED,
                   _("The document contains a NUL byte"));
      return NULL;
    }

  state.address = address != NULL && strchr (address, '@') != NULL ? address : FALLBACK_ADDRESS;
  at = strrchr (state.address, '@');
  state.local_part = state.address;
  state.local_part_len = at - state.address;
  state.domain = at + 1;
  state.text = text;
  state.servers = servers;
  state.notes = state_notes;

  context = g_markup_parse_context_new (&parser, G_MARKUP_PREFIX_ERROR_POSITION, &state, NULL);
  if (!g_markup_parse_context_parse (context, data, length, &local_error) ||
      !g_markup_parse_context_end_parse (context, &local_error))
    {
      raw_server_clear (&state.raw);
      if (local_error->domain == RELAY_AUTOCONFIG_ERROR)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error (error, RELAY_AUTOCONFIG_ERROR, RELAY_AUTOCONFIG_ERROR_MALFORMED,
                     _("The document is not well-formed XML: %s"), local_error->message);
      return NULL;
    }
  raw_server_clear (&state.raw);

  if (notes != NULL)
    *notes = g_steal_pointer (&state_notes);
  return g_steal_pointer (&servers);
}
