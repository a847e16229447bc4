package checkd

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// server is a loopback TCP server that can be stopped and started again
// on the same port.
type tcpServer struct {
	t    *testing.T
	addr string
	ln   net.Listener
}

func newTCPServer(t *testing.T) *tcpServer {
	s := &tcpServer{t: t}
	s.start("127.0.0.1:0")
	s.addr = s.ln.Addr().String()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *tcpServer) start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func (s *tcpServer) stop() {
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
}

// fifoReader reads a notify FIFO's lines.
type fifoReader struct {
	mu    sync.Mutex
	lines []string
}

func readFIFO(t *testing.T, path string) *fifoReader {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &fifoReader{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			for _, l := range strings.SplitAfter(string(buf[:n]), "\x00") {
				if l != "" {
					r.lines = append(r.lines, l)
				}
			}
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { f.Close() })
	return r
}

func (r *fifoReader) has(line string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if l == line {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func fileHas(path, text string) func() bool {
	return func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), text)
	}
}

// A real server whose port closes leaves the pool after retry failures:
// notify_down runs, the FIFO gets keepalived's RS line, the quorum is
// lost with its VS line and quorum_down; it comes back with one success.
func TestTCPCheckDownAndUpNotifies(t *testing.T) {
	srv := newTCPServer(t)
	dir := t.TempDir()
	fifo := readFIFO(t, filepath.Join(dir, "fifo"))
	events := filepath.Join(dir, "events")
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]
	conf := fmt.Sprintf(`global_defs {
    notify_fifo %s
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    quorum_up "/bin/sh -c 'echo quorum_up >> %[2]s'"
    quorum_down "/bin/sh -c 'echo quorum_down >> %[2]s'"
    real_server 127.0.0.1 %[3]s {
        notify_up "/bin/sh -c 'echo rs_up >> %[2]s'"
        notify_down "/bin/sh -c 'echo rs_down >> %[2]s'"
        TCP_CHECK {
            connect_timeout 1
            retry 2
            delay_before_retry 0.1
            warmup 0
        }
    }
}
`, filepath.Join(dir, "fifo"), events, port)
	var logs syncBuffer
	s := startChecks(t, conf, &logs)

	time.Sleep(1500 * time.Millisecond) // the first check, 1 s after start, succeeds
	srv.stop()
	rs, vs := "[127.0.0.1]:tcp:"+port, "[192.0.2.1]:tcp:80"
	waitFor(t, "RS DOWN on the FIFO", func() bool { return fifo.has("RS " + rs + " " + vs + " DOWN\n\x00") })
	waitFor(t, "VS DOWN on the FIFO", func() bool { return fifo.has("VS " + vs + " DOWN\n\x00") })
	waitFor(t, "notify_down and quorum_down ran", fileHas(events, "rs_down\nquorum_down\n"))
	for _, want := range []string{
		"Activating healthchecker for service " + rs + " for VS " + vs,
		"TCP_CHECK on service " + rs + " failed after 2 retries.",
		"Removing service " + rs + " from VS " + vs,
		"Lost quorum 1-0=1 > 0 for VS " + vs,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	srv.start(srv.addr)
	waitFor(t, "RS UP on the FIFO", func() bool { return fifo.has("RS " + rs + " " + vs + " UP\n\x00") })
	waitFor(t, "notify_up and quorum_up ran", fileHas(events, "rs_down\nquorum_down\nrs_up\nquorum_up\n"))
	if !strings.Contains(logs.String(), "TCP connection to "+rs+" success.") {
		t.Errorf("log lacks the success line:\n%s", logs.String())
	}
	s.Stop(context.Background())
}

func startChecks(t *testing.T, conf string, logs *syncBuffer) *Subsystem {
	t.Helper()
	cfg, diags := config.LoadBytes("t.conf", []byte(conf), config.Options{})
	for _, d := range diags {
		if d.Severity == config.Error && !strings.Contains(d.Msg, "SECURITY") && !strings.Contains(d.Msg, "setting default") {
			t.Fatalf("config: %s", d.Msg)
		}
	}
	s := New(slog.New(slog.NewTextHandler(logs, nil)))
	if err := s.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A reload keeps the state of a checker whose configuration did not
// change: a failed server is not put back (keepalived restarts every
// checker and re-adds it until its checks fail again), and nothing is
// notified; a new server starts as at start-up.
func TestReloadKeepsUnchangedCheckers(t *testing.T) {
	up, down := newTCPServer(t), newTCPServer(t)
	down.stop()
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	rs := func(addr string) string {
		return fmt.Sprintf(`    real_server 127.0.0.1 %s {
        notify_up "/bin/sh -c 'echo up %[1]s >> %[2]s'"
        notify_down "/bin/sh -c 'echo down %[1]s >> %[2]s'"
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
`, addr[strings.LastIndexByte(addr, ':')+1:], events)
	}
	conf := func(servers ...string) string {
		return "virtual_server 192.0.2.1 80 {\n    protocol TCP\n    delay_loop 0.1\n" + strings.Join(servers, "") + "}\n"
	}
	var logs syncBuffer
	s := startChecks(t, conf(rs(up.addr), rs(down.addr)), &logs)
	downPort := down.addr[strings.LastIndexByte(down.addr, ':')+1:]
	waitFor(t, "the closed server is down", fileHas(events, "down "+downPort))

	third := newTCPServer(t)
	cfg, _ := config.LoadBytes("t.conf", []byte(conf(rs(up.addr), rs(down.addr), rs(third.addr))), config.Options{})
	before := len(logs.String())
	if err := s.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // past a new checker's first check
	after := logs.String()[before:]
	if strings.Count(after, "Activating healthchecker") != 1 || !strings.Contains(after, third.addr[strings.LastIndexByte(third.addr, ':')+1:]) {
		t.Errorf("after the reload, want only the new server's checker activated:\n%s", after)
	}
	b, _ := os.ReadFile(events)
	if strings.Count(string(b), "down "+downPort) != 1 || strings.Contains(string(b), "up ") {
		t.Errorf("notifications %q: the reload must not notify the kept servers again", b)
	}
}

// With alpha a server starts out of the pool; its first failure is
// notified down (keepalived's update_svr_checker_state), its first
// success up.
func TestAlphaServerNotifiesItsFirstResult(t *testing.T) {
	srv := newTCPServer(t)
	srv.stop()
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]
	conf := fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    alpha
    real_server 127.0.0.1 %s {
        notify_up "/bin/sh -c 'echo up >> %[2]s'"
        notify_down "/bin/sh -c 'echo down >> %[2]s'"
        TCP_CHECK {
            warmup 0
        }
    }
}
`, port, events)
	var logs syncBuffer
	startChecks(t, conf, &logs)
	waitFor(t, "the first failure is notified", fileHas(events, "down\n"))
	srv.start(srv.addr)
	waitFor(t, "the first success is notified", fileHas(events, "down\nup\n"))
}
