#!/bin/bash
# Runs Debian's keepalived 2.2.7 in a scratch network namespace with
# vrrp_strict and one IPv4, one global IPv6 and one link-local IPv6 VIP,
# waits until both instances are MASTER, and dumps the nftables ruleset.
set -e
# usage: capture-keepalived.sh OUTPREFIX  (as root; writes OUTPREFIX.txt and OUTPREFIX.json)
NS=kgnft-ka-$$
DIR=$(mktemp -d)
cat > $DIR/keepalived.conf <<'CONF'
global_defs {
    vrrp_strict
}
vrrp_instance V4 {
    state BACKUP
    interface vk0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        198.51.100.100/32
    }
}
vrrp_instance V6 {
    state BACKUP
    interface vk0
    virtual_router_id 52
    priority 100
    advert_int 1
    virtual_ipaddress {
        2001:db8:1::100/128
        fe80::100/64
    }
}
CONF
ip netns add $NS
trap 'ip netns del $NS; rm -rf $DIR' EXIT
ip netns exec $NS sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
ip -n $NS link add vk0 type veth peer name vk1
ip -n $NS addr add 198.51.100.1/24 dev vk0
ip -n $NS addr add 2001:db8:1::1/64 dev vk0 nodad
ip -n $NS link set lo up; ip -n $NS link set vk0 up; ip -n $NS link set vk1 up
ip netns exec $NS timeout 12 keepalived -n -l -D -P -f $DIR/keepalived.conf -p $DIR/ka.pid -r $DIR/vrrp.pid > $DIR/log 2>&1 &
for i in $(seq 100); do
  if [ "$(grep -c 'Entering MASTER STATE' $DIR/log)" = 2 ]; then break; fi
  sleep 0.1
done
sleep 0.5
grep 'Entering MASTER STATE' $DIR/log >&2
OUT=$1
{
  echo "# keepalived's nftables ruleset for vrrp_strict (no_accept), captured with"
  echo "# testdata/nft/capture-keepalived.sh from $(keepalived --version 2>&1 | head -1)"
  echo "# and $(nft --version). Both instances are MASTER, priority 100 (not the owner)."
  echo "# The JSON form (nft -j list ruleset) is in keepalived-2.2.7-strict.json."
  echo "#"
  echo "# \$ ip netns exec NS nft list ruleset"
  ip netns exec $NS nft list ruleset
  echo "#"
  echo "# \$ ip netns exec NS nft --debug=netlink list ruleset   (bytecode; the text form is repeated at its end)"
  ip netns exec $NS nft --debug=netlink list ruleset 2>&1 | sed -n '/^table /q;p'
} > $OUT.txt
ip netns exec $NS nft -j list ruleset | python3 -m json.tool --indent 1 > $OUT.json
wait
