#!/usr/bin/env bash
# The demo: keepalived-go reading one of keepalived's shipped samples inside
# a network namespace that has the interfaces the sample names. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
sample=${1:-internal/config/testdata/samples/keepalived.conf.vrrp}
ns="kgdemo-$$"
bin=$(mktemp -d)
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$bin"
}
trap cleanup EXIT

go build -o "$bin/keepalived-go" ./cmd/keepalived-go
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type veth peer name eth1
ip -n "$ns" link add eth2 type veth peer name eth3
inns() { ip netns exec "$ns" "$@"; }

echo "== keepalived-go -t -f $sample"
set +e
inns "$bin/keepalived-go" -t -f "$sample" -i demo; rc=$?
set -e
echo "exit code $rc"
if command -v keepalived >/dev/null; then
  set +e; inns keepalived -t -f "$sample" -l -n -i demo 2>/dev/null; krc=$?; set -e
  echo "keepalived 2.2.7 -t exit code $krc"
fi

echo "== the configuration as keepalived-go understood it (first 25 lines of -d)"
inns "$bin/keepalived-go" -t -d -f "$sample" -i demo 2>/dev/null | head -25 || true

echo "== running the daemon (-n -l), then SIGHUP, SIGUSR1, SIGTERM"
ip netns exec "$ns" env TMPDIR="$bin" "$bin/keepalived-go" -n -l -f "$sample" -i demo -p "$bin/keepalived.pid" >"$bin/log" 2>&1 &
for _ in $(seq 50); do [ -s "$bin/keepalived.pid" ] && break; sleep 0.1; done
pid=$(cat "$bin/keepalived.pid")
kill -HUP "$pid"; sleep 0.3
kill -USR1 "$pid"; sleep 0.3
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { echo "daemon still running"; exit 1; }
wait && echo "daemon exited 0"
pid=
head -20 "$bin/log"
echo "... ($(wc -l <"$bin/log") log lines)"
echo "== SIGUSR1 wrote $(wc -l <"$bin/keepalived.data") lines to \$TMPDIR/keepalived.data"
