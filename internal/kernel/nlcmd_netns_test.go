//go:build linux

package kernel

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// cmdNetns makes a network namespace of its own holding a veth pair, c0
// (up) and c1, deleted when tb ends; nothing touches the root namespace.
func cmdNetns(tb testing.TB) (name string, h netns.NsHandle) {
	tb.Helper()
	testenv.RequireRoot(tb, "ip")
	name = fmt.Sprintf("kgk-nlcmd-%d-%d", os.Getpid(), labSeq.Add(1))
	ip := func(args ...string) {
		tb.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", name)
	tb.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			tb.Errorf("ip netns del %s: %v %s", name, err, out)
		}
	})
	ip("-n", name, "link", "add", "c0", "type", "veth", "peer", "name", "c1")
	ip("-n", name, "link", "set", "c0", "up")
	h, err := netns.GetFromName(name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return name, h
}

// inNetns runs f on this goroutine's thread switched into ns, as
// inNamespace does, for benchmarks too.
func inNetns(tb testing.TB, ns netns.NsHandle, f func()) {
	tb.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		tb.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		tb.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			tb.Errorf("restoring the namespace: %v", err)
			return // stays locked: the thread dies with the goroutine
		}
		runtime.UnlockOSThread()
	}()
	f()
}

// vips are n /32 addresses, 10.20.x.y.
func vips(n int) []Address {
	as := make([]Address, n)
	for i := range as {
		as[i] = Address{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}), 32)}
	}
	return as
}

// BenchmarkAddDelAddresses1000: one op adds 1,000 addresses to an
// interface through one Linux, then deletes them, as a backup with 1,000
// VIPs does at start (it removes them one by one) and a master at each
// transition.
func BenchmarkAddDelAddresses1000(b *testing.B) {
	_, ns := cmdNetns(b)
	as := vips(1000)
	inNetns(b, ns, func() {
		k := &Linux{}
		defer k.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			for _, a := range as {
				if err := k.AddAddress("c0", a); err != nil {
					b.Fatal(err)
				}
			}
			for _, a := range as {
				if err := k.DelAddress("c0", a); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestNetnsConcurrentAddressCommands: 16 goroutines add 40 addresses
// each to one interface through one Linux, and delete half of them, all
// at once on the one command socket; every call succeeds and the
// interface ends with exactly the addresses not deleted.
func TestNetnsConcurrentAddressCommands(t *testing.T) {
	_, ns := cmdNetns(t)
	k := &Linux{}
	t.Cleanup(func() { k.Close() })
	inNetns(t, ns, func() {
		if err := k.SetCommandBuffer(NetlinkBuffer{}); err != nil {
			t.Fatal(err)
		}
	})
	const workers, each = 16, 40
	as := vips(workers * each)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// In the namespace, whatever the command socket does: no
			// address may reach the root namespace. The thread stays
			// locked and dies with the goroutine.
			runtime.LockOSThread()
			if err := netns.Set(ns); err != nil {
				errs <- err
				return
			}
			mine := as[w*each : (w+1)*each]
			for _, a := range mine {
				if err := k.AddAddress("c0", a); err != nil {
					errs <- err
					return
				}
			}
			for _, a := range mine[:each/2] {
				if err := k.DelAddress("c0", a); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	var got []Address
	var err error
	inNetns(t, ns, func() { got, err = k.ListAddresses("c0") })
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Prefix]bool{}
	for w := range workers {
		for _, a := range as[w*each+each/2 : (w+1)*each] {
			want[a.Prefix] = true
		}
	}
	for _, a := range got {
		if a.Prefix.Addr().Is4() && !want[a.Prefix] {
			t.Errorf("%v is on c0, want it deleted", a.Prefix)
		}
		delete(want, a.Prefix)
	}
	if len(want) > 0 {
		t.Errorf("%d addresses missing from c0, e.g. %v", len(want), slices.Collect(maps.Keys(want))[0])
	}
}

// TestNetnsCommandSocketStaysInItsNamespace: the command socket is opened
// once, in the namespace of the thread that first needs it, and every
// later command goes there, whatever thread calls: an address added from
// a thread in another namespace lands on the first namespace's c0.
func TestNetnsCommandSocketStaysInItsNamespace(t *testing.T) {
	nameA, nsA := cmdNetns(t)
	nameB, nsB := cmdNetns(t)
	k := &Linux{}
	t.Cleanup(func() { k.Close() })
	vip := Address{Prefix: netip.MustParsePrefix("198.51.100.9/32")}
	inNetns(t, nsA, func() {
		if _, err := k.ListAddresses("c0"); err != nil {
			t.Fatal(err)
		}
	})
	inNetns(t, nsB, func() {
		if err := k.AddAddress("c0", vip); err != nil {
			t.Fatal(err)
		}
	})
	for _, c := range []struct {
		ns   string
		want bool
	}{{nameA, true}, {nameB, false}} {
		out, err := exec.Command("ip", "-n", c.ns, "-4", "-o", "addr", "show", "dev", "c0").CombinedOutput()
		if err != nil {
			t.Fatalf("ip: %v\n%s", err, out)
		}
		if got := strings.Contains(string(out), "198.51.100.9/32"); got != c.want {
			t.Errorf("namespace %s has %v: %v, want %v\n%s", c.ns, vip.Prefix, got, c.want, out)
		}
	}
}

// TestNetnsAddressCommandsAllocs: adding and deleting an address finds
// the interface without parsing its attributes (LinkByName made 126
// allocations per pair, 18 KB).
func TestNetnsAddressCommandsAllocs(t *testing.T) {
	_, ns := cmdNetns(t)
	a := Address{Prefix: netip.MustParsePrefix("198.51.100.10/32")}
	inNetns(t, ns, func() {
		k := &Linux{}
		defer k.Close()
		var err error
		allocs := testing.AllocsPerRun(50, func() {
			if err = k.AddAddress("c0", a); err == nil {
				err = k.DelAddress("c0", a)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if allocs > 60 {
			t.Errorf("an add and a delete: %.0f allocations, want at most 60", allocs)
		}
	})
}

// TestNetnsCommandBuffer: SetCommandBuffer sizes the command socket as
// keepalived's vrrp_netlink_cmd_rcv_bufs does (the kernel doubles the
// size; with Force beyond net.core.rmem_max), a socket opened after Close
// gets it too, and Size 0 gives back the kernel's default.
func TestNetnsCommandBuffer(t *testing.T) {
	_, ns := cmdNetns(t)
	inNetns(t, ns, func() {
		def := defaultNetlinkRcvbuf(t)
		k := &Linux{}
		defer k.Close()
		check := func(what string, want int) {
			t.Helper()
			got, err := k.CommandBuffer()
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: SO_RCVBUF reads %d, want %d", what, got, want)
			}
			k.cmdMu.RLock()
			defer k.cmdMu.RUnlock()
			if got, err := unix.GetsockoptInt(k.cmd.d.fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err != nil || got != want {
				t.Errorf("%s: the dump socket's SO_RCVBUF reads %d (%v), want %d", what, got, err, want)
			}
		}
		if err := k.SetCommandBuffer(NetlinkBuffer{Size: 100000}); err != nil {
			t.Fatal(err)
		}
		check("100000", 200000)
		if err := k.SetCommandBuffer(NetlinkBuffer{Size: 9000000, Force: true}); err != nil {
			t.Fatal(err)
		}
		check("9000000 forced", 18000000)
		k.Close()
		if _, err := k.ListAddresses("c0"); err != nil {
			t.Fatal(err)
		}
		check("reopened after Close", 18000000)
		if err := k.SetCommandBuffer(NetlinkBuffer{}); err != nil {
			t.Fatal(err)
		}
		check("unset", def)
	})
}

// defaultNetlinkRcvbuf is SO_RCVBUF of a fresh rtnetlink socket.
func defaultNetlinkRcvbuf(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNetnsAddressesWithBuffer: the checker's address listing runs on a
// socket of the receive buffer asked (lvs_netlink_cmd_rcv_bufs), and
// lists the namespace's addresses.
func TestNetnsAddressesWithBuffer(t *testing.T) {
	name, ns := cmdNetns(t)
	if out, err := exec.Command("ip", "-n", name, "addr", "add", "198.51.100.11/32", "dev", "c0").CombinedOutput(); err != nil {
		t.Fatalf("ip: %v\n%s", err, out)
	}
	var got []int
	addressesListed = func(h *netlink.Handle) { got, _ = h.GetSocketReceiveBufferSize() }
	t.Cleanup(func() { addressesListed = nil })
	var list []AddrEvent
	var err error
	inNetns(t, ns, func() { list, err = AddressesWith(NetlinkBuffer{Size: 100000}) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{200000}) {
		t.Errorf("the listing socket's SO_RCVBUF read %v, want [200000]", got)
	}
	if !slices.ContainsFunc(list, func(e AddrEvent) bool { return e.Addr == netip.MustParseAddr("198.51.100.11") && e.Index > 0 }) {
		t.Errorf("198.51.100.11 not listed: %v", list)
	}
}

// TestNetnsInterfaceByNameAsTheFullDump: InterfaceByName, whose address
// dump the kernel filters by interface, describes each interface as the
// full dump of the namespace's addresses did (primary IPv4 address,
// link-local address, a secondary or another interface's address never
// chosen), and costs nothing per address of other interfaces.
func TestNetnsInterfaceByNameAsTheFullDump(t *testing.T) {
	name, ns := cmdNetns(t)
	batch := []string{
		"addr add 192.0.2.10/24 dev c0 label c0:a",
		"addr add 192.0.2.11/24 dev c0",
		"addr add 10.9.9.9/32 dev c0",
		"addr add fe80::1/64 dev c0 nodad",
		"addr add 2001:db8::1/64 dev c0 nodad",
	}
	for _, a := range vips(1000) {
		batch = append(batch, "addr add "+a.Prefix.String()+" dev c1")
	}
	cmd := exec.Command("ip", "-n", name, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(batch, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v\n%s", err, out)
	}
	inNetns(t, ns, func() {
		k := &Linux{}
		defer k.Close()
		for _, ifname := range []string{"c0", "c1", "lo"} {
			got, err := k.InterfaceByName(ifname)
			if err != nil {
				t.Fatal(err)
			}
			want, err := interfaceByName(ifname) // the library's full dump
			if err != nil {
				t.Fatal(err)
			}
			if got.IPv4 != want.IPv4 || got.LinkLocal != want.LinkLocal || got.Index != want.Index || got.MTU != want.MTU ||
				got.Flags != want.Flags || got.OperUp != want.OperUp || !slices.Equal(got.HardwareAddr, want.HardwareAddr) {
				t.Errorf("%s: %+v, want %+v", ifname, got, want)
			}
			if ifname == "c0" && (got.IPv4 != netip.MustParseAddr("192.0.2.10") || !got.LinkLocal.IsLinkLocalUnicast()) {
				t.Errorf("c0: IPv4 %v, link-local %v; want 192.0.2.10 and one", got.IPv4, got.LinkLocal)
			}
		}
		if _, err := k.InterfaceByName("nosuch0"); !errors.Is(err, ErrNoInterface) {
			t.Errorf("nosuch0: %v, want ErrNoInterface", err)
		}
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := k.InterfaceByName("c0"); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 200 {
			t.Errorf("InterfaceByName(c0) beside 1,000 addresses on c1: %.0f allocations, want at most 200", allocs)
		}
	})
}
