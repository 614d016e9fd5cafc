/* relay-mail-input.c
 *
 * What `smtp-relay sendmail` reads: a complete RFC 5322 message from a script. It is kept as
 * it is, apart from what sendmail itself changes: line ends become CRLF, Bcc is removed (it must
 * never reach the recipients), and a missing From, Date or Message-ID is added. A message that
 * cannot be sent without altering it (NUL, a line over 998 octets, no header) is refused, so
 * that nothing leaves the machine in a shape the author did not write. Pure functions: bytes in,
 * struct out.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-mail-input"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-address.h"
#include "relay-mail-input.h"
#include "relay-smtp-error.h"
#include "relay-smtp-message.h"

typedef struct
{
  const char *start;
  gsize       length;
} Line;

typedef struct
{
  char  *name;
  guint  first;   /* index of the first line */
  guint  last;    /* index of the last continuation line */
  char  *value;   /* unfolded */
} Field;

static void
field_clear (gpointer data)
{
  Field *field = data;

  g_free (field->name);
  g_free (field->value);
}

void
relay_mail_input_free (RelayMailInput *input)
{
  if (input == NULL)
    return;
  g_clear_pointer (&input->data, g_bytes_unref);
  g_free (input->from_address);
  g_clear_pointer (&input->recipients, g_ptr_array_unref);
  g_free (input);
}

/* RFC 5322 §3.3 in English whatever the locale. */
char *
relay_mail_format_date (GDateTime *date)
{
  static const char * const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char * const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  GTimeSpan offset = g_date_time_get_utc_offset (date) / G_TIME_SPAN_MINUTE;
  char sign = offset < 0 ? '-' : '+';

  if (offset < 0)
    offset = -offset;
  return g_strdup_printf ("%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d",
                          days[g_date_time_get_day_of_week (date) - 1],
                          g_date_time_get_day_of_month (date),
                          months[g_date_time_get_month (date) - 1],
                          g_date_time_get_year (date),
                          g_date_time_get_hour (date),
                          g_date_time_get_minute (date),
                          g_date_time_get_second (date),
                          sign, (int) (offset / 60), (int) (offset % 60));
}

/* Skips a quoted-string starting at @p (on the opening quote); returns the byte after it. */
static const char *
skip_quoted (const char *p)
{
  for (p++; *p != '\0' && *p != '"'; p++)
    if (*p == '\\' && p[1] != '\0')
      p++;
  return *p == '"' ? p + 1 : p;
}

/* Skips a comment, which may nest (RFC 5322 §3.2.2). */
static const char *
skip_comment (const char *p)
{
  int depth = 0;

  for (; *p != '\0'; p++)
    {
      if (*p == '\\' && p[1] != '\0')
        p++;
      else if (*p == '(')
        depth++;
      else if (*p == ')' && --depth == 0)
        return p + 1;
    }
  return p;
}

/* Text without white space or comments outside quoted strings. */
static char *
strip_cfws (const char *start,
            gsize       length)
{
  g_autofree char *text = g_strndup (start, length);
  GString *out = g_string_new (NULL);
  const char *p = text;

  while (*p != '\0')
    {
      if (*p == '"')
        {
          const char *end = skip_quoted (p);

          g_string_append_len (out, p, end - p);
          p = end;
        }
      else if (*p == '(')
        p = skip_comment (p);
      else if (g_ascii_isspace (*p))
        p++;
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

static void
add_mailbox (GPtrArray *out,
             GString   *plain,
             char     **angle)
{
  char *address;

  if (*angle != NULL)
    {
      /* An obsolete source route "@a,@b:user@c" (RFC 5322 §4.4) names the mailbox last. */
      char *colon = **angle == '@' ? strchr (*angle, ':') : NULL;

      address = g_strdup (colon != NULL ? colon + 1 : *angle);
      g_clear_pointer (angle, g_free);
    }
  else
    address = g_strdup (plain->str);
  g_string_truncate (plain, 0);

  if (*address != '\0')
    g_ptr_array_add (out, address);
  else
    g_free (address);
}

/**
 * relay_mail_parse_address_list:
 * @value: an unfolded To, Cc, Bcc or From field body
 *
 * Parses an RFC 5322 address-list: display names (quoted or not), angle addresses, comments,
 * groups ("team: a@x, b@y;"), and an empty group ("undisclosed-recipients:;"). The addresses are
 * not validated here; the message builder does that.
 *
 * Returns: (transfer full) (element-type utf8): the addresses, in order
 */
GPtrArray *
relay_mail_parse_address_list (const char *value)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) plain = g_string_new (NULL);   /* an addr-spec outside <> */
  g_autofree char *angle = NULL;
  const char *p = value;

  while (*p != '\0')
    {
      switch (*p)
        {
        case '"':
          {
            const char *end = skip_quoted (p);

            /* A quoted local part of an addr-spec; for a display name it is dropped below. */
            g_string_append_len (plain, p, end - p);
            p = end;
          }
          break;
        case '(':
          p = skip_comment (p);
          break;
        case '[':
          {
            const char *end = strchr (p, ']');

            end = end != NULL ? end + 1 : p + strlen (p);
            g_string_append_len (plain, p, end - p);
            p = end;
          }
          break;
        case '<':
          {
            const char *start = ++p;

            while (*p != '\0' && *p != '>')
              p = *p == '"' ? skip_quoted (p) : p + 1;
            g_free (angle);
            angle = strip_cfws (start, p - start);
            if (*p == '>')
              p++;
            /* What came before the angle address was its display name. */
            g_string_truncate (plain, 0);
          }
          break;
        case ':':
          /* A group's display name. */
          g_string_truncate (plain, 0);
          p++;
          break;
        case ',':
        case ';':
          add_mailbox (out, plain, &angle);
          p++;
          break;
        default:
          if (g_ascii_isspace (*p))
            {
              /* Words separated by spaces with no <> form a display name without an address;
               * keep them apart so the error names what was written. */
              if (plain->len > 0 && angle == NULL)
                g_string_append_c (plain, ' ');
              while (g_ascii_isspace (*p))
                p++;
              break;
            }
          if (angle == NULL)
            g_string_append_c (plain, *p);
          p++;
          break;
        }
    }
  add_mailbox (out, plain, &angle);

  /* "a @ b . c" is a valid, if odd, addr-spec: white space around the specials goes. */
  for (guint i = 0; i < out->len; i++)
    {
      char *address = out->pdata[i];
      g_autofree char *stripped = NULL;

      g_strstrip (address);
      if (strchr (address, ' ') != NULL && (strstr (address, " @") || strstr (address, "@ ")
                                            || strstr (address, " .") || strstr (address, ". ")))
        {
          stripped = strip_cfws (address, strlen (address));
          g_free (address);
          out->pdata[i] = g_steal_pointer (&stripped);
        }
    }
  return out;
}

/* @first: the message's first line, where only a field as RFC 5322 writes it now counts: a
 * first line such as "Erreur : disque plein" (French puts a space before a colon) is a body
 * without header, as it always was. */
static gboolean
is_field (const Line *line,
          gboolean    first)
{
  gsize i;

  for (i = 0; i < line->length; i++)
    {
      guchar c = line->start[i];

      if (c == ':')
        return i > 0;
      if (c == ' ' || c == '\t')
        break;
      if (c < 33 || c > 126)
        return FALSE;
    }
  if (i == 0 || first)
    return FALSE;
  /* RFC 5322 §4.5 (obsolete syntax, which Postfix accepts too): "Content-Type : text/plain" */
  for (; i < line->length; i++)
    {
      if (line->start[i] == ':')
        return TRUE;
      if (line->start[i] != ' ' && line->start[i] != '\t')
        return FALSE;
    }
  return FALSE;
}

static gboolean
field_is (const Field *field,
          const char  *name)
{
  return g_ascii_strcasecmp (field->name, name) == 0;
}

/**
 * relay_mail_add_recipient:
 * @recipients: (element-type utf8): a list that owns its strings
 * @address: the address to add
 *
 * Adds a copy of @address unless the list holds it already, in any case: a message goes once
 * to each recipient, however often the header or the command line names it.
 */
void
relay_mail_add_recipient (GPtrArray  *recipients,
                          const char *address)
{
  for (guint i = 0; i < recipients->len; i++)
    if (g_ascii_strcasecmp (recipients->pdata[i], address) == 0)
      return;
  g_ptr_array_add (recipients, g_strdup (address));
}

static void
add_recipients (GPtrArray  *recipients,
                const char *value)
{
  g_autoptr(GPtrArray) list = relay_mail_parse_address_list (value);

  for (guint i = 0; i < list->len; i++)
    relay_mail_add_recipient (recipients, list->pdata[i]);
}

/* The display name of the first mailbox in a From field body: the phrase before "<", else the
 * first comment, as in cron's "root (Cron Daemon)". NULL when there is none, or when it holds
 * encoded-words, which quoting would break. */
static char *
display_name_of (const char *value)
{
  g_autoptr(GString) name = g_string_new (NULL);
  const char *p = value;
  const char *comment = NULL;

  while (*p != '\0' && *p != '<' && *p != ',')
    {
      if (*p == '"')
        {
          for (p++; *p != '\0' && *p != '"'; p++)
            {
              if (*p == '\\' && p[1] != '\0')
                p++;
              g_string_append_c (name, *p);
            }
          if (*p == '"')
            p++;
        }
      else if (*p == '(')
        {
          const char *end = skip_comment (p);

          if (comment == NULL)
            comment = p;
          p = end;
        }
      else
        g_string_append_c (name, *p++);
    }

  if (*p != '<')
    {
      /* No angle address: the words were the address itself; a comment names it. */
      g_string_truncate (name, 0);
      if (comment != NULL)
        {
          const char *end = skip_comment (comment);

          /* Without its parentheses; an unclosed comment runs to the end. */
          g_string_append_len (name, comment + 1, end - comment - 1 - (end[-1] == ')'));
        }
    }
  g_strstrip (name->str);
  g_string_set_size (name, strlen (name->str));
  if (name->len == 0 || strstr (name->str, "=?") != NULL)
    return NULL;
  return g_string_free (g_steal_pointer (&name), FALSE);
}

/* Splits at CRLF, bare LF and bare CR, as relay_smtp_dot_stuff() will. A body line longer than
 * SMTP allows is broken into lines that fit, as Postfix does, rather than the message refused:
 * cron and logwatch send what commands print, and a refused alert is lost. */
static GArray *
split_lines (const char           *data,
             gsize                 length,
             RelayMailInputFlags   flags,
             GError              **error)
{
  g_autoptr(GArray) lines = g_array_new (FALSE, FALSE, sizeof (Line));
  gboolean in_header = TRUE;
  gsize i = 0;

  while (i < length)
    {
      Line line = { data + i, 0 };

      while (i < length && data[i] != '\r' && data[i] != '\n')
        i++;
      line.length = data + i - line.start;
      if (i < length && data[i] == '\r' && i + 1 < length && data[i + 1] == '\n')
        i++;
      if (i < length)
        i++;

      if ((flags & RELAY_MAIL_INPUT_STOP_AT_DOT) && line.length == 1 && line.start[0] == '.')
        break;
      /* An mbox "From " line before the header is not part of the message (sendmail drops it). */
      if (lines->len == 0 && line.length >= 5 && memcmp (line.start, "From ", 5) == 0)
        continue;
      /* Where the header ends, as relay_mail_input_parse() will see it. */
      if (in_header && (line.length == 0 ||
                        (!is_field (&line, lines->len == 0) && !(lines->len > 0 && (line.start[0] == ' ' ||
                                                                   line.start[0] == '\t')))))
        in_header = FALSE;
      if (line.length > RELAY_SMTP_MAX_LINE_OCTETS && in_header)
        {
          g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                       _("Line %u of the message is longer than %u octets, which SMTP does not allow; nothing was sent."),
                       lines->len + 1, RELAY_SMTP_MAX_LINE_OCTETS);
          return NULL;
        }
      while (line.length > RELAY_SMTP_MAX_LINE_OCTETS)
        {
          Line part = { line.start, RELAY_SMTP_MAX_LINE_OCTETS };

          /* not inside a UTF-8 sequence */
          while (part.length > 1 && ((guchar) line.start[part.length] & 0xc0) == 0x80)
            part.length--;
          g_array_append_val (lines, part);
          line.start += part.length;
          line.length -= part.length;
        }
      g_array_append_val (lines, line);
    }
  return g_steal_pointer (&lines);
}

/**
 * relay_mail_format_mailbox:
 * @name: (nullable): a display name
 * @address: a valid address
 *
 * Returns: (transfer full): a From field body for @address with the display name @name: quoted
 *   when it is plain ASCII, RFC 2047 encoded-words otherwise
 */
char *
relay_mail_format_mailbox (const char *name,
                           const char *address)
{
  GString *out;
  gboolean ascii = TRUE;

  if (name == NULL || *name == '\0')
    return g_strdup (address);
  for (const guchar *p = (const guchar *) name; *p != '\0'; p++)
    ascii &= *p >= 0x20 && *p < 0x7f;
  out = g_string_new (NULL);
  if (ascii && strlen (name) < 70)
    {
      g_string_append_c (out, '"');
      for (const char *p = name; *p != '\0'; p++)
        {
          if (*p == '"' || *p == '\\')
            g_string_append_c (out, '\\');
          g_string_append_c (out, *p);
        }
      g_string_append_c (out, '"');
    }
  else
    {
      /* RFC 2047 encoded-words of at most 45 bytes each, never splitting a character. */
      const char *p = name;

      while (*p != '\0')
        {
          const char *end = p;
          g_autofree char *encoded = NULL;

          while (*end != '\0' && g_utf8_next_char (end) - p <= 45)
            end = g_utf8_next_char (end);
          if (end == p)
            break;
          encoded = g_base64_encode ((const guchar *) p, end - p);
          g_string_append_printf (out, "%s=?UTF-8?B?%s?=", p != name ? "\r\n " : "", encoded);
          p = end;
        }
    }
  g_string_append_printf (out, " <%s>", address);
  return g_string_free (out, FALSE);
}

static char *
domain_of (const char *address)
{
  const char *at = address != NULL ? strrchr (address, '@') : NULL;

  if (at == NULL || at[1] == '\0' || strpbrk (at + 1, " <>\"") != NULL)
    return NULL;
  return g_strdup (at + 1);
}

/**
 * relay_mail_input_parse:
 * @raw: the bytes read from standard input
 * @flags: how to read them
 * @sender: (nullable): a valid address for a From that is missing or names only a local user
 * @sender_name: (nullable): the display name to give it when the message has none (-F)
 * @now: (nullable): the time for a missing Date; %NULL for now
 * @error: return location for a %RELAY_SMTP_ERROR_INVALID_INPUT error
 *
 * Reads a complete message: a header of fields (with folded lines), an empty line, the body.
 * A header alone is accepted (the body is then empty). Fails, with the line number, when a line
 * before the first empty line is not a header field, when a line is over 998 octets, or when
 * the message holds a NUL byte.
 *
 * A From that is only a local user name, such as cron's "root (Cron Daemon)", is not a valid
 * From for any server beyond this machine (strict ones refuse the message), and a relay cannot
 * qualify it as a local MTA would: it becomes @sender, with the name the field gave ("Cron
 * Daemon"), else @sender_name, else the user name. Any other From is kept as it is.
 *
 * Returns: (transfer full): the message to send and what its header says
 */
RelayMailInput *
relay_mail_input_parse (GBytes              *raw,
                        RelayMailInputFlags  flags,
                        const char          *sender,
                        const char          *sender_name,
                        GDateTime           *now,
                        GError             **error)
{
  g_autoptr(GArray) lines = NULL;
  g_autoptr(GArray) fields = g_array_new (FALSE, TRUE, sizeof (Field));
  g_autoptr(GString) out = NULL;
  g_autoptr(RelayMailInput) input = g_new0 (RelayMailInput, 1);
  gboolean has_date = FALSE, has_message_id = FALSE, has_from = FALSE;
  gsize length;
  const char *data = g_bytes_get_data (raw, &length);
  g_autofree char *copy = NULL;
  guint header_end;
  guint body_start;

  g_array_set_clear_func (fields, field_clear);
  input->recipients = g_ptr_array_new_with_free_func (g_free);

  if (data == NULL)
    data = "";
  if (memchr (data, '\0', length) != NULL)
    {
      /* SMTP cannot carry NUL (a command's "find -print0" in cron's mail, say): a space in its
       * place, and the caller says so, rather than the alert refused. */
      copy = g_memdup2 (data, length);
      for (gsize i = 0; i < length; i++)
        if (copy[i] == '\0')
          copy[i] = ' ';
      data = copy;
      input->nul_replaced = TRUE;
    }
  lines = split_lines (data, length, flags, error);
  if (lines == NULL)
    return NULL;
  if (lines->len == 0)
    {
      g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                           _("The message is empty; nothing was sent."));
      return NULL;
    }

  for (header_end = 0; header_end < lines->len; header_end++)
    {
      const Line *line = &g_array_index (lines, Line, header_end);

      if (line->length == 0)
        break;
      if ((line->start[0] == ' ' || line->start[0] == '\t') && fields->len > 0)
        {
          Field *field = &g_array_index (fields, Field, fields->len - 1);
          g_autofree char *part = g_strndup (line->start, line->length);
          char *joined = g_strconcat (field->value, part, NULL);

          g_free (field->value);
          field->value = joined;
          field->last = header_end;
          continue;
        }
      if (!is_field (line, fields->len == 0))
        break;   /* the body, without the empty line before it (sendmail and Postfix agree) */
      {
        const char *colon = memchr (line->start, ':', line->length);
        Field field = { 0 };

        field.name = g_strchomp (g_strndup (line->start, colon - line->start));
        field.value = g_strndup (colon + 1, line->start + line->length - (colon + 1));
        field.first = field.last = header_end;
        g_array_append_val (fields, field);
      }
    }

  /* The empty line that ends the header is not part of the body; a line that ends it by being
   * no header field is. */
  body_start = header_end < lines->len &&
               g_array_index (lines, Line, header_end).length == 0 ? header_end + 1 : header_end;

  out = g_string_sized_new (length + 256);
  for (guint i = 0; i < fields->len; i++)
    {
      const Field *field = &g_array_index (fields, Field, i);
      gboolean bcc = field_is (field, "Bcc") || field_is (field, "Resent-Bcc");

      if (field_is (field, "To") || field_is (field, "Cc") || field_is (field, "Bcc"))
        add_recipients (input->recipients, field->value);
      if (field_is (field, "From") && !has_from)
        {
          g_autoptr(GPtrArray) from = relay_mail_parse_address_list (field->value);

          has_from = TRUE;
          if (from->len == 1 && relay_address_is_local_name (from->pdata[0])
              && sender != NULL && *sender != '\0')
            {
              g_autofree char *name = display_name_of (field->value);
              g_autofree char *mailbox = NULL;

              if (name == NULL)
                name = g_strdup (sender_name != NULL && *sender_name != '\0' ? sender_name
                                                                             : from->pdata[0]);
              mailbox = relay_mail_format_mailbox (name, sender);
              g_string_append_printf (out, "From: %s\r\n", mailbox);
              input->from_address = g_strdup (sender);
              input->from_replaced = TRUE;
              continue;
            }
          input->from_address = from->len > 0 ? g_strdup (from->pdata[0]) : NULL;
        }
      has_date |= field_is (field, "Date");
      has_message_id |= field_is (field, "Message-ID");

      if (bcc)
        continue;
      for (guint j = field->first; j <= field->last; j++)
        {
          const Line *line = &g_array_index (lines, Line, j);

          g_string_append_len (out, line->start, line->length);
          g_string_append (out, "\r\n");
        }
    }

  if (!has_from && sender != NULL && *sender != '\0')
    {
      g_autofree char *mailbox = relay_mail_format_mailbox (sender_name, sender);

      g_string_append_printf (out, "From: %s\r\n", mailbox);
      input->from_address = g_strdup (sender);
    }
  if (!has_date)
    {
      g_autoptr(GDateTime) local_now = now == NULL ? g_date_time_new_now_local () : NULL;
      g_autofree char *date = relay_mail_format_date (now != NULL ? now : local_now);

      g_string_append_printf (out, "Date: %s\r\n", date);
    }
  if (!has_message_id)
    {
      g_autofree char *uuid = g_uuid_string_random ();
      g_autofree char *domain = domain_of (input->from_address);

      /* The sender's domain keeps it unique without revealing the local host name. */
      g_string_append_printf (out, "Message-ID: <%s@%s>\r\n", uuid,
                              domain != NULL ? domain : "smtp-relay.invalid");
    }

  g_string_append (out, "\r\n");
  for (guint i = body_start; i < lines->len; i++)
    {
      const Line *line = &g_array_index (lines, Line, i);

      g_string_append_len (out, line->start, line->length);
      g_string_append (out, "\r\n");
    }

  input->data = g_string_free_to_bytes (g_steal_pointer (&out));
  return g_steal_pointer (&input);
}
