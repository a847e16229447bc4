//go:build linux

package kernel

// Namespace tests: they need root. Each test builds its own pair of
// network namespaces, A and B, joined by two veth pairs:
//
//	A vA0 192.0.2.1/25   2001:db8::1/64  <-> B vB0 192.0.2.2/25   2001:db8::2/64
//	A vA1 192.0.2.129/25                 <-> B vB1 192.0.2.130/25
//
// Nothing is added to, or sent through, the root namespace's interfaces;
// the namespaces (and with them the veths) are deleted by t.Cleanup, also
// when the test fails. Code under test runs inside a namespace by locking
// the goroutine to its OS thread and switching that thread (lab.in).

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// wait bounds every wait in these tests.
const wait = 3 * time.Second

var labSeq atomic.Int64

type lab struct {
	t      *testing.T
	a, b   string // namespace names
	ha, hb netns.NsHandle
}

// requireRoot skips without root, except in CI, where skipping would hide
// the kernel tests: there it fails.
func requireRoot(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "namespace tests need root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "namespace tests need iproute2's ip"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: not skipping)")
	}
	t.Skip(why)
}

func run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newLab(t *testing.T) *lab {
	t.Helper()
	requireRoot(t)
	n := labSeq.Add(1)
	l := &lab{t: t, a: fmt.Sprintf("kgk-%d-%d-a", os.Getpid(), n), b: fmt.Sprintf("kgk-%d-%d-b", os.Getpid(), n)}
	for _, ns := range []string{l.a, l.b} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v %s", ns, err, out)
			}
		})
		// Link-local addresses usable at once; only inside our namespace.
		run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
	}
	run(t, "ip", "-n", l.a, "link", "add", "vA0", "type", "veth", "peer", "name", "vB0", "netns", l.b)
	run(t, "ip", "-n", l.a, "link", "add", "vA1", "type", "veth", "peer", "name", "vB1", "netns", l.b)
	for _, c := range [][]string{
		{l.a, "vA0", "192.0.2.1/25", "2001:db8::1/64"},
		{l.a, "vA1", "192.0.2.129/25", ""},
		{l.b, "vB0", "192.0.2.2/25", "2001:db8::2/64"},
		{l.b, "vB1", "192.0.2.130/25", ""},
	} {
		run(t, "ip", "-n", c[0], "addr", "add", c[2], "dev", c[1])
		if c[3] != "" {
			run(t, "ip", "-n", c[0], "addr", "add", c[3], "dev", c[1], "nodad")
		}
		run(t, "ip", "-n", c[0], "link", "set", c[1], "up")
	}
	run(t, "ip", "-n", l.a, "link", "set", "lo", "up")
	run(t, "ip", "-n", l.b, "link", "set", "lo", "up")
	var err error
	if l.ha, err = netns.GetFromName(l.a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ha.Close() })
	if l.hb, err = netns.GetFromName(l.b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.hb.Close() })
	l.waitLinkLocal(l.ha, "vA0", "vA1")
	l.waitLinkLocal(l.hb, "vB0", "vB1")
	return l
}

// in runs f inside namespace ns (see inNamespace).
func (l *lab) in(ns netns.NsHandle, f func()) {
	l.t.Helper()
	inNamespace(l.t, ns, f)
}

// inNamespace runs f on this goroutine's OS thread switched into namespace
// ns, and switches back. If switching back fails the thread stays locked,
// so the runtime discards it rather than reuse a thread in the wrong
// namespace. The namespace tests of this package all use it.
func inNamespace(t *testing.T, ns netns.NsHandle, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("restoring the namespace: %v", err)
			return // stays locked: the thread dies with the goroutine
		}
		runtime.UnlockOSThread()
	}()
	f()
}

// waitLinkLocal waits until each interface has a usable link-local address.
func (l *lab) waitLinkLocal(ns netns.NsHandle, ifnames ...string) {
	l.t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		l.t.Fatal(err)
	}
	defer h.Close()
	deadline := time.Now().Add(wait)
	for _, name := range ifnames {
		for {
			link, err := h.LinkByName(name)
			if err != nil {
				l.t.Fatal(err)
			}
			addrs, err := h.AddrList(link, netlink.FAMILY_V6)
			if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
				l.t.Fatal(err)
			}
			ready := false
			for _, a := range addrs {
				if a.IP.IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
					ready = true
				}
			}
			if ready {
				break
			}
			if time.Now().After(deadline) {
				l.t.Fatalf("%s: no usable link-local address after %v", name, wait)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (l *lab) open(ns netns.NsHandle, cfg VRRPConnConfig) *VRRPConn {
	l.t.Helper()
	var c *VRRPConn
	var err error
	l.in(ns, func() { c, err = OpenVRRP(cfg) })
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { c.Close() })
	return c
}

func (l *lab) iface(ns netns.NsHandle, name string) Interface {
	l.t.Helper()
	var ifi Interface
	var err error
	l.in(ns, func() { ifi, err = (&Linux{}).InterfaceByName(name) })
	if err != nil {
		l.t.Fatal(err)
	}
	return ifi
}

func recvBounded(t *testing.T, c Conn, buf []byte) Packet {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	p, err := c.Recv(buf)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return p
}

func expectNothing(t *testing.T, c Conn, buf []byte, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	if p, err := c.Recv(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("expected nothing, got %+v, %v", p, err)
	}
}

func TestNetnsAdvertV2IPv4Multicast(t *testing.T) {
	l := newLab(t)
	ca := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: 4})
	cb := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: 4})
	if ca.Source() != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("source %v, want the interface's address", ca.Source())
	}
	adv := vrrp.Advert{Version: 2, VRID: 51, Priority: 150, AuthType: vrrp.AuthPass, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't'},
		Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")}}
	msg, err := adv.Marshal(ca.Source(), vrrp.MulticastIPv4, vrrp.ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Send(msg, vrrp.MulticastIPv4); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	p := recvBounded(t, cb, buf)
	if p.TTL != 255 || p.Dst != vrrp.MulticastIPv4 || p.Src != netip.MustParseAddr("192.0.2.1") || p.IfIndex != cb.IfIndex() {
		t.Fatalf("packet %+v, want TTL 255 from 192.0.2.1 to 224.0.0.18 on ifindex %d", p, cb.IfIndex())
	}
	if !bytes.Equal(buf[:p.N], msg) {
		t.Fatalf("payload\n got % x\nwant % x", buf[:p.N], msg)
	}
	got, err := vrrp.Parse(buf[:p.N], p.Src, p.Dst, vrrp.ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	if got.VRID != 51 || got.Priority != 150 || len(got.Addrs) != 2 || got.CheckAuth(vrrp.AuthPass, []byte("secret")) != nil {
		t.Fatalf("parsed %+v", got)
	}
	if err := vrrp.CheckTTL(p.TTL); err != nil {
		t.Fatal(err)
	}
}

func TestNetnsAdvertV3IPv6Multicast(t *testing.T) {
	l := newLab(t)
	ia := l.iface(l.ha, "vA0")
	ca := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: 6})
	cb := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: 6})
	if !ca.Source().IsLinkLocalUnicast() || ca.Source() != ia.LinkLocal {
		t.Fatalf("source %v, want the link-local address %v", ca.Source(), ia.LinkLocal)
	}
	adv := vrrp.Advert{Version: 3, VRID: 52, Priority: 200, Interval: 50 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::100"), netip.MustParseAddr("fe80::100")}}
	msg, err := adv.Marshal(ca.Source(), vrrp.MulticastIPv6, vrrp.ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Send(msg, vrrp.MulticastIPv6); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	p := recvBounded(t, cb, buf)
	if p.TTL != 255 || p.Dst != vrrp.MulticastIPv6 || p.Src != ia.LinkLocal || p.IfIndex != cb.IfIndex() {
		t.Fatalf("packet %+v, want hop limit 255 from %v to ff02::12 on ifindex %d", p, ia.LinkLocal, cb.IfIndex())
	}
	got, err := vrrp.Parse(buf[:p.N], p.Src, p.Dst, vrrp.ChecksumV3Pseudo) // verifies the checksum
	if err != nil {
		t.Fatal(err)
	}
	if got.VRID != 52 || got.Interval != 50*time.Millisecond || got.Addrs[0] != adv.Addrs[0] {
		t.Fatalf("parsed %+v", got)
	}
	// A corrupted checksum is the codec's to catch: prove the bytes are
	// delivered as sent, not fixed up by the kernel.
	msg[6] ^= 0xff
	ca.Send(msg, vrrp.MulticastIPv6)
	p = recvBounded(t, cb, buf)
	if _, err := vrrp.Parse(buf[:p.N], p.Src, p.Dst, vrrp.ChecksumV3Pseudo); err == nil {
		t.Fatal("corrupted checksum accepted")
	}
}

func TestNetnsAdvertUnicast(t *testing.T) {
	for _, tc := range []struct {
		fam      int
		src, dst string
	}{
		{4, "192.0.2.1", "192.0.2.2"},
		{6, "2001:db8::1", "2001:db8::2"},
	} {
		t.Run(fmt.Sprintf("IPv%d", tc.fam), func(t *testing.T) {
			l := newLab(t)
			src, dst := netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst)
			ca := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: tc.fam, Unicast: true, Source: src, TTL: 77})
			cb := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: tc.fam, Unicast: true, Source: dst})
			adv := vrrp.Advert{Version: 3, VRID: 53, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::100")}}
			if tc.fam == 4 {
				adv.Addrs = []netip.Addr{netip.MustParseAddr("192.0.2.100")}
			}
			msg, err := adv.Marshal(ca.Source(), dst, vrrp.ChecksumV3Pseudo)
			if err != nil {
				t.Fatal(err)
			}
			if err := ca.Send(msg, dst); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 65536)
			p := recvBounded(t, cb, buf)
			if p.TTL != 77 || p.Src != src || p.Dst != dst || p.IfIndex != cb.IfIndex() {
				t.Fatalf("packet %+v, want TTL 77 from %v to %v", p, src, dst)
			}
			if _, err := vrrp.Parse(buf[:p.N], p.Src, p.Dst, vrrp.ChecksumV3Pseudo); err != nil {
				t.Fatal(err)
			}
			// A unicast conn has not joined the group: multicast does not
			// reach it, even while another socket on the same interface
			// has joined it (IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off).
			bm := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: tc.fam})
			cm := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: tc.fam})
			mdst := vrrp.MulticastIPv4
			if tc.fam == 6 {
				mdst = vrrp.MulticastIPv6
			}
			msg, _ = adv.Marshal(cm.Source(), mdst, vrrp.ChecksumV3Pseudo)
			if err := cm.Send(msg, mdst); err != nil {
				t.Fatal(err)
			}
			if p := recvBounded(t, bm, buf); p.Dst != mdst {
				t.Fatalf("multicast conn got %+v", p)
			}
			expectNothing(t, cb, buf, 300*time.Millisecond)
		})
	}
}

// A conn sees its own interface only, although the group is joined on
// both of B's interfaces (IP_MULTICAST_ALL off, SO_BINDTODEVICE).
func TestNetnsAdvertInterfaceIsolation(t *testing.T) {
	l := newLab(t)
	a0 := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: 4})
	a1 := l.open(l.ha, VRRPConnConfig{Interface: "vA1", Family: 4})
	b0 := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: 4})
	b1 := l.open(l.hb, VRRPConnConfig{Interface: "vB1", Family: 4})
	adv := vrrp.Advert{Version: 2, VRID: 9, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	msg, _ := adv.Marshal(netip.Addr{}, netip.Addr{}, vrrp.ChecksumV3Pseudo)
	buf := make([]byte, 65536)

	if err := a0.Send(msg, vrrp.MulticastIPv4); err != nil {
		t.Fatal(err)
	}
	if p := recvBounded(t, b0, buf); p.Src != a0.Source() {
		t.Fatalf("b0 got %+v", p)
	}
	expectNothing(t, b1, buf, 300*time.Millisecond)

	if err := a1.Send(msg, vrrp.MulticastIPv4); err != nil {
		t.Fatal(err)
	}
	if p := recvBounded(t, b1, buf); p.Src != a1.Source() || p.IfIndex != b1.IfIndex() {
		t.Fatalf("b1 got %+v", p)
	}
	expectNothing(t, b0, buf, 300*time.Millisecond)
}

func TestNetnsCloseWakesRecv(t *testing.T) {
	l := newLab(t)
	for _, fam := range []int{4, 6} {
		c := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: fam})
		done := make(chan error, 1)
		go func() {
			_, err := c.Recv(make([]byte, 1500))
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("IPv%d: Recv returned %v, want net.ErrClosed", fam, err)
			}
		case <-time.After(wait):
			t.Fatalf("IPv%d: Recv still blocked after Close", fam)
		}
	}
}

func TestNetnsSendRecvAllocs(t *testing.T) {
	l := newLab(t)
	for _, fam := range []int{4, 6} {
		ca := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: fam})
		cb := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: fam})
		group := vrrp.MulticastIPv4
		adv := vrrp.Advert{Version: 3, VRID: 1, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
		if fam == 6 {
			group = vrrp.MulticastIPv6
			adv.Addrs = []netip.Addr{netip.MustParseAddr("2001:db8::100")}
		}
		msg, err := adv.Marshal(ca.Source(), group, vrrp.ChecksumV3Pseudo)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		cb.SetReadDeadline(time.Now().Add(10 * time.Second))
		var failed error
		allocs := testing.AllocsPerRun(50, func() {
			if err := ca.Send(msg, group); err != nil {
				failed = err
				return
			}
			if _, err := cb.Recv(buf); err != nil {
				failed = err
			}
		})
		if failed != nil {
			t.Fatal(failed)
		}
		if allocs != 0 {
			t.Errorf("IPv%d: %v allocations per Send+Recv, want 0", fam, allocs)
		}
	}
}

func TestNetnsAddresses(t *testing.T) {
	l := newLab(t)
	k := &Linux{}
	t.Cleanup(func() { k.Close() })
	v4 := Address{Prefix: netip.MustParsePrefix("192.0.2.100/25"), Label: "vA0:vip"}
	v6 := Address{Prefix: netip.MustParsePrefix("2001:db8::100/64")}
	l.in(l.ha, func() {
		for range 2 { // idempotent
			for _, a := range []Address{v4, v6} {
				if err := k.AddAddress("vA0", a); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Check with netlink directly, not through the code under test.
		link, err := netlink.LinkByName("vA0")
		if err != nil {
			t.Fatal(err)
		}
		nas, err := netlink.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		var saw4, saw6 bool
		for _, na := range nas {
			switch na.IP.String() {
			case "192.0.2.100":
				saw4 = true
				if ones, _ := na.Mask.Size(); ones != 25 || na.Label != "vA0:vip" {
					t.Errorf("IPv4 VIP %+v", na)
				}
			case "2001:db8::100":
				saw6 = true
				if na.Flags&unix.IFA_F_NODAD == 0 || na.Flags&unix.IFA_F_DEPRECATED == 0 || na.Flags&unix.IFA_F_TENTATIVE != 0 {
					t.Errorf("IPv6 VIP flags %#x, want nodad|deprecated, not tentative", na.Flags)
				}
				if na.PreferedLft != 0 || uint32(na.ValidLft) != 0xffffffff {
					t.Errorf("IPv6 VIP lifetimes preferred %d valid %d, want 0 and forever", na.PreferedLft, na.ValidLft)
				}
			}
		}
		if !saw4 || !saw6 {
			t.Fatalf("VIPs missing from %v", nas)
		}
		// Deprecated: the kernel does not pick the VIP as a source.
		routes, err := netlink.RouteGet(net.ParseIP("2001:db8::2"))
		if err != nil {
			t.Fatal(err)
		}
		if len(routes) == 0 || !routes[0].Src.Equal(net.ParseIP("2001:db8::1")) {
			t.Errorf("source for 2001:db8::2 is %v, want 2001:db8::1 (not the VIP)", routes)
		}
		for _, a := range []Address{v4, v6} {
			ok, err := k.HasAddress("vA0", a.Prefix.Addr())
			if err != nil || !ok {
				t.Fatalf("HasAddress(%v) = %v, %v", a.Prefix, ok, err)
			}
		}
		as, err := k.ListAddresses("vA0")
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.Prefix == v6.Prefix && (a.DAD || a.Preferred) {
				t.Errorf("listed %+v, want DAD and Preferred false", a)
			}
			if a.Prefix == v4.Prefix && (a.Label != v4.Label || a.Broadcast != netip.MustParseAddr("192.0.2.127")) {
				t.Errorf("listed %+v", a)
			}
		}
		for range 2 { // idempotent
			for _, a := range []Address{v4, v6} {
				if err := k.DelAddress("vA0", a); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, a := range []Address{v4, v6} {
			if ok, err := k.HasAddress("vA0", a.Prefix.Addr()); err != nil || ok {
				t.Fatalf("after delete HasAddress(%v) = %v, %v", a.Prefix, ok, err)
			}
		}
		if err := k.DelAddress("nosuch0", v4); err != nil {
			t.Fatalf("delete on a missing interface: %v", err)
		}
		if err := k.AddAddress("nosuch0", v4); !errors.Is(err, ErrNoInterface) {
			t.Fatalf("add on a missing interface: %v", err)
		}
	})
}

func TestNetnsRoutesAndRules(t *testing.T) {
	l := newLab(t)
	k := &Linux{}
	t.Cleanup(func() { k.Close() })
	routes := []Route{
		{Dst: netip.MustParsePrefix("198.51.100.0/24"), Via: netip.MustParseAddr("192.0.2.2"), Table: 100, Src: netip.MustParseAddr("192.0.2.1")},
		{Dst: netip.MustParsePrefix("203.0.113.0/24"), Dev: "vA0", Table: 100, Metric: 10},
		{Dst: netip.MustParsePrefix("2001:db8:ffff::/64"), Via: netip.MustParseAddr("2001:db8::2"), Dev: "vA0", Table: 100},
		{Dst: netip.MustParsePrefix("198.51.100.128/25"), Type: unix.RTN_BLACKHOLE, Table: 100},
	}
	rules := []Rule{
		{From: netip.MustParsePrefix("192.0.2.100/32"), Table: 100, Priority: 1000},
		{To: netip.MustParsePrefix("2001:db8:ffff::/64"), Table: 100, Priority: 1001},
	}
	l.in(l.ha, func() {
		for range 2 {
			for _, r := range routes {
				if err := k.AddRoute(r); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range rules {
				if err := k.AddRule(r); err != nil {
					t.Fatal(err)
				}
			}
		}
		listRoutes := func() map[string]netlink.Route {
			m := map[string]netlink.Route{}
			for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
				rs, err := netlink.RouteListFiltered(fam, &netlink.Route{Table: 100}, netlink.RT_FILTER_TABLE)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					m[r.Dst.String()] = r
				}
			}
			return m
		}
		got := listRoutes()
		if r, ok := got["198.51.100.0/24"]; !ok || !r.Gw.Equal(net.ParseIP("192.0.2.2")) || !r.Src.Equal(net.ParseIP("192.0.2.1")) {
			t.Errorf("route via: %+v", r)
		}
		if r, ok := got["203.0.113.0/24"]; !ok || r.Scope != netlink.SCOPE_LINK || r.Priority != 10 {
			t.Errorf("dev route: %+v", r)
		}
		if r, ok := got["2001:db8:ffff::/64"]; !ok || !r.Gw.Equal(net.ParseIP("2001:db8::2")) {
			t.Errorf("IPv6 route: %+v", r)
		}
		if r, ok := got["198.51.100.128/25"]; !ok || r.Type != unix.RTN_BLACKHOLE {
			t.Errorf("blackhole route: %+v", r)
		}
		countRules := func() int {
			n := 0
			for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
				rs, err := netlink.RuleList(fam)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					if r.Table == 100 && (r.Priority == 1000 || r.Priority == 1001) {
						n++
					}
				}
			}
			return n
		}
		if n := countRules(); n != 2 {
			t.Errorf("%d rules, want 2 (adding twice must not duplicate)", n)
		}
		for range 2 {
			for _, r := range routes {
				if err := k.DelRoute(r); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range rules {
				if err := k.DelRule(r); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := listRoutes(); len(got) != 0 {
			t.Errorf("routes left: %v", got)
		}
		if n := countRules(); n != 0 {
			t.Errorf("%d rules left", n)
		}
	})
}

// capture opens an AF_PACKET socket in B on vB0 for one EtherType.
func (l *lab) capture(etherType int) *packet.Conn {
	l.t.Helper()
	var c *packet.Conn
	var err error
	l.in(l.hb, func() {
		var ifi *net.Interface
		if ifi, err = net.InterfaceByName("vB0"); err != nil {
			return
		}
		c, err = packet.Listen(ifi, packet.Raw, etherType, nil)
	})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(wait))
	return c
}

func TestNetnsGratuitousARP(t *testing.T) {
	l := newLab(t)
	vip := netip.MustParseAddr("192.0.2.100")
	ia := l.iface(l.ha, "vA0")
	// Let B's kernel learn from gratuitous ARP too (only in B's namespace).
	run(t, "ip", "netns", "exec", l.b, "sysctl", "-qw", "net.ipv4.conf.vB0.arp_accept=1")
	capt := l.capture(unix.ETH_P_ARP)

	k := &Linux{}
	t.Cleanup(func() { k.Close() })
	defer k.Close()
	l.in(l.ha, func() {
		if err := k.AddAddress("vA0", Address{Prefix: netip.PrefixFrom(vip, 32)}); err != nil {
			t.Fatal(err)
		}
		if err := k.GratuitousARP("vA0", vip); err != nil {
			t.Fatal(err)
		}
	})

	seen := map[arp.Operation]bool{}
	buf := make([]byte, 1500)
	for !seen[arp.OperationRequest] || !seen[arp.OperationReply] {
		n, _, err := capt.ReadFrom(buf)
		if err != nil {
			t.Fatalf("waiting for GARP request and reply (seen %v): %v", seen, err)
		}
		var f ethernet.Frame
		if err := f.UnmarshalBinary(buf[:n]); err != nil {
			t.Fatal(err)
		}
		var p arp.Packet
		if err := p.UnmarshalBinary(f.Payload); err != nil {
			t.Fatal(err)
		}
		if p.SenderIP != vip {
			continue
		}
		if p.TargetIP != vip || !bytes.Equal(p.SenderHardwareAddr, ia.HardwareAddr) ||
			!bytes.Equal(f.Source, ia.HardwareAddr) || !bytes.Equal(f.Destination, ethernet.Broadcast) {
			t.Fatalf("GARP %+v in %v -> %v", p, f.Source, f.Destination)
		}
		seen[p.Operation] = true
	}

	// B's kernel accepted it: its neighbour table maps the VIP to A's MAC.
	deadline := time.Now().Add(wait)
	for {
		var mac net.HardwareAddr
		l.in(l.hb, func() {
			link, err := netlink.LinkByName("vB0")
			if err != nil {
				t.Fatal(err)
			}
			ns, err := netlink.NeighList(link.Attrs().Index, netlink.FAMILY_V4)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range ns {
				if n.IP.Equal(vip.AsSlice()) {
					mac = n.HardwareAddr
				}
			}
		})
		if bytes.Equal(mac, ia.HardwareAddr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's neighbour entry for %v is %v, want %v", vip, mac, ia.HardwareAddr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNetnsUnsolicitedNA(t *testing.T) {
	l := newLab(t)
	vip := netip.MustParseAddr("2001:db8::100")
	ia := l.iface(l.ha, "vA0")
	capt := l.capture(unix.ETH_P_IPV6)

	k := &Linux{}
	t.Cleanup(func() { k.Close() })
	defer k.Close()
	l.in(l.ha, func() {
		if err := k.AddAddress("vA0", Address{Prefix: netip.PrefixFrom(vip, 64)}); err != nil {
			t.Fatal(err)
		}
		if err := k.UnsolicitedNA("vA0", vip); err != nil {
			t.Fatal(err)
		}
	})

	buf := make([]byte, 1500)
	for {
		n, _, err := capt.ReadFrom(buf)
		if err != nil {
			t.Fatalf("waiting for the unsolicited NA: %v", err)
		}
		var f ethernet.Frame
		if err := f.UnmarshalBinary(buf[:n]); err != nil {
			t.Fatal(err)
		}
		ip := f.Payload
		if len(ip) < 41 || ip[6] != 58 || ip[40] != 136 {
			continue // not an NA (MLD reports, router solicitations, ...)
		}
		src, dst := netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40]))
		m, err := ndp.ParseMessage(ip[40:])
		if err != nil {
			t.Fatal(err)
		}
		na := m.(*ndp.NeighborAdvertisement)
		if na.TargetAddress != vip {
			continue
		}
		if ip[7] != 255 || dst != netip.MustParseAddr("ff02::1") || src != vip ||
			f.Destination.String() != "33:33:00:00:00:01" || !bytes.Equal(f.Source, ia.HardwareAddr) {
			t.Fatalf("NA hop limit %d %v -> %v, ethernet %v -> %v", ip[7], src, dst, f.Source, f.Destination)
		}
		if !na.Override || na.Solicited || na.Router {
			t.Fatalf("NA flags %+v, want Override only (A does not forward)", na)
		}
		if len(na.Options) != 1 {
			t.Fatalf("options %v", na.Options)
		}
		lla, ok := na.Options[0].(*ndp.LinkLayerAddress)
		if !ok || lla.Direction != ndp.Target || !bytes.Equal(lla.Addr, ia.HardwareAddr) {
			t.Fatalf("option %+v, want target link-layer address %v", na.Options[0], ia.HardwareAddr)
		}
		// The checksum: ndp computes the expected bytes independently.
		want, err := ndp.MarshalMessageChecksum(na, src, dst)
		if err != nil {
			t.Fatal(err)
		}
		if plen := int(ip[4])<<8 | int(ip[5]); !bytes.Equal(ip[40:40+plen], want) {
			t.Fatalf("ICMPv6\n got % x\nwant % x", ip[40:], want)
		}
		return
	}
}
