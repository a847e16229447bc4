package kernel

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// TestNetnsAdvertAH: an AH conn sends the IPv4 packet it is given (our IP
// header, with the kernel's checksum) and receives whole packets, header
// included, multicast and unicast; a VRRP (112) conn on the same
// interface sees none of them, nor the AH conn the 112 ones.
func TestNetnsAdvertAH(t *testing.T) {
	l := newLab(t)
	ca := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: 4, Protocol: ProtoAH})
	cb := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: 4, Protocol: ProtoAH})
	plain := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: 4})
	mac := vrrp.NewAHMAC(vrrp.AHKey([]byte("secret")))
	adv := vrrp.Advert{Version: 2, VRID: 51, Priority: 150, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	buf := make([]byte, 65536)
	for _, dst := range []netip.Addr{vrrp.MulticastIPv4, cb.Source()} {
		pkt, err := adv.AppendMarshalAH(nil, vrrp.AHHeader{Src: ca.Source(), Dst: dst, ID: 7, TTL: 255, Seq: 3, Unicast: !dst.IsMulticast()}, mac)
		if err != nil {
			t.Fatal(err)
		}
		if err := ca.Send(pkt, dst); err != nil {
			t.Fatalf("send to %v: %v", dst, err)
		}
		p := recvBounded(t, cb, buf)
		got := buf[:p.N]
		if p.Src != ca.Source() || p.Dst != dst || p.TTL != 255 {
			t.Fatalf("packet %+v, want from %v to %v with TTL 255", p, ca.Source(), dst)
		}
		if len(got) != len(pkt) || !bytes.Equal(got[12:], pkt[12:]) || binary.BigEndian.Uint16(got[4:]) != 7 || got[1] != 0xc0 {
			t.Fatalf("received\n% x\nsent\n% x", got, pkt)
		}
		ap, err := vrrp.ParseAH(got)
		if err != nil {
			t.Fatal(err)
		}
		if !vrrp.VerifyAH(got, &ap, mac, !dst.IsMulticast()) {
			t.Fatal("the ICV does not verify after the kernel's hands")
		}
	}
	expectNothing(t, plain, buf, 200*time.Millisecond)
	msg, err := adv.Marshal(ca.Source(), vrrp.MulticastIPv4, vrrp.ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	pa := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: 4})
	if err := pa.Send(msg, vrrp.MulticastIPv4); err != nil {
		t.Fatal(err)
	}
	recvBounded(t, plain, buf)
	expectNothing(t, cb, buf, 200*time.Millisecond)
}
