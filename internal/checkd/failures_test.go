package checkd

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/check"
	"github.com/keepalived-go/keepalived-go/internal/config"
)

// scripted is a checker's probe replaced by results given in turn (the
// last one repeats), keeping the checker's words.
type scripted struct {
	check.Checker
	mu      sync.Mutex
	results []check.Result
}

func (s *scripted) Check(context.Context) check.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.results[0]
	if len(s.results) > 1 {
		s.results = s.results[1:]
	}
	return r
}

// scriptedLines is scripted for a checker with its own change lines.
type scriptedLines struct{ *scripted }

func (s scriptedLines) UpLine(rs string) string { return s.Checker.(check.Lines).UpLine(rs) }
func (s scriptedLines) DownLine(rs, vs string, retry int, hasRun bool, reason string) string {
	return s.Checker.(check.Lines).DownLine(rs, vs, retry, hasRun, reason)
}

func (s *scripted) FailureLine(a check.Attempt) string {
	if fl, ok := s.Checker.(check.FailureLiner); ok {
		return fl.FailureLine(a)
	}
	return ""
}

// runScripted runs the checkers of conf's first virtual server with their
// probes scripted: each succeeds once, then fails as fail says.
func runScripted(t *testing.T, conf string, fail map[string]check.Result) string {
	t.Helper()
	cfg, diags := config.LoadBytes("t.conf", []byte(conf), config.Options{})
	for _, d := range diags {
		if d.Severity == config.Error && !strings.Contains(d.Msg, "SECURITY") && !strings.Contains(d.Msg, "setting default") {
			t.Fatalf("config: %s", d.Msg)
		}
	}
	var logs syncBuffer
	log := slog.New(msgHandler{&logs})
	g := cfg.GlobalDefs
	if g == nil {
		g = &config.GlobalDefs{}
	}
	svc := newService(log, g, cfg.VirtualServerSpecs()[0], nil, nil)
	n := 0
	for _, srv := range svc.servers {
		for _, j := range srv.jobs {
			sc := &scripted{Checker: j.Checker, results: []check.Result{{OK: true}, fail[j.kind], fail[j.kind]}}
			j.Checker = sc
			if _, ok := sc.Checker.(check.Lines); ok {
				j.Checker = scriptedLines{sc}
			}
			j.Timeout = 0
			n++
		}
	}
	e := check.NewEngine()
	svc.start(e, nil, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	defer func() { cancel(); <-done; svc.notifier.Close(); svc.notifier.Stop() }()
	waitFor(t, "every checker down", func() bool {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		for _, s := range svc.pool.Servers {
			if s.Alive() {
				return false
			}
		}
		return true
	})
	return logs.String()
}

// log_all_failures, of a checker or global_defs' checker_log_all_failures,
// logs each failed probe of every checker with keepalived's words, before
// the change it leads to; without it only the change is logged. (HTTP_GET,
// whose probes are its URL cycle: TestHTTPLogAllFailures.)
func TestLogAllFailuresForEveryChecker(t *testing.T) {
	servers := `
    real_server 10.0.0.2 80 {
        TCP_CHECK {
            %[1]s
        }
    }
    real_server 10.0.0.3 53 {
        UDP_CHECK {
            require_reply 6f6b
            %[1]s
        }
    }
    real_server 10.0.0.4 80 {
        PING_CHECK {
            %[1]s
        }
    }
    real_server 10.0.0.5 53 {
        DNS_CHECK {
            %[1]s
        }
    }
    real_server 10.0.0.6 25 {
        SMTP_CHECK {
            %[1]s
        }
    }
    real_server 10.0.0.7 80 {
        MISC_CHECK {
            misc_path /bin/true
            %[1]s
        }
    }
}
`
	head := `virtual_server 10.0.0.1 80 {
    protocol TCP
    delay_loop 0.1
    delay_before_retry 0.1
    retry 1
    warmup 0
`
	fail := map[string]check.Result{
		"TCP_CHECK":  {Reason: "dial tcp 10.0.0.2:80: connect: connection refused"},
		"UDP_CHECK":  {Reason: "reply data mismatch", Mismatch: true},
		"PING_CHECK": {Reason: "no echo reply (timeout)", TimedOut: true},
		"DNS_CHECK":  {Reason: "read timeout from socket"},
		"SMTP_CHECK": {Reason: "Error connecting to server [10.0.0.6]:25."},
		"MISC_CHECK": {Reason: "exited with status 1", Status: 1},
	}
	const vs = "[10.0.0.1]:tcp:80"
	rs := func(n, port int) string { return fmt.Sprintf("[10.0.0.%d]:tcp:%d", n, port) }
	// The lines of each failure in order; the second failure takes the
	// checker down (retry 1).
	each := [][]string{
		{"TCP connection to " + rs(2, 80) + " failed.", "TCP connection to " + rs(2, 80) + " failed.",
			"TCP_CHECK on service " + rs(2, 80) + " failed after 1 retries. (dial tcp 10.0.0.2:80: connect: connection refused)"},
		{"UDP check to " + rs(3, 53) + " reply data mismatch.", "UDP check to " + rs(3, 53) + " reply data mismatch.",
			"UDP_CHECK on service " + rs(3, 53) + " failed after 1 retries. (reply data mismatch)"},
		{"ICMP connection to address " + rs(4, 80) + " timeout.", "ICMP connection to address " + rs(4, 80) + " timeout.",
			"ICMP CHECK on service " + rs(4, 80) + " of " + vs + " failed after 1 retries. (no echo reply (timeout))"},
		{"DNS_CHECK (" + rs(5, 53) + ") read timeout from socket", "DNS_CHECK (" + rs(5, 53) + ") read timeout from socket after 1 retries"},
		{"SMTP_CHECK Error connecting to server [10.0.0.6]:25.", "SMTP_CHECK Error connecting to server [10.0.0.6]:25."},
		{"Misc check for [" + rs(7, 80) + " VS " + vs + "] by [/bin/true] failed, will do 1 retry (exited with status 1).",
			"Misc check for [" + rs(7, 80) + " VS " + vs + "] by [/bin/true] failed after 1 retry (exited with status 1)."},
	}
	// The lines logged without log_all_failures: the last of each (SMTP's
	// and DNS's last failure is their change line).
	check := func(t *testing.T, logs string, all bool) {
		logged := strings.Split(logs, "\n")
		for _, lines := range each {
			want := lines[len(lines)-1:]
			if all {
				want = lines
			}
			// The lines of this checker, in the order logged.
			var got []string
			for _, l := range logged {
				for _, w := range lines {
					if l == w {
						got = append(got, l)
						break
					}
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("logged:\n%s\nwant:\n%s\nwhole log:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), logs)
			}
		}
	}
	t.Run("checker", func(t *testing.T) {
		check(t, runScripted(t, head+fmt.Sprintf(servers, "log_all_failures"), fail), true)
	})
	t.Run("global", func(t *testing.T) {
		check(t, runScripted(t, "global_defs {\n    checker_log_all_failures\n}\n"+head+fmt.Sprintf(servers, ""), fail), true)
	})
	t.Run("none", func(t *testing.T) {
		check(t, runScripted(t, head+fmt.Sprintf(servers, "log_all_failures off"), fail), false)
	})
}

// msgHandler logs each record's message alone, one a line.
type msgHandler struct{ w *syncBuffer }

func (h msgHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h msgHandler) Handle(_ context.Context, r slog.Record) error {
	_, err := h.w.Write([]byte(r.Message + "\n"))
	return err
}
func (h msgHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h msgHandler) WithGroup(string) slog.Handler      { return h }

// inOrder tells whether log holds lines in this order.
func inOrder(log string, lines ...string) bool {
	for _, l := range lines {
		i := strings.Index(log, l)
		if i < 0 {
			return false
		}
		log = log[i+len(l):]
	}
	return true
}

// On the wire: an HTTP_GET whose url fails and a TCP_CHECK whose port
// closes log each failed probe under log_all_failures (HTTP_GET with the
// step that failed, check_http.c timeout_epilog; TCP_CHECK "failed." for
// a refused connect), then the change.
func TestHTTPAndTCPLogAllFailures(t *testing.T) {
	var failing atomic.Bool
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer web.Close()
	tcp := newTCPServer(t)
	port := func(a string) string { return a[strings.LastIndexByte(a, ':')+1:] }
	conf := fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    retry 1
    delay_before_retry 0.1
    warmup 0
    real_server 127.0.0.1 %s {
        HTTP_GET {
            url {
                path /
            }
            log_all_failures
        }
    }
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            log_all_failures
        }
    }
}
`, port(web.Listener.Addr().String()), port(tcp.addr))
	var logs syncBuffer
	startChecks(t, conf, &logs)
	web1, tcp1 := "[127.0.0.1]:tcp:"+port(web.Listener.Addr().String()), "[127.0.0.1]:tcp:"+port(tcp.addr)
	waitFor(t, "the first checks", func() bool {
		return strings.Contains(logs.String(), "Remote Web server "+web1+" succeed on service.")
	})
	time.Sleep(200 * time.Millisecond)
	failing.Store(true)
	tcp.stop()
	web500 := "HTTP status code error to server " + web1 + ". (/: status code 500)"
	waitFor(t, "HTTP_GET down after its failures", func() bool {
		return inOrder(logs.String(), web500, web500, "HTTP_CHECK on service "+web1+" failed after 1 retries. (/: status code 500)")
	})
	refused := "TCP connection to " + tcp1 + " failed."
	waitFor(t, "TCP_CHECK down after its failures", func() bool {
		return inOrder(logs.String(), refused, refused, "TCP_CHECK on service "+tcp1+" failed after 1 retries.")
	})
	time.Sleep(300 * time.Millisecond)
	// While down, failures are not logged one by one.
	if n := strings.Count(logs.String(), refused); n != 2 {
		t.Errorf("%d lines %q, want 2 (none while down):\n%s", n, refused, logs.String())
	}
}
