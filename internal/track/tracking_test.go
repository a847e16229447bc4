package track

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// TestLinkTrackingFollowsKeepalivedsWeightRules: reverse negates a weight
// and keeps its condition (vrrp_track.c adds weight * weight_multiplier);
// keepalived 2.2.7 with a succeeding script of weight 10 reverse logs
// "Changing effective priority from 100 to 90", and with a failing one of
// weight -7 reverse raises it by 7.
func TestLinkTrackingFollowsKeepalivedsWeightRules(t *testing.T) {
	tr := &Tracking{base: 100, links: []trackedLink{
		{name: "eth0"},                            // the instance's own: down means FAULT
		{name: "eth1", weight: 20},                // +20 while up
		{name: "eth2", weight: -30},               // -30 while down
		{name: "eth3", weight: 10, reverse: true}, // -10 while up (reverse negates)
		{name: "eth4", weight: -5, reverse: true}, // +5 while down
	}}
	tests := []struct {
		name      string
		up        map[string]bool
		wantFault bool
		wantPrio  int
	}{
		{"all up", map[string]bool{"eth0": true, "eth1": true, "eth2": true, "eth3": true, "eth4": true}, false, 100 + 20 - 10},
		{"all down", map[string]bool{}, true, 100 - 30 + 5},
		{"weighted ones down", map[string]bool{"eth0": true}, false, 100 - 30 + 5},
		{"own interface down", map[string]bool{"eth1": true, "eth2": true, "eth3": true, "eth4": true}, true, 100 + 20 - 10},
	}
	for _, tt := range tests {
		fault, prio := tr.evaluate(trackState{up: tt.up})
		if fault != tt.wantFault || prio != tt.wantPrio {
			t.Errorf("%s: fault %v prio %d, want %v %d", tt.name, fault, prio, tt.wantFault, tt.wantPrio)
		}
	}
}

func TestReverseWithoutWeightFaultsWhileUp(t *testing.T) {
	tr := &Tracking{base: 100, links: []trackedLink{{name: "eth9", reverse: true}}}
	if fault, _ := tr.evaluate(trackState{up: map[string]bool{"eth9": true}}); !fault {
		t.Fatal("weight 0 reverse: FAULT while the interface is up")
	}
	if fault, _ := tr.evaluate(trackState{up: map[string]bool{}}); fault {
		t.Fatal("weight 0 reverse: no FAULT while the interface is down")
	}
}

func TestScriptsWeighLikeInterfaces(t *testing.T) {
	tr := &Tracking{base: 100, scripts: []trackedLink{{name: "chk_web", weight: -30}, {name: "chk_db"}}}
	if fault, prio := tr.evaluate(trackState{good: map[string]bool{"chk_web": false, "chk_db": true}}); fault || prio != 70 {
		t.Errorf("failed weighted script: fault %v prio %d, want false 70", fault, prio)
	}
	if fault, _ := tr.evaluate(trackState{good: map[string]bool{"chk_web": true, "chk_db": false}}); !fault {
		t.Error("a failed script without weight must cause FAULT")
	}
}

// fakeInstance records what the tracker delivers.
type fakeInstance struct {
	prios  []int
	faults []bool
}

func (f *fakeInstance) SetPriority(p int) { f.prios = append(f.prios, p) }
func (f *fakeInstance) SetFault(b bool)   { f.faults = append(f.faults, b) }

// TestTrackerLogsPriorityChangesAsKeepalived: keepalived's "Changing
// effective priority" lines, with the clamped priority, and none while a
// track_file holds the instance in FAULT.
func TestTrackerLogsPriorityChangesAsKeepalived(t *testing.T) {
	inst := &fakeInstance{}
	var logs bytes.Buffer
	tr := &Tracking{inst: inst, name: "VI_1", base: 150, prio: 150, files: []trackedLink{{name: "f", weight: -60}}}
	l := &trackLoop{log: slog.New(slog.NewTextHandler(&logs, nil)), tracked: []*Tracking{tr},
		st: trackState{files: map[string]int64{}}}
	for _, v := range []int64{1, 3, 5, 0} {
		l.st.files["f"] = v
		l.applyAll()
	}
	var lines []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if _, msg, ok := strings.Cut(line, "msg="); ok {
			lines = append(lines, msg)
		}
	}
	want := []string{
		`"(VI_1) Changing effective priority from 150 to 90"`,
		`"(VI_1) Changing effective priority from 90 to 1"`,  // -30, clamped
		`"(VI_1) Changing effective priority from 1 to 150"`, // after the FAULT
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if fmt.Sprint(inst.faults) != "[true false]" {
		t.Errorf("faults delivered %v, want [true false]", inst.faults)
	}
}

func TestOwnerDropsWeightedTrackers(t *testing.T) {
	ci := &config.VRRPInstance{Interface: "eth0", Priority: 255,
		TrackFile:    []config.TrackRef{{Name: "f1"}, {Name: "f2"}},
		TrackProcess: []config.TrackRef{{Name: "p1"}, {Name: "p2", Weight: 0, HasWeight: true}}}
	objs := &Objects{
		files: map[string]*config.TrackFileSpec{"f1": {Name: "f1", Weight: 1}, "f2": {Name: "f2", Weight: -10}},
		procs: map[string]*procSpec{"p1": pspec(config.TrackProcessSpec{Name: "p1", Weight: 20}), "p2": pspec(config.TrackProcessSpec{Name: "p2", Weight: 20})},
	}
	tr := NewTracking(&fakeInstance{}, ci, objs)
	if !equalLinks(tr.files, []trackedLink{{name: "f1"}}) || !equalLinks(tr.procs, []trackedLink{{name: "p2"}}) {
		t.Errorf("owner tracks files %v and processes %v; want f1 with weight 0 and p2", tr.files, tr.procs)
	}
	ci.Priority = 100
	tr = NewTracking(&fakeInstance{}, ci, objs)
	if len(tr.files) != 2 || len(tr.procs) != 2 || tr.procs[0].weight != 20 {
		t.Errorf("non-owner tracks files %v and processes %v; want all, with their weights", tr.files, tr.procs)
	}
}

func TestFaultReasonsAtStartAreKeepalivedsLines(t *testing.T) {
	tr := &Tracking{name: "VI_1", base: 100,
		files: []trackedLink{{name: "zero"}, {name: "heavy", weight: -60}, {name: "fine", weight: -60}},
		procs: []trackedLink{{name: "svc"}, {name: "weighted", weight: -10}}}
	st := trackState{files: map[string]int64{"zero": 1, "heavy": 5, "fine": 1}, procs: map[string]bool{}}
	want := []string{
		"(VI_1): entering FAULT state (tracked file zero has status -254)",
		"(VI_1): entering FAULT state (tracked file heavy has status -300)",
		"(VI_1) entering FAULT state (tracked process svc quorum not achieved)",
	}
	if got := tr.faultReasons(st); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reasons:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
