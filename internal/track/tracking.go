package track

import (
	"fmt"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// trackedLink is one tracked object (an interface, a vrrp_script, a
// vrrp_track_process) with keepalived's weight rules: with weight 0 the
// object being down puts the instance in FAULT (with reverse: being up
// does); a positive weight is added while it is up, a negative one while
// it is down; reverse negates the weight (vrrp_track.c: total_priority +=
// weight * weight_multiplier, the multiplier being -1 with reverse).
type trackedLink struct {
	name    string
	weight  int
	reverse bool
}

// status is the object's contribution: FAULT, or what to add to the
// priority.
func (l trackedLink) status(up bool) (fault bool, delta int) {
	if l.weight == 0 {
		return up == l.reverse, 0
	}
	w := l.weight
	if l.reverse {
		w = -w
	}
	if (l.weight > 0) == up {
		return false, w
	}
	return false, 0
}

// Instance is what tracking drives: the priority the tracked objects
// give, and the fault they raise or clear. *vrrp.Instance is one.
type Instance interface {
	SetPriority(int)
	SetFault(bool)
}

// Tracking is what one instance tracks (interfaces, vrrp_scripts,
// track_files and vrrp_track_processes) and what they last gave it.
// Build it with NewTracking before the Tracker starts; from then on the
// Tracker's goroutine owns it.
type Tracking struct {
	inst    Instance
	name    string // the instance's
	base    int    // configured priority
	links   []trackedLink
	scripts []trackedLink // by vrrp_script name; "up" means the script is good
	files   []trackedLink // by track_file name; the weight multiplies the file's value
	procs   []trackedLink // by vrrp_track_process name; "up" means in quorum
	fault   bool          // what was last delivered to the instance
	// configFault is a fault that nothing clears: unicast_fault_no_peer
	// without peers, as keepalived's num_config_faults.
	configFault bool
	prio        int
	shown       int // the effective priority last logged; 0 until the first apply
	// onPriority, if set, hears each change of effective priority
	// (notify_priority_changes).
	onPriority func(effective int)
}

// NewTracking lists what an instance watches: its own interface (as a
// fault source, unless dont_track_primary), its track_interface entries,
// and its track_script, track_file and track_process entries (whose
// weight, if written, overrides the object's own). inst hears the
// changes once a Tracker runs.
func NewTracking(inst Instance, ci *config.VRRPInstance, objs *Objects) *Tracking {
	t := &Tracking{inst: inst, name: ci.Name(), base: ci.Priority, prio: ci.Priority}
	if ci.UnicastFaultNoPeer && len(ci.UnicastPeers) == 0 {
		t.configFault, t.fault = true, true
	}
	if !ci.DontTrackPrimary && ci.Interface != "" {
		t.links = append(t.links, trackedLink{name: ci.Interface})
	}
	for _, ref := range ci.TrackInterface {
		t.links = append(t.links, trackedLink{name: ref.Name, weight: ref.Weight, reverse: ref.Reverse})
	}
	// Validation dropped the entries naming no usable script, and an
	// owner's weighted ones.
	for _, ref := range ci.TrackScript {
		if s, ok := objs.scripts[ref.Name]; ok {
			w, reverse := scriptWeight(s)
			t.scripts = append(t.scripts, refWeight(ref, w, reverse))
		}
	}
	owner := ci.Priority == vrrp.PriorityOwner
	t.files = fileRefs(ci.TrackFile, objs.files, owner)
	t.procs = procRefs(ci.TrackProcess, objs.procs, owner)
	return t
}

// SetConfigFault puts the instance in FAULT for good, as a fault in its
// configuration found at run time does (keepalived's num_config_faults:
// an IPv4 use_ipvlan without an address). Call it before the Tracker runs.
func (t *Tracking) SetConfigFault() { t.configFault, t.fault = true, true }

// ConfigFault tells whether the instance is in FAULT for good, whatever
// it tracks: unicast_fault_no_peer without unicast peers.
func (t *Tracking) ConfigFault() bool { return t.configFault }

// OnPriorityChange makes f hear each change of the effective priority
// that the tracker logs (notify_priority_changes). f runs on the
// Tracker's goroutine, never after Tracker.Stop has returned.
func (t *Tracking) OnPriorityChange(f func(effective int)) { t.onPriority = f }

// Resume starts from the priority the tracked objects gave the instance
// before a reload, until the Tracker has looked at them again.
func (t *Tracking) Resume(priority int) { t.prio = priority }

// Effective is the priority the instance runs with: the owner's never
// moves, the others' is clamped to 1..254 (vrrp_set_effective_priority).
func (t *Tracking) Effective() int {
	if t.base == vrrp.PriorityOwner {
		return t.base
	}
	return max(1, min(t.prio, vrrp.PriorityOwner-1))
}

// refWeight is a track_* entry with its weight: the entry's own if
// written, else the object's.
func refWeight(ref config.TrackRef, weight int, reverse bool) trackedLink {
	if ref.HasWeight {
		weight, reverse = ref.Weight, ref.Reverse
	}
	return trackedLink{name: ref.Name, weight: weight, reverse: reverse}
}

// fileRefs are an instance's track_file entries. For the address owner,
// weight 1 (the default) becomes 0 and any other weight drops the entry
// (vrrp.c vrrp_complete_instance).
func fileRefs(refs []config.TrackRef, specs map[string]*config.TrackFileSpec, owner bool) []trackedLink {
	own := func(s *config.TrackFileSpec) (int, bool) { return s.Weight, s.Reverse }
	return objectRefs(refs, specs, own, func(l *trackedLink) bool {
		if owner && l.weight == 1 {
			l.weight = 0
		}
		return !owner || l.weight == 0
	})
}

// procRefs are an instance's track_process entries. The owner's priority
// never moves, so its weighted entries do nothing (keepalived keeps but
// ignores them) and are left out.
func procRefs(refs []config.TrackRef, specs map[string]*procSpec, owner bool) []trackedLink {
	own := func(s *procSpec) (int, bool) { return s.Weight, s.Reverse }
	return objectRefs(refs, specs, own, func(l *trackedLink) bool { return !owner || l.weight == 0 })
}

// objectRefs are an instance's entries for tracked objects of one kind:
// each known name once, with the entry's weight or else the object's
// own, as keep adjusts it, if keep keeps it.
func objectRefs[S any](refs []config.TrackRef, specs map[string]S, own func(S) (weight int, reverse bool), keep func(*trackedLink) bool) []trackedLink {
	var out []trackedLink
	seen := map[string]bool{}
	for _, ref := range refs {
		s, ok := specs[ref.Name]
		if !ok || seen[ref.Name] {
			continue
		}
		seen[ref.Name] = true
		w, reverse := own(s)
		if l := refWeight(ref, w, reverse); keep(&l) {
			out = append(out, l)
		}
	}
	return out
}

// trackState is what the tracked objects are: interfaces up, scripts
// good, files' values, processes in quorum.
type trackState struct {
	up, good map[string]bool
	files    map[string]int64 // a file not in it is not watched (keepalived dropped it)
	procs    map[string]bool
}

// evaluate computes the fault and the priority the tracked objects give
// (before keepalived's clamping to 1..254, which the instance does). An
// interface, script or process never seen counts as down.
func (t *Tracking) evaluate(st trackState) (fault bool, prio int) {
	fault, prio = t.configFault, t.base
	for _, set := range []struct {
		objs  []trackedLink
		state map[string]bool
	}{{t.links, st.up}, {t.scripts, st.good}, {t.procs, st.procs}} {
		for _, l := range set.objs {
			f, d := l.status(set.state[l.name])
			fault, prio = fault || f, prio+d
		}
	}
	for _, l := range t.files {
		v, watched := st.files[l.name]
		if !watched {
			continue
		}
		f, d := fileStatus(v, l.weight, l.reverse)
		fault, prio = fault || f, prio+d
	}
	return fault, prio
}

// apply delivers a change of fault or priority to the instance.
func (t *Tracking) apply(st trackState) {
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

// faultReasons are keepalived's lines for the tracked files and processes
// that put the instance in FAULT at start.
func (t *Tracking) faultReasons(st trackState) []string {
	var out []string
	for _, l := range t.files {
		v, watched := st.files[l.name]
		if fault, _ := fileStatus(v, l.weight, l.reverse); watched && fault {
			out = append(out, fmt.Sprintf("(%s): entering FAULT state (tracked file %s has status %d)", t.name, l.name, fileFaultStatus(v, l.weight, l.reverse)))
		}
	}
	for _, l := range t.procs {
		if fault, _ := l.status(st.procs[l.name]); fault {
			out = append(out, fmt.Sprintf("(%s) entering FAULT state (tracked process %s quorum not achieved)", t.name, l.name))
		}
	}
	return out
}

// usedObjects are the scripts, files and processes some instance tracks:
// only those are run, read and followed.
func usedObjects(tracked []*Tracking, objs *Objects) (scripts []string, files []*config.TrackFileSpec, procs []*procSpec) {
	seenS, seenF, seenP := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, t := range tracked {
		for _, l := range t.scripts {
			if !seenS[l.name] {
				seenS[l.name] = true
				scripts = append(scripts, l.name)
			}
		}
		for _, l := range t.files {
			if !seenF[l.name] {
				seenF[l.name] = true
				files = append(files, objs.files[l.name])
			}
		}
		for _, l := range t.procs {
			if !seenP[l.name] {
				seenP[l.name] = true
				procs = append(procs, objs.procs[l.name])
			}
		}
	}
	return scripts, files, procs
}
