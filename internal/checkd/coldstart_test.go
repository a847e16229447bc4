package checkd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// coldStartConf is test/lvsscale's configuration: n virtual servers of m
// real servers each, no checker.
func coldStartConf(n, m int) []byte {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id lvsscale\n}\n")
	vip, rip := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("172.16.0.1")
	for range n {
		fmt.Fprintf(&b, "virtual_server %s 80 {\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n", vip)
		for j := range m {
			fmt.Fprintf(&b, "    real_server %s 8080 {\n        weight %d\n    }\n", rip, 1+j%3)
			rip = rip.Next()
		}
		b.WriteString("}\n")
		vip = vip.Next()
	}
	return []byte(b.String())
}

// BenchmarkColdStart2000x20 is the daemon's cold start of 2,000 virtual
// servers of 20 real servers without the kernel: reading the
// configuration and starting the checkers' subsystem over a fake
// backend, which the first sync fills (40,000 "Adding" lines logged, to
// io.Discard). cpu-ms/op is the process's CPU time (getrusage: the
// garbage collector's work included), the figure that matters on a
// loaded machine.
func BenchmarkColdStart2000x20(b *testing.B) {
	data := coldStartConf(2000, 20)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var cpu time.Duration
	b.ReportAllocs()
	for b.Loop() {
		var r0, r1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		cfg, _ := config.LoadBytes("lb.conf", data, config.Options{})
		fb := &lvs.FakeBackend{}
		s := New(log, WithBackend(fb, true))
		if err := s.Apply(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		cpu += time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
		b.StopTimer()
		if got := len(fb.Services()); got != 2000 {
			b.Fatalf("%d services programmed", got)
		}
		s.Stop(context.Background())
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
}

// trio names a real server as keepalived's inet_sockaddrtotrio does, the
// same text as the fmt.Sprintf it replaces, for every kind of address.
func TestTrioIsKeepalivedsText(t *testing.T) {
	for _, c := range []struct {
		a     netip.AddrPort
		proto string
		want  string
	}{
		{netip.MustParseAddrPort("192.0.2.1:80"), "tcp", "[192.0.2.1]:tcp:80"},
		{netip.MustParseAddrPort("192.0.2.1:0"), "", "[192.0.2.1]:tcp:0"},
		{netip.MustParseAddrPort("[2001:db8::1]:65535"), "udp", "[2001:db8::1]:udp:65535"},
		{netip.MustParseAddrPort("[fe80::1%eth0]:53"), "sctp", "[fe80::1%eth0]:sctp:53"},
		{netip.MustParseAddrPort("[::ffff:192.0.2.1]:8080"), "tcp", "[::ffff:192.0.2.1]:tcp:8080"},
		{netip.AddrPort{}, "tcp", "[invalid IP]:tcp:0"},
	} {
		if got := trio(c.a, c.proto); got != c.want {
			t.Errorf("trio(%v, %q) = %q, want %q", c.a, c.proto, got, c.want)
		}
		if old := fmt.Sprintf("[%s]:%s:%d", c.a.Addr(), defaultString(c.proto, "tcp"), c.a.Port()); old != c.want {
			t.Errorf("fmt gives %q for %v, the test expects %q", old, c.a, c.want)
		}
	}
}

// BenchmarkTrio names the 40,000 real servers of BenchmarkColdStart2000x20
// once, as each start and reload does (newService, reloadRemovals).
func BenchmarkTrio(b *testing.B) {
	addrs := make([]netip.AddrPort, 40000)
	a := netip.MustParseAddr("172.16.0.1")
	for i := range addrs {
		addrs[i] = netip.AddrPortFrom(a, 8080)
		a = a.Next()
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, ap := range addrs {
			_ = trio(ap, "tcp")
		}
	}
}

// BenchmarkReload2000x20 is the checkers' side of the daemon's no-op
// reload of BenchmarkColdStart2000x20's configuration: reading it again
// and applying it to the running subsystem (over a fake backend; the
// kernel's read-back left out). cpu-ms/op as there.
func BenchmarkReload2000x20(b *testing.B) {
	data := coldStartConf(2000, 20)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, _ := config.LoadBytes("lb.conf", data, config.Options{})
	s := New(log, WithBackend(&lvs.FakeBackend{}, true))
	if err := s.Apply(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(context.Background())
	var cpu time.Duration
	b.ReportAllocs()
	for b.Loop() {
		var r0, r1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		cfg, _ := config.LoadBytes("lb.conf", data, config.Options{})
		if err := s.Apply(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		cpu += time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	}
	b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
}
