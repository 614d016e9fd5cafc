#!/bin/sh
# run-all.sh — every issue-9 benchmark, then the summary with ratios and targets (README.md, at
# the end). Needs root (network namespaces), tests/bench/install-deps.sh, Xvfb, dbus-run-session
# and secret-tool. About 10 minutes. Not part of `meson test`.
#
#   sudo tests/bench/run-all.sh [BUILDDIR [OUTDIR]]
#
# 1. smtp-rtt.sh: all built-in clients and `smtp-relay test` (STARTTLS and implicit TLS) in one
#    run against the private Postfix over the 40 ms link, and `smtp-relay flush` of 10 queued
#    messages;
# 2. smtp-rtt.sh again, for the window: a name lookup, a keyring lookup and the Test button while
#    it records the gaps between frames (GL renderer, as on a desktop, and cairo), 3 runs each;
#    then the same for the reference window (minimal-window.c at SMTP Relay's size), which
#    changes one label per phase and shows a spinner in the last: what one change costs in
#    the toolkit and the display alone;
# 3. window-bench.py: first frame and peak RSS against the minimal libadwaita window, with the
#    start-up steps of both (--trace), under the GL renderer and under cairo;
# 4. summarize.py: the figures, as ratios against the anchors of this run.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$(dirname "$HERE")")
BUILD=$(realpath "${1:-$SRC/_build}")
OUT=${2:-$(mktemp -d /tmp/relay-bench.XXXXXX)}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")

meson compile -C "$BUILD" smtp-relay smtp-relay-ui bench-minimal-window >/dev/null

# A GIO module changed after its directory's giomodule.cache (a new ctime is enough: a hard link
# made by `perf`'s build-id cache, for one) makes GLib load every module of that directory at
# start-up instead of on demand: the TLS backend alone takes about 13 ms to load here, then on
# the main thread of every process measured. Say so at the start and in the summary;
# gio-querymodules DIR renews the cache.
stale_caches() {
  for cache in "$(pkg-config --variable=giomoduledir gio-2.0)/giomodule.cache" \
               /usr/lib/*/gtk-4.0/4.0.0/*/giomodule.cache; do
    [ -f "$cache" ] || continue
    dir=$(dirname "$cache")
    for module in "$dir"/*.so; do
      if [ "$(stat -c %Z "$module")" -gt "$(stat -c %Z "$cache")" ]; then
        echo "WARNING: $module changed after $cache: every process loads all of $dir;" \
          "figures are skewed (run: $(pkg-config --variable=gio_querymodules gio-2.0) $dir)"
        break
      fi
    done
  done
}
stale_caches >&2
CMD="$HERE/relay-test-cmd.sh $BUILD {mode} {host} {port} {user} {passfile} {from} {to} {cafile}"

"$HERE/smtp-rtt.sh" --runs "${RUNS:-7}" --max-seconds 600 --out "$OUT/smtp" \
  "smtp-relay:starttls=$CMD" "smtp-relay:implicit=$CMD" \
  "smtp-relay-flush10:starttls=RELAY_BENCH_FLUSH=10 $CMD" \
  "smtp-relay-flush10:implicit=RELAY_BENCH_FLUSH=10 $CMD"
rm -f "$OUT"/gaps-*.jsonl
"$HERE/smtp-rtt.sh" --no-builtin --no-plain --runs 2 --warmup 0 --out "$OUT/gaps-run" \
  "window-gl:starttls=RELAY_BENCH_GAPS=$OUT/gaps-gl.jsonl $CMD" \
  "window-cairo:starttls=GSK_RENDERER=cairo RELAY_BENCH_GAPS=$OUT/gaps-cairo.jsonl $CMD"
for renderer in gl cairo; do
  # No GSK_RENDERER is GL, as for SMTP Relay's runs above.
  case $renderer in gl) set -- ;; *) set -- GSK_RENDERER="$renderer" ;; esac
  for _ in 1 2 3; do
    env "$@" RELAY_BENCH_FRAME_GAPS="$OUT/gaps-reference-$renderer.jsonl" \
      RELAY_BENCH_REFERENCE_SIZE=640x760 GDK_BACKEND=x11 NO_AT_BRIDGE=1 \
      xvfb-run -a -s "-nolisten tcp -screen 0 1280x800x24" dbus-run-session -- \
      "$BUILD/tests/bench/bench-minimal-window" >/dev/null 2>&1
  done
done
"$HERE/window-bench.py" --build "$BUILD" --runs "${WINDOW_RUNS:-15}" --trace --json "$OUT/window.json"
# The same with cairo: software drawing, where the window's size costs more and shaders nothing.
GSK_RENDERER=cairo "$HERE/window-bench.py" --build "$BUILD" --runs "${WINDOW_RUNS:-15}" --trace \
  --json "$OUT/window-cairo.json"
echo
{ "$HERE/summarize.py" "$OUT"; stale_caches; } | tee "$OUT/summary.txt"
echo "results in $OUT"
