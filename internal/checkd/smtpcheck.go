package checkd

import (
	"fmt"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/check"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// smtpJobs makes the jobs of an SMTP_CHECK (check_smtp.c
// smtp_check_end_handler). Each legacy host block is a checker of its
// own, connecting to the real server unless its connect_ip and
// connect_port say otherwise, with connect_timeout defaulting to the real
// server's; the SMTP_CHECK's own connection is checked too when it sets a
// connection keyword or has no host. All share helo_name and the timing,
// which a host block's timing keywords change for all of them (keepalived
// applies them to the SMTP_CHECK being read).
func (svc *service) smtpJobs(srv *server, rs *config.RealServerSpec, c *config.Checker, ci int, logAll bool) {
	timing := timingOf(c)
	timing.RetryEachCycle = true
	for _, h := range c.Hosts {
		if h.IsSet("retry") && h.Retry >= 0 {
			timing.Retry = h.Retry
		}
		if h.IsSet("delay_before_retry") {
			timing.DelayBeforeRetry = h.DelayBeforeRetry.Duration()
		}
		if h.IsSet("delay_loop") && h.DelayLoop > 0 {
			timing.DelayLoop = h.DelayLoop.Duration()
		}
		if h.IsSet("warmup") {
			timing.Warmup = h.Warmup.Duration()
		}
		if h.IsSet("alpha") {
			timing.Alpha = h.Alpha
		}
		logAll = logAll || h.LogAllFailures
	}
	helo := c.HeloName
	if helo == "" {
		helo = check.DefaultHelo
	}
	own := len(c.Hosts) == 0
	for _, kw := range []string{"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark", "connect_timeout"} {
		own = own || c.IsSet(kw)
	}
	type target struct {
		c   *config.Checker
		key string
	}
	var targets []target
	base := *c
	base.Hosts = nil // the hosts' pointers must not make the identity
	key := fmt.Sprintf("%s|%s|%d|%s", svc.name, srv.name, ci, fingerprint(&base))
	if own {
		targets = append(targets, target{c, key})
	}
	for k, h := range c.Hosts {
		targets = append(targets, target{h, fmt.Sprintf("%s|host %d|%s", key, k, fingerprint(h))})
	}
	for _, t := range targets {
		conn := connOf(t.c, rs.Addr)
		if !t.c.IsSet("connect_timeout") || t.c.ConnectTimeout <= 0 {
			if t.c == c {
				conn.Timeout = c.ConnectTimeout.Duration()
			} else {
				conn.Timeout = rs.RealServer.ConnectTimeout.Duration()
			}
			if conn.Timeout <= 0 {
				conn.Timeout = 5 * time.Second
			}
		}
		s := &check.SMTP{Conn: conn, Helo: helo, Server: rs.Addr}
		srv.jobs = append(srv.jobs, &job{kind: "SMTP_CHECK", timing: timing, key: t.key,
			x: &jobX{}, logAll: logAll,
			Job: &check.Job{Checker: s}})
	}
}

// smtpResult is smtp_final's handling of a conversation's end: the
// failure is logged when it takes the checker down (or with
// log_all_failures, at each attempt while up), the success when it
// brings the checker up or is its first; the alert's body when the
// checker went up or down.
func (svc *service) smtpResult(i int, j *job, r check.Result, c check.Change) ([]lvs.Event, string) {
	x := j.x
	first := !x.ran
	if r.OK || c != check.Unchanged || j.Schedule.Retries() == 0 {
		x.ran = true // a cycle ended
	}
	name := svc.servers[i].name
	if r.OK {
		if c == check.WentUp || first {
			svc.log.Info(fmt.Sprintf("Remote SMTP server %s succeed on service.", name))
		}
		if c == check.WentUp {
			return svc.pool.CheckerChanged(i, true), smtpAlertBody(true, "")
		}
		return nil, ""
	}
	// A failure to be retried is logged, under log_all_failures only, by
	// onFailure (check.SMTP.FailureLine).
	switch c {
	case check.WentDown:
		svc.log.Info("SMTP_CHECK " + r.Reason)
		return svc.stateChange(i, c), smtpAlertBody(false, r.Reason)
	case check.StayedDown: // an alpha checker was not up: no alert
		svc.log.Info("SMTP_CHECK " + r.Reason)
		return svc.stateChange(i, c), ""
	}
	return nil, ""
}
