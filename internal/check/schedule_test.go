package check

import (
	"testing"
	"time"
)

var timing = Timing{DelayLoop: 6 * time.Second, DelayBeforeRetry: 2 * time.Second, Warmup: 10 * time.Second, Retry: 3}

type step struct {
	ok     bool
	next   time.Duration
	change Change
}

func run(t *testing.T, s *Schedule, steps []step) {
	t.Helper()
	for i, st := range steps {
		next, change := s.Result(st.ok)
		if next != st.next || change != st.change {
			t.Fatalf("result %d (ok %v): next %v change %v, want %v %v", i, st.ok, next, change, st.next, st.change)
		}
	}
}

// Without alpha a server starts up, and its first failure takes it down
// at once: the retry count starts full.
func TestWithoutAlphaFirstFailureTakesTheServerDown(t *testing.T) {
	s := NewSchedule(timing)
	if !s.Up() {
		t.Fatal("without alpha a checker starts up")
	}
	run(t, s, []step{{false, 6 * time.Second, WentDown}})
	if s.Up() {
		t.Fatal("still up")
	}
}

// An up checker goes down after retry more failures spaced by
// delay_before_retry; a down one is checked every delay_loop; one
// success brings it up.
func TestRetryThenDownThenOneSuccessUp(t *testing.T) {
	s := NewSchedule(timing)
	run(t, s, []step{
		{true, 6 * time.Second, Unchanged},
		{false, 2 * time.Second, Unchanged},
		{false, 2 * time.Second, Unchanged},
		{false, 2 * time.Second, Unchanged},
		{false, 6 * time.Second, WentDown},
		{false, 6 * time.Second, Unchanged},
		{true, 6 * time.Second, WentUp},
	})
}

// A success between failures starts the retries again.
func TestSuccessResetsTheRetries(t *testing.T) {
	s := NewSchedule(timing)
	run(t, s, []step{
		{true, 6 * time.Second, Unchanged},
		{false, 2 * time.Second, Unchanged},
		{false, 2 * time.Second, Unchanged},
		{true, 6 * time.Second, Unchanged},
		{false, 2 * time.Second, Unchanged},
	})
	if s.Retries() != 1 {
		t.Fatalf("retries %d, want 1", s.Retries())
	}
}

// With alpha a server starts down; its first failure is reported but
// moves nothing, and its first success brings it up.
func TestAlphaStartsDown(t *testing.T) {
	tm := timing
	tm.Alpha = true
	s := NewSchedule(tm)
	if s.Up() {
		t.Fatal("with alpha a checker starts down")
	}
	run(t, s, []step{{false, 6 * time.Second, StayedDown}, {false, 6 * time.Second, Unchanged}, {true, 6 * time.Second, WentUp}})
}

func TestRetryZeroGoesDownOnTheFirstFailure(t *testing.T) {
	tm := timing
	tm.Retry = 0
	s := NewSchedule(tm)
	run(t, s, []step{{true, 6 * time.Second, Unchanged}, {false, 6 * time.Second, WentDown}})
}

func TestResumeKeepsTheState(t *testing.T) {
	s := Resume(timing, false)
	run(t, s, []step{{false, 6 * time.Second, Unchanged}, {true, 6 * time.Second, WentUp}})
	s = Resume(timing, true)
	run(t, s, []step{{false, 2 * time.Second, Unchanged}})
}

// The first check runs 1 s after start plus a random share of warmup.
func TestFirstDelaySpreadsOverWarmup(t *testing.T) {
	s := NewSchedule(timing)
	if d := s.FirstDelay(0); d != time.Second {
		t.Fatalf("warmup share 0: %v", d)
	}
	if d := s.FirstDelay(0.5); d != 6*time.Second {
		t.Fatalf("warmup share 0.5: %v", d)
	}
}

// SMTP_CHECK (RetryEachCycle) retries its first failure too, and retries
// while down; the last failure of a cycle takes it down, and the next
// cycle starts with its retries again.
func TestRetryEachCycleRetriesAtStartAndWhileDown(t *testing.T) {
	tm := timing
	tm.Retry = 2
	tm.RetryEachCycle = true
	s := NewSchedule(tm)
	run(t, s, []step{
		{false, 2 * time.Second, Unchanged}, // the first failure is retried
		{false, 2 * time.Second, Unchanged},
		{false, 6 * time.Second, WentDown},
		{false, 2 * time.Second, Unchanged}, // down: retried all the same
		{false, 2 * time.Second, Unchanged},
		{false, 6 * time.Second, Unchanged},
		{false, 2 * time.Second, Unchanged},
		{true, 6 * time.Second, WentUp}, // a retry's success
		{false, 2 * time.Second, Unchanged},
		{true, 6 * time.Second, Unchanged},
	})
	// With alpha, the first cycle's last failure is StayedDown.
	tm.Alpha = true
	run(t, NewSchedule(tm), []step{
		{false, 2 * time.Second, Unchanged},
		{false, 2 * time.Second, Unchanged},
		{false, 6 * time.Second, StayedDown},
		{false, 2 * time.Second, Unchanged},
		{false, 2 * time.Second, Unchanged},
		{false, 6 * time.Second, Unchanged},
	})
}
