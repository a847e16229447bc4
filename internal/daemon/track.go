package daemon

import (
	"log/slog"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

func init() {
	for _, kw := range []string{"track_interface", "dont_track_primary"} {
		implemented[kw] = true
	}
}

// trackedLink is one interface an instance watches, with keepalived's
// weight rules: without a weight (or weight 0) the interface going down
// puts the instance in FAULT; a positive weight is added while it is up,
// a negative one subtracted while it is down; reverse swaps up and down.
type trackedLink struct {
	name    string
	weight  int
	reverse bool
}

// linkTracking is the interface tracking of one instance.
type linkTracking struct {
	inst  *vrrp.Instance
	base  int // configured priority
	links []trackedLink
	fault bool // what was last delivered to the instance
	prio  int
}

// newLinkTracking lists what an instance watches: its own interface (as a
// fault source, unless dont_track_primary), the VMAC's parent, and its
// track_interface entries.
func newLinkTracking(inst *vrrp.Instance, ci *config.VRRPInstance) *linkTracking {
	t := &linkTracking{inst: inst, base: ci.Priority, prio: ci.Priority}
	if !ci.DontTrackPrimary {
		t.links = append(t.links, trackedLink{name: ci.Interface})
	}
	for _, ref := range ci.TrackInterface {
		t.links = append(t.links, trackedLink{name: ref.Name, weight: ref.Weight, reverse: ref.Reverse})
	}
	return t
}

// evaluate computes the fault and the effective priority for the given
// interface states (an interface never seen counts as down).
func (t *linkTracking) evaluate(up map[string]bool) (fault bool, prio int) {
	prio = t.base
	for _, l := range t.links {
		isUp := up[l.name] != l.reverse
		switch {
		case l.weight == 0 && !isUp:
			fault = true
		case l.weight > 0 && isUp:
			prio += l.weight
		case l.weight < 0 && !isUp:
			prio += l.weight
		}
	}
	return fault, prio
}

// apply delivers a change of fault or priority to the instance.
func (t *linkTracking) apply(up map[string]bool) {
	fault, prio := t.evaluate(up)
	if prio != t.prio {
		t.prio = prio
		t.inst.SetPriority(prio)
	}
	if fault != t.fault {
		t.fault = fault
		t.inst.SetFault(fault)
	}
}

// trackLinks follows interface states for the instances until done is
// closed. Each instance gets its first verdict once every interface has
// been listed.
func trackLinks(log *slog.Logger, tracked []*linkTracking, done <-chan struct{}) error {
	states, err := kernel.WatchLinks(done)
	if err != nil {
		return err
	}
	go func() {
		up := map[string]bool{}
		for s := range states {
			if was, seen := up[s.Name]; seen && was != s.Up {
				log.Info("interface "+s.Name+" is "+map[bool]string{true: "up", false: "down"}[s.Up], "index", s.Index)
			}
			up[s.Name] = s.Up
			// Apply only once the queue of the initial listing is
			// drained, so that a half-read list raises no false fault.
			if len(states) > 0 {
				continue
			}
			for _, t := range tracked {
				t.apply(up)
			}
		}
	}()
	return nil
}
