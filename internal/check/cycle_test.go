package check

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// urlStep is one probe of a URL cycle: the URL it must fetch, its
// result, and what the cycle must answer.
type urlStep struct {
	url    int
	ok     bool
	next   time.Duration
	change Change
	ev     CycleEvent
}

func runCycle(t *testing.T, c *URLCycle, s *Schedule, steps []urlStep) {
	t.Helper()
	for i, st := range steps {
		if got := c.Current(); got != st.url {
			t.Fatalf("step %d: fetches url %d, want %d", i, got, st.url)
		}
		next, change, ev := c.Result(s, st.ok)
		if next != st.next || change != st.change || ev != st.ev {
			t.Fatalf("step %d (url %d ok %v): next %v change %v event %v, want %v %v %v",
				i, st.url, st.ok, next, change, ev, st.next, st.change, st.ev)
		}
	}
}

const (
	dl  = 6 * time.Second // delay_loop
	dbr = 2 * time.Second // delay_before_retry
)

// One URL per cycle, delay_loop apart; a failed URL is retried after
// delay_before_retry, retry times; the next failure takes the checker
// down; the failed URL is then fetched every max(delay_before_retry,
// delay_loop) and, once it passes, every URL again from the first.
func TestURLCycleRetriesTheFailedURLThenChecksAllAgain(t *testing.T) {
	s := NewSchedule(timing) // retry 3
	c := NewURLCycle(3, false)
	runCycle(t, c, s, []urlStep{
		{0, true, dl, Unchanged, CycleNothing},
		{1, true, dl, Unchanged, CycleNothing},
		{2, true, dl, Unchanged, CycleSucceeded}, // first complete cycle: logged, already up
		{0, true, dl, Unchanged, CycleNothing},
		{1, false, dbr, Unchanged, CycleNothing},
		{1, false, dbr, Unchanged, CycleNothing},
		{1, true, dl, Unchanged, CycleNothing}, // a success resets the retries
		{2, false, dbr, Unchanged, CycleNothing},
		{2, false, dbr, Unchanged, CycleNothing},
		{2, false, dbr, Unchanged, CycleNothing},
		{2, false, dl, WentDown, CycleFailed},
		{2, false, dl, Unchanged, CycleNothing}, // down: the failed URL only
		{2, true, dl, Unchanged, CycleNothing},  // passes: all again from the first
		{0, true, dl, Unchanged, CycleNothing},
		{1, true, dl, Unchanged, CycleNothing},
		{2, true, dl, WentUp, CycleSucceeded},
		{0, true, dl, Unchanged, CycleNothing},
	})
	if c.Failed() != -1 {
		t.Fatalf("failed url %d after recovery", c.Failed())
	}
}

// Until the first complete cycle one failure takes the checker down.
func TestURLCycleOneFailureIsEnoughAtStart(t *testing.T) {
	s := NewSchedule(timing)
	c := NewURLCycle(2, false)
	runCycle(t, c, s, []urlStep{
		{0, true, dl, Unchanged, CycleNothing},
		{1, false, dl, WentDown, CycleFailed},
	})
	if c.Failed() != 1 {
		t.Fatalf("failed url %d, want 1", c.Failed())
	}
}

// fast_recovery checks the URLs back to back at start and on recovery,
// but not the failed URL while down.
func TestURLCycleFastRecovery(t *testing.T) {
	s := NewSchedule(timing)
	c := NewURLCycle(3, true)
	runCycle(t, c, s, []urlStep{
		{0, true, 0, Unchanged, CycleNothing},
		{1, true, 0, Unchanged, CycleNothing},
		{2, true, dl, Unchanged, CycleSucceeded},
		{0, false, dbr, Unchanged, CycleNothing},
		{0, false, dbr, Unchanged, CycleNothing},
		{0, false, dbr, Unchanged, CycleNothing},
		{0, false, dl, WentDown, CycleFailed},
		{0, false, dl, Unchanged, CycleNothing},
		{0, true, 0, Unchanged, CycleNothing},
		{0, true, 0, Unchanged, CycleNothing},
		{1, true, 0, Unchanged, CycleNothing},
		{2, true, dl, WentUp, CycleSucceeded},
	})
}

// A URL that fails while the checker recovers becomes the failed URL,
// fetched every max(delay_before_retry, delay_loop): keepalived fetches
// it again at once with fast_recovery, in a loop that never sleeps.
func TestURLCycleAnotherURLFailingWhileRecovering(t *testing.T) {
	s := NewSchedule(timing)
	c := NewURLCycle(3, true)
	runCycle(t, c, s, []urlStep{
		{0, false, dl, WentDown, CycleFailed},
		{0, true, 0, Unchanged, CycleNothing},
		{0, true, 0, Unchanged, CycleNothing},
		{1, false, dl, Unchanged, CycleNothing},
		{1, false, dl, Unchanged, CycleNothing},
		{1, true, 0, Unchanged, CycleNothing},
		{0, true, 0, Unchanged, CycleNothing},
		{1, true, 0, Unchanged, CycleNothing},
		{2, true, dl, WentUp, CycleSucceeded},
	})
}

// With alpha the checker starts down; keepalived's HTTP epilog marks the
// checker as run before it looks at its state, so the first failure
// neither logs nor notifies (unlike TCP_CHECK's StayedDown).
func TestURLCycleAlpha(t *testing.T) {
	tm := timing
	tm.Alpha = true
	s := NewSchedule(tm)
	c := NewURLCycle(2, false)
	runCycle(t, c, s, []urlStep{
		{0, false, dl, Unchanged, CycleNothing},
		{0, true, dl, Unchanged, CycleNothing},
		{0, true, dl, Unchanged, CycleNothing},
		{1, true, dl, WentUp, CycleSucceeded},
	})
}

// While down, the failed URL waits the longer of delay_before_retry and
// delay_loop; retry 0 takes the checker down on its first failure.
func TestURLCycleLongDelayBeforeRetryAndRetryZero(t *testing.T) {
	tm := timing
	tm.DelayBeforeRetry, tm.Retry = 10*time.Second, 0
	s := Resume(tm, true)
	c := NewURLCycle(1, false)
	runCycle(t, c, s, []urlStep{
		{0, false, 10 * time.Second, WentDown, CycleFailed},
		{0, false, 10 * time.Second, Unchanged, CycleNothing},
		{0, true, dl, Unchanged, CycleNothing},
		{0, true, dl, WentUp, CycleSucceeded},
	})
}

// sequenced is a Sequencer whose URLs pass and whose Next asks for no
// delay: the engine must consult it instead of the Schedule.
type sequenced struct {
	cycle  *URLCycle
	probes atomic.Int64
	nexts  atomic.Int64
	events chan CycleEvent
}

func (q *sequenced) String() string { return "sequenced" }

func (q *sequenced) Check(context.Context) Result {
	q.probes.Add(1)
	return Result{OK: true}
}

func (q *sequenced) Next(s *Schedule, r Result) (time.Duration, Change) {
	q.nexts.Add(1)
	d, c, ev := q.cycle.Result(s, r.OK)
	if ev != CycleNothing {
		q.events <- ev
	}
	return d, c
}

// The engine re-arms a Sequencer by its own rules: with fast_recovery the
// URLs of the first cycle follow one another at once although
// delay_loop is long.
func TestEngineConsultsTheSequencer(t *testing.T) {
	e := startEngine(t)
	tm := Timing{DelayLoop: time.Hour, DelayBeforeRetry: time.Hour, Retry: 1, Alpha: true}
	q := &sequenced{cycle: NewURLCycle(5, true), events: make(chan CycleEvent, 4)}
	changes := make(chan Change, 4)
	e.addAt(&Job{Checker: q, Schedule: NewSchedule(tm), Timeout: time.Second,
		OnResult: func(_ Result, c Change) { changes <- c }}, time.Now())
	select {
	case ev := <-q.events:
		if ev != CycleSucceeded {
			t.Fatalf("event %v", ev)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("%d probes, %d calls of Next: the five URLs were not checked back to back", q.probes.Load(), q.nexts.Load())
	}
	for i := 0; i < 5; i++ {
		if c := waitChange(t, changes); (c == WentUp) != (i == 4) {
			t.Fatalf("change %d: %v", i, c)
		}
	}
}
