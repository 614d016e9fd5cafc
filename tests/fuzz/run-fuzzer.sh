#!/bin/sh
# Runs one libFuzzer target for a fixed time: new inputs go to a folder in the build tree, the
# committed corpus is only read. A crash leaves its input in <work>/artifacts/ and fails the
# test; add that file to tests/fuzz/corpus/<target>/ once fixed, so the normal suite keeps it.
set -eu
exe=$1 corpus=$2 work=$3 seconds=$4
mkdir -p "$work/corpus" "$work/artifacts"
# libFuzzer reports a crash with 77, which meson would count as skipped
exec "$exe" -error_exitcode=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "$corpus"
