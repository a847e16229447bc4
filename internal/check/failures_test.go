package check

import (
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/runner"
)

// Each checker's log_all_failures line, in keepalived's words and under
// its rule (check_tcp.c tcp_check_thread, check_udp.c udp_check_thread,
// check_ping.c icmp_check_thread, check_dns.c dns_final, check_smtp.c
// smtp_final, check_misc.c misc_check_child_thread).
func TestFailureLinesAsKeepalived(t *testing.T) {
	const rs, vs = "[10.0.0.2]:tcp:80", "[10.0.0.1]:tcp:80"
	up := Attempt{RS: rs, VS: vs, WasUp: true, HasRun: true, Retry: 2}
	with := func(a Attempt, f func(*Attempt)) Attempt { f(&a); return a }
	timeout := with(up, func(a *Attempt) { a.Result = Result{Reason: "i/o timeout", TimedOut: true} })
	refused := with(up, func(a *Attempt) { a.Result = Result{Reason: "connection refused"} })
	lastRefused := with(refused, func(a *Attempt) { a.Final, a.Retries = true, 2 })
	down := with(refused, func(a *Attempt) { a.WasUp = false })
	first := with(refused, func(a *Attempt) { a.WasUp, a.HasRun, a.Final = false, false, true }) // alpha
	mismatch := with(up, func(a *Attempt) { a.Result = Result{Reason: "reply data mismatch", Mismatch: true} })
	second := with(refused, func(a *Attempt) { a.Retries = 1 })
	misc := &Misc{Script: runner.Script{Cmd: "/bin/check.sh -v", Args: []string{"/bin/check.sh", "-v"}}}
	for _, tc := range []struct {
		c    FailureLiner
		a    Attempt
		want string
	}{
		{&TCP{}, timeout, "TCP connection to " + rs + " timeout."},
		{&TCP{}, refused, "TCP connection to " + rs + " failed."},
		{&TCP{}, lastRefused, "TCP connection to " + rs + " failed."},            // before tcp_epilog's line
		{&TCP{}, with(refused, func(a *Attempt) { a.Result.AtOnce = true }), ""}, // tcp_connect_thread's connect_fail
		{&TCP{}, down, ""},
		{&TCP{}, first, ""}, // is_up only
		{&UDP{}, mismatch, "UDP check to " + rs + " reply data mismatch."},
		{&UDP{}, timeout, "UDP connection to " + rs + " failed."},
		{&UDP{}, down, ""},
		{&Ping{}, timeout, "ICMP connection to address " + rs + " timeout."},
		{&Ping{}, refused, "ICMP connection to " + rs + " of " + vs + " failed."},
		{&Ping{}, first, ""},
		{&DNS{}, with(up, func(a *Attempt) { a.Result.Reason = "read timeout from socket" }), "DNS_CHECK (" + rs + ") read timeout from socket"},
		{&DNS{}, lastRefused, ""}, // dns_final's own line (DownLine), logged anyway
		{&DNS{}, down, ""},
		{&SMTP{}, refused, "SMTP_CHECK connection refused"},
		{&SMTP{}, lastRefused, ""},
		{&SMTP{}, down, ""},
		{misc, with(up, func(a *Attempt) { a.Result = Result{Reason: "exited with status 3", Status: 3} }),
			"Misc check for [" + rs + " VS " + vs + "] by [/bin/check.sh] failed, will do 2 retries (exited with status 3)."},
		{misc, with(second, func(a *Attempt) { a.Result = Result{TimedOut: true, Status: -1} }),
			"Misc check for [" + rs + " VS " + vs + "] by [/bin/check.sh] timed out on retry 1/2."},
		{misc, lastRefused, ""},
	} {
		if got := tc.c.FailureLine(tc.a); got != tc.want {
			t.Errorf("%T %+v:\n got %q\nwant %q", tc.c, tc.a, got, tc.want)
		}
	}
}

// AttemptOf says what the Schedule is about to do with a failure: the
// last one before the change is final; retries count up.
func TestAttemptOf(t *testing.T) {
	s := NewSchedule(Timing{Retry: 1, DelayLoop: time.Second, DelayBeforeRetry: time.Second})
	s.Result(true)
	a := AttemptOf(s, "rs", "vs", Result{})
	if !a.WasUp || !a.HasRun || a.Final || a.Retries != 0 || a.Retry != 1 {
		t.Fatalf("first failure while up: %+v", a)
	}
	s.Result(false)
	if a = AttemptOf(s, "rs", "vs", Result{}); !a.Final || a.Retries != 1 {
		t.Fatalf("second failure with retry 1: %+v, want final", a)
	}
	if _, c := s.Result(false); c != WentDown {
		t.Fatalf("AttemptOf changed the schedule: %v", c)
	}
	if a = AttemptOf(NewSchedule(Timing{Alpha: true}), "rs", "vs", Result{}); a.WasUp || a.HasRun || !a.Final {
		t.Fatalf("alpha, first failure: %+v", a)
	}
}
