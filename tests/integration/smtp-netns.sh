#!/bin/bash
# smtp-netns.sh PROBE: how RelaySmtpClient reports connections that packet-filter rules and
# routes stop, with real nftables rules in two throw-away network namespaces joined by a veth
# pair (network-facts.md §5):
#   NAME-cli  10.199.0.1 fd00:199::1   the client, where the rules go (output hook)
#   NAME-srv  10.199.0.2 fd00:199::2   a TCP listener on port 2525 that greets with a 554
# Needs root, ip (iproute2), nft (nftables) and /usr/bin/python3; prints TAP.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -u
export PATH="$PATH:/usr/sbin:/sbin"

probe=$(realpath "${1:?usage: smtp-netns.sh PROBE}")
python=/usr/bin/python3

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
command -v nft > /dev/null || skip "nft not found (Debian package nftables)"
[ -x "$python" ] || skip "$python not found"
[ -x "$probe" ] || skip "probe $probe not found"

ns=relay-smtp-$$-$RANDOM
cli=$ns-cli
srv=$ns-srv
listener_pid=
[ -d /run/netns ] && run_netns_existed=1 || run_netns_existed=

cleanup () {
  if [ -n "$listener_pid" ]; then
    kill "$listener_pid" 2> /dev/null && wait "$listener_pid" 2> /dev/null
  fi
  ip netns del "$cli" 2> /dev/null
  ip netns del "$srv" 2> /dev/null
  rm -rf "/etc/netns/$cli"
  rmdir /etc/netns 2> /dev/null
  if [ -z "$run_netns_existed" ] && [ -z "$(ls -A /run/netns 2> /dev/null)" ]; then
    umount /run/netns 2> /dev/null && rmdir /run/netns 2> /dev/null
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

setup () {
  ip netns add "$cli" && ip netns add "$srv" || return 1
  ip -n "$cli" link set lo up && ip -n "$srv" link set lo up || return 1
  # veth names are per namespace, but both ends are created in the caller's first
  ip link add "v$$c" netns "$cli" type veth peer name "v$$s" netns "$srv" || return 1
  ip -n "$cli" addr add 10.199.0.1/24 dev "v$$c" &&
  ip -n "$srv" addr add 10.199.0.2/24 dev "v$$s" &&
  ip -n "$cli" addr add fd00:199::1/64 dev "v$$c" nodad &&
  ip -n "$srv" addr add fd00:199::2/64 dev "v$$s" nodad &&
  ip -n "$cli" addr add fe80::1/64 dev "v$$c" nodad &&
  ip -n "$srv" addr add fe80::2/64 dev "v$$s" nodad &&
  ip -n "$cli" link set "v$$c" up && ip -n "$srv" link set "v$$s" up || return 1
  # a dropped SYN is retried once, not six times (127 s)
  ip netns exec "$cli" sysctl -qw net.ipv4.tcp_syn_retries=1 || return 1
  # policy routes for the prohibit/blackhole cases, to documentation prefixes
  ip -n "$cli" route add prohibit 192.0.2.0/24 &&
  ip -n "$cli" route add blackhole 198.51.100.0/24 &&
  ip -n "$cli" -6 route add prohibit 2001:db8:1::/64 || return 1
  # a name with both addresses of the server (ip netns exec mounts this over /etc/hosts)
  mkdir -p "/etc/netns/$cli" &&
  # and one whose IPv6 address has no route here, as on an IPv4-only network
  printf '%s\n' '127.0.0.1 localhost' '10.199.0.2 dual.relay.test' 'fd00:199::2 dual.relay.test' \
    '10.199.0.2 v4net.relay.test' '2001:db8:2::2 v4net.relay.test' > "/etc/netns/$cli/hosts" || return 1
}

if ! setup; then
  skip "could not create the network namespaces"
fi

ip netns exec "$srv" "$python" -c '
import socket, threading
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 2525))
s.listen(16)
while True:
    c, _ = s.accept()
    c.sendall(b"554 5.3.2 test listener, no service\r\n")
    c.close()
' &
listener_pid=$!
for _ in $(seq 50); do
  ip netns exec "$srv" ss -Hltn 'sport = :2525' 2> /dev/null | grep -q . && break
  sleep 0.1
done

n=0
failed=0
# NAME NFT_RULE_OR_- HOST EXPECT [PROBE OPTIONS…]
check () {
  local name=$1 rule=$2 host=$3 expect=$4
  shift 4
  n=$((n + 1))
  ip netns exec "$cli" nft flush ruleset
  if [ "$rule" != - ]; then
    ip netns exec "$cli" nft add table inet relay &&
    ip netns exec "$cli" nft add chain inet relay out '{ type filter hook output priority 0; }' &&
    ip netns exec "$cli" nft add rule inet relay out $rule || {
      echo "not ok $n - $name # could not add the rule: $rule"
      failed=$((failed + 1))
      return
    }
  fi
  local output
  if output=$(ip netns exec "$cli" "$probe" --host "$host" --expect "$expect" "$@" 2>&1); then
    echo "ok $n - $name: ${output%%$'\n'*}"
  else
    echo "not ok $n - $name: ${output%%$'\n'*}"
    failed=$((failed + 1))
  fi
  # any further lines of the probe's output (a sanitizer's report) as TAP comments
  [ "${output#*$'\n'}" = "$output" ] || printf '%s\n' "${output#*$'\n'}" | sed 's/^/# /'
}

blocked="Connection to SMTP server is blocked by traffic rules"
echo "1..15"
check "no rule, IPv4: connected, greeted with 554" - 10.199.0.2 greeting --max-ms 3000
check "no rule, IPv6: connected, greeted with 554" - fd00:199::2 greeting --max-ms 3000
check "IPv6 reject admin-prohibited" "ip6 daddr fd00:199::2 tcp dport 2525 reject with icmpv6 type admin-prohibited" \
  fd00:199::2 blocked --expect-text "$blocked" --max-ms 4000
check "IPv4 prohibit route" - 192.0.2.1 blocked --expect-text "$blocked" --max-ms 2000
check "IPv6 prohibit route" - 2001:db8:1::1 blocked --expect-text "$blocked" --max-ms 2000
check "IPv4 drop" "ip daddr 10.199.0.2 tcp dport 2525 drop" \
  10.199.0.2 timeout --connect-timeout-ms 1500 --expect-text "did not answer" --max-ms 4000
check "IPv4 reject with tcp reset" "ip daddr 10.199.0.2 tcp dport 2525 reject with tcp reset" \
  10.199.0.2 refused --max-ms 3000
check "IPv6 reject with tcp reset" "ip6 daddr fd00:199::2 tcp dport 2525 reject with tcp reset" \
  fd00:199::2 refused --max-ms 3000
check "IPv4 reject admin-prohibited" "ip daddr 10.199.0.2 tcp dport 2525 reject with icmp type admin-prohibited" \
  10.199.0.2 unreachable --expect-text "blocked by traffic rules, or there is no route" --max-ms 4000
check "IPv4 blackhole route" - 198.51.100.1 blocked --expect-text "blackhole" --max-ms 2000
# Happy Eyeballs: whichever family the resolver puts first, the other one is tried 250 ms later
# when the first does not answer, long before the 10 s connect deadline (and before the
# kernel gives up on the dropped SYN, after 3 s with one retry).
check "name with both families, IPv4 dropped" "ip daddr 10.199.0.2 tcp dport 2525 drop" \
  dual.relay.test greeting --connect-timeout-ms 10000 --max-ms 1500
check "name with both families, IPv6 dropped" "ip6 daddr fd00:199::2 tcp dport 2525 drop" \
  dual.relay.test greeting --connect-timeout-ms 10000 --max-ms 1500
# The IPv6 address fails at once (no route), the IPv4 one is dropped: what happened to the
# server is the IPv4 time-out, not "blocked by traffic rules, or no route" for the IPv6 one.
check "name with both families, no IPv6 route, IPv4 dropped" "ip daddr 10.199.0.2 tcp dport 2525 drop" \
  v4net.relay.test timeout --connect-timeout-ms 1500 --expect-text "(10.199.0.2) port 2525 did not answer" --max-ms 4000
# A link-local server: reached through the interface its zone names; without a zone it is
# refused before any connection (connect() would fail with EINVAL, read as a blackhole route).
check "IPv6 link-local with its interface" - "fe80::2%v$$c" greeting --max-ms 3000
check "IPv6 link-local without an interface" - fe80::2 invalid-input --expect-text "link-local" --max-ms 1000
[ "$failed" = 0 ]
