package check

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/testenv"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

func pingCheck(addr netip.Addr) *Ping {
	return &Ping{Conn: Conn{Addr: netip.AddrPortFrom(addr, 0), Timeout: 500 * time.Millisecond}}
}

// Loopback answers, through the datagram ICMP socket where
// ping_group_range lets this process open one, else through a raw socket
// (root).
func TestPingCheckLoopback(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP)
	datagram := err == nil
	if datagram {
		unix.Close(fd)
	} else if os.Geteuid() != 0 {
		testenv.Unavailable(t, "neither a datagram ICMP socket (ping_group_range) nor a raw one (root)")
	}
	c := pingCheck(netip.MustParseAddr("127.0.0.1"))
	if r := probe(c, time.Second); !r.OK {
		t.Fatalf("127.0.0.1: %+v", r)
	}
	if c.usedRaw.Load() == datagram {
		t.Fatalf("raw socket %v, want %v", c.usedRaw.Load(), !datagram)
	}
	if r := probe(c, time.Second); !r.OK {
		t.Fatalf("127.0.0.1, second probe: %+v", r)
	}
}

// inNS runs a checker's probes inside a network namespace: the probe's
// socket is made on the calling goroutine, which stays on its thread.
type inNS struct {
	Checker
	ns netns.NsHandle
}

func (c inNS) Check(ctx context.Context) Result {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return failed(err)
	}
	defer orig.Close()
	if err := netns.Set(c.ns); err != nil {
		runtime.UnlockOSThread()
		return failed(err)
	}
	r := c.Checker.Check(ctx)
	if netns.Set(orig) == nil {
		runtime.UnlockOSThread() // else the thread ends with the goroutine
	}
	return r
}

// pingLab is two hosts, c (the checker) and s (the server), in namespaces
// of their own.
func pingLab(t *testing.T) (l *lab.Lab, ns netns.NsHandle) {
	t.Helper()
	testenv.RequireRoot(t, "ip")
	name := fmt.Sprintf("kgc%d%s", os.Getpid()%100000, shortTestName(t.Name()))
	l, err := lab.New(name, "c", "s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ns, err = netns.GetFromName(l.Host("c").NS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return l, ns
}

func shortTestName(name string) string {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return fmt.Sprintf("%05x", h&0xfffff)
}

func ipIn(t *testing.T, h *lab.Host, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", h.NS}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func setPingGroupRange(t *testing.T, h *lab.Host, r string) {
	t.Helper()
	if out, err := h.Command("sysctl", "-qw", "net.ipv4.ping_group_range="+r).CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v: %s", err, out)
	}
}

// A server in another namespace answers over IPv4 and IPv6, through a
// raw socket where ping_group_range refuses the datagram socket (a new
// namespace's "1 0") and through the datagram socket where it allows it;
// a server whose link is down fails the check at connect_timeout.
func TestPingCheckInNamespace(t *testing.T) {
	l, ns := pingLab(t)
	s := l.Host("s")
	for _, mode := range []string{"raw", "datagram"} {
		if mode == "datagram" {
			setPingGroupRange(t, l.Host("c"), "0 0")
		}
		for _, addr := range []netip.Addr{s.IPv4, s.IPv6} {
			p := pingCheck(addr)
			if r := probe(inNS{p, ns}, 2*time.Second); !r.OK {
				t.Fatalf("%s %s: %+v", mode, addr, r)
			}
			if p.usedRaw.Load() != (mode == "raw") {
				t.Fatalf("%s %s: the raw socket was used: %v", mode, addr, p.usedRaw.Load())
			}
		}
	}
	if err := s.SetLink(false); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if r := probe(inNS{pingCheck(s.IPv4), ns}, 2*time.Second); r.OK || !r.TimedOut {
		t.Fatalf("a server without link: %+v, want a timeout (log_all_failures' \"timeout.\")", r)
	}
	if took := time.Since(start); took < 450*time.Millisecond || took > 1500*time.Millisecond {
		t.Fatalf("failed after %v, want connect_timeout (500ms)", took)
	}
}

// bindto and bind_if are honoured: from an address the server has no
// route back to, no reply comes until the server gets one; bound to lo,
// the request does not reach the server.
func TestPingCheckBindings(t *testing.T) {
	l, ns := pingLab(t)
	c, s := l.Host("c"), l.Host("s")
	for _, mode := range []string{"raw", "datagram"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "datagram" {
				setPingGroupRange(t, c, "0 0")
			}
			p := pingCheck(s.IPv4)
			if r := probe(inNS{p, ns}, 2*time.Second); !r.OK || p.usedRaw.Load() != (mode == "raw") {
				t.Fatalf("without bindings: %+v (raw %v)", r, p.usedRaw.Load())
			}
			p.Conn.BindIf = "lo"
			if r := probe(inNS{p, ns}, 2*time.Second); r.OK {
				t.Fatal("bind_if lo reached the server")
			}
			p.Conn.BindIf = "eth0"
			if r := probe(inNS{p, ns}, 2*time.Second); !r.OK {
				t.Fatalf("bind_if eth0: %+v", r)
			}
		})
	}
	// 192.0.2.50 lives in c only; s has no route to it until it is given
	// one.
	ipIn(t, c, "addr", "add", "192.0.2.50/32", "dev", "eth0")
	p := pingCheck(s.IPv4)
	p.Conn.BindTo = netip.MustParseAddr("192.0.2.50")
	if r := probe(inNS{p, ns}, 2*time.Second); r.OK {
		t.Fatal("bindto 192.0.2.50: the server answered an address it has no route to; bindto was not used")
	}
	ipIn(t, s, "route", "add", "192.0.2.50/32", "dev", "eth0")
	if r := probe(inNS{p, ns}, 2*time.Second); !r.OK {
		t.Fatalf("bindto 192.0.2.50 with a route back: %+v", r)
	}
}

// State changes after exactly retry failures spaced by
// delay_before_retry, through the engine.
func TestPingCheckExactRetries(t *testing.T) {
	l, ns := pingLab(t)
	s := l.Host("s")
	p := pingCheck(s.IPv4)
	p.Conn.Timeout = 150 * time.Millisecond
	exactRetries(t, inNS{p, ns}, Timing{DelayLoop: 800 * time.Millisecond, DelayBeforeRetry: 150 * time.Millisecond, Retry: 2},
		150*time.Millisecond, func(bad bool) {
			if err := s.SetLink(!bad); err != nil {
				t.Error(err)
			}
		})
}

// Only the reply to this probe counts: with the server's kernel told to
// ignore echo requests, a responder in its namespace answers them itself,
// with the request's identifier and sequence number or with one of them
// changed; the changed ones do not bring the checker up.
func TestPingCheckMatchesItsReply(t *testing.T) {
	l, ns := pingLab(t)
	c, s := l.Host("c"), l.Host("s")
	if out, err := s.Command("sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v: %s", err, out)
	}
	var change atomic.Value
	change.Store("")
	sns, err := netns.GetFromName(s.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer sns.Close()
	stop := echoResponder(t, sns, func(id, seq int) (int, int) {
		switch change.Load().(string) {
		case "id":
			return id + 1, seq
		case "seq":
			return id, seq + 1
		}
		return id, seq
	})
	defer stop()
	for _, mode := range []string{"raw", "datagram"} {
		if mode == "datagram" {
			setPingGroupRange(t, c, "0 0")
		}
		p := pingCheck(s.IPv4)
		p.Conn.Timeout = 300 * time.Millisecond
		for _, ch := range []string{"", "id", "seq", ""} {
			change.Store(ch)
			r := probe(inNS{p, ns}, time.Second)
			if r.OK != (ch == "") {
				t.Errorf("%s socket, reply with %q changed: %+v", mode, ch, r)
			}
		}
	}
}

// echoResponder answers the echo requests reaching the namespace with
// echo replies whose identifier and sequence number reply chooses.
func echoResponder(t *testing.T, ns netns.NsHandle, reply func(id, seq int) (int, int)) (stop func()) {
	t.Helper()
	fds := make(chan int, 1)
	errs := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(ns); err != nil {
			errs <- err
			return
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		if err != nil {
			errs <- err
			return
		}
		fds <- fd
		buf := make([]byte, 1500)
		for {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil || n < 20 {
				return // closed
			}
			b := buf[int(buf[0]&0x0f)*4 : n]
			m, err := icmp.ParseMessage(1, b)
			if err != nil || m.Type != ipv4.ICMPTypeEcho {
				continue
			}
			e := m.Body.(*icmp.Echo)
			id, seq := reply(e.ID, e.Seq)
			out, _ := (&icmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: &icmp.Echo{ID: id & 0xffff, Seq: seq & 0xffff, Data: e.Data}}).Marshal(nil)
			unix.Sendto(fd, out, 0, from)
		}
	}()
	select {
	case fd := <-fds:
		return func() { unix.Shutdown(fd, unix.SHUT_RDWR); unix.Close(fd) }
	case err := <-errs:
		t.Fatal(err)
	}
	return nil
}

func TestPingLines(t *testing.T) {
	p := &Ping{}
	if l := p.UpLine("[10.0.0.2]:tcp:80"); l != "ICMP connection to [10.0.0.2]:tcp:80 success." {
		t.Error(l)
	}
	if l := p.DownLine("[10.0.0.2]:tcp:80", "[10.0.0.1]:tcp:80", 2, true, ""); l != "ICMP CHECK on service [10.0.0.2]:tcp:80 of [10.0.0.1]:tcp:80 failed after 2 retries." {
		t.Error(l)
	}
	if l := p.DownLine("[10.0.0.2]:tcp:80", "[10.0.0.1]:tcp:80", 2, false, ""); l != "ICMP CHECK on service [10.0.0.2]:tcp:80 failed." {
		t.Error(l)
	}
}
