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

// linkTracking is what one instance tracks: interfaces and vrrp_scripts.
type linkTracking struct {
	inst interface {
		SetPriority(int)
		SetFault(bool)
	}
	base    int // configured priority
	links   []trackedLink
	scripts []trackedLink // by vrrp_script name; "up" means the script is good
	fault   bool          // what was last delivered to the instance
	// configFault is a fault that nothing clears: unicast_fault_no_peer
	// without peers, as keepalived's num_config_faults.
	configFault bool
	prio        int
}

// newLinkTracking lists what an instance watches: its own interface (as a
// fault source, unless dont_track_primary), its track_interface entries
// and its track_script entries (a track_script weight overrides the
// script's own).
func newLinkTracking(inst interface {
	SetPriority(int)
	SetFault(bool)
}, ci *config.VRRPInstance, scripts map[string]*config.VRRPScript) *linkTracking {
	t := &linkTracking{inst: inst, base: ci.Priority, prio: ci.Priority}
	if ci.UnicastFaultNoPeer && len(ci.UnicastPeers) == 0 {
		t.configFault, t.fault = true, true
	}
	if !ci.DontTrackPrimary {
		t.links = append(t.links, trackedLink{name: ci.Interface})
	}
	for _, ref := range ci.TrackInterface {
		t.links = append(t.links, trackedLink{name: ref.Name, weight: ref.Weight, reverse: ref.Reverse})
	}
	for _, ref := range ci.TrackScript {
		s, ok := scripts[ref.Name]
		if !ok {
			continue // validation reported it
		}
		w, reverse := scriptWeight(s)
		if ref.HasWeight {
			w, reverse = ref.Weight, ref.Reverse
		}
		if ci.Priority == vrrp.PriorityOwner && w != 0 {
			continue // keepalived drops an owner's weighted trackers
		}
		t.scripts = append(t.scripts, trackedLink{name: ref.Name, weight: w, reverse: reverse})
	}
	return t
}

// trackState is what the tracked objects are: interfaces up, scripts good.
type trackState struct {
	up, good map[string]bool
}

// evaluate computes the fault and the effective priority (an object never
// seen counts as down).
func (t *linkTracking) evaluate(st trackState) (fault bool, prio int) {
	fault, prio = t.configFault, t.base
	for _, set := range []struct {
		objs  []trackedLink
		state map[string]bool
	}{{t.links, st.up}, {t.scripts, st.good}} {
		for _, l := range set.objs {
			isUp := set.state[l.name] != l.reverse
			switch {
			case l.weight == 0 && !isUp:
				fault = true
			case l.weight > 0 && isUp:
				prio += l.weight
			case l.weight < 0 && !isUp:
				prio += l.weight
			}
		}
	}
	return fault, prio
}

// apply delivers a change of fault or priority to the instance.
func (t *linkTracking) apply(st trackState) {
	fault, prio := t.evaluate(st)
	if prio != t.prio {
		t.prio = prio
		t.inst.SetPriority(prio)
	}
	if fault != t.fault {
		t.fault = fault
		t.inst.SetFault(fault)
	}
}

// tracker follows interface states and script results for the instances
// until done is closed, on one goroutine that owns the state.
func tracker(log *slog.Logger, tracked []*linkTracking, scripts map[string]*config.VRRPScript,
	verdicts *scriptVerdicts, results <-chan scriptResult, done <-chan struct{}) error {
	states, err := kernel.WatchLinks(done)
	if err != nil {
		return err
	}
	st := trackState{up: map[string]bool{}, good: map[string]bool{}}
	health := map[string]*scriptHealth{}
	initial := verdicts.snapshot()
	for name, s := range scripts {
		health[name] = newScriptHealth(s)
		health[name].good = initial[name]
		st.good[name] = health[name].good
	}
	go func() {
		listed := false
		for {
			select {
			case s, ok := <-states:
				if !ok {
					return
				}
				if was, seen := st.up[s.Name]; seen && was != s.Up {
					log.Info("interface "+s.Name+" is "+upDown(s.Up), "index", s.Index)
				}
				st.up[s.Name] = s.Up
				// Apply only once the initial listing is read, so that a
				// half-read list raises no false fault.
				if len(states) > 0 && !listed {
					continue
				}
				listed = true
			case r := <-results:
				h := health[r.name]
				if h == nil || !h.record(r.ok) {
					continue
				}
				st.good[r.name] = h.good
				verdicts.set(r.name, h.good)
				log.Info("VRRP_Script(" + r.name + ") " + map[bool]string{true: "succeeded", false: "failed"}[h.good])
			case <-done:
				return
			}
			for _, t := range tracked {
				t.apply(st)
			}
		}
	}()
	return nil
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
