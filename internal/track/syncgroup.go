package track

import (
	"log/slog"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// JoinSyncGroup applies the tracking rules of the vrrp_sync_group sg (nil:
// none) to its member's tracking, as keepalived 2.2.7's vrrp_complete_instance and
// vrrp_complete_init do:
//
//   - without sync_group_tracking_weight, the member's own weighted
//     trackers cannot float its priority (members must agree): weighted
//     interfaces and default-weight files count as weight 0, weighted
//     scripts and other weighted files are ignored;
//   - the group's own track_interface, track_script, track_file and
//     track_process apply to every member, weight 0 when a member is the
//     address owner (groupHasOwner: one of the group's members is).
//
// The weights it ignores are logged, with keepalived's lines.
func (t *Tracking) JoinSyncGroup(log *slog.Logger, sg *config.SyncGroup, objs *Objects, groupHasOwner bool) {
	if sg == nil {
		return
	}
	if !sg.SyncGroupTrackingWeight && !sg.GlobalTracking {
		t.dropFloatingWeights(log)
	}
	weight := func(l trackedLink) trackedLink {
		if groupHasOwner {
			l.weight = 0
		}
		return l
	}
	for _, ref := range sg.TrackInterface {
		t.links = append(t.links, weight(trackedLink{name: ref.Name, weight: ref.Weight, reverse: ref.Reverse}))
	}
	for _, ref := range sg.TrackScript {
		if s, ok := objs.scripts[ref.Name]; ok {
			w, reverse := scriptWeight(s)
			t.scripts = append(t.scripts, weight(refWeight(ref, w, reverse)))
		}
	}
	for _, ref := range sg.TrackFile {
		if s, ok := objs.files[ref.Name]; ok {
			t.files = append(t.files, weight(refWeight(ref, s.Weight, s.Reverse)))
		}
	}
	for _, ref := range sg.TrackProcess {
		if s, ok := objs.procs[ref.Name]; ok {
			t.procs = append(t.procs, weight(refWeight(ref, s.Weight, s.Reverse)))
		}
	}
}

// dropFloatingWeights is keepalived's rule for a member of a sync group
// without sync_group_tracking_weight, with its messages.
func (t *Tracking) dropFloatingWeights(log *slog.Logger) {
	for i := range t.links {
		if t.links[i].weight != 0 {
			log.Warn("(" + t.name + ") ignoring " + t.links[i].name + " tracked interface weight due to SYNC group")
			t.links[i].weight = 0
		}
	}
	scripts := t.scripts[:0]
	for _, s := range t.scripts {
		if s.weight != 0 {
			log.Warn("(" + t.name + ") ignoring tracked script " + s.name + " with weights due to SYNC group")
			continue
		}
		scripts = append(scripts, s)
	}
	t.scripts = scripts
	files := t.files[:0]
	for _, f := range t.files {
		switch f.weight {
		case 0:
		case 1: // keepalived's default weight: taken as "no weight"
			log.Warn("(" + t.name + ") ignoring weight from tracked file " + f.name + " due to SYNC group. specify weight 0")
			f.weight = 0
		default:
			log.Warn("(" + t.name + ") ignoring tracked file " + f.name + " with a weight due to SYNC group")
			continue
		}
		files = append(files, f)
	}
	t.files = files
}

// WaitsForScripts says whether the instance ci, a member of sg (nil:
// none), starts waiting for a vrrp_script's first result: it tracks one
// with weight 0 (after the sync group's rules) that is not init_fail.
// That is keepalived's num_script_init (vrrp_track.c
// initialise_track_script_state), which starts the member's sync group in
// INIT (num_member_init) instead of BACKUP.
func WaitsForScripts(ci *config.VRRPInstance, sg *config.SyncGroup, objs *Objects, groupHasOwner bool) bool {
	t := NewTracking(nil, ci, objs)
	t.JoinSyncGroup(slog.New(slog.DiscardHandler), sg, objs, groupHasOwner)
	for _, s := range t.scripts {
		if spec, ok := objs.scripts[s.name]; ok && s.weight == 0 && !spec.InitFail {
			return true
		}
	}
	return false
}
