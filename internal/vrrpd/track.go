package vrrpd

import (
	"fmt"
	"log/slog"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
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

// linkTracking is what one instance tracks: interfaces, vrrp_scripts,
// track_files and vrrp_track_processes.
type linkTracking struct {
	inst interface {
		SetPriority(int)
		SetFault(bool)
	}
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

// trackObjects are the objects instances may track, by name, from the
// configuration.
type trackObjects struct {
	scripts  map[string]*config.VRRPScript
	files    map[string]*fileSpec
	procs    map[string]*procSpec
	problems []string // what keepalived would have reported about them
}

// trackObjectsOf gathers the trackable objects of cfg; scripts are the
// usable vrrp_scripts.
func trackObjectsOf(cfg *config.Config, scripts map[string]*config.VRRPScript) trackObjects {
	o := trackObjects{scripts: scripts}
	var p []string
	o.files, o.problems = fileSpecs(cfg)
	o.procs, p = procSpecs(cfg)
	o.problems = append(o.problems, p...)
	return o
}

// newLinkTracking lists what an instance watches: its own interface (as a
// fault source, unless dont_track_primary), its track_interface entries,
// and its track_script, track_file and track_process entries (whose
// weight, if written, overrides the object's own).
func newLinkTracking(inst interface {
	SetPriority(int)
	SetFault(bool)
}, ci *config.VRRPInstance, objs trackObjects) *linkTracking {
	t := &linkTracking{inst: inst, name: ci.Name(), base: ci.Priority, prio: ci.Priority}
	if ci.UnicastFaultNoPeer && len(ci.UnicastPeers) == 0 {
		t.configFault, t.fault = true, true
	}
	if !ci.DontTrackPrimary {
		t.links = append(t.links, trackedLink{name: ci.Interface})
	}
	for _, ref := range ci.TrackInterface {
		t.links = append(t.links, trackedLink{name: ref.Name, weight: ref.Weight, reverse: ref.Reverse})
	}
	owner := ci.Priority == vrrp.PriorityOwner
	for _, ref := range ci.TrackScript {
		s, ok := objs.scripts[ref.Name]
		if !ok {
			continue // validation reported it
		}
		w, reverse := scriptWeight(s)
		if l := refWeight(ref, w, reverse); !owner || l.weight == 0 {
			t.scripts = append(t.scripts, l) // keepalived drops an owner's weighted trackers
		}
	}
	t.files = fileRefs(ci.TrackFile, objs.files, owner)
	t.procs = procRefs(ci.TrackProcess, objs.procs, owner)
	return t
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
func fileRefs(refs []config.TrackRef, specs map[string]*fileSpec, owner bool) []trackedLink {
	return objectRefs(refs, specs, func(l *trackedLink) bool {
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
	return objectRefs(refs, specs, func(l *trackedLink) bool { return !owner || l.weight == 0 })
}

// weightedSpec is a tracked object with a weight of its own.
type weightedSpec interface {
	ownWeight() (weight int, reverse bool)
}

func (s *fileSpec) ownWeight() (int, bool) { return s.weight, s.reverse }
func (s *procSpec) ownWeight() (int, bool) { return s.weight, s.reverse }

// objectRefs are an instance's entries for tracked objects of one kind:
// each known name once, with the entry's weight or else the object's,
// as keep adjusts it, if keep keeps it.
func objectRefs[S weightedSpec](refs []config.TrackRef, specs map[string]S, keep func(*trackedLink) bool) []trackedLink {
	var out []trackedLink
	seen := map[string]bool{}
	for _, ref := range refs {
		s, ok := specs[ref.Name]
		if !ok || seen[ref.Name] {
			continue
		}
		seen[ref.Name] = true
		w, reverse := s.ownWeight()
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
func (t *linkTracking) evaluate(st trackState) (fault bool, prio int) {
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

// effective is the priority the instance runs with: the owner's never
// moves, the others' is clamped to 1..254 (vrrp_set_effective_priority).
func (t *linkTracking) effective() int {
	if t.base == vrrp.PriorityOwner {
		return t.base
	}
	return max(1, min(t.prio, vrrp.PriorityOwner-1))
}

// usedObjects are the files and processes some instance tracks: only
// those are read and followed.
func usedObjects(tracked []*linkTracking, objs trackObjects) (files []*fileSpec, procs []*procSpec) {
	seenF, seenP := map[string]bool{}, map[string]bool{}
	for _, t := range tracked {
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
	return files, procs
}

// tracker follows interface states, script results, tracked files and
// tracked processes for the instances until done is closed, on one
// goroutine that owns the state. At a reload init_file does not overwrite
// an existing file.
func tracker(log *slog.Logger, tracked []*linkTracking, objs trackObjects,
	verdicts *scriptVerdicts, results <-chan scriptResult, done <-chan struct{}, reload bool) error {
	for _, p := range objs.problems {
		log.Warn(p)
	}
	initFiles(log, objs.files, reload)
	states, err := kernel.WatchLinks(done)
	if err != nil {
		return err
	}
	l := newTrackLoop(log, tracked, verdicts, objs.scripts)
	l.listLinks()
	files, procs := usedObjects(tracked, objs)
	fileValues, procStatuses := make(chan fileValue, 16), make(chan procStatus, 16)
	l.st.files = watchFiles(log, files, fileValues, done)
	l.st.procs = map[string]bool{}
	if len(procs) > 0 {
		l.st.procs = startProcMonitor(log, procs, procStatuses, done)
	}
	for _, t := range tracked {
		for _, reason := range t.faultReasons(l.st) {
			log.Info(reason)
		}
	}
	go l.run(states, results, fileValues, procStatuses, done)
	return nil
}

// faultReasons are keepalived's lines for the tracked files and processes
// that put the instance in FAULT at start.
func (t *linkTracking) faultReasons(st trackState) []string {
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

// initFiles writes the init_file values of every track_file block, tracked
// or not, as keepalived does when it reads the configuration.
func initFiles(log *slog.Logger, specs map[string]*fileSpec, reload bool) {
	for _, s := range specs {
		if problem := initTrackFile(s, reload); problem != "" {
			log.Error(problem)
		}
	}
}

// trackLoop is the tracker's goroutine and the state it owns.
type trackLoop struct {
	log      *slog.Logger
	tracked  []*linkTracking
	st       trackState
	health   map[string]*scriptHealth
	verdicts *scriptVerdicts
	listed   bool // the initial interface listing has been read
}

// newTrackLoop starts the scripts' verdicts from those carried over (at
// a reload) or from their init_fail setting.
func newTrackLoop(log *slog.Logger, tracked []*linkTracking, verdicts *scriptVerdicts, scripts map[string]*config.VRRPScript) *trackLoop {
	l := &trackLoop{log: log, tracked: tracked, verdicts: verdicts, health: map[string]*scriptHealth{},
		st: trackState{up: map[string]bool{}, good: map[string]bool{}}}
	initial := verdicts.snapshot()
	for name, s := range scripts {
		l.health[name] = newScriptHealth(s)
		l.health[name].good = initial[name]
		l.st.good[name] = l.health[name].good
	}
	return l
}

// listLinks reads every interface's state at once. The watch's first
// listing arrives piecemeal, and applying a part of it would put an
// instance whose interface is not listed yet in FAULT for a moment.
func (l *trackLoop) listLinks() {
	links, err := kernel.LinkStates()
	if err != nil {
		// Wait for the watch's listing instead (see link).
		l.log.Warn("cannot list interfaces; tracking starts once they are watched", "err", err)
		return
	}
	for _, s := range links {
		l.st.up[s.Name] = s.Up
	}
	l.listed = true
}

func (l *trackLoop) run(states <-chan kernel.LinkState, results <-chan scriptResult,
	files <-chan fileValue, procs <-chan procStatus, done <-chan struct{}) {
	if l.listed {
		l.applyAll()
	}
	for {
		changed := false
		select {
		case s, ok := <-states:
			if !ok {
				return
			}
			changed = l.link(s, len(states))
		case r := <-results:
			changed = l.script(r)
		case f := <-files:
			l.log.Info(fmt.Sprintf("Track file %s now has value %d", f.name, f.value))
			l.st.files[f.name], changed = f.value, true
		case p := <-procs:
			l.log.Info("Quorum " + map[bool]string{true: "gained", false: "lost"}[p.up] + " for tracked process " + p.name)
			l.st.procs[p.name], changed = p.up, true
		case <-done:
			return
		}
		// Apply only once every interface's state is known, so that a
		// half-read list raises no false fault.
		if changed && l.listed {
			l.applyAll()
		}
	}
}

// link records an interface state; pending is how many more are queued.
func (l *trackLoop) link(s kernel.LinkState, pending int) bool {
	if was, seen := l.st.up[s.Name]; seen && was != s.Up {
		l.log.Info("interface "+s.Name+" is "+upDown(s.Up), "index", s.Index)
	}
	l.st.up[s.Name] = s.Up
	if pending == 0 {
		l.listed = true
	}
	return true
}

// script records a vrrp_script run; it reports whether the verdict changed.
func (l *trackLoop) script(r scriptResult) bool {
	h := l.health[r.name]
	if h == nil || !h.record(r.ok) {
		return false
	}
	l.st.good[r.name] = h.good
	l.verdicts.set(r.name, h.good)
	l.log.Info("VRRP_Script(" + r.name + ") " + map[bool]string{true: "succeeded", false: "failed"}[h.good])
	return true
}

// applyAll delivers the state to every instance, logging priority
// changes as keepalived does. An instance in FAULT sends no adverts, and
// keepalived does not log what its priority does meanwhile (a track_file
// entering FAULT takes its weight back silently), so neither do we.
func (l *trackLoop) applyAll() {
	for _, t := range l.tracked {
		if t.shown == 0 {
			t.shown = t.effective() // at a reload, the priority carried over
		}
		t.apply(l.st)
		if e := t.effective(); !t.fault && e != t.shown {
			l.log.Info(fmt.Sprintf("(%s) Changing effective priority from %d to %d", t.name, t.shown, e))
			t.shown = e
			if t.onPriority != nil {
				t.onPriority(e)
			}
		}
	}
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
