package check

import "time"

// Sequencer is a checker that keeps state across its probes and applies
// its own rules to their results in place of Schedule.Result: HTTP_GET
// and SSL_GET check one of their urls per probe. The engine calls Next
// on its goroutine after each probe, before the next one starts, so a
// Sequencer needs no lock for what only Check and Next touch.
type Sequencer interface {
	// Next records the result of the probe that just ended in s and
	// returns how long to wait before the next probe (counted from the
	// end of this one) and what changed.
	Next(s *Schedule, r Result) (time.Duration, Change)
}

// SelfLogger is a checker that logs its own state changes with its own
// words (keepalived's lines differ by checker); the caller then logs no
// generic line for them.
type SelfLogger interface {
	LogsChanges() bool
}

// CycleEvent is what a result did to the whole of a URL cycle, for the
// log.
type CycleEvent int

const (
	// CycleNothing: a URL passed or failed without ending anything.
	CycleNothing CycleEvent = iota
	// CycleSucceeded: every URL passed in turn while the checker was
	// down or had not run yet ("Remote Web server ... succeed on
	// service.").
	CycleSucceeded
	// CycleFailed: a URL failed once more than retry allows while the
	// checker was up ("HTTP_CHECK on service ... failed after N
	// retries.").
	CycleFailed
)

// URLCycle is the state HTTP_GET and SSL_GET keep across probes, with
// keepalived's rules (check_http.c epilog and timeout_epilog):
//
//   - one URL per probe, the next after delay_loop;
//   - all must pass: a failed URL is fetched again after
//     delay_before_retry, retry times, and the next failure takes the
//     checker down (when it was up);
//   - while down, the failed URL is fetched every max(delay_before_retry,
//     delay_loop); once it passes, every URL is checked again from the
//     first, and the checker comes up when all have passed;
//   - fast_recovery removes the delay between URLs before the first
//     complete cycle and while recovering;
//   - until the first complete cycle one failure is enough (the retry
//     count is kept full, as keepalived's epilog does while !has_run).
//
// One deliberate difference: keepalived, when a URL other than the failed
// one fails while the checker recovers, neither marks it as the failed
// URL nor waits delay_loop: it fetches it again after delay_before_retry,
// and with fast_recovery at once, in a loop that never sleeps. Here that
// URL becomes the failed URL, fetched every max(delay_before_retry,
// delay_loop) like the first.
type URLCycle struct {
	// URLs is how many urls the checker has (at least 1).
	URLs int
	// FastRecovery is fast_recovery.
	FastRecovery bool

	cur    int // the URL the next probe fetches (keepalived's url_it)
	failed int // the failed URL, -1 for none (failed_url)
}

// NewURLCycle is a cycle at its first URL with no failed URL.
func NewURLCycle(urls int, fastRecovery bool) *URLCycle {
	return &URLCycle{URLs: max(1, urls), FastRecovery: fastRecovery, failed: -1}
}

// Current is the index of the URL the next probe fetches.
func (c *URLCycle) Current() int { return c.cur }

// Failed is the index of the failed URL, -1 if none.
func (c *URLCycle) Failed() int { return c.failed }

// Result applies the result of a probe of URL Current() to s and returns
// the delay to the next probe, the change of state and what happened to
// the cycle.
func (c *URLCycle) Result(s *Schedule, ok bool) (time.Duration, Change, CycleEvent) {
	const (
		next   = iota // REGISTER_CHECKER_NEW: the URL passed
		retry         // REGISTER_CHECKER_RETRY: failed while up or before the first run
		failed        // REGISTER_CHECKER_FAILED: failed while known down
	)
	method := failed
	switch {
	case ok:
		method = next
	case s.up || !s.hasRun:
		// timeout_epilog marks the checker as run before its epilog.
		s.hasRun = true
		method = retry
	}

	change, ev := Unchanged, CycleNothing
	end := false
	switch method {
	case next:
		c.cur++
		end = c.cur >= c.URLs
		s.retries = 0
	case retry:
		s.retries++
	}

	switch {
	case method == next && end && c.failed < 0:
		// Every URL passed.
		if !s.up || !s.hasRun {
			ev = CycleSucceeded
			if !s.up {
				change = WentUp
			}
			s.up, s.hasRun = true, true
		}
		c.cur, s.retries = 0, 0
	case method == retry && s.retries > s.t.Retry:
		if s.up {
			s.up = false
			change, ev = WentDown, CycleFailed
		}
		c.failed = c.cur
	case method == next && c.failed >= 0:
		// The failed URL passes: check them all again from the first.
		c.failed, c.cur, s.retries = -1, 0, 0
	case method == failed && c.failed < 0:
		// keepalived leaves failed_url unset here (see the type's
		// comment).
		c.failed = c.cur
	}

	var delay time.Duration
	switch {
	case method == next:
		delay = s.t.DelayLoop
		if !s.hasRun {
			// One failure is enough until the first complete cycle.
			s.retries = s.t.Retry
		}
	case c.failed >= 0:
		delay = max(s.t.DelayBeforeRetry, s.t.DelayLoop)
	default:
		delay = s.t.DelayBeforeRetry
	}
	if c.FastRecovery && (!s.hasRun || (!s.up && c.failed < 0)) {
		delay = 0
	}
	return delay, change, ev
}
