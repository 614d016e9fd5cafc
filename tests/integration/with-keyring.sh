#!/bin/bash
# Runs a test program against a real gnome-keyring-daemon on a private D-Bus session, as on a
# user's desktop, without touching the user's own keyring: throw-away HOME, no display (so an
# activated prompter fails at once instead of waiting for a click).
set -euo pipefail

for tool in dbus-run-session gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null; then
    if [ -n "${CI:-}" ]; then
      echo "Bail out! $tool is missing (build-aux/install-deps.sh installs it)"
      exit 1
    fi
    echo "1..0 # SKIP $tool is not installed (apt-get install dbus gnome-keyring)"
    exit 0
  fi
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export HOME="$scratch/home" XDG_RUNTIME_DIR="$scratch/run"
export XDG_DATA_HOME="$HOME/.local/share" XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
mkdir -m 700 "$XDG_RUNTIME_DIR"
unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS SECRET_BACKEND SECRET_FILE_TEST_PATH

exec dbus-run-session -- bash -c '
  printf "integration-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  exec "$@"
' bash "$@"
