/* relay-smtp-client.c
 *
 * One send is one session, driven by callbacks that each handle one reply. The rules that shape
 * it come from real CVEs and measurements (see network-facts.md):
 *
 *  - nothing but EHLO/STARTTLS is sent before a TLS the user asked for is up (CVE-2016-0772),
 *    and no byte read before the STARTTLS handshake is used after it (CVE-2021-22947);
 *  - replies are read by our own bounded reader straight from the socket's stream: a
 *    GDataInputStream would read ahead past the STARTTLS reply and has no line limit;
 *  - every phase has a deadline enforced by cancelling, because socket time-outs do not stop a
 *    server that drips one byte a second;
 *  - every value reaching a command is checked before connecting.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-smtp"

#include <glib/gi18n-lib.h>
#include <stdlib.h>
#include <string.h>
#ifdef G_OS_UNIX
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif
#ifdef __linux__
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "relay-hostname.h"
#include "relay-smtp-client.h"
#include "relay-smtp-error.h"
#include "relay-smtp-reply.h"

#define DEFAULT_CONNECT_TIMEOUT_MS  15000
#define DEFAULT_REPLY_TIMEOUT_MS    30000
#define DEFAULT_SESSION_TIMEOUT_MS  120000
/* RFC 5321 §4.5.3.2.6: servers may scan a message before they answer its end, and a client
 * that gives up sooner makes them deliver it twice (once now, once when retried). */
#define DEFAULT_DATA_END_TIMEOUT_MS 600000
/* A message is written for as long as it makes progress; the session's deadline grows by its
 * size at this rate (64 kbit/s), so that a large one on a slow link is not cut off. */
#define MIN_TRANSFER_BYTES_PER_S    8192
/* QUIT is a courtesy: the message is already accepted, so do not wait long for the 221. */
#define QUIT_TIMEOUT_MS             2000
#define READ_CHUNK                  4096
/* RFC 4954 lets the server send challenges forever; no mechanism here needs more than two. */
#define MAX_AUTH_ROUNDS             2
#define MAX_USERNAME_LENGTH         256
#define MAX_PASSWORD_LENGTH         1024
/* RFC 5321 §4.5.3.1.4, including CRLF; AUTH lines have their own, larger limit (RFC 4954). */
#define MAX_COMMAND_LINE            512
#define MAX_AUTH_LINE               12288

G_DEFINE_ENUM_TYPE (RelaySmtpStep, relay_smtp_step,
  G_DEFINE_ENUM_VALUE (RELAY_SMTP_STEP_IDLE, "idle"),
  G_DEFINE_ENUM_VALUE (RELAY_SMTP_STEP_RESOLVING, "resolving"),
  G_DEFINE_ENUM_VALUE (RELAY_SMTP_STEP_CONNECTING, "connecting"),
  G_DEFINE_ENUM_VALUE (RELAY_SMTP_STEP_SECURING, "securing"),
  G_DEFINE_ENUM_VALUE (RELAY_SMTP_STEP_GREETING, "greeting"),
  G_DEFINE_ENUM_VALUE (RELAY_SMTP_STEP_AUTHENTICATING, "authenticating"),
  G_DEFINE_ENUM_VALUE (RELAY_SMTP_STEP_SENDING, "sending"),
  G_DEFINE_ENUM_VALUE (RELAY_SMTP_STEP_DONE, "done"))

struct _RelaySmtpClient
{
  GObject               parent_instance;

  char                 *host;
  guint16               port;
  RelaySecurity         security;
  char                 *username;
  char                 *password;
  gboolean              allow_plaintext_auth;
  char                 *helo_name;
  char                 *pinned_certificate;
  GTlsDatabase         *tls_database;
  guint                 connect_timeout_ms;
  guint                 reply_timeout_ms;
  guint                 session_timeout_ms;
  guint                 data_end_timeout_ms;

  RelaySmtpStep         step;
  gboolean              busy;
  gboolean              password_pending;  /* see relay_smtp_client_set_password_pending() */
  char                 *known_host;        /* see relay_smtp_client_set_known_addresses() */
  GList                *known_addresses;
  GTask                *auth_waiting;      /* the send that waits for the password to log in */
  GString              *transcript;
  gint64                transcript_start;
  GTlsCertificateFlags  certificate_errors;
  char                 *peer_fingerprint;
  guint                 last_reply_code;    /* of the last complete reply, 0 before one */
  gboolean              message_written;    /* the message is being written, or was */
  gboolean              keep_open;          /* see relay_smtp_client_set_keep_open() */
  struct _Idle         *idle;               /* the session kept open, or NULL */
  gboolean              stale_session;      /* see relay_smtp_client_get_stale_session() */
  GPtrArray            *secrets;            /* the running session's, to redact; borrowed */
};

G_DEFINE_FINAL_TYPE (RelaySmtpClient, relay_smtp_client, G_TYPE_OBJECT)

static gboolean   has_control     (const char *s);
static GPtrArray *collect_secrets (const char *username,
                                   const char *password);

enum {
  PROP_0,
  PROP_HOST,
  PROP_PORT,
  PROP_SECURITY,
  PROP_USERNAME,
  PROP_ALLOW_PLAINTEXT_AUTH,
  PROP_HELO_NAME,
  PROP_PINNED_CERTIFICATE,
  PROP_TLS_DATABASE,
  PROP_CONNECT_TIMEOUT,
  PROP_REPLY_TIMEOUT,
  PROP_SESSION_TIMEOUT,
  PROP_DATA_END_TIMEOUT,
  PROP_STEP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  STEP_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef enum
{
  PHASE_RESOLVE,
  PHASE_CONNECT,
  PHASE_TLS,
  PHASE_GREETING,
  PHASE_EHLO,
  PHASE_STARTTLS,
  PHASE_AUTH,
  PHASE_MAIL,
  PHASE_RCPT,
  PHASE_DATA,
  PHASE_BODY,
  PHASE_BODY_END,  /* waiting for the reply to the end of the message */
  PHASE_QUIT,
} Phase;

typedef struct _Session Session;

/* A GTlsClientConnection made by a worker for one connection attempt (see prep_tls_thread()).
 * Reference-counted: the attempt, then the session if the attempt wins, and the worker hold it. */
typedef struct
{
  GSocketConnection  *connection;  /* the TCP connection it is made for */
  GSocketConnectable *identity;
  GWeakRef            task;        /* the send, to come back to if it waits */
  GIOStream          *tls;         /* once made, until handshake() takes it */
  gboolean            pending;
} Prep;

static void
prep_clear (Prep *prep)
{
  g_object_unref (prep->connection);
  g_object_unref (prep->identity);
  g_weak_ref_clear (&prep->task);
  g_clear_object (&prep->tls);
}

static void
prep_release (Prep *prep)
{
  g_rc_box_release_full (prep, (GDestroyNotify) prep_clear);
}

/* One TCP connection attempt. Each has its own GSocketClient, so that its "event" tells which
 * connection the TLS client connection is being prepared for. */
typedef struct
{
  GTask         *task;         /* the send stays alive until every attempt is over */
  GSocketClient *client;
  GCancellable  *cancellable;
  gulong         op_handler;
  GSource       *timer;        /* this address's connect deadline */
  gboolean       timed_out;
  char          *address;
  Prep          *prep;         /* the TLS connection being made for it, if any */
} Attempt;

typedef void (*ReplyHandler) (GTask          *task,
                              RelaySmtpReply *reply);

struct _Session
{
  RelaySmtpClient      *self;        /* a reference */
  GTask                *task;        /* not a reference: the task owns the session */
  RelaySmtpMessage     *message;
  char                 *host;
  gboolean              host_is_ip;
  guint32               scope_id;    /* of an IPv6 literal with a zone; 0 otherwise */
  guint16               port;
  RelaySecurity         security;
  gboolean              authenticate;
  char                 *username;
  char                 *password;
  GPtrArray            *secrets;     /* every form of the password, wiped on free */
  char                 *pinned;

  GCancellable         *op;          /* cancelled by the caller, the deadlines, or the end */
  GCancellable         *caller;
  gulong                caller_handler;
  GSource              *session_timer;
  guint64               session_ms;  /* the session's whole allowance, grown by extend_session() */
  GSource              *phase_timer;
  Phase                 phase;
  gboolean              phase_timed_out;
  gboolean              session_timed_out;

  GList                *addresses;        /* the families interleaved (RFC 8305 §4) */
  GList                *next_address;
  GPtrArray            *attempts;         /* the connection attempts under way */
  GSource              *stagger_timer;    /* starts the next attempt if none has connected */
  gboolean              connect_settled;  /* an attempt connected, or all of them failed */
  char                 *current_address;  /* the address connected to */
  GError               *connect_error;
  char                 *connect_error_address;
  int                   connect_error_rank;

  GSocketConnection    *connection;
  GTlsConnection       *tls;
  Prep                 *prep;              /* the TLS connection made for the connection won */
  gboolean              handshake_waiting; /* for prep */
  GTask                *hold;              /* keeps the send alive meanwhile */
  GIOStream            *stream;
  char                 *helo;

  GByteArray           *inbuf;
  guint8                readbuf[READ_CHUNK];
  GString              *outbuf;
  ReplyHandler          handler;

  RelaySmtpCapabilities caps;
  gboolean              tried_helo;
  RelaySmtpAuthMechs    mech;
  guint                 auth_round;
  gboolean              pipelined;
  guint                 rcpt_index;
  GBytes               *body;
  gboolean              bdat;        /* MAIL, RCPT, BDAT LAST + message, QUIT in one flight */
  gboolean              quit_sent;   /* QUIT went out with the message (PIPELINING) */
  gboolean              quitting;
  char                 *final_reply;
  gulong                wait_handler;  /* on op, while waiting for the password */
  GError               *write_error;   /* the peer closed while a flight was written */
  gsize                 out_offset;    /* how much of outbuf is written */
  Phase                 flight_reply_phase;
  gboolean              keep_open;     /* no QUIT: the session stays open for the next send */
  gboolean              reused;        /* this send went on a session kept open */
  gboolean              closing;       /* relay_smtp_client_close_async(): QUIT only */
  guint                 replies;       /* complete replies read in this send */
  /* A refused transaction on a session to keep: the replies still due to the commands
   * pipelined after the refused one are read before the session is kept (drain_error is what
   * the send reports, whatever happens meanwhile). The next send begins with RSET. */
  GError               *drain_error;
  guint                 drain_code;    /* the refusal's, which the caller judges by */
  guint                 drain_left;
  gboolean              needs_rset;    /* when kept: the server may hold the failed transaction */
  gboolean              rset_first;    /* this send, on a session kept so: RSET before MAIL */
  gboolean              rset_failed;   /* ... which the server refused: treated as stale */
  gboolean              rset_alone;    /* ... in a flight of its own */
};

/* A session left open after its message was accepted (relay_smtp_client_set_keep_open()). */
typedef struct _Idle
{
  char                 *host;        /* normalised, as prepare_session() makes it */
  guint16               port;
  RelaySecurity         security;
  char                 *username;
  char                 *address;
  char                 *helo;        /* the name the session introduced itself with */
  GSocketConnection    *connection;
  GTlsConnection       *tls;
  GIOStream            *stream;      /* borrowed: tls or connection */
  GByteArray           *inbuf;
  RelaySmtpCapabilities caps;
  gboolean              needs_rset;
} Idle;

/* Closing the socket itself is immediate; a TLS close_notify could block on a stuck peer.
 * g_io_stream_close() would refuse while a read is pending (a cancelled or timed-out phase)
 * and leave the server waiting on an open connection: close the socket under it instead. */
static void
close_socket (GSocketConnection *connection)
{
  g_autoptr(GError) close_error = NULL;
  GSocket *socket;

  if (connection == NULL)
    return;
  socket = g_socket_connection_get_socket (connection);
  if (!g_socket_is_closed (socket) && !g_socket_close (socket, &close_error))
    g_debug ("close: %s", close_error->message);
}

static void
idle_free (Idle *idle)
{
  /* Only without relay_smtp_client_close_async(): no QUIT, the socket just closes. */
  close_socket (idle->connection);
  g_free (idle->host);
  g_free (idle->username);
  g_free (idle->address);
  g_free (idle->helo);
  g_clear_object (&idle->tls);
  g_clear_object (&idle->connection);
  g_clear_pointer (&idle->inbuf, g_byte_array_unref);
  relay_smtp_capabilities_clear (&idle->caps);
  g_free (idle);
}

static void send_ehlo          (GTask *task);
static void after_capabilities (GTask *task);
static void start_mail         (GTask *task);
static void start_tls          (GTask *task);
static void expect_greeting    (GTask *task);

/* Passwords are overwritten before their memory is freed, so they do not linger in core dumps. */
static void
wipe_string (char *s)
{
  if (s != NULL)
    {
      explicit_bzero (s, strlen (s));
      g_free (s);
    }
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
session_free (Session *s)
{
  /* a later send may already have installed its own */
  if (s->self->secrets == s->secrets)
    s->self->secrets = NULL;
  g_clear_pointer (&s->secrets, g_ptr_array_unref);
  clear_source (&s->session_timer);
  clear_source (&s->phase_timer);
  clear_source (&s->stagger_timer);
  if (s->caller_handler != 0)
    g_cancellable_disconnect (s->caller, s->caller_handler);
  if (s->wait_handler != 0)
    g_cancellable_disconnect (s->op, s->wait_handler);
  g_clear_object (&s->caller);
  /* Every attempt holds the task, so none is left when its data goes. */
  g_clear_pointer (&s->attempts, g_ptr_array_unref);
  g_clear_object (&s->op);
  g_clear_pointer (&s->message, relay_smtp_message_unref);
  g_free (s->host);
  g_free (s->username);
  wipe_string (s->password);
  g_free (s->pinned);
  g_list_free_full (s->addresses, g_object_unref);
  g_free (s->current_address);
  g_clear_error (&s->connect_error);
  g_free (s->connect_error_address);
  g_clear_pointer (&s->prep, prep_release);
  g_clear_object (&s->tls);
  g_clear_object (&s->connection);
  g_free (s->helo);
  g_clear_pointer (&s->inbuf, g_byte_array_unref);
  if (s->outbuf != NULL)
    {
      explicit_bzero (s->outbuf->str, s->outbuf->len);
      g_string_free (s->outbuf, TRUE);
    }
  relay_smtp_capabilities_clear (&s->caps);
  g_clear_pointer (&s->body, g_bytes_unref);
  g_free (s->final_reply);
  g_clear_error (&s->write_error);
  g_clear_error (&s->drain_error);
  g_object_unref (s->self);
  g_free (s);
}

static const char *
phase_describe (Phase phase)
{
  switch (phase)
    {
    case PHASE_RESOLVE:
      /* Translators: this and the next ones name the step of the SMTP session that was under
       * way; they fill the "%s" of "… while %s." messages. Where a verb phrase does not fit
       * there, translate them as step names and quote them (as in „%s“). */
      return _("looking up the server name");
    case PHASE_CONNECT:
      return _("connecting");
    case PHASE_TLS:
      return _("setting up encryption (TLS)");
    case PHASE_GREETING:
      return _("waiting for the server’s greeting");
    case PHASE_EHLO:
      return _("introducing the client (EHLO)");
    case PHASE_STARTTLS:
      return _("asking for encryption (STARTTLS)");
    case PHASE_AUTH:
      return _("logging in");
    case PHASE_MAIL:
      return _("announcing the sender");
    case PHASE_RCPT:
      return _("announcing the recipients");
    case PHASE_DATA:
      return _("starting the message");
    case PHASE_BODY:
      return _("sending the message");
    case PHASE_BODY_END:
      return _("waiting for the message to be accepted");
    case PHASE_QUIT:
    default:
      return _("closing the session");
    }
}

static void
set_step (RelaySmtpClient *self,
          RelaySmtpStep    step)
{
  if (self->step == step)
    return;
  self->step = step;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STEP]);
  g_signal_emit (self, signals[STEP_CHANGED], 0, step);
}

/* A hostile or careless server may echo the credentials back ("535 bad password s3cret"):
 * whatever it says, the password and its base64 forms never reach the transcript, a log or an
 * error. Applied after sanitising, so control characters cannot split a secret to hide it. */
static char *
redact_secrets (RelaySmtpClient *self,
                char            *text)
{
  for (guint i = 0; self->secrets != NULL && i < self->secrets->len; i++)
    {
      const char *secret = self->secrets->pdata[i];
      g_autoptr(GString) out = NULL;
      const char *p = text;
      const char *hit;

      if (strstr (text, secret) == NULL)
        continue;
      out = g_string_new (NULL);
      while ((hit = strstr (p, secret)) != NULL)
        {
          g_string_append_len (out, p, hit - p);
          g_string_append (out, "<redacted>");
          p = hit + strlen (secret);
        }
      g_string_append (out, p);
      explicit_bzero (text, strlen (text));
      g_free (text);
      text = g_string_free (g_steal_pointer (&out), FALSE);
    }
  return text;
}

static void
add_secret (GPtrArray *secrets,
            char      *secret)
{
  /* a secret of one or two characters would blank out half of every line */
  if (strlen (secret) < 3)
    wipe_string (secret);
  else
    g_ptr_array_add (secrets, secret);
}

static void
transcript_add (RelaySmtpClient *self,
                const char      *prefix,
                const char      *text)
{
  gint64 elapsed = g_get_monotonic_time () - self->transcript_start;
  /* Redacted before sanitising too: sanitising cuts a long line, which could cut a secret
   * in two and leave its first part unmatched. */
  g_autofree char *raw = redact_secrets (self, g_strdup (text));
  g_autofree char *clean = redact_secrets (self, relay_smtp_sanitize_text (raw, -1));

  g_string_append_printf (self->transcript, "[%3u.%03u] %s%s\n",
                          (guint) (elapsed / G_USEC_PER_SEC),
                          (guint) (elapsed % G_USEC_PER_SEC / 1000),
                          prefix, clean);
  g_debug ("%s%s", prefix, clean);
}

static void
transcript_reply (RelaySmtpClient      *self,
                  const RelaySmtpReply *reply)
{
  for (guint i = 0; reply->lines[i] != NULL; i++)
    {
      g_autofree char *line = g_strdup_printf ("%03u%c%s", reply->code,
                                               reply->lines[i + 1] ? '-' : ' ', reply->lines[i]);

      transcript_add (self, "S: ", line);
    }
}

static GSource *
add_timer (guint        ms,
           GSourceFunc  func,
           gpointer     data)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

static gboolean
on_phase_timeout_cb (gpointer user_data)
{
  Session *s = user_data;

  s->phase_timed_out = TRUE;
  g_cancellable_cancel (s->op);
  return G_SOURCE_REMOVE;
}

static gboolean
on_session_timeout_cb (gpointer user_data)
{
  Session *s = user_data;

  s->session_timed_out = TRUE;
  g_cancellable_cancel (s->op);
  return G_SOURCE_REMOVE;
}

/* Each phase gets its own deadline from its start: a reply that trickles in cannot move it. */
static void
arm_phase (Session *s,
           Phase    phase,
           guint    ms)
{
  clear_source (&s->phase_timer);
  s->phase = phase;
  s->phase_timer = add_timer (ms, on_phase_timeout_cb, s);
}

/* How long a reply may take in @phase: QUIT is a courtesy, the rest waits the reply deadline. */
static guint
reply_deadline_ms (Session *s,
                   Phase    phase)
{
  return phase == PHASE_QUIT ? MIN (QUIT_TIMEOUT_MS, s->self->reply_timeout_ms)
                             : s->self->reply_timeout_ms;
}

/* Moves the session's deadline @ms later. */
static void
extend_session (Session *s,
                guint64  ms)
{
  gint64 left_ms;

  if (s->session_timer == NULL)
    return;
  left_ms = MAX (0, (g_source_get_ready_time (s->session_timer) - g_get_monotonic_time ()) / 1000);
  clear_source (&s->session_timer);
  s->session_timer = add_timer ((guint) MIN (left_ms + ms, G_MAXUINT), on_session_timeout_cb, s);
  s->session_ms += ms;
}

static void
close_connection (Session *s)
{
  clear_source (&s->session_timer);
  clear_source (&s->phase_timer);
  clear_source (&s->stagger_timer);
  /* The caller's cancellable stays connected until the task is freed: disconnecting here could
   * be reached from inside its own "cancelled" emission, where g_cancellable_disconnect()
   * deadlocks. */
  close_socket (s->connection);
  s->self->busy = FALSE;
}

/* Moves the connection of @s, whose message was accepted, to the client for the next send;
 * close_connection() then has only the timers left to end. */
static void
keep_connection (Session *s)
{
  Idle *idle = g_new0 (Idle, 1);

  idle->host = g_strdup (s->host);
  idle->port = s->port;
  idle->security = s->security;
  idle->username = g_strdup (s->username);
  idle->address = g_strdup (s->current_address);
  idle->helo = g_strdup (s->helo);
  idle->connection = g_steal_pointer (&s->connection);
  idle->tls = g_steal_pointer (&s->tls);
  idle->stream = g_steal_pointer (&s->stream);
  idle->inbuf = g_steal_pointer (&s->inbuf);
  idle->caps = s->caps;
  memset (&s->caps, 0, sizeof s->caps);
  idle->needs_rset = s->needs_rset;
  g_clear_pointer (&s->self->idle, idle_free);
  s->self->idle = idle;
}

/* Gives @s the session kept open; frees @idle. */
static void
adopt_connection (Session *s,
                  Idle    *idle)
{
  s->connection = g_steal_pointer (&idle->connection);
  s->tls = g_steal_pointer (&idle->tls);
  s->stream = g_steal_pointer (&idle->stream);
  g_clear_pointer (&s->inbuf, g_byte_array_unref);
  s->inbuf = g_steal_pointer (&idle->inbuf);
  relay_smtp_capabilities_clear (&s->caps);
  s->caps = idle->caps;
  memset (&idle->caps, 0, sizeof idle->caps);
  g_free (s->current_address);
  s->current_address = g_steal_pointer (&idle->address);
  g_free (s->helo);
  s->helo = g_steal_pointer (&idle->helo);
  s->reused = TRUE;
  s->rset_first = idle->needs_rset;
  idle_free (idle);
}

static void
session_succeed (GTask *task)
{
  Session *s = g_task_get_task_data (task);

  if (s->closing)
    {
      close_connection (s);
      set_step (s->self, RELAY_SMTP_STEP_DONE);
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (s->keep_open && !s->quitting)
    keep_connection (s);
  close_connection (s);
  transcript_add (s->self, "", _("Message accepted"));
  set_step (s->self, RELAY_SMTP_STEP_DONE);
  g_task_return_pointer (task, g_steal_pointer (&s->final_reply), g_free);
}

/* The one exit for failures: turns our own cancellations into the reason behind them. */
static void
session_fail (GTask  *task,
              GError *error)
{
  Session *s = g_task_get_task_data (task);
  const char *during = phase_describe (s->phase);

  /* The message was refused already; what went wrong while reading the replies after that
   * only means that the session is not kept. */
  if (s->drain_error != NULL)
    {
      g_error_free (error);
      error = g_steal_pointer (&s->drain_error);
    }
  /* A 451 to RCPT is followed by a 554 to BDAT ("no valid recipients"): the refusal's code
   * says whether to try again later. */
  if (s->drain_code != 0)
    s->self->last_reply_code = s->drain_code;

  /* Before the server took anything of this message, the session kept open turned out to be
   * gone: closed for idleness (EOF, a reset) or closing (421), or it would not reset the
   * transaction that failed on it. A new connection may retry. */
  s->self->stale_session =
    s->reused && !s->quitting
    && ((s->replies == 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
         && (error->domain != RELAY_SMTP_ERROR || error->code == RELAY_SMTP_ERROR_CLOSED))
        || (s->replies == 1 && s->self->last_reply_code == 421)
        || s->rset_failed);

  if (s->quitting)
    {
      /* The message was accepted before QUIT: a late hiccup does not undo that. */
      g_error_free (error);
      session_succeed (task);
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (s->caller != NULL && g_cancellable_is_cancelled (s->caller))
        ;
      else if (s->phase_timed_out && s->phase == PHASE_RESOLVE)
        {
          g_clear_error (&error);
          guint seconds = (s->self->connect_timeout_ms + 999) / 1000;

          error = g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DNS_FAILURE,
                               g_dngettext (GETTEXT_PACKAGE,
                                            "Could not look up the server name “%s”: DNS did not answer within %u second.",
                                            "Could not look up the server name “%s”: DNS did not answer within %u seconds.",
                                            seconds),
                               s->host, seconds);
        }
      else if (s->phase_timed_out)
        {
          g_clear_error (&error);
          error = g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_TIMEOUT,
                               /* Translators: "while %s": a step of the session, e.g. "logging in". */
                               _("The server %s did not answer in time while %s."), s->host, during);
        }
      else if (s->session_timed_out)
        {
          g_clear_error (&error);
          guint seconds = (guint) MIN ((s->session_ms + 999) / 1000, G_MAXUINT);

          error = g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_TIMEOUT,
                               g_dngettext (GETTEXT_PACKAGE,
                                            /* Translators: "while %s": a step of the session, e.g. "logging in". */
                                            "The session with %s took longer than %u second; it was stopped while %s.",
                                            "The session with %s took longer than %u seconds; it was stopped while %s.",
                                            seconds),
                               s->host, seconds, during);
        }
    }
  else if (error->domain != RELAY_SMTP_ERROR)
    {
      g_autofree char *detail = relay_smtp_sanitize_text (error->message, -1);
      gboolean closed = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
                        || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)
                        || g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_EOF);

      g_clear_error (&error);
      if (closed)
        error = g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_CLOSED,
                             /* Translators: "while %s": a step of the session, e.g. "logging in". */
                             _("The server closed the connection while %s."), during);
      else
        error = g_error_new (RELAY_SMTP_ERROR, s->tls ? RELAY_SMTP_ERROR_TLS : RELAY_SMTP_ERROR_CLOSED,
                             /* Translators: "while %s": a step of the session, e.g. "logging in". */
                             _("The connection to the server failed while %s: %s"), during, detail);
    }

  transcript_add (s->self, _("Error: "), error->message);
  close_connection (s);
  g_task_return_error (task, error);
}

static GError *
reply_error (Session              *s,
             RelaySmtpError        code,
             const char           *what,
             const RelaySmtpReply *reply)
{
  g_auto(GStrv) lines = g_strdupv (reply->lines);
  RelaySmtpReply redacted = *reply;
  g_autofree char *shown = NULL;

  /* Each line redacted as received as well as once shown: the display is cut at a length,
   * which may fall inside a secret that the server echoed. */
  for (guint i = 0; lines[i] != NULL; i++)
    lines[i] = redact_secrets (s->self, lines[i]);
  redacted.lines = lines;
  shown = redact_secrets (s->self, relay_smtp_reply_to_display (&redacted));

  /* What to do next is relay_smtp_error_hint()'s, which the window and the command line show
   * on a line of their own. */
  /* Translators: the first %s says which step failed, the second is the server's name, the
   * third its reply. */
  return g_error_new (RELAY_SMTP_ERROR, code, _("%s. The server %s replied: “%s”."),
                      what, s->host, shown);
}

static void
fail_with_reply (GTask                *task,
                 RelaySmtpError        code,
                 const char           *what,
                 const RelaySmtpReply *reply)
{
  session_fail (task, reply_error (g_task_get_task_data (task), code, what, reply));
}

static void expect_reply (GTask        *task,
                          Phase         phase,
                          ReplyHandler  handler);

/* Whether the session of a refused transaction, every reply due read, is in a known state:
 * not after a failed write (the server closed), nor with more received than was due (a
 * server out of step, whose extra replies the next message's commands would read). */
static gboolean
can_keep_after_refusal (Session *s)
{
  return s->write_error == NULL && s->inbuf->len == 0;
}

static void
on_drain_reply (GTask          *task,
                RelaySmtpReply *reply)
{
  Session *s = g_task_get_task_data (task);
  /* 354: the server waits for a message (another recipient was accepted), which only closing
   * can abort; 421: it is closing. */
  gboolean usable = reply->code != 354 && reply->code != 421;

  if (usable && --s->drain_left > 0)
    {
      expect_reply (task, s->phase, on_drain_reply);
      return;
    }
  if (usable && can_keep_after_refusal (s))
    keep_connection (s);
  session_fail (task, g_steal_pointer (&s->drain_error));
}

/* The server refused MAIL, a recipient or the message: the send fails with its reply. On a
 * session to keep (a flush), the session is kept for the next message, which begins with RSET
 * (the server may still hold the sender of this one), once the @pending replies still due to
 * the commands pipelined after the refused one are read; a 421 (closing) ends it. */
static void
refuse_transaction (GTask                *task,
                    RelaySmtpError        code,
                    const char           *what,
                    const RelaySmtpReply *reply,
                    guint                 pending)
{
  Session *s = g_task_get_task_data (task);

  /* After a failed write the server has closed: its replies still buffered say why */
  if (!s->keep_open || reply->code == 421 || s->write_error != NULL)
    {
      fail_with_reply (task, code, what, reply);
      return;
    }
  s->needs_rset = TRUE;
  if (pending == 0)
    {
      if (can_keep_after_refusal (s))
        keep_connection (s);
      fail_with_reply (task, code, what, reply);
      return;
    }
  s->drain_error = reply_error (s, code, what, reply);
  s->drain_code = reply->code;
  s->drain_left = pending;
  expect_reply (task, s->phase, on_drain_reply);
}

/* --- reading and writing ------------------------------------------------------------------ */

static void read_more (GTask *task);

static void
try_parse (GTask *task)
{
  Session *s = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(RelaySmtpReply) reply = NULL;
  gsize consumed = 0;

  reply = relay_smtp_reply_parse (s->inbuf->data, s->inbuf->len, &consumed, &error);
  if (error != NULL)
    {
      /* Translators: "while %s": a step of the session, e.g. "logging in". */
      g_prefix_error (&error, _("Unexpected data while %s: "), phase_describe (s->phase));
      session_fail (task, g_steal_pointer (&error));
      return;
    }
  if (reply == NULL)
    {
      read_more (task);
      return;
    }
  g_byte_array_remove_range (s->inbuf, 0, consumed);
  s->replies++;
  s->self->last_reply_code = reply->code;
  transcript_reply (s->self, reply);
  s->handler (task, reply);
}

static void
on_read_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Session *s = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);
  if (n <= 0 && s->write_error != NULL)
    {
      /* No (further) reply came after the failed write: that failure is the story. */
      g_clear_error (&error);
      session_fail (task, g_steal_pointer (&s->write_error));
      return;
    }
  if (n < 0)
    {
      session_fail (task, error);
      return;
    }
  if (n == 0)
    {
      session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_CLOSED,
                                       /* Translators: "while %s": a step of the session, e.g. "logging in". */
                                       _("The server closed the connection while %s."),
                                       phase_describe (s->phase)));
      return;
    }
  g_byte_array_append (s->inbuf, s->readbuf, n);
  try_parse (task);
}

static void
read_more (GTask *task)
{
  Session *s = g_task_get_task_data (task);

#ifdef TCP_QUICKACK
  /* Linux turns quick ACKs off again by itself, so ask before every read. A delayed ACK of the
   * server's TLS 1.3 session tickets holds its next reply back by a whole RTT (Postfix with
   * OpenSSL sends them separately and waits for the ACK, Nagle on its side). */
  if (s->connection != NULL)
    g_socket_set_option (g_socket_connection_get_socket (s->connection), IPPROTO_TCP,
                         TCP_QUICKACK, 1, NULL);
#endif
  g_input_stream_read_async (g_io_stream_get_input_stream (s->stream),
                             s->readbuf, sizeof s->readbuf, G_PRIORITY_DEFAULT, s->op,
                             on_read_cb, g_object_ref (task));
}

/* Reads the next reply, from bytes already received (pipelining) or from the network. */
static void
expect_reply (GTask        *task,
              Phase         phase,
              ReplyHandler  handler)
{
  Session *s = g_task_get_task_data (task);
  guint ms = reply_deadline_ms (s, phase);

  if (phase == PHASE_BODY)
    {
      /* The reply to the end of the message (DATA's dot, or BDAT LAST): wait as long as the
       * RFC asks, within a session deadline moved out by as much. */
      ms = MAX (ms, s->self->data_end_timeout_ms);
      extend_session (s, ms);
      phase = PHASE_BODY_END;
    }
  arm_phase (s, phase, ms);
  s->handler = handler;
  try_parse (task);
}

static void write_more (GTask *task);

static void
on_written_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Session *s = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n;

  n = g_output_stream_write_finish (G_OUTPUT_STREAM (object), result, &error);
  if (n > 0 && (s->out_offset += n) < s->outbuf->len)
    {
      /* A large message on a slow link: the deadline counts from the last progress. */
      arm_phase (s, s->phase, reply_deadline_ms (s, s->flight_reply_phase));
      write_more (task);
      return;
    }

  /* The flight may hold credentials: wipe it as soon as it is on the wire. */
  explicit_bzero (s->outbuf->str, s->outbuf->len);
  g_string_truncate (s->outbuf, 0);

  if (n < 0)
    {
      /* A server may refuse a message while it arrives (552 too big, 554, 421) and close at
       * once: the write then fails, but its reply, and those of the commands pipelined
       * before, are in the receive buffer. They say what happened, and whether to retry. */
      if (s->write_error == NULL
          && (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)
              || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)))
        {
          s->write_error = error;
          expect_reply (task, s->flight_reply_phase, s->handler);
          return;
        }
      session_fail (task, error);
      return;
    }
  expect_reply (task, s->flight_reply_phase, s->handler);
}

static void
write_more (GTask *task)
{
  Session *s = g_task_get_task_data (task);

  g_output_stream_write_async (g_io_stream_get_output_stream (s->stream),
                               s->outbuf->str + s->out_offset, s->outbuf->len - s->out_offset,
                               G_PRIORITY_DEFAULT, s->op, on_written_cb, g_object_ref (task));
}

/* Writes a whole flight of commands at once (PIPELINING, and no Nagle delay), then reads one
 * reply for @handler, in @phase. */
static void
send_flight (GTask        *task,
             Phase         phase,
             ReplyHandler  handler)
{
  Session *s = g_task_get_task_data (task);
  /* MAIL, RCPT and BDAT LAST with the message: what takes long to write is the message. */
  Phase writing = phase == PHASE_MAIL && s->bdat ? PHASE_BODY : phase;

  s->flight_reply_phase = phase;
  /* From now the server may get the whole message, before this process hears it was written. */
  if (writing == PHASE_BODY)
    s->self->message_written = TRUE;
  arm_phase (s, writing, reply_deadline_ms (s, phase));
  if (writing == PHASE_BODY)
    extend_session (s, (guint64) s->outbuf->len * 1000 / MIN_TRANSFER_BYTES_PER_S);
  s->handler = handler;
  s->out_offset = 0;
  write_more (task);
}

/* Adds one command to the next flight; @shown replaces it in the transcript (credentials). */
static void
queue_command (Session    *s,
               const char *command,
               const char *shown)
{
  /* The validators keep every line short; this is the last line of defence, never reached. */
  g_assert (strlen (command) + 2 <= (s->phase == PHASE_AUTH ? MAX_AUTH_LINE : MAX_COMMAND_LINE));
  transcript_add (s->self, "C: ", shown ? shown : command);
  g_string_append (s->outbuf, command);
  g_string_append (s->outbuf, "\r\n");
}

static void
send_command (GTask        *task,
              Phase         phase,
              const char   *command,
              const char   *shown,
              ReplyHandler  handler)
{
  Session *s = g_task_get_task_data (task);

  s->phase = phase;
  queue_command (s, command, shown);
  send_flight (task, phase, handler);
}

/* --- QUIT, message transfer --------------------------------------------------------------- */

static void
on_quit_reply (GTask          *task,
               RelaySmtpReply *reply)
{
  session_succeed (task);
}

static void
on_body_reply (GTask          *task,
               RelaySmtpReply *reply)
{
  Session *s = g_task_get_task_data (task);

  if (reply->code / 100 != 2)
    {
      refuse_transaction (task, RELAY_SMTP_ERROR_DATA, _("The server refused the message"),
                          reply, 0);
      return;
    }
  s->final_reply = redact_secrets (s->self, relay_smtp_reply_to_display (reply));
  if (s->keep_open)
    {
      session_succeed (task);
      return;
    }
  s->quitting = TRUE;
  if (s->quit_sent)
    expect_reply (task, PHASE_QUIT, on_quit_reply);
  else
    send_command (task, PHASE_QUIT, "QUIT", NULL, on_quit_reply);
}

static void
on_data_reply (GTask          *task,
               RelaySmtpReply *reply)
{
  Session *s = g_task_get_task_data (task);
  g_autofree char *shown = NULL;
  gsize length;
  const guint8 *data;

  if (reply->code != 354)
    {
      refuse_transaction (task, RELAY_SMTP_ERROR_DATA,
                          _("The server would not accept the message"), reply, 0);
      return;
    }

  data = g_bytes_get_data (s->body, &length);
  /* %lu, not G_GSIZE_FORMAT: xgettext cuts a msgid at a macro */
  shown = g_strdup_printf (_("<message of %lu bytes>"), (gulong) length);
  transcript_add (s->self, "C: ", shown);
  /* One write: the message, its final dot and, with PIPELINING, QUIT (RFC 2920 §3.1 lets QUIT
   * end the group), so the 250 and the 221 come back together. */
  g_string_append_len (s->outbuf, (const char *) data, length);
  if (s->pipelined && !s->keep_open)
    {
      queue_command (s, "QUIT", NULL);
      s->quit_sent = TRUE;
    }
  send_flight (task, PHASE_BODY, on_body_reply);
}

static void send_next_rcpt (GTask *task);

static void
after_recipients (GTask *task)
{
  Session *s = g_task_get_task_data (task);

  if (s->bdat)
    expect_reply (task, PHASE_BODY, on_body_reply);
  else if (s->pipelined)
    expect_reply (task, PHASE_DATA, on_data_reply);
  else
    send_command (task, PHASE_DATA, "DATA", NULL, on_data_reply);
}

/* Which part of the transaction a refusal of RCPT is about. Postfix (smtpd_delay_reject=yes,
 * its default) and others answer MAIL with 250 and give the verdict of their client, HELO
 * and sender restrictions at RCPT instead: reject_sender_login_mismatch,
 * reject_unknown_sender_domain, a client or HELO access map. Postfix's wording of those is
 * fixed in its code; RFC 3463 X.1.7 and X.1.8 are about the sender's address. */
typedef enum
{
  RCPT_BLAMES_RECIPIENT,
  RCPT_BLAMES_SENDER,
  RCPT_BLAMES_CLIENT,
  RCPT_BLAMES_HELO,
} RcptBlame;

static RcptBlame
rcpt_reply_blame (const RelaySmtpReply *reply)
{
  const char *text = reply->lines != NULL && reply->lines[0] != NULL ? reply->lines[0] : "";

  if (reply->enhanced != NULL && strlen (reply->enhanced) == 5
      && g_str_has_prefix (reply->enhanced + 1, ".1.")
      && (reply->enhanced[4] == '7' || reply->enhanced[4] == '8'))
    return RCPT_BLAMES_SENDER;
  if (strstr (text, ": Sender address rejected") != NULL)
    return RCPT_BLAMES_SENDER;
  if (strstr (text, ": Client host rejected") != NULL)
    return RCPT_BLAMES_CLIENT;
  if (strstr (text, ": Helo command rejected") != NULL)
    return RCPT_BLAMES_HELO;
  return RCPT_BLAMES_RECIPIENT;
}

static void
on_rcpt_reply (GTask          *task,
               RelaySmtpReply *reply)
{
  Session *s = g_task_get_task_data (task);
  const char * const *rcpts = relay_smtp_message_get_recipients (s->message);

  if (reply->code / 100 != 2)
    {
      g_autofree char *what = NULL;
      RelaySmtpError code;

      /* Closing without the final dot makes the server drop the transaction. */
      switch (rcpt_reply_blame (reply))
        {
        case RCPT_BLAMES_SENDER:
          code = RELAY_SMTP_ERROR_SENDER;
          what = g_strdup_printf (_("The server refused the sender %s"),
                                  relay_smtp_message_get_sender (s->message));
          break;
        case RCPT_BLAMES_CLIENT:
          code = RELAY_SMTP_ERROR_GREETING;
          what = g_strdup (_("The server refused mail from this computer"));
          break;
        case RCPT_BLAMES_HELO:
          code = RELAY_SMTP_ERROR_EHLO;
          what = g_strdup_printf (_("The server refused the client’s introduction (EHLO %s)"), s->helo);
          break;
        case RCPT_BLAMES_RECIPIENT:
        default:
          code = RELAY_SMTP_ERROR_RECIPIENT;
          what = g_strdup_printf (_("The server refused the recipient %s"), rcpts[s->rcpt_index]);
          break;
        }
      /* Pipelined: the replies to the recipients after this one, and to DATA or BDAT. */
      refuse_transaction (task, code, what, reply,
                          s->pipelined ? g_strv_length ((char **) rcpts) - s->rcpt_index : 0);
      return;
    }
  s->rcpt_index++;
  if (rcpts[s->rcpt_index] == NULL)
    after_recipients (task);
  else if (s->pipelined)
    expect_reply (task, PHASE_RCPT, on_rcpt_reply);
  else
    send_next_rcpt (task);
}

static void
send_next_rcpt (GTask *task)
{
  Session *s = g_task_get_task_data (task);
  const char * const *rcpts = relay_smtp_message_get_recipients (s->message);
  g_autofree char *command = g_strdup_printf ("RCPT TO:<%s>", rcpts[s->rcpt_index]);

  send_command (task, PHASE_RCPT, command, NULL, on_rcpt_reply);
}

static void
on_mail_reply (GTask          *task,
               RelaySmtpReply *reply)
{
  Session *s = g_task_get_task_data (task);

  if (reply->code / 100 != 2)
    {
      g_autofree char *what = g_strdup_printf (_("The server refused the sender %s"),
                                               relay_smtp_message_get_sender (s->message));
      const char * const *rcpts = relay_smtp_message_get_recipients (s->message);

      /* Pipelined: the replies to every recipient, and to DATA or BDAT. */
      refuse_transaction (task, RELAY_SMTP_ERROR_SENDER, what, reply,
                          s->pipelined ? g_strv_length ((char **) rcpts) + 1 : 0);
      return;
    }
  if (s->pipelined)
    expect_reply (task, PHASE_RCPT, on_rcpt_reply);
  else
    send_next_rcpt (task);
}

/* The message for BDAT: line ends made CRLF as relay_smtp_dot_stuff() does, but no dot
 * stuffing and no final dot; it ends with a CRLF. */
static GBytes *
crlf_normalize (const guint8 *data,
                gsize         length)
{
  GString *out = g_string_sized_new (length + length / 64 + 2);
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
      g_string_append_c (out, c);
      line_start = FALSE;
    }
  if (!line_start)
    g_string_append (out, "\r\n");
  return g_string_free_to_bytes (out);
}

/* RSET on a session kept after a refused transaction: pipelined before MAIL, or alone. */
static void
on_rset_reply (GTask          *task,
               RelaySmtpReply *reply)
{
  Session *s = g_task_get_task_data (task);

  if (reply->code / 100 != 2)
    {
      /* Nothing of this message was taken: a new connection may send it (see session_fail()). */
      s->rset_failed = TRUE;
      fail_with_reply (task, RELAY_SMTP_ERROR_CLOSED, _("The server would not reset the session"),
                       reply);
      return;
    }
  s->rset_first = FALSE;
  if (s->rset_alone)
    start_mail (task);
  else
    expect_reply (task, PHASE_MAIL, on_mail_reply);
}

static void
start_mail (GTask *task)
{
  Session *s = g_task_get_task_data (task);
  RelaySmtpMessage *message = s->message;
  GBytes *data = relay_smtp_message_get_data (message);
  g_autoptr(GBytes) seven_bit = NULL;
  g_autoptr(GString) mail = g_string_new (NULL);
  const char * const *rcpts;
  gboolean chunked;
  gsize length;

  set_step (s->self, RELAY_SMTP_STEP_SENDING);
  s->phase = PHASE_MAIL;
  s->pipelined = s->caps.pipelining;
  rcpts = relay_smtp_message_get_recipients (message);
  /* RFC 3030 BDAT saves the round trip of the 354 when it can be pipelined. Only with a single
   * recipient: a refused recipient then leaves the server none, so it must refuse the BDAT and
   * nothing is delivered, just as the DATA path never sends a message after a refused RCPT. */
  chunked = s->caps.chunking && s->caps.pipelining && rcpts[0] != NULL && rcpts[1] == NULL;
  /* The RSET goes alone without PIPELINING, and when the flight would carry the message
   * (BDAT): a refused RSET makes the send stale, to go again on a new connection, which must
   * not be after the server took this very message from the rest of the flight. */
  s->rset_alone = s->rset_first && (!s->pipelined || chunked);
  if (s->rset_alone)
    {
      send_command (task, PHASE_MAIL, "RSET", NULL, on_rset_reply);
      return;
    }
  s->bdat = chunked;
  if (relay_smtp_message_is_8bit (message) && !s->caps.eightbitmime)
    {
      g_autoptr(GError) why = NULL;

      if (!(seven_bit = relay_smtp_message_dup_7bit (message, &why)))
        {
          /* TRANSLATORS: the last %s is one sentence that says why, e.g. "Its header has
           * 8-bit characters." */
          session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DATA,
                                           _("The message has 8-bit content but the server %s does not accept it (no 8BITMIME), and it cannot be re-encoded: %s Nothing was sent."),
                                           s->host, why->message));
          return;
        }
      transcript_add (s->self, "", _("The server does not accept 8-bit content (no 8BITMIME): the message is sent re-encoded as quoted-printable."));
      data = seven_bit;
    }
  if (s->bdat)
    s->body = crlf_normalize (g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  else
    s->body = relay_smtp_dot_stuff (g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  length = g_bytes_get_size (s->body);

  g_string_printf (mail, "MAIL FROM:<%s>", relay_smtp_message_get_sender (message));
  if (relay_smtp_message_is_8bit (message) && seven_bit == NULL)
    g_string_append (mail, " BODY=8BITMIME");
  if (s->caps.size)
    {
      if (s->caps.size_limit > 0 && length > s->caps.size_limit)
        {
          session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_DATA,
                                           _("The message is %lu bytes but the server %s accepts at most %lu; nothing was sent."),
                                           (gulong) length, s->host, (gulong) s->caps.size_limit));
          return;
        }
      g_string_append_printf (mail, " SIZE=%" G_GSIZE_FORMAT, length);
    }

  s->rcpt_index = 0;
  /* RFC 2920 §3.1: RSET may begin a group */
  if (s->rset_first)
    queue_command (s, "RSET", NULL);
  queue_command (s, mail->str, NULL);
  if (s->pipelined)
    {
      /* RFC 2920: MAIL, every RCPT and DATA in one flight; the replies come back in order. */
      for (const char * const *r = relay_smtp_message_get_recipients (message); *r; r++)
        {
          g_autofree char *rcpt = g_strdup_printf ("RCPT TO:<%s>", *r);

          queue_command (s, rcpt, NULL);
        }
      if (s->bdat)
        {
          g_autofree char *bdat = g_strdup_printf ("BDAT %" G_GSIZE_FORMAT " LAST", length);
          g_autofree char *shown = g_strdup_printf (_("<message of %lu bytes>"), (gulong) length);

          /* RFC 3030 §4.2: BDAT may be pipelined, and QUIT may follow it in the same group. */
          queue_command (s, bdat, NULL);
          transcript_add (s->self, "C: ", shown);
          g_string_append_len (s->outbuf, g_bytes_get_data (s->body, NULL), length);
          if (!s->keep_open)
            {
              queue_command (s, "QUIT", NULL);
              s->quit_sent = TRUE;
            }
        }
      else
        queue_command (s, "DATA", NULL);
    }
  send_flight (task, PHASE_MAIL, s->rset_first ? on_rset_reply : on_mail_reply);
}

/* --- AUTH (RFC 4954) ---------------------------------------------------------------------- */

static char *
base64_of (const char *text,
           gsize       length)
{
  return g_base64_encode ((const guchar *) text, length);
}

static void on_auth_reply (GTask *task, RelaySmtpReply *reply);

static void
send_auth_response (GTask          *task,
                    RelaySmtpReply *challenge)
{
  Session *s = g_task_get_task_data (task);
  g_autofree char *response = NULL;

  if (s->mech == RELAY_SMTP_AUTH_LOGIN)
    {
      const char *value = s->auth_round == 1 ? s->username : s->password;

      response = base64_of (value, strlen (value));
    }
  else /* CRAM-MD5, RFC 2195 */
    {
      gsize length = 0;
      g_autofree guchar *nonce = g_base64_decode (challenge->lines[0], &length);
      g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_MD5, (const guchar *) s->password,
                                          strlen (s->password));
      g_autofree char *plain = NULL;

      g_hmac_update (hmac, nonce, length);
      plain = g_strdup_printf ("%s %s", s->username, g_hmac_get_string (hmac));
      response = base64_of (plain, strlen (plain));
      explicit_bzero (plain, strlen (plain));
    }
  send_command (task, PHASE_AUTH, response, "<redacted>", on_auth_reply);
  explicit_bzero (response, strlen (response));
}

static void
on_auth_reply (GTask          *task,
               RelaySmtpReply *reply)
{
  Session *s = g_task_get_task_data (task);
  guint max_rounds = s->mech == RELAY_SMTP_AUTH_LOGIN ? 2 : s->mech == RELAY_SMTP_AUTH_CRAM_MD5 ? 1 : 0;

  if (reply->code == 235)
    {
      start_mail (task);
      return;
    }
  if (reply->code == 334)
    {
      if (s->auth_round >= MIN (max_rounds, MAX_AUTH_ROUNDS))
        {
          fail_with_reply (task, RELAY_SMTP_ERROR_AUTH,
                           _("The server asked for more login steps than the method has"), reply);
          return;
        }
      s->auth_round++;
      send_auth_response (task, reply);
      return;
    }

  switch (reply->code)
    {
    case 535:
      fail_with_reply (task, RELAY_SMTP_ERROR_AUTH,
                       _("The server rejected the user name or password"), reply);
      break;
    case 534:
      fail_with_reply (task, RELAY_SMTP_ERROR_AUTH,
                       _("The server wants a stronger login method, an app password or a web login first"),
                       reply);
      break;
    case 538:
      fail_with_reply (task, RELAY_SMTP_ERROR_AUTH,
                       _("The server requires encryption for this login method"), reply);
      break;
    case 454:
      fail_with_reply (task, RELAY_SMTP_ERROR_AUTH,
                       _("The server could not check the login now (temporary failure); try again later"),
                       reply);
      break;
    default:
      fail_with_reply (task, RELAY_SMTP_ERROR_AUTH, _("Login failed"), reply);
      break;
    }
}

static gboolean has_line_break (const char *s);
static void start_auth (GTask *task);

static gboolean
on_wait_cancelled_idle_cb (gpointer user_data)
{
  RelaySmtpClient *self = user_data;
  g_autoptr(GTask) task = g_steal_pointer (&self->auth_waiting);
  Session *s;

  if (task == NULL)
    return G_SOURCE_REMOVE;  /* the password came first */
  s = g_task_get_task_data (task);
  if (!g_cancellable_is_cancelled (s->op))
    {
      /* A later send waits now: this cancellation was not about it. */
      self->auth_waiting = g_steal_pointer (&task);
      return G_SOURCE_REMOVE;
    }
  g_cancellable_disconnect (s->op, s->wait_handler);
  s->wait_handler = 0;
  session_fail (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                           _("Operation was cancelled")));
  return G_SOURCE_REMOVE;
}

/* Runs inside the "cancelled" emission, maybe in g_cancellable_connect() itself: go on later. */
static void
on_wait_cancelled_cb (GCancellable *op,
                      gpointer      user_data)
{
  g_idle_add_full (G_PRIORITY_DEFAULT, on_wait_cancelled_idle_cb,
                   g_object_ref (user_data), g_object_unref);
}

/* The password arrived while a send waited for it at AUTH. */
static void
resume_auth (RelaySmtpClient *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->auth_waiting);
  Session *s;

  if (task == NULL)
    return;
  s = g_task_get_task_data (task);
  g_cancellable_disconnect (s->op, s->wait_handler);
  s->wait_handler = 0;
  start_auth (task);
}

static void
start_auth (GTask *task)
{
  Session *s = g_task_get_task_data (task);

  set_step (s->self, RELAY_SMTP_STEP_AUTHENTICATING);
  s->auth_round = 0;

  if (!s->caps.auth || s->caps.auth_mechs == 0)
    {
      if (s->caps.auth)
        session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_AUTH_UNAVAILABLE,
                                         _("The server %s offers only login methods this application does not support (%s)."),
                                         s->host, s->caps.auth_offered));
      else
        session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_AUTH_UNAVAILABLE,
                                         _("The server %s does not offer login (AUTH) on this connection."),
                                         s->host));
      return;
    }

  if (s->self->password_pending)
    {
      /* The keyring is still being read: the connection waits here, at the first moment the
       * password is needed. relay_smtp_client_set_password() or a cancellation goes on. */
      RelaySmtpClient *self = s->self;

      transcript_add (self, "", _("waiting for the password"));
      arm_phase (s, PHASE_AUTH, self->reply_timeout_ms);
      self->auth_waiting = g_object_ref (task);
      s->wait_handler = g_cancellable_connect (s->op, G_CALLBACK (on_wait_cancelled_cb),
                                               g_object_ref (self), g_object_unref);
      return;
    }
  if (s->password == NULL)
    {
      /* The password came late (relay_smtp_client_set_password_pending()): the checks made
       * before connecting on one given up front. */
      if (has_control (s->self->password))
        {
          session_fail (task, g_error_new_literal (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                                                   _("The password contains a control character, which cannot be sent to an SMTP server.")));
          return;
        }
      if (s->self->password != NULL && strlen (s->self->password) > MAX_PASSWORD_LENGTH)
        {
          session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                                           _("The user name may have at most %u bytes and the password at most %u."),
                                           MAX_USERNAME_LENGTH, MAX_PASSWORD_LENGTH));
          return;
        }
      s->password = g_strdup (s->self->password ? s->self->password : "");
      s->secrets = collect_secrets (s->username, s->password);
      s->self->secrets = s->secrets;
    }

  /* Strongest first: CRAM-MD5 never sends the password itself. */
  if (s->caps.auth_mechs & RELAY_SMTP_AUTH_CRAM_MD5)
    {
      s->mech = RELAY_SMTP_AUTH_CRAM_MD5;
      send_command (task, PHASE_AUTH, "AUTH CRAM-MD5", NULL, on_auth_reply);
    }
  else if (s->caps.auth_mechs & RELAY_SMTP_AUTH_PLAIN)
    {
      gsize ulen = strlen (s->username);
      gsize plen = strlen (s->password);
      g_autofree char *token = g_malloc (ulen + plen + 2);
      g_autofree char *b64 = NULL;
      g_autofree char *command = NULL;

      /* authzid (empty) NUL authcid NUL passwd, sent as the initial response */
      token[0] = '\0';
      memcpy (token + 1, s->username, ulen + 1);
      memcpy (token + ulen + 2, s->password, plen);
      b64 = base64_of (token, ulen + plen + 2);
      explicit_bzero (token, ulen + plen + 2);
      command = g_strconcat ("AUTH PLAIN ", b64, NULL);
      explicit_bzero (b64, strlen (b64));
      s->mech = RELAY_SMTP_AUTH_PLAIN;
      send_command (task, PHASE_AUTH, command, "AUTH PLAIN <redacted>", on_auth_reply);
      explicit_bzero (command, strlen (command));
    }
  else
    {
      s->mech = RELAY_SMTP_AUTH_LOGIN;
      send_command (task, PHASE_AUTH, "AUTH LOGIN", NULL, on_auth_reply);
    }
}

/* --- EHLO, STARTTLS ----------------------------------------------------------------------- */

static void
after_capabilities (GTask *task)
{
  Session *s = g_task_get_task_data (task);

  if (s->security == RELAY_SECURITY_STARTTLS && s->tls == NULL)
    {
      start_tls (task);
      return;
    }
  if (s->authenticate)
    start_auth (task);
  else
    start_mail (task);
}

static void
on_helo_reply (GTask          *task,
               RelaySmtpReply *reply)
{
  Session *s = g_task_get_task_data (task);

  if (reply->code != 250)
    {
      fail_with_reply (task, RELAY_SMTP_ERROR_EHLO,
                       _("The server refused the client’s introduction (EHLO and HELO)"), reply);
      return;
    }
  /* HELO means no extensions at all, hence no STARTTLS and no AUTH. */
  relay_smtp_capabilities_clear (&s->caps);
  if (s->security == RELAY_SECURITY_STARTTLS && s->tls == NULL)
    {
      session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_STARTTLS_UNAVAILABLE,
                                       _("The server %s does not support encryption (STARTTLS), which this account requires; nothing was sent."),
                                       s->host));
      return;
    }
  after_capabilities (task);
}

static void
on_ehlo_reply (GTask          *task,
               RelaySmtpReply *reply)
{
  Session *s = g_task_get_task_data (task);

  if (reply->code == 250)
    {
      relay_smtp_capabilities_parse (reply, &s->caps);
      if (s->security == RELAY_SECURITY_STARTTLS && s->tls == NULL && !s->caps.starttls)
        {
          session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_STARTTLS_UNAVAILABLE,
                                           _("The server %s does not offer encryption (STARTTLS), which this account requires; nothing was sent."),
                                           s->host));
          return;
        }
      after_capabilities (task);
      return;
    }
  if (reply->code / 100 == 5 && reply->code != 554 && !s->tried_helo)
    {
      /* RFC 5321 §3.2: a server that does not know EHLO answers 5xx; fall back to HELO. */
      g_autofree char *command = g_strconcat ("HELO ", s->helo, NULL);

      s->tried_helo = TRUE;
      send_command (task, PHASE_EHLO, command, NULL, on_helo_reply);
      return;
    }
  fail_with_reply (task, RELAY_SMTP_ERROR_EHLO,
                   _("The server refused the client’s introduction (EHLO)"), reply);
}

static void
send_ehlo (GTask *task)
{
  Session *s = g_task_get_task_data (task);
  g_autofree char *command = g_strconcat ("EHLO ", s->helo, NULL);

  /* RFC 3207 §4.2: what the server said before TLS may have been forged. */
  relay_smtp_capabilities_clear (&s->caps);
  s->tried_helo = FALSE;
  set_step (s->self, RELAY_SMTP_STEP_GREETING);
  send_command (task, PHASE_EHLO, command, NULL, on_ehlo_reply);
}

static void
on_greeting (GTask          *task,
             RelaySmtpReply *reply)
{
  if (reply->code != 220)
    {
      fail_with_reply (task, RELAY_SMTP_ERROR_GREETING, _("The server refused the session"), reply);
      return;
    }
  send_ehlo (task);
}

static void
expect_greeting (GTask *task)
{
  Session *s = g_task_get_task_data (task);

  set_step (s->self, RELAY_SMTP_STEP_GREETING);
  expect_reply (task, PHASE_GREETING, on_greeting);
}

/* --- TLS ---------------------------------------------------------------------------------- */

static char *
certificate_fingerprint (GTlsCertificate *certificate)
{
  g_autoptr(GByteArray) der = NULL;

  g_object_get (certificate, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
}

/* Each reason is a sentence of its own, joined by spaces: translators never have to fit a
 * fragment into a clause of another sentence. */
static char *
describe_certificate_flags (GTlsCertificateFlags flags,
                            const char          *host)
{
  g_autoptr(GPtrArray) reasons = g_ptr_array_new_with_free_func (g_free);

  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    g_ptr_array_add (reasons, g_strdup (_("It is signed by an unknown issuer.")));
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    g_ptr_array_add (reasons, g_strdup_printf (_("It was issued for a different host name than %s."), host));
  if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    g_ptr_array_add (reasons, g_strdup (_("It is not valid yet.")));
  if (flags & G_TLS_CERTIFICATE_EXPIRED)
    g_ptr_array_add (reasons, g_strdup (_("It has expired.")));
  if (flags & G_TLS_CERTIFICATE_REVOKED)
    g_ptr_array_add (reasons, g_strdup (_("It has been revoked.")));
  if (flags & G_TLS_CERTIFICATE_INSECURE)
    g_ptr_array_add (reasons, g_strdup (_("It uses an insecure algorithm.")));
  if (reasons->len == 0)
    g_ptr_array_add (reasons, g_strdup (_("It could not be verified.")));
  g_ptr_array_add (reasons, NULL);
  return g_strjoinv (" ", (char **) reasons->pdata);
}

/* Records why verification failed, so the UI can explain it and offer to pin; accepts only a
 * certificate whose fingerprint the user pinned before, never "any" certificate. */
static gboolean
on_accept_certificate_cb (GTlsConnection       *tls,
                          GTlsCertificate      *peer,
                          GTlsCertificateFlags  errors,
                          gpointer              user_data)
{
  Session *s = user_data;
  RelaySmtpClient *self = s->self;

  self->certificate_errors = errors;
  g_free (self->peer_fingerprint);
  self->peer_fingerprint = certificate_fingerprint (peer);

  if (s->pinned != NULL && self->peer_fingerprint != NULL
      && g_strcmp0 (s->pinned, self->peer_fingerprint) == 0)
    {
      g_autofree char *why = describe_certificate_flags (errors, s->host);
      /* Translators: %s is one or more sentences saying why verification failed. */
      g_autofree char *line = g_strdup_printf (_("certificate accepted by its pinned fingerprint, although verification failed: %s"), why);

      transcript_add (self, "TLS: ", line);
      return TRUE;
    }
  return FALSE;
}

/* What a handshake error means, for people; %NULL when the TLS library's text is all there is.
 * Implicit TLS to a server that greets in plain text (TLS chosen for port 587 or 25, the usual
 * mistake) fails with GnuTLS's "unexpected TLS packet", a G_TLS_ERROR_MISC. */
static const char *
describe_tls_error (const GError *error,
                    gboolean      implicit)
{
  if (error->domain != G_TLS_ERROR)
    return NULL;
  switch ((GTlsError) error->code)
    {
    case G_TLS_ERROR_MISC:
      if (!implicit)
        return NULL;
      G_GNUC_FALLTHROUGH;
    case G_TLS_ERROR_NOT_TLS:
      return _("the server did not answer in TLS; on this port it may expect STARTTLS or no encryption");
    case G_TLS_ERROR_EOF:
      return _("the server closed the connection during the TLS handshake");
    case G_TLS_ERROR_HANDSHAKE:
      return _("the server and this computer have no TLS version or cipher in common");
    default:
      return NULL;
    }
}

static void
on_handshake_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Session *s = g_task_get_task_data (task);
  RelaySmtpClient *self = s->self;
  GError *error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (object), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        session_fail (task, error);
      else if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE)
               || self->certificate_errors != 0)
        {
          g_autofree char *why = describe_certificate_flags (self->certificate_errors, s->host);

          g_error_free (error);
          /* Translators: the first %s is the server, the second one or more sentences saying
           * why, the third a fingerprint. */
          if (s->pinned != NULL)
            error = g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_CERTIFICATE,
                                 _("The certificate of %s is not trusted. %s It does not match the pinned certificate either; its SHA-256 fingerprint is %s."),
                                 s->host, why, self->peer_fingerprint ? self->peer_fingerprint : "?");
          else
            error = g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_CERTIFICATE,
                                 _("The certificate of %s is not trusted. %s Its SHA-256 fingerprint is %s."),
                                 s->host, why, self->peer_fingerprint ? self->peer_fingerprint : "?");
          session_fail (task, error);
        }
      else
        {
          g_autofree char *detail = relay_smtp_sanitize_text (error->message, -1);
          const char *why = describe_tls_error (error, s->security == RELAY_SECURITY_TLS);

          g_error_free (error);
          /* The TLS library's own words go to the transcript; the message says it in ours,
           * translated, when we know what the error means. */
          transcript_add (self, "TLS: ", detail);
          session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_TLS,
                                           _("Encryption (TLS) with %s port %u failed: %s"),
                                           s->host, s->port, why != NULL ? why : detail));
        }
      return;
    }

  {
    GTlsCertificate *peer = g_tls_connection_get_peer_certificate (s->tls);
    g_autofree char *cipher = g_tls_connection_get_ciphersuite_name (s->tls);
    const char *version = "TLS";
    g_autofree char *line = NULL;

    switch (g_tls_connection_get_protocol_version (s->tls))
      {
      case G_TLS_PROTOCOL_VERSION_TLS_1_2:
        version = "TLS 1.2";
        break;
      case G_TLS_PROTOCOL_VERSION_TLS_1_3:
        version = "TLS 1.3";
        break;
      default:
        break;
      }
    if (peer != NULL && self->peer_fingerprint == NULL)
      self->peer_fingerprint = certificate_fingerprint (peer);
    line = g_strdup_printf (_("handshake done: %s, %s, certificate SHA-256 %s"), version,
                            cipher ? cipher : "?",
                            self->peer_fingerprint ? self->peer_fingerprint : "?");
    transcript_add (self, "TLS: ", line);
  }

  s->stream = G_IO_STREAM (s->tls);
  if (s->security == RELAY_SECURITY_TLS)
    expect_greeting (task);
  else
    send_ehlo (task);
}

/* --- background TLS work, which must end before the process does -------------------------- */

/* exit() runs every library's destructors while other threads still run. A TLS warm-up or
 * connection set-up that is still inside dlopen() or GnuTLS then crashes the process: with
 * the 554 greeting of a local server, about one `smtp-relay test` in 1 500 aborted with
 * GObject's constructor run a second time. Both kinds are counted, and
 * relay_smtp_client_shutdown() waits for them; the connection set-ups run in GTask's pool.
 * It runs from atexit(), which comes before the destructors, so that every program that sends
 * (the command line, the window, the tests) is covered without having to remember it. */
static GMutex background_lock;
static GCond background_cond;
static guint background_count;
static GThread *warm_thread;

static void
background_begin (void)
{
  static gsize registered = 0;

  if (g_once_init_enter (&registered))
    {
      atexit (relay_smtp_client_shutdown);
      g_once_init_leave (&registered, 1);
    }
  g_mutex_lock (&background_lock);
  background_count++;
  g_mutex_unlock (&background_lock);
}

static void
background_end (void)
{
  g_mutex_lock (&background_lock);
  if (--background_count == 0)
    g_cond_broadcast (&background_cond);
  g_mutex_unlock (&background_lock);
}

/**
 * relay_smtp_client_shutdown:
 *
 * Waits until no TLS warm-up or TLS connection set-up runs in a background thread any more:
 * local CPU work, some tens of milliseconds (seconds under a sanitizer or valgrind). Runs by
 * itself at exit() once such work has started; calling it earlier does no harm.
 */
void
relay_smtp_client_shutdown (void)
{
  /* The work is local and finite; the deadline only keeps a cron job from hanging forever on
   * something unforeseen (a PKCS#11 trust module that blocks, say). */
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  GThread *thread = NULL;

  g_mutex_lock (&background_lock);
  while (background_count > 0)
    if (!g_cond_wait_until (&background_cond, &background_lock, deadline))
      break;
  if (background_count == 0)
    thread = g_steal_pointer (&warm_thread);
  g_mutex_unlock (&background_lock);
  /* Past its work, the warm-up thread only has to return. */
  if (thread != NULL)
    g_thread_join (thread);
}

/* --- the TLS client connection, made while TCP connects ------------------------------------ */

/* Making a GTlsClientConnection costs 10-15 ms of CPU even with the backend warm (GnuTLS
 * credentials with the system trust, per connection). A worker makes one for each connection
 * attempt, so that it is ready when the TCP handshake is done instead of delaying the
 * ClientHello (implicit TLS) and stalling the main loop; per attempt, because with Happy
 * Eyeballs on a slow link an earlier attempt may win after a later one started. It is inert
 * until handshake(): with STARTTLS nothing goes through it before the server's 220. */
static void
prep_tls_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  Prep *prep = task_data;  /* only its connection and identity, which never change */
  GError *error = NULL;
  GIOStream *tls = g_tls_client_connection_new (G_IO_STREAM (prep->connection), prep->identity,
                                                &error);

  if (tls == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, tls, g_object_unref);
  background_end ();
}

static void handshake (GTask *task);

static void
on_prep_done_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Prep *prep = g_task_get_task_data (G_TASK (result));
  g_autoptr(GTask) task = g_weak_ref_get (&prep->task);
  Session *s;

  prep->pending = FALSE;
  /* On failure handshake() makes it again, and reports why. */
  prep->tls = g_task_propagate_pointer (G_TASK (result), NULL);
  if (task == NULL)
    return;  /* the send is over */
  s = g_task_get_task_data (task);
  if (s->prep == prep && s->handshake_waiting)
    {
      /* The hold kept the send alive while it waited; it may end inside handshake(). */
      GTask *held = g_steal_pointer (&s->hold);

      s->handshake_waiting = FALSE;
      handshake (task);
      g_clear_object (&held);
    }
}

static void
on_socket_client_event_cb (GSocketClient      *client,
                           GSocketClientEvent  event,
                           GSocketConnectable *connectable,
                           GIOStream          *connection,
                           gpointer            user_data)
{
  Attempt *attempt = user_data;
  Session *s = g_task_get_task_data (attempt->task);
  g_autoptr(GTask) worker = NULL;
  Prep *prep;

  if (event != G_SOCKET_CLIENT_CONNECTING || s->security == RELAY_SECURITY_NONE
      || !G_IS_SOCKET_CONNECTION (connection))
    return;

  /* The streams are made here, on this thread: the worker then only reads the pointers. */
  g_io_stream_get_input_stream (connection);
  g_io_stream_get_output_stream (connection);

  prep = g_rc_box_new0 (Prep);
  prep->connection = g_object_ref (G_SOCKET_CONNECTION (connection));
  /* The configured name, normalised, is the identity: never what the server claims. */
  prep->identity = g_network_address_new (s->host, s->port);
  /* A weak reference: a send that ends meanwhile must not wait for the worker to be freed. */
  g_weak_ref_init (&prep->task, s->task);
  prep->pending = TRUE;
  g_clear_pointer (&attempt->prep, prep_release);
  attempt->prep = prep;

  worker = g_task_new (NULL, NULL, on_prep_done_cb, NULL);
  g_task_set_source_tag (worker, on_socket_client_event_cb);
  g_task_set_task_data (worker, g_rc_box_acquire (prep), (GDestroyNotify) prep_release);
  background_begin ();
  g_task_run_in_thread (worker, prep_tls_thread);
}

static void
handshake (GTask *task)
{
  Session *s = g_task_get_task_data (task);
  RelaySmtpClient *self = s->self;
  g_autoptr(GSocketConnectable) identity = NULL;
  GIOStream *tls = NULL;
  GError *error = NULL;

  set_step (self, RELAY_SMTP_STEP_SECURING);
  s->phase = PHASE_TLS;

  if (s->prep != NULL && s->prep->connection == s->connection)
    {
      if (s->prep->pending)
        {
          s->handshake_waiting = TRUE;  /* on_prep_done_cb() comes back here */
          s->hold = g_object_ref (task);
          return;
        }
      tls = g_steal_pointer (&s->prep->tls);
    }
  if (tls == NULL)
    {
      /* The configured name, normalised, is the identity: never what the server claims. */
      identity = g_network_address_new (s->host, s->port);
      tls = g_tls_client_connection_new (G_IO_STREAM (s->connection), identity, &error);
    }
  /* The first TLS connection of the process loads the system's trust store, synchronously:
   * that local work is not the server's time (about 2 s under AddressSanitizer). */
  arm_phase (s, PHASE_TLS, self->reply_timeout_ms);
  if (tls == NULL)
    {
      g_autofree char *detail = relay_smtp_sanitize_text (error->message, -1);

      g_error_free (error);
      session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_TLS,
                                       _("Encryption (TLS) is not available: %s"), detail));
      return;
    }
  s->tls = G_TLS_CONNECTION (tls);
  if (self->tls_database != NULL)
    g_tls_connection_set_database (s->tls, self->tls_database);
  g_signal_connect (s->tls, "accept-certificate", G_CALLBACK (on_accept_certificate_cb), s);
  transcript_add (self, "TLS: ", _("starting handshake"));
  g_tls_connection_handshake_async (s->tls, G_PRIORITY_DEFAULT, s->op, on_handshake_cb,
                                    g_object_ref (task));
}

static void
on_starttls_reply (GTask          *task,
                   RelaySmtpReply *reply)
{
  Session *s = g_task_get_task_data (task);

  if (reply->code != 220)
    {
      fail_with_reply (task, RELAY_SMTP_ERROR_STARTTLS,
                       _("The server refused to start encryption (STARTTLS)"), reply);
      return;
    }
  /* CVE-2021-22947: bytes after the 220 were injected before encryption; acting on them
   * would let a man in the middle answer for the server. Besides what the reader already
   * holds, look at what the kernel has queued: those bytes would reach the TLS handshake. */
  if (s->inbuf->len > 0
      || g_socket_get_available_bytes (g_socket_connection_get_socket (s->connection)) > 0)
    {
      session_fail (task, g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PROTOCOL,
                                       _("The server %s sent unexpected data right after agreeing to STARTTLS, which is a sign of tampering; the connection was closed."),
                                       s->host));
      return;
    }
  handshake (task);
}

static void
start_tls (GTask *task)
{
  Session *s = g_task_get_task_data (task);

  set_step (s->self, RELAY_SMTP_STEP_SECURING);
  send_command (task, PHASE_STARTTLS, "STARTTLS", NULL, on_starttls_reply);
}

/* --- connecting --------------------------------------------------------------------------- */

/* How much a connect error tells the user; the most telling one of all addresses is shown.
 * "Network unreachable" tells least: it is what every IPv6 address of a dual-stack server
 * gives on an IPv4-only network, at once, whatever became of the IPv4 attempt. */
static int
connect_error_rank (const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    return 6;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    return 5;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE))
    return 4;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return 3;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE))
    return 1;
  return 2;
}

static char *
default_helo_name (GSocketConnection *connection)
{
  g_autofree char *host = g_ascii_strdown (g_get_host_name (), -1);
  g_autoptr(GSocketAddress) local = NULL;

  /* Only a fully qualified LDH name may follow EHLO (RFC 5321 §4.1.4); anything else could even
   * carry a line break (nodemailer's EHLO advisory). */
  if (strchr (host, '.') != NULL && relay_hostname_is_ldh_name (host))
    return g_steal_pointer (&host);

  local = g_socket_connection_get_local_address (connection, NULL);
  if (G_IS_INET_SOCKET_ADDRESS (local))
    {
      GInetAddress *address = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local));
      g_autofree char *text = g_inet_address_to_string (address);

      if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
        return g_strdup_printf ("[IPv6:%s]", text);
      return g_strdup_printf ("[%s]", text);
    }
  return g_strdup ("[127.0.0.1]");
}

/* RFC 8305 §5: when an address has not connected after this long, the next one is tried
 * too, so that a black-holed address (often a broken IPv6 path) costs a quarter of a second
 * instead of the whole connect deadline. */
#define ATTEMPT_DELAY_MS 250

static void
attempt_free (Attempt *a)
{
  Session *s = g_task_get_task_data (a->task);

  clear_source (&a->timer);
  /* Only reached from an attempt's own callback, never inside the op's "cancelled" emission,
   * where disconnecting would deadlock. */
  g_cancellable_disconnect (s->op, a->op_handler);
  g_signal_handlers_disconnect_by_data (a->client, a);
  g_object_unref (a->client);
  g_object_unref (a->cancellable);
  g_free (a->address);
  g_clear_pointer (&a->prep, prep_release);
  g_object_unref (a->task);
  g_free (a);
}

static void start_attempt (GTask *task);

static void
on_attempt_cancelled_cb (GCancellable *op,
                         gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static gboolean
on_attempt_timeout_cb (gpointer user_data)
{
  Attempt *a = user_data;

  a->timed_out = TRUE;
  g_cancellable_cancel (a->cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stagger_timeout_cb (gpointer user_data)
{
  Session *s = user_data;
  g_autofree char *next = g_inet_address_to_string (s->next_address->data);
  g_autofree char *line = NULL;
  Attempt *last = g_ptr_array_index (s->attempts, s->attempts->len - 1);

  g_clear_pointer (&s->stagger_timer, g_source_unref);
  line = g_strdup_printf (_("no answer from %s port %u yet; trying %s as well"),
                          last->address, s->port, next);
  transcript_add (s->self, "", line);
  start_attempt (s->task);
  return G_SOURCE_REMOVE;
}

/* Ends the connecting step with the most telling of the attempts' errors. */
static void
fail_connecting (GTask *task)
{
  Session *s = g_task_get_task_data (task);
  GError *error;

  s->connect_settled = TRUE;
  if (s->connect_error != NULL)
    error = relay_smtp_error_new_network (s->connect_error, s->host,
                                          s->connect_error_address, s->port);
  else
    error = g_error_new (RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_RESOLVE,
                         _("The server name “%s” cannot be resolved: it has no address."), s->host);
  session_fail (task, error);
}

static void
on_connected_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Attempt *a = user_data;
  g_autoptr(GTask) task = g_object_ref (a->task);
  Session *s = g_task_get_task_data (task);
  RelaySmtpClient *self = s->self;
  g_autofree char *address = g_strdup (a->address);
  gboolean timed_out = a->timed_out;
  GError *error = NULL;
  GSocketConnection *connection;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (object), result, &error);
  if (connection != NULL && !s->connect_settled)
    s->prep = g_steal_pointer (&a->prep);
  g_ptr_array_remove (s->attempts, a);

  if (s->connect_settled)
    {
      /* Another attempt connected first (this one was cancelled, or won a close race), or
       * the send is already over. */
      if (connection != NULL)
        g_socket_close (g_socket_connection_get_socket (connection), NULL);
      g_clear_object (&connection);
      g_clear_error (&error);
      return;
    }

  if (connection == NULL)
    {
      g_autofree char *line = NULL;

      if (g_cancellable_is_cancelled (s->op))
        {
          s->connect_settled = TRUE;
          session_fail (task, error);
          return;
        }
      if (timed_out)
        {
          g_clear_error (&error);
          error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "connect deadline");
        }
      line = g_strdup_printf (_("connecting to %s port %u failed: %s"),
                              address, s->port, error->message);
      transcript_add (self, "", line);
      if (connect_error_rank (error) > s->connect_error_rank)
        {
          s->connect_error_rank = connect_error_rank (error);
          g_clear_error (&s->connect_error);
          s->connect_error = g_steal_pointer (&error);
          g_free (s->connect_error_address);
          s->connect_error_address = g_strdup (address);
        }
      g_clear_error (&error);
      /* A failed address hands over at once, without waiting for the attempt delay. */
      if (s->next_address != NULL)
        start_attempt (task);
      else if (s->attempts->len == 0)
        fail_connecting (task);
      return;
    }

  /* The first to connect wins; the others are abandoned. */
  s->connect_settled = TRUE;
  clear_source (&s->stagger_timer);
  for (guint i = 0; i < s->attempts->len; i++)
    g_cancellable_cancel (((Attempt *) g_ptr_array_index (s->attempts, i))->cancellable);

  s->connection = connection;
  s->stream = G_IO_STREAM (connection);
  s->current_address = g_steal_pointer (&address);
  {
    g_autofree char *line = g_strdup_printf (_("connected to %s port %u"), s->current_address, s->port);

    transcript_add (self, "", line);
  }
#ifdef TCP_NODELAY
  /* Each flight is one write already; Nagle would only delay it waiting for an ACK. */
  g_socket_set_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY,
                       1, NULL);
#endif
  if (s->helo == NULL)
    s->helo = default_helo_name (connection);

  if (s->security == RELAY_SECURITY_TLS)
    handshake (task);  /* RFC 8314: nothing is read or written before TLS */
  else
    expect_greeting (task);
}

static void
start_attempt (GTask *task)
{
  Session *s = g_task_get_task_data (task);
  GInetAddress *address = s->next_address->data;
  g_autoptr(GSocketAddress) socket_address =
    g_object_new (G_TYPE_INET_SOCKET_ADDRESS, "address", address, "port", s->port,
                  "scope-id", s->scope_id, NULL);
  Attempt *a = g_new0 (Attempt, 1);

  s->next_address = s->next_address->next;
  a->task = g_object_ref (task);
  a->address = g_inet_address_to_string (address);
  a->client = g_socket_client_new ();
  /* Per-address attempts give a truthful per-address error (network-facts §5), and a proxy
   * would hide which rule blocked what. */
  g_socket_client_set_enable_proxy (a->client, FALSE);
  g_signal_connect (a->client, "event", G_CALLBACK (on_socket_client_event_cb), a);
  a->cancellable = g_cancellable_new ();
  a->op_handler = g_cancellable_connect (s->op, G_CALLBACK (on_attempt_cancelled_cb),
                                         a->cancellable, NULL);
  a->timer = add_timer (s->self->connect_timeout_ms, on_attempt_timeout_cb, a);
  g_ptr_array_add (s->attempts, a);

  clear_source (&s->stagger_timer);
  if (s->next_address != NULL)
    s->stagger_timer = add_timer (ATTEMPT_DELAY_MS, on_stagger_timeout_cb, s);
  g_socket_client_connect_async (a->client, G_SOCKET_CONNECTABLE (socket_address),
                                 a->cancellable, on_connected_cb, a);
}

/* RFC 8305 §4: alternate the address families, starting with the resolver's first choice, so
 * that a broken IPv6 (or IPv4) path delays the other family by one attempt delay at most. */
static GList *
interleave_families (GList *addresses)
{
  GQueue first = G_QUEUE_INIT, other = G_QUEUE_INIT;
  GSocketFamily family;
  GList *out = NULL;

  if (addresses == NULL)
    return NULL;
  family = g_inet_address_get_family (addresses->data);
  for (GList *l = addresses; l != NULL; l = l->next)
    g_queue_push_tail (g_inet_address_get_family (l->data) == family ? &first : &other, l->data);
  g_list_free (addresses);
  while (!g_queue_is_empty (&first) || !g_queue_is_empty (&other))
    {
      if (!g_queue_is_empty (&first))
        out = g_list_prepend (out, g_queue_pop_head (&first));
      if (!g_queue_is_empty (&other))
        out = g_list_prepend (out, g_queue_pop_head (&other));
    }
  return g_list_reverse (out);
}

static void
start_connecting (GTask *task)
{
  Session *s = g_task_get_task_data (task);

  clear_source (&s->phase_timer);
  set_step (s->self, RELAY_SMTP_STEP_CONNECTING);
  s->phase = PHASE_CONNECT;
  s->attempts = g_ptr_array_new_with_free_func ((GDestroyNotify) attempt_free);
  s->addresses = interleave_families (s->addresses);
  s->next_address = s->addresses;
  if (s->next_address == NULL)
    fail_connecting (task);
  else
    start_attempt (task);
}

static void
on_resolved_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Session *s = g_task_get_task_data (task);
  GError *error = NULL;
  GList *addresses;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);
  if (addresses == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        session_fail (task, error);
      else
        {
          GError *mapped = relay_smtp_error_new_network (error, s->host, NULL, s->port);

          g_error_free (error);
          session_fail (task, mapped);
        }
      return;
    }
  s->addresses = addresses;
  start_connecting (task);
}

/* --- entry points ------------------------------------------------------------------------- */

static gpointer
ref_object (gconstpointer object,
            gpointer      user_data)
{
  return g_object_ref ((gpointer) object);
}

static gboolean
has_line_break (const char *s)
{
  return s != NULL && strpbrk (s, "\r\n") != NULL;
}

/* Any C0 control or DEL: a TAB or ESC has no business in a command either. */
static gboolean
has_control (const char *s)
{
  for (const guchar *p = (const guchar *) s; s != NULL && *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

static gboolean
is_valid_helo (const char *name)
{
  gsize len = strlen (name);

  if (len > 2 && name[0] == '[' && name[len - 1] == ']')
    {
      g_autofree char *inner = g_strndup (name + 1, len - 2);
      const char *ip = g_ascii_strncasecmp (inner, "IPv6:", 5) == 0 ? inner + 5 : inner;

      return g_hostname_is_ip_address (ip);
    }
  return relay_hostname_is_ldh_name (name);
}

/* Every form in which the password is sent: as is (a server may echo it), base64 for LOGIN,
 * and the base64 PLAIN token. */
static GPtrArray *
collect_secrets (const char *username,
                 const char *password)
{
  GPtrArray *secrets = g_ptr_array_new_with_free_func ((GDestroyNotify) wipe_string);
  gsize ulen = strlen (username);
  gsize plen = strlen (password);
  g_autofree char *token = g_malloc (ulen + plen + 2);

  if (plen == 0)
    return secrets;
  token[0] = '\0';
  memcpy (token + 1, username, ulen + 1);
  memcpy (token + ulen + 2, password, plen);
  add_secret (secrets, g_base64_encode ((const guchar *) token, ulen + plen + 2));
  explicit_bzero (token, ulen + plen + 2);
  add_secret (secrets, g_base64_encode ((const guchar *) password, plen));
  add_secret (secrets, g_strdup (password));
  return secrets;
}

/* Lower case hex without separators, so "AB:CD:…" as browsers show it also matches. */
static char *
normalize_fingerprint (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p; p++)
    {
      if (*p == ':' || *p == ' ')
        continue;
      if (!g_ascii_isxdigit (*p))
        {
          g_string_free (out, TRUE);
          return NULL;
        }
      g_string_append_c (out, g_ascii_tolower (*p));
    }
  if (out->len != 64)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

static gpointer
warm_tls_thread (gpointer data)
{
  gboolean background = GPOINTER_TO_INT (data);
  g_autoptr(GTlsDatabase) database = NULL;

#ifdef __linux__
  /* Per thread on Linux. A window warms up while it may be animating: on a machine with few
   * cores this thread must not take the CPU from the UI thread. It exits when done, so the
   * lower priority ends with it. */
  if (background && setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10) != 0)
    g_debug ("Cannot lower the priority of the TLS warm-up: %s", g_strerror (errno));
#endif
  database = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  g_clear_object (&database);
  background_end ();
  return NULL;
}

/* The first TLS connection of a process loads the TLS backend and parses the system's CA store:
 * about 40 ms of CPU, which would otherwise sit between the server's 220 and our ClientHello
 * and stall the main loop. Do it in a thread of its own while DNS, TCP and the greeting take
 * their time, or before the first send at all (relay_smtp_client_warm_tls()). */
static void
warm_tls_backend (gboolean background)
{
  static gsize warmed = 0;

  if (g_once_init_enter (&warmed))
    {
      g_autoptr(GError) error = NULL;
      GThread *thread;

      background_begin ();
      thread = g_thread_try_new ("relay-tls-warm", warm_tls_thread, GINT_TO_POINTER (background),
                                 &error);
      /* Without the thread, the first handshake loads it itself: slower, not wrong. */
      if (thread == NULL)
        {
          g_debug ("Cannot start the TLS warm-up: %s", error->message);
          background_end ();
        }
      g_mutex_lock (&background_lock);
      warm_thread = thread;   /* joined by relay_smtp_client_shutdown() */
      g_mutex_unlock (&background_lock);
      g_once_init_leave (&warmed, 1);
    }
}

/**
 * relay_smtp_client_warm_tls:
 *
 * Loads the TLS backend and the system's trusted certificates in a low-priority background
 * thread, once per process, so that the first send that uses TLS does not spend that time
 * between the server's greeting and the handshake. A window calls it after its first frame.
 */
void
relay_smtp_client_warm_tls (void)
{
  warm_tls_backend (TRUE);
}

static void
on_caller_cancelled_cb (GCancellable *cancellable,
                        gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Everything that can be checked without the network is checked here, so that a bad value never
 * causes a connection at all. */
static gboolean
prepare_session (RelaySmtpClient  *self,
                 Session          *s,
                 GError          **error)
{
  g_autoptr(GError) local_error = NULL;

  s->host = relay_hostname_normalize (self->host, &s->host_is_ip, &local_error);
  if (s->host == NULL)
    {
      g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                   _("The server name is not valid: %s"), local_error->message);
      return FALSE;
    }
  s->security = self->security;
  s->port = relay_security_effective_port (self->security, self->port);

  if (self->helo_name != NULL && *self->helo_name != '\0')
    {
      if (has_line_break (self->helo_name) || !is_valid_helo (self->helo_name))
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                               _("The client name (HELO) must be a fully qualified host name or an address literal such as [192.0.2.1]."));
          return FALSE;
        }
      s->helo = g_strdup (self->helo_name);
    }

  if (self->pinned_certificate != NULL && *self->pinned_certificate != '\0')
    {
      s->pinned = normalize_fingerprint (self->pinned_certificate);
      if (s->pinned == NULL)
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                               _("The pinned certificate must be a SHA-256 fingerprint of 64 hexadecimal digits."));
          return FALSE;
        }
    }

  s->authenticate = self->username != NULL && *self->username != '\0';
  if (s->authenticate)
    {
      for (const guchar *p = (const guchar *) self->username; *p; p++)
        {
          if (*p < 0x20 || *p == 0x7f)
            {
              g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                                   _("The user name contains a line break or another control character."));
              return FALSE;
            }
        }
      if (!g_utf8_validate (self->username, -1, NULL))
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                               _("The user name is not valid UTF-8 text."));
          return FALSE;
        }
      if (has_line_break (self->password))
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                               _("The password contains a line break, which cannot be sent to an SMTP server."));
          return FALSE;
        }
      if (has_control (self->password))
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                               _("The password contains a control character, which cannot be sent to an SMTP server."));
          return FALSE;
        }
      /* RFC 4954 §4: an AUTH line may have 12288 octets; these caps keep every form of the
       * credentials (PLAIN, LOGIN, CRAM-MD5, all base64) well inside it. */
      if (strlen (self->username) > MAX_USERNAME_LENGTH
          || (self->password != NULL && strlen (self->password) > MAX_PASSWORD_LENGTH))
        {
          g_set_error (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_INVALID_INPUT,
                       _("The user name may have at most %u bytes and the password at most %u."),
                       MAX_USERNAME_LENGTH, MAX_PASSWORD_LENGTH);
          return FALSE;
        }
      if (self->security == RELAY_SECURITY_NONE && !self->allow_plaintext_auth)
        {
          g_set_error_literal (error, RELAY_SMTP_ERROR, RELAY_SMTP_ERROR_PLAINTEXT_AUTH_REFUSED,
                               _("Login refused: the password would be sent unencrypted. Choose STARTTLS or TLS; nothing was sent."));
          return FALSE;
        }
      s->username = g_strdup (self->username);
      /* A password still on its way is checked and collected when it arrives, before AUTH. */
      if (!self->password_pending)
        {
          s->password = g_strdup (self->password ? self->password : "");
          s->secrets = collect_secrets (s->username, s->password);
          self->secrets = s->secrets;
        }
    }
  return TRUE;
}

/**
 * relay_smtp_client_send_async:
 * @self: a #RelaySmtpClient
 * @message: the message to submit
 * @cancellable: (nullable): cancels the whole session
 * @callback: called when the server accepted the message or the session failed
 * @user_data: data for @callback
 *
 * Resolves, connects, secures, logs in and submits @message with the current settings. Only
 * one send runs at a time per client; the transcript and certificate details describe the
 * latest send.
 */
void
relay_smtp_client_send_async (RelaySmtpClient     *self,
                              RelaySmtpMessage    *message,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  Session *s;

  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  g_return_if_fail (message != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, relay_smtp_client_send_async);
  /* A message accepted just before the caller cancelled was still sent: report the truth.
   * Cancellations that did stop the session come back as G_IO_ERROR_CANCELLED anyway. */
  g_task_set_check_cancellable (task, FALSE);

  if (self->busy)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               _("A message is already being sent"));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  s = g_new0 (Session, 1);
  /* A reference of its own: GTask drops its source object before it frees the task data, and
   * session_free() still needs the client. */
  s->self = g_object_ref (self);
  s->message = relay_smtp_message_ref (message);
  s->inbuf = g_byte_array_new ();
  s->outbuf = g_string_new (NULL);
  g_task_set_task_data (task, s, (GDestroyNotify) session_free);
  s->task = task;

  g_string_truncate (self->transcript, 0);
  self->transcript_start = g_get_monotonic_time ();
  self->certificate_errors = 0;
  g_clear_pointer (&self->peer_fingerprint, g_free);
  /* A client kept for a run of messages: the code of the last one's reply says nothing of this
   * send (a relay that closes before its greeting must read as 0, not as the last 250). */
  self->last_reply_code = 0;
  set_step (self, RELAY_SMTP_STEP_IDLE);

  if (!prepare_session (self, s, &error))
    {
      transcript_add (self, _("Error: "), error->message);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  self->busy = TRUE;
  self->message_written = FALSE;
  self->stale_session = FALSE;
  s->keep_open = self->keep_open;
  if (s->security != RELAY_SECURITY_NONE && self->tls_database == NULL && self->idle == NULL)
    warm_tls_backend (FALSE);
  s->op = g_cancellable_new ();
  if (cancellable != NULL)
    {
      s->caller = g_object_ref (cancellable);
      s->caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled_cb),
                                                 g_object_ref (s->op), g_object_unref);
    }
  s->session_timer = add_timer (self->session_timeout_ms, on_session_timeout_cb, s);
  s->session_ms = self->session_timeout_ms;

  if (self->idle != NULL)
    {
      Idle *idle = g_steal_pointer (&self->idle);

      if (g_strcmp0 (idle->host, s->host) == 0 && idle->port == s->port
          && idle->security == s->security && g_strcmp0 (idle->username, s->username) == 0)
        {
          g_autofree char *line = g_strdup_printf (_("Still connected to %s (%s): the message goes on the same session"),
                                                   s->host, idle->address ? idle->address : "?");

          transcript_add (self, "", line);
          adopt_connection (s, idle);
          start_mail (task);
          return;
        }
      idle_free (idle);
    }

  if (s->host_is_ip)
    {
      /* Parsed with its port, so that an IPv6 zone ("fe80::1%eth0") keeps its scope. The
       * normaliser accepted only what parses. */
      g_autoptr(GSocketAddress) literal = g_inet_socket_address_new_from_string (s->host, s->port);
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (literal);

      if (g_socket_address_get_family (literal) == G_SOCKET_FAMILY_IPV6)
        s->scope_id = g_inet_socket_address_get_scope_id (inet);
      s->addresses = g_list_prepend (NULL, g_object_ref (g_inet_socket_address_get_address (inet)));
      start_connecting (task);
      return;
    }
  if (self->known_addresses != NULL && g_strcmp0 (self->known_host, s->host) == 0)
    {
      g_autoptr(GString) list = g_string_new (NULL);
      g_autofree char *line = NULL;

      for (GList *l = self->known_addresses; l != NULL; l = l->next)
        {
          g_autofree char *text = g_inet_address_to_string (l->data);

          g_string_append_printf (list, "%s%s", list->len > 0 ? ", " : "", text);
        }
      line = g_strdup_printf (_("%s was looked up just before: %s"), s->host, list->str);
      transcript_add (self, "", line);
      s->addresses = g_list_copy_deep (self->known_addresses, ref_object, NULL);
      start_connecting (task);
      return;
    }

  set_step (self, RELAY_SMTP_STEP_RESOLVING);
  arm_phase (s, PHASE_RESOLVE, self->connect_timeout_ms);
  {
    g_autoptr(GResolver) resolver = g_resolver_get_default ();
    g_autofree char *line = g_strdup_printf (_("looking up %s"), s->host);

    transcript_add (self, "", line);
    g_resolver_lookup_by_name_async (resolver, s->host, s->op, on_resolved_cb,
                                     g_object_ref (task));
  }
}

/**
 * relay_smtp_client_send_finish:
 *
 * Returns: (transfer full): the server's reply to the end of the message, such as
 *   "250 2.0.0 Ok: queued as 4F1A", or %NULL with @error set (a #RELAY_SMTP_ERROR, or
 *   %G_IO_ERROR_CANCELLED)
 */
char *
relay_smtp_client_send_finish (RelaySmtpClient  *self,
                               GAsyncResult     *result,
                               GError          **error)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * relay_smtp_client_close_async:
 * @cancellable: (nullable): closes at once, without waiting for the server
 *
 * Ends the session that relay_smtp_client_set_keep_open() left open: sends QUIT and waits
 * briefly for its reply. Completes at once when no session is open. Never fails: the messages
 * were accepted already.
 */
void
relay_smtp_client_close_async (RelaySmtpClient     *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Idle *idle;
  Session *s;

  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, relay_smtp_client_close_async);
  g_task_set_check_cancellable (task, FALSE);
  if (self->idle == NULL || self->busy)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  idle = g_steal_pointer (&self->idle);
  s = g_new0 (Session, 1);
  s->self = g_object_ref (self);
  s->outbuf = g_string_new (NULL);
  g_task_set_task_data (task, s, (GDestroyNotify) session_free);
  s->task = task;
  s->host = g_strdup (idle->host);
  s->port = idle->port;
  s->security = idle->security;
  /* A logged-in session: what the server says to QUIT is redacted as the rest was. */
  if (idle->username != NULL)
    {
      s->secrets = collect_secrets (idle->username, self->password ? self->password : "");
      self->secrets = s->secrets;
    }
  adopt_connection (s, idle);
  s->closing = TRUE;
  s->quitting = TRUE;   /* whatever happens now, the session's messages went through */
  self->busy = TRUE;
  s->op = g_cancellable_new ();
  if (cancellable != NULL)
    {
      s->caller = g_object_ref (cancellable);
      s->caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled_cb),
                                                 g_object_ref (s->op), g_object_unref);
    }
  send_command (task, PHASE_QUIT, "QUIT", NULL, on_quit_reply);
}

gboolean
relay_smtp_client_close_finish (RelaySmtpClient  *self,
                                GAsyncResult     *result,
                                GError          **error)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- GObject ------------------------------------------------------------------------------ */

RelaySmtpClient *
relay_smtp_client_new (void)
{
  return g_object_new (RELAY_TYPE_SMTP_CLIENT, NULL);
}

static void
relay_smtp_client_finalize (GObject *object)
{
  RelaySmtpClient *self = (RelaySmtpClient *) object;

  g_free (self->host);
  g_free (self->username);
  wipe_string (self->password);
  g_free (self->helo_name);
  g_free (self->pinned_certificate);
  g_clear_object (&self->tls_database);
  g_string_free (self->transcript, TRUE);
  g_free (self->peer_fingerprint);
  g_free (self->known_host);
  g_list_free_full (self->known_addresses, g_object_unref);
  g_clear_pointer (&self->idle, idle_free);

  G_OBJECT_CLASS (relay_smtp_client_parent_class)->finalize (object);
}

static gboolean
replace_string (char       **slot,
                const char  *value)
{
  if (g_strcmp0 (*slot, value) == 0)
    return FALSE;
  g_free (*slot);
  *slot = g_strdup (value);
  return TRUE;
}

static void
set_timeout (RelaySmtpClient *self,
             guint           *slot,
             guint            value,
             guint            prop)
{
  if (*slot == value)
    return;
  *slot = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
relay_smtp_client_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  RelaySmtpClient *self = RELAY_SMTP_CLIENT (object);

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
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_ALLOW_PLAINTEXT_AUTH:
      g_value_set_boolean (value, self->allow_plaintext_auth);
      break;
    case PROP_HELO_NAME:
      g_value_set_string (value, self->helo_name);
      break;
    case PROP_PINNED_CERTIFICATE:
      g_value_set_string (value, self->pinned_certificate);
      break;
    case PROP_TLS_DATABASE:
      g_value_set_object (value, self->tls_database);
      break;
    case PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, self->connect_timeout_ms);
      break;
    case PROP_REPLY_TIMEOUT:
      g_value_set_uint (value, self->reply_timeout_ms);
      break;
    case PROP_SESSION_TIMEOUT:
      g_value_set_uint (value, self->session_timeout_ms);
      break;
    case PROP_DATA_END_TIMEOUT:
      g_value_set_uint (value, self->data_end_timeout_ms);
      break;
    case PROP_STEP:
      g_value_set_enum (value, self->step);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relay_smtp_client_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  RelaySmtpClient *self = RELAY_SMTP_CLIENT (object);

  switch (prop_id)
    {
    case PROP_HOST:
      relay_smtp_client_set_host (self, g_value_get_string (value));
      break;
    case PROP_PORT:
      relay_smtp_client_set_port (self, g_value_get_uint (value));
      break;
    case PROP_SECURITY:
      relay_smtp_client_set_security (self, g_value_get_uint (value));
      break;
    case PROP_USERNAME:
      relay_smtp_client_set_username (self, g_value_get_string (value));
      break;
    case PROP_ALLOW_PLAINTEXT_AUTH:
      relay_smtp_client_set_allow_plaintext_auth (self, g_value_get_boolean (value));
      break;
    case PROP_HELO_NAME:
      relay_smtp_client_set_helo_name (self, g_value_get_string (value));
      break;
    case PROP_PINNED_CERTIFICATE:
      relay_smtp_client_set_pinned_certificate (self, g_value_get_string (value));
      break;
    case PROP_TLS_DATABASE:
      relay_smtp_client_set_tls_database (self, g_value_get_object (value));
      break;
    case PROP_CONNECT_TIMEOUT:
      set_timeout (self, &self->connect_timeout_ms, g_value_get_uint (value), prop_id);
      break;
    case PROP_REPLY_TIMEOUT:
      set_timeout (self, &self->reply_timeout_ms, g_value_get_uint (value), prop_id);
      break;
    case PROP_SESSION_TIMEOUT:
      set_timeout (self, &self->session_timeout_ms, g_value_get_uint (value), prop_id);
      break;
    case PROP_DATA_END_TIMEOUT:
      set_timeout (self, &self->data_end_timeout_ms, g_value_get_uint (value), prop_id);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
relay_smtp_client_class_init (RelaySmtpClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = relay_smtp_client_finalize;
  object_class->get_property = relay_smtp_client_get_property;
  object_class->set_property = relay_smtp_client_set_property;

  properties[PROP_HOST] =
    g_param_spec_string ("host", NULL, NULL, NULL, flags);
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0, flags);
  properties[PROP_SECURITY] =
    g_param_spec_uint ("security", NULL, NULL, 0, RELAY_SECURITY_LAST, RELAY_SECURITY_STARTTLS,
                       flags);
  properties[PROP_USERNAME] =
    g_param_spec_string ("username", NULL, NULL, NULL, flags);
  properties[PROP_ALLOW_PLAINTEXT_AUTH] =
    g_param_spec_boolean ("allow-plaintext-auth", NULL, NULL, FALSE, flags);
  properties[PROP_HELO_NAME] =
    g_param_spec_string ("helo-name", NULL, NULL, NULL, flags);
  properties[PROP_PINNED_CERTIFICATE] =
    g_param_spec_string ("pinned-certificate", NULL, NULL, NULL, flags);
  properties[PROP_TLS_DATABASE] =
    g_param_spec_object ("tls-database", NULL, NULL, G_TYPE_TLS_DATABASE, flags);
  properties[PROP_CONNECT_TIMEOUT] =
    g_param_spec_uint ("connect-timeout", NULL, NULL, 1, G_MAXUINT, DEFAULT_CONNECT_TIMEOUT_MS,
                       flags);
  properties[PROP_REPLY_TIMEOUT] =
    g_param_spec_uint ("reply-timeout", NULL, NULL, 1, G_MAXUINT, DEFAULT_REPLY_TIMEOUT_MS,
                       flags);
  properties[PROP_SESSION_TIMEOUT] =
    g_param_spec_uint ("session-timeout", NULL, NULL, 1, G_MAXUINT, DEFAULT_SESSION_TIMEOUT_MS,
                       flags);
  properties[PROP_DATA_END_TIMEOUT] =
    g_param_spec_uint ("data-end-timeout", NULL, NULL, 1, G_MAXUINT, DEFAULT_DATA_END_TIMEOUT_MS,
                       flags);
  properties[PROP_STEP] =
    g_param_spec_enum ("step", NULL, NULL, RELAY_TYPE_SMTP_STEP, RELAY_SMTP_STEP_IDLE,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * RelaySmtpClient::step-changed:
   * @step: the #RelaySmtpStep now running
   *
   * Emitted when a send moves on, for a progress label.
   */
  signals[STEP_CHANGED] =
    g_signal_new ("step-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, RELAY_TYPE_SMTP_STEP);
}

static void
relay_smtp_client_init (RelaySmtpClient *self)
{
  self->security = RELAY_SECURITY_STARTTLS;
  self->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
  self->reply_timeout_ms = DEFAULT_REPLY_TIMEOUT_MS;
  self->session_timeout_ms = DEFAULT_SESSION_TIMEOUT_MS;
  self->data_end_timeout_ms = DEFAULT_DATA_END_TIMEOUT_MS;
  self->transcript = g_string_new (NULL);
}

/* --- accessors ---------------------------------------------------------------------------- */

void
relay_smtp_client_set_host (RelaySmtpClient *self,
                            const char      *host)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  if (replace_string (&self->host, host))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HOST]);
}

const char *
relay_smtp_client_get_host (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), NULL);
  return self->host;
}

/**
 * relay_smtp_client_set_port:
 * @port: the TCP port, or 0 for the default port of the security setting
 */
void
relay_smtp_client_set_port (RelaySmtpClient *self,
                            guint16          port)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  if (self->port == port)
    return;
  self->port = port;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
}

guint16
relay_smtp_client_get_port (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), 0);
  return self->port;
}

void
relay_smtp_client_set_security (RelaySmtpClient *self,
                                RelaySecurity    security)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  g_return_if_fail ((guint) security <= RELAY_SECURITY_LAST);
  if (self->security == security)
    return;
  self->security = security;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SECURITY]);
}

RelaySecurity
relay_smtp_client_get_security (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), RELAY_SECURITY_STARTTLS);
  return self->security;
}

/**
 * relay_smtp_client_set_username:
 * @username: (nullable): the login; %NULL or "" to send without AUTH
 */
void
relay_smtp_client_set_username (RelaySmtpClient *self,
                                const char      *username)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  if (replace_string (&self->username, username))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USERNAME]);
}

const char *
relay_smtp_client_get_username (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), NULL);
  return self->username;
}

/**
 * relay_smtp_client_set_password:
 * @password: (nullable): the password, as read from the keyring
 *
 * Kept in memory only: it is no property (so no notify or inspector shows it), never goes into
 * the transcript or an error, and is overwritten when replaced or when the client goes away.
 */
void
relay_smtp_client_set_password (RelaySmtpClient *self,
                                const char      *password)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  wipe_string (self->password);
  self->password = g_strdup (password);
  if (self->password_pending)
    {
      self->password_pending = FALSE;
      resume_auth (self);
    }
}

/**
 * relay_smtp_client_set_password_pending:
 * @pending: whether the password is still on its way (a keyring lookup)
 *
 * While %TRUE, a send resolves, connects, secures the connection and reads the server's
 * capabilities, then waits before AUTH until relay_smtp_client_set_password() gives the
 * password, so that the keyring lookup overlaps the network's round trips instead of preceding
 * them. If the password cannot be had, cancel the send: it holds a reference to @self until one
 * of the two happens.
 */
void
relay_smtp_client_set_password_pending (RelaySmtpClient *self,
                                        gboolean         pending)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  self->password_pending = pending;
  if (!pending)
    resume_auth (self);
}

/**
 * relay_smtp_client_set_known_addresses:
 * @host: (nullable): the name that @addresses belong to, as typed or normalised
 * @addresses: (element-type GInetAddress) (nullable): its addresses, in the resolver's order
 *
 * Addresses of @host looked up moments ago (the window's DNS watch), so that a send to @host
 * connects without asking DNS again: over a slow link that is a round trip saved. They are
 * used only while the client's host is @host; the caller decides how old is still fresh.
 */
void
relay_smtp_client_set_known_addresses (RelaySmtpClient *self,
                                       const char      *host,
                                       GList           *addresses)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  g_clear_pointer (&self->known_host, g_free);
  g_list_free_full (g_steal_pointer (&self->known_addresses), g_object_unref);
  if (host == NULL || addresses == NULL)
    return;
  self->known_host = relay_hostname_normalize (host, NULL, NULL);
  if (self->known_host != NULL)
    self->known_addresses = g_list_copy_deep (addresses, ref_object, NULL);
}

/**
 * relay_smtp_client_set_allow_plaintext_auth:
 *
 * Whether logging in over a connection without encryption is allowed; the user has to opt in.
 */
void
relay_smtp_client_set_allow_plaintext_auth (RelaySmtpClient *self,
                                            gboolean         allow)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  allow = !!allow;
  if (self->allow_plaintext_auth == allow)
    return;
  self->allow_plaintext_auth = allow;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ALLOW_PLAINTEXT_AUTH]);
}

gboolean
relay_smtp_client_get_allow_plaintext_auth (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), FALSE);
  return self->allow_plaintext_auth;
}

/**
 * relay_smtp_client_set_helo_name:
 * @helo_name: (nullable): the name sent with EHLO; %NULL for the host name if it is fully
 *   qualified, else the local address as a literal
 */
void
relay_smtp_client_set_helo_name (RelaySmtpClient *self,
                                 const char      *helo_name)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  if (replace_string (&self->helo_name, helo_name))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HELO_NAME]);
}

const char *
relay_smtp_client_get_helo_name (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), NULL);
  return self->helo_name;
}

/**
 * relay_smtp_client_set_pinned_certificate:
 * @sha256_hex: (nullable): SHA-256 of the DER certificate the user chose to trust, as hex
 *
 * A certificate that fails verification is then accepted if, and only if, it is exactly this
 * one; a certificate that verifies is accepted as always.
 */
void
relay_smtp_client_set_pinned_certificate (RelaySmtpClient *self,
                                          const char      *sha256_hex)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  if (replace_string (&self->pinned_certificate, sha256_hex))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PINNED_CERTIFICATE]);
}

const char *
relay_smtp_client_get_pinned_certificate (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), NULL);
  return self->pinned_certificate;
}

/**
 * relay_smtp_client_set_tls_database:
 * @database: (nullable): trust anchors to verify against; %NULL for the system's
 */
void
relay_smtp_client_set_tls_database (RelaySmtpClient *self,
                                    GTlsDatabase    *database)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));
  if (g_set_object (&self->tls_database, database))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TLS_DATABASE]);
}

GTlsDatabase *
relay_smtp_client_get_tls_database (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), NULL);
  return self->tls_database;
}

RelaySmtpStep
relay_smtp_client_get_step (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), RELAY_SMTP_STEP_IDLE);
  return self->step;
}

/**
 * relay_smtp_client_get_transcript:
 *
 * The latest session as "C:"/"S:" lines with times relative to its start, TLS events and
 * errors. Credentials are replaced by "<redacted>" and the message body by its size, so it can
 * be shown and copied into a bug report.
 */
const char *
relay_smtp_client_get_transcript (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), NULL);
  return self->transcript->str;
}

/**
 * relay_smtp_client_get_certificate_errors:
 *
 * Why the server's certificate failed verification in the latest send; 0 if it did not.
 */
GTlsCertificateFlags
relay_smtp_client_get_certificate_errors (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), 0);
  return self->certificate_errors;
}

/**
 * relay_smtp_client_get_peer_fingerprint:
 *
 * The SHA-256 of the server certificate (DER) of the latest send, as lower-case hex, for
 * relay_smtp_client_set_pinned_certificate(); %NULL before any TLS handshake.
 */
const char *
relay_smtp_client_get_peer_fingerprint (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), NULL);
  return self->peer_fingerprint;
}

/**
 * relay_smtp_client_get_message_written:
 *
 * Whether the message (the end of DATA, or BDAT LAST and its chunk) is being written to the
 * server, or was, during the current or last send. Interrupted after that, the server may
 * deliver it without the client hearing its reply; before, it cannot.
 */
gboolean
relay_smtp_client_get_message_written (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), FALSE);

  return self->message_written;
}

/**
 * relay_smtp_client_set_keep_open:
 * @keep_open: whether the session stays open after the next message
 *
 * For a run of messages to the same server (a queue flush): the message goes without QUIT, and
 * the next relay_smtp_client_send_async() with the same server, port, security and user name
 * sends on the same session, without connecting, securing and logging in again. The last
 * message of the run goes with this %FALSE; relay_smtp_client_close_async() ends a session
 * left open otherwise. A send that fails closes its session, except when the server refused
 * the sender, a recipient or the message itself (other than with 421): the replies still due
 * are read, the session stays open, and the next message begins with RSET (in its flight, with
 * PIPELINING, unless that flight would carry the message itself: BDAT). A refused recipient
 * whose DATA got 354 anyway (another one was accepted) still closes: only that aborts the
 * message.
 */
void
relay_smtp_client_set_keep_open (RelaySmtpClient *self,
                                 gboolean         keep_open)
{
  g_return_if_fail (RELAY_IS_SMTP_CLIENT (self));

  self->keep_open = !!keep_open;
}

/**
 * relay_smtp_client_has_open_session:
 *
 * Whether a session is open for the next send (relay_smtp_client_set_keep_open()): after an
 * accepted message, or one that the server refused without ending the session.
 */
gboolean
relay_smtp_client_has_open_session (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), FALSE);

  return self->idle != NULL;
}

/**
 * relay_smtp_client_get_stale_session:
 *
 * Whether the last send failed because the session kept open for it had ended on the server's
 * side (closed while idle, or a 421 to MAIL) before the server took any of the message. The
 * same message may then go again at once: the send that follows connects anew.
 */
gboolean
relay_smtp_client_get_stale_session (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), FALSE);

  return self->stale_session;
}

/**
 * relay_smtp_client_get_last_reply_code:
 *
 * The code of the last reply the server sent (e.g. 451), or 0 when none came. After a failure,
 * a 4xx code says that the same message may go through later.
 */
guint
relay_smtp_client_get_last_reply_code (RelaySmtpClient *self)
{
  g_return_val_if_fail (RELAY_IS_SMTP_CLIENT (self), 0);

  return self->last_reply_code;
}
