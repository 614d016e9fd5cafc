#!/bin/bash
# Builds SMTP Relay warning-free and runs the whole test suite headless: a private D-Bus session
# with an unlocked gnome-keyring outside an Xvfb display (the other way round, an activated
# keyring prompter finds the display and waits for a click forever), throw-away home folders.
# Ends with one line "N passed, N failed, N skipped" and fails if anything failed.
# Extra arguments go to `meson test` (e.g. --suite core).
set -euo pipefail
cd "$(dirname "$0")/.."
build-aux/install-deps.sh
builddir=${BUILDDIR:-_build}

if [ -f "$builddir/build.ninja" ]; then
  meson configure "$builddir" -Dwerror=true
else
  meson setup "$builddir" -Dwerror=true
fi
meson compile -C "$builddir"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export HOME="$scratch/home" XDG_RUNTIME_DIR="$scratch/run"
export XDG_DATA_HOME="$HOME/.local/share" XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache"
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
mkdir -m 700 "$XDG_RUNTIME_DIR"
unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS
export GTK_A11Y=none NO_AT_BRIDGE=1

rm -f "$builddir/meson-logs/testlog.json"
rc=0
timeout 2400 dbus-run-session -- bash -c '
  printf "test-keyring-password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec xvfb-run -a -s "-screen 0 1280x1024x24" meson test -C "$0" --print-errorlogs "${@:1}"
' "$builddir" "$@" || rc=$?

/usr/bin/env python3 build-aux/test-summary.py "$builddir/meson-logs/testlog.json" || rc=1
exit $rc
