#!/bin/sh
# Captures what Debian's keepalived 2.2.7 does for use_vmac, inside two
# throw-away network namespaces joined by a veth pair (eth0 in each).
# Usage (root): sh capture.sh OUTDIR
# Produces OUTDIR/{ipv4,ipv6,ipv4-rpfilter}.txt. Nothing outside the two
# namespaces is touched; both are deleted at the end.
set -u
OUT=${1:-.}
NS=vmachelper-$$
PEER=vmachelper-$$-peer
TMP=$(mktemp -d)
cleanup() {
	[ -f "$TMP/ka.pid" ] && kill "$(cat "$TMP/ka.pid")" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$PEER" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# x CMD...: print the command, then its output.
x() { echo "# $*"; "$@" 2>&1; echo; }
inns() { x ip netns exec "$NS" "$@"; }

setup() {
	ip netns add "$NS"
	ip netns add "$PEER"
	for n in "$NS" "$PEER"; do
		ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
		ip -n "$n" link set lo up
	done
	ip -n "$NS" link add eth0 type veth peer name eth0 netns "$PEER"
	ip -n "$NS" addr add 198.51.100.1/24 dev eth0
	ip -n "$NS" addr add 2001:db8:2::1/64 dev eth0 nodad
	ip -n "$PEER" addr add 198.51.100.2/24 dev eth0
	ip -n "$PEER" addr add 2001:db8:2::2/64 dev eth0 nodad
	ip -n "$NS" link set eth0 up
	ip -n "$PEER" link set eth0 up
	sleep 1
}

teardown() {
	ip netns del "$NS"
	ip netns del "$PEER"
}

dump() {
	inns ip -d link show
	inns ip addr
	echo "# ip netns exec $NS sysctl -a | grep -E 'vrrp|eth0|conf\.(all|default)\.(rp_filter|arp_ignore|arp_filter)'"
	ip netns exec "$NS" sysctl -a 2>/dev/null | grep -E 'vrrp|eth0|conf\.(all|default)\.(rp_filter|arp_ignore|arp_filter)'
	echo
}

# run NAME FAMILY PRESETUP: writes $OUT/NAME.txt
run() {
	name=$1 fam=$2 pre=$3
	setup
	f="$OUT/$name.txt"
	{
		echo "### keepalived use_vmac capture: $name"
		echo "### $(keepalived -v 2>&1 | head -1); kernel $(uname -r)"
		echo "### namespaces: $NS (keepalived, eth0 198.51.100.1/24 2001:db8:2::1/64), $PEER (peer, eth0 198.51.100.2/24 2001:db8:2::2/64)"
		if [ -n "$pre" ]; then
			echo "### before start: ip netns exec $NS sysctl -w $pre"
			ip netns exec "$NS" sysctl -w $pre
		fi
		if [ "$fam" = 4 ]; then
			cat > "$TMP/ka.conf" <<CONF
global_defs {
    router_id vmachelper
}
vrrp_instance VI_4 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 200
    advert_int 1
    use_vmac
    virtual_ipaddress {
        198.51.100.100/24
    }
}
CONF
			vip=198.51.100.100
			vmac=vrrp.51
		else
			cat > "$TMP/ka.conf" <<CONF
global_defs {
    router_id vmachelper
}
vrrp_instance VI_6 {
    state MASTER
    interface eth0
    virtual_router_id 52
    priority 200
    advert_int 1
    use_vmac
    virtual_ipaddress {
        2001:db8:2::100/64
    }
}
CONF
			vip=2001:db8:2::100
			vmac=vrrp.52
		fi
		echo "### config:"
		cat "$TMP/ka.conf"
		echo
		echo "### before keepalived starts"
		dump
		echo "### started: ip netns exec $NS keepalived -n -l -D -P -f ka.conf -p ka.pid -r vrrp.pid"
		ip netns exec "$NS" keepalived -n -l -D -P -f "$TMP/ka.conf" -p "$TMP/ka.pid.main" -r "$TMP/vrrp.pid" > "$TMP/ka.log" 2>&1 &
		echo $! > "$TMP/ka.pid"
		i=0
		while ! grep -q 'Entering MASTER STATE' "$TMP/ka.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
		sleep 1
		echo "### while MASTER"
		dump
		echo "### ping the VIP from the peer, then the peer's neighbour table"
		x ip netns exec "$PEER" ping -c 2 -W 1 "$vip"
		x ip -n "$PEER" neigh show dev eth0
		echo "### stopping keepalived (SIGTERM)"
		kill "$(cat "$TMP/ka.pid")"
		i=0
		while kill -0 "$(cat "$TMP/ka.pid")" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
		rm -f "$TMP/ka.pid"
		echo "### after keepalived exited"
		dump
		echo "### keepalived log"
		cat "$TMP/ka.log"
	} > "$f" 2>&1
	teardown
}

run ipv4 4 ""
run ipv6 6 ""
run ipv4-preset 4 "net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.arp_ignore=2 net.ipv4.conf.eth0.arp_filter=0"
