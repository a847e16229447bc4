package vrrp

import (
	"net/netip"
	"testing"
	"time"
)

func TestStatusBeforeStart(t *testing.T) {
	cfg := v3Instance("VI_1", 100)
	cfg.Interface = "eth0"
	inst, err := NewInstance(cfg, discardNet{})
	if err != nil {
		t.Fatal(err)
	}
	st := inst.Status()
	if st.State != Init || !st.LastTransition.IsZero() || st.Interface != "eth0" || st.Name != "VI_1" {
		t.Fatalf("status before start: %+v", st)
	}
}

func TestStatusReportsTheRunningMaster(t *testing.T) {
	h := &hub{}
	cfgA := v3Instance("A", 150)
	cfgA.Interface = "eth0"
	cfgA.Excluded = []VIP{{Prefix: testVIP}}
	a := startRouter(t, h, "192.0.2.1", cfgA)
	b := startRouter(t, h, "192.0.2.2", v3Instance("B", 100))
	before := time.Now()
	eventually(t, "A is master and has sent adverts on its timer", func() bool {
		return a.inst.State() == Master && b.inst.State() == Backup && a.inst.Stats().TimerLateness.Snapshot().Count > 2
	})
	st := a.inst.Status()
	if st.State != Master || st.Priority != 150 || st.BasePriority != 150 || st.VRID != 51 || st.Version != 3 {
		t.Errorf("state %v priority %d/%d VRID %d version %d", st.State, st.Priority, st.BasePriority, st.VRID, st.Version)
	}
	if st.Interface != "eth0" || st.AdvertInt != 100*time.Millisecond || st.MasterAdverInt != 100*time.Millisecond {
		t.Errorf("interface %q advert_int %v master_adver_int %v", st.Interface, st.AdvertInt, st.MasterAdverInt)
	}
	if len(st.VIPs) != 1 || st.VIPs[0].Prefix != testVIP || len(st.Excluded) != 1 {
		t.Errorf("VIPs %v excluded %v", st.VIPs, st.Excluded)
	}
	if st.LastTransition.IsZero() || st.LastTransition.After(time.Now()) || st.LastTransition.Before(before.Add(-5*time.Second)) {
		t.Errorf("last transition %v, want a moment ago", st.LastTransition)
	}
	if st.Stats.BecomeMaster != 1 || st.Stats.AdvertSent == 0 || st.Stats.TimerLateness.Count == 0 {
		t.Errorf("stats %+v", st.Stats)
	}
	if bs := b.inst.Status(); bs.State != Backup || bs.Stats.AdvertRcvd == 0 {
		t.Errorf("B: state %v, adverts received %d", bs.State, bs.Stats.AdvertRcvd)
	}
}

func TestStatusFollowsTheEffectivePriority(t *testing.T) {
	inst, err := NewInstance(v3Instance("VI_1", 100), discardNet{})
	if err != nil {
		t.Fatal(err)
	}
	inst.Start()
	inst.SetPriority(80)
	if st := inst.Status(); st.Priority != 80 || st.BasePriority != 100 || st.State != Backup {
		t.Fatalf("priority %d base %d state %v, want 80, 100, BACKUP", st.Priority, st.BasePriority, st.State)
	}
	inst.stats.Dropped[DropTTL].Add(2)
	if got := inst.Status().Stats.Dropped[DropTTL]; got != 2 {
		t.Fatalf("dropped ip_ttl_err %d, want 2", got)
	}
}

// A reloaded instance goes on counting where the one it replaces stopped.
func TestInheritStatsAddsThePreviousCounters(t *testing.T) {
	h := &hub{}
	a := startRouter(t, h, "192.0.2.1", v3Instance("A", 150))
	eventually(t, "A is master and has sent adverts", func() bool {
		return a.inst.State() == Master && a.inst.Stats().AdvertSent.Load() >= 2
	})
	a.stop()
	prev := a.inst.Status().Stats
	next, err := NewInstance(v3Instance("A", 150), &hubNode{vips: map[netip.Prefix]bool{}})
	if err != nil {
		t.Fatal(err)
	}
	next.InheritStats(a.inst)
	got := next.Status().Stats
	if got.AdvertSent != prev.AdvertSent || got.BecomeMaster != 1 || got.Transitions != prev.Transitions ||
		got.TimerLateness.Count != prev.TimerLateness.Count || got.TimerLateness.Max != prev.TimerLateness.Max {
		t.Errorf("inherited %+v, want the previous %+v", got, prev)
	}
}
