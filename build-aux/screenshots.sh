#!/bin/bash
# Takes the metainfo screenshots of the real app, headless and reproducible:
#
#   build-aux/screenshots.sh [SCENARIO...]      (default: main)
#
# Scenarios:  main         the settings window, filled in   -> data/screenshots/main.png
#             test-failed  a failed test message            -> data/screenshots/test-failed.png
#                          (the Test button pressed against a port where nothing listens)
#
# Each scenario runs _build/src/smtp-relay on its own Xvfb display inside a private D-Bus session
# with an unlocked gnome-keyring (the bus outside Xvfb, so that a keyring prompter finds no display
# and fails instead of waiting for a click), in a throw-away HOME. Settings come from a prepared
# GSettings keyfile, the password from the keyring, the schema from the build tree. The window is
# captured with ImageMagick's `import -window ID`.
#
# Environment: COLOR_SCHEME=prefer-dark renders the dark style (written to *-dark.png, which the
# metainfo does not use; it is for checking legibility).
set -euo pipefail
cd "$(dirname "$0")/.."
srcdir=$PWD
builddir=${BUILDDIR:-_build}
app_id=io.github.smtprelay.SmtpRelay
outdir=$srcdir/data/screenshots
mkdir -p "$outdir"

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(main)

# Writes the settings of a scenario as a GSettings keyfile (group = schema path).
write_settings() {
  local keyfile=$1 scenario=$2
  mkdir -p "$(dirname "$keyfile")"
  case $scenario in
    main)
      # An address from the documentation range: no DNS lookup, the same picture everywhere.
      cat >"$keyfile" <<'EOF'
[io/github/smtprelay/SmtpRelay]
server='192.0.2.25'
port=uint16 0
security='starttls'
requires-auth=true
username='alerts@example.com'
sender='backup-server@example.com'
test-recipient='admin@example.com'
EOF
      ;;
    test-failed)
      # A relay address where nothing listens: the test fails at once, the same way every time.
      cat >"$keyfile" <<'EOF'
[io/github/smtprelay/SmtpRelay]
server='127.0.0.1'
port=uint16 2587
security='starttls'
requires-auth=false
sender='backup-server@example.com'
test-recipient='admin@example.com'
EOF
      ;;
  esac
}

# Runs inside the D-Bus session, under Xvfb: starts the app, waits for its window, captures it.
capture() {
  local scenario=$1 out=$2
  printf 'screenshot-keyring' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  # The daemon forks before it owns its bus name; without waiting, secret-tool would activate
  # a second one.
  gdbus wait --session --timeout 10 org.freedesktop.secrets
  # The password row shows dots only when the keyring has a password for this server and user.
  printf 'not-a-real-password' | secret-tool store --label='SMTP Relay password' \
    xdg:schema "$app_id" server 192.0.2.25 user alerts@example.com

  "$srcdir/$builddir/src/smtp-relay" &
  local app=$!
  local id="" i
  for i in $(seq 1 100); do
    id=$(xwininfo -root -tree | awk '/"SMTP Relay"/ { print $1; exit }')
    [ -n "$id" ] && break
    sleep 0.1
  done
  if [ -z "$id" ]; then
    echo "screenshots: the SMTP Relay window did not appear" >&2
    kill "$app" 2>/dev/null || true
    return 1
  fi

  case $scenario in
    main) ;;
    test-failed)
      # Press Test the way a script can: through the application's action on the session bus.
      sleep 1
      gapplication action "$app_id" send-test
      ;;
  esac

  sleep 2   # let the keyring lookup fill the password and the first frames settle
  # -strip: no timestamps in the PNG, so an unchanged window gives an unchanged file
  import -window "$id" -strip "$out"
  kill "$app" 2>/dev/null || true
  wait "$app" 2>/dev/null || true
}
# Second stage: this script again, inside the D-Bus session and under Xvfb (xvfb-run is a
# POSIX sh script, so an exported bash function would not survive it).
if [ "${1:-}" = --capture ]; then
  capture "$2" "$3"
  exit
fi

build-aux/install-deps.sh --screenshots
[ -f "$builddir/build.ninja" ] || meson setup "$builddir"
meson compile -C "$builddir" >/dev/null

rc=0
for scenario in "${scenarios[@]}"; do
  case $scenario in
    main|test-failed) ;;
    *) echo "screenshots: unknown scenario “$scenario” (main, test-failed)" >&2; exit 2 ;;
  esac
  suffix=""
  [ "${COLOR_SCHEME:-}" = prefer-dark ] && suffix=-dark
  out=$outdir/$scenario$suffix.png

  scratch=$(mktemp -d)
  (
    trap 'rm -rf "$scratch"' EXIT
    export HOME=$scratch/home XDG_RUNTIME_DIR=$scratch/run
    export XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share XDG_CACHE_HOME=$HOME/.cache
    mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME"
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS
    write_settings "$XDG_CONFIG_HOME/glib-2.0/settings/keyfile" "$scenario"
    # The GNOME look: Cantarell, as GNOME's own settings would set it; no xsettings daemon runs.
    mkdir -p "$XDG_CONFIG_HOME/gtk-4.0"
    printf '[Settings]\ngtk-font-name=Cantarell 11\ngtk-hint-font-metrics=true\ngtk-decoration-layout=appmenu:close\n' \
      >"$XDG_CONFIG_HOME/gtk-4.0/settings.ini"
    export GSETTINGS_BACKEND=keyfile GSETTINGS_SCHEMA_DIR=$srcdir/$builddir/data
    export GDK_BACKEND=x11 GTK_A11Y=none NO_AT_BRIDGE=1 LC_ALL=C.UTF-8 LANG=C.UTF-8
    [ -n "${COLOR_SCHEME:-}" ] && export ADW_DEBUG_COLOR_SCHEME=$COLOR_SCHEME
    timeout 120 dbus-run-session -- \
      xvfb-run -a -s "-screen 0 1280x1024x24" "$srcdir/build-aux/screenshots.sh" --capture "$scenario" "$out"
  ) || { rc=$?; echo "screenshots: $scenario failed" >&2; continue; }
  echo "wrote $out ($(identify -format '%wx%h' "$out"))"
done
exit $rc
