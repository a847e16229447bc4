package checkd

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/notify/smtptest"
)

func mailGlobals(sink *smtptest.Sink, extra string) string {
	return fmt.Sprintf(`global_defs {
    router_id lb1
    notification_email {
        ops@example.com
    }
    notification_email_from keepalived@lb1.example
    smtp_helo_name lb1.example
    smtp_server 127.0.0.1 %s
%s}
`, sink.Port, extra)
}

var mailDate = regexp.MustCompile(`^Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [-+]\d{4}\r\n`)

// A real server going down and back mails keepalived's alerts: the
// virtual server's (smtp_alert on) for the quorum, then the real
// server's from its TCP_CHECK; the message is keepalived's, byte for
// byte.
func TestRealAndVirtualServerAlerts(t *testing.T) {
	sink := smtptest.New(t)
	srv := newTCPServer(t)
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]
	var logs syncBuffer
	startChecks(t, mailGlobals(sink, "")+fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    smtp_alert
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
}
`, port), &logs)
	time.Sleep(1500 * time.Millisecond) // the first check, 1 s after start, succeeds
	srv.stop()
	waitFor(t, "two alerts", func() bool { return len(sink.Alerts()) == 2 })
	srv.start(srv.addr)
	waitFor(t, "four alerts", func() bool { return len(sink.Alerts()) == 4 })
	rs, vs := "[127.0.0.1]:tcp:"+port, "[192.0.2.1]:tcp:80"
	want := []string{
		"[lb1] Virtualserver " + vs + " - DOWN | => Lost quorum 1+0=1 <= 0 <=",
		"[lb1] Realserver " + rs + " of virtual server " + vs + " - DOWN | => TCP CHECK failed on service <=",
		"[lb1] Virtualserver " + vs + " - UP | => Gained quorum 1+0=1 <= 1 <=",
		"[lb1] Realserver " + rs + " of virtual server " + vs + " - UP | => TCP CHECK succeed on service <=",
	}
	if got := sink.Alerts(); !slices.Equal(got, want) {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	down := sink.Messages()[1]
	if !mailDate.MatchString(down) {
		t.Fatalf("no Date header first in %q", down)
	}
	wantDown := "From: keepalived@lb1.example\r\n" +
		"Subject: [lb1] Realserver " + rs + " of virtual server " + vs + " - DOWN\r\n" +
		"X-Mailer: Keepalived\r\n" +
		"To: ops@example.com\r\n" +
		"\r\n" +
		"=> TCP CHECK failed on service <=\r\n" +
		"\r\n"
	if got := mailDate.ReplaceAllString(down, ""); got != wantDown {
		t.Errorf("the real server's message is\n%q\nwant\n%q", got, wantDown)
	}
	if w := sink.Wire(1); !strings.HasPrefix(w, "HELO lb1.example\r\nMAIL FROM:<keepalived@lb1.example>\r\nRCPT TO:<ops@example.com>\r\nDATA\r\n") ||
		!strings.HasSuffix(w, "\r\n.\r\nQUIT\r\n") {
		t.Errorf("the dialogue is\n%q", w)
	}
}

// Defaults and precedence: without smtp_alert a real server mails and a
// virtual server does not; smtp_alert_checker off silences both unless
// the server's own smtp_alert is on. A second checker of a server
// already down mails again, unless no_checker_emails.
func TestCheckerAlertDefaultsAndPrecedence(t *testing.T) {
	for _, c := range []struct {
		name, global, vs, rs string
		want                 []string // alert subjects' tails
	}{
		{"defaults", "", "", "", []string{"RS DOWN", "RS DOWN"}},
		{"checker off", "    smtp_alert_checker off\n    smtp_alert on\n", "", "", nil},
		{"own on", "    smtp_alert_checker off\n", "smtp_alert", "smtp_alert on", []string{"VS DOWN", "RS DOWN", "RS DOWN"}},
		{"no_checker_emails", "    no_checker_emails\n", "", "", []string{"RS DOWN"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sink := smtptest.New(t)
			a, b := newTCPServer(t), newTCPServer(t)
			var logs syncBuffer
			s := startChecks(t, mailGlobals(sink, c.global)+fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    %s
    real_server 127.0.0.1 80 {
        %s
        TCP_CHECK {
            connect_port %s
            retry 0
            warmup 0
        }
        TCP_CHECK {
            connect_port %s
            retry 0
            warmup 0
        }
    }
}
`, c.vs, c.rs, a.addr[strings.LastIndexByte(a.addr, ':')+1:], b.addr[strings.LastIndexByte(b.addr, ':')+1:]), &logs)
			time.Sleep(1500 * time.Millisecond)
			a.stop()
			waitFor(t, "the first checker fails", func() bool { return strings.Count(logs.String(), "failed.") == 1 })
			b.stop()
			waitFor(t, "the second checker fails", func() bool { return strings.Count(logs.String(), "failed.") == 2 })
			s.Stop(t.Context()) // the last alerter: the queue is sent before it returns
			var got []string
			for _, al := range sink.Alerts() {
				kind := "RS"
				if strings.Contains(al, "Virtualserver") {
					kind = "VS"
				}
				got = append(got, kind+" "+al[strings.Index(al, " - ")+3:strings.Index(al, " | ")])
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("alerts %q, want %q", got, c.want)
			}
		})
	}
}
