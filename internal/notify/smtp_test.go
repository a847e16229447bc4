package notify

import (
	"context"
	"fmt"
	"net"
	"os/user"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/notify/smtptest"
)

func portOf(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// stubLocalName makes the local host name name for the test: no test
// looks the real one up (which might ask a DNS server).
func stubLocalName(t *testing.T, name string) {
	t.Helper()
	old := localName
	localName = func(context.Context) string { return name }
	t.Cleanup(func() { localName = old })
}

func sinkSettings(s *smtptest.Sink) SMTPSettings {
	return SMTPSettings{Host: "127.0.0.1", Port: s.Port, HeloName: "lb1.example", From: "keepalived@lb1.example",
		To: []string{"ops@example.com", "oncall@example.com"}, RouterID: "lb1", ConnectTimeout: 2 * time.Second}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

var dateLine = regexp.MustCompile(`Date: ([^\r]*)\r\n`)

// checkDate checks the Date header of wire (keepalived's strftime
// "%a, %d %b %Y %H:%M:%S %z", local time, taken between from and to) and
// returns wire with the date replaced by DATE.
func checkDate(t *testing.T, wire string, from, to time.Time) string {
	t.Helper()
	m := dateLine.FindStringSubmatch(wire)
	if m == nil {
		t.Fatalf("no Date header in %q", wire)
	}
	d, err := time.Parse("Mon, 02 Jan 2006 15:04:05 -0700", m[1])
	if err != nil {
		t.Fatalf("Date %q: %v", m[1], err)
	}
	if d.Before(from.Truncate(time.Second)) || d.After(to) {
		t.Errorf("Date %s is not the alert's time (%s to %s)", d, from, to)
	}
	if want := d.In(time.Local).Format("-0700"); d.Format("-0700") != want {
		t.Errorf("Date %q is not in local time (%s)", m[1], want)
	}
	return strings.Replace(wire, m[1], "DATE", 1)
}

// The dialogue and the message are keepalived's, byte for byte (smtp.c,
// smtp.h): HELO, MAIL FROM, one RCPT TO per address, DATA, the headers
// Date, From, Subject with "[router_id] ", X-Mailer and To, the body,
// then QUIT; for a VRRP instance becoming master and a real server going
// down. Two alerters share the process's sender, which ends with the
// last.
func TestAlertSendsKeepalivedMessages(t *testing.T) {
	sink := smtptest.New(t)
	var l logs
	vrrpSide := OpenAlerter(l.logger(), sinkSettings(sink))
	checkSide := OpenAlerter(l.logger(), sinkSettings(sink))
	if vrrpSide.snd != checkSide.snd {
		t.Fatal("two alerters of one process do not share the sender")
	}
	from := time.Now()
	subject, body, ok := VRRPAlert(Instance, "VI_1", "MASTER")
	if !ok {
		t.Fatal("no alert for MASTER")
	}
	vrrpSide.Alert(subject, body)
	checkSide.Alert(RealServerAlertSubject("[10.0.0.2]:tcp:80", "[10.0.0.1]:tcp:80", false),
		"=> TCP CHECK failed on service <=")
	waitUntil(t, "both messages arrive", func() bool { return len(sink.Messages()) == 2 })
	waitUntil(t, "both sessions end with QUIT", func() bool { return sink.Quitted() == 2 })
	to := time.Now()

	want := func(subject, body string) string {
		return "HELO lb1.example\r\n" +
			"MAIL FROM:<keepalived@lb1.example>\r\n" +
			"RCPT TO:<ops@example.com>\r\n" +
			"RCPT TO:<oncall@example.com>\r\n" +
			"DATA\r\n" +
			"Date: DATE\r\n" +
			"From: keepalived@lb1.example\r\n" +
			"Subject: " + subject + "\r\n" +
			"X-Mailer: Keepalived\r\n" +
			"To: ops@example.com, oncall@example.com\r\n" +
			"\r\n" +
			body + "\r\n" +
			"\r\n.\r\n" +
			"QUIT\r\n"
	}
	for i, w := range []string{
		want("[lb1] VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="),
		want("[lb1] Realserver [10.0.0.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN", "=> TCP CHECK failed on service <="),
	} {
		if got := checkDate(t, sink.Wire(i), from, to); got != w {
			t.Errorf("connection %d sent\n%q\nwant\n%q", i, got, w)
		}
	}
	if st := vrrpSide.Stats(); st != (AlertStats{Sent: 1}) {
		t.Errorf("stats %+v, want one sent", st)
	}

	vrrpSide.Stop() // not the last: returns, the sender stays
	if shared.snd == nil {
		t.Fatal("the sender stopped with an alerter still open")
	}
	checkSide.Alert("after the other stopped", "body")
	waitUntil(t, "the third message arrives", func() bool { return len(sink.Messages()) == 3 })
	snd := checkSide.snd
	checkSide.Stop()
	select {
	case <-snd.done:
	default:
		t.Fatal("the last Stop returned before the sender ended")
	}
	vrrpSide.Alert("after Stop", "body")
	if st := vrrpSide.Stats(); st.Dropped != 1 {
		t.Errorf("an alert after Stop: stats %+v, want it dropped", st)
	}
}

// keepalived's subjects and bodies for every VRRP state, for groups, and
// for a virtual server's quorum.
func TestAlertTexts(t *testing.T) {
	for _, c := range []struct {
		kind          Kind
		state         string
		subject, body string
	}{
		{Instance, "MASTER", "VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="},
		{Instance, "BACKUP", "VRRP Instance VI_1 - Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		{Instance, "FAULT", "VRRP Instance VI_1 - Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		{Instance, "STOP", "VRRP Instance VI_1 - Stopping", "=> VRRP Instance stopping <="},
		{Instance, "DELETED", "VRRP Instance VI_1 - Deleted", "=> VRRP Deleted at reload <="},
		{Instance, "INIT", "", ""},
		{Group, "MASTER", "VRRP Group VI_1 - Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="},
		{Group, "BACKUP", "VRRP Group VI_1 - Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="},
		{Group, "FAULT", "VRRP Group VI_1 - Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="},
		{Group, "STOP", "VRRP Group VI_1 - Stopping", "=> All VRRP group instances are now stopping <="},
		{Group, "DELETED", "", ""},
	} {
		subject, body, ok := VRRPAlert(c.kind, "VI_1", c.state)
		if subject != c.subject || body != c.body || ok != (c.subject != "") {
			t.Errorf("%s %s: %q %q %v, want %q %q", c.kind, c.state, subject, body, ok, c.subject, c.body)
		}
	}
	for _, c := range []struct {
		up, init      bool
		subject, body string
	}{
		{true, false, "Virtualserver [10.0.0.1]:tcp:80 - UP", "=> Gained quorum 2+1=3 <= 4 <="},
		{false, false, "Virtualserver [10.0.0.1]:tcp:80 - DOWN", "=> Lost quorum 2+1=3 <= 4 <="},
		{true, true, "Virtualserver [10.0.0.1]:tcp:80 - UP", "=> Starting with quorum up 2+1=3 <= 4 <="},
		{false, true, "Virtualserver [10.0.0.1]:tcp:80 - DOWN", "=> Starting with quorum down 2+1=3 <= 4 <="},
	} {
		subject, body := VirtualServerAlert("[10.0.0.1]:tcp:80", c.up, c.init, 2, 1, 3, 4)
		if subject != c.subject || body != c.body {
			t.Errorf("quorum up=%v init=%v: %q %q, want %q %q", c.up, c.init, subject, body, c.subject, c.body)
		}
	}
	if got := RealServerAlertSubject("[10.0.0.2]:tcp:80", "FWM 5", true); got != "Realserver [10.0.0.2]:tcp:80 of virtual server FWM 5 - UP" {
		t.Errorf("real server subject %q", got)
	}
}

func globalDefs(t *testing.T, body string) *config.GlobalDefs {
	t.Helper()
	cfg, _ := config.LoadBytes("t.conf", []byte("global_defs {\n"+body+"\n}\n"), config.Options{})
	if cfg == nil || cfg.GlobalDefs == nil {
		t.Fatal("no global_defs")
	}
	return cfg.GlobalDefs
}

// smtp_alert's precedence and defaults: the object's own keyword, else
// smtp_alert_vrrp or smtp_alert_checker, else smtp_alert, else off for
// VRRP and virtual servers and on for real servers.
func TestAlertPrecedence(t *testing.T) {
	type set struct{ set, on bool }
	unset, on, off := set{}, set{true, true}, set{true, false}
	for _, c := range []struct {
		global         string
		own            set
		vrrp, vs, real bool
	}{
		{"", unset, false, false, true},
		{"", on, true, true, true},
		{"", off, false, false, false},
		{"smtp_alert", unset, true, true, true},
		{"smtp_alert off", unset, false, false, false},
		{"smtp_alert off", on, true, true, true},
		{"smtp_alert_vrrp", unset, true, false, true},
		{"smtp_alert_vrrp off\nsmtp_alert", unset, false, true, true},
		{"smtp_alert_checker off\nsmtp_alert on", unset, true, false, false},
		{"smtp_alert_checker\nsmtp_alert off", unset, false, true, true},
		{"smtp_alert_checker\nsmtp_alert off", off, false, false, false},
	} {
		g := globalDefs(t, c.global)
		if got := VRRPAlertOn(g, c.own.set, c.own.on); got != c.vrrp {
			t.Errorf("%q, own %+v: VRRP %v, want %v", c.global, c.own, got, c.vrrp)
		}
		if got := VirtualServerAlertOn(g, c.own.set, c.own.on); got != c.vs {
			t.Errorf("%q, own %+v: virtual server %v, want %v", c.global, c.own, got, c.vs)
		}
		if got := RealServerAlertOn(g, c.own.set, c.own.on); got != c.real {
			t.Errorf("%q, own %+v: real server %v, want %v", c.global, c.own, got, c.real)
		}
	}
	if VRRPAlertOn(nil, false, false) || !RealServerAlertOn(nil, false, false) {
		t.Error("without global_defs: VRRP alerts must be off, real server alerts on")
	}
}

// The settings come from global_defs; without router_id,
// notification_email_from or smtp_helo_name keepalived uses the local
// host name (user@name for the sender), or "unknown", "localhost" and a
// NULL sender when the name cannot be found.
func TestAlertSettingsAndDefaults(t *testing.T) {
	g := globalDefs(t, `notification_email {
    a@example.com b@example.com
    c@example.com
}
smtp_server 192.0.2.25 2525
smtp_connect_timeout 7`)
	s := SMTPSettingsOf(g)
	want := SMTPSettings{Host: "192.0.2.25", Port: "2525", To: []string{"a@example.com", "b@example.com", "c@example.com"},
		ConnectTimeout: 7 * time.Second}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("settings %+v, want %+v", s, want)
	}
	if !s.Enabled() {
		t.Error("a server and addresses: alerts must be enabled")
	}
	for _, body := range []string{"notification_email {\n a@example.com\n}", "smtp_server 127.0.0.1"} {
		if SMTPSettingsOf(globalDefs(t, body)).Enabled() {
			t.Errorf("%q: without a server or an address, keepalived sends nothing", body)
		}
	}
	if OpenAlerter(nil, SMTPSettingsOf(nil)).Enabled() {
		t.Error("an alerter without settings must be inert")
	}
	if s := SMTPSettingsOf(globalDefs(t, "smtp_server 127.0.0.1\nnotification_email {\n a@b\n}")); s.Port != "25" ||
		s.ConnectTimeout != 30*time.Second {
		t.Errorf("defaults: port %q timeout %v, want 25 and 30s", s.Port, s.ConnectTimeout)
	}

	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	stubLocalName(t, "lb9.example.net")
	sink := smtptest.New(t)
	a := OpenAlerter(nil, SMTPSettings{Host: "127.0.0.1", Port: sink.Port, To: []string{"ops@example.com"}})
	a.Alert("s", "b")
	waitUntil(t, "the message arrives", func() bool { return len(sink.Messages()) == 1 })
	a.Stop()
	w := sink.Wire(0)
	from := me.Username + "@lb9.example.net"
	for _, line := range []string{"HELO lb9.example.net\r\n", "MAIL FROM:<" + from + ">\r\n",
		"From: " + from + "\r\n", "Subject: [lb9.example.net] s\r\n"} {
		if !strings.Contains(w, line) {
			t.Errorf("the dialogue lacks %q:\n%s", line, w)
		}
	}

	// No local name: keepalived's router id "unknown", HELO localhost,
	// and the NULL sender glibc prints "(null)", which servers refuse.
	stubLocalName(t, "")
	var l logs
	sink = smtptest.New(t)
	a = OpenAlerter(l.logger(), SMTPSettings{Host: "127.0.0.1", Port: sink.Port, To: []string{"ops@example.com"}})
	a.Alert("s", "b")
	waitUntil(t, "the refusal is logged", func() bool { return strings.Contains(l.String(), "Error processing MAIL cmd") })
	a.Stop()
	if w := sink.Wire(0); !strings.HasPrefix(w, "HELO localhost\r\nMAIL FROM:<(null)>\r\n") {
		t.Errorf("without a local name the dialogue is\n%q", w)
	}
	a = OpenAlerter(nil, SMTPSettings{Host: "127.0.0.1", Port: sink.Port, To: []string{"x"}})
	if got := a.settings(t.Context()).RouterID; got != "unknown" {
		t.Errorf("router id %q, want unknown", got)
	}
	a.Stop()
}

// A server that refuses a recipient, or is down: the failure is logged
// with keepalived's line and counted, the refused session ends with QUIT,
// and Alert never waits.
func TestAlertFailuresAreLoggedAndCounted(t *testing.T) {
	sink := smtptest.New(t)
	sink.Refuse("oncall@example.com")
	var l logs
	a := OpenAlerter(l.logger(), sinkSettings(sink))
	a.Alert("refused", "body")
	waitUntil(t, "the refusal is logged", func() bool {
		return strings.Contains(l.String(), "Error processing RCPT cmd on SMTP server [127.0.0.1]:"+sink.Port+". SMTP status code = 550")
	})
	waitUntil(t, "the session ends with QUIT", func() bool { return sink.Quitted() == 1 })
	if w := sink.Wire(0); strings.Contains(w, "DATA") {
		t.Errorf("the client went on after the refusal:\n%s", w)
	}
	waitUntil(t, "the failure is counted", func() bool { return a.Stats() == AlertStats{Failed: 1} })
	a.Stop()

	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := portOf(down.Addr().String())
	down.Close()
	set := sinkSettings(sink)
	set.Port = port
	a = OpenAlerter(l.logger(), set)
	start := time.Now()
	a.Alert("down", "body")
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Alert took %v", d)
	}
	waitUntil(t, "the connection error is logged", func() bool {
		return strings.Contains(l.String(), "SMTP connection ERROR to [127.0.0.1]:"+port+".")
	})
	waitUntil(t, "the failure is counted", func() bool { return a.Stats() == AlertStats{Failed: 1} })
	a.Stop()
}

// hangingServer accepts connections and never says a word.
func hangingServer(t *testing.T) (port string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return portOf(ln.Addr().String()), func() int { mu.Lock(); defer mu.Unlock(); return len(conns) }
}

// privateAlerter is an alerter on a sender of its own, with a short
// queue and stop wait.
func privateAlerter(l *logs, set SMTPSettings, queueLen int, stopWait time.Duration) (*Alerter, *sender) {
	snd := newSender(queueLen, stopWait)
	return openAlerter(l.logger(), set, func() (*sender, func()) { return snd, snd.stop }), snd
}

// A server that never answers: the read times out with keepalived's
// line; meanwhile alerts queue up to the bound, the next ones are
// dropped, counted and logged, and no Alert waits.
func TestAlertQueueIsBounded(t *testing.T) {
	port, accepted := hangingServer(t)
	var l logs
	set := SMTPSettings{Host: "127.0.0.1", Port: port, HeloName: "h", From: "f@h", To: []string{"t@h"}, RouterID: "r",
		ConnectTimeout: 300 * time.Millisecond}
	a, _ := privateAlerter(&l, set, 2, 5*time.Second)
	a.Alert("first", "b")
	waitUntil(t, "the sender is connected", func() bool { return accepted() == 1 })
	start := time.Now()
	for i := 0; i < 4; i++ {
		a.Alert(fmt.Sprint("queued ", i), "b")
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("four alerts took %v", d)
	}
	if st := a.Stats(); st.Dropped != 2 {
		t.Errorf("stats %+v: want the two alerts past the queue's 2 dropped", st)
	}
	if !strings.Contains(l.String(), "SMTP alert not sent: the queue is full") {
		t.Errorf("the drop is not logged:\n%s", l.String())
	}
	waitUntil(t, "the timeout is logged", func() bool {
		return strings.Contains(l.String(), "Timeout reading data to remote SMTP server [127.0.0.1]:"+port+".")
	})
	waitUntil(t, "the three tried alerts fail", func() bool { return a.Stats() == AlertStats{Failed: 3, Dropped: 2} })
	a.Stop()
	if got := AlertTotals(); got.Dropped < 2 || got.Failed < 3 {
		t.Errorf("totals %+v do not count this test's alerts", got)
	}
}

// Stop lets the queue run for the stop wait, then ends the delivery in
// flight, drops what is left (counted) and returns once the sender's
// goroutine has ended; the server sees the connection close.
func TestAlertStopWaitsForTheSender(t *testing.T) {
	port, accepted := hangingServer(t)
	var l logs
	set := SMTPSettings{Host: "127.0.0.1", Port: port, HeloName: "h", From: "f@h", To: []string{"t@h"}, RouterID: "r",
		ConnectTimeout: time.Minute}
	a, snd := privateAlerter(&l, set, 4, 200*time.Millisecond)
	a.Alert("in flight", "b")
	a.Alert("queued", "b")
	waitUntil(t, "the sender is connected", func() bool { return accepted() == 1 })
	start := time.Now()
	a.Stop()
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Errorf("Stop took %v: want the stop wait (200ms), not the server's timeout", d)
	}
	select {
	case <-snd.done:
	default:
		t.Fatal("Stop returned before the sender ended")
	}
	if st := a.Stats(); st != (AlertStats{Dropped: 2}) {
		t.Errorf("stats %+v: want the alert in flight and the queued one dropped", st)
	}
	if !strings.Contains(l.String(), "the daemon is stopping") {
		t.Errorf("the alerts abandoned at stop are not logged:\n%s", l.String())
	}
}

// The message keeps to keepalived's sizes, and a line that is a lone dot
// cannot end it early.
func TestAlertMessageLimits(t *testing.T) {
	long := strings.Repeat("x", 600)
	s := SMTPSettings{RouterID: "r", From: "f", To: []string{strings.Repeat("a", 1020), "b@c"}}
	m := message(s, alertMail{subject: long, body: long + "\r\n.\r\n", at: time.Unix(0, 0)})
	if !strings.Contains(m, "Subject: [r] "+strings.Repeat("x", 255-4)+"\r\n") {
		t.Error("the subject is not cut at 255 bytes")
	}
	if !strings.Contains(m, "\r\n\r\n"+strings.Repeat("x", 511)+"\r\n\r\n.\r\n") {
		t.Error("the body is not cut at 511 bytes")
	}
	// keepalived writes the ", " before it finds that the next address
	// does not fit.
	if !strings.Contains(m, "To: "+strings.Repeat("a", 1020)+", \r\n") {
		t.Error("the To header does not stop at the address that does not fit")
	}
	if got := dotStuff(".a\r\n.\r\nb"); got != "..a\r\n..\r\nb" {
		t.Errorf("dotStuff: %q", got)
	}
}
