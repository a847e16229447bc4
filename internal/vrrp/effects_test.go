package vrrp

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// blockingNet is a network whose VIP changes hang until released, as a
// netlink call does when the kernel is slow to answer.
type blockingNet struct {
	discardNet
	release chan struct{}
	mu      sync.Mutex
	calls   []string
}

func (n *blockingNet) AddVIPs([]VIP) error    { return n.hang("add") }
func (n *blockingNet) RemoveVIPs([]VIP) error { return n.hang("remove") }

func (n *blockingNet) hang(what string) error {
	n.mu.Lock()
	n.calls = append(n.calls, what)
	n.mu.Unlock()
	<-n.release
	return nil
}

func advertFrom(t *testing.T, src string, priority int) Received {
	t.Helper()
	adv := Advert{Version: 3, VRID: 51, Priority: uint8(priority), Interval: 100 * time.Millisecond, Addrs: []netip.Addr{testVIP.Addr()}}
	s, dst := netip.MustParseAddr(src), netip.MustParseAddr("224.0.0.18")
	payload, err := adv.Marshal(s, dst, ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	return Received{Payload: payload, Src: s, Dst: dst, TTL: 255}
}

// A master that steps down on an advert removes its VIPs; the socket
// reader that delivered the advert must not wait for that netlink call,
// or every other instance behind the same socket misses its adverts.
func TestSteppingDownDoesNotHoldTheSocketReader(t *testing.T) {
	net := &blockingNet{release: make(chan struct{})}
	cfg := v3Instance("A", 100)
	cfg.Machine.InitialState = Master
	cfg.Source, cfg.Group = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("224.0.0.18")
	cfg.VIPs = []VIP{{Prefix: testVIP}}
	inst, err := NewInstance(cfg, net)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); inst.Run(ctx) }()
	defer func() { cancel(); close(net.release); <-done }()
	eventually(t, "A is master and adding its VIP", func() bool {
		net.mu.Lock()
		defer net.mu.Unlock()
		return inst.State() == Master && len(net.calls) == 1
	})

	delivered := make(chan struct{})
	go func() {
		inst.Deliver(advertFrom(t, "192.0.2.2", 200))
		inst.Deliver(advertFrom(t, "192.0.2.2", 200))
		close(delivered)
	}()
	select {
	case <-delivered:
	case <-time.After(2 * time.Second):
		t.Fatal("Deliver waited for a netlink call: the socket reader is held")
	}
	if inst.State() != Backup {
		t.Fatalf("state %v, want BACKUP", inst.State())
	}
}

// A transition hook may read the instance's status (a metrics update, a
// notify that reports the priority) without deadlocking.
func TestTransitionHookMayReadStatus(t *testing.T) {
	cfg := v3Instance("A", 100)
	cfg.Source, cfg.Group = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("224.0.0.18")
	seen := make(chan State, 4)
	var inst *Instance
	cfg.OnTransition = func(_, to State, _ int) { seen <- inst.Status().State }
	inst, err := NewInstance(cfg, discardNet{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); inst.Run(ctx) }()
	select {
	case st := <-seen:
		if st != Backup {
			t.Errorf("the hook saw %v, want BACKUP", st)
		}
		cancel()
		<-done
	case <-time.After(2 * time.Second):
		// The instance is stuck for good: leave it.
		t.Fatal("the transition hook never returned: Status deadlocked")
	}
}

// Effects run in the order the machine asked for them, and Run returns
// only once they have: the VIPs are gone when the daemon's stop returns.
func TestRunReturnsAfterTheEffects(t *testing.T) {
	h := &hub{}
	cfg := v3Instance("A", 100)
	cfg.Machine.InitialState = Master
	var mu sync.Mutex
	var order []State
	cfg.OnTransition = func(_, to State, _ int) { mu.Lock(); order = append(order, to); mu.Unlock() }
	a := startRouter(t, h, "192.0.2.1", cfg)
	eventually(t, "A holds the VIP", func() bool { return a.node.holds(testVIP) })
	a.stop()
	if a.node.holds(testVIP) {
		t.Fatal("Run returned with the VIP still installed")
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(order); n < 2 || order[n-2] != Master || order[n-1] != Stop {
		t.Fatalf("hooks saw %v, want them to end with MASTER, STOP", order)
	}
}
