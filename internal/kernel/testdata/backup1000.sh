#!/bin/bash
# backup1000.sh BINARY: start-up cost of a keepalived-go backup with 1,000
# VRRP instances (4 veths x 250 VRIDs, one /32 VIP each, advert_int 1) in
# a network namespace of its own where all 1,000 VIPs were left behind (as
# after a crash), so that the daemon removes them one by one. Prints how
# long until every VIP was gone (from the start of the process, polled
# every 0.1 s) and the Go heap allocated by then
# (go_memstats_alloc_bytes_total, go_memstats_mallocs_total from /metrics,
# one second later). Needs root, ip, curl, bc. Nothing touches the root
# namespace.
set -e
BIN=$1
NS=kgm-$$
DIR=$(mktemp -d)
PID=
cleanup() {
	[ -n "$PID" ] && kill $PID 2>/dev/null && wait $PID 2>/dev/null
	ip netns del $NS 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add $NS
ip -n $NS link set lo up
CONF=$DIR/kg.conf
echo 'global_defs {
}' > $CONF
for i in 0 1 2 3; do
	ip -n $NS link add e$i type veth peer name p$i
	ip -n $NS link set e$i up
	ip -n $NS link set p$i up
	ip -n $NS addr add 192.0.2.$((i+1))/32 dev e$i
	for v in $(seq 1 250); do
		vip=10.$i.$((v/256)).$((v%256))
		echo "addr add $vip/32 dev e$i" >> $DIR/batch
		printf 'vrrp_instance VI_%d {\n    state BACKUP\n    interface e%d\n    virtual_router_id %d\n    priority 100\n    advert_int 1\n    virtual_ipaddress {\n        %s/32\n    }\n}\n' \
			$((i*250+v)) $i $v $vip >> $CONF
	done
done
ip -n $NS -batch $DIR/batch
before=$(ip -n $NS -4 -o addr show | grep -c ' 10\.')
start=$(date +%s.%N)
ip netns exec $NS $BIN -n -l -D -P -f $CONF -p $DIR/m.pid -r $DIR/v.pid -c $DIR/c.pid --api-listen 127.0.0.1:9165 > $DIR/log 2>&1 &
PID=$!
for t in $(seq 1 600); do
	left=$(ip -n $NS -4 -o addr show 2>/dev/null | grep -c ' 10\.' || true)
	[ "$left" = 0 ] && break
	sleep 0.1
done
took=$(echo "$(date +%s.%N) - $start" | bc)
sleep 1
echo "stale VIPs: $before, left: $left, all gone after ${took}s"
ip netns exec $NS curl -s http://127.0.0.1:9165/metrics | grep -E '^go_memstats_(alloc_bytes|mallocs)_total'
