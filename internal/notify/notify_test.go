package notify

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/runner"
)

// Every goroutine a notifier starts (its queue, its scripts) has ended
// once the tests that made it have stopped it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logs is a logger whose output a test reads.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logs) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// sh is a script line run with /bin/sh -c.
func sh(line string) Script { return Script{Script: runner.Script{Cmd: line}} }

// reader opens a FIFO for reading without blocking; read returns what the
// pipe holds.
type reader struct{ fd int }

func openReader(t *testing.T, path string) *reader {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &reader{fd: fd}
}

// read returns what the pipe holds now, and whether its writers are all
// gone (EOF).
func (r *reader) read(t *testing.T) (string, bool) {
	t.Helper()
	var out []byte
	buf := make([]byte, 65536)
	for {
		n, err := unix.Read(r.fd, buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return string(out), false
		case err != nil:
			t.Fatal(err)
		case n == 0:
			return string(out), true
		}
		out = append(out, buf[:n]...)
	}
}

func fifoKeyword(path string) config.Script { return config.Script{Cmd: path, Args: []string{path}} }

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
	}
}

// processGone tells whether pid has exited (or is a zombie for init).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && strings.Contains(string(b), ") Z ")
}

func pidIn(t *testing.T, path string) int {
	t.Helper()
	waitFor(t, 5*time.Second, "no pid in "+path, func() bool { return strings.HasSuffix(readFile(path), "\n") })
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(path)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// An object's scripts run one after the other in event order (the
// state's own, then the generic one with its four arguments), and its
// lines reach the FIFO in the same order.
func TestScriptsAndLinesInEventOrder(t *testing.T) {
	dir := t.TempDir()
	fifo, out := filepath.Join(dir, "fifo"), filepath.Join(dir, "out")
	fifos := OpenFIFOs(nil, nil, fifoKeyword(fifo))
	defer fifos.Close()
	r := openReader(t, fifo)
	n := New(Instance, "VI_1", Options{FIFOs: fifos})
	var want, wantLines strings.Builder
	for i, state := range []string{"BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER", "STOP"} {
		line := fmt.Sprintf("INSTANCE \"VI_1\" %s %d\n", state, 100+i)
		// The first script is slower than the second: run side by side
		// they would interleave.
		own := sh(fmt.Sprintf("sleep 0.0%d; echo own %s >>%s", 5-i%5, state, out))
		generic := sh("echo generic >>"+out).WithArgs("INSTANCE", "VI_1", state, strconv.Itoa(100+i))
		n.Notify(Event{What: state, Lines: []string{line}, Scripts: []Script{own, {}, generic}})
		fmt.Fprintf(&want, "own %s\ngeneric INSTANCE VI_1 %s %d\n", state, state, 100+i)
		wantLines.WriteString(line)
	}
	n.Stop()
	if got := readFile(out); got != want.String() {
		t.Errorf("scripts ran as:\n%s\nwant:\n%s", got, want.String())
	}
	if got, _ := r.read(t); got != wantLines.String() {
		t.Errorf("FIFO lines:\n%s\nwant:\n%s", got, wantLines.String())
	}
	if s := n.Stats(); s != (Stats{}) {
		t.Errorf("stats %+v, want nothing lost", s)
	}
}

// A hung notify_master holds back neither the FIFO lines (written at
// once, before any script ran) nor, beyond ScriptWait, the next scripts;
// it is logged and counted, and left running until Stop, which ends it.
func TestHungScriptHoldsBackNeitherLinesNorLaterScripts(t *testing.T) {
	dir := t.TempDir()
	fifo, out, pidFile := filepath.Join(dir, "fifo"), filepath.Join(dir, "out"), filepath.Join(dir, "pid")
	fifos := OpenFIFOs(nil, nil, fifoKeyword(fifo))
	defer fifos.Close()
	r := openReader(t, fifo)
	var l logs
	const wait = 300 * time.Millisecond
	n := New(Instance, "VI_1", Options{Log: l.logger(), FIFOs: fifos, ScriptWait: wait})
	start := time.Now()
	n.Notify(Event{What: "MASTER", Lines: []string{"INSTANCE \"VI_1\" MASTER 100\n"},
		Scripts: []Script{sh("echo $$ >" + pidFile + "; exec sleep 60")}})
	n.Notify(Event{What: "BACKUP", Lines: []string{"INSTANCE \"VI_1\" BACKUP 100\n"},
		Scripts: []Script{sh("echo backup >>" + out)}})
	if got, _ := r.read(t); got != "INSTANCE \"VI_1\" MASTER 100\nINSTANCE \"VI_1\" BACKUP 100\n" {
		t.Fatalf("FIFO lines right after the events: %q; they must not wait for the scripts", got)
	}
	pid := pidIn(t, pidFile)
	waitFor(t, 5*time.Second, "notify_backup did not run after notify_master's bound", func() bool { return readFile(out) == "backup\n" })
	if took := time.Since(start); took < wait {
		t.Errorf("notify_backup ran after %v, before notify_master's bound %v: not in order", took, wait)
	}
	if s := n.Stats(); s.OverrunScripts != 1 {
		t.Errorf("stats %+v, want one overrunning script", s)
	}
	if !strings.Contains(l.String(), "still running") {
		t.Errorf("the overrun was not logged:\n%s", l.String())
	}
	if processGone(pid) {
		t.Fatal("the hung script was killed: keepalived leaves notify scripts running")
	}
	if !n.Busy() {
		t.Error("Busy is false while a script runs")
	}
	stopStart := time.Now()
	n.Stop()
	if took := time.Since(stopStart); took > runner.KillDelay {
		t.Errorf("Stop took %v: SIGTERM should have ended the script at once", took)
	}
	if !processGone(pid) {
		t.Error("the hung script still runs after Stop")
	}
	if n.Busy() {
		t.Error("Busy after Stop")
	}
}

// Stop runs what is queued (the STOP notifications), then ends the
// scripts still running, and waits for them. A notification after Stop is
// dropped, counted and logged, never run.
func TestStopRunsQueuedNotificationsThenEndsLeftovers(t *testing.T) {
	dir := t.TempDir()
	out, pidFile := filepath.Join(dir, "out"), filepath.Join(dir, "pid")
	var l logs
	n := New(Group, "G", Options{Log: l.logger(), ScriptWait: time.Second})
	n.Notify(Event{What: "MASTER", Scripts: []Script{sh("echo $$ >" + pidFile + "; exec sleep 60")}})
	pid := pidIn(t, pidFile)
	n.Notify(Event{What: "STOP", Scripts: []Script{sh("echo stop >>" + out)}})
	start := time.Now()
	n.Stop()
	if took := time.Since(start); took > time.Second+runner.KillDelay {
		t.Errorf("Stop took %v: more than the bound for the hung script, then SIGTERM", took)
	}
	if got := readFile(out); got != "stop\n" {
		t.Errorf("the queued STOP script did not run before Stop returned: %q", got)
	}
	if !processGone(pid) {
		t.Error("the script still running at Stop was not ended")
	}
	n.Notify(Event{What: "BACKUP", Scripts: []Script{sh("echo late >>" + out)}})
	n.Stop()
	if got := readFile(out); got != "stop\n" {
		t.Errorf("a script ran after Stop: %q", got)
	}
	if s := n.Stats(); s.DroppedEvents != 1 || s.OverrunScripts != 1 {
		t.Errorf("stats %+v, want one dropped event and one overrun", s)
	}
	if !strings.Contains(l.String(), "notifier has stopped") {
		t.Errorf("the late notification was not logged:\n%s", l.String())
	}
}

// A notification that finds the queue full loses its scripts, not its
// FIFO lines, and says so: counted in Stats and Totals, logged.
func TestFullQueueDropIsCountedAndLogged(t *testing.T) {
	dir := t.TempDir()
	fifo, out, started := filepath.Join(dir, "fifo"), filepath.Join(dir, "out"), filepath.Join(dir, "started")
	fifos := OpenFIFOs(nil, nil, fifoKeyword(fifo))
	defer fifos.Close()
	r := openReader(t, fifo)
	var l logs
	before := Totals()
	n := New(Instance, "VI_1", Options{Log: l.logger(), FIFOs: fifos, QueueLen: 1, ScriptWait: 2 * time.Second})
	defer n.Stop()
	n.Notify(Event{What: "MASTER", Scripts: []Script{sh("touch " + started + "; exec sleep 60")}})
	waitFor(t, 5*time.Second, "the first script did not start", func() bool { return fileExists(started) })
	n.Notify(Event{What: "BACKUP", Lines: []string{"B\n"}, Scripts: []Script{sh("echo backup >>" + out)}}) // queued
	n.Notify(Event{What: "FAULT", Lines: []string{"F\n"}, Scripts: []Script{sh("echo fault >>" + out)}})   // dropped
	n.Notify(Event{What: "MASTER_PRIORITY", Lines: []string{"P\n"}})                                       // a line only: no queue
	if s := n.Stats(); s.DroppedEvents != 1 {
		t.Fatalf("stats %+v, want one dropped event", s)
	}
	if d := Totals().DroppedEvents - before.DroppedEvents; d != 1 {
		t.Errorf("Totals counted %d dropped events, want 1", d)
	}
	if !strings.Contains(l.String(), "queue is full") || !strings.Contains(l.String(), "event=FAULT") {
		t.Errorf("the drop was not logged:\n%s", l.String())
	}
	if got, _ := r.read(t); got != "B\nF\nP\n" {
		t.Errorf("FIFO lines %q: a full queue must not lose them", got)
	}
	waitFor(t, 10*time.Second, "the queued script did not run", func() bool { return readFile(out) == "backup\n" })
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// A FIFO whose reader does not read never blocks Notify: the lines that
// do not fit in the pipe are dropped, counted, and logged once per 10
// seconds, not once per line.
func TestFullPipeDropsLinesWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fifo")
	var l logs
	fifos := OpenFIFOs(l.logger(), nil, fifoKeyword(path))
	defer fifos.Close()
	openReader(t, path) // a reader that never reads
	before := Totals()
	n := New(Instance, "VI_1", Options{Log: l.logger(), FIFOs: fifos})
	defer n.Stop()
	line := "INSTANCE \"" + strings.Repeat("x", 90) + "\" BACKUP 100\n"
	const events = 2000 // 220 kB, more than a pipe holds (64 kB by default)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range events {
			n.Notify(Event{What: "BACKUP", Lines: []string{line}})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify blocked on a full FIFO")
	}
	s := n.Stats()
	if s.DroppedLines == 0 || s.DroppedLines >= events {
		t.Fatalf("stats %+v: want some of the %d lines dropped", s, events)
	}
	if got := fifos.list[0].Dropped(); got != s.DroppedLines {
		t.Errorf("the FIFO counted %d dropped lines, the notifier %d", got, s.DroppedLines)
	}
	if d := Totals().DroppedLines - before.DroppedLines; d != s.DroppedLines {
		t.Errorf("Totals counted %d dropped lines, want %d", d, s.DroppedLines)
	}
	if c := strings.Count(l.String(), "notify FIFO line dropped"); c != 1 {
		t.Errorf("%d log lines for the dropped lines, want 1 (rate-limited):\n%s", c, l.String())
	}
}

// A reload opens the new FIFOs before closing the old: a path that stays
// keeps its pipe, so that its reader never sees EOF; the FIFO the daemon
// created is removed once its last user closes it, and a FIFO it found is
// left in place.
func TestFIFOHandedOverKeepsItsReader(t *testing.T) {
	dir := t.TempDir()
	created, found := filepath.Join(dir, "created"), filepath.Join(dir, "found")
	if err := unix.Mkfifo(found, 0o600); err != nil {
		t.Fatal(err)
	}
	old := OpenFIFOs(nil, nil, fifoKeyword(created), fifoKeyword(found))
	rc, rf := openReader(t, created), openReader(t, found)
	old.Write("one\n")
	next := OpenFIFOs(nil, nil, fifoKeyword(created), fifoKeyword(found))
	old.Close()
	next.Write("two\n")
	for _, r := range []*reader{rc, rf} {
		got, eof := r.read(t)
		if got != "one\ntwo\n" || eof {
			t.Errorf("reader got %q (EOF %v) across the handover, want both lines and no EOF", got, eof)
		}
	}
	if !fileExists(created) {
		t.Fatal("the FIFO was removed while still in use")
	}
	next.Close()
	if _, eof := rc.read(t); !eof {
		t.Error("the reader does not see EOF after the last close")
	}
	if fileExists(created) {
		t.Error("the FIFO the daemon created is still there after the last close")
	}
	if !fileExists(found) {
		t.Error("the FIFO the daemon found was removed")
	}
	openFIFOs.mu.Lock()
	defer openFIFOs.mu.Unlock()
	if len(openFIFOs.byPath) != 0 {
		t.Errorf("pipes still registered: %v", openFIFOs.byPath)
	}
}

// notify_fifo and vrrp_notify_fifo naming one path: each line once, as
// keepalived ignores the second.
func TestSamePathTwiceIsWrittenOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fifo")
	fifos := OpenFIFOs(nil, nil, fifoKeyword(path), config.Script{}, fifoKeyword(dir+"/./fifo"))
	defer fifos.Close()
	r := openReader(t, path)
	fifos.Write("line\n")
	if got, _ := r.read(t); got != "line\n" {
		t.Errorf("got %q, want the line once", got)
	}
}

// A FIFO that was removed behind the daemon's back is made anew by the
// next open, not shared.
func TestRemovedFIFOIsNotShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	a, err := OpenFIFO(nil, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	os.Remove(path)
	b, err := OpenFIFO(nil, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := openReader(t, path)
	b.Write("new\n")
	if got, _ := r.read(t); got != "new\n" {
		t.Errorf("got %q from the new FIFO", got)
	}
	b.Close()
	a.Close()
	if fileExists(path) {
		t.Error("the new FIFO was not removed at its close")
	}
}

// What is not a FIFO (a file, or a symbolic link an attacker planted) is
// refused, and OpenFIFOs leaves it out with a log line.
func TestNotAFIFOIsRefused(t *testing.T) {
	dir := t.TempDir()
	file, fifo, link := filepath.Join(dir, "file"), filepath.Join(dir, "fifo"), filepath.Join(dir, "link")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, link} {
		if f, err := OpenFIFO(nil, p, nil); err == nil {
			f.Close()
			t.Errorf("%s was accepted as a notify FIFO", p)
		}
	}
	var l logs
	fifos := OpenFIFOs(l.logger(), nil, fifoKeyword(file))
	defer fifos.Close()
	if len(fifos.Paths()) != 0 || !strings.Contains(l.String(), "not using it") {
		t.Errorf("paths %v, log:\n%s", fifos.Paths(), l.String())
	}
	if !fileExists(file) {
		t.Error("the refused file was removed")
	}
}

// A script whose user (its own, else script_user) does not resolve does
// not run, rather than run as the daemon (root); it is logged.
func TestUnresolvableUserDoesNotRun(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	line := "touch " + marker
	own := ScriptOf(config.Script{Cmd: line, Args: strings.Fields(line), User: "no-such-user-kg"}, nil)
	global := ScriptOf(config.Script{Cmd: line, Args: strings.Fields(line)}, []string{"no-such-user-kg"})
	group := ScriptOf(config.Script{Cmd: line, Args: strings.Fields(line), User: "root", Group: "no-such-group-kg"}, nil)
	for _, s := range []Script{own, global, group} {
		if s.Err == nil || s.IsZero() {
			t.Fatalf("%+v: want an error", s)
		}
	}
	var l logs
	n := New(Instance, "VI_1", Options{Log: l.logger()})
	n.Notify(Event{What: "MASTER", Scripts: []Script{own, global, group}})
	n.Stop()
	if fileExists(marker) {
		t.Fatal("a script whose user does not resolve ran")
	}
	if c := strings.Count(l.String(), "notify script not run"); c != 3 {
		t.Errorf("%d log lines for scripts not run, want 3:\n%s", c, l.String())
	}
}

// The script's own user comes before script_user; without either, the
// daemon's own user unless keepalived_script exists.
func TestScriptUserPrecedence(t *testing.T) {
	line := config.Script{Cmd: "/bin/true", Args: []string{"/bin/true"}}
	own := line
	own.User = "root"
	if s := ScriptOf(own, []string{"no-such-user-kg"}); s.Err != nil || s.Cred == nil || s.Cred.Uid != 0 {
		t.Errorf("own user root with a bad script_user: %+v", s)
	}
	if s := ScriptOf(line, []string{"root"}); s.Err != nil || s.Cred == nil || s.Cred.Uid != 0 {
		t.Errorf("script_user root: %+v", s)
	}
	s := ScriptOf(line, nil)
	if _, err := runner.Credential([]string{runner.DefaultUser}); err != nil && (s.Cred != nil || s.Err != nil) {
		t.Errorf("no user anywhere and no %s: %+v, want the daemon's own", runner.DefaultUser, s)
	}
	if s := ScriptOf(config.Script{}, []string{"root"}); !s.IsZero() {
		t.Errorf("an absent keyword made %+v", s)
	}
}
