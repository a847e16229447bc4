package vrrpd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/runner"
	"github.com/keepalived-go/keepalived-go/internal/track"
)

// fakeLinks is a track.LinkSource whose watches the test feeds.
type fakeLinks struct {
	watched chan *fakeLinkWatch
}

func (f *fakeLinks) LinkStates() ([]kernel.LinkState, error) {
	return []kernel.LinkState{{Name: "eth0", Up: true}, {Name: "eth1", Up: true}}, nil
}

func (f *fakeLinks) WatchLinks() (track.LinkWatch, error) {
	w := &fakeLinkWatch{updates: make(chan kernel.LinkState), closed: make(chan struct{})}
	f.watched <- w
	return w, nil
}

type fakeLinkWatch struct {
	updates chan kernel.LinkState
	closed  chan struct{}
	once    sync.Once
}

func (w *fakeLinkWatch) Updates() <-chan kernel.LinkState { return w.updates }
func (w *fakeLinkWatch) Err() error                       { return nil }
func (w *fakeLinkWatch) Close()                           { w.once.Do(func() { close(w.closed) }) }

func (w *fakeLinkWatch) isClosed() bool {
	select {
	case <-w.closed:
		return true
	default:
		return false
	}
}

// flap toggles eth1 until the watch is closed.
func (w *fakeLinkWatch) flap(wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for up := false; ; up = !up {
			select {
			case w.updates <- kernel.LinkState{Name: "eth1", Up: up}:
			case <-w.closed:
				return
			}
		}
	}()
}

// TestStopAndReloadWaitForTheTracker: the tracker's callbacks (priority
// changes, with notify_priority_changes a notification) run on while
// interfaces flap; a reload and a stop return only once the tracker has
// stopped and closed its interface watch, so that no callback reaches a
// notifier whose queue is closed (which panicked).
func TestStopAndReloadWaitForTheTracker(t *testing.T) {
	cfg := loadConf(t, `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    advert_int 0.1
    notify_priority_changes
    track_interface {
        eth1 weight -10
    }
    virtual_ipaddress {
        198.51.100.1
    }
}
`)
	links := &fakeLinks{watched: make(chan *fakeLinkWatch, 4)}
	trackSources = track.Sources{Links: links}
	t.Cleanup(func() { trackSources = track.Sources{} })
	k := kernel.NewFake(kernel.Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.1")}, kernel.Interface{Name: "eth1"})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var flaps sync.WaitGroup
	defer flaps.Wait()
	rt, err := startVRRP(cfg, k, log, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		w := <-links.watched
		w.flap(&flaps)
		inst := rt.instances[0]
		if err := lab.WaitUntil("the priority moves", 5*time.Second, func() bool { return inst.Status().Priority == 90 }); err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			if rt, err = rt.reload(cfg, false); err != nil {
				t.Fatal(err)
			}
			if !w.isClosed() {
				t.Fatal("the reload returned with the old tracker still running")
			}
			continue
		}
		rt.stop()
		if !w.isClosed() {
			t.Fatal("stop returned with the tracker still running")
		}
	}
}

// TestReloadCarriesScriptVerdictsAndKeepsTrackFiles: a failed
// vrrp_script stays failed across a reload (its weight still applies at
// once, not after it has failed again), and init_file overwrite does not
// overwrite the tracked file at a reload, only at start.
func TestReloadCarriesScriptVerdictsAndKeepsTrackFiles(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	cfg := loadConf(t, fmt.Sprintf(`global_defs {
    script_user root
}
vrrp_script chk {
    script /bin/true
    weight -20
}
track_file f {
    file %s
    init_file 0 overwrite
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    advert_int 0.1
    track_script {
        chk
    }
    track_file {
        f weight -1
    }
    virtual_ipaddress {
        198.51.100.1
    }
}
`, state))
	if len(cfg.Scripts) != 1 || cfg.Scripts[0].Disabled || cfg.Scripts[0].Removed {
		t.Fatalf("the script is not usable: %+v", cfg.Scripts)
	}
	cfg.Scripts[0].Interval = config.Timer(10 * time.Millisecond)
	links := &fakeLinks{watched: make(chan *fakeLinkWatch, 4)}
	var fail atomic.Bool
	fail.Store(true)
	var runs atomic.Int64
	release := make(chan struct{}) // the runs after the reload wait for it
	run := func(ctx context.Context, s runner.Script, _ time.Duration) runner.Result {
		runs.Add(1)
		if fail.Load() {
			return runner.Result{ExitCode: 1}
		}
		select {
		case <-release:
			return runner.Result{}
		case <-ctx.Done():
			return runner.Result{ExitCode: -1, Err: ctx.Err()}
		}
	}
	trackSources = track.Sources{Links: links, Run: run}
	t.Cleanup(func() { trackSources = track.Sources{} })
	k := kernel.NewFake(kernel.Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.1")})
	rt, err := startVRRP(cfg, k, slog.New(slog.NewTextHandler(io.Discard, nil)), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { rt.stop() }()
	<-links.watched
	inst := rt.instances[0]
	if err := lab.WaitUntil("the failed script lowers the priority", 5*time.Second, func() bool { return inst.Status().Priority == 80 }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(state); string(b) != "0\n" {
		t.Fatalf("init_file wrote %q at start, want 0", b)
	}
	os.WriteFile(state, []byte("5\n"), 0o644)
	if err := lab.WaitUntil("the file lowers the priority", 5*time.Second, func() bool { return inst.Status().Priority == 75 }); err != nil {
		// The kernel's inotify follows the file.
		t.Fatal(err)
	}
	fail.Store(false) // from now on, runs succeed: only a carried verdict keeps it failed
	before := runs.Load()
	if rt, err = rt.reload(cfg, false); err != nil {
		t.Fatal(err)
	}
	<-links.watched
	if v := rt.scripts.Snapshot(); v["chk"] {
		t.Errorf("the script's failure was not carried over: %v", v)
	}
	if b, _ := os.ReadFile(state); string(b) != "5\n" {
		t.Errorf("init_file overwrite rewrote the file at a reload: %q", b)
	}
	inst = rt.instances[0]
	time.Sleep(50 * time.Millisecond)
	if p := inst.Status().Priority; p != 75 {
		t.Errorf("priority %d after the reload, want the carried 75", p)
	}
	close(release)
	if err := lab.WaitUntil("the script succeeds again", 5*time.Second, func() bool { return inst.Status().Priority == 95 }); err != nil {
		t.Fatal(err)
	}
	if runs.Load() == before {
		t.Error("the script did not run after the reload")
	}
}
