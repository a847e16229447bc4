package check

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// connected is one result the reactor reported.
type connected struct {
	p   *connecting
	r   Result
	end time.Time
}

// startReactor is a reactor whose results go to the returned channel;
// it is closed at the end of the test.
func startReactor(t testing.TB) (*reactor, chan connected) {
	t.Helper()
	out := make(chan connected, 4096)
	r, err := newReactor(func(p *connecting, res Result, end time.Time) { out <- connected{p, res, end} })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r, out
}

// connectOnce runs one connect on r and waits for its result.
func connectOnce(t *testing.T, r *reactor, out chan connected, c Conn) connected {
	t.Helper()
	p := &connecting{conn: &c, start: time.Now()}
	if c.Timeout > 0 {
		p.deadline = p.start.Add(c.Timeout)
	}
	r.start(p)
	select {
	case o := <-out:
		if o.p != p {
			t.Fatal("the result of another connect")
		}
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("no result")
	}
	return connected{}
}

// closedPort is a loopback port that nothing listens on.
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	return addr
}

func TestReactorConnects(t *testing.T) {
	r, out := startReactor(t)
	_, addr := listen(t)
	if o := connectOnce(t, r, out, Conn{Addr: addr, Timeout: time.Second}); !o.r.OK {
		t.Fatalf("listening server: %+v", o.r)
	}
	if n := r.pending(); n != 0 {
		t.Fatalf("%d connects still under way", n)
	}
}

// A refusal and a timeout fail with the reasons Conn.dial gives, so that
// the log lines do not change with the way the probe runs.
func TestReactorFailsAsDialDoes(t *testing.T) {
	r, out := startReactor(t)
	cases := map[string]Conn{
		"refused":           {Addr: closedPort(t), Timeout: time.Second},
		"refused, bound":    {Addr: closedPort(t), Timeout: time.Second, BindTo: netip.MustParseAddr("127.0.0.1")},
		"timeout":           {Addr: fullListener(t), Timeout: 200 * time.Millisecond},
		"address not local": {Addr: closedPort(t), Timeout: time.Second, BindTo: netip.MustParseAddr("192.0.2.1"), BindPort: 1234},
		"mismatched family": {Addr: closedPort(t), Timeout: time.Second, BindTo: netip.MustParseAddr("::1")},
		"wildcard, refused": {Addr: closedPort(t), Timeout: time.Second, BindTo: netip.MustParseAddr("::")},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			o := connectOnce(t, r, out, c)
			took := time.Since(start)
			want := probe(&TCP{Conn: c}, c.Timeout)
			if o.r.OK || want.OK {
				t.Fatalf("reactor %+v, dial %+v: want both failed", o.r, want)
			}
			if o.r.Reason != want.Reason {
				t.Fatalf("reason %q, Conn.dial says %q", o.r.Reason, want.Reason)
			}
			if name == "timeout" && (took < c.Timeout || took > c.Timeout+300*time.Millisecond) {
				t.Fatalf("timed out after %v, want connect_timeout %v", took, c.Timeout)
			}
		})
	}
}

// A connect whose deadline is earlier than the reactor's next wake-up
// wakes it: a short connect_timeout is kept although the reactor sleeps
// up to idleWait.
func TestReactorKeepsAShortDeadline(t *testing.T) {
	r, out := startReactor(t)
	full := fullListener(t)
	long := &connecting{conn: &Conn{Addr: full}, start: time.Now()}
	long.deadline = long.start.Add(10 * time.Second)
	r.start(long)
	time.Sleep(20 * time.Millisecond) // the reactor sleeps again
	start := time.Now()
	o := connectOnce(t, r, out, Conn{Addr: full, Timeout: 50 * time.Millisecond})
	if took := time.Since(start); o.r.OK || took > 300*time.Millisecond {
		t.Fatalf("%+v after %v, want a failure after 50 ms", o.r, took)
	}
	if n := r.pending(); n != 1 {
		t.Fatalf("%d connects under way, want the long one", n)
	}
}

// bindto, bind_port, bind_if and fwmark are set on the socket as Conn.dial
// sets them.
func TestReactorBindOptions(t *testing.T) {
	r, out := startReactor(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().String()
			c.Close()
		}
	}()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	port := closedPort(t).Port() // a free port to bind
	c := Conn{Addr: addr, Timeout: time.Second, BindTo: netip.MustParseAddr("127.0.0.2"), BindPort: port, BindIf: "lo"}
	if o := connectOnce(t, r, out, c); !o.r.OK {
		t.Fatalf("bound connect: %+v", o.r)
	}
	if got, want := <-peers, netip.AddrPortFrom(c.BindTo, port).String(); got != want {
		t.Fatalf("the server saw %s, want %s", got, want)
	}
	// bind_port alone binds the unspecified address.
	c = Conn{Addr: addr, Timeout: time.Second, BindPort: closedPort(t).Port()}
	if o := connectOnce(t, r, out, c); !o.r.OK {
		t.Fatalf("bind_port only: %+v", o.r)
	}
	if got := netip.MustParseAddrPort(<-peers); got.Port() != c.BindPort {
		t.Fatalf("the server saw %s, want port %d", got, c.BindPort)
	}
	// An interface that does not exist fails as Conn.dial fails.
	c = Conn{Addr: addr, Timeout: time.Second, BindIf: "nosuchif0"}
	o := connectOnce(t, r, out, c)
	if want := probe(&TCP{Conn: c}, time.Second); o.r.OK || o.r.Reason != want.Reason {
		t.Fatalf("bind_if to nothing: %+v, Conn.dial says %+v", o.r, want)
	}
	// fwmark needs CAP_NET_ADMIN.
	c = Conn{Addr: addr, Timeout: time.Second, Fwmark: 7}
	o = connectOnce(t, r, out, c)
	want := probe(&TCP{Conn: c}, time.Second)
	if o.r.OK != want.OK || o.r.Reason != want.Reason {
		t.Fatalf("fwmark: %+v, Conn.dial says %+v", o.r, want)
	}
	for len(peers) > 0 {
		<-peers
	}
}

// bind_if is the zone of an IPv6 link-local target.
func TestReactorLinkLocalZone(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip(err)
	}
	p := &connecting{conn: &Conn{Addr: netip.MustParseAddrPort("[fe80::2]:80"), BindIf: "lo"}}
	family, remote, local, err := p.sockaddrs()
	if err != nil || family != syscall.AF_INET6 || local != nil {
		t.Fatalf("%v %v %v", family, local, err)
	}
	if id := p.remote6.ZoneId; remote != &p.remote6 || id != uint32(lo.Index) {
		t.Fatalf("zone %d, want lo's index %d", id, lo.Index)
	}
	// An IPv4-mapped target is IPv4.
	p = &connecting{conn: &Conn{Addr: netip.MustParseAddrPort("[::ffff:127.0.0.1]:80"), BindPort: 5}}
	if family, _, local, err := p.sockaddrs(); err != nil || family != syscall.AF_INET || local != &p.local4 || p.local4.Port != 5 {
		t.Fatalf("mapped: %v %v %v", family, local, err)
	}
}

// Many connects at once, to servers that accept, refuse or never answer:
// each gets one result, the right one, and no socket is left open.
func TestReactorManyAtOnce(t *testing.T) {
	r, out := startReactor(t)
	var up []netip.AddrPort
	for range 4 {
		_, a := listen(t)
		up = append(up, a)
	}
	refused, full := closedPort(t), fullListener(t)
	fds := openFDs(t)
	const n = 1500
	want := map[*connecting]bool{}
	var ps []*connecting
	for i := range n {
		c := Conn{Addr: up[i%len(up)], Timeout: 3 * time.Second}
		switch i % 10 {
		case 7:
			c.Addr = refused
		case 9:
			c.Addr, c.Timeout = full, 300*time.Millisecond
		}
		p := &connecting{conn: &c, start: time.Now()}
		p.deadline = p.start.Add(c.Timeout)
		want[p] = i%10 < 7 || i%10 == 8
		ps = append(ps, p)
	}
	for _, p := range ps {
		r.start(p)
	}
	seen := map[*connecting]bool{}
	deadline := time.After(10 * time.Second)
	for len(seen) < n {
		select {
		case o := <-out:
			if seen[o.p] {
				t.Fatal("two results for one connect")
			}
			seen[o.p] = true
			if o.r.OK != want[o.p] {
				t.Fatalf("connect to %v: %+v, want OK=%v", o.p.conn.Addr, o.r, want[o.p])
			}
		case <-deadline:
			t.Fatalf("%d results of %d", len(seen), n)
		}
	}
	if k := r.pending(); k != 0 {
		t.Fatalf("%d connects still under way", k)
	}
	if now := openFDs(t); now > fds {
		t.Fatalf("%d descriptors open, %d before", now, fds)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

// close abandons the connects under way: their sockets are closed, no
// result comes, and the reactor's goroutine is gone when close returns
// (goleak, in TestMain, checks that none outlives the tests).
func TestReactorCloseAbandonsConnects(t *testing.T) {
	full := fullListener(t)
	fds := openFDs(t)
	var results atomic.Int64
	r, err := newReactor(func(*connecting, Result, time.Time) { results.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		p := &connecting{conn: &Conn{Addr: full}, start: time.Now()}
		p.deadline = p.start.Add(time.Minute)
		r.start(p)
	}
	if n := r.pending(); n != 20 {
		t.Fatalf("%d under way, want 20", n)
	}
	r.close()
	r.close() // twice is fine
	if now := openFDs(t); now > fds {
		t.Fatalf("%d descriptors open after close, %d before", now, fds)
	}
	// A connect started after close is dropped.
	r.start(&connecting{conn: &Conn{Addr: full}, start: time.Now()})
	time.Sleep(50 * time.Millisecond)
	if n := results.Load(); n != 0 {
		t.Fatalf("%d results after close", n)
	}
	if now := openFDs(t); now > fds {
		t.Fatalf("%d descriptors open after a start after close, %d before", now, fds)
	}
}

// The engine runs TCP_CHECK on its reactor: a thousand servers that never
// answer cost no goroutine each, and their results follow the Schedule.
func TestEngineProbesTCPWithoutGoroutines(t *testing.T) {
	full := fullListener(t)
	_, up := listen(t)
	e := startEngine(t)
	before := runtime.NumGoroutine()
	var mu sync.Mutex
	changes := map[Change]int{}
	var okResults atomic.Int64
	tm := Timing{DelayLoop: 50 * time.Millisecond, DelayBeforeRetry: 50 * time.Millisecond, Retry: 0}
	for i := range 1001 {
		c := &TCP{Conn: Conn{Addr: full, Timeout: 500 * time.Millisecond}}
		if i == 1000 {
			c.Conn.Addr = up
		}
		e.addAt(&Job{Checker: c, Schedule: NewSchedule(tm), Timeout: 500 * time.Millisecond,
			OnResult: func(r Result, ch Change) {
				if r.OK {
					okResults.Add(1)
				}
				mu.Lock()
				changes[ch]++
				mu.Unlock()
			}}, time.Now())
	}
	time.Sleep(200 * time.Millisecond)
	if n := runtime.NumGoroutine(); n > before+5 {
		t.Fatalf("%d goroutines with 1,000 connects under way, %d before", n, before)
	}
	e.mu.Lock()
	r := e.reactor
	e.mu.Unlock()
	if r == nil || r.pending() < 900 {
		t.Fatal("the connects are not on the reactor")
	}
	if okResults.Load() < 2 {
		t.Fatal("the server that answers is not checked every delay_loop while the others hang")
	}
	waitUntil(t, "every server that does not answer is down", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return changes[WentDown] == 1000
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A job's Timeout shorter than connect_timeout bounds the connect, as the
// probe's context bounds Conn.dial.
func TestEngineTCPTimeoutIsTheShorter(t *testing.T) {
	full := fullListener(t)
	e := startEngine(t)
	took := make(chan time.Duration, 1)
	start := time.Now()
	e.addAt(&Job{Checker: &TCP{Conn: Conn{Addr: full, Timeout: 5 * time.Second}}, Schedule: NewSchedule(Timing{DelayLoop: time.Hour}),
		Timeout: 100 * time.Millisecond, OnResult: func(r Result, _ Change) {
			if !r.OK {
				took <- time.Since(start)
			}
		}}, start)
	select {
	case d := <-took:
		if d > time.Second {
			t.Fatalf("failed after %v, want about 100 ms", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no result")
	}
}

// BenchmarkReactorTCP is one TCP_CHECK probe through the reactor against a
// loopback server, as BenchmarkTCPCheck is through Conn.dial.
func BenchmarkReactorTCP(b *testing.B) {
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
	r, out := startReactor(b)
	c := Conn{Addr: netip.MustParseAddrPort(ln.Addr().String()), Timeout: time.Second}
	p := &connecting{conn: &c}
	b.ReportAllocs()
	for b.Loop() {
		p.start = time.Now()
		p.deadline = p.start.Add(time.Second)
		r.start(p)
		if o := <-out; !o.r.OK {
			b.Fatal(o.r.Reason)
		}
	}
}

// BenchmarkEngineTCP is TCP_CHECK at scale in one process: 1,000 jobs at
// delay_loop 1 ms against 8 loopback servers, on the reactor and, for
// comparison, on a goroutine per probe (as before the reactor). ns/op is
// the wall time per probe; cpu-µs/probe is the process's CPU time per
// probe, the servers' side included.
func BenchmarkEngineTCP(b *testing.B) {
	for _, mode := range []struct {
		name       string
		goroutines bool
	}{{"reactor", false}, {"goroutines", true}} {
		b.Run(mode.name, func(b *testing.B) {
			var addrs []netip.AddrPort
			for range 8 {
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
				addrs = append(addrs, netip.MustParseAddrPort(ln.Addr().String()))
			}
			e := NewEngine()
			e.goroutinesOnly = mode.goroutines
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); e.Run(ctx) }()
			var probes, failures atomic.Int64
			tm := Timing{DelayLoop: time.Millisecond, DelayBeforeRetry: time.Millisecond, Retry: 1}
			for i := range 1000 {
				e.addAt(&Job{Checker: &TCP{Conn: Conn{Addr: addrs[i%len(addrs)], Timeout: 5 * time.Second}},
					Schedule: NewSchedule(tm), Timeout: 5 * time.Second,
					OnResult: func(r Result, _ Change) {
						probes.Add(1)
						if !r.OK {
							failures.Add(1)
						}
					}}, time.Now())
			}
			time.Sleep(100 * time.Millisecond) // under way
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			target := probes.Load() + int64(b.N)
			for probes.Load() < target {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/probe")
			cancel()
			<-done
			if f := failures.Load(); f > 0 {
				b.Fatalf("%d probes failed", f)
			}
		})
	}
}

// cpuTime is the process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
