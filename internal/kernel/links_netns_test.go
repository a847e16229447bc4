//go:build linux

package kernel

import (
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// watchIn subscribes to the links of namespace ns (rcvbuf 0: the
// default buffer); the test's end closes the watch.
func (l *lab) watchIn(ns netns.NsHandle, rcvbuf int) *LinkWatch {
	l.t.Helper()
	var w *LinkWatch
	var err error
	l.in(ns, func() { w, err = WatchLinksWith(NetlinkBuffer{Size: rcvbuf}) })
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(w.Close)
	return w
}

// nextLink waits for an update of the named interface with the given
// state.
func nextLink(t *testing.T, w *LinkWatch, name string, up bool) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case s, ok := <-w.Updates():
			if !ok {
				t.Fatalf("%s up=%v: the watch ended: %v", name, up, w.Err())
			}
			if s.Name == name && s.Up == up {
				return
			}
		case <-deadline:
			t.Fatalf("%s up=%v: not reported", name, up)
		}
	}
}

// TestNetnsLinkWatch: the watch lists the interfaces, reports changes,
// reports a deleted interface down, and ends without error on Close.
func TestNetnsLinkWatch(t *testing.T) {
	l := newLab(t)
	w := l.watchIn(l.ha, 0)
	nextLink(t, w, "vA1", true) // the listing
	run(t, "ip", "-n", l.a, "link", "set", "vA1", "down")
	nextLink(t, w, "vA1", false)
	run(t, "ip", "-n", l.a, "link", "set", "vA1", "up")
	nextLink(t, w, "vA1", true)
	run(t, "ip", "-n", l.a, "link", "del", "vA1")
	nextLink(t, w, "vA1", false)
	var states []LinkState
	l.in(l.ha, func() {
		var err error
		if states, err = LinkStates(); err != nil {
			t.Error(err)
		}
	})
	for _, s := range states {
		if s.Name == "vA1" {
			t.Errorf("LinkStates lists the deleted vA1: %+v", s)
		}
	}
	w.Close()
	for range w.Updates() {
	}
	if err := w.Err(); err != nil {
		t.Fatalf("Err after Close: %v", err)
	}
}

// TestNetnsLinkWatchOverflowEndsWithAnError: when the kernel has more
// link events for the subscription than its socket holds (a burst while
// nobody reads), the subscription ends: Updates is closed and Err says
// ENOBUFS, instead of the updates stopping silently.
func TestNetnsLinkWatchOverflowEndsWithAnError(t *testing.T) {
	l := newLab(t)
	w := l.watchIn(l.ha, 4096)
	h, err := netlink.NewHandleAt(l.ha)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName("vA1")
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads Updates meanwhile: its buffer, the library's, then
	// the socket's fill up.
	for i := 0; i < 1500; i++ {
		if err := h.LinkSetDown(link); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(link); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(10 * time.Second)
	for n := 0; ; n++ {
		select {
		case _, ok := <-w.Updates():
			if ok {
				continue
			}
			err := w.Err()
			if err == nil || !strings.Contains(err.Error(), "no buffer space available") {
				t.Fatalf("the watch ended after %d updates with %v, want ENOBUFS", n, err)
			}
			t.Logf("ended after %d updates: %v", n, err)
			return
		case <-deadline:
			t.Fatalf("the watch still runs after %d updates: the burst did not overflow it", n)
		}
	}
}
