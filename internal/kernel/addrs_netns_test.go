//go:build linux

package kernel

import (
	"net/netip"
	"testing"
	"time"
)

// TestNetnsAddrWatch: the watch reports an address added to an interface
// of the namespace and its removal.
func TestNetnsAddrWatch(t *testing.T) {
	l := newLab(t)
	var w *AddrWatch
	var err error
	l.in(l.ha, func() { w, err = WatchAddresses() })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	vip := netip.MustParseAddr("198.51.100.77")
	run(t, "ip", "-n", l.a, "addr", "add", vip.String()+"/32", "dev", "vA1")
	nextAddr(t, w, vip, true)
	run(t, "ip", "-n", l.a, "addr", "del", vip.String()+"/32", "dev", "vA1")
	nextAddr(t, w, vip, false)
}

func nextAddr(t *testing.T, w *AddrWatch, a netip.Addr, added bool) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case ev, ok := <-w.Updates():
			if !ok {
				t.Fatalf("%s added=%v: the watch ended: %v", a, added, w.Err())
			}
			if ev.Addr == a && ev.Added == added && ev.Index > 0 {
				return
			}
		case <-deadline:
			t.Fatalf("%s added=%v: not reported", a, added)
		}
	}
}
