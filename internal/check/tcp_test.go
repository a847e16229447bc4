package check

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func listen(t *testing.T) (net.Listener, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln, netip.MustParseAddrPort(ln.Addr().String())
}

func probe(c Checker, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Check(ctx)
}

func TestTCPCheckUpWhenTheServerAccepts(t *testing.T) {
	ln, addr := listen(t)
	c := &TCP{Conn: Conn{Addr: addr, Timeout: time.Second, BindTo: netip.MustParseAddr("127.0.0.1")}}
	if r := probe(c, time.Second); !r.OK {
		t.Fatalf("listening server: %+v", r)
	}
	ln.Close()
	if r := probe(c, time.Second); r.OK || r.Reason == "" {
		t.Fatalf("closed port: %+v, want a failure with its reason", r)
	}
}

// A server that never answers fails within connect_timeout: a loopback
// listener with a backlog of 0 whose one queued connection is never
// accepted drops further SYNs.
func TestTCPCheckTimesOut(t *testing.T) {
	addr := fullListener(t)
	c := &TCP{Conn: Conn{Addr: addr, Timeout: 300 * time.Millisecond}}
	start := time.Now()
	if r := probe(c, 300*time.Millisecond); r.OK {
		t.Fatal("a server that does not answer is up")
	}
	if took := time.Since(start); took < 250*time.Millisecond || took > time.Second {
		t.Fatalf("took %v, want about connect_timeout", took)
	}
}

// fullListener is a loopback TCP port that no longer completes
// handshakes.
func fullListener(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*unix.SockaddrInet4).Port))
	for i := 0; i < 2; i++ { // fill the accept queue
		c, err := net.DialTimeout("tcp", addr.String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

func TestConnString(t *testing.T) {
	if s := (Conn{Addr: netip.MustParseAddrPort("[2001:db8::2]:443")}).String(); s != "[2001:db8::2]:tcp:443" {
		t.Fatal(s)
	}
}

// BenchmarkTCPCheck is one TCP_CHECK probe against a loopback server:
// connect and close.
func BenchmarkTCPCheck(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	c := &TCP{Conn: Conn{Addr: netip.MustParseAddrPort(ln.Addr().String()), Timeout: time.Second}}
	b.ReportAllocs()
	for b.Loop() {
		if r := probe(c, time.Second); !r.OK {
			b.Fatal(r.Reason)
		}
	}
}
