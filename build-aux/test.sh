#!/bin/bash
# Builds SMTP Relay warning-free and runs the whole test suite headless: a private D-Bus session
# with an unlocked gnome-keyring outside an Xvfb display (the other way round, an activated
# keyring prompter finds the display and waits for a click forever), throw-away home folders.
# Ends with one line "N passed, N failed, N skipped" and fails if anything failed.
# The suite runs twice: a normal build, then one with AddressSanitizer and UBSan
# (SANITIZE=0 skips the second). Extra arguments go to `meson test` (e.g. --suite core).
# A whole run (no arguments) also runs the GIO-only tests under valgrind's memcheck, which sees
# reads of uninitialised memory that the sanitizers do not (VALGRIND=0 skips that).
# Then each fuzz target runs for a while under libFuzzer (FUZZ=0 skips that).
set -euo pipefail
cd "$(dirname "$0")/.."
build-aux/install-deps.sh
builddir=${BUILDDIR:-_build}
asandir=${builddir}-asan
builds=("$builddir")
[ "${SANITIZE:-1}" = 0 ] || builds+=("$asandir")

. build-aux/ensure-build.sh
setup() {
  local dir=$1; shift
  ensure_build "$dir" -Dwerror=true "$@"
  meson compile -C "$dir"
}
setup "$builddir"
# b_lundef=false: the sanitizer runtimes are linked into executables, not into the libraries.
[ "${SANITIZE:-1}" = 0 ] || setup "$asandir" -Db_sanitize=address,undefined -Db_lundef=false

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export HOME="$scratch/home" XDG_RUNTIME_DIR="$scratch/run"
export XDG_DATA_HOME="$HOME/.local/share" XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache"
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
mkdir -m 700 "$XDG_RUNTIME_DIR"
unset DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS
export GTK_A11Y=none NO_AT_BRIDGE=1

# Any undefined behaviour fails the test. Leak checking is set per test in tests/meson.build
# (on for the GIO-only modules, off where GTK and libsecret keep process-lifetime caches).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

rc=0
logs=()
for dir in "${builds[@]}"; do
  echo "=== meson test -C $dir"
  rm -f "$dir/meson-logs/testlog.json"
  logs+=("$dir/meson-logs/testlog.json")
  timeout 2400 dbus-run-session -- bash -c '
    printf "test-keyring-password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    exec xvfb-run -a -s "-screen 0 1280x1024x24" meson test -C "$0" --print-errorlogs "${@:1}"
  ' "$dir" "$@" || rc=$?
done

if [ "${VALGRIND:-1}" != 0 ] && [ $# -eq 0 ]; then
  echo "=== meson test -C $builddir --setup valgrind --suite core"
  rm -f "$builddir/meson-logs/testlog-valgrind.json"
  logs+=("$builddir/meson-logs/testlog-valgrind.json")
  timeout 2400 dbus-run-session -- meson test -C "$builddir" --setup valgrind --suite core \
    --print-errorlogs || rc=$?
fi

# Fuzzing: a short libFuzzer run of each target in a clang build of its own (FUZZ=0 skips it),
# counted in the summary like any test. The corpus also runs in the normal suites above.
if [ "${FUZZ:-1}" != 0 ]; then
  fuzzdir=${builddir}-fuzz
  echo "=== fuzzing in $fuzzdir"
  CC=clang ensure_build "$fuzzdir" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
  # only the fuzz targets: the rest of the project is not needed in this build
  meson compile -C "$fuzzdir" tests/fuzz/fuzz-reply tests/fuzz/fuzz-address tests/fuzz/fuzz-message \
    tests/fuzz/fuzz-autoconfig
  rm -f "$fuzzdir/meson-logs/testlog.json"
  logs+=("$fuzzdir/meson-logs/testlog.json")
  timeout 900 meson test -C "$fuzzdir" --no-rebuild --suite fuzz --print-errorlogs || rc=$?
fi

/usr/bin/env python3 build-aux/test-summary.py "${logs[@]}" || rc=1
exit $rc
