package check

import (
	"context"
	"time"
)

// Result is one probe's outcome.
type Result struct {
	OK bool
	// Reason says why a probe failed, for the log.
	Reason string
	// Status is a MISC_CHECK script's exit status, -1 when it did not
	// exit by itself (timed out, killed, not started).
	Status int
	// TimedOut: the probe ran out of time (a MISC_CHECK script ended at
	// misc_timeout, a connect or an echo request at connect_timeout).
	TimedOut bool
	// Mismatch: a UDP_CHECK reply that require_reply refuses.
	Mismatch bool
	// AtOnce: a TCP_CHECK connect that failed when it was made (no route,
	// say), not later on the wire: keepalived's connect_fail, which
	// tcp_connect_thread hands to tcp_epilog without the log_all_failures
	// line.
	AtOnce bool
	// Took is how long the probe ran, set by the engine.
	Took time.Duration
}

func failed(err error) Result { return Result{Reason: err.Error(), TimedOut: isTimeout(err)} }

// Checker is one health check of a real server: a single probe; the
// Schedule owns time, retries and state.
type Checker interface {
	// Check probes once; ctx carries connect_timeout.
	Check(ctx context.Context) Result
	// String is keepalived's name for the checked service in logs.
	String() string
}

// TCP is TCP_CHECK: the server is up if it accepts a connection
// (check_tcp.c), which is closed at once.
type TCP struct{ Conn Conn }

func (t *TCP) String() string { return t.Conn.String() }

// Check connects and closes.
func (t *TCP) Check(ctx context.Context) Result {
	c, err := t.Conn.dial(ctx, "tcp")
	if err != nil {
		return failed(err)
	}
	c.Close()
	return Result{OK: true}
}
