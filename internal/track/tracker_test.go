package track

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// loadTrackConf reads a configuration, its scripts run every 10 ms.
func loadTrackConf(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, res := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true },
		UserExists: func(string) bool { return true }, LookPath: func(f string) (string, error) { return f, nil }})
	for _, s := range cfg.Scripts {
		if s.Disabled || s.Removed {
			t.Fatalf("script %s dropped: %v", s.Name(), res)
		}
		s.Interval = config.Timer(10 * time.Millisecond)
	}
	return cfg
}

// rig is a Tracker on fakes for VI_1 of a configuration.
type rig struct {
	links *fakeLinks
	files *fakeFiles
	procs *fakeProcs
	run   *fakeRunner
	inst  *recorder
	tr    *Tracking
	log   testLog
	tk    *Tracker
}

func newRig(t *testing.T, text string, links map[string]bool, scripts ...string) *rig {
	t.Helper()
	cfg := loadTrackConf(t, text)
	objs := NewObjects(cfg)
	r := &rig{links: newFakeLinks(links), files: &fakeFiles{}, procs: newFakeProcs(), run: newFakeRunner(scripts...), inst: &recorder{}}
	r.tr = NewTracking(r.inst, cfg.Instances[0], objs)
	log, logs := newTestLog()
	r.log = logs
	r.tk = New(Config{Log: log, Objects: objs, Tracked: []*Tracking{r.tr},
		Sources: Sources{Links: r.links, Files: r.files, Procs: r.procs, Run: r.run.run}})
	return r
}

func (r *rig) start(t *testing.T) {
	t.Helper()
	if err := r.tk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.tk.Stop)
}

const trackedScriptConf = `vrrp_script chk {
    script /bin/true
    weight -20
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    track_interface {
        eth1 weight -30
    }
    track_script {
        chk
    }
    virtual_ipaddress {
        198.51.100.1
    }
}
`

// TestLinkWatchErrorResubscribesAndResyncs: the interface subscription
// ends with an error, as the kernel's does after ENOBUFS. The tracker
// says so, subscribes again, reads every interface again (eth1 went down
// meanwhile, unreported), and goes on following the new subscription and
// the scripts, where it used to stop following anything until a reload.
func TestLinkWatchErrorResubscribesAndResyncs(t *testing.T) {
	r := newRig(t, trackedScriptConf, map[string]bool{"eth0": true, "eth1": true}, "/bin/true")
	r.start(t)
	first := r.links.watch(t)
	r.links.set("eth1", false) // lost with the events
	first.fail(errors.New("Receive failed: no buffer space available"))
	r.inst.wait(t, "prio 70")
	r.log.wait(t, "interface watch ended, changes may have been lost")
	r.log.wait(t, "no buffer space available")
	r.log.wait(t, "interface eth1 is down")
	second := r.links.watch(t)
	if !first.isClosed() {
		t.Error("the ended subscription was not closed")
	}
	second.send("eth0", false)
	r.inst.wait(t, "fault true")
	second.send("eth0", true)
	r.inst.wait(t, "fault false")
	r.run.result(t, "/bin/true", false)
	r.inst.wait(t, "prio 50")
	r.log.wait(t, "VRRP_Script(chk) failed")
	r.log.wait(t, "(VI_1) Changing effective priority from 70 to 50")
}

// TestLinkWatchRetriesUntilItCanSubscribe: when subscribing again fails,
// the tracker tries again every second; meanwhile the rest goes on.
func TestLinkWatchRetriesUntilItCanSubscribe(t *testing.T) {
	r := newRig(t, trackedScriptConf, map[string]bool{"eth0": true, "eth1": true}, "/bin/true")
	r.start(t)
	first := r.links.watch(t)
	r.links.mu.Lock()
	r.links.failSub = 1
	r.links.mu.Unlock()
	first.fail(errors.New("Receive failed: no buffer space available"))
	r.log.wait(t, "cannot watch interfaces; trying again in 1s")
	r.run.result(t, "/bin/true", false)
	r.inst.wait(t, "prio 80")
	r.links.set("eth1", false)
	r.links.watch(t)
	r.inst.wait(t, "prio 50")
	r.log.wait(t, "interfaces watched again")
}

// TestListingFailureWaitsForTheWatchListing: when the interfaces cannot
// be listed at once, nothing is applied until the watch's own listing has
// been read (no false FAULT from a half-read list).
func TestListingFailureWaitsForTheWatchListing(t *testing.T) {
	r := newRig(t, trackedScriptConf, map[string]bool{}, "/bin/true")
	r.links.listErr = errors.New("fake: cannot list")
	r.links.prefill = []kernel.LinkState{{Name: "eth0", Up: true}, {Name: "eth1", Up: true}}
	r.start(t)
	w := r.links.watch(t)
	r.log.wait(t, "cannot list interfaces; tracking starts once they are watched")
	time.Sleep(50 * time.Millisecond)
	w.send("eth1", false)
	r.inst.wait(t, "prio 70")
	r.inst.mu.Lock()
	defer r.inst.mu.Unlock()
	if fmt.Sprint(r.inst.events) != "[prio 70]" {
		t.Fatalf("heard %v, want [prio 70]: a half-read listing was applied", r.inst.events)
	}
}

// blockingRecorder is an instance whose SetPriority blocks, once armed,
// until released: a callback still running when Stop is called.
type blockingRecorder struct {
	recorder
	arm     sync.Once
	armed   chan struct{}
	entered chan struct{}
	release chan struct{}
}

func (b *blockingRecorder) SetPriority(p int) {
	b.recorder.SetPriority(p)
	select {
	case <-b.armed:
		b.arm.Do(func() {
			close(b.entered)
			<-b.release
		})
	default:
	}
}

// TestStopWaitsForEverything: Stop returns only once the tracker's
// goroutines have ended (a callback in progress finishes first), its
// subscriptions are closed and no script runs; no callback runs after
// it. It used to close a channel and return, leaving the loop to call
// the instance (and the notifier) after the daemon had moved on.
func TestStopWaitsForEverything(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("0\n"), 0o644)
	text := strings.Replace(trackedScriptConf, "vrrp_instance VI_1 {", fmt.Sprintf(`track_file f {
    file %s
    weight -1
}
vrrp_track_process p {
    process svc
    weight -5
}
vrrp_instance VI_1 {
    notify_priority_changes
    track_file {
        f
    }
    track_process {
        p
    }`, file), 1)
	cfg := loadTrackConf(t, text)
	objs := NewObjects(cfg)
	links, files, procs, run := newFakeLinks(map[string]bool{"eth0": true, "eth1": true}), &fakeFiles{}, newFakeProcs(), newFakeRunner("/bin/true")
	procs.set(10, "svc")
	inst := &blockingRecorder{armed: make(chan struct{}), entered: make(chan struct{}), release: make(chan struct{})}
	tr := NewTracking(inst, cfg.Instances[0], objs)
	var mu sync.Mutex
	var prioAfterStop []int
	stopped := false
	tr.OnPriorityChange(func(p int) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			prioAfterStop = append(prioAfterStop, p)
		}
	})
	log, _ := newTestLog()
	tk := New(Config{Log: log, Objects: objs, Tracked: []*Tracking{tr},
		Sources: Sources{Links: links, Files: files, Procs: procs, Run: run.run}})
	if err := tk.Start(); err != nil {
		t.Fatal(err)
	}
	w := links.watch(t)
	pw := <-procs.watched
	// Interface changes flow until the subscription is closed.
	var feed sync.WaitGroup
	feed.Add(1)
	go func() {
		defer feed.Done()
		for up := false; w.send("eth1", up); up = !up {
		}
	}()
	inst.wait(t, "prio 70")
	if err := lab.WaitUntil("a script runs", 5*time.Second, func() bool { return run.inProgress() == 1 }); err != nil {
		t.Fatal(err)
	}
	close(inst.armed)
	<-inst.entered // the loop is in a callback
	stopDone := make(chan struct{})
	go func() {
		tk.Stop()
		mu.Lock()
		stopped = true
		mu.Unlock()
		inst.stopped()
		close(stopDone)
	}()
	select {
	case <-stopDone:
		t.Fatal("Stop returned while a callback was running")
	case <-time.After(100 * time.Millisecond):
	}
	close(inst.release)
	select {
	case <-stopDone:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop does not return")
	}
	if !links.allClosed() {
		t.Error("an interface subscription is still open after Stop")
	}
	if !files.watch().isClosed() {
		t.Error("the file watch is still open after Stop")
	}
	if !pw.isClosed() {
		t.Error("the process subscription is still open after Stop")
	}
	if n := run.inProgress(); n != 0 {
		t.Errorf("%d script runs in progress after Stop", n)
	}
	feed.Wait()
	time.Sleep(50 * time.Millisecond)
	if late := inst.lateCalls(); len(late) > 0 {
		t.Errorf("the instance heard %v after Stop returned", late)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(prioAfterStop) > 0 {
		t.Errorf("priority callbacks %v after Stop returned", prioAfterStop)
	}
	tk.Stop() // again: nothing happens
}

func (w *fakeDirWatch) isClosed() bool {
	select {
	case <-w.closed:
		return true
	default:
		return false
	}
}

// TestStopWithoutStart: a Tracker that never started stops at once.
func TestStopWithoutStart(t *testing.T) {
	New(Config{Objects: &Objects{}}).Stop()
}

// TestStartFailsWhenInterfacesCannotBeWatched: nothing runs then.
func TestStartFailsWhenInterfacesCannotBeWatched(t *testing.T) {
	r := newRig(t, trackedScriptConf, map[string]bool{}, "/bin/true")
	r.links.failSub = 1
	if err := r.tk.Start(); err == nil {
		t.Fatal("Start succeeded without an interface watch")
	}
	r.tk.Stop()
	if r.run.runs != 0 {
		t.Fatal("scripts ran although the tracker did not start")
	}
}

// TestScriptsRiseAndFallWithVerdicts: a script's runs go through rise and
// fall; the verdicts follow, a cancelled run counts for nothing, and the
// lines are keepalived's.
func TestScriptsRiseAndFallWithVerdicts(t *testing.T) {
	text := strings.Replace(trackedScriptConf, "    weight -20\n", "    weight -20\n    rise 2\n    fall 2\n", 1)
	r := newRig(t, text, map[string]bool{"eth0": true, "eth1": true}, "/bin/true")
	verdicts := r.tk.cfg.Verdicts
	r.start(t)
	r.links.watch(t)
	r.run.result(t, "/bin/true", false)
	r.run.result(t, "/bin/true", true) // a success between failures starts fall again
	r.run.result(t, "/bin/true", false)
	r.run.result(t, "/bin/true", false)
	r.inst.wait(t, "prio 80")
	r.log.wait(t, "VRRP_Script(chk) failed")
	if v := verdicts.Snapshot(); v["chk"] {
		t.Errorf("verdicts %v after the fall", v)
	}
	r.run.result(t, "/bin/true", true)
	r.run.result(t, "/bin/true", true)
	r.inst.wait(t, "prio 100")
	r.log.wait(t, "VRRP_Script(chk) succeeded")
	r.log.wait(t, "(VI_1) Changing effective priority from 80 to 100")
	if v := verdicts.Snapshot(); !v["chk"] {
		t.Errorf("verdicts %v after the rise", v)
	}
}

// TestCarriedVerdictsStartTheScripts: at a reload a script starts from
// the verdict carried over, not from init_fail.
func TestCarriedVerdictsStartTheScripts(t *testing.T) {
	cfg := loadTrackConf(t, trackedScriptConf)
	objs := NewObjects(cfg)
	if v := NewVerdicts(objs, nil).Snapshot(); !v["chk"] {
		t.Fatalf("a script without init_fail starts good: %v", v)
	}
	v := NewVerdicts(objs, map[string]bool{"chk": false, "gone": true})
	if got := v.Snapshot(); len(got) != 1 || got["chk"] {
		t.Fatalf("carried verdicts %v, want chk failed only", got)
	}
	links := newFakeLinks(map[string]bool{"eth0": true, "eth1": true})
	inst := &recorder{}
	tr := NewTracking(inst, cfg.Instances[0], objs)
	tr.Resume(80)
	log, logs := newTestLog()
	tk := New(Config{Log: log, Objects: objs, Tracked: []*Tracking{tr}, Verdicts: v, Reload: true,
		Sources: Sources{Links: links, Run: newFakeRunner("/bin/true").run}})
	if err := tk.Start(); err != nil {
		t.Fatal(err)
	}
	defer tk.Stop()
	links.watch(t)
	time.Sleep(50 * time.Millisecond)
	if logs.has("Changing effective priority") {
		t.Fatalf("the carried priority changed:\n%s", logs.buf.String())
	}
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if len(inst.events) != 0 {
		t.Fatalf("heard %v; the carried state needs nothing", inst.events)
	}
}

// TestFileEventsThroughTheWatcher: a write reads the file again, a
// removal reads 0, lost events read every file again, and a directory
// gone leaves the value as it was.
func TestFileEventsThroughTheWatcher(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("0\n"), 0o644)
	text := strings.Replace(trackedScriptConf, "vrrp_instance VI_1 {", fmt.Sprintf("track_file f {\n    file %s\n    weight -10\n}\nvrrp_instance VI_1 {\n    track_file {\n        f\n    }", file), 1)
	r := newRig(t, text, map[string]bool{"eth0": true, "eth1": true}, "/bin/true")
	r.start(t)
	r.links.watch(t)
	w := r.files.watch()
	wd := w.wd(dir)
	os.WriteFile(file, []byte("2\n"), 0o644)
	w.send(kernel.FileEvent{Watch: wd, Name: "other", Op: kernel.FileChanged}) // not ours
	w.send(kernel.FileEvent{Watch: wd, Name: "f", Op: kernel.FileChanged})
	r.inst.wait(t, "prio 80")
	r.log.wait(t, "Track file f now has value 2")
	w.send(kernel.FileEvent{Watch: wd, Name: "f", Op: kernel.FileRemoved})
	r.inst.wait(t, "prio 100")
	os.WriteFile(file, []byte("3\n"), 0o644)
	w.send(kernel.FileEvent{Op: kernel.EventsLost})
	r.inst.wait(t, "prio 70")
	w.send(kernel.FileEvent{Watch: wd, Op: kernel.DirGone})
	r.log.wait(t, "the directory of track file f is gone: its value stays 3")
}

// TestProcessEventsAndFallback: process events count a tracked process;
// when they end with an error the monitor rescans instead.
func TestProcessEventsAndFallback(t *testing.T) {
	text := strings.Replace(trackedScriptConf, "vrrp_instance VI_1 {", "vrrp_track_process p {\n    process svc\n}\nvrrp_instance VI_1 {\n    track_process {\n        p\n    }", 1)
	r := newRig(t, text, map[string]bool{"eth0": true, "eth1": true}, "/bin/true")
	r.start(t)
	pw := <-r.procs.watched
	r.links.watch(t)
	r.log.wait(t, "(VI_1) entering FAULT state (tracked process p quorum not achieved)")
	r.inst.wait(t, "fault true")
	r.procs.set(42, "svc")
	pw.send(kernel.ProcEvent{Kind: kernel.ProcExec, Pid: 42, Tgid: 42})
	r.inst.wait(t, "fault false")
	r.log.wait(t, "Quorum gained for tracked process p")
	pw.fail(errors.New("fake: connector read error"))
	r.log.wait(t, "the kernel's process events cannot be used (fake: connector read error)")
	if !pw.isClosed() {
		t.Error("the failed subscription was not closed")
	}
	r.procs.set(42, "")
	r.inst.wait(t, "fault true") // found by a rescan
	r.log.wait(t, "Quorum lost for tracked process p")
}
