package checkd

import (
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/notify"
)

// SMTP alerts of the checkers, as keepalived sends them:
//
//   - a virtual server's, when its quorum goes up or down, if its
//     smtp_alert resolves on (off by default): ipwrapper.c do_vs_notifies,
//     after the quorum scripts and FIFO line;
//   - a real server's, from the checker whose state changed (check_tcp.c
//     tcp_epilog and its siblings), after the server's notifications:
//     when a checker goes down or comes back up, if the server's
//     smtp_alert resolves on (on by default), and unless global_defs
//     no_checker_emails is set and the server's own state did not move.
//     The subject says the server's state (UP only when all its checkers
//     are), the body the checker's change; MISC_CHECK mails each success
//     and final failure it logs, its first success included;
//   - a real server's and a virtual server's when they go away, removed
//     by a reload or at stop with omega ("=> Removing <=", "=> Shutting
//     down <=", removals.go).

// alerting is what a virtual server needs to send its alerts.
type alerting struct {
	alerts          *notify.Alerter // nil: no alert is sent
	vs              bool            // the virtual server's smtp_alert
	noCheckerEmails bool
}

func alertingOf(a *notify.Alerter, g *config.GlobalDefs, vs *config.VirtualServer) alerting {
	if !a.Enabled() {
		return alerting{}
	}
	return alerting{alerts: a, vs: notify.VirtualServerAlertOn(g, vs.IsSet("smtp_alert"), vs.SMTPAlert),
		noCheckerEmails: g.NoCheckerEmails}
}

// realServerAlerts is a real_server's smtp_alert, resolved.
func realServerAlerts(g *config.GlobalDefs, rs *config.RealServer) bool {
	return notify.RealServerAlertOn(g, rs.IsSet("smtp_alert"), rs.SMTPAlert)
}

// quorumAlert sends a virtual server's alert for a quorum event.
func (svc *service) quorumAlert(ev lvs.Event) {
	if svc.mail.alerts == nil || !svc.mail.vs {
		return
	}
	subject, body := notify.VirtualServerAlert(svc.name, ev.Kind == lvs.QuorumUp, ev.Init,
		svc.pool.Quorum, svc.pool.Hysteresis, ev.Threshold, ev.Weight)
	svc.mail.alerts.Alert(subject, body)
}

// checkerAlert sends a real server's alert with body, from one of its
// checkers whose state changed; wasAlive and alive are the server's state
// before and after.
func (svc *service) checkerAlert(srv *server, body string, wasAlive, alive bool) {
	if svc.mail.alerts == nil || !srv.alert || (wasAlive == alive && svc.mail.noCheckerEmails) {
		return
	}
	svc.mail.alerts.Alert(notify.RealServerAlertSubject(srv.name, svc.name, alive), body)
}

// checkerAlertBody is the body a checker of this kind sends when it goes
// up or down (the epilogs of check_tcp.c, check_udp.c, check_ping.c,
// check_dns.c, check_http.c). SMTP_CHECK's and MISC_CHECK's depend on the
// probe (smtpAlertBody, miscAlertBody); FILE_CHECK sends none; BFD_CHECK
// is not run (bfd.go).
func checkerAlertBody(kind string, up bool) string {
	texts := map[string][2]string{
		"TCP_CHECK":  {"=> TCP CHECK succeed on service <=", "=> TCP CHECK failed on service <="},
		"UDP_CHECK":  {"=> UDP CHECK succeed on service <=", "=> UDP CHECK failed on service <="},
		"PING_CHECK": {"=> ICMP CHECK succeed on service <=", "=> ICMP CHECK failed on service <="},
		"DNS_CHECK":  {"=> DNS_CHECK: succeed on service <=", "=> DNS_CHECK: failed on service <="},
		"HTTP_GET":   {"=> CHECK succeed on service <=", "=> CHECK failed on service : HTTP request failed <="},
		"SSL_GET":    {"=> CHECK succeed on service <=", "=> CHECK failed on service : HTTP request failed <="},
	}[kind]
	if up {
		return texts[0]
	}
	return texts[1]
}

// smtpAlertBody is SMTP_CHECK's body (check_smtp.c smtp_final): the
// failure carries the error keepalived logs after "SMTP_CHECK ", cut as
// its 542-byte buffer cuts it.
func smtpAlertBody(up bool, reason string) string {
	if up {
		return "=> CHECK succeed on service <="
	}
	if reason == "" {
		return "=> CHECK failed on service <="
	}
	b := "=> CHECK failed on service : " + reason + " <="
	if len(b) > 541 {
		b = b[:541]
	}
	return b
}

// miscAlertBody is MISC_CHECK's body (check_misc.c
// misc_check_child_thread): "=> MISC CHECK succeeded|failed|timed out on
// service <=".
func miscAlertBody(ok, timedOut bool) string {
	what := "failed"
	switch {
	case ok:
		what = "succeeded"
	case timedOut:
		what = "timed out"
	}
	return "=> MISC CHECK " + what + " on service <="
}
