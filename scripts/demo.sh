#!/usr/bin/env bash
# The demo, as root:
#  1. the lab: keepalived-go and Debian's keepalived (if installed) in one
#     VRRP group in network namespaces, with a client: election, crash
#     failover, preemption back, graceful stop (go run ./cmd/kglab);
#  2. load balancing: two keepalived-go directors sharing a VIP, three real
#     servers under HTTP_GET behind nftables, a client fetching all along;
#     a real server dies, the master dies, both come back, and the
#     client's outages in milliseconds (go run ./cmd/kglab -lb);
#  3. keepalived-go -t next to keepalived -t on one of keepalived's shipped
#     samples, and the configuration as keepalived-go understood it.
# Everything happens in namespaces the script creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
sample=${1:-internal/config/testdata/samples/keepalived.conf.vrrp}
ns="kgdemo-$$"
bin=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$bin"' EXIT

go build -o "$bin/keepalived-go" ./cmd/keepalived-go
echo "#### 1. the lab"
go run ./cmd/kglab -bin "$bin/keepalived-go"

echo
echo "#### 2. load balancing"
go run ./cmd/kglab -lb -bin "$bin/keepalived-go"

echo
echo "#### 3. keepalived-go -t on $sample"
ip netns add "$ns"
ip -n "$ns" link add eth0 type veth peer name eth1
ip -n "$ns" link add eth2 type veth peer name eth3
set +e
ip netns exec "$ns" "$bin/keepalived-go" -t -f "$sample" -i demo; rc=$?
set -e
echo "keepalived-go -t exit code: $rc"
if command -v keepalived >/dev/null; then
  set +e; ip netns exec "$ns" keepalived -t -f "$sample" -l -n -i demo 2>/dev/null; krc=$?; set -e
  echo "keepalived 2.2.7 -t exit code: $krc"
fi
echo "-- the configuration as keepalived-go understood it (keepalived-go -t -d, first 20 lines):"
ip netns exec "$ns" "$bin/keepalived-go" -t -d -f "$sample" -i demo 2>/dev/null | head -20 || true
