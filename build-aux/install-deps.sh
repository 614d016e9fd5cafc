#!/bin/bash
# Installs what building, running and testing SMTP Relay needs on Debian 12.
# Quiet and quick when everything is there already; uses sudo when not run as root.
# With --screenshots it also installs what build-aux/screenshots.sh needs.
set -euo pipefail

packages=(
  # build
  build-essential pkg-config meson ninja-build gettext libxml2-utils
  libglib2.0-dev libglib2.0-dev-bin libgtk-4-dev libadwaita-1-dev libsoup-3.0-dev libsecret-1-dev
  # run: TLS for GIO, icons
  glib-networking adwaita-icon-theme
  # tests: display, session bus, keyring, SMTP and DNS servers, data validators
  xvfb xauth dbus gnome-keyring libsecret-tools python3 python3-aiosmtpd openssl
  dnsmasq-base iproute2 nftables procps desktop-file-utils appstream flatpak-builder
  # tests: the icons must render (tests/check-icons.py)
  librsvg2-bin
  # tests: libFuzzer targets (build-aux/test.sh; libFuzzer itself is only recommended by clang),
  # memcheck (meson test --setup valgrind)
  clang libclang-rt-14-dev valgrind
)
if [ "${1:-}" = --screenshots ]; then
  # capture with import, find the window with xwininfo, GNOME's UI font
  packages+=(imagemagick x11-utils fonts-cantarell)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
