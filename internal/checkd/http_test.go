package checkd

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// An HTTP_GET real server whose url starts failing leaves the pool after
// retry failures: notify_down, keepalived's RS and VS FIFO lines and log
// lines; when the url passes again, every url is checked again and the
// server comes back.
func TestHTTPGetDownAndUpNotifies(t *testing.T) {
	var failing atomic.Bool
	var hosts atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.Host + " " + r.UserAgent())
		if failing.Load() && r.URL.Path == "/health" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	dir := t.TempDir()
	fifo := readFIFO(t, filepath.Join(dir, "fifo"))
	events := filepath.Join(dir, "events")
	conf := fmt.Sprintf(`global_defs {
    notify_fifo %s
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    virtualhost www.example.com
    quorum_up "/bin/sh -c 'echo quorum_up >> %[2]s'"
    quorum_down "/bin/sh -c 'echo quorum_down >> %[2]s'"
    real_server 127.0.0.1 %[3]s {
        notify_up "/bin/sh -c 'echo rs_up >> %[2]s'"
        notify_down "/bin/sh -c 'echo rs_down >> %[2]s'"
        HTTP_GET {
            url {
                path /
                digest 6e4a3b1e4f9e3f8e0a7b0e0b6d9a8c39
                status_code 200
            }
            url {
                path /health
                regex "^ok$"
            }
            connect_timeout 1
            retry 1
            delay_before_retry 0.1
            warmup 0
            fast_recovery
        }
    }
}
`, filepath.Join(dir, "fifo"), events, port)
	conf = strings.Replace(conf, "6e4a3b1e4f9e3f8e0a7b0e0b6d9a8c39", md5hex("ok\n"), 1)
	var logs syncBuffer
	s := startChecks(t, conf, &logs)
	rs, vs := "[127.0.0.1]:tcp:"+port, "[192.0.2.1]:tcp:80"
	waitFor(t, "the first cycle succeeds", func() bool {
		return strings.Contains(logs.String(), "Remote Web server "+rs+" succeed on service.")
	})
	if h, _ := hosts.Load().(string); h != "www.example.com KeepAliveClient" {
		t.Errorf("Host and User-Agent %q", h)
	}

	failing.Store(true)
	waitFor(t, "RS DOWN on the FIFO", func() bool { return fifo.has("RS " + rs + " " + vs + " DOWN\n\x00") })
	waitFor(t, "VS DOWN on the FIFO", func() bool { return fifo.has("VS " + vs + " DOWN\n\x00") })
	waitFor(t, "notify_down and quorum_down ran", fileHas(events, "rs_down\nquorum_down\n"))
	for _, want := range []string{
		"Activating healthchecker for service " + rs + " for VS " + vs,
		"HTTP_CHECK on service " + rs + " failed after 1 retries. (/health: status code 503)",
		"Removing service " + rs + " from VS " + vs,
		"Lost quorum 1-0=1 > 0 for VS " + vs,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	failing.Store(false)
	waitFor(t, "RS UP on the FIFO", func() bool { return fifo.has("RS " + rs + " " + vs + " UP\n\x00") })
	waitFor(t, "notify_up and quorum_up ran", fileHas(events, "rs_down\nquorum_down\nrs_up\nquorum_up\n"))
	for _, want := range []string{
		"Regex match success to " + rs + " url(/health)",
		"MD5 digest success to " + rs + " url(/)",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Count(logs.String(), "Remote Web server "+rs+" succeed on service.") != 2 {
		t.Errorf("want two success lines:\n%s", logs.String())
	}
	s.Stop(context.Background())
}

func TestUnescapeAsKeepalived(t *testing.T) {
	for in, want := range map[string]string{
		`^ok$`:       `^ok$`,
		`\\d+`:       `\d+`,
		`a\.b`:       `a.b`,
		`\x41\101\n`: "AA\n",
		`\cA\t`:      "\x01\t",
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func md5hex(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }

// SSL_GET checks a TLS server without verifying its certificate (and
// says so once), sending the real server's virtualhost as SNI with
// enable_sni; a broken SSL block fails its probes.
func TestSSLGetFromTheConfiguration(t *testing.T) {
	var mu sync.Mutex
	var names []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		names = append(names, h.ServerName)
		mu.Unlock()
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	conf := func(ssl string) string {
		return fmt.Sprintf(`%s
virtual_server 192.0.2.1 443 {
    protocol TCP
    delay_loop 0.1
    real_server 127.0.0.1 %s {
        virtualhost www.example.com
        SSL_GET {
            url {
                path /
                regex ok
            }
            enable_sni
            retry 0
            warmup 0
        }
    }
}
`, ssl, port)
	}
	var logs syncBuffer
	startChecks(t, conf(""), &logs)
	rs := "[127.0.0.1]:tcp:" + port
	waitFor(t, "the check succeeds", func() bool {
		return strings.Contains(logs.String(), "Remote Web server "+rs+" succeed on service.")
	})
	if strings.Count(logs.String(), "server certificates are not verified") != 1 {
		t.Errorf("want the warning once:\n%s", logs.String())
	}
	mu.Lock()
	if len(names) == 0 || names[0] != "www.example.com" {
		t.Errorf("SNI %q", names)
	}
	mu.Unlock()

	var logs2 syncBuffer
	startChecks(t, conf("SSL {\n    certificate /nonexistent/cert.pem\n}"), &logs2)
	waitFor(t, "the broken SSL block fails the check", func() bool {
		return strings.Contains(logs2.String(), "SSL_GET on service "+rs+" failed")
	})
	if !strings.Contains(logs2.String(), "Error Initialize SSL, ctx Instance") {
		t.Errorf("log:\n%s", logs2.String())
	}
}
