#!/usr/bin/env bash
# Runs a command on a stand-in for an ordinary machine, inside the private network and mount
# namespaces the caller created (tests/hosts/run.sh: `unshare --net --mount`):
#   host.sh KIND COMMAND...
# KIND is one of
#   offline      loopback only (a container without a network, an offline laptop)
#   lan          plus a LAN card (a veth) with 10.99.0.1/24 and no default route
#   lan-mcast    lan, with a route for multicast (mDNS) but still none to the internet
#   uplink       plus a default route through a router (10.99.0.2) that forwards nothing
#   dead-dns     uplink, and a resolver that never answers
#   slow-dns     uplink, and a resolver that answers every query with NXDOMAIN after 2 s
# Nothing leaves the namespace: the router and the resolver live inside it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kind=$1
shift

ip link set lo up
if [[ $kind != offline ]]; then
    # Both ends stay here: the far end carries no IPv4 address, so nothing answers beyond it.
    ip link add hv0 type veth peer name hv1
    ip addr add 10.99.0.1/24 dev hv0
    ip link set hv0 up
    ip link set hv1 up
fi
if [[ $kind == lan-mcast ]]; then
    ip route add 224.0.0.0/4 dev hv0
fi
if [[ $kind =~ ^(uplink|dead-dns|slow-dns)$ ]]; then
    ip route add default via 10.99.0.2 dev hv0
fi

stub=""
if [[ $kind =~ ^(dead-dns|slow-dns)$ ]]; then
    conf=$(mktemp -d)
    echo "nameserver 127.0.0.53" >"$conf/resolv.conf"
    echo "hosts: files dns" >"$conf/nsswitch.conf"
    mount --bind "$conf/resolv.conf" /etc/resolv.conf
    mount --bind "$conf/nsswitch.conf" /etc/nsswitch.conf
    mode=(--drop)
    [[ $kind == slow-dns ]] && mode=(--delay 2)
    python3 -u "$here/dns_stub.py" --listen 127.0.0.53 "${mode[@]}" >"$conf/dns.log" 2>&1 &
    stub=$!
    # Wait for the socket, not for a fixed time.
    for _ in $(seq 100); do
        grep -q listening "$conf/dns.log" 2>/dev/null && break
        sleep 0.05
    done
    grep -q listening "$conf/dns.log" || { echo "host.sh: the DNS stub did not start" >&2; exit 1; }
fi

status=0
"$@" || status=$?
if [[ -n $stub ]]; then
    kill "$stub" 2>/dev/null || true
    echo "host.sh: the resolver saw $(grep -c '^query' "$conf/dns.log") queries"
fi
exit "$status"
