//go:build linux

package nftables

// Through the kernel's nftables, in a network namespace of the test's
// own (no interface but lo: nothing is sent): the backend's batches
// fit one netlink send and their acknowledgements, and a syncer over it
// reads nothing back on an unchanged reload but still repairs a hand
// edit. Root and nft are needed.

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// newKernelLB makes a namespace (deleted at cleanup) and a load
// balancer in it.
func newKernelLB(t *testing.T) (*kernel.NFTLoadBalancer, string) {
	t.Helper()
	testenv.RequireRoot(t, "ip", "nft")
	name := fmt.Sprintf("kgnftb-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", name, err, out)
		}
	})
	var lb *kernel.NFTLoadBalancer
	err := lab.InNamespace(name, func() (err error) {
		lb, err = kernel.NewNFTLoadBalancer("")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	return lb, name
}

func TestKernelBatchesFitAndNoopReloadsReadNothing(t *testing.T) {
	lb, ns := newKernelLB(t)
	var want []lvs.Service
	// The most messages per service (fwmark services: an anonymous set
	// each) and the most bytes (256 IPv6 slots with ports).
	for i := range 3 * batchServices {
		want = append(want, lvs.Service{ServiceKey: lvs.FwmarkKey(6, uint32(i+1)), Scheduler: "rr", Method: "NAT",
			Dests: []lvs.Destination{{Addr: ap("[fd00::1]:80"), Weight: 1, Method: "NAT"}}})
	}
	for i := range 12 {
		s := lvs.Service{ServiceKey: lvs.AddrKey("tcp", netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}), 443)),
			Scheduler: "wrr", Method: "NAT"}
		// 256 slots from 64 servers (weights 3 and 5): the slots' bytes,
		// and the counters of 64 servers.
		for j := range 64 {
			s.Dests = append(s.Dests, lvs.Destination{Addr: netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 14: byte(j >> 8), 15: byte(j)}), 8443),
				Weight: 3 + 2*(j%2), Method: "NAT"})
		}
		want = append(want, s)
	}
	s := lvs.NewSyncer(New(lb), slog.New(slog.DiscardHandler))
	ctx := context.Background()
	gen := func() uint32 {
		t.Helper()
		g, err := lb.Generation()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g0 := gen()
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	// No batch fell back to one service per transaction: 3 batches of
	// fwmark services; the 256-slot services, with their 64 servers'
	// counters, two to a batch (6; 12 if they fell back).
	if n := gen() - g0; n != 9 {
		t.Fatalf("%d transactions for %d services, want 9", n, len(want))
	}
	check := func(when string) {
		t.Helper()
		got, err := New(lb).Observe(ctx) // a whole read
		if err != nil {
			t.Fatal(err)
		}
		var exp []lvs.Service
		for _, w := range want {
			e, _, _ := New(lb).Express(w)
			exp = append(exp, e)
		}
		if ops := lvs.Reconcile(exp, got); len(ops) != 0 {
			t.Fatalf("%s: the kernel differs: %v", when, ops[0])
		}
	}
	check("after the cold start")
	g1 := gen()
	r0 := lb.Requests()
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if n := lb.Requests() - r0; n != 1 || gen() != g1 {
		t.Fatalf("an unchanged reload sent %d requests (want 1: the generation)", n)
	}
	want[len(want)-1].Dests[7].Weight = 0 // inhibited: no new connections
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if n := gen() - g1; n != 1 {
		t.Fatalf("one changed server: %d transactions", n)
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "flush", "chain", "inet", kernel.DefaultLBTable, "vs-fwm-3-ip6").CombinedOutput()
	if err != nil {
		t.Fatalf("nft flush chain: %v %s", err, out)
	}
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	check("after the hand edit's repair")
}

// Persistent services through the syncer on the kernel: many in a cold
// start with no batch falling back to one service per transaction, read
// back equal, an unchanged reload reading nothing, an inhibited server
// (kept, idle) and a removed one each one transaction.
func TestKernelPersistentServices(t *testing.T) {
	lb, _ := newKernelLB(t)
	var want []lvs.Service
	for i := range 2 * batchServices {
		s := lvs.Service{ServiceKey: lvs.AddrKey("tcp", netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}), 80)),
			Scheduler: []string{"rr", "wrr", "sh"}[i%3], Method: "NAT", Persistence: 300, Granularity: 0xffffff00}
		for j := range 64 {
			s.Dests = append(s.Dests, lvs.Destination{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(j >> 8), byte(j + 1)}), 80),
				Weight: 1 + j%3, Method: "NAT"})
		}
		want = append(want, s)
	}
	v6 := lvs.Service{ServiceKey: lvs.FwmarkKey(6, 9), Scheduler: "rr", Method: "NAT", Persistence: 60, Granularity: 64,
		Dests: []lvs.Destination{{Addr: ap("[fd00::1]:0"), Weight: 1, Method: "NAT"}, {Addr: ap("[fd00::2]:0"), Weight: 0, Method: "NAT"}}}
	want = append(want, v6)
	s := lvs.NewSyncer(New(lb), slog.New(slog.DiscardHandler))
	ctx := context.Background()
	gen := func() uint32 {
		t.Helper()
		g, err := lb.Generation()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	check := func(when string) {
		t.Helper()
		got, err := New(lb).Observe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var exp []lvs.Service
		for _, w := range want {
			e, _, _ := New(lb).Express(w)
			exp = append(exp, e)
		}
		if ops := lvs.Reconcile(exp, got); len(ops) != 0 {
			t.Fatalf("%s: the kernel differs: %v", when, ops[0])
		}
	}
	g0 := gen()
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if n := gen() - g0; n > uint32(len(want)) {
		t.Fatalf("%d transactions for %d persistent services", n, len(want))
	}
	check("after the cold start")
	g1, r0 := gen(), lb.Requests()
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if n := lb.Requests() - r0; n != 1 || gen() != g1 {
		t.Fatalf("an unchanged reload sent %d requests (want 1: the generation)", n)
	}
	want[3].Dests[5].Weight = 0
	if err := s.Sync(ctx, want); err != nil || gen() != g1+1 {
		t.Fatalf("inhibited: %v, %d transactions", err, gen()-g1)
	}
	want[3].Dests = want[3].Dests[1:]
	if err := s.Sync(ctx, want); err != nil || gen() != g1+2 {
		t.Fatalf("removed: %v, %d transactions", err, gen()-g1)
	}
	check("after the changes")
}
