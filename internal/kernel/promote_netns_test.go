//go:build linux

package kernel

import "testing"

// TestNetnsPromoteSecondariesCounts: the setting is turned on by the first
// holder of an interface where it was off, stays on while any holds it
// (two holders, as a reload's old and new runtimes), and goes back off
// with the last; an interface where it was on already is left alone.
func TestNetnsPromoteSecondariesCounts(t *testing.T) {
	l := newLab(t)
	l.in(l.ha, func() {
		path := ipv4Conf("vA0", "promote_secondaries")
		read := func() int {
			v, err := readSysctl(path)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if err := writeSysctl(path, 0); err != nil {
			t.Fatal(err)
		}
		r1, err := PromoteSecondaries("vA0")
		if err != nil {
			t.Fatal(err)
		}
		r2, err := PromoteSecondaries("vA0")
		if err != nil {
			t.Fatal(err)
		}
		if v := read(); v != 1 {
			t.Fatalf("%d with two holders, want 1", v)
		}
		if err := r1(); err != nil {
			t.Fatal(err)
		}
		r1() // a second call changes nothing
		if v := read(); v != 1 {
			t.Fatalf("%d with one holder left, want 1", v)
		}
		if err := r2(); err != nil {
			t.Fatal(err)
		}
		if v := read(); v != 0 {
			t.Fatalf("%d after the last holder, want 0 as found", v)
		}
		writeSysctl(path, 1)
		r3, err := PromoteSecondaries("vA0")
		if err != nil {
			t.Fatal(err)
		}
		r3()
		if v := read(); v != 1 {
			t.Fatalf("%d: an interface that had it lost it", v)
		}
	})
}
