#!/bin/bash
# Split brain at scale: 1,000 instances on four interfaces at advert_int 0.1
# (test/scale), and 40 s after the election the backup stops hearing the
# master (an nftables drop in the backup's namespace), so both are master
# and the master answers a lower priority on every instance every interval.
# Prints the master's resident memory and threads every 10 s for 50 s.
#
# Usage (root, from the repository): test/scale/splitbrain.sh BINARY OUTPUT
# (OUTPUT receives test/scale's own report).
set -eu
BIN=$(realpath "$1"); OUT=$2
cd "$(dirname "$0")/../.."
(timeout 900 go run ./test/scale -only go -instances 1000 -interfaces 4 -interval 0.1 -duration 100s -bin "$BIN" > "$OUT" 2>&1 &)
M=
for _ in $(seq 1 120); do M=$(pgrep -f "$BIN.*master-kg.conf" || true); [ -n "$M" ] && break; sleep 1; done
[ -n "$M" ] || { echo "no master started" >&2; exit 1; }
sleep 40
B=$(pgrep -f "$BIN.*backup-kg.conf"); NS=$(ip netns identify "$B")
MADDRS=$(ip netns exec "$(ip netns identify "$M")" ip -4 -o addr show | awk '$2!="lo"{split($4,a,"/"); print a[1]}' | paste -sd,)
ip netns exec "$NS" nft add table inet splitbrain
ip netns exec "$NS" nft "add chain inet splitbrain in { type filter hook input priority 0; }"
ip netns exec "$NS" nft add rule inet splitbrain in ip saddr "{ $MADDRS }" ip protocol vrrp drop
for t in 10 20 30 40 50; do
	sleep 10
	echo "split ${t}s: master RSS $(ps -o rss= -p "$M") KiB, threads $(ls /proc/"$M"/task | wc -l)"
done
