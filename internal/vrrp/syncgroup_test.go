package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// groupRouter is a node running several instances, in a sync group or
// not, on the in-memory hub.
type groupRouter struct {
	node  *hubNode
	insts []*Instance
	group *SyncGroup

	mu          sync.Mutex
	transitions []string // the group's, "FROM>TO"
}

// vridVIP is the VIP of the instance with VRID vrid.
func vridVIP(vrid int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + vrid)}), 32)
}

// groupInstance is a VRRPv3 instance at 100 ms for VRID vrid.
func groupInstance(vrid, prio int) InstanceConfig {
	c := v3Instance(fmt.Sprintf("VI_%d", vrid), prio)
	c.Machine.VRID = vrid
	c.VIPs = []VIP{{Prefix: vridVIP(vrid)}}
	return c
}

// startGroupRouter runs cfgs on one node of h, in one sync group if
// synced, and stops them when the test ends.
func startGroupRouter(t *testing.T, h *hub, addr string, synced bool, cfgs ...InstanceConfig) *groupRouter {
	t.Helper()
	return startGroupRouterAs(t, h, addr, synced, Init, cfgs...)
}

// startGroupRouterAs is startGroupRouter for a router whose instances
// resume state prev after a reload (Init: none), its group too.
func startGroupRouterAs(t *testing.T, h *hub, addr string, synced bool, prev State, cfgs ...InstanceConfig) *groupRouter {
	t.Helper()
	src := netip.MustParseAddr(addr)
	r := &groupRouter{node: &hubNode{hub: h, src: src, vips: map[netip.Prefix]bool{}}}
	if synced {
		initial := Backup
		if prev == Master {
			initial = Master
		}
		r.group = NewSyncGroup("G", initial, nil, func(from, to State) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.transitions = append(r.transitions, from.String()+">"+to.String())
		})
	}
	for _, cfg := range cfgs {
		cfg.Source, cfg.Machine.PrimaryAddr = src, src
		cfg.Group = netip.MustParseAddr("224.0.0.18")
		cfg.SyncGroup = r.group
		inst, err := NewInstance(cfg, r.node)
		if err != nil {
			t.Fatal(err)
		}
		r.insts = append(r.insts, inst)
	}
	r.node.demux = NewDemux(r.insts...)
	r.node.inbox = make(chan Received, 256)
	h.mu.Lock()
	h.nodes = append(h.nodes, r.node)
	h.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	quit, received := make(chan struct{}), make(chan struct{})
	go r.node.receive(quit, received)
	if r.group != nil {
		wg.Add(1)
		go func() { defer wg.Done(); r.group.Run(ctx) }()
	}
	for _, inst := range r.insts {
		if prev != Init {
			inst.Resume(prev, nil)
		}
		wg.Add(1)
		go func() { defer wg.Done(); inst.Run(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait(); close(quit); <-received })
	return r
}

// states is the members' states, e.g. "MASTER MASTER".
func (r *groupRouter) states() string {
	s := ""
	for i, in := range r.insts {
		if i > 0 {
			s += " "
		}
		s += in.State().String()
	}
	return s
}

func (r *groupRouter) groupTransitions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.transitions...)
}

// TestSyncGroupFaultMovesEveryMember: A is master of VRIDs 1 and 2 in a
// sync group; a fault of its VRID 1 instance alone puts both in FAULT, so
// B takes both over; when the fault clears, A takes both back.
func TestSyncGroupFaultMovesEveryMember(t *testing.T) {
	h := &hub{}
	a := startGroupRouter(t, h, "192.0.2.1", true, groupInstance(1, 150), groupInstance(2, 150))
	b := startGroupRouter(t, h, "192.0.2.2", true, groupInstance(1, 100), groupInstance(2, 100))
	eventually(t, "A masters both", func() bool { return a.states() == "MASTER MASTER" && b.states() == "BACKUP BACKUP" })
	a.insts[0].SetFault(true)
	eventually(t, "A's group is in FAULT and B masters both", func() bool {
		return a.states() == "FAULT FAULT" && b.states() == "MASTER MASTER" &&
			!a.node.holds(vridVIP(2)) && b.node.holds(vridVIP(1)) && b.node.holds(vridVIP(2))
	})
	a.insts[0].SetFault(false)
	eventually(t, "A masters both again", func() bool { return a.states() == "MASTER MASTER" && b.states() == "BACKUP BACKUP" })
	want := []string{"BACKUP>MASTER", "MASTER>FAULT", "FAULT>BACKUP", "BACKUP>MASTER"}
	if got := a.groupTransitions(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("A's group went %v, want %v", got, want)
	}
}

// TestSyncGroupWaitsForEveryMember: C is master of VRID 2 only, so A's
// group stays backup for both VRIDs (VRID 1 has no master: that is the
// price of all-or-nothing, as in keepalived); when C dies, A takes both.
func TestSyncGroupWaitsForEveryMember(t *testing.T) {
	h := &hub{}
	c := startGroupRouter(t, h, "192.0.2.3", false, groupInstance(2, 200))
	eventually(t, "C masters VRID 2", func() bool { return c.states() == "MASTER" })
	a := startGroupRouter(t, h, "192.0.2.1", true, groupInstance(1, 150), groupInstance(2, 150))
	time.Sleep(time.Second) // many Master_Down_Intervals (about 0.4 s)
	if s := a.states(); s != "BACKUP BACKUP" {
		t.Fatalf("A's group is %s while C masters VRID 2, want BACKUP BACKUP", s)
	}
	if !a.insts[0].wantMaster.Load() || a.insts[1].wantMaster.Load() {
		t.Errorf("VRID 1 wants master %v (want true), VRID 2 %v (want false: it hears C)",
			a.insts[0].wantMaster.Load(), a.insts[1].wantMaster.Load())
	}
	c.node.setCut(true)
	eventually(t, "A masters both once C is gone", func() bool {
		return a.states() == "MASTER MASTER" && a.node.holds(vridVIP(1)) && a.node.holds(vridVIP(2))
	})
}

// TestSyncGroupMasterSteppingDownTakesTheOthers: D (priority 200 for
// VRID 1 only) preempts A's VRID 1; A's VRID 2 steps down with it.
func TestSyncGroupMasterSteppingDownTakesTheOthers(t *testing.T) {
	h := &hub{}
	a := startGroupRouter(t, h, "192.0.2.1", true, groupInstance(1, 150), groupInstance(2, 150))
	eventually(t, "A masters both", func() bool { return a.states() == "MASTER MASTER" })
	startGroupRouter(t, h, "192.0.2.4", false, groupInstance(1, 200))
	eventually(t, "A steps down on both", func() bool {
		return a.states() == "BACKUP BACKUP" && !a.node.holds(vridVIP(2))
	})
}

// Without a sync group the same topology leaves A master of VRID 2: the
// group, not the instances, made the difference above.
func TestWithoutSyncGroupInstancesMoveAlone(t *testing.T) {
	h := &hub{}
	a := startGroupRouter(t, h, "192.0.2.1", false, groupInstance(1, 150), groupInstance(2, 150))
	eventually(t, "A masters both", func() bool { return a.states() == "MASTER MASTER" })
	startGroupRouter(t, h, "192.0.2.4", false, groupInstance(1, 200))
	eventually(t, "A steps down on VRID 1 only", func() bool { return a.states() == "BACKUP MASTER" })
}

// A group whose members resumed as masters after a reload is a master
// group: when one member steps down, the others follow, and the reload
// itself notified nothing.
func TestSyncGroupResumedAsMaster(t *testing.T) {
	h := &hub{}
	a := startGroupRouterAs(t, h, "192.0.2.1", true, Master, groupInstance(1, 150), groupInstance(2, 150))
	if s := a.states(); s != "MASTER MASTER" {
		t.Fatalf("resumed as %s", s)
	}
	startGroupRouter(t, h, "192.0.2.4", false, groupInstance(1, 200))
	eventually(t, "A steps down on both", func() bool { return a.states() == "BACKUP BACKUP" })
	// The group's notification comes after its members' (keepalived's
	// order), from the group's goroutine: it may not be there yet.
	eventually(t, "A's group follows", func() bool { return len(a.groupTransitions()) > 0 })
	if got := a.groupTransitions(); fmt.Sprint(got) != "[MASTER>BACKUP]" {
		t.Errorf("A's group went %v, want only [MASTER>BACKUP]", got)
	}
}

// TestSyncGroupNotifiesAfterItsMembers: keepalived's order of
// notifications (vrrp_init_state, vrrp_sync.c): at start the group
// enters BACKUP before its members, or after them when a member waits
// for a script; when they move, the group's notification comes after
// every member's; at stop, last.
func TestSyncGroupNotifiesAfterItsMembers(t *testing.T) {
	for _, waitScripts := range []bool{false, true} {
		t.Run(fmt.Sprintf("waitScripts=%v", waitScripts), func(t *testing.T) { syncGroupNotifiesAfterItsMembers(t, waitScripts) })
	}
}

func syncGroupNotifiesAfterItsMembers(t *testing.T, waitScripts bool) {
	var mu sync.Mutex
	var seq []string
	record := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		seq = append(seq, s)
	}
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seq...)
	}
	g := NewSyncGroup("G", Backup, nil, func(_, to State) { record("G " + to.String()) })
	node := &hubNode{hub: &hub{}, src: netip.MustParseAddr("192.0.2.1"), vips: map[netip.Prefix]bool{}}
	var insts []*Instance
	for vrid := 1; vrid <= 2; vrid++ {
		cfg := groupInstance(vrid, 150)
		cfg.Source, cfg.Machine.PrimaryAddr = node.src, node.src
		cfg.Group = netip.MustParseAddr("224.0.0.18")
		cfg.SyncGroup = g
		name := cfg.Name
		cfg.OnTransition = func(_, to State, _ int) {
			time.Sleep(5 * time.Millisecond) // a slow hook must not let the group's overtake it
			record(name + " " + to.String())
		}
		inst, err := NewInstance(cfg, node)
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, inst)
	}
	if !waitScripts {
		g.Begin(false)
	} else {
		for _, inst := range insts {
			inst.Start()
		}
		g.Begin(true)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); g.Run(ctx) }()
	for _, inst := range insts {
		wg.Add(1)
		go func() { defer wg.Done(); inst.Run(ctx) }()
	}
	eventually(t, "the group notifies MASTER", func() bool { return slices.Contains(got(), "G MASTER") })
	cancel()
	wg.Wait()
	g.Stop()
	s := got()
	if len(s) != 9 {
		t.Fatalf("notifications %q, want 9", s)
	}
	// Which member moves first is timing; sort each run of members.
	want := []string{"G BACKUP", "VI_1 BACKUP", "VI_2 BACKUP", "VI_1 MASTER", "VI_2 MASTER", "G MASTER",
		"VI_1 STOP", "VI_2 STOP", "G STOP"}
	runs := [][2]int{{1, 3}, {3, 5}, {6, 8}}
	if waitScripts {
		want[0], want[1], want[2] = "VI_1 BACKUP", "VI_2 BACKUP", "G BACKUP"
		runs[0] = [2]int{0, 2}
	}
	for _, run := range runs {
		slices.Sort(s[run[0]:run[1]])
	}
	if !slices.Equal(s, want) {
		t.Fatalf("notifications %q, want %q", s, want)
	}
}
