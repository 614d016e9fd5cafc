#!/bin/bash
# dns-netns.sh PROBE: RelayResolverWatch against a real DNS server (dnsmasq) and the system's
# resolver (getaddrinfo), in two throw-away network namespaces:
#   NAME-ok      dnsmasq on 127.0.0.1: relay.test → 127.0.0.1, nx.test NXDOMAIN, others REFUSED
#   NAME-silent  a UDP socket on 127.0.0.1:53 that never answers
# `ip netns exec` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf.
# Needs root, ip (iproute2), dnsmasq (dnsmasq-base) and /usr/bin/python3; prints TAP.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -u
export PATH="$PATH:/usr/sbin:/sbin"

probe=$(realpath "${1:?usage: dns-netns.sh PROBE}")
python=/usr/bin/python3   # not the python3 first in PATH: the system one is known to be complete

skip () {
  # With CI set, a root runner that lacks the tools is a broken runner, not a reason to skip.
  if [ -n "${CI:-}" ] && [ "$(id -u)" = 0 ]; then
    echo "Bail out! CI is set and we are root, but: $*"
    exit 1
  fi
  echo "1..0 # SKIP $*"
  exit 0
}

if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP needs root to create network namespaces"
  exit 0
fi
command -v ip > /dev/null || skip "ip (iproute2) not found"
command -v ss > /dev/null || skip "ss (iproute2) not found"
command -v dnsmasq > /dev/null || skip "dnsmasq not found (Debian package dnsmasq-base)"
[ -x "$python" ] || skip "$python not found"
[ -x "$probe" ] || skip "probe $probe not found"

ns=relay-dns-$$-$RANDOM
ns_ok=$ns-ok
ns_silent=$ns-silent
tmp=$(mktemp -d)
dnsmasq_pid=
hole_pid=
[ -d /etc/netns ] && etc_netns_existed=1 || etc_netns_existed=
[ -d /run/netns ] && run_netns_existed=1 || run_netns_existed=

cleanup () {
  for pid in $dnsmasq_pid $hole_pid; do
    kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
  done
  for n in "$ns_ok" "$ns_silent"; do
    ip netns del "$n" 2> /dev/null
    rm -rf "/etc/netns/$n"
  done
  [ -n "$etc_netns_existed" ] || rmdir /etc/netns 2> /dev/null
  # `ip netns add` made /run/netns a mount point; undo that unless someone else's namespace is in
  # it (then umount fails with EBUSY and everything stays)
  if [ -z "$run_netns_existed" ] && [ -z "$(ls -A /run/netns 2> /dev/null)" ]; then
    umount /run/netns 2> /dev/null && rmdir /run/netns 2> /dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# NS CONF_OPTIONS: a namespace with lo up and its own resolv.conf
make_ns () {
  ip netns add "$1" && ip -n "$1" link set lo up || return 1
  mkdir -p "/etc/netns/$1"
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "/etc/netns/$1/resolv.conf"
}

# NS: wait until something listens on 127.0.0.1:53/udp there
wait_port_53 () {
  for _ in $(seq 50); do
    ip netns exec "$1" ss -Hlun 'sport = :53' | grep -q 127.0.0.1 && return 0
    sleep 0.1
  done
  return 1
}

if ! make_ns "$ns_ok" || ! make_ns "$ns_silent"; then
  skip "cannot create network namespaces here"
fi

ip netns exec "$ns_ok" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
  --listen-address=127.0.0.1 --bind-interfaces --user=root --pid-file="$tmp/dnsmasq.pid" \
  --address=/relay.test/127.0.0.1 --address=/nx.test/ 2> "$tmp/dnsmasq.log" &
dnsmasq_pid=$!

ip netns exec "$ns_silent" "$python" -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
time.sleep(3600)
' &
hole_pid=$!

if ! wait_port_53 "$ns_ok"; then
  echo "Bail out! dnsmasq did not start: $(cat "$tmp/dnsmasq.log")"
  exit 1
fi
if ! wait_port_53 "$ns_silent"; then
  echo "Bail out! the silent DNS server did not start"
  exit 1
fi

n=0
failed=0
echo "1..6"

# NS DESCRIPTION PROBE-ARGS...
check () {
  local in_ns=$1 description=$2
  shift 2
  n=$((n + 1))
  if ip netns exec "$in_ns" "$probe" "$@"; then
    echo "ok $n - $description"
  else
    echo "not ok $n - $description"
    failed=1
  fi
}

check "$ns_ok" "relay.test resolves to 127.0.0.1" relay.test resolved 127.0.0.1
check "$ns_ok" "RELAY.Test. is normalised and resolves" RELAY.Test. resolved 127.0.0.1
check "$ns_ok" "NXDOMAIN is not-found" nx.test not-found
check "$ns_ok" "a REFUSED query is dns-failure, at once" --max-ms=900 other.example dns-failure
# glibc gives up after timeout:1 × attempts:1 with TEMPORARY_FAILURE, before our 5 s deadline
check "$ns_silent" "a silent DNS server is dns-failure (resolver timeout)" \
  --deadline-ms=5000 --min-ms=800 --max-ms=4000 relay.test dns-failure
# our own deadline ends the wait before glibc's 1 s timeout
check "$ns_silent" "a silent DNS server is dns-failure (watch deadline)" \
  --deadline-ms=300 --max-ms=900 relay.test dns-failure

exit $failed
