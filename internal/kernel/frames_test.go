package kernel

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

var testMAC = net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}

// The frames are checked with independent decoders (mdlayher/ethernet,
// arp, ndp) rather than with this package's own code.
func TestAppendGARP(t *testing.T) {
	vip := netip.MustParseAddr("192.0.2.100")
	for _, op := range []uint16{ARPRequest, ARPReply} {
		b := AppendGARP(nil, testMAC, vip, op)
		if len(b) != garpLen {
			t.Fatalf("op %d: length %d, want %d", op, len(b), garpLen)
		}
		var f ethernet.Frame
		if err := f.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Destination, ethernet.Broadcast) || !bytes.Equal(f.Source, testMAC) || f.EtherType != ethernet.EtherTypeARP {
			t.Fatalf("op %d: ethernet %v -> %v type %v", op, f.Source, f.Destination, f.EtherType)
		}
		var p arp.Packet
		if err := p.UnmarshalBinary(f.Payload); err != nil {
			t.Fatal(err)
		}
		want := arp.Packet{
			HardwareType: 1, ProtocolType: 0x0800, HardwareAddrLength: 6, IPLength: 4,
			Operation:          arp.Operation(op),
			SenderHardwareAddr: testMAC, SenderIP: vip,
			TargetHardwareAddr: ethernet.Broadcast, TargetIP: vip,
		}
		if p.Operation != want.Operation || p.HardwareType != want.HardwareType || p.ProtocolType != want.ProtocolType ||
			!bytes.Equal(p.SenderHardwareAddr, want.SenderHardwareAddr) || p.SenderIP != vip ||
			!bytes.Equal(p.TargetHardwareAddr, want.TargetHardwareAddr) || p.TargetIP != vip {
			t.Fatalf("op %d: got %+v, want %+v", op, p, want)
		}
	}
}

func TestAppendUnsolicitedNA(t *testing.T) {
	vip := netip.MustParseAddr("2001:db8::100")
	for _, router := range []bool{false, true} {
		b := AppendUnsolicitedNA(nil, testMAC, vip, router)
		if len(b) != naLen {
			t.Fatalf("length %d, want %d", len(b), naLen)
		}
		var f ethernet.Frame
		if err := f.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if f.Destination.String() != "33:33:00:00:00:01" || !bytes.Equal(f.Source, testMAC) || f.EtherType != ethernet.EtherTypeIPv6 {
			t.Fatalf("ethernet %v -> %v type %v", f.Source, f.Destination, f.EtherType)
		}
		ip := f.Payload
		if ip[0]>>4 != 6 || ip[6] != 58 || ip[7] != 255 || int(ip[4])<<8|int(ip[5]) != 32 {
			t.Fatalf("ipv6 header % x", ip[:8])
		}
		if src := netip.AddrFrom16([16]byte(ip[8:24])); src != vip {
			t.Fatalf("src %v, want %v", src, vip)
		}
		if dst := netip.AddrFrom16([16]byte(ip[24:40])); dst != netip.MustParseAddr("ff02::1") {
			t.Fatalf("dst %v", dst)
		}
		want := &ndp.NeighborAdvertisement{
			Router: router, Override: true, TargetAddress: vip,
			Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: testMAC}},
		}
		wb, err := ndp.MarshalMessageChecksum(want, vip, netip.MustParseAddr("ff02::1"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ip[40:], wb) {
			t.Fatalf("router=%v: icmpv6\n got % x\nwant % x", router, ip[40:], wb)
		}
	}
}
