package vrrp

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/latency"
)

// InstanceStatus is a read-only snapshot of an instance, for the status
// API, the metrics and keepalived.json.
type InstanceStatus struct {
	Name      string
	VRID      int
	Version   int
	Interface string // InstanceConfig.Interface
	State     State
	// Priority is the effective priority (base plus tracking weights);
	// BasePriority is the configured one.
	Priority, BasePriority int
	// AdvertInt is our advert interval; MasterAdverInt the current
	// master's, as learned from its adverts (VRRPv3), else ours.
	AdvertInt, MasterAdverInt time.Duration
	Preempt                   bool
	PreemptDelay              time.Duration
	LowerPrioNoAdvert         bool
	HigherPrioSendAdvert      bool
	AuthType                  uint8
	VIPs                      []VIP // advertised
	Excluded                  []VIP // installed, not advertised
	Announce                  AnnounceConfig
	// LastTransition is when the state last changed; zero before Start.
	LastTransition time.Time
	Stats          StatsSnapshot
}

// StatsSnapshot is a copy of an instance's Stats.
type StatsSnapshot struct {
	AdvertRcvd, AdvertSent      uint64
	BecomeMaster, ReleaseMaster uint64
	Transitions                 uint64
	PriZeroRcvd, PriZeroSent    uint64
	AddrListErr                 uint64
	SendErrors                  uint64
	Dropped                     [len(dropReasonNames)]uint64 // by DropReason
	TimerLateness               latency.Snapshot
}

// Snapshot copies the counters. Each is read atomically; together they
// are not one instant, which counters do not need.
func (s *Stats) Snapshot() StatsSnapshot {
	out := StatsSnapshot{
		AdvertRcvd: s.AdvertRcvd.Load(), AdvertSent: s.AdvertSent.Load(),
		BecomeMaster: s.BecomeMaster.Load(), ReleaseMaster: s.ReleaseMaster.Load(),
		Transitions: s.Transitions.Load(),
		PriZeroRcvd: s.PriZeroRcvd.Load(), PriZeroSent: s.PriZeroSent.Load(),
		AddrListErr: s.AddrListErr.Load(), SendErrors: s.SendErrors.Load(),
		TimerLateness: s.TimerLateness.Snapshot(),
	}
	for i := range s.Dropped {
		out.Dropped[i] = s.Dropped[i].Load()
	}
	return out
}

// Status returns a snapshot of the instance; safe from any goroutine,
// the hooks' included. It holds the lock only to read the machine, so a
// scrape never delays an advert for long.
func (in *Instance) Status() InstanceStatus {
	st := InstanceStatus{
		Name: in.cfg.Name, Interface: in.cfg.Interface, AuthType: in.cfg.AuthType,
		VIPs: slices.Clone(in.cfg.VIPs), Excluded: slices.Clone(in.cfg.Excluded), Announce: in.cfg.Announce,
		Stats: in.stats.Snapshot(),
	}
	if ns := in.lastTransition.Load(); ns != 0 {
		st.LastTransition = time.Unix(0, ns)
	}
	in.mu.Lock()
	mc := in.m.Config() // after NewMachine's normalizations (the owner always preempts)
	st.State, st.Priority, st.MasterAdverInt = in.m.State(), in.m.Priority(), in.m.MasterAdverInt()
	in.mu.Unlock()
	st.VRID, st.Version, st.BasePriority, st.AdvertInt = mc.VRID, mc.Version, mc.Priority, mc.AdvertInt
	st.Preempt, st.PreemptDelay = mc.Preempt, mc.PreemptDelay
	st.LowerPrioNoAdvert, st.HigherPrioSendAdvert = mc.LowerPrioNoAdvert, mc.HigherPrioSendAdvert
	return st
}

// InheritStats adds prev's counters to the instance's: the instance that
// replaces prev at a reload goes on counting, so that keepalived.stats
// and the metrics' counters do not fall back to zero. It keeps prev's
// IPsec-AH sequence counter too, as keepalived's reload does. Call it
// before the instance starts.
func (in *Instance) InheritStats(prev *Instance) {
	s, p := &in.stats, &prev.stats
	for _, c := range []struct{ to, from *atomic.Uint64 }{
		{&s.AdvertRcvd, &p.AdvertRcvd}, {&s.AdvertSent, &p.AdvertSent},
		{&s.BecomeMaster, &p.BecomeMaster}, {&s.ReleaseMaster, &p.ReleaseMaster},
		{&s.Transitions, &p.Transitions},
		{&s.PriZeroRcvd, &p.PriZeroRcvd}, {&s.PriZeroSent, &p.PriZeroSent},
		{&s.AddrListErr, &p.AddrListErr}, {&s.SendErrors, &p.SendErrors},
	} {
		c.to.Add(c.from.Load())
	}
	for i := range s.Dropped {
		s.Dropped[i].Add(p.Dropped[i].Load())
	}
	s.TimerLateness.Merge(&p.TimerLateness)
	in.inheritAH(prev)
}
