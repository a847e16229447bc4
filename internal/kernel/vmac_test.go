//go:build linux

package kernel

// VMAC tests. The namespace tests need root; each builds two network
// namespaces, A (where the VMAC is made) and B (a peer), joined by a veth
// pair named eth0 on both sides:
//
//	A eth0 198.51.100.1/24 2001:db8:2::1/64  <->  B eth0 198.51.100.2/24 2001:db8:2::2/64
//
// The namespaces are deleted by t.Cleanup, also when a test fails. The
// expected values are those keepalived 2.2.7 produced in
// testdata/vmac/*.txt (see testdata/vmac/capture.sh).

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const vmacWait = 3 * time.Second

var vmacLabSeq atomic.Int64

type vmacLab struct {
	t      *testing.T
	a, b   string
	ha, hb netns.NsHandle
}

func vmacNeedRoot(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "VMAC tests need root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "VMAC tests need iproute2's ip"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: not skipping)")
	}
	t.Skip(why)
}

func vmacCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newVMACLab(t *testing.T) *vmacLab {
	t.Helper()
	vmacNeedRoot(t)
	n := vmacLabSeq.Add(1)
	l := &vmacLab{t: t, a: fmt.Sprintf("vmact-%d-%d-a", os.Getpid(), n), b: fmt.Sprintf("vmact-%d-%d-b", os.Getpid(), n)}
	for _, ns := range []string{l.a, l.b} {
		vmacCmd(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v %s", ns, err, out)
			}
		})
		vmacCmd(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
		vmacCmd(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	vmacCmd(t, "ip", "-n", l.a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", l.b)
	for _, c := range [][]string{{l.a, "198.51.100.1/24", "2001:db8:2::1/64"}, {l.b, "198.51.100.2/24", "2001:db8:2::2/64"}} {
		vmacCmd(t, "ip", "-n", c[0], "addr", "add", c[1], "dev", "eth0")
		vmacCmd(t, "ip", "-n", c[0], "addr", "add", c[2], "dev", "eth0", "nodad")
		vmacCmd(t, "ip", "-n", c[0], "link", "set", "eth0", "up")
	}
	var err error
	if l.ha, err = netns.GetFromName(l.a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.ha.Close() })
	if l.hb, err = netns.GetFromName(l.b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.hb.Close() })
	for _, h := range []netns.NsHandle{l.ha, l.hb} {
		l.waitFor(func() bool { return l.linkLocal(h, "eth0").IsValid() }, "a usable link-local address on eth0")
	}
	return l
}

// in runs f inside namespace ns (see inNamespace).
func (l *vmacLab) in(ns netns.NsHandle, f func()) {
	l.t.Helper()
	inNamespace(l.t, ns, f)
}

func (l *vmacLab) waitFor(cond func() bool, what string) {
	l.t.Helper()
	deadline := time.Now().Add(vmacWait)
	for !cond() {
		if time.Now().After(deadline) {
			l.t.Fatalf("no %s after %v", what, vmacWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *vmacLab) handle(ns netns.NsHandle) *netlink.Handle {
	l.t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(h.Close)
	return h
}

// linkLocal is the usable link-local address of an interface, if any.
func (l *vmacLab) linkLocal(ns netns.NsHandle, ifname string) netip.Addr {
	l.t.Helper()
	for _, a := range l.addrs(ns, ifname, netlink.FAMILY_V6) {
		if a.IP.IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
			ip, _ := netip.AddrFromSlice(a.IP)
			return ip
		}
	}
	return netip.Addr{}
}

func (l *vmacLab) addrs(ns netns.NsHandle, ifname string, family int) []netlink.Addr {
	l.t.Helper()
	h := l.handle(ns)
	link, err := h.LinkByName(ifname)
	if err != nil {
		l.t.Fatal(err)
	}
	as, err := h.AddrList(link, family)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		l.t.Fatal(err)
	}
	return as
}

// sysctl reads /proc/sys/net/<path> inside the named namespace.
func (l *vmacLab) sysctl(ns, path string) string {
	l.t.Helper()
	return strings.TrimSpace(vmacCmd(l.t, "ip", "netns", "exec", ns, "cat", "/proc/sys/net/"+path))
}

func (l *vmacLab) wantSysctls(ns string, want map[string]string) {
	l.t.Helper()
	for path, v := range want {
		if got := l.sysctl(ns, path); got != v {
			l.t.Errorf("%s: %s = %s, want %s", ns, path, got, v)
		}
	}
}

func (l *vmacLab) create(cfg VMACConfig) VMAC {
	l.t.Helper()
	var v VMAC
	var err error
	l.in(l.ha, func() { v, err = CreateVMAC(cfg) })
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { l.in(l.ha, func() { _ = v.Delete() }) })
	return v
}

func (l *vmacLab) delete(v VMAC) {
	l.t.Helper()
	var err error
	l.in(l.ha, func() { err = v.Delete() })
	if err != nil {
		l.t.Fatal(err)
	}
}

// wantMacvlan checks the VMAC link as keepalived makes it: a private
// macvlan on A's eth0 with the MAC, up, with addrgenmode none.
func (l *vmacLab) wantMacvlan(name string, mac net.HardwareAddr) *netlink.Macvlan {
	l.t.Helper()
	h := l.handle(l.ha)
	link, err := h.LinkByName(name)
	if err != nil {
		l.t.Fatal(err)
	}
	mv, ok := link.(*netlink.Macvlan)
	if !ok {
		l.t.Fatalf("%s is a %s, want macvlan", name, link.Type())
	}
	parent, err := h.LinkByName("eth0")
	if err != nil {
		l.t.Fatal(err)
	}
	a := mv.Attrs()
	if mv.Mode != netlink.MACVLAN_MODE_PRIVATE {
		l.t.Errorf("%s: macvlan mode %v, want private", name, mv.Mode)
	}
	if a.HardwareAddr.String() != mac.String() {
		l.t.Errorf("%s: MAC %v, want %v", name, a.HardwareAddr, mac)
	}
	if a.ParentIndex != parent.Attrs().Index {
		l.t.Errorf("%s: parent index %d, want eth0's %d", name, a.ParentIndex, parent.Attrs().Index)
	}
	if a.Flags&net.FlagUp == 0 {
		l.t.Errorf("%s is not up", name)
	}
	if got := l.sysctl(l.a, "ipv6/conf/"+name+"/addr_gen_mode"); got != "1" {
		l.t.Errorf("%s: addr_gen_mode %s, want 1 (none)", name, got)
	}
	return mv
}

func (l *vmacLab) wantGone(name string) {
	l.t.Helper()
	if _, err := l.handle(l.ha).LinkByName(name); err == nil {
		l.t.Errorf("%s still exists", name)
	}
}

// peerNeighMAC pings addr from B and returns B's neighbour entry for it.
func (l *vmacLab) peerNeighMAC(addr netip.Addr) string {
	l.t.Helper()
	vmacCmd(l.t, "ip", "netns", "exec", l.b, "ping", "-c", "1", "-W", "2", addr.String())
	out := vmacCmd(l.t, "ip", "-n", l.b, "neigh", "show", "to", addr.String(), "dev", "eth0")
	f := strings.Fields(out)
	for i := range f {
		if f[i] == "lladdr" && i+1 < len(f) {
			return f[i+1]
		}
	}
	l.t.Fatalf("B has no neighbour entry for %v: %q", addr, out)
	return ""
}

// arpReplies sends one ARP request for addr from B's eth0 and returns the
// sender MACs of the replies heard within half a second.
func (l *vmacLab) arpReplies(addr netip.Addr) []string {
	l.t.Helper()
	var macs []string
	l.in(l.hb, func() {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			l.t.Fatal(err)
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			l.t.Fatal(err)
		}
		defer c.Close()
		if err := c.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			l.t.Fatal(err)
		}
		if err := c.Request(addr); err != nil {
			l.t.Fatal(err)
		}
		for {
			p, _, err := c.Read()
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					l.t.Fatal(err)
				}
				return
			}
			if p.Operation == arp.OperationReply && p.SenderIP == addr {
				macs = append(macs, p.SenderHardwareAddr.String())
			}
		}
	})
	return macs
}

func TestVMACIPv4(t *testing.T) {
	l := newVMACLab(t)
	// Non-default parent values, to see them restored.
	vmacCmd(t, "ip", "netns", "exec", l.a, "sysctl", "-qw", "net.ipv4.conf.eth0.arp_ignore=2", "net.ipv4.conf.eth0.arp_filter=0")

	v := l.create(VMACConfig{Parent: "eth0", VRID: 51})
	const mac = "00:00:5e:00:01:33"
	if v.Name() != "vrrp.51" || v.HardwareAddr().String() != mac || v.Parent() != "eth0" {
		t.Fatalf("VMAC %s %v on %s, want vrrp.51 %s on eth0", v.Name(), v.HardwareAddr(), v.Parent(), mac)
	}
	mv := l.wantMacvlan("vrrp.51", v.HardwareAddr())
	if v.Index() != mv.Attrs().Index {
		t.Errorf("Index %d, want %d", v.Index(), mv.Attrs().Index)
	}
	l.wantSysctls(l.a, map[string]string{
		"ipv4/conf/vrrp.51/arp_ignore":          "1",
		"ipv4/conf/vrrp.51/accept_local":        "1",
		"ipv4/conf/vrrp.51/rp_filter":           "0",
		"ipv4/conf/vrrp.51/promote_secondaries": "1",
		"ipv6/conf/vrrp.51/disable_ipv6":        "1",
		"ipv4/conf/eth0/arp_ignore":             "1",
		"ipv4/conf/eth0/arp_filter":             "1",
	})
	if as := l.addrs(l.ha, "vrrp.51", netlink.FAMILY_V6); len(as) != 0 {
		t.Errorf("IPv4 VMAC has IPv6 addresses: %v", as)
	}

	// Idempotent: the same VMAC again; a wrong MAC is put right.
	var again VMAC
	var err error
	l.in(l.ha, func() { again, err = CreateVMAC(VMACConfig{Parent: "eth0", VRID: 51}) })
	if err != nil || again.Index() != v.Index() {
		t.Fatalf("CreateVMAC again: index %d, %v; want reuse of %d", again.Index(), err, v.Index())
	}
	vmacCmd(t, "ip", "-n", l.a, "link", "set", "vrrp.51", "address", "02:00:00:00:00:01")
	l.in(l.ha, func() { again, err = CreateVMAC(VMACConfig{Parent: "eth0", VRID: 51}) })
	if err != nil {
		t.Fatal(err)
	}
	mv = l.wantMacvlan("vrrp.51", v.HardwareAddr())
	if again.Index() != mv.Attrs().Index {
		t.Errorf("Index %d after recreation, want %d", again.Index(), mv.Attrs().Index)
	}

	// A VIP on the VMAC answers ARP with the virtual MAC; eth0
	// (arp_ignore=1) stays silent.
	vip := netip.MustParseAddr("198.51.100.100")
	l.in(l.ha, func() { err = (&Linux{}).AddAddress("vrrp.51", Address{Prefix: netip.PrefixFrom(vip, 24)}) })
	if err != nil {
		t.Fatal(err)
	}
	if got := l.arpReplies(vip); len(got) != 1 || got[0] != mac {
		t.Errorf("ARP replies for %v: %v, want just %s", vip, got, mac)
	}
	// The ping's echo replies leave through eth0 (the first connected
	// route), and if A has to resolve B on eth0 first, its ARP request
	// says "VIP is at eth0's MAC" and B overwrites its entry: keepalived
	// 2.2.7 shows the same (testdata/vmac/ipv4.txt). A master that already
	// knows B on eth0, as a busy one does, sends no such request.
	vmacCmd(t, "ip", "netns", "exec", l.a, "ping", "-c", "1", "-W", "2", "-I", "eth0", "198.51.100.2")
	if got := l.peerNeighMAC(vip); got != mac {
		t.Errorf("B's neighbour entry for %v: %s, want %s", vip, got, mac)
	}

	l.delete(v)
	l.wantGone("vrrp.51")
	l.wantSysctls(l.a, map[string]string{"ipv4/conf/eth0/arp_ignore": "2", "ipv4/conf/eth0/arp_filter": "0"})
	l.delete(v) // a second Delete does nothing
	l.delete(again)
}

func TestVMACIPv6(t *testing.T) {
	l := newVMACLab(t)
	parentLL := l.linkLocal(l.ha, "eth0")

	v := l.create(VMACConfig{Parent: "eth0", VRID: 52, Family: 6})
	const mac = "00:00:5e:00:02:34"
	if v.Name() != "vrrp.52" || v.HardwareAddr().String() != mac {
		t.Fatalf("VMAC %s %v, want vrrp.52 %s", v.Name(), v.HardwareAddr(), mac)
	}
	l.wantMacvlan("vrrp.52", v.HardwareAddr())
	// keepalived sets no IPv4 sysctl for an IPv6 VMAC, on it or the parent.
	l.wantSysctls(l.a, map[string]string{
		"ipv6/conf/vrrp.52/disable_ipv6": "0",
		"ipv4/conf/vrrp.52/accept_local": "0",
		"ipv4/conf/vrrp.52/arp_ignore":   "0",
		"ipv4/conf/eth0/arp_ignore":      "0",
		"ipv4/conf/eth0/arp_filter":      "0",
	})
	// Its only IPv6 address: the parent's link-local address, nodad and
	// deprecated, as keepalived adds it.
	as := l.addrs(l.ha, "vrrp.52", netlink.FAMILY_V6)
	if len(as) != 1 {
		t.Fatalf("vrrp.52 IPv6 addresses %v, want just %v/64", as, parentLL)
	}
	ip, _ := netip.AddrFromSlice(as[0].IP)
	ones, _ := as[0].Mask.Size()
	if ip != parentLL || ones != 64 || as[0].Flags&unix.IFA_F_NODAD == 0 || as[0].Flags&unix.IFA_F_DEPRECATED == 0 {
		t.Errorf("vrrp.52 address %v/%d flags %#x, want %v/64 nodad deprecated", ip, ones, as[0].Flags, parentLL)
	}
	if v.LinkLocal() != parentLL {
		t.Errorf("LinkLocal %v, want %v", v.LinkLocal(), parentLL)
	}

	vip := netip.MustParseAddr("2001:db8:2::100")
	var err error
	l.in(l.ha, func() { err = (&Linux{}).AddAddress("vrrp.52", Address{Prefix: netip.PrefixFrom(vip, 64)}) })
	if err != nil {
		t.Fatal(err)
	}
	if got := l.peerNeighMAC(vip); got != mac {
		t.Errorf("B's neighbour entry for %v: %s, want %s", vip, got, mac)
	}

	l.delete(v)
	l.wantGone("vrrp.52")
}

func TestVMACSharedParentAndRPFilter(t *testing.T) {
	l := newVMACLab(t)
	vmacCmd(t, "ip", "netns", "exec", l.a, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1",
		"net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0", "net.ipv4.conf.lo.rp_filter=0")

	v1 := l.create(VMACConfig{Parent: "eth0", VRID: 1})
	v2 := l.create(VMACConfig{Parent: "eth0", VRID: 2})
	// keepalived's clear_rp_filter: everything raised to all's 1, then all=0.
	l.wantSysctls(l.a, map[string]string{
		"ipv4/conf/all/rp_filter":     "0",
		"ipv4/conf/default/rp_filter": "1",
		"ipv4/conf/eth0/rp_filter":    "1",
		"ipv4/conf/lo/rp_filter":      "1",
		"ipv4/conf/vrrp.1/rp_filter":  "0",
		"ipv4/conf/vrrp.2/rp_filter":  "0",
		"ipv4/conf/eth0/arp_ignore":   "1",
		"ipv4/conf/eth0/arp_filter":   "1",
	})

	l.delete(v1)
	l.wantGone("vrrp.1")
	l.wantSysctls(l.a, map[string]string{ // vrrp.2 still needs them
		"ipv4/conf/all/rp_filter":   "0",
		"ipv4/conf/eth0/arp_ignore": "1",
		"ipv4/conf/eth0/arp_filter": "1",
	})
	l.delete(v2)
	l.wantGone("vrrp.2")
	l.wantSysctls(l.a, map[string]string{
		"ipv4/conf/all/rp_filter":     "1",
		"ipv4/conf/default/rp_filter": "0",
		"ipv4/conf/eth0/rp_filter":    "0",
		"ipv4/conf/lo/rp_filter":      "0",
		"ipv4/conf/eth0/arp_ignore":   "0",
		"ipv4/conf/eth0/arp_filter":   "0",
	})
}

func TestVMACExistingInterfaces(t *testing.T) {
	l := newVMACLab(t)
	// Not a macvlan: refused and left alone.
	vmacCmd(t, "ip", "-n", l.a, "link", "add", "vrrp.9", "type", "veth", "peer", "name", "vrrp9peer")
	var err error
	l.in(l.ha, func() { _, err = CreateVMAC(VMACConfig{Parent: "eth0", VRID: 9}) })
	if !errors.Is(err, ErrVMACConflict) {
		t.Errorf("CreateVMAC over a veth: %v, want ErrVMACConflict", err)
	}
	if _, err := l.handle(l.ha).LinkByName("vrrp.9"); err != nil {
		t.Errorf("the veth vrrp.9 is gone: %v", err)
	}

	// A correct one left behind (a crash) is reused.
	vmacCmd(t, "ip", "-n", l.a, "link", "add", "link", "eth0", "name", "vrrp.7", "address", "00:00:5e:00:01:07", "type", "macvlan", "mode", "private")
	old, err := l.handle(l.ha).LinkByName("vrrp.7")
	if err != nil {
		t.Fatal(err)
	}
	v7 := l.create(VMACConfig{Parent: "eth0", VRID: 7})
	if v7.Index() != old.Attrs().Index {
		t.Errorf("vrrp.7 recreated (index %d, was %d), want reused", v7.Index(), old.Attrs().Index)
	}
	l.wantMacvlan("vrrp.7", v7.HardwareAddr())

	// A wrong mode is put right.
	vmacCmd(t, "ip", "-n", l.a, "link", "add", "link", "eth0", "name", "vrrp.8", "address", "00:00:5e:00:01:08", "type", "macvlan", "mode", "bridge")
	v8 := l.create(VMACConfig{Parent: "eth0", VRID: 8})
	l.wantMacvlan("vrrp.8", v8.HardwareAddr())

	// use_vmac NAME MAC with 5 octets: the VRID is the sixth.
	v10 := l.create(VMACConfig{Parent: "eth0", VRID: 10, Name: "vip-vmac", MAC: net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20}})
	l.wantMacvlan("vip-vmac", net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 10})

	for _, v := range []VMAC{v7, v8, v10} {
		l.delete(v)
		l.wantGone(v.Name())
	}
	l.wantSysctls(l.a, map[string]string{"ipv4/conf/eth0/arp_ignore": "0", "ipv4/conf/eth0/arp_filter": "0"})
}

func TestVMACConfigValues(t *testing.T) {
	if got := VMACName("vrrp", 51); got != "vrrp.51" {
		t.Errorf("VMACName = %q", got)
	}
	if got := VMACName("averyveryverylongprefix", 255); got != "averyveryve.255" || len(got) != 15 {
		t.Errorf("VMACName long = %q", got)
	}
	for _, c := range []struct {
		cfg  VMACConfig
		want string
	}{
		{VMACConfig{VRID: 1}, "00:00:5e:00:01:01"},
		{VMACConfig{VRID: 255, Family: 6}, "00:00:5e:00:02:ff"},
		{VMACConfig{VRID: 3, MAC: net.HardwareAddr{2, 1, 1, 1, 1}}, "02:01:01:01:01:03"},
		{VMACConfig{VRID: 3, MAC: net.HardwareAddr{2, 1, 1, 1, 1, 9}}, "02:01:01:01:01:09"},
	} {
		got, err := VMACHardwareAddr(c.cfg)
		if err != nil || got.String() != c.want {
			t.Errorf("VMACHardwareAddr(%+v) = %v, %v; want %s", c.cfg, got, err, c.want)
		}
	}
	for _, cfg := range []VMACConfig{
		{VRID: 1},
		{Parent: "eth0", VRID: 0},
		{Parent: "eth0", VRID: 256},
		{Parent: "eth0", VRID: 1, Family: 5},
		{Parent: "eth0", VRID: 1, MAC: net.HardwareAddr{1, 2, 3, 4}},
		{Parent: "eth0", VRID: 1, MAC: net.HardwareAddr{1, 0, 0x5e, 0, 1}}, // multicast
		{Parent: "eth0", VRID: 1, Name: "sixteen-chars-xx"},
		{Parent: "eth0", VRID: 1, Name: "eth0"},
		{Parent: "eth0", VRID: 1, Family: 6, Source: netip.MustParseAddr("192.0.2.1")},
	} {
		if _, err := CreateVMAC(cfg); err == nil {
			t.Errorf("CreateVMAC(%+v) accepted", cfg)
		}
	}
	if got := eui64LinkLocal(net.HardwareAddr{0x2e, 0x88, 0xb1, 0x3a, 0x6b, 0x2d}); got != netip.MustParseAddr("fe80::2c88:b1ff:fe3a:6b2d") {
		t.Errorf("eui64LinkLocal = %v", got)
	}
}
