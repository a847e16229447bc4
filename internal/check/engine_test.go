package check

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scripted is a checker whose results follow a script, then stay at the
// last one; hang makes every probe wait for its context.
type scripted struct {
	mu      sync.Mutex
	results []bool
	hang    bool
	probes  atomic.Int64
}

func (s *scripted) String() string { return "scripted" }

func (s *scripted) Check(ctx context.Context) Result {
	s.probes.Add(1)
	if s.hang {
		<-ctx.Done()
		return Result{Reason: ctx.Err().Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := s.results[0]
	if len(s.results) > 1 {
		s.results = s.results[1:]
	}
	return Result{OK: ok}
}

func startEngine(t *testing.T) *Engine {
	t.Helper()
	e := NewEngine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// The engine applies retry and delay_before_retry between probes and
// reports the changes in order.
func TestEngineRunsTheSchedule(t *testing.T) {
	e := startEngine(t)
	tm := Timing{DelayLoop: 30 * time.Millisecond, DelayBeforeRetry: 10 * time.Millisecond, Retry: 2}
	c := &scripted{results: []bool{true, false, false, false, true}}
	changes := make(chan Change, 16)
	j := &Job{Checker: c, Schedule: NewSchedule(tm), Timeout: time.Second,
		OnResult: func(_ Result, ch Change) {
			if ch != Unchanged {
				changes <- ch
			}
		}}
	start := time.Now()
	e.addAt(j, start)
	for _, want := range []Change{WentDown, WentUp} {
		select {
		case got := <-changes:
			if got != want {
				t.Fatalf("change %v, want %v", got, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no %v", want)
		}
	}
	// ok, fail, retry 10 ms, fail, retry 10 ms, fail -> down (after
	// 30+10+10 ms), then 30 ms to the success.
	if took := time.Since(start); took < 80*time.Millisecond {
		t.Fatalf("down and up again after %v: the delays were not applied", took)
	}
}

// A server that hangs until connect_timeout delays no other.
func TestHungServerDelaysNoOther(t *testing.T) {
	e := startEngine(t)
	tm := Timing{DelayLoop: 10 * time.Millisecond, DelayBeforeRetry: 10 * time.Millisecond, Retry: 1}
	hung := &scripted{hang: true}
	fine := &scripted{results: []bool{true}}
	e.addAt(&Job{Checker: hung, Schedule: NewSchedule(tm), Timeout: 5 * time.Second}, time.Now())
	e.addAt(&Job{Checker: fine, Schedule: NewSchedule(tm), Timeout: 5 * time.Second}, time.Now())
	time.Sleep(300 * time.Millisecond)
	if n := fine.probes.Load(); n < 10 {
		t.Fatalf("the healthy server was probed %d times in 300 ms at delay_loop 10 ms", n)
	}
	if n := hung.probes.Load(); n != 1 {
		t.Fatalf("the hung server was probed %d times, want 1 (still waiting)", n)
	}
}

func TestRemovedJobIsNotCheckedAgain(t *testing.T) {
	e := startEngine(t)
	tm := Timing{DelayLoop: 5 * time.Millisecond, Retry: 1}
	c := &scripted{results: []bool{true}}
	j := &Job{Checker: c, Schedule: NewSchedule(tm), Timeout: time.Second}
	e.addAt(j, time.Now())
	time.Sleep(50 * time.Millisecond)
	e.Remove(j)
	time.Sleep(20 * time.Millisecond)
	n := c.probes.Load()
	time.Sleep(50 * time.Millisecond)
	if c.probes.Load() != n {
		t.Fatal("a removed job is still checked")
	}
}

// A suspended job is not probed and keeps its state; it is probed again
// once resumed.
func TestSuspendedJobIsNotProbed(t *testing.T) {
	e := startEngine(t)
	var suspended atomic.Bool
	suspended.Store(true)
	c := &scripted{results: []bool{false}}
	var down atomic.Bool
	j := &Job{Checker: c, Schedule: NewSchedule(Timing{DelayLoop: 10 * time.Millisecond}), Timeout: time.Second,
		Suspended: suspended.Load, OnResult: func(_ Result, ch Change) { down.Store(down.Load() || ch == WentDown) }}
	e.addAt(j, time.Now())
	time.Sleep(100 * time.Millisecond)
	if n := c.probes.Load(); n != 0 || down.Load() {
		t.Fatalf("suspended: %d probes, down %v; want none", n, down.Load())
	}
	suspended.Store(false)
	time.Sleep(100 * time.Millisecond)
	if c.probes.Load() == 0 || !down.Load() {
		t.Fatal("resumed: not probed")
	}
}

// deadlineOf reports whether its probes had a deadline.
type deadlineOf struct{ had chan bool }

func (d *deadlineOf) String() string { return "deadline" }
func (d *deadlineOf) Check(ctx context.Context) Result {
	_, ok := ctx.Deadline()
	d.had <- ok
	return Result{OK: true}
}

// A job without Timeout leaves the bound to its checker (MISC_CHECK's
// misc_timeout and SIGKILL delay): its probe has no deadline.
func TestJobWithoutTimeoutHasNoDeadline(t *testing.T) {
	e := startEngine(t)
	d := &deadlineOf{had: make(chan bool, 4)}
	e.addAt(&Job{Checker: d, Schedule: NewSchedule(Timing{DelayLoop: time.Hour})}, time.Now())
	if <-d.had {
		t.Fatal("a job without Timeout has a deadline")
	}
	d2 := &deadlineOf{had: make(chan bool, 4)}
	e.addAt(&Job{Checker: d2, Schedule: NewSchedule(Timing{DelayLoop: time.Hour}), Timeout: time.Second}, time.Now())
	if !<-d2.had {
		t.Fatal("a job with Timeout has no deadline")
	}
}

// noop is a checker that succeeds at once.
type noop struct{}

func (noop) String() string               { return "noop" }
func (noop) Check(context.Context) Result { return Result{OK: true} }

// BenchmarkEngineProbe is the engine's own cost per probe: 1,000 jobs due
// at once, each probed, its result applied and re-armed.
func BenchmarkEngineProbe(b *testing.B) {
	e := NewEngine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	var probes atomic.Int64
	tm := Timing{DelayLoop: time.Millisecond}
	for range 1000 {
		e.addAt(&Job{Checker: noop{}, Schedule: NewSchedule(tm), Timeout: time.Second,
			OnResult: func(Result, Change) { probes.Add(1) }}, time.Now())
	}
	b.ResetTimer()
	target := probes.Load() + int64(b.N)
	for probes.Load() < target {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	<-done
}
