//go:build linux

package track

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// nsLinks is the kernel's LinkSource in network namespace ns: each call
// runs on a thread switched into it, as the daemon's whole process is.
type nsLinks struct {
	t  *testing.T
	ns netns.NsHandle
}

func (n nsLinks) in(f func()) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		n.t.Error(err)
		return
	}
	defer orig.Close()
	if err := netns.Set(n.ns); err != nil {
		runtime.UnlockOSThread()
		n.t.Error(err)
		return
	}
	f()
	if err := netns.Set(orig); err != nil {
		n.t.Errorf("restoring the namespace: %v", err)
		return // stays locked: the thread dies with the goroutine
	}
	runtime.UnlockOSThread()
}

func (n nsLinks) LinkStates() (s []kernel.LinkState, err error) {
	n.in(func() { s, err = kernel.LinkStates() })
	return s, err
}

func (n nsLinks) WatchLinks() (LinkWatch, error) {
	var w *kernel.LinkWatch
	var err error
	n.in(func() { w, err = kernel.WatchLinks() })
	if err != nil {
		return nil, err
	}
	return w, nil
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestNetnsLinkWatchOverflowRecovers: with the kernel's own link watch,
// a burst of link changes while the tracker is busy overflows the
// subscription's socket (ENOBUFS), which ends it. The tracker says so,
// watches again, reads the interfaces again, and the instance ends up
// with the priority the interfaces give; it used to keep what it had
// until the next reload.
func TestNetnsLinkWatchOverflowRecovers(t *testing.T) {
	testenv.RequireRoot(t, "ip")
	name := fmt.Sprintf("kgtrack-%d", os.Getpid())
	ip(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ip(t, "-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	ip(t, "-n", name, "link", "set", "v0", "up")
	ip(t, "-n", name, "link", "set", "v1", "up")
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	v1, err := h.LinkByName("v1")
	if err != nil {
		t.Fatal(err)
	}

	cfg := loadTrackConf(t, `vrrp_instance VI_1 {
    interface v0
    virtual_router_id 1
    priority 100
    track_interface {
        v1 weight -30
    }
    virtual_ipaddress {
        198.51.100.1
    }
}
`)
	objs := NewObjects(cfg)
	inst := &blockingRecorder{armed: make(chan struct{}), entered: make(chan struct{}), release: make(chan struct{})}
	log, logs := newTestLog()
	tk := New(Config{Log: log, Objects: objs, Tracked: []*Tracking{NewTracking(inst, cfg.Instances[0], objs)},
		Sources: Sources{Links: nsLinks{t: t, ns: ns}}})
	if err := tk.Start(); err != nil {
		t.Fatal(err)
	}
	defer tk.Stop()

	// The tracker is busy (an instance slow to take its priority) while
	// v1 flaps: nobody reads the subscription's socket, which overflows.
	close(inst.armed)
	if err := h.LinkSetDown(v1); err != nil {
		t.Fatal(err)
	}
	<-inst.entered
	for i := 0; i < 2000; i++ {
		if err := h.LinkSetUp(v1); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetDown(v1); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.LinkSetUp(v1); err != nil {
		t.Fatal(err)
	}
	close(inst.release)
	logs.wait(t, "interface watch ended, changes may have been lost")
	logs.wait(t, "no buffer space available")
	logs.wait(t, "interfaces watched again")
	inst.wait(t, "prio 100")
	// The new subscription is followed.
	inst.clear()
	if err := h.LinkSetDown(v1); err != nil {
		t.Fatal(err)
	}
	inst.wait(t, "prio 70")
}
