package check

import (
	"math"
	"testing"
)

func TestFileStatusFollowsKeepalivedsRules(t *testing.T) {
	for _, tc := range []struct {
		f      File
		value  int64
		down   bool
		adjust int64
	}{
		{File{Weight: 0}, 0, false, 0},
		{File{Weight: 0}, 1, true, 0},
		{File{Weight: 0}, -3, true, 0},
		{File{Weight: 0, Reverse: true}, 0, true, 0},
		{File{Weight: 0, Reverse: true}, 5, false, 0},
		{File{Weight: 3}, 0, false, 0},
		{File{Weight: 3}, 2, false, 6},
		{File{Weight: 3}, -2, false, -6}, // a negative weight is no fault
		{File{Weight: 3, Reverse: true}, 2, false, -6},
		{File{Weight: -1}, 4, false, -4},
		{File{Weight: 1}, math.MinInt32, true, 0}, // IPVS_WEIGHT_FAULT
		{File{Weight: 1}, math.MinInt32 + 1, false, math.MinInt32 + 1},
		{File{Weight: 2}, -(1 << 30), true, 0},
		{File{Weight: 2}, math.MaxInt32 + 1, false, math.MaxInt32}, // weight_range
		{File{Weight: math.MaxInt32, Reverse: true}, math.MaxInt32 + 1, true, 0},
	} {
		down, adj := tc.f.Status(tc.value)
		if down != tc.down || adj != tc.adjust {
			t.Errorf("%+v value %d: down %v adjust %d, want %v %d", tc.f, tc.value, down, adj, tc.down, tc.adjust)
		}
	}
}
