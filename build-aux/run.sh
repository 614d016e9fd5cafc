#!/bin/bash
# Builds SMTP Relay and starts it from the build tree (schemas and resources from there).
set -euo pipefail
cd "$(dirname "$0")/.."
build-aux/install-deps.sh
builddir=${BUILDDIR:-_build}
. build-aux/ensure-build.sh
ensure_build "$builddir"
meson compile -C "$builddir"
exec meson devenv -C "$builddir" src/smtp-relay "$@"
