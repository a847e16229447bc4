package check

import "time"

// BootstrapDelay is how long after start the first check runs, before its
// share of warmup (keepalived's BOOTSTRAP_DELAY).
const BootstrapDelay = time.Second

// Timing is a checker's resolved timing keywords: the checker's own, else
// its real server's, else its virtual server's, else keepalived's
// defaults.
type Timing struct {
	DelayLoop        time.Duration
	DelayBeforeRetry time.Duration
	Warmup           time.Duration
	Retry            int
	// Alpha starts the checker down (its server out of the pool) until a
	// first success.
	Alpha bool
	// RetryEachCycle is SMTP_CHECK's rule (check_smtp.c: its retry count
	// is reset at the start of each cycle by smtp_start_check_thread, and
	// smtp_final retries whatever the state): every failed cycle is
	// retried Retry times, at start and while down too.
	RetryEachCycle bool
}

// Change is what one result did to a checker.
type Change int

const (
	Unchanged Change = iota
	WentUp
	WentDown
	// StayedDown is a failure of a checker that never ran and started
	// down (alpha): keepalived logs it as a failure although the state
	// does not move.
	StayedDown
)

// Schedule is one checker's up/down state and retry count, as
// keepalived's epilogs (check_tcp.c tcp_epilog and its siblings) keep
// them. It is pure: the caller measures time and runs the probes.
type Schedule struct {
	t       Timing
	up      bool
	hasRun  bool
	retries int // failures counted while up (keepalived's retry_it)
}

// NewSchedule is a checker before its first check: up unless Alpha. The
// retry count starts full, so that without alpha the first failure takes
// the server out at once (check_data.c: retry_it = retry).
func NewSchedule(t Timing) *Schedule {
	s := &Schedule{t: t, up: !t.Alpha, retries: t.Retry}
	if t.RetryEachCycle {
		s.retries = 0
	}
	return s
}

// Resume is a checker carried over a reload with its state: it goes on
// as it was, with no retry pending.
func Resume(t Timing, up bool) *Schedule {
	return &Schedule{t: t, up: up, hasRun: true}
}

// Up tells whether the checker counts its server alive.
func (s *Schedule) Up() bool { return s.up }

// Retries is how many failures in a row the checker has counted while up.
func (s *Schedule) Retries() int { return s.retries }

// Timing is the checker's timing.
func (s *Schedule) Timing() Timing { return s.t }

// FirstDelay is when the first check runs after start: BootstrapDelay
// plus the share random (in [0, 1)) of warmup, which spreads the checks
// of many servers.
func (s *Schedule) FirstDelay(random float64) time.Duration {
	return BootstrapDelay + time.Duration(float64(s.t.Warmup)*random)
}

// Result records one check and returns how long to wait before the next
// one (counted from the end of this one, as keepalived re-arms in its
// epilog) and what changed.
//
// A success brings the checker up at once. A failure of an up checker is
// retried after DelayBeforeRetry, Retry times; the next failure takes it
// down. A down checker is checked again every DelayLoop.
func (s *Schedule) Result(ok bool) (time.Duration, Change) {
	if s.t.RetryEachCycle && !ok {
		return s.failedCycle()
	}
	firstRun := !s.hasRun
	s.hasRun = true
	switch {
	case ok:
		s.retries = 0
		if !s.up || firstRun {
			wasUp := s.up
			s.up = true
			if !wasUp {
				return s.t.DelayLoop, WentUp
			}
		}
		return s.t.DelayLoop, Unchanged
	case (s.up || firstRun) && s.retries >= s.t.Retry:
		s.retries = 0
		if s.up {
			s.up = false
			return s.t.DelayLoop, WentDown
		}
		return s.t.DelayLoop, StayedDown
	case s.up:
		s.retries++
		return s.t.DelayBeforeRetry, Unchanged
	}
	return s.t.DelayLoop, Unchanged
}

// failedCycle is a failure under RetryEachCycle (check_smtp.c smtp_final):
// retried Retry times after DelayBeforeRetry, up or down; the last
// failure takes an up checker down, and one that never ran stays down
// (alpha). The checker has run once a cycle ends, not at a retry.
func (s *Schedule) failedCycle() (time.Duration, Change) {
	if s.retries < s.t.Retry {
		s.retries++
		return s.t.DelayBeforeRetry, Unchanged
	}
	s.retries = 0
	firstRun := !s.hasRun
	s.hasRun = true
	switch {
	case s.up:
		s.up = false
		return s.t.DelayLoop, WentDown
	case firstRun:
		return s.t.DelayLoop, StayedDown
	}
	return s.t.DelayLoop, Unchanged
}
