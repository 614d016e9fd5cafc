#!/bin/sh
# relay-test-cmd.sh — run `smtp-relay test` against the benchmark server, the way a user would:
# settings from GSettings (keyfile backend), the password from libsecret (file backend), the
# server's certificate pinned by its SHA-256 fingerprint (the client trusts only the system store
# otherwise).  The first call creates that state (no network involved); later calls reuse it, so
# the timed runs measure `smtp-relay test` and a few milliseconds of shell.
#
#   relay-test-cmd.sh BUILDDIR MODE HOST PORT USER PASSFILE FROM TO CAFILE
#
# MODE is starttls, implicit or plain.  With RELAY_BENCH_GAPS=FILE it opens the window instead,
# under its own Xvfb, with RELAY_BENCH_FRAME_GAPS=FILE: the window looks up a name, reads the
# keyring and sends the test message (the Test button) while it records the longest gap between
# frames (src/relay-bench.c), then writes FILE and exits.  With RELAY_BENCH_FLUSH=N it queues N
# messages and runs `smtp-relay flush` instead (one session for all of them); with
# RELAY_BENCH_FLUSH_DEFERRED=K as well, every K-th of them is deferred at RCPT.  smtp-rtt.sh calls
# it through a client spec such as
#   'ours:starttls=tests/bench/relay-test-cmd.sh _build {mode} {host} {port} {user} {passfile} {from} {to} {cafile}'
set -eu
BUILD=$1 MODE=$2 HOST=$3 PORT=$4 USER=$5 PASSFILE=$6 FROM=$7 TO=$8 CAFILE=$9

case $MODE in
  starttls) SEC=starttls AUTH=true ;;
  implicit) SEC=tls AUTH=true ;;
  *) SEC=none AUTH=false ;;
esac

# One state per harness run: each run makes a new CA and certificate.
STATE=${RELAY_BENCH_STATE:-/tmp/relay-bench-state}/$(printf %s "$CAFILE" | tr -c "A-Za-z0-9.\n-" _)/$MODE
if [ ! -f "$STATE/ready" ]; then
  rm -rf "$STATE"
  mkdir -p "$STATE/config/glib-2.0/settings"
  # The server certificate sits next to the CA in the harness's work directory.
  CERT=$(dirname "$CAFILE")/cert.pem
  FP=$(openssl x509 -in "$CERT" -outform DER | sha256sum | cut -d' ' -f1)
  cat >"$STATE/config/glib-2.0/settings/keyfile" <<EOF
[io/github/smtprelay/SmtpRelay]
server='$HOST'
port=uint16 $PORT
security='$SEC'
requires-auth=$AUTH
username='$USER'
sender='$FROM'
test-recipient='$TO'
pinned-certificate='$FP'
EOF
  if [ "$AUTH" = true ]; then
    # printf strips the file's trailing newline, which would become part of the password.
    printf %s "$(cat "$PASSFILE")" | XDG_CONFIG_HOME="$STATE/config" XDG_DATA_HOME="$STATE/data" \
      SECRET_BACKEND=file SECRET_FILE_TEST_PATH="$STATE/keyring" SECRET_FILE_TEST_PASSWORD=bench \
      secret-tool store --label='SMTP Relay bench' xdg:schema io.github.smtprelay.SmtpRelay \
        server "$HOST" user "$USER"
  fi
  touch "$STATE/ready"
fi

export XDG_CONFIG_HOME="$STATE/config" XDG_DATA_HOME="$STATE/data" \
  GSETTINGS_BACKEND=keyfile GSETTINGS_SCHEMA_DIR="$BUILD/data" \
  SECRET_BACKEND=file SECRET_FILE_TEST_PATH="$STATE/keyring" SECRET_FILE_TEST_PASSWORD=bench
if [ -n "${RELAY_BENCH_GAPS:-}" ]; then
  export RELAY_BENCH_FRAME_GAPS="$RELAY_BENCH_GAPS" GDK_BACKEND=x11 NO_AT_BRIDGE=1 \
    RELAY_BENCH_LOOKUP_NAME=${RELAY_BENCH_LOOKUP_NAME:-mail.perfb.test}
  # dconf, the backend of a desktop session: the keyfile backend writes and fsyncs its file on
  # the main thread at every change, which would be counted as the window's stall.
  export GSETTINGS_BACKEND=dconf RELAY_BENCH_BUILD="$BUILD"
  exec xvfb-run -a -s "-nolisten tcp -screen 0 1280x800x24" dbus-run-session -- sh -c '
    sed -n "s/^\([a-z-]*\)=\(.*\)$/\1 \2/p" "$XDG_CONFIG_HOME/glib-2.0/settings/keyfile" |
      while read -r key value; do gsettings set io.github.smtprelay.SmtpRelay "$key" "$value"; done
    exec ${RELAY_BENCH_WRAP:-} "$RELAY_BENCH_BUILD/src/smtp-relay"' 
fi
if [ -n "${RELAY_BENCH_FLUSH:-}" ]; then
  # A backlog, as after an outage: RELAY_BENCH_FLUSH small messages queued (written as
  # relay-queue.c writes them, a few milliseconds), then one `smtp-relay flush` sends them all.
  export XDG_STATE_HOME="$STATE/state"
  QUEUE="$XDG_STATE_HOME/smtp-relay/queue"
  mkdir -p -m 0700 "$XDG_STATE_HOME/smtp-relay" "$QUEUE"
  rm -f "$QUEUE"/*.msg   # what an earlier run left (RELAY_BENCH_FLUSH_DEFERRED)
  NOW=$(date +%s)
  i=0
  while [ "$i" -lt "$RELAY_BENCH_FLUSH" ]; do
    i=$((i + 1))
    RCPT=$TO
    # With RELAY_BENCH_FLUSH_DEFERRED=K, every K-th message goes to an address that the server
    # defers at RCPT (greylisting; smtp-rtt.sh --postconf sets the 451), and stays queued.
    if [ -n "${RELAY_BENCH_FLUSH_DEFERRED:-}" ] && [ $((i % RELAY_BENCH_FLUSH_DEFERRED)) = 0 ]; then
      RCPT=greylisted@perfb.test
    fi
    printf 'SMTP-Relay-Queue: 1\nQueued: %s\nAttempts: 0\nSender: %s\nRecipient: %s\nLast-Error: bench\n\nFrom: <%s>\r\nTo: <%s>\r\nSubject: Backlog %s\r\nDate: %s\r\nMessage-ID: <bench-%s-%s@perfb.test>\r\n\r\nQueued alert %s.\r\n' \
      "$NOW" "$FROM" "$RCPT" "$FROM" "$RCPT" "$i" "$(date -R)" "$NOW" "$i" "$i" \
      > "$QUEUE/$(date -u +%Y%m%dT%H%M%SZ)-$(printf %08x "$i").msg"
  done
  if [ -n "${RELAY_BENCH_FLUSH_DEFERRED:-}" ]; then
    # 75: messages still wait, the deferred ones, as intended
    rc=0
    ${RELAY_BENCH_WRAP:-} "$BUILD/src/smtp-relay" flush || rc=$?
    [ "$rc" = 75 ] && rc=0
    exit "$rc"
  fi
  exec ${RELAY_BENCH_WRAP:-} "$BUILD/src/smtp-relay" flush
fi
exec ${RELAY_BENCH_WRAP:-} "$BUILD/src/smtp-relay" test ${RELAY_BENCH_VERBOSE:+--verbose}
