package daemon

import "testing"

func TestLinkTrackingFollowsKeepalivedsWeightRules(t *testing.T) {
	tr := &linkTracking{base: 100, links: []trackedLink{
		{name: "eth0"},                            // the instance's own: down means FAULT
		{name: "eth1", weight: 20},                // +20 while up
		{name: "eth2", weight: -30},               // -30 while down
		{name: "eth3", weight: 10, reverse: true}, // +10 while down
		{name: "eth4", weight: -5, reverse: true}, // -5 while up
	}}
	tests := []struct {
		name      string
		up        map[string]bool
		wantFault bool
		wantPrio  int
	}{
		{"all up", map[string]bool{"eth0": true, "eth1": true, "eth2": true, "eth3": true, "eth4": true}, false, 100 + 20 - 5},
		{"all down", map[string]bool{}, true, 100 - 30 + 10},
		{"weighted ones down", map[string]bool{"eth0": true}, false, 100 - 30 + 10},
		{"own interface down", map[string]bool{"eth1": true, "eth2": true, "eth3": true, "eth4": true}, true, 100 + 20 - 5},
	}
	for _, tt := range tests {
		fault, prio := tr.evaluate(trackState{up: tt.up})
		if fault != tt.wantFault || prio != tt.wantPrio {
			t.Errorf("%s: fault %v prio %d, want %v %d", tt.name, fault, prio, tt.wantFault, tt.wantPrio)
		}
	}
}

func TestReverseWithoutWeightFaultsWhileUp(t *testing.T) {
	tr := &linkTracking{base: 100, links: []trackedLink{{name: "eth9", reverse: true}}}
	if fault, _ := tr.evaluate(trackState{up: map[string]bool{"eth9": true}}); !fault {
		t.Fatal("weight 0 reverse: FAULT while the interface is up")
	}
	if fault, _ := tr.evaluate(trackState{up: map[string]bool{}}); fault {
		t.Fatal("weight 0 reverse: no FAULT while the interface is down")
	}
}

func TestScriptsWeighLikeInterfaces(t *testing.T) {
	tr := &linkTracking{base: 100, scripts: []trackedLink{{name: "chk_web", weight: -30}, {name: "chk_db"}}}
	if fault, prio := tr.evaluate(trackState{good: map[string]bool{"chk_web": false, "chk_db": true}}); fault || prio != 70 {
		t.Errorf("failed weighted script: fault %v prio %d, want false 70", fault, prio)
	}
	if fault, _ := tr.evaluate(trackState{good: map[string]bool{"chk_web": true, "chk_db": false}}); !fault {
		t.Error("a failed script without weight must cause FAULT")
	}
}

func TestScriptHealthRiseAndFall(t *testing.T) {
	h := &scriptHealth{good: true, rise: 2, fall: 3}
	var changes []bool
	for _, ok := range []bool{false, false, true, false, false, false, true, true} {
		if h.record(ok) {
			changes = append(changes, h.good)
		}
	}
	// Two failures are not enough (fall 3); three in a row are; one success
	// is not enough to recover (rise 2); two are.
	if len(changes) != 2 || changes[0] || !changes[1] {
		t.Fatalf("changes %v, want [false true]", changes)
	}
}
