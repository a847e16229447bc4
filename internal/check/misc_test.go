package check

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/runner"
)

func sh(line string) runner.Script { return runner.Script{Cmd: line} }

func TestMiscExitStatusIsTheVerdict(t *testing.T) {
	for _, tc := range []struct {
		line    string
		dynamic bool
		ok      bool
		status  int
		reason  string
	}{
		{"exit 0", false, true, 0, ""},
		{"exit 1", false, false, 1, "exited with status 1"},
		{"exit 12", false, false, 12, "exited with status 12"},
		{"exit 0", true, true, 0, ""},
		{"exit 1", true, false, 1, "exited with status 1"},
		{"exit 2", true, true, 2, ""},
		{"exit 12", true, true, 12, ""},
		{"exit 255", true, true, 255, ""},
		{"kill -9 $$", true, false, -1, "due to signal 9"},
	} {
		m := &Misc{Script: sh(tc.line), Timeout: 5 * time.Second, Dynamic: tc.dynamic}
		r := m.Check(context.Background())
		if r.OK != tc.ok || r.Status != tc.status || (!r.OK && r.Reason != tc.reason) || r.TimedOut {
			t.Errorf("%q dynamic %v: %+v, want ok %v status %d reason %q", tc.line, tc.dynamic, r, tc.ok, tc.status, tc.reason)
		}
	}
}

// A script that outlasts misc_timeout gets SIGTERM; one that ignores it
// gets SIGKILL 2 s later (runner.KillDelay). Both time out.
func TestMiscTimeoutTermsThenKills(t *testing.T) {
	start := time.Now()
	r := (&Misc{Script: sh("sleep 10"), Timeout: 200 * time.Millisecond}).Check(context.Background())
	if took := time.Since(start); !r.TimedOut || r.OK || took > 2*time.Second {
		t.Fatalf("sleep 10 at misc_timeout 200ms: %+v after %v", r, took)
	}
	start = time.Now()
	r = (&Misc{Script: sh("trap '' TERM; sleep 10 & wait; sleep 10"), Timeout: 200 * time.Millisecond}).Check(context.Background())
	took := time.Since(start)
	if !r.TimedOut || took < 200*time.Millisecond+runner.KillDelay || took > 6*time.Second {
		t.Fatalf("a script ignoring SIGTERM: %+v after %v, want killed 2 s after the timeout", r, took)
	}
}

func TestMiscPathIsTheFirstWord(t *testing.T) {
	m := &Misc{Script: runner.Script{Cmd: "/usr/local/bin/chk -x 1", Args: []string{"/usr/local/bin/chk", "-x", "1"}}}
	if m.Path() != "/usr/local/bin/chk" {
		t.Fatal(m.Path())
	}
}

func TestDynamicAdjustGivesStatusMinusTwo(t *testing.T) {
	for _, tc := range []struct{ status, base, want int }{{0, 5, 0}, {2, 5, -5}, {12, 1, 9}, {255, 3, 250}} {
		if got := DynamicAdjust(tc.status, tc.base); got != int64(tc.want) {
			t.Errorf("status %d base %d: %d, want %d", tc.status, tc.base, got, tc.want)
		}
		if tc.status != 0 && int64(tc.base)+DynamicAdjust(tc.status, tc.base) != int64(tc.status-2) {
			t.Errorf("status %d: the weight is not status-2", tc.status)
		}
	}
}

// MISC_CHECK's period runs from the script's start: a 400 ms script at
// delay_loop 500 ms starts every 500 ms, not every 900 ms; and the state
// changes after exactly retry failures spaced by delay_before_retry (300
// ms, not 700), counted from each start too. The script is a fake that
// succeeds 4 times, then fails: what is measured is the engine's timing,
// not the shell's; the bounds leave room for a loaded machine.
func TestMiscPeriodFromTheScriptsStart(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	down := make(chan time.Time, 4)
	m := &Misc{Timeout: 5 * time.Second, run: func(context.Context, runner.Script, time.Duration) runner.Result {
		mu.Lock()
		starts = append(starts, time.Now())
		n := len(starts)
		mu.Unlock()
		time.Sleep(400 * time.Millisecond)
		if n <= 4 {
			return runner.Result{ExitCode: 0}
		}
		return runner.Result{ExitCode: 1}
	}}
	tm := Timing{DelayLoop: 500 * time.Millisecond, DelayBeforeRetry: 300 * time.Millisecond, Retry: 2}
	j := &Job{Checker: m, Schedule: NewSchedule(tm), FromStart: true, OnResult: func(r Result, c Change) {
		if c != Unchanged {
			down <- time.Now()
		}
	}}
	e := startEngine(t)
	e.addAt(j, time.Now())
	var wentDown time.Time
	select {
	case wentDown = <-down:
	case <-time.After(20 * time.Second):
		t.Fatal("never went down")
	}
	e.Remove(j)

	mu.Lock()
	defer mu.Unlock()
	if len(starts) != 7 {
		t.Fatalf("%d runs before going down, want 4 successes, a failure and 2 retries", len(starts))
	}
	gap := func(i int) time.Duration { return starts[i].Sub(starts[i-1]) }
	// Counted from the end, the gaps would be at least the script's 400
	// ms more (900 and 700 ms): anything below that is from the start,
	// however late a loaded machine runs it.
	for i := 1; i <= 4; i++ {
		if d := gap(i); d < 490*time.Millisecond || d >= 880*time.Millisecond {
			t.Errorf("run %d came %v after the previous start, want delay_loop (500 ms) from the start", i, d)
		}
	}
	for i := 5; i <= 6; i++ {
		if d := gap(i); d < 290*time.Millisecond || d >= 680*time.Millisecond {
			t.Errorf("retry %d came %v after the previous start, want delay_before_retry (300 ms) from the start", i-4, d)
		}
	}
	if d := wentDown.Sub(starts[6]); d < 390*time.Millisecond {
		t.Errorf("down %v after the last retry started, want once it ended", d)
	}
	select {
	case c := <-down:
		t.Errorf("a second change at %v", c)
	default:
	}
}
