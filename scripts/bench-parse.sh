#!/usr/bin/env bash
# Parses one generated configuration (1,000 vrrp_instances and 1,000
# virtual_servers of 10 real_servers each) with `keepalived-go -t` and with
# Debian's `keepalived -t`, in the same run, inside a namespace that has the
# interfaces the config names, and prints wall times and their ratio.
# Run as root. Usage: scripts/bench-parse.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
ns="kgbench-$$"
tmp=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/keepalived-go" ./cmd/keepalived-go
awk 'BEGIN {
  print "global_defs {\n    router_id bench\n}"
  for (i = 0; i < 1000; i++) {
    printf "vrrp_instance VI_%d {\n    state BACKUP\n    interface eth%d\n    virtual_router_id %d\n    priority 100\n    advert_int 1\n    authentication {\n        auth_type PASS\n        auth_pass pw%d\n    }\n    virtual_ipaddress {\n        10.%d.%d.1/32 dev eth%d\n    }\n}\n", i, int(i/255), i%255+1, i, int(i/256), i%256, int(i/255)
  }
  for (i = 0; i < 1000; i++) {
    printf "virtual_server 10.%d.%d.1 80 {\n    delay_loop 6\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", int(i/256), i%256
    for (j = 0; j < 10; j++)
      printf "    real_server 172.16.%d.%d 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n", i%256, j+1
    print "}"
  }
}' >"$tmp/big.conf"

ip netns add "$ns"
ip -n "$ns" link add eth0 type veth peer name eth1
ip -n "$ns" link add eth2 type veth peer name eth3
ip -n "$ns" link set lo up

# time_ms CMD...: wall time of one run in the namespace, in milliseconds.
time_ms() {
  local t0 t1
  t0=$(date +%s%N)
  ip netns exec "$ns" "$@" >/dev/null 2>&1 || true
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}

# The two checkers run in turn, so that a burst of other load on the
# machine falls on both alike; each keeps its best time.
best_go= best_ka=
for _ in $(seq "$runs"); do
  ms=$(time_ms "$tmp/keepalived-go" -t -f "$tmp/big.conf")
  if [ -z "$best_go" ] || [ "$ms" -lt "$best_go" ]; then best_go=$ms; fi
  ms=$(time_ms keepalived -t -f "$tmp/big.conf" -l -n)
  if [ -z "$best_ka" ] || [ "$ms" -lt "$best_ka" ]; then best_ka=$ms; fi
done

lines=$(wc -l <"$tmp/big.conf")
go_ms=$best_go ka_ms=$best_ka
echo "config: $lines lines; best of $runs runs"
echo "keepalived-go -t: ${go_ms} ms"
echo "keepalived -t:    ${ka_ms} ms"
awk -v g="$go_ms" -v k="$ka_ms" 'BEGIN { printf "ratio keepalived-go/keepalived: %.2f\n", g / k }'
