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
		fault, prio := tr.evaluate(tt.up)
		if fault != tt.wantFault || prio != tt.wantPrio {
			t.Errorf("%s: fault %v prio %d, want %v %d", tt.name, fault, prio, tt.wantFault, tt.wantPrio)
		}
	}
}

func TestReverseWithoutWeightFaultsWhileUp(t *testing.T) {
	tr := &linkTracking{base: 100, links: []trackedLink{{name: "eth9", reverse: true}}}
	if fault, _ := tr.evaluate(map[string]bool{"eth9": true}); !fault {
		t.Fatal("weight 0 reverse: FAULT while the interface is up")
	}
	if fault, _ := tr.evaluate(map[string]bool{}); fault {
		t.Fatal("weight 0 reverse: no FAULT while the interface is down")
	}
}
