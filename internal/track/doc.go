// Package track is VRRP's object tracking, as keepalived 2.2.7 does it:
// what moves an instance's priority or puts it in FAULT besides the
// adverts it hears.
//
// The tracked objects, and where their rules live:
//
//   - interfaces (the instance's own, track_interface; tracker.go's loop):
//     up means administratively up and running;
//   - vrrp_script (scripts.go): run every interval with internal/runner,
//     its verdict turned by rise and fall (RiseFall, risefall.go);
//   - track_file (file.go): a file holding a number, multiplied by the
//     weight, followed with inotify on its directory; init_file;
//   - vrrp_track_process (proc.go): how many processes of a name run,
//     within [quorum, quorum_max], followed with the kernel's proc
//     connector, or by rescanning /proc where it cannot be used;
//   - the weight rules (tracking.go: weight 0 means FAULT, reverse, the
//     address owner's weights dropped) and a vrrp_sync_group's rules for
//     its members (syncgroup.go).
//
// # Use
//
// The VRRP subsystem (internal/vrrpd) gathers a configuration's
// trackable objects with NewObjects, makes a Tracking per instance with
// NewTracking (and JoinSyncGroup for a member of a sync group), then runs
// one Tracker for all of them:
//
//	tk := track.New(track.Config{Log: log, Objects: objs, Tracked: trackings, Verdicts: verdicts})
//	err := tk.Start()
//	...
//	tk.Stop() // before anything the callbacks feed is torn down
//
// The Tracker delivers each change of fault or priority to the instance
// (Instance.SetFault, Instance.SetPriority) and logs keepalived's lines
// ("VRRP_Script(chk) succeeded", "(VI_1) Changing effective priority
// from 100 to 70", "Track file f now has value 1", "Quorum lost for
// tracked process p"). Verdicts keep the scripts' verdicts so that a
// reload carries them over (NewVerdicts with the previous Snapshot), and
// Tracking.Resume starts a reloaded instance from the priority it had.
//
// # Goroutines
//
// A Tracker owns every goroutine it starts (its loop, which alone reads
// and writes the tracking state and calls the instances; one runner per
// used vrrp_script; the file watcher; the process monitor) and every
// subscription it opens. Stop ends them and waits: once it returns, no
// goroutine of the Tracker runs and no Instance method or priority
// callback is called. The package's tests check it with goleak.
//
// # No system calls
//
// What the trackers read comes through small interfaces (Sources:
// LinkSource, FileSource, ProcSource, ScriptRunner). Their real
// implementations are internal/kernel's (rtnetlink link watch, inotify,
// the proc connector, /proc) and internal/runner's; tests give fakes, so
// that the tracking logic runs without root. A link subscription can end
// by itself (ENOBUFS when a burst of link events overflows its socket):
// the Tracker then logs it, subscribes again and reads every interface
// again.
//
// # Configuration
//
// The objects come from the configuration as validation resolved them:
// the vrrp_scripts it kept (UsableScripts), the track_file and
// vrrp_track_process blocks it kept (config.Config's TrackFileSpecs and
// TrackProcessSpecs), and the instances' track_script entries it kept (it
// drops an address owner's weighted ones); an instance's entry naming a
// dropped object is skipped. Validation reports what keepalived says
// about bad values, with the file and line; nothing here reads those
// keywords again or repeats the messages. What the runtime still decides
// itself is what keepalived decides when it completes the instances: an
// address owner's weighted track_file and track_process entries, and a
// sync group member's weighted trackers.
package track
