package track

import "testing"

// record feeds results ("+" success, "-" failure) and returns the
// verdict after each, capitalised where it changed.
func record(r *RiseFall, results string) string {
	out := ""
	for _, c := range results {
		changed := r.Record(c == '+')
		v := map[bool]string{true: "g", false: "b"}[r.Good()]
		if changed {
			v = map[bool]string{true: "G", false: "B"}[r.Good()]
		}
		out += v
	}
	return out
}

func TestRiseFall(t *testing.T) {
	tests := []struct {
		name             string
		rise, fall       int
		good             bool
		results, verdict string
	}{
		// Two failures are not enough (fall 3); three in a row are; one
		// success is not enough to recover (rise 2); two are.
		{"rise 2 fall 3", 2, 3, true, "--+---++", "gggggBbG"},
		{"a success between failures starts fall again", 1, 2, true, "-+-+--", "gggggB"},
		{"a failure between successes starts rise again", 3, 1, false, "++-+++", "bbbbbG"},
		{"rise and fall 1 follow each result", 1, 1, true, "-+-", "BGB"},
		{"below 1 counts as 1", 0, -3, false, "+-", "GB"},
		{"starting bad", 2, 2, false, "-++", "bbG"},
		{"results that agree change nothing", 2, 2, true, "+++", "ggg"},
	}
	for _, tt := range tests {
		r := NewRiseFall(tt.rise, tt.fall, tt.good)
		if r.Good() != tt.good {
			t.Errorf("%s: starts %v, want %v", tt.name, r.Good(), tt.good)
		}
		if got := record(&r, tt.results); got != tt.verdict {
			t.Errorf("%s: %s gives %s, want %s", tt.name, tt.results, got, tt.verdict)
		}
	}
}

// TestRiseFallZeroValue: a bad verdict with rise and fall 1.
func TestRiseFallZeroValue(t *testing.T) {
	var r RiseFall
	if got := record(&r, "+-"); got != "GB" {
		t.Fatalf("zero value: +- gives %s, want GB", got)
	}
}
