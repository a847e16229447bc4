package notify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// SMTP alerts: keepalived's core/smtp.c. An Alerter takes an alert
// (subject and body) without ever blocking its caller and queues it; one
// sender goroutine, shared by every Alerter of the process (the VRRP
// subsystem's and the checkers'), speaks keepalived's SMTP dialogue to
// smtp_server for each alert in turn. A full queue drops the alert, with
// a log line and a count; a server that is down, slow or refuses costs
// the sender its timeouts, never the caller.

const (
	// DefaultSMTPConnectTimeout is keepalived's smtp_connect_timeout
	// default (global_data.h DEFAULT_SMTP_CONNECTION_TIMEOUT).
	DefaultSMTPConnectTimeout = 30 * time.Second
	// DefaultAlertQueueLen is how many alerts may wait for the sender
	// before the next ones are dropped.
	DefaultAlertQueueLen = 64
	// DefaultAlertStopWait is how long the sender goes on delivering
	// what is queued once the last Alerter has stopped: keepalived's
	// shutdown timer (vrrp_daemon.c vrrp_terminate_phase1 gives the
	// scheduler, and so the SMTP threads, one second before it exits).
	DefaultAlertStopWait = time.Second

	// keepalived's buffers (smtp.h MAX_HEADERS_LENGTH, MAX_BODY_LENGTH,
	// smtp.c SMTP_BUFFER_MAX), less their terminating NUL.
	maxSubject = 256 - 1
	maxBody    = 512 - 1
	maxReply   = 1024 - 1
	maxTo      = 1024 - 1
)

// SMTPSettings are global_defs' mail settings, as an Alerter uses them.
type SMTPSettings struct {
	// Server is smtp_server's host (an address or a name) and port
	// (25 by default); empty when smtp_server is not set.
	Host string
	Port string
	// HeloName is smtp_helo_name; empty means the local host name, or
	// "localhost" when that cannot be found (smtp.c helo_cmd).
	HeloName string
	// From is notification_email_from; empty means user@<local host
	// name> (global_data.c set_default_email_from).
	From string
	// To are the notification_email addresses, in order.
	To []string
	// RouterID is router_id; empty means the local host name, or
	// "unknown" (global_data.c init_global_data).
	RouterID string
	// ConnectTimeout is smtp_connect_timeout: for the connection and for
	// each reply (DefaultSMTPConnectTimeout if 0).
	ConnectTimeout time.Duration
}

// Enabled tells whether alerts are sent at all: keepalived's smtp_alert
// sends nothing without a server and at least one address.
func (s SMTPSettings) Enabled() bool { return s.Host != "" && len(s.To) > 0 }

// SMTPSettingsOf are g's mail settings (g may be nil). The defaults that
// need the local host name are left empty: the sender looks the name up
// when it first needs it, so that neither start-up nor a reload waits for
// a resolver.
func SMTPSettingsOf(g *config.GlobalDefs) SMTPSettings {
	if g == nil {
		return SMTPSettings{}
	}
	s := SMTPSettings{HeloName: g.SMTPHeloName, From: g.NotificationEmailFrom, RouterID: g.RouterID,
		ConnectTimeout: time.Duration(g.SMTPConnectTimeout) * time.Second}
	if len(g.SMTPServer) > 0 {
		s.Host, s.Port = g.SMTPServer[0], "25"
		if len(g.SMTPServer) > 1 {
			s.Port = g.SMTPServer[1]
		}
		// keepalived reads an address with a "-range" or "/len" suffix
		// as the address (global_parser.c smtpserver_handler).
		if a, _, ok := strings.Cut(s.Host, "/"); ok && isAddr(a) {
			s.Host = a
		} else if a, _, ok := strings.Cut(s.Host, "-"); ok && isAddr(a) {
			s.Host = a
		}
		if n, err := strconv.Atoi(s.Port); err != nil || n < 1 || n > 65535 {
			s.Host = "" // "Invalid smtp server": keepalived then sends no mail
		}
	}
	// keepalived's email_handler takes each word of the block as an address.
	for _, line := range g.NotificationEmail {
		s.To = append(s.To, line.Words...)
	}
	return s
}

func isAddr(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

// VRRPAlertOn is smtp_alert for a vrrp_instance or a vrrp_sync_group
// whose own keyword is (set, on): its own if written, else global_defs
// smtp_alert_vrrp, else smtp_alert, else off (vrrp.c
// vrrp_complete_instance and vrrp_complete_init).
func VRRPAlertOn(g *config.GlobalDefs, set, on bool) bool {
	return alertOn(g, set, on, "smtp_alert_vrrp", g != nil && g.SMTPAlertVRRP, false)
}

// VirtualServerAlertOn is smtp_alert for a virtual_server: its own, else
// smtp_alert_checker, else smtp_alert, else off (check_data.c
// validate_check_config).
func VirtualServerAlertOn(g *config.GlobalDefs, set, on bool) bool {
	return alertOn(g, set, on, "smtp_alert_checker", g != nil && g.SMTPAlertChecker, false)
}

// RealServerAlertOn is smtp_alert for a real_server: its own, else
// smtp_alert_checker, else smtp_alert, else on, "inconsistent with the
// defaults for other smtp_alerts in order to maintain backwards
// compatibility" (check_data.c validate_check_config).
func RealServerAlertOn(g *config.GlobalDefs, set, on bool) bool {
	return alertOn(g, set, on, "smtp_alert_checker", g != nil && g.SMTPAlertChecker, true)
}

func alertOn(g *config.GlobalDefs, set, on bool, kindKW string, kind, def bool) bool {
	switch {
	case set:
		return on
	case g != nil && g.IsSet(kindKW):
		return kind
	case g != nil && g.IsSet("smtp_alert"):
		return g.SMTPAlert
	}
	return def
}

// VRRPAlert is keepalived's alert for an instance (kind Instance) or a
// sync group (Group) that entered state (vrrp_notify.c vrrp_smtp_notifier,
// vrrp_sync_smtp_notifier): the subject, which the Alerter prefixes with
// the router id, and the body. ok is false for the states keepalived
// sends nothing for.
func VRRPAlert(kind Kind, name, state string) (subject, body string, ok bool) {
	texts := map[string][2]string{
		"MASTER":  {"Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="},
		"BACKUP":  {"Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		"FAULT":   {"Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		"STOP":    {"Stopping", "=> VRRP Instance stopping <="},
		"DELETED": {"Deleted", "=> VRRP Deleted at reload <="},
	}
	what := "VRRP Instance"
	if kind == Group {
		what = "VRRP Group"
		texts = map[string][2]string{
			"MASTER": {"Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="},
			"BACKUP": {"Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="},
			"FAULT":  {"Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="},
			"STOP":   {"Stopping", "=> All VRRP group instances are now stopping <="},
		}
	}
	t, ok := texts[state]
	if !ok {
		return "", "", false
	}
	return what + " " + name + " - " + t[0], t[1], true
}

// RealServerAlertSubject is keepalived's subject for a real server rs of
// the virtual server vs (both as keepalived prints them, FMT_RS and
// FMT_VS), which is up or down (smtp.c smtp_alert, SMTP_MSG_RS).
func RealServerAlertSubject(rs, vs string, up bool) string {
	return "Realserver " + rs + " of virtual server " + vs + " - " + upDown(up)
}

// VirtualServerAlert is keepalived's alert for a virtual server whose
// quorum went up or down (ipwrapper.c do_vs_notifies, smtp.c
// SMTP_MSG_VS): at start-up (init) "Starting with quorum up|down",
// later "Gained quorum" or "Lost quorum", with quorum, hysteresis, the
// threshold crossed and the alive weight.
func VirtualServerAlert(vs string, up, init bool, quorum, hysteresis, threshold, weight int) (subject, body string) {
	what := map[[2]bool]string{{true, true}: "Starting with quorum up", {true, false}: "Gained quorum",
		{false, true}: "Starting with quorum down", {false, false}: "Lost quorum"}[[2]bool{up, init}]
	return "Virtualserver " + vs + " - " + upDown(up),
		fmt.Sprintf("=> %s %d+%d=%d <= %d <=", what, quorum, hysteresis, threshold, weight)
}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

// AlertStats count an Alerter's alerts, or the process's (AlertTotals).
type AlertStats struct {
	Sent    uint64 // the server took the message (250 after the data)
	Failed  uint64 // tried and not delivered: connection, timeout, refusal
	Dropped uint64 // never tried: the queue was full, or the sender stopped first
}

var alertTotals struct{ sent, failed, dropped atomic.Uint64 }

// AlertTotals are the alerts of every Alerter since the process started,
// for metrics: they only grow.
func AlertTotals() AlertStats {
	return AlertStats{Sent: alertTotals.sent.Load(), Failed: alertTotals.failed.Load(),
		Dropped: alertTotals.dropped.Load()}
}

// Alerter sends the SMTP alerts of one configuration of one subsystem.
// Alerts go to the process's sender, which a reload's new Alerter shares
// with the one it replaces: stopping the old one once the new one is open
// loses nothing queued.
type Alerter struct {
	log  *slog.Logger
	set  SMTPSettings
	snd  *sender // nil when alerts are disabled
	done func()  // releases snd

	mu      sync.Mutex // one Alert at a time; Stop after the last
	stopped bool

	defaults sync.Once // resolved on the sender's goroutine
	resolved SMTPSettings

	sent, failed, dropped atomic.Uint64
	dropLog               limiter
}

// OpenAlerter makes the Alerter of settings s. When s sends nothing (no
// smtp_server or no notification_email) it is inert and starts nothing;
// otherwise it holds the process's sender, which runs until the last
// Alerter has stopped.
func OpenAlerter(log *slog.Logger, s SMTPSettings) *Alerter {
	return openAlerter(log, s, acquireShared)
}

func openAlerter(log *slog.Logger, s SMTPSettings, acquire func() (*sender, func())) *Alerter {
	if log == nil {
		log = slog.Default()
	}
	a := &Alerter{log: log, set: s}
	if s.Enabled() {
		a.snd, a.done = acquire()
	}
	return a
}

// Enabled tells whether the alerter sends anything.
func (a *Alerter) Enabled() bool { return a != nil && a.snd != nil }

// Alert queues an alert and returns at once. subject is keepalived's
// subject without the "[router_id] " the alerter puts in front. An alert
// that finds the queue full, or comes after Stop, is dropped, counted
// and logged (at most every 10 seconds). A nil or disabled Alerter does
// nothing.
func (a *Alerter) Alert(subject, body string) {
	if !a.Enabled() {
		return
	}
	m := alertMail{a: a, subject: subject, body: body, at: time.Now()}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		a.drop(m, "the alerter has stopped")
		return
	}
	select {
	case a.snd.queue <- m:
	default:
		a.drop(m, "the queue is full: the SMTP server is slow or unreachable")
	}
}

// drop counts an alert that will not be tried, and logs it.
func (a *Alerter) drop(m alertMail, why string) {
	a.dropped.Add(1)
	alertTotals.dropped.Add(1)
	if ok, more := a.dropLog.allow(time.Now()); ok {
		a.log.Error("SMTP alert not sent: "+why, "subject", m.subject, "dropped_before", more,
			"dropped_total", a.dropped.Load())
	}
}

// Stats are this alerter's counts since OpenAlerter.
func (a *Alerter) Stats() AlertStats {
	if a == nil {
		return AlertStats{}
	}
	return AlertStats{Sent: a.sent.Load(), Failed: a.failed.Load(), Dropped: a.dropped.Load()}
}

// Stop takes no more alerts and lets the sender go. If it was the last
// Alerter, the sender goes on with what is queued for DefaultAlertStopWait
// at most, then abandons the rest (counted as dropped), and Stop returns
// once its goroutine has ended. Otherwise what is queued is still sent
// and Stop returns at once.
func (a *Alerter) Stop() {
	if !a.Enabled() {
		return
	}
	a.mu.Lock()
	already := a.stopped
	a.stopped = true
	a.mu.Unlock()
	if !already {
		a.done()
		if more := a.dropLog.flush(); more > 0 {
			a.log.Error("SMTP alerts not sent and not logged", "count", more)
		}
	}
}

// settings are the alerter's settings with keepalived's defaults filled
// in; the first call may look the local host name up (ctx ends the
// look-up at stop).
func (a *Alerter) settings(ctx context.Context) SMTPSettings {
	a.defaults.Do(func() {
		s := a.set
		if s.ConnectTimeout <= 0 {
			s.ConnectTimeout = DefaultSMTPConnectTimeout
		}
		if s.RouterID == "" || s.HeloName == "" || s.From == "" {
			// global_data.c init_global_data: get_local_name(), or
			// "unknown", which gives no default sender or HELO name.
			name := localName(ctx)
			if s.RouterID == "" {
				s.RouterID = name
				if name == "" {
					s.RouterID = "unknown"
				}
			}
			if s.HeloName == "" {
				s.HeloName = name
				if name == "" {
					s.HeloName = "localhost" // smtp.c helo_cmd
				}
			}
			if s.From == "" {
				s.From = "(null)" // what glibc prints for smtp.c mail_cmd's NULL email_from
				if u, err := user.Current(); err == nil && name != "" {
					s.From = u.Username + "@" + name
				}
			}
		}
		a.resolved = s
	})
	return a.resolved
}

// localName is keepalived's get_local_name (lib/utils.c): the canonical
// name of the host name, or "" if it cannot be found. Tests replace it.
var localName = func(ctx context.Context) string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cname, err := net.DefaultResolver.LookupCNAME(ctx, h)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(cname, ".")
}

// alertMail is one queued alert.
type alertMail struct {
	a       *Alerter
	subject string
	body    string
	at      time.Time
}

// sender is the goroutine that delivers queued alerts, one at a time.
type sender struct {
	queue    chan alertMail
	stopWait time.Duration
	ctx      context.Context // cancelled stopWait after stop: ends what is in flight
	cancel   context.CancelFunc
	done     chan struct{}
}

func newSender(queueLen int, stopWait time.Duration) *sender {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sender{queue: make(chan alertMail, queueLen), stopWait: stopWait, ctx: ctx, cancel: cancel,
		done: make(chan struct{})}
	go s.run()
	return s
}

func (s *sender) run() {
	defer close(s.done)
	for m := range s.queue {
		if s.ctx.Err() != nil {
			m.a.drop(m, "the daemon is stopping")
			continue
		}
		if m.a.deliver(s.ctx, m) {
			m.a.sent.Add(1)
			alertTotals.sent.Add(1)
		} else if s.ctx.Err() != nil {
			m.a.drop(m, "the daemon is stopping")
		} else {
			m.a.failed.Add(1)
			alertTotals.failed.Add(1)
		}
	}
}

// stop takes no more alerts, lets the queue run for stopWait, then
// abandons what is left and waits for the goroutine. Every Alerter using
// s must have stopped.
func (s *sender) stop() {
	close(s.queue)
	t := time.AfterFunc(s.stopWait, s.cancel)
	<-s.done
	t.Stop()
	s.cancel()
}

// shared is the process's sender and how many Alerters hold it.
var shared struct {
	mu   sync.Mutex
	snd  *sender
	refs int
}

func acquireShared() (*sender, func()) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.snd == nil {
		shared.snd = newSender(DefaultAlertQueueLen, DefaultAlertStopWait)
	}
	shared.refs++
	snd := shared.snd
	return snd, func() {
		shared.mu.Lock()
		shared.refs--
		last := shared.refs == 0
		if last {
			shared.snd = nil
		}
		shared.mu.Unlock()
		if last {
			snd.stop()
		}
	}
}

// deliver speaks keepalived's SMTP dialogue for one alert (smtp.c: the
// SMTP_FSM table and its handlers) and tells whether the server took the
// message. Every failure is logged with keepalived's line.
func (a *Alerter) deliver(ctx context.Context, m alertMail) bool {
	s := a.settings(ctx)
	host := s.Host
	if !isAddr(host) {
		// keepalived resolves a name once, when it reads the
		// configuration (domain_stosockaddr: the first address).
		rctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
		addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
		cancel()
		if err != nil || len(addrs) == 0 {
			a.log.Info(fmt.Sprintf("Invalid smtp server %s %s", s.Host, s.Port), "err", err)
			return false
		}
		host = addrs[0].Unmap().String()
	}
	server := "[" + host + "]:" + s.Port // inet_sockaddrtopair, FMT_SMTP_HOST
	d := net.Dialer{Timeout: s.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, s.Port))
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		if isTimeout(err) {
			a.log.Info(fmt.Sprintf("Timeout opening connection to remote SMTP server %s.", server))
		} else {
			a.log.Info(fmt.Sprintf("SMTP connection ERROR to %s.", server), "err", err)
		}
		return false
	}
	defer conn.Close()
	unhook := context.AfterFunc(ctx, func() { conn.Close() })
	defer unhook()
	c := &smtpConn{conn: conn, r: bufio.NewReaderSize(conn, maxReply+1), timeout: s.ConnectTimeout,
		server: server, log: a.log, ctx: ctx}
	return c.dialogue(s, m)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// smtpConn is one connection to the SMTP server.
type smtpConn struct {
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
	server  string
	log     *slog.Logger
	ctx     context.Context
	closed  bool // the connection is gone: no QUIT
}

// step is one state of keepalived's SMTP_FSM: what it sends, the reply
// code it expects and its name in the error line.
type step struct {
	send string
	code int
	name string
}

// dialogue runs the steps: the greeting, HELO, MAIL FROM, one RCPT TO per
// address, DATA, the message, QUIT. A reply with another code than
// expected, or a read that fails, goes to QUIT (smtp_read_thread); a
// closed connection or a failed send ends at once.
func (c *smtpConn) dialogue(s SMTPSettings, m alertMail) bool {
	steps := []step{{"", 220, "(E)SMTP"}, {"HELO " + s.HeloName + "\r\n", 250, "HELO"},
		{"MAIL FROM:<" + s.From + ">\r\n", 250, "MAIL"}}
	for _, to := range s.To {
		steps = append(steps, step{"RCPT TO:<" + to + ">\r\n", 250, "RCPT"})
	}
	steps = append(steps, step{"DATA\r\n", 354, "DATA"}, step{message(s, m), 250, "BODY"})
	sent := false
	for _, st := range steps {
		if !c.step(st) {
			break
		}
		if st.name == "BODY" {
			sent = true
			c.log.Debug("SMTP alert successfully sent.")
		}
	}
	if c.ctx.Err() == nil && !c.closed {
		c.step(step{"QUIT\r\n", 221, "QUIT"})
	}
	return sent
}

// step sends st's command and reads the reply; false means the dialogue
// must go to QUIT, or end if c.closed.
func (c *smtpConn) step(st step) bool {
	if st.send != "" {
		c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
		if _, err := io.WriteString(c.conn, st.send); err != nil {
			if c.ctx.Err() == nil {
				c.log.Info(fmt.Sprintf("Cannot send data to remote SMTP server %s.", c.server), "err", err)
			}
			c.closed = true
			return false
		}
	}
	code, err := c.reply()
	switch {
	case c.ctx.Err() != nil:
		c.closed = true
		return false
	case errors.Is(err, io.EOF):
		c.log.Info(fmt.Sprintf("Remote SMTP server %s has closed the connection.", c.server))
		c.closed = true
		return false
	case isTimeout(err):
		c.log.Info(fmt.Sprintf("Timeout reading data to remote SMTP server %s.", c.server))
		if st.name == "QUIT" {
			c.closed = true
		}
		return false
	case errors.Is(err, bufio.ErrBufferFull):
		c.log.Info(fmt.Sprintf("Received buffer from remote SMTP server %s overflow our get read buffer length.", c.server))
		return false
	case err != nil:
		c.log.Info(fmt.Sprintf("Error reading data from remote SMTP server %s.", c.server), "err", err)
		return false
	case code != st.code:
		c.log.Info(fmt.Sprintf("Error processing %s cmd on SMTP server %s. SMTP status code = %d", st.name, c.server, code))
		return false
	}
	return true
}

// reply reads one reply, continuation lines ("250-...") included, and
// returns the code of its last line, computed from its first three
// characters as smtp_read_thread does.
func (c *smtpConn) reply() (int, error) {
	for {
		c.conn.SetReadDeadline(time.Now().Add(c.timeout))
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) > 3 && line[3] == '-' {
			continue
		}
		code := 0
		for i := 0; i < 3; i++ {
			code *= 10
			if i < len(line) {
				code += int(line[i]) - '0'
			}
		}
		return code, nil
	}
}

// message is what keepalived sends after DATA (smtp.h SMTP_HEADERS_CMD,
// SMTP_BODY_CMD, SMTP_SEND_CMD): the headers Date (local time, RFC 822),
// From, Subject ("[router_id] " and the subject, cut at keepalived's 255
// bytes), X-Mailer and To (the addresses joined with ", ", as many as fit
// in 1023 bytes), a blank line, the body (cut at 511 bytes), then the end
// of the data.
func message(s SMTPSettings, m alertMail) string {
	subject := truncate("["+s.RouterID+"] "+m.subject, maxSubject)
	return "Date: " + m.at.Format("Mon, 02 Jan 2006 15:04:05 -0700") + "\r\n" +
		"From: " + s.From + "\r\n" +
		"Subject: " + subject + "\r\n" +
		"X-Mailer: Keepalived\r\n" +
		"To: " + toHeader(s.To) + "\r\n\r\n" +
		dotStuff(truncate(m.body, maxBody)) + "\r\n" +
		"\r\n.\r\n"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// toHeader is smtp.c build_to_header_rcpt_addrs: the addresses joined
// with ", ", stopping at the first that does not fit.
func toHeader(to []string) string {
	var b strings.Builder
	for i, addr := range to {
		if i > 0 {
			if maxTo-b.Len() < 2 {
				break
			}
			b.WriteString(", ")
		}
		if maxTo-b.Len() < len(addr) {
			break
		}
		b.WriteString(addr)
	}
	return b.String()
}

// dotStuff doubles the dot that starts a line (RFC 5321 4.5.2), which
// keepalived does not do: none of its bodies has one, and a line "." would
// end the message early.
func dotStuff(body string) string {
	if !strings.HasPrefix(body, ".") && !strings.Contains(body, "\n.") {
		return body
	}
	body = strings.ReplaceAll(body, "\n.", "\n..")
	if strings.HasPrefix(body, ".") {
		body = "." + body
	}
	return body
}
