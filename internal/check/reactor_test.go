package check

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/latency"
	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// connected is one result the reactor reported.
type connected struct {
	p   *connecting
	r   Result
	end time.Time
}

// driven is a reactor run by a goroutine of its own, as the engine runs
// it: start and pending may be called from the test's goroutine.
type driven struct {
	r    *reactor
	do   chan func(*reactor)
	stop chan struct{}
	done chan struct{}
}

// startReactor is a driven reactor whose results go to the returned
// channel; it is stopped at the end of the test.
func startReactor(t testing.TB) (*driven, chan connected) {
	t.Helper()
	out := make(chan connected, 4096)
	r, err := newReactor(func(p *connecting, res Result, end time.Time) { out <- connected{p, res, end} })
	if err != nil {
		t.Fatal(err)
	}
	d := &driven{r: r, do: make(chan func(*reactor), 4096), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		for {
			for more := true; more; {
				select {
				case <-d.stop:
					r.close()
					return
				case f := <-d.do:
					f(r)
				default:
					more = false
				}
			}
			r.wait(time.Time{})
		}
	}()
	t.Cleanup(d.close)
	return d, out
}

func (d *driven) start(p *connecting) {
	d.do <- func(r *reactor) { r.start(p) }
	d.r.wake()
}

func (d *driven) pending() int { return d.r.pending() }

// close stops the reactor and waits for its goroutine.
func (d *driven) close() {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
	d.r.wake()
	<-d.done
}

// connectOnce runs one connect on r and waits for its result.
func connectOnce(t *testing.T, r *driven, out chan connected, c Conn) connected {
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
	// IPv6, up and refused.
	ln6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		testenv.Unavailable(t, "no IPv6 loopback: "+err.Error())
	}
	go func() {
		for {
			c, err := ln6.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr6 := netip.MustParseAddrPort(ln6.Addr().String())
	if o := connectOnce(t, r, out, Conn{Addr: addr6, Timeout: time.Second}); !o.r.OK {
		t.Fatalf("IPv6 listening server: %+v", o.r)
	}
	ln6.Close()
	c := Conn{Addr: addr6, Timeout: time.Second}
	o := connectOnce(t, r, out, c)
	if want := probe(&TCP{Conn: c}, time.Second); o.r.OK || o.r.Reason != want.Reason {
		t.Fatalf("IPv6 closed port: %+v, Conn.dial says %+v", o.r, want)
	}
}

// Without its reactor (goroutinesOnly, or no epoll), the engine runs
// TCP_CHECK through Conn.dial on a goroutine per probe, as before.
func TestEngineTCPOnGoroutines(t *testing.T) {
	_, up := listen(t)
	e := NewEngine()
	e.goroutinesOnly = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	results := make(chan Result, 8)
	e.addAt(&Job{Checker: &TCP{Conn: Conn{Addr: up, Timeout: time.Second}}, Schedule: NewSchedule(Timing{DelayLoop: 10 * time.Millisecond}),
		Timeout: time.Second, OnResult: func(r Result, _ Change) {
			select {
			case results <- r:
			default:
			}
		}}, time.Now())
	for range 3 {
		select {
		case r := <-results:
			if !r.OK {
				t.Fatalf("%+v", r)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("no result")
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.reactor != nil {
		t.Fatal("a reactor with goroutinesOnly")
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
			// log_all_failures says "timeout." or "failed." from it.
			if o.r.TimedOut != (name == "timeout") || want.TimedOut != (name == "timeout") {
				t.Fatalf("timed out: reactor %v, dial %v", o.r.TimedOut, want.TimedOut)
			}
			if o.r.AtOnce {
				t.Fatal("a connect that failed on the wire is taken for one refused when made")
			}
			if name == "timeout" && (took < c.Timeout || took > c.Timeout+300*time.Millisecond) {
				t.Fatalf("timed out after %v, want connect_timeout %v", took, c.Timeout)
			}
		})
	}
}

// A connect that the kernel refuses when it is made (to the broadcast
// address, without SO_BROADCAST: nothing is sent) fails at once, which
// log_all_failures does not log (keepalived's connect_fail).
func TestReactorConnectRefusedWhenMade(t *testing.T) {
	r, out := startReactor(t)
	o := connectOnce(t, r, out, Conn{Addr: netip.MustParseAddrPort("255.255.255.255:80"), Timeout: time.Second})
	if o.r.OK || !o.r.AtOnce || o.r.TimedOut {
		t.Fatalf("%+v, want a failure at once", o.r)
	}
	if l := (&TCP{}).FailureLine(Attempt{RS: "rs", WasUp: true, Result: o.r}); l != "" {
		t.Fatalf("log_all_failures line %q, want none", l)
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

// A connect whose deadline has passed by the time the reactor looks at
// it ends at once (epoll_wait's timeout is then 0, not negative, which
// would wait for ever).
func TestReactorPastDeadline(t *testing.T) {
	r, out := startReactor(t)
	full := fullListener(t)
	p := &connecting{conn: &Conn{Addr: full}, start: time.Now()}
	p.deadline = p.start.Add(-50 * time.Millisecond)
	r.start(p)
	select {
	case o := <-out:
		if o.r.OK {
			t.Fatal("a connect past its deadline succeeded")
		}
	case <-time.After(time.Second):
		t.Fatal("a connect past its deadline did not end")
	}
	// A wait until a time already past returns at once.
	r.close()
	idle, err := newReactor(func(*connecting, Result, time.Time) {})
	if err != nil {
		t.Fatal(err)
	}
	defer idle.close()
	start := time.Now()
	idle.wait(start.Add(-time.Hour))
	idle.wait(start.Add(20 * time.Millisecond))
	if took := time.Since(start); took < 20*time.Millisecond || took > 500*time.Millisecond {
		t.Fatalf("waits until a past time and 20 ms ahead took %v", took)
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
		testenv.Unavailable(t, err.Error())
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
			missing := map[netip.AddrPort]int{}
			for _, p := range ps {
				if !seen[p] {
					missing[p.conn.Addr]++
				}
			}
			t.Fatalf("%d results of %d; %d under way; missing by server: %v (refused %v, full %v)", len(seen), n, r.pending(), missing, refused, full)
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
		testenv.Unavailable(t, err.Error())
	}
	return len(ents)
}

// close abandons the connects under way: their sockets are closed and no
// result comes (and the reactor has no goroutine: goleak, in TestMain,
// checks that none outlives the tests).
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
	r.wake()  // and a wake after close does nothing
	if now := openFDs(t); now > fds {
		t.Fatalf("%d descriptors open after close, %d before", now, fds)
	}
	// A connect started after close is dropped, and a wait returns.
	r.start(&connecting{conn: &Conn{Addr: full}, start: time.Now()})
	r.wait(time.Time{})
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
	var ok, got bool
	r, err := newReactor(func(_ *connecting, res Result, _ time.Time) { got, ok = true, res.OK })
	if err != nil {
		b.Fatal(err)
	}
	defer r.close()
	c := Conn{Addr: netip.MustParseAddrPort(ln.Addr().String()), Timeout: time.Second}
	p := &connecting{conn: &c}
	b.ReportAllocs()
	for b.Loop() {
		p.start = time.Now()
		p.deadline = p.start.Add(time.Second)
		got = false
		r.start(p)
		for !got {
			r.wait(time.Time{})
		}
		if !ok {
			b.Fatal("the probe failed")
		}
	}
}

// BenchmarkEngineTCP is TCP_CHECK at scale in one process: 1,000 jobs at
// delay_loop 1 ms against 16 loopback servers, as fast as they go, on the
// reactor and, for comparison, on a goroutine per probe (as before the
// reactor). ns/op is the wall time per probe; cpu-µs/probe is the
// process's CPU time per probe, the servers' side included; the servers
// allocate nothing, so B/op and allocs/op are the engine's and the
// probe's.
func BenchmarkEngineTCP(b *testing.B) {
	for _, mode := range engineModes {
		b.Run(mode.name, func(b *testing.B) {
			benchEngineTCP(b, mode.goroutines, 1000, time.Millisecond, false)
		})
	}
}

// BenchmarkEngineTCPBesideATimer is the same at a steady 10,000 probes a
// second (1,000 jobs at delay_loop 100 ms), with a timer every 10 ms on a
// goroutine of its own, as a VRRP instance beside the checks: how late it
// fires (tick-p99-µs, tick-max-µs) is what the checks cost VRRP.
//
// The sub-benchmark "idle" is the timer alone for as long (100 µs per
// op): what the machine's own load costs it.
func BenchmarkEngineTCPBesideATimer(b *testing.B) {
	b.Run("idle", func(b *testing.B) {
		ticks := startTicker(10 * time.Millisecond)
		time.Sleep(time.Duration(b.N) * 100 * time.Microsecond)
		p99, worst := ticks()
		b.ReportMetric(float64(p99.Microseconds()), "tick-p99-µs")
		b.ReportMetric(float64(worst.Microseconds()), "tick-max-µs")
	})
	for _, mode := range engineModes {
		b.Run(mode.name, func(b *testing.B) {
			benchEngineTCP(b, mode.goroutines, 1000, 100*time.Millisecond, true)
		})
	}
}

// BenchmarkEngineTCPBurst is 10,000 TCP_CHECK probes due at the same
// instant (10,000 real servers without warmup at start-up), with the
// timer of BenchmarkEngineTCPBesideATimer beside them: ns/op is the time
// until every result is in.
func BenchmarkEngineTCPBurst(b *testing.B) {
	for _, mode := range engineModes {
		b.Run(mode.name, func(b *testing.B) {
			addrs := farm(b, 16)
			e := NewEngine()
			e.goroutinesOnly = mode.goroutines
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); e.Run(ctx) }()
			defer func() { cancel(); <-done }()
			results := make(chan bool, 10000)
			jobs := make([]*Job, 10000)
			ticks := startTicker(10 * time.Millisecond)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for i := range jobs {
					jobs[i] = &Job{Checker: &TCP{Conn: Conn{Addr: addrs[i%len(addrs)], Timeout: 5 * time.Second}},
						Schedule: NewSchedule(Timing{DelayLoop: time.Hour}), Timeout: 5 * time.Second,
						OnResult: func(r Result, _ Change) { results <- r.OK }}
				}
				b.StartTimer()
				now := time.Now()
				for _, j := range jobs {
					e.addAt(j, now)
				}
				for range jobs {
					if !<-results {
						b.Fatal("a probe failed")
					}
				}
				b.StopTimer()
				for _, j := range jobs {
					e.Remove(j)
				}
				b.StartTimer()
			}
			b.StopTimer()
			p99, worst := ticks()
			b.ReportMetric(float64(p99.Microseconds()), "tick-p99-µs")
			b.ReportMetric(float64(worst.Microseconds()), "tick-max-µs")
		})
	}
}

var engineModes = []struct {
	name       string
	goroutines bool
}{{"reactor", false}, {"goroutines", true}}

func benchEngineTCP(b *testing.B, goroutines bool, jobs int, delay time.Duration, timer bool) {
	addrs := farm(b, 16)
	e := NewEngine()
	e.goroutinesOnly = goroutines
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	var probes, failures atomic.Int64
	var reason atomic.Value
	tm := Timing{DelayLoop: delay, DelayBeforeRetry: delay, Retry: 1}
	for i := range jobs {
		e.addAt(&Job{Checker: &TCP{Conn: Conn{Addr: addrs[i%len(addrs)], Timeout: 5 * time.Second}},
			Schedule: NewSchedule(tm), Timeout: 5 * time.Second,
			OnResult: func(r Result, _ Change) {
				probes.Add(1)
				if !r.OK {
					failures.Add(1)
					reason.Store(r.Reason)
				}
			}}, time.Now().Add(time.Duration(i)*delay/time.Duration(jobs)))
	}
	time.Sleep(delay + 100*time.Millisecond) // under way
	var ticks func() (time.Duration, time.Duration)
	if timer {
		ticks = startTicker(10 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	target := probes.Load() + int64(b.N)
	for probes.Load() < target {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	failed := failures.Load() // before the stop, which cancels the probes under way
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/probe")
	if timer {
		p99, worst := ticks()
		b.ReportMetric(float64(p99.Microseconds()), "tick-p99-µs")
		b.ReportMetric(float64(worst.Microseconds()), "tick-max-µs")
		late := e.Lateness.Snapshot()
		b.ReportMetric(float64(quantile(late, 0.99).Microseconds()), "late-p99≤µs")
	}
	cancel()
	<-done
	if failed > 0 {
		b.Fatalf("%d probes failed: %v", failed, reason.Load())
	}
}

// cpuTime is the process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// farm is n loopback TCP servers that accept and close, in a process of
// their own (this test binary again, see TestMain), so that a
// benchmark's process, its CPU time and its allocations are the
// director's alone; they stop with the benchmark.
func farm(tb testing.TB, n int) []netip.AddrPort {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", farmEnv, n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close() // the farm exits when its input ends
		cmd.Wait()
	})
	var addrs []netip.AddrPort
	sc := bufio.NewScanner(stdout)
	for len(addrs) < n && sc.Scan() {
		a, err := netip.ParseAddrPort(sc.Text())
		if err != nil {
			tb.Fatal(err)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) < n {
		tb.Fatalf("the farm gave %d addresses of %d", len(addrs), n)
	}
	return addrs
}

// farmEnv, set to a number, makes the test binary a farm of that many
// servers (TestMain).
const farmEnv = "KEEPALIVED_GO_CHECK_TEST_FARM"

// serveFarm is the farm's process: it prints its servers' addresses, one
// a line, then accepts and closes until its input ends.
func serveFarm(n int) {
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(ln.Addr())
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
	io.Copy(io.Discard, os.Stdin)
}

// startTicker runs a timer every period on a goroutine of its own, as a
// VRRP instance runs its advert timer beside the checks, and records how
// late it fires; stop ends it and returns the 99th percentile and the
// worst lateness.
func startTicker(period time.Duration) (stop func() (p99, worst time.Duration)) {
	quit, done := make(chan struct{}), make(chan struct{})
	var late []time.Duration
	go func() {
		defer close(done)
		next := time.Now().Add(period)
		t := time.NewTimer(period)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			now := time.Now()
			late = append(late, now.Sub(next))
			next = next.Add(period)
			if next.Before(now) {
				next = now.Add(period)
			}
			t.Reset(time.Until(next))
		}
	}()
	return func() (time.Duration, time.Duration) {
		close(quit)
		<-done
		if len(late) == 0 {
			return 0, 0
		}
		slices.Sort(late)
		return late[len(late)*99/100], late[len(late)-1]
	}
}

// quantile is the upper bound of the bucket holding the quantile q of a
// lateness histogram (the last bound if it is beyond).
func quantile(s latency.Snapshot, q float64) time.Duration {
	var n uint64
	for i, c := range s.Counts {
		n += c
		if float64(n) >= q*float64(s.Count) && i < len(s.Bounds) {
			return s.Bounds[i]
		}
	}
	return s.Bounds[len(s.Bounds)-1]
}
