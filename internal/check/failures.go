package check

import "fmt"

// log_all_failures: keepalived logs a checker's failed probes one by one
// only with the checker's log_all_failures or global_defs'
// checker_log_all_failures; otherwise only the change of state
// ("TCP_CHECK on service ... failed after 3 retries."). Each checker has
// its own words and its own rule for when, read from its source; the
// daemon resolves the keyword once and, for a checker that is a
// FailureLiner, asks it for the line of each failed probe before the
// probe's result is counted (Job.OnFailure), so that the line comes before
// the change it may cause, as in keepalived.

// Attempt is a failed probe as log_all_failures sees it, with the
// checker's state before the probe was counted.
type Attempt struct {
	// RS and VS are the real and virtual server as keepalived prints them
	// ("[10.0.0.2]:tcp:80", "[10.0.0.1]:tcp:80").
	RS, VS string
	Result Result
	// WasUp is keepalived's is_up, HasRun its has_run.
	WasUp, HasRun bool
	// Final: no retry follows, the failure takes the checker down (or
	// settles an alpha checker down). Not known for a Sequencer (false).
	Final bool
	// Retries is how many failures were counted in a row before this one
	// (retry_it), Retry the checker's retry.
	Retries, Retry int
}

// FailureLiner is a checker whose failed probes keepalived logs under
// log_all_failures.
type FailureLiner interface {
	// FailureLine is keepalived's line for a failed probe, "" when it
	// logs none for this one.
	FailureLine(a Attempt) string
}

// AttemptOf is the Attempt of failed result r for a checker whose
// Schedule is s, before s counts it.
func AttemptOf(s *Schedule, rs, vs string, r Result) Attempt {
	peek := *s
	_, c := peek.Result(false)
	return Attempt{RS: rs, VS: vs, Result: r, WasUp: s.up, HasRun: s.hasRun,
		Final: c == WentDown || c == StayedDown, Retries: s.retries, Retry: s.t.Retry}
}

// FailureLine: check_tcp.c tcp_check_thread logs each failed connect of
// an up checker, the last one too (before tcp_epilog's line); a connect
// that fails when it is made goes to tcp_epilog unlogged
// (tcp_connect_thread).
func (t *TCP) FailureLine(a Attempt) string {
	switch {
	case !a.WasUp || a.Result.AtOnce:
		return ""
	case a.Result.TimedOut:
		return "TCP connection to " + a.RS + " timeout."
	}
	return "TCP connection to " + a.RS + " failed."
}

// FailureLine: check_udp.c udp_check_thread, as TCP_CHECK's: a reply
// that require_reply refuses is a "reply data mismatch".
func (u *UDP) FailureLine(a Attempt) string {
	switch {
	case !a.WasUp:
		return ""
	case a.Result.Mismatch:
		return "UDP check to " + a.RS + " reply data mismatch."
	}
	return "UDP connection to " + a.RS + " failed."
}

// FailureLine: check_ping.c icmp_check_thread, as TCP_CHECK's.
func (p *Ping) FailureLine(a Attempt) string {
	switch {
	case !a.WasUp:
		return ""
	case a.Result.TimedOut:
		return "ICMP connection to address " + a.RS + " timeout."
	}
	return "ICMP connection to " + a.RS + " of " + a.VS + " failed."
}

// FailureLine: check_dns.c dns_final logs the failure of a checker that
// is up or has not run; the last one always (DownLine), the others only
// under log_all_failures.
func (d *DNS) FailureLine(a Attempt) string {
	if a.Final || !(a.WasUp || !a.HasRun) {
		return ""
	}
	return fmt.Sprintf("DNS_CHECK (%s) %s", a.RS, a.Result.Reason)
}

// FailureLine: check_smtp.c smtp_final, as DNS_CHECK's.
func (s *SMTP) FailureLine(a Attempt) string {
	if a.Final || !(a.WasUp || !a.HasRun) {
		return ""
	}
	return "SMTP_CHECK " + a.Result.Reason
}

// FailureLine: check_http.c timeout_epilog logs every failure of a
// checker that is up or has not run, the last one too (before epilog's
// "HTTP_CHECK on service ... failed"), with the words of the step that
// failed; keepalived-go adds why.
func (h *HTTP) FailureLine(a Attempt) string {
	p := h.last
	if p.ok || p.skip || !(a.WasUp || !a.HasRun) {
		return ""
	}
	return fmt.Sprintf("%s server %s. (%s)", p.msg, h, a.Result.Reason)
}

// FailureLine: check_misc.c misc_check_child_thread logs a failure that
// will be retried, of a checker that is up or has not run, with the
// retry it is at; the last one always (MiscLine).
func (m *Misc) FailureLine(a Attempt) string {
	if a.Final || !(a.WasUp || !a.HasRun) {
		return ""
	}
	msg := fmt.Sprintf(", will do %d %s", a.Retry, plural(a.Retry, "retry", "retries"))
	if n := a.Retries + 1; n > 1 {
		msg = fmt.Sprintf(" on retry %d/%d", n-1, a.Retry)
	}
	return MiscLine(a.RS, a.VS, m.Path(), a.Result, msg)
}

// MiscLine is keepalived's "Misc check for [RS VS VS] by [SCRIPT] ..."
// line for a script's end, msg the retry it was at.
func MiscLine(rs, vs, path string, r Result, msg string) string {
	head := fmt.Sprintf("Misc check for [%s VS %s] by [%s] ", rs, vs, path)
	switch {
	case r.OK:
		return head + "succeeded."
	case r.TimedOut:
		return head + "timed out" + msg + "."
	}
	return head + "failed" + msg + " (" + r.Reason + ")."
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
