package kernel

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

func mustOpen(t *testing.T, k Kernel, cfg VRRPConnConfig) Conn {
	t.Helper()
	c, err := k.OpenVRRP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recvWithin(t *testing.T, c Conn, buf []byte, d time.Duration) (Packet, error) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	return c.Recv(buf)
}

func TestFakeNetMulticastAndUnicast(t *testing.T) {
	lan := NewFakeNet()
	a := lan.NewHost(Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.1")})
	b := lan.NewHost(Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.2")})
	c := lan.NewHost(Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.3")})

	ca := mustOpen(t, a, VRRPConnConfig{Interface: "eth0", Family: 4})
	cb := mustOpen(t, b, VRRPConnConfig{Interface: "eth0", Family: 4})
	cc := mustOpen(t, c, VRRPConnConfig{Interface: "eth0", Family: 4, Unicast: true})
	ca6 := mustOpen(t, a, VRRPConnConfig{Interface: "eth0", Family: 6})
	cb6 := mustOpen(t, b, VRRPConnConfig{Interface: "eth0", Family: 6})

	adv := vrrp.Advert{Version: 2, VRID: 7, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	msg, err := adv.Marshal(ca.Source(), vrrp.MulticastIPv4, vrrp.ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Send(msg, vrrp.MulticastIPv4); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	p, err := recvWithin(t, cb, buf, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p.Src != netip.MustParseAddr("192.0.2.1") || p.Dst != vrrp.MulticastIPv4 || p.TTL != 255 || p.IfIndex != 1 {
		t.Fatalf("packet %+v", p)
	}
	got, err := vrrp.Parse(buf[:p.N], p.Src, p.Dst, vrrp.ChecksumV3Pseudo)
	if err != nil || got.VRID != 7 {
		t.Fatalf("parse: %+v %v", got, err)
	}
	// The unicast conn does not see multicast, and no family crosses over.
	for _, c := range []Conn{cc, cb6, ca6} {
		if _, err := recvWithin(t, c, buf, 20*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("unexpected receive: %v", err)
		}
	}

	// Unicast to C's address, and to a VIP added on C.
	if err := ca.Send(msg, netip.MustParseAddr("192.0.2.3")); err != nil {
		t.Fatal(err)
	}
	if p, err := recvWithin(t, cc, buf, time.Second); err != nil || p.Dst != netip.MustParseAddr("192.0.2.3") {
		t.Fatalf("unicast: %+v %v", p, err)
	}
	if err := c.AddAddress("eth0", Address{Prefix: netip.MustParsePrefix("192.0.2.200/32")}); err != nil {
		t.Fatal(err)
	}
	if err := ca.Send(msg, netip.MustParseAddr("192.0.2.200")); err != nil {
		t.Fatal(err)
	}
	if _, err := recvWithin(t, cc, buf, time.Second); err != nil {
		t.Fatalf("unicast to VIP: %v", err)
	}
	// B got the unicast to C? No.
	if _, err := recvWithin(t, cb, buf, 20*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("B saw unicast for C: %v", err)
	}

	// IPv6 from the link-local address.
	if err := ca6.Send(msg, vrrp.MulticastIPv6); err != nil {
		t.Fatal(err)
	}
	if p, err := recvWithin(t, cb6, buf, time.Second); err != nil || p.Src != ca6.Source() || !p.Src.IsLinkLocalUnicast() {
		t.Fatalf("v6: %+v %v", p, err)
	}

	// A link cut loses packets.
	lan.SetDown(true)
	ca.Send(msg, vrrp.MulticastIPv4)
	if _, err := recvWithin(t, cb, buf, 20*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("received over a cut link: %v", err)
	}
	lan.SetDown(false)

	if n := len(a.CallsOf("Send")); n != 5 {
		t.Fatalf("A recorded %d sends, want 5: %v", n, a.Calls())
	}
}

func TestFakeCloseWakesRecv(t *testing.T) {
	f := NewFake(Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.1")})
	c, err := f.OpenVRRP(VRRPConnConfig{Interface: "eth0", Family: 4})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Recv(make([]byte, 100))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("err %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Recv not woken by Close")
	}
	if f.OpenConns() != 0 {
		t.Fatal("conn still counted open")
	}
	if err := c.Send([]byte{1}, vrrp.MulticastIPv4); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestFakeAddressesIdempotentAndFail(t *testing.T) {
	f := NewFake(Interface{Name: "eth0"})
	vip := Address{Prefix: netip.MustParsePrefix("2001:db8::100/64")}
	for range 2 {
		if err := f.AddAddress("eth0", vip); err != nil {
			t.Fatal(err)
		}
	}
	as, _ := f.ListAddresses("eth0")
	if len(as) != 2 { // link-local + VIP
		t.Fatalf("addresses %v", as)
	}
	if ok, _ := f.HasAddress("eth0", vip.Prefix.Addr()); !ok {
		t.Fatal("VIP missing")
	}
	for range 2 {
		if err := f.DelAddress("eth0", vip); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := f.HasAddress("eth0", vip.Prefix.Addr()); ok {
		t.Fatal("VIP still there")
	}
	if err := f.AddAddress("eth9", vip); !errors.Is(err, ErrNoInterface) {
		t.Fatalf("unknown interface: %v", err)
	}
	boom := errors.New("boom")
	f.Fail("GratuitousARP", boom)
	if err := f.GratuitousARP("eth0", netip.MustParseAddr("192.0.2.1")); err != boom {
		t.Fatalf("injected error: %v", err)
	}
	f.Fail("GratuitousARP", nil)
	if err := f.GratuitousARP("eth0", netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if err := f.UnsolicitedNA("eth0", netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Fatal("NA for an IPv4 address accepted")
	}
	r := Route{Dst: netip.MustParsePrefix("198.51.100.0/24"), Via: netip.MustParseAddr("192.0.2.254"), Table: 100}
	f.AddRoute(r)
	f.AddRoute(r)
	if len(f.Routes()) != 1 {
		t.Fatalf("routes %v", f.Routes())
	}
	f.DelRoute(r)
	f.DelRoute(r)
	if len(f.Routes()) != 0 {
		t.Fatalf("routes %v", f.Routes())
	}
	if got := len(f.CallsOf("GratuitousARP")); got != 2 {
		t.Fatalf("%d GratuitousARP calls", got)
	}
	if _, err := f.OpenVRRP(VRRPConnConfig{Interface: "eth0", Family: 4}); !errors.Is(err, ErrNoSource) {
		t.Fatalf("v4 conn without an IPv4 address: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		cfg VRRPConnConfig
		ok  bool
	}{
		{VRRPConnConfig{Interface: "eth0", Family: 4}, true},
		{VRRPConnConfig{Interface: "eth0", Family: 6}, true},
		{VRRPConnConfig{Interface: "eth0", Family: 5}, false},
		{VRRPConnConfig{Family: 4}, false},
		{VRRPConnConfig{Interface: "eth0", Family: 4, Group: netip.MustParseAddr("ff02::12")}, false},
		{VRRPConnConfig{Interface: "eth0", Family: 4, Group: netip.MustParseAddr("192.0.2.1")}, false},
		{VRRPConnConfig{Interface: "eth0", Family: 4, Unicast: true, Source: netip.MustParseAddr("2001:db8::1")}, false},
		{VRRPConnConfig{Interface: "eth0", Family: 4, TTL: 256}, false},
	} {
		cfg := tc.cfg
		err := cfg.normalize()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: err %v", tc.cfg, err)
		}
		if err == nil && (cfg.TTL != 255 || !cfg.Group.IsMulticast()) {
			t.Errorf("%+v: normalized to %+v", tc.cfg, cfg)
		}
	}
}
