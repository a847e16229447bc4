package track

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// TestObjectsTakeTheResolvedTrackProcesses: the runtime runs the blocks
// validation kept, as it resolved them (TestTrackProcessSpecs in
// internal/config checks the reading), with the parameters NUL-terminated
// as /proc/PID/cmdline holds them.
func TestObjectsTakeTheResolvedTrackProcesses(t *testing.T) {
	cfg := loadConf(t, `vrrp_track_process plain {
    process nginx
}
vrrp_track_process params {
    process /usr/sbin/haproxy -f "/etc/a b.cfg"
    weight -10 reverse
    quorum 2
    quorum_max 3
    delay 2
}
vrrp_track_process noprocess {
    quorum 1
}
vrrp_track_process plain {
    process apache2
}
`)
	objs := NewObjects(cfg)
	if len(objs.procs) != 2 || objs.procs["noprocess"] != nil {
		t.Fatalf("procs %v, want plain and params", objs.procs)
	}
	for name, want := range cfg.TrackProcessSpecs() {
		got := objs.procs[name]
		if got == nil || !reflect.DeepEqual(got.TrackProcessSpec, *want) {
			t.Errorf("%s: %+v, want the resolved %+v", name, got, want)
		}
	}
	if p := objs.procs["plain"]; p.Process != "nginx" || p.nulParams != nil {
		t.Errorf("plain: the first block of a name runs, without parameters: %+v", p)
	}
	if p := objs.procs["params"]; string(p.nulParams) != "-f\x00/etc/a b.cfg\x00" {
		t.Errorf("params: %q, want each parameter NUL-terminated", p.nulParams)
	}
	c := newQuorumCounter(objs.procs["params"])
	if c.quorum != 2 || c.quorumMax != 3 || c.forkDelay != 2*time.Second || c.termDelay != 2*time.Second {
		t.Errorf("counter %+v, want quorum 2..3 and both delays 2s", c)
	}
}

// pspec is the runtime's spec of a resolved block.
func pspec(s config.TrackProcessSpec) *procSpec { return newProcSpec(&s) }

func TestParamsMatchLikeKeepalived(t *testing.T) {
	cmd := func(args ...string) []byte { return []byte(strings.Join(args, "\x00") + "\x00") }
	spec := func(m config.TrackProcessParamMatch, params ...string) *procSpec {
		return pspec(config.TrackProcessSpec{Process: "/bin/app", FullCommand: true, ParamMatch: m, Params: params})
	}
	tests := []struct {
		name string
		spec *procSpec
		cmd  []byte
		want bool
	}{
		{"no params: any", spec(config.ParamMatchNone), cmd("/bin/app", "-x"), true},
		{"other argv0", spec(config.ParamMatchNone), cmd("/bin/other"), false},
		{"exact, none wanted, none given", spec(config.ParamMatchExact), cmd("/bin/app"), true},
		{"exact, none wanted, one given", spec(config.ParamMatchExact), cmd("/bin/app", "-x"), false},
		{"exact equal", spec(config.ParamMatchExact, "-f", "a b"), cmd("/bin/app", "-f", "a b"), true},
		{"exact, one more", spec(config.ParamMatchExact, "-f", "a"), cmd("/bin/app", "-f", "a", "-d"), false},
		{"exact, longer last", spec(config.ParamMatchExact, "-f", "a"), cmd("/bin/app", "-f", "ab"), false},
		{"partial, first ones", spec(config.ParamMatchPartial, "-f", "a"), cmd("/bin/app", "-f", "a", "-d"), true},
		{"partial, longer last", spec(config.ParamMatchPartial, "-f", "a"), cmd("/bin/app", "-f", "ab"), false},
		{"initial, longer last", spec(config.ParamMatchInitial, "-f", "a"), cmd("/bin/app", "-f", "ab"), true},
		{"initial, other", spec(config.ParamMatchInitial, "-f", "a"), cmd("/bin/app", "-g", "a"), false},
		{"fewer than wanted", spec(config.ParamMatchPartial, "-f", "a"), cmd("/bin/app", "-f"), false},
	}
	for _, tt := range tests {
		if got := tt.spec.matches(kernel.ProcInfo{Cmdline: tt.cmd}); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if !pspec(config.TrackProcessSpec{Process: "nginx"}).matches(kernel.ProcInfo{Comm: "nginx"}) || pspec(config.TrackProcessSpec{Process: "ngin"}).matches(kernel.ProcInfo{Comm: "nginx"}) {
		t.Error("without full_command the name must match exactly")
	}
}

// counter is a quorumCounter in its initial state (as the first scan
// leaves it).
func counter(quorum, quorumMax int, fork, term time.Duration) *quorumCounter {
	c := &quorumCounter{quorum: quorum, quorumMax: quorumMax, forkDelay: fork, termDelay: term}
	c.up = c.inQuorum()
	return c
}

func TestQuorumRules(t *testing.T) {
	now := time.Now()
	steps := func(c *quorumCounter, ops string) []bool {
		var got []bool
		for _, op := range ops {
			if op == '+' {
				c.add(causeExec, now)
			} else {
				c.remove(causeExit, now)
			}
			got = append(got, c.up)
		}
		return got
	}
	tests := []struct {
		name string
		c    *quorumCounter
		ops  string
		want []bool
	}{
		{"quorum 1", counter(1, config.TrackProcessNoQuorumMax, 0, 0), "++--", []bool{true, true, true, false}},
		{"quorum 2..3", counter(2, 3, 0, 0), "++++-", []bool{false, true, true, false, true}},
		{"quorum_max 0: up while none runs", counter(0, 0, 0, 0), "+-", []bool{false, true}},
		{"quorum_max 1: a second one is too many", counter(1, 1, 0, 0), "++-", []bool{true, false, true}},
	}
	for _, tt := range tests {
		if got := steps(tt.c, tt.ops); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %s gives %v, want %v", tt.name, tt.ops, got, tt.want)
		}
	}
}

func TestQuorumDelays(t *testing.T) {
	t0 := time.Now()
	// terminate_delay: an exit counts after the delay...
	c := counter(1, config.TrackProcessNoQuorumMax, 0, 2*time.Second)
	c.add(causeExec, t0)
	if c.remove(causeExit, t0) || !c.up {
		t.Fatal("with terminate_delay an exit must not count at once")
	}
	if c.expire(t0.Add(time.Second)) || !c.expire(t0.Add(2*time.Second)) || c.up {
		t.Fatal("the exit must count when terminate_delay ends")
	}
	// ...and a process back in time cancels it.
	c.add(causeExec, t0)
	c.remove(causeExit, t0)
	if c.add(causeExec, t0.Add(time.Second)) || !c.up || !c.deadline().IsZero() {
		t.Fatal("a process back within terminate_delay must cancel the exit")
	}
	// A process renamed away counts at once, whatever terminate_delay says.
	if !c.remove(causeRename, t0) || c.up {
		t.Fatal("a renamed process must count at once")
	}
	// fork_delay: a fork counts after the delay; an exec at once.
	c = counter(1, config.TrackProcessNoQuorumMax, time.Second, 0)
	if c.add(causeFork, t0) || c.up || !c.expire(t0.Add(time.Second)) || !c.up {
		t.Fatal("with fork_delay a fork must count after the delay")
	}
	c = counter(1, config.TrackProcessNoQuorumMax, time.Second, 0)
	if !c.add(causeExec, t0) {
		t.Fatal("fork_delay must not delay an exec")
	}
	// A child that exits during fork_delay cancels it.
	c = counter(1, config.TrackProcessNoQuorumMax, time.Second, time.Second)
	c.add(causeFork, t0)
	if c.remove(causeExit, t0) || c.up || !c.deadline().IsZero() {
		t.Fatal("an exit during fork_delay must cancel it")
	}
}

// TestProcTableCountsEachProcessOnce: the same process seen twice (an
// event after the scan) counts once; a fork's child counts for what its
// parent counts; an exit and a new name stop a process counting.
func TestProcTableCountsEachProcessOnce(t *testing.T) {
	specs := []*procSpec{pspec(config.TrackProcessSpec{Name: "byname", Process: "app", Quorum: 2, QuorumMax: config.TrackProcessNoQuorumMax}),
		pspec(config.TrackProcessSpec{Name: "bycmd", Process: "/bin/app", FullCommand: true, Quorum: 1, QuorumMax: config.TrackProcessNoQuorumMax, ForkDelay: time.Second})}
	m := newProcMonitor(slog.New(slog.NewTextHandler(io.Discard, nil)), kernelProcs{}, specs, nil, nil)
	now := time.Now()
	both := []bool{true, true}
	m.table.set(10, both, causeExec, causeRename, now)
	m.table.set(10, both, causeExec, causeRename, now)
	if c := m.table.counters[0].count; c != 1 {
		t.Fatalf("one process counted %d times", c)
	}
	changed := m.handle(kernel.ProcEvent{Kind: kernel.ProcFork, Pid: 11, Tgid: 11, ParentTgid: 10}, now)
	if m.table.counters[0].count != 2 || len(changed) != 1 || changed[0] != 0 {
		t.Fatalf("after a fork: counts %d %d, changed %v; want 2 2 and [0] (the other waits fork_delay)",
			m.table.counters[0].count, m.table.counters[1].count, changed)
	}
	m.handle(kernel.ProcEvent{Kind: kernel.ProcFork, Pid: 12, Tgid: 10, ParentTgid: 10}, now) // a thread
	m.handle(kernel.ProcEvent{Kind: kernel.ProcComm, Pid: 11, Tgid: 11, Comm: "worker"}, now)
	if m.table.counters[0].count != 1 || m.table.counters[1].count != 2 {
		t.Fatalf("after a rename: counts %d %d, want 1 2", m.table.counters[0].count, m.table.counters[1].count)
	}
	m.handle(kernel.ProcEvent{Kind: kernel.ProcExit, Pid: 10, Tgid: 10}, now)
	m.handle(kernel.ProcEvent{Kind: kernel.ProcExit, Pid: 11, Tgid: 11}, now)
	if m.table.counters[0].count != 0 || m.table.counters[1].count != 0 || len(m.table.pids) != 0 {
		t.Fatalf("after the exits: counts %d %d, pids %v", m.table.counters[0].count, m.table.counters[1].count, m.table.pids)
	}
}

// sleeper is a copy of sleep under a name unique to the test (at most 15
// characters, the kernel's limit for a process name).
func sleeper(t *testing.T, suffix string) (name, path string) {
	t.Helper()
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("needs sleep")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	name = fmt.Sprintf("kgtp%d%s", os.Getpid()%1000000, suffix)
	path = filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return name, path
}

// start runs the copy of sleep; the test's end kills it.
func start(t *testing.T, path string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func stop(cmd *exec.Cmd) { cmd.Process.Kill(); cmd.Wait() }

// TestProcessMatchingOfARealProcess: a process started under a unique
// name is counted by its name, or with full_command by its command line
// and parameters as param_match says; it stops counting when it exits.
func TestProcessMatchingOfARealProcess(t *testing.T) {
	name, path := sleeper(t, "m")
	var specs []*procSpec
	for _, s := range []config.TrackProcessSpec{
		{Name: "comm", Process: name},
		{Name: "exact", Process: path, FullCommand: true, ParamMatch: config.ParamMatchExact, Params: []string{"1000"}},
		{Name: "initial", Process: path, FullCommand: true, ParamMatch: config.ParamMatchInitial, Params: []string{"10"}},
		{Name: "partial", Process: path, FullCommand: true, ParamMatch: config.ParamMatchPartial, Params: []string{"10"}},
		{Name: "argv0", Process: name, FullCommand: true},
	} {
		s.Quorum, s.QuorumMax = 1, config.TrackProcessNoQuorumMax
		specs = append(specs, pspec(s))
	}
	m := newProcMonitor(slog.New(slog.NewTextHandler(io.Discard, nil)), kernelProcs{}, specs, make(chan procStatus, 16), nil)
	cmd := start(t, path, "1000")
	m.initialScan()
	got := m.statuses()
	want := map[string]bool{"comm": true, "exact": true, "initial": true, "partial": false, "argv0": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("with %s 1000 running: %v, want %v", path, got, want)
	}
	if c := m.table.counters[0].count; c != 1 {
		t.Fatalf("%d processes counted by name, want 1", c)
	}
	stop(cmd)
	m.rescan(time.Now())
	for name, up := range m.statuses() {
		if up {
			t.Errorf("%s still up after the process exited", name)
		}
	}
}

// procEvents collects a monitor's statuses and reports the last one.
type procEvents struct {
	ch chan procStatus
}

func (p procEvents) wait(t *testing.T, step, name string, want bool, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case s := <-p.ch:
			if s.name == name && s.up == want {
				return
			}
		case <-deadline:
			t.Fatalf("%s: %s did not become up=%v within %v", step, name, want, d)
		}
	}
}

// TestProcMonitorFollowsAProcess: the monitor sees a tracked process start
// and exit, with the kernel's process events where they can be used (as
// root in the initial network namespace they must be).
func TestProcMonitorFollowsAProcess(t *testing.T) {
	name, path := sleeper(t, "c")
	logs := &lab.SyncBuffer{}
	ev := procEvents{ch: make(chan procStatus, 16)}
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	spec := pspec(config.TrackProcessSpec{Name: "p", Process: name, Quorum: 1, QuorumMax: config.TrackProcessNoQuorumMax})
	initial := startProcMonitor(slog.New(slog.NewTextHandler(logs, nil)), kernelProcs{}, []*procSpec{spec}, ev.ch, done, &wg)
	if initial["p"] {
		t.Fatal("up before the process runs")
	}
	fallback := strings.Contains(logs.String(), "cannot be used")
	if os.Geteuid() == 0 && inInitialNetNS() && fallback {
		t.Fatalf("as root in the initial network namespace the proc connector must work:\n%s", logs)
	}
	t.Logf("proc connector used: %v", !fallback)
	within := 500 * time.Millisecond // events arrive at once
	if fallback {
		within = 3 * time.Second // a rescan every second
	}
	time.Sleep(100 * time.Millisecond) // let a connector acknowledge the subscription
	cmd := start(t, path, "1000")
	ev.wait(t, "started", "p", true, within)
	stop(cmd)
	ev.wait(t, "killed", "p", false, within)
}

// TestProcMonitorFallbackRescans: without the connector, rescanning /proc
// finds the process and its exit, and terminate_delay holds the exit back.
func TestProcMonitorFallbackRescans(t *testing.T) {
	name, path := sleeper(t, "f")
	ev := procEvents{ch: make(chan procStatus, 16)}
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	spec := pspec(config.TrackProcessSpec{Name: "p", Process: name, Quorum: 1, QuorumMax: config.TrackProcessNoQuorumMax, TerminateDelay: 1500 * time.Millisecond})
	m := newProcMonitor(slog.New(slog.NewTextHandler(io.Discard, nil)), kernelProcs{}, []*procSpec{spec}, ev.ch, done)
	m.initialScan()
	wg.Add(1)
	go func() { defer wg.Done(); m.poll() }()
	cmd := start(t, path, "1000")
	ev.wait(t, "started", "p", true, 3*time.Second)
	killed := time.Now()
	stop(cmd)
	ev.wait(t, "killed", "p", false, 5*time.Second)
	if took := time.Since(killed); took < 1500*time.Millisecond {
		t.Fatalf("the exit counted after %v; terminate_delay is 1.5 s", took)
	}
}

// inInitialNetNS tells whether this process shares init's network
// namespace.
func inInitialNetNS() bool {
	self, err1 := os.Readlink("/proc/self/ns/net")
	initNS, err2 := os.Readlink("/proc/1/ns/net")
	return err1 == nil && err2 == nil && self == initNS
}
