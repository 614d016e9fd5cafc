/* relay-smtp-message.c
 *
 * Everything a header or the envelope receives is validated here, before any connection exists:
 * a CR or LF in a subject or address is how header and command injection happen (CVE-2015-8476,
 * CVE-2015-9096, bpo-43124). The body is made 7-bit and canonical so that it survives any relay
 * and cannot smuggle a second message (CVE-2023-51764).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-smtp"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-address.h"
#include "relay-smtp-error.h"
#include "relay-smtp-message.h"

struct _RelaySmtpMessage
{
  gatomicrefcount   ref_count;
  char             *sender;
  char            **recipients;
  GBytes           *data;
  gboolean          eight_bit;
};

G_DEFINE_BOXED_TYPE (RelaySmtpMessage, relay_smtp_message,
                     relay_smtp_message_ref, relay_smtp_message_unref)

/* RFC 2047 §2: an encoded-word is at most 75 characters; "=?UTF-8?B?" + "?=" leaves 63, i.e.
 * 45 bytes of text in base64. */
#define ENCODED_WORD_BYTES 45
/* RFC 2045 §6.7: quoted-printable lines are at most 76 characters. */
#define QP_LINE 76
/* Keep plain headers within the 78 characters RFC 5322 recommends. */
#define PLAIN_SUBJECT_MAX 69

RelaySmtpMessage *
relay_smtp_message_ref (RelaySmtpMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
relay_smtp_message_unref (RelaySmtpMessage *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_free (self->sender);
  g_strfreev (self->recipients);
  g_bytes_unref (self->data);
  g_free (self);
}

const char *
relay_smtp_message_get_sender (RelaySmtpMessage *self)
{
  return self->sender;
}

const char * const *
relay_smtp_message_get_recipients (RelaySmtpMessage *self)
{
  return (const char * const *) self->recipients;
}

/**
 * relay_smtp_message_get_data:
 *
 * The message as RFC 5322 bytes with CRLF line ends, not yet dot-stuffed.
 *
 * Returns: (transfer none): the message
 */
GBytes *
relay_smtp_message_get_data (RelaySmtpMessage *self)
{
  return self->data;
}

/* Whether the data has bytes above 127: it then needs BODY=8BITMIME (raw messages only; composed
 * messages are always encoded to 7 bits). */
gboolean
relay_smtp_message_is_8bit (RelaySmtpMessage *self)
{
  return self->eight_bit;
}

static gboolean
is_ascii (const char *s)
{
  for (; *s; s++)
    if ((guchar) *s >= 0x80)
      return FALSE;
  return TRUE;
}

typedef enum
{
  FIELD_SUBJECT,
  FIELD_SENDER_NAME,
} Field;

static gboolean
check_header_text (const char  *text,
                   Field        field,
                   GError     **error)
{
  gboolean valid = g_utf8_validate (text, -1, NULL);

  for (const guchar *p = (const guchar *) text; valid && *p; p++)
    valid = *p >= 0x20 && *p != 0x7f;
  if (valid)
    return TRUE;

  /* Full sentences per field, so that translations need no grammar of their own. */
  g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                       field == FIELD_SUBJECT
                       ? _("The subject must be one line of text, without control characters.")
                       : _("The sender name must be one line of text, without control characters."));
  return FALSE;
}

/* Appends @text as RFC 2047 "B" encoded-words separated by folding white space; words never
 * split a UTF-8 sequence, as RFC 2047 §5 requires. */
static void
append_encoded_words (GString    *out,
                      const char *text)
{
  const char *p = text;

  while (*p)
    {
      const char *end = p;
      g_autofree char *b64 = NULL;

      while (*end)
        {
          const char *next = g_utf8_next_char (end);

          if (next - p > ENCODED_WORD_BYTES)
            break;
          end = next;
        }
      if (p != text)
        g_string_append (out, "\r\n ");
      b64 = g_base64_encode ((const guchar *) p, end - p);
      g_string_append_printf (out, "=?UTF-8?B?%s?=", b64);
      p = end;
    }
}

static void
append_display_name (GString    *out,
                     const char *name)
{
  /* Encoded-words fold, a quoted-string does not: long names must not make a line over 998. */
  if (!is_ascii (name) || strlen (name) > PLAIN_SUBJECT_MAX)
    {
      append_encoded_words (out, name);
      return;
    }
  /* A quoted-string takes any printable ASCII, with " and \ escaped. */
  g_string_append_c (out, '"');
  for (const char *p = name; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

/* RFC 5322 §3.3 in English whatever the locale: strftime/g_date_time_format translate names. */
static void
append_date (GString   *out,
             GDateTime *date)
{
  static const char * const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char * const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  GTimeSpan offset = g_date_time_get_utc_offset (date) / G_TIME_SPAN_MINUTE;
  char sign = offset < 0 ? '-' : '+';

  if (offset < 0)
    offset = -offset;
  g_string_append_printf (out, "Date: %s, %02d %s %04d %02d:%02d:%02d %c%02d%02d\r\n",
                          days[g_date_time_get_day_of_week (date) - 1],
                          g_date_time_get_day_of_month (date),
                          months[g_date_time_get_month (date) - 1],
                          g_date_time_get_year (date),
                          g_date_time_get_hour (date),
                          g_date_time_get_minute (date),
                          g_date_time_get_second (date),
                          sign, (int) (offset / 60), (int) (offset % 60));
}

/* Turns CRLF, bare CR and bare LF into CRLF: what a person typed may have any of them. */
static GString *
canonicalise_line_ends (const char *text,
                        gsize       length)
{
  GString *out = g_string_sized_new (length + length / 32 + 2);

  for (gsize i = 0; i < length; i++)
    {
      if (text[i] == '\r')
        {
          if (i + 1 < length && text[i + 1] == '\n')
            i++;
          g_string_append (out, "\r\n");
        }
      else if (text[i] == '\n')
        g_string_append (out, "\r\n");
      else
        g_string_append_c (out, text[i]);
    }
  if (out->len > 0 && (out->len < 2 || strcmp (out->str + out->len - 2, "\r\n") != 0))
    g_string_append (out, "\r\n");
  return out;
}

static gboolean
needs_qp (const GString *body)
{
  gsize line = 0;

  for (gsize i = 0; i < body->len; i++)
    {
      guchar c = body->str[i];

      if (c == '\r')
        {
          line = 0;
          i++;  /* canonical: always followed by LF */
          continue;
        }
      if (c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7f)
        return TRUE;
      if (++line > RELAY_SMTP_MAX_LINE_OCTETS)
        return TRUE;
    }
  return FALSE;
}

/* RFC 2045 §6.7 for canonical CRLF text: line breaks stay hard breaks, lines are cut with soft
 * breaks at 76 characters, and white space before a line end is encoded so no relay strips it. */
static GString *
encode_quoted_printable (const GString *body)
{
  GString *out = g_string_sized_new (body->len * 3 / 2 + 16);
  gsize col = 0;

  for (gsize i = 0; i < body->len; i++)
    {
      guchar c = body->str[i];
      gboolean at_line_end = i + 1 >= body->len || body->str[i + 1] == '\r';
      char token[4];
      gsize token_len;

      if (c == '\r')
        {
          g_string_append (out, "\r\n");
          i++;
          col = 0;
          continue;
        }

      if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end))
        {
          token[0] = c;
          token_len = 1;
        }
      else
        {
          g_snprintf (token, sizeof token, "=%02X", c);
          token_len = 3;
        }

      /* Leave room for the "=" of a soft break unless this token ends the line. */
      if (col + token_len > (at_line_end ? QP_LINE : QP_LINE - 1))
        {
          g_string_append (out, "=\r\n");
          col = 0;
        }
      g_string_append_len (out, token, token_len);
      col += token_len;
    }
  return out;
}

/* relay_address_normalize() trims surrounding white space, which would quietly accept a trailing
 * CRLF: in the envelope any control character is an injection attempt, so refuse it outright. */
static gboolean
has_control (const char *s)
{
  for (const guchar *p = (const guchar *) s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

static char **
normalize_recipients (const char * const  *to,
                      GError             **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_free);

  if (to == NULL || to[0] == NULL)
    {
      g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                           _("The message has no recipient."));
      return NULL;
    }
  for (guint i = 0; to[i] != NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;
      char *address = NULL;

      if (has_control (to[i]))
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                               _("A recipient address contains a line break or another control character."));
          return NULL;
        }
      address = relay_address_normalize (to[i], &local_error);
      if (address == NULL)
        {
          g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                       _("The recipient address is not valid: %s"), local_error->message);
          return NULL;
        }
      g_ptr_array_add (list, address);
    }
  g_ptr_array_add (list, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&list), FALSE);
}

static char *
normalize_sender (const char  *from,
                  GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  char *address = NULL;

  if (from != NULL && has_control (from))
    {
      g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                           _("The sender address contains a line break or another control character."));
      return NULL;
    }
  address = relay_address_normalize (from, &local_error);
  if (address == NULL)
    g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                 _("The sender address is not valid: %s"), local_error->message);
  return address;
}

/**
 * relay_smtp_message_new_full:
 * @from: the sender address; also the envelope sender
 * @from_name: (nullable): a display name for the From header
 * @to: (array zero-terminated=1): recipient addresses, at least one
 * @subject: the subject, any Unicode text on one line
 * @body: the text of the message, UTF-8, any line ends
 * @date: (nullable): the Date header; %NULL for now
 * @error: return location for a %RELAY_SMTP_ERROR_INVALID_INPUT error
 *
 * Builds a text/plain message. Non-ASCII subjects and names become RFC 2047 encoded-words, and a
 * body with non-ASCII characters or long lines becomes quoted-printable, so the result is 7-bit
 * with lines of at most 998 octets and can be sent to any server.
 *
 * Returns: (transfer full): the message, or %NULL when an input is not acceptable
 */
RelaySmtpMessage *
relay_smtp_message_new_full (const char          *from,
                             const char          *from_name,
                             const char * const  *to,
                             const char          *subject,
                             const char          *body,
                             GDateTime           *date,
                             GError             **error)
{
  g_autofree char *sender = NULL;
  g_auto(GStrv) recipients = NULL;
  g_autofree char *uuid = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autoptr(GString) text = NULL;
  g_autoptr(GString) out = NULL;
  RelaySmtpMessage *self;
  gboolean qp;

  subject = subject ? subject : "";
  body = body ? body : "";

  if (!(sender = normalize_sender (from, error))
      || !(recipients = normalize_recipients (to, error))
      || !check_header_text (subject, FIELD_SUBJECT, error)
      || (from_name != NULL && !check_header_text (from_name, FIELD_SENDER_NAME, error)))
    return NULL;

  if (!g_utf8_validate (body, -1, NULL))
    {
      g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                           _("The message text is not valid UTF-8."));
      return NULL;
    }

  out = g_string_new (NULL);
  if (date == NULL)
    date = now = g_date_time_new_now_local ();
  append_date (out, date);

  /* The sender's domain keeps Message-IDs unique without revealing the local host name. */
  uuid = g_uuid_string_random ();
  g_string_append_printf (out, "Message-ID: <%s@%s>\r\n", uuid, strrchr (sender, '@') + 1);

  g_string_append (out, "From: ");
  if (from_name != NULL && *from_name != '\0')
    {
      append_display_name (out, from_name);
      g_string_append_printf (out, " <%s>\r\n", sender);
    }
  else
    g_string_append_printf (out, "%s\r\n", sender);

  g_string_append (out, "To: ");
  for (guint i = 0; recipients[i] != NULL; i++)
    g_string_append_printf (out, "%s%s", i > 0 ? ",\r\n " : "", recipients[i]);
  g_string_append (out, "\r\n");

  g_string_append (out, "Subject: ");
  if (is_ascii (subject) && strlen (subject) <= PLAIN_SUBJECT_MAX)
    g_string_append (out, subject);
  else
    append_encoded_words (out, subject);
  g_string_append (out, "\r\n");

  text = canonicalise_line_ends (body, strlen (body));
  qp = needs_qp (text);

  g_string_append (out,
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=UTF-8\r\n");
  g_string_append_printf (out, "Content-Transfer-Encoding: %s\r\n", qp ? "quoted-printable" : "7bit");
  /* RFC 3834: tells auto-responders not to answer an automated message. */
  g_string_append (out, "Auto-Submitted: auto-generated\r\n\r\n");

  if (qp)
    {
      g_autoptr(GString) encoded = encode_quoted_printable (text);

      g_string_append_len (out, encoded->str, encoded->len);
    }
  else
    g_string_append_len (out, text->str, text->len);

  self = g_new0 (RelaySmtpMessage, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->sender = g_steal_pointer (&sender);
  self->recipients = g_steal_pointer (&recipients);
  self->data = g_string_free_to_bytes (g_steal_pointer (&out));
  return self;
}

/**
 * relay_smtp_message_new:
 *
 * Like relay_smtp_message_new_full(), dated now.
 */
RelaySmtpMessage *
relay_smtp_message_new (const char          *from,
                        const char          *from_name,
                        const char * const  *to,
                        const char          *subject,
                        const char          *body,
                        GError             **error)
{
  return relay_smtp_message_new_full (from, from_name, to, subject, body, NULL, error);
}

/**
 * relay_smtp_message_new_raw:
 * @envelope_from: the envelope sender (MAIL FROM); "" for the null reverse-path
 * @recipients: (array zero-terminated=1): envelope recipients (RCPT TO), at least one
 * @data: a complete RFC 5322 message, as sendmail reads it
 * @error: return location for a %RELAY_SMTP_ERROR_INVALID_INPUT error
 *
 * Wraps an existing message. It is sent as it is, apart from line ends made CRLF; a message
 * with a NUL byte or a line over 998 octets is refused rather than altered.
 *
 * Returns: (transfer full): the message, or %NULL
 */
RelaySmtpMessage *
relay_smtp_message_new_raw (const char          *envelope_from,
                            const char * const  *recipients,
                            GBytes              *data,
                            GError             **error)
{
  g_autofree char *sender = NULL;
  g_auto(GStrv) rcpts = NULL;
  RelaySmtpMessage *self;
  const guint8 *bytes;
  gsize length;
  gsize line = 0;
  gboolean eight_bit = FALSE;

  g_return_val_if_fail (data != NULL, NULL);

  if (envelope_from != NULL && *envelope_from != '\0')
    {
      if (!(sender = normalize_sender (envelope_from, error)))
        return NULL;
    }
  else
    sender = g_strdup ("");
  if (!(rcpts = normalize_recipients (recipients, error)))
    return NULL;

  bytes = g_bytes_get_data (data, &length);
  for (gsize i = 0; i < length; i++)
    {
      if (bytes[i] == '\0')
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                               _("The message contains a NUL byte, which SMTP cannot carry."));
          return NULL;
        }
      if (bytes[i] == '\r' || bytes[i] == '\n')
        line = 0;
      else if (++line > RELAY_SMTP_MAX_LINE_OCTETS)
        {
          g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                       _("The message has a line longer than %u octets."),
                       RELAY_SMTP_MAX_LINE_OCTETS);
          return NULL;
        }
      eight_bit |= bytes[i] >= 0x80;
    }

  self = g_new0 (RelaySmtpMessage, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->sender = g_steal_pointer (&sender);
  self->recipients = g_steal_pointer (&rcpts);
  self->data = g_bytes_ref (data);
  self->eight_bit = eight_bit;
  return self;
}

/* Whether the header line @p is the field @name: its colon may follow white space (RFC 5322
 * §4.5, obsolete syntax). Returns the colon, or NULL. */
static const char *
field_colon (const char *p,
             const char *name)
{
  gsize name_len = strlen (name);

  if (g_ascii_strncasecmp (p, name, name_len) != 0)
    return NULL;
  for (p += name_len; *p == ' ' || *p == '\t'; p++)
    ;
  return *p == ':' ? p : NULL;
}

/* The unfolded value of the header field @name in @header (CRLF lines), or NULL. */
static char *
header_value (const char *header,
              const char *name)
{
  const char *p = header;

  while (*p)
    {
      const char *eol = strstr (p, "\r\n");
      const char *colon = field_colon (p, name);

      if (colon != NULL && colon < eol)
        {
          GString *value = g_string_new (NULL);

          g_string_append_len (value, colon + 1, eol - colon - 1);
          /* continuation lines start with white space (RFC 5322 §2.2.3) */
          while (eol[2] == ' ' || eol[2] == '\t')
            {
              const char *next = strstr (eol + 2, "\r\n");

              g_string_append_len (value, eol + 2, next - eol - 2);
              eol = next;
            }
          return g_strstrip (g_string_free (value, FALSE));
        }
      p = eol + 2;
    }
  return NULL;
}

/* Appends @header without the field @name and its continuation lines. */
static void
append_header_without (GString    *out,
                       const char *header,
                       const char *name)
{
  gboolean dropping = FALSE;
  const char *p = header;

  while (*p)
    {
      const char *eol = strstr (p, "\r\n");

      if (*p != ' ' && *p != '\t')
        {
          const char *colon = field_colon (p, name);

          dropping = colon != NULL && colon < eol;
        }
      if (!dropping)
        g_string_append_len (out, p, eol + 2 - p);
      p = eol + 2;
    }
}

/* Whether a field's value is free text (RFC 5322 §3.6.5 and the X- fields alert tools add),
 * which RFC 2047 encoded-words may carry, rather than addresses, dates or ids, which they may
 * not. */
static gboolean
is_unstructured (const char *line,
                 const char *colon)
{
  static const char * const names[] = { "Subject", "Comments", "Keywords" };
  gsize len = colon - line;

  while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
    len--;
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (len == strlen (names[i]) && g_ascii_strncasecmp (line, names[i], len) == 0)
      return TRUE;
  return len > 2 && g_ascii_strncasecmp (line, "X-", 2) == 0;
}

/* @header with each 8-bit unstructured field (cron's Subject holds the command, in the user's
 * language) rewritten as UTF-8 encoded-words, as `send` writes its subjects; an 8-bit address,
 * or text that is not UTF-8, cannot be, and is refused. */
static char *
encode_unstructured_fields (const char  *header,
                            GError     **error)
{
  g_autoptr(GString) out = g_string_sized_new (strlen (header) * 2);
  const char *p = header;

  while (*p)
    {
      const char *end = strstr (p, "\r\n");
      const char *colon;
      g_autofree char *value = NULL;

      /* the field and its continuation lines */
      while (end[2] == ' ' || end[2] == '\t')
        end = strstr (end + 2, "\r\n");
      colon = memchr (p, ':', end - p);
      value = g_strndup (p, end - p);
      if (is_ascii (value))
        {
          g_string_append_len (out, p, end + 2 - p);
          p = end + 2;
          continue;
        }
      if (colon == NULL || !is_unstructured (p, colon))
        {
          g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DATA,
                       _("Its header field “%.*s” has 8-bit characters."),
                       (int) MIN (colon != NULL ? colon - p : end - p, 40), p);
          return NULL;
        }
      g_free (value);
      value = g_strndup (colon + 1, end - colon - 1);
      {
        /* unfolded: the encoded-words fold again by themselves */
        g_auto(GStrv) parts = g_strsplit (value, "\r\n", -1);
        g_autofree char *unfolded = g_strjoinv ("", parts);

        g_strstrip (unfolded);
        if (!g_utf8_validate (unfolded, -1, NULL))
          {
            g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DATA,
                         _("Its header field “%.*s” is not UTF-8 text."),
                         (int) MIN (colon - p, 40), p);
            return NULL;
          }
        g_string_append_len (out, p, colon + 1 - p);
        g_string_append_c (out, ' ');
        append_encoded_words (out, unfolded);
        g_string_append (out, "\r\n");
      }
      p = end + 2;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/**
 * relay_smtp_message_dup_7bit:
 * @self: a message with 8-bit content
 * @error: return location for a %RELAY_SMTP_ERROR_DATA error that says why it cannot be converted
 *
 * The message for a server without 8BITMIME, which RFC 6152 §3 leaves the client to convert or
 * to return: a single-part body in 8bit is re-encoded as quoted-printable, as Postfix and
 * Sendmail do (cron's UTF-8 output, say). A body without a declared character set is labelled
 * UTF-8 when it is UTF-8, and unknown-8bit otherwise (RFC 1428); an 8-bit Subject (or other
 * free-text field) becomes RFC 2047 encoded-words. An 8-bit address, a multipart message or a
 * body that claims to be encoded already cannot be converted without rewriting what the sender
 * wrote, and is refused.
 *
 * Returns: (transfer full) (nullable): 7-bit message bytes with CRLF line ends
 */
GBytes *
relay_smtp_message_dup_7bit (RelaySmtpMessage  *self,
                             GError           **error)
{
  gsize length;
  const char *data = g_bytes_get_data (self->data, &length);
  g_autoptr(GString) text = canonicalise_line_ends (data, length);
  g_autoptr(GString) body = NULL;
  g_autoptr(GString) encoded = NULL;
  g_autofree char *header = NULL;
  g_autofree char *type = NULL;
  g_autofree char *encoding = NULL;
  g_autofree char *version = NULL;
  const char *text_end = text->str + text->len;
  GString *out;
  const char *end;

  if (g_str_has_prefix (text->str, "\r\n"))
    end = text->str;
  else if ((end = strstr (text->str, "\r\n\r\n")) != NULL)
    end += 2;
  else
    end = text->str + text->len;
  header = g_strndup (text->str, end - text->str);
  if (end < text_end)
    end += 2;  /* the empty line */
  body = g_string_new_len (end, text_end - end);

  if (!is_ascii (header))
    {
      char *encoded_header = encode_unstructured_fields (header, error);

      if (encoded_header == NULL)
        return NULL;
      g_free (header);
      header = encoded_header;
    }
  type = header_value (header, "Content-Type");
  if (type != NULL && (g_ascii_strncasecmp (type, "multipart/", 10) == 0
                       || g_ascii_strncasecmp (type, "message/", 8) == 0))
    {
      g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DATA,
                           _("It has several parts, or attaches a message."));
      return NULL;
    }
  encoding = header_value (header, "Content-Transfer-Encoding");
  if (encoding != NULL)
    encoding[strcspn (encoding, " \t(;")] = '\0';   /* "8bit (utf8)": a comment follows */
  if (encoding != NULL && g_ascii_strcasecmp (encoding, "8bit") != 0
      && g_ascii_strcasecmp (encoding, "7bit") != 0)
    {
      g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DATA,
                   _("Its content is declared as “%.40s”."), encoding);
      return NULL;
    }

  version = header_value (header, "MIME-Version");
  encoded = encode_quoted_printable (body);
  out = g_string_sized_new (strlen (header) + encoded->len + 160);
  append_header_without (out, header, "Content-Transfer-Encoding");
  if (version == NULL)
    g_string_append (out, "MIME-Version: 1.0\r\n");
  if (type == NULL)
    g_string_append_printf (out, "Content-Type: text/plain; charset=%s\r\n",
                            g_utf8_validate_len (body->str, body->len, NULL)
                            ? "UTF-8" : "unknown-8bit");
  g_string_append (out, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
  g_string_append_len (out, encoded->str, encoded->len);
  return g_string_free_to_bytes (out);
}

/**
 * relay_smtp_dot_stuff:
 * @data: message bytes
 * @length: length of @data
 *
 * Prepares @data for the DATA command (RFC 5321 §4.5.2): every CRLF, bare CR and bare LF becomes
 * CRLF first (so no relay can read a different end of data than we meant), then a "." is added
 * before every line that starts with one, and the result ends with exactly one CRLF "." CRLF.
 *
 * Returns: (transfer full): the bytes to write after the 354 reply
 */
GBytes *
relay_smtp_dot_stuff (const guint8 *data,
                      gsize         length)
{
  GString *out = g_string_sized_new (length + length / 64 + 8);
  gboolean line_start = TRUE;

  for (gsize i = 0; i < length; i++)
    {
      guint8 c = data[i];

      if (c == '\r' || c == '\n')
        {
          if (c == '\r' && i + 1 < length && data[i + 1] == '\n')
            i++;
          g_string_append (out, "\r\n");
          line_start = TRUE;
          continue;
        }
      if (line_start && c == '.')
        g_string_append_c (out, '.');
      g_string_append_c (out, c);
      line_start = FALSE;
    }
  if (!line_start)
    g_string_append (out, "\r\n");
  g_string_append (out, ".\r\n");
  return g_string_free_to_bytes (out);
}
