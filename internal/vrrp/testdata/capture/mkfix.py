import re, subprocess, struct
lines = subprocess.check_output(['python3','extract.py','all-legacy.pcap'], text=True).split('\n')
pk = [l.split() for l in lines if l]
conf = open('ka.conf').read()
def block(name):
    m = re.search(r'vrrp_instance %s \{.*?\n\}' % name, conf, re.S)
    return m.group(0)
CMD = [
 "ip netns add codechelper-a; ip netns add codechelper-b",
 "ip link add cha0 netns codechelper-a type veth peer name chb0 netns codechelper-b (links up)",
 "ip -n codechelper-a addr add 192.0.2.1/24 dev cha0; ip -n codechelper-a addr add 2001:db8::1/64 dev cha0 nodad",
 "ip -n codechelper-b addr add 192.0.2.2/24 dev chb0; ip -n codechelper-b addr add 2001:db8::2/64 dev chb0 nodad",
 "ip netns exec codechelper-b tshark -i chb0 -f 'ip proto 112 or ip6 proto 112' -w all.pcap -a duration:13 &",
 "ip netns exec codechelper-a timeout -s TERM 10 keepalived -n -l -D -f ka.conf -p /tmp/codechelper/ka.pid -r /tmp/codechelper/vrrp.pid -c /tmp/codechelper/chk.pid -P",
 "editcap -F pcap all.pcap all-legacy.pcap; payload = IP payload (bytes after the IP header, up to IP total/payload length)",
]
def find(vrid, prio):
    for s, d, ttl, h in pk:
        b = bytes.fromhex(h)
        if b[1] == vrid and b[2] == prio:
            return s, d, ttl, h
    raise SystemExit('missing %d %d' % (vrid, prio))
def write(fn, title, inst, vrid, prio, mode='pseudo', extra=(), hexover=None, csumdst=None):
    s, d, ttl, h = find(vrid, prio)
    if hexover: h = hexover(h)
    out = ['# ' + title]
    out += ['# Instance (global_defs { router_id codechelper }; all instances ran in one keepalived, file ka.conf):']
    out += ['#   ' + l for l in block(inst).split('\n')]
    out += ['# Commands:'] + ['#   ' + c for c in CMD]
    out += ['# ' + e for e in extra]
    out += ['# src: ' + s, '# dst: ' + d, '# ttl: ' + ttl, '# mode: ' + mode]
    if csumdst: out.append('# checksum-dst: ' + csumdst)
    out.append(h)
    open('/work/main/internal/vrrp/testdata/' + fn, 'w').write('\n'.join(out) + '\n')
K = 'Captured from Debian keepalived 2.2.7 (/usr/sbin/keepalived) on a veth pair between netns codechelper-a/-b.'
write('v2_pass_2vips.hex', K + ' VRRPv2, PASS auth, 2 VIPs.', 'V2PASS', 51, 100)
write('v2_noauth.hex', K + ' VRRPv2, no auth, advert_int 2.', 'V2NOAUTH', 52, 200)
write('v2_prio0_stop.hex', K + ' VRRPv2 priority-0 advert sent on SIGTERM (by timeout).', 'V2PASS', 51, 0)
write('v3_ipv4_mcast.hex', K + ' VRRPv3 IPv4 multicast, priority 150, advert_int 1 (checksum includes IPv4 pseudo-header).', 'V3MCAST', 53, 150)
write('v3_ipv4_prio0_stop.hex', K + ' VRRPv3 IPv4 priority-0 advert sent on SIGTERM.', 'V3MCAST', 53, 0)
write('v3_ipv4_unicast.hex', K + ' VRRPv3 IPv4 unicast (unicast_src_ip/unicast_peer); pseudo-header uses the real unicast destination.', 'V3UCAST', 55, 120)
write('v3_ipv4_unicast_old_checksum.hex', K + ' VRRPv3 IPv4 unicast with old_unicast_checksum: the pseudo-header uses 224.0.0.18 instead of the real destination (pre-1.3.6 quirk); tshark flags it [incorrect].', 'V3UCASTOLD', 57, 110, csumdst='224.0.0.18')
write('v3_ipv6.hex', K + ' VRRPv3 IPv6, link-local source to ff02::12, advert_int 0.5 (50 cs).', 'V3IPV6', 56, 130)
write('v3_ipv6_prio0_stop.hex', K + ' VRRPv3 IPv6 priority-0 advert sent on SIGTERM.', 'V3IPV6', 56, 0)
def asv2(h):
    b = bytearray(bytes.fromhex(h)); b[6:8] = b'\0\0'
    s = 0
    for i in range(0, len(b), 2): s += (b[i] << 8) | b[i+1]
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    c = (~s) & 0xffff; b[6:8] = struct.pack('>H', c)
    return b.hex()
write('v3_ipv4_checksum_as_v2.hex', 'SYNTHETIC: keepalived 2.2.7 does not know v3_checksum_as_v2 ("Unknown keyword"; added in a later release, PR#2234). This is the captured VRID 54 advert (a plain v3 IPv4 multicast instance) with its checksum recomputed by mkfix.py over the VRRP message only (RFC 9568 IPv4 form); tshark -o vrrp.v3_checksum_as_in_v2:TRUE reports it [correct].', 'V3ASV2', 54, 150, mode='v2style', hexover=asv2)
