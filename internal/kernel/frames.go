package kernel

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// ARP operations for AppendGARP.
const (
	ARPRequest = 1
	ARPReply   = 2
)

const (
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd
	garpLen       = 14 + 28      // Ethernet + ARP for IPv4 over Ethernet
	naLen         = 14 + 40 + 32 // Ethernet + IPv6 + NA with one option
)

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	// allNodesMAC is ff02::1 mapped to Ethernet (RFC 2464 §7).
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
	allNodes    = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 1})
)

// AppendGARP appends a gratuitous ARP frame for ip (IPv4) from mac
// (6 bytes) to b: Ethernet from mac to ff:ff:ff:ff:ff:ff, ARP operation op
// (ARPRequest or ARPReply), sender = target = ip, sender hardware address
// mac, target hardware address ff:ff:ff:ff:ff:ff, as keepalived's
// vrrp_arp.c builds it.
func AppendGARP(b []byte, mac net.HardwareAddr, ip netip.Addr, op uint16) []byte {
	ip4 := ip.Unmap().As4()
	b = append(b, broadcastMAC...)
	b = append(b, mac[:6]...)
	b = binary.BigEndian.AppendUint16(b, etherTypeARP)
	b = binary.BigEndian.AppendUint16(b, 1)      // hardware type Ethernet
	b = binary.BigEndian.AppendUint16(b, 0x0800) // protocol IPv4
	b = append(b, 6, 4)
	b = binary.BigEndian.AppendUint16(b, op)
	b = append(b, mac[:6]...)
	b = append(b, ip4[:]...)
	b = append(b, broadcastMAC...)
	b = append(b, ip4[:]...)
	return b
}

// AppendUnsolicitedNA appends an unsolicited neighbour advertisement frame
// for target (IPv6) from mac to b, as keepalived's vrrp_ndisc.c builds it:
// Ethernet from mac to 33:33:00:00:00:01; IPv6 from target to ff02::1,
// hop limit 255; ICMPv6 type 136 code 0 with the Override flag, the
// Router flag iff router, Solicited clear; a Target Link-Layer Address
// option carrying mac; and the ICMPv6 checksum.
func AppendUnsolicitedNA(b []byte, mac net.HardwareAddr, target netip.Addr, router bool) []byte {
	src := target.As16()
	dst := allNodes.As16()
	b = append(b, allNodesMAC...)
	b = append(b, mac[:6]...)
	b = binary.BigEndian.AppendUint16(b, etherTypeIPv6)
	ip := len(b)
	b = append(b, 0x60, 0, 0, 0) // version 6, traffic class 0, flow 0
	b = binary.BigEndian.AppendUint16(b, 32)
	b = append(b, 58, 255) // next header ICMPv6, hop limit 255
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	icmp := len(b)
	b = append(b, 136, 0, 0, 0) // type, code, checksum (below)
	flags := byte(0x20)         // Override
	if router {
		flags |= 0x80
	}
	b = append(b, flags, 0, 0, 0)
	b = append(b, src[:]...)
	b = append(b, 2, 1) // Target Link-Layer Address, 1×8 bytes
	b = append(b, mac[:6]...)
	cs := icmpv6Checksum(b[ip+8:ip+24], b[ip+24:ip+40], b[icmp:])
	binary.BigEndian.PutUint16(b[icmp+2:], cs)
	return b
}

// icmpv6Checksum is the Internet checksum over the IPv6 pseudo-header
// (RFC 8200 §8.1) and msg.
func icmpv6Checksum(src, dst, msg []byte) uint16 {
	var s uint32
	add := func(p []byte) {
		for len(p) >= 2 {
			s += uint32(binary.BigEndian.Uint16(p))
			p = p[2:]
		}
		if len(p) == 1 {
			s += uint32(p[0]) << 8
		}
	}
	add(src)
	add(dst)
	s += uint32(len(msg)) + 58
	add(msg)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
