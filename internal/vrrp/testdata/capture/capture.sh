#!/bin/bash
# usage: capture.sh CONF OUT.pcap
set -u
trap 'for f in /tmp/codechelper/ka.pid /tmp/codechelper/vrrp.pid; do [ -f $f ] && kill $(cat $f) 2>/dev/null; done' EXIT
ip netns exec codechelper-b timeout 20 tshark -i chb0 -f 'ip proto 112 or ip6 proto 112' -w "$2" -a duration:13 >/tmp/codechelper/tshark.log 2>&1 &
TS=$!
sleep 1.5
ip netns exec codechelper-a timeout -s TERM 10 keepalived -n -l -D -f "$1" -p /tmp/codechelper/ka.pid -r /tmp/codechelper/vrrp.pid -c /tmp/codechelper/chk.pid -P >/tmp/codechelper/ka.log 2>&1
echo "keepalived rc=$?"
wait $TS
echo "tshark rc=$?"
