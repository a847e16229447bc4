package check

import (
	"context"
	"sync"
	"testing"
	"time"
)

// probeLog wraps a checker and records every probe.
type probeLog struct {
	Checker
	mu     sync.Mutex
	probes []probeRec
}

type probeRec struct {
	start, end time.Time
	ok         bool
}

func (p *probeLog) Check(ctx context.Context) Result {
	start := time.Now()
	r := p.Checker.Check(ctx)
	p.mu.Lock()
	p.probes = append(p.probes, probeRec{start, time.Now(), r.OK})
	p.mu.Unlock()
	return r
}

type outcome struct {
	r Result
	c Change
}

// exactRetries runs c in an engine with timing tm and checks that a
// server turning bad (setBad(true), right after a success) takes the
// checker down after exactly tm.Retry retries spaced by
// DelayBeforeRetry, the first failure coming DelayLoop after the
// success; and that once the server is good again (setBad(false), right
// after the checker went down) the next check, DelayLoop later, brings
// it up.
func exactRetries(t *testing.T, c Checker, tm Timing, timeout time.Duration, setBad func(bool)) {
	t.Helper()
	e := startEngine(t)
	log := &probeLog{Checker: c}
	results := make(chan outcome, 64)
	j := &Job{Checker: log, Schedule: NewSchedule(tm), Timeout: timeout,
		OnResult: func(r Result, c Change) { results <- outcome{r, c} }}
	next := func() outcome {
		t.Helper()
		select {
		case o := <-results:
			return o
		case <-time.After(tm.DelayLoop + timeout + 5*time.Second):
			t.Fatal("no result")
		}
		return outcome{}
	}
	e.addAt(j, time.Now())
	if o := next(); !o.r.OK || o.c != Unchanged {
		t.Fatalf("first check: %+v, want a success", o)
	}
	setBad(true)
	for i := 0; i <= tm.Retry; i++ {
		o := next()
		want := Unchanged
		if i == tm.Retry {
			want = WentDown
		}
		if o.r.OK || o.c != want {
			t.Fatalf("failure %d of %d: %+v, want a failure and %v", i+1, tm.Retry+1, o, want)
		}
	}
	setBad(false)
	if o := next(); !o.r.OK || o.c != WentUp {
		t.Fatalf("after the server came back: %+v, want up", o)
	}
	e.Remove(j)

	log.mu.Lock()
	defer log.mu.Unlock()
	p := log.probes
	// (A probe may have started after the last one before Remove.)
	if len(p) < tm.Retry+3 {
		t.Fatalf("%d probes, want %d", len(p), tm.Retry+3)
	}
	gap := func(i int, want time.Duration, what string) {
		t.Helper()
		// The engine measures from the end of its probe, a little after
		// the log's; allow for a loaded machine above, short of the next
		// delay (the tests' delay_loop is delay_before_retry + 650 ms).
		if d := p[i].start.Sub(p[i-1].end); d < want-2*time.Millisecond || d > want+400*time.Millisecond {
			t.Errorf("probe %d came %v after the one before, want %s %v", i, d, what, want)
		}
	}
	gap(1, tm.DelayLoop, "delay_loop")
	for i := 2; i <= tm.Retry+1; i++ {
		gap(i, tm.DelayBeforeRetry, "delay_before_retry")
	}
	gap(tm.Retry+2, tm.DelayLoop, "delay_loop")
}

func TestUDPCheckExactRetries(t *testing.T) {
	s := newUDPServer(t, constant("ok"))
	c := udpCheck(s.addr)
	c.RequireReply = true
	exactRetries(t, c, Timing{DelayLoop: 800 * time.Millisecond, DelayBeforeRetry: 150 * time.Millisecond, Retry: 2},
		200*time.Millisecond, func(bad bool) {
			if bad {
				s.setReply(nil)
			} else {
				s.setReply(constant("ok"))
			}
		})
}

func TestDNSCheckExactRetries(t *testing.T) {
	s := newDNSServer(t, rcode(0))
	exactRetries(t, dnsCheck(s.addr), Timing{DelayLoop: 800 * time.Millisecond, DelayBeforeRetry: 150 * time.Millisecond, Retry: 3},
		200*time.Millisecond, func(bad bool) {
			if bad {
				s.set(rcode(2))
			} else {
				s.set(rcode(0))
			}
		})
}
