package track

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/runner"
)

// fakeLinks is a LinkSource: the interfaces' states are what the test
// sets, and each watch is a fakeLinkWatch the test feeds.
type fakeLinks struct {
	mu      sync.Mutex
	states  map[string]bool
	watches []*fakeLinkWatch
	failSub int                // how many WatchLinks calls fail from now on
	listErr error              // LinkStates fails with it
	prefill []kernel.LinkState // queued in each new watch, as its listing
	watched chan *fakeLinkWatch
}

func newFakeLinks(states map[string]bool) *fakeLinks {
	return &fakeLinks{states: states, watched: make(chan *fakeLinkWatch, 16)}
}

func (f *fakeLinks) set(name string, up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[name] = up
}

func (f *fakeLinks) LinkStates() ([]kernel.LinkState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []kernel.LinkState
	for name, up := range f.states {
		out = append(out, kernel.LinkState{Name: name, Up: up})
	}
	return out, nil
}

func (f *fakeLinks) WatchLinks() (LinkWatch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failSub > 0 {
		f.failSub--
		return nil, errors.New("fake: cannot subscribe")
	}
	w := &fakeLinkWatch{updates: make(chan kernel.LinkState, 16), closed: make(chan struct{})}
	for _, s := range f.prefill {
		w.updates <- s
	}
	f.watches = append(f.watches, w)
	f.watched <- w
	return w, nil
}

// watch waits for the next WatchLinks.
func (f *fakeLinks) watch(t *testing.T) *fakeLinkWatch {
	t.Helper()
	select {
	case w := <-f.watched:
		return w
	case <-time.After(5 * time.Second):
		t.Fatal("no WatchLinks")
		return nil
	}
}

// allClosed tells whether every watch made was closed.
func (f *fakeLinks) allClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.watches {
		if !w.isClosed() {
			return false
		}
	}
	return true
}

// fakeLinkWatch is a LinkWatch: the test sends updates, and ends it with
// fail as the kernel's does after ENOBUFS.
type fakeLinkWatch struct {
	updates  chan kernel.LinkState
	mu       sync.Mutex
	err      error
	ended    bool
	closed   chan struct{}
	closeOne sync.Once
}

func (w *fakeLinkWatch) Updates() <-chan kernel.LinkState { return w.updates }

func (w *fakeLinkWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *fakeLinkWatch) Close() { w.closeOne.Do(func() { close(w.closed) }) }

func (w *fakeLinkWatch) isClosed() bool {
	select {
	case <-w.closed:
		return true
	default:
		return false
	}
}

// send passes an update unless the watch was closed.
func (w *fakeLinkWatch) send(name string, up bool) bool {
	select {
	case w.updates <- kernel.LinkState{Name: name, Up: up}:
		return true
	case <-w.closed:
		return false
	}
}

// fail ends the updates with err.
func (w *fakeLinkWatch) fail(err error) {
	w.mu.Lock()
	w.err, w.ended = err, true
	w.mu.Unlock()
	close(w.updates)
}

// fakeFiles is a FileSource: the files are real ones (the tests' temporary
// directories) but their events are what the test sends.
type fakeFiles struct {
	mu      sync.Mutex
	watches []*fakeDirWatch
	failErr error
}

func (f *fakeFiles) WatchDirs() (DirWatch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil {
		return nil, f.failErr
	}
	w := &fakeDirWatch{dirs: map[string]int{}, events: make(chan kernel.FileEvent, 16), closed: make(chan struct{})}
	f.watches = append(f.watches, w)
	return w, nil
}

func (f *fakeFiles) ReadFile(path string, limit int) ([]byte, error) {
	b, err := os.ReadFile(path)
	return b[:min(len(b), limit)], err
}

func (f *fakeFiles) watch() *fakeDirWatch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watches[len(f.watches)-1]
}

type fakeDirWatch struct {
	mu       sync.Mutex
	dirs     map[string]int
	events   chan kernel.FileEvent
	closed   chan struct{}
	closeOne sync.Once
}

func (w *fakeDirWatch) Add(dir string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wd, ok := w.dirs[dir]; ok {
		return wd, nil
	}
	w.dirs[dir] = len(w.dirs) + 1
	return w.dirs[dir], nil
}

func (w *fakeDirWatch) wd(dir string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dirs[dir]
}

func (w *fakeDirWatch) Events() <-chan kernel.FileEvent { return w.events }
func (w *fakeDirWatch) Err() error                      { return nil }
func (w *fakeDirWatch) Close()                          { w.closeOne.Do(func() { close(w.closed) }) }

func (w *fakeDirWatch) send(ev kernel.FileEvent) bool {
	select {
	case w.events <- ev:
		return true
	case <-w.closed:
		return false
	}
}

// fakeProcs is a ProcSource: a table of processes the test edits, and
// process events the test sends.
type fakeProcs struct {
	mu      sync.Mutex
	procs   map[int]kernel.ProcInfo
	watches []*fakeProcWatch
	subErr  error
	noAck   bool
	watched chan *fakeProcWatch
}

func newFakeProcs() *fakeProcs {
	return &fakeProcs{procs: map[int]kernel.ProcInfo{}, watched: make(chan *fakeProcWatch, 16)}
}

func (f *fakeProcs) set(pid int, comm string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if comm == "" {
		delete(f.procs, pid)
	} else {
		f.procs[pid] = kernel.ProcInfo{Comm: comm, Cmdline: []byte(comm + "\x00")}
	}
}

func (f *fakeProcs) Pids() ([]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for pid := range f.procs {
		out = append(out, pid)
	}
	return out, nil
}

func (f *fakeProcs) ReadProcess(pid int, _, _ bool) (kernel.ProcInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.procs[pid]
	return p, ok
}

func (f *fakeProcs) WatchProcesses() (ProcWatch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subErr != nil {
		return nil, f.subErr
	}
	w := &fakeProcWatch{events: make(chan kernel.ProcEvent, 16), closed: make(chan struct{})}
	if !f.noAck {
		w.events <- kernel.ProcEvent{Kind: kernel.ProcAck}
	}
	f.watches = append(f.watches, w)
	f.watched <- w
	return w, nil
}

type fakeProcWatch struct {
	events   chan kernel.ProcEvent
	mu       sync.Mutex
	err      error
	closed   chan struct{}
	closeOne sync.Once
}

func (w *fakeProcWatch) Events() <-chan kernel.ProcEvent { return w.events }

func (w *fakeProcWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *fakeProcWatch) Close() { w.closeOne.Do(func() { close(w.closed) }) }

func (w *fakeProcWatch) isClosed() bool {
	select {
	case <-w.closed:
		return true
	default:
		return false
	}
}

func (w *fakeProcWatch) send(ev kernel.ProcEvent) bool {
	select {
	case w.events <- ev:
		return true
	case <-w.closed:
		return false
	}
}

func (w *fakeProcWatch) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	close(w.events)
}

// fakeRunner runs scripts by name: each run returns what the script's
// channel gives, or waits for ctx. It counts the runs in progress.
type fakeRunner struct {
	mu      sync.Mutex
	results map[string]chan bool // by script command
	running int
	runs    int
}

func newFakeRunner(names ...string) *fakeRunner {
	r := &fakeRunner{results: map[string]chan bool{}}
	for _, n := range names {
		r.results[n] = make(chan bool)
	}
	return r
}

func (r *fakeRunner) run(ctx context.Context, s runner.Script, _ time.Duration) runner.Result {
	r.mu.Lock()
	r.running++
	r.runs++
	ch := r.results[s.Cmd]
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	select {
	case ok := <-ch:
		if ok {
			return runner.Result{}
		}
		return runner.Result{ExitCode: 1}
	case <-ctx.Done():
		return runner.Result{ExitCode: -1, Err: ctx.Err()}
	}
}

// result makes the next run of script cmd end with ok.
func (r *fakeRunner) result(t *testing.T, cmd string, ok bool) {
	t.Helper()
	select {
	case r.results[cmd] <- ok:
	case <-time.After(5 * time.Second):
		t.Fatalf("script %s is not run", cmd)
	}
}

func (r *fakeRunner) inProgress() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}

// recorder is an Instance that records what it is told, safely for the
// Tracker's goroutine; after is set once it must hear nothing more.
type recorder struct {
	mu     sync.Mutex
	events []string
	after  bool
	late   []string
}

func (r *recorder) record(ev string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	if r.after {
		r.late = append(r.late, ev)
	}
}

func (r *recorder) SetPriority(p int) { r.record(fmt.Sprintf("prio %d", p)) }
func (r *recorder) SetFault(b bool)   { r.record(fmt.Sprintf("fault %v", b)) }

func (r *recorder) stopped() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.after = true
}

func (r *recorder) lateCalls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.late...)
}

// wait waits until the instance has heard ev.
func (r *recorder) wait(t *testing.T, ev string) {
	t.Helper()
	err := lab.WaitUntil(ev, 5*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range r.events {
			if e == ev {
				return true
			}
		}
		return false
	})
	if err != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		t.Fatalf("%v; heard %v", err, r.events)
	}
}

// clear forgets what was heard.
func (r *recorder) clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = nil
}

// testLog is a logger whose lines the test reads.
type testLog struct{ buf *lab.SyncBuffer }

func newTestLog() (*slog.Logger, testLog) {
	l := testLog{buf: &lab.SyncBuffer{}}
	return slog.New(slog.NewTextHandler(l.buf, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

func (l testLog) has(s string) bool { return strings.Contains(l.buf.String(), s) }

// wait waits for a line containing s.
func (l testLog) wait(t *testing.T, s string) {
	t.Helper()
	if err := lab.WaitUntil(s, 5*time.Second, func() bool { return l.has(s) }); err != nil {
		t.Fatalf("%v; log:\n%s", err, l.buf.String())
	}
}
