//go:build linux

package kernel

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// The counters with real TCP traffic: a client in the namespace connects
// to the virtual service (on loopback), which NATs to two real servers
// round robin; the counters of each real server say how many connections
// it had and at least the bytes that went each way.
func TestNFTLoadBalancerCountsTraffic(t *testing.T) {
	lb, name := newLBNamespace(t)
	nftCmd(t, "ip", "-n", name, "link", "set", "lo", "up")
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	// Two real servers answering with their name, on loopback.
	var lns []net.Listener
	inNamespace(t, h, func() {
		for range 2 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lns = append(lns, ln)
		}
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	var servers []netip.AddrPort
	for i, ln := range lns {
		defer ln.Close()
		servers = append(servers, netip.MustParseAddrPort(ln.Addr().String()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				buf := make([]byte, 5)
				io.ReadFull(c, buf)
				fmt.Fprintf(c, "rs%d-reply", i)
				c.Close()
			}
		}()
	}
	vip := LBKey{Family: 4, Proto: 6, Addr: lbAP("127.0.0.10:80")}
	if err := lb.Apply([]LBService{{LBKey: vip, Pick: LBRoundRobin, Slots: servers}}, nil); err != nil {
		t.Fatal(err)
	}
	const requests = 10
	got := map[string]int{}
	inNamespace(t, h, func() {
		for range requests {
			c, err := net.DialTimeout("tcp", vip.Addr.String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("hello"))
			b, err := io.ReadAll(c)
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			got[string(b)]++
		}
	})
	if got["rs0-reply"] != requests/2 || got["rs1-reply"] != requests/2 {
		t.Fatalf("answers %v, want %d from each real server", got, requests/2)
	}
	// The counters of a closed connection's last packets are in place
	// once the client has read the end.
	st, err := lb.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].LBKey != vip || len(st[0].Servers) != 2 {
		t.Fatalf("Stats = %+v, want the service with its 2 real servers", st)
	}
	for _, s := range st[0].Servers {
		n := s.LBCounters
		// Per connection: at least SYN, ACK, 5 bytes, FIN in; SYN-ACK,
		// 9 bytes, FIN out (each with its IP and TCP headers).
		if n.Conns != requests/2 || n.InPackets < 4*n.Conns || n.OutPackets < 3*n.Conns ||
			n.InBytes < n.Conns*(4*40+5) || n.OutBytes < n.Conns*(3*40+9) {
			t.Errorf("%v: %+v, want %d connections and their packets", s.Addr, n, requests/2)
		}
	}
	// nft shows the counters too, and what it lists loads again (nft -c
	// checks a file against the kernel without changing anything).
	out := nftIn(t, name, "list", "set", "inet", DefaultLBTable, lbSetConns4)
	if !strings.Contains(out, fmt.Sprintf("counter packets %d", requests/2)) {
		t.Errorf("nft list set:\n%s\nwant the connection counters (%d each)", out, requests/2)
	}
	// (Our parts only: the services' chains as nft lists them do not
	// load again, their slot maps being typed as marks.)
	listed := statsParts(nftIn(t, name, "list", "table", "inet", DefaultLBTable))
	file := t.TempDir() + "/table.nft"
	if err := os.WriteFile(file, []byte(listed), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", name, "nft", "-c", "-f", file).CombinedOutput(); err != nil {
		t.Errorf("nft -c -f of what nft lists: %v\n%s\n%s", err, out, listed)
	}

	// A second service on port 80, with a real server of its own: a
	// load balancer that reads the table afresh (a restart) gives each
	// service its own servers' counters, though the counters' keys have
	// the port and not the address of their service.
	var ln3 net.Listener
	inNamespace(t, h, func() {
		if ln3, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	})
	defer ln3.Close()
	third := netip.MustParseAddrPort(ln3.Addr().String())
	vip2 := LBKey{Family: 4, Proto: 6, Addr: lbAP("127.0.0.11:80")}
	if err := lb.Apply([]LBService{{LBKey: vip2, Pick: LBRoundRobin, Slots: []netip.AddrPort{third}}}, nil); err != nil {
		t.Fatal(err)
	}
	var fresh *NFTLoadBalancer
	inNamespace(t, h, func() {
		if fresh, err = NewNFTLoadBalancer(""); err != nil {
			t.Fatal(err)
		}
	})
	defer fresh.Close()
	if _, err := fresh.Services(); err != nil {
		t.Fatal(err)
	}
	st, err = fresh.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].LBKey != vip || len(st[0].Servers) != 2 || st[0].Servers[0].Conns != requests/2 ||
		st[1].LBKey != vip2 || len(st[1].Servers) != 1 || st[1].Servers[0].Addr != third || st[1].Servers[0].Conns != 0 {
		t.Errorf("read afresh with two services on port 80: %+v", st)
	}
	if err := lb.Apply(nil, []LBKey{vip2}); err != nil {
		t.Fatal(err)
	}

	// A rewrite keeps the counters; a real server out of the slots
	// keeps its own.
	if err := lb.Apply([]LBService{{LBKey: vip, Pick: LBRoundRobin, Slots: servers[:1]}}, nil); err != nil {
		t.Fatal(err)
	}
	again, err := lb.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || len(again[0].Servers) != 2 || again[0].Servers[1].Conns != requests/2 {
		t.Errorf("after the rewrite: %+v, want both real servers' counters kept", again)
	}
	// Deleting the service deletes its counters.
	if err := lb.Apply(nil, []LBKey{vip}); err != nil {
		t.Fatal(err)
	}
	if st, err := lb.Stats(); err != nil || len(st) != 0 {
		t.Errorf("after delete: %+v, %v; want nothing", st, err)
	}
	if out := nftIn(t, name, "list", "set", "inet", DefaultLBTable, lbSetStats4) + nftIn(t, name, "list", "set", "inet", DefaultLBTable, lbSetConns4); strings.Contains(out, "counter packets") {
		t.Errorf("after delete, nft list set:\n%s\nwant no element", out)
	}
}

// statsParts is a listed table with only its counters' sets and chains.
func statsParts(listed string) string {
	var b strings.Builder
	keep := false
	for _, l := range strings.SplitAfter(listed, "\n") {
		switch {
		case strings.HasPrefix(l, "table "), l == "}\n":
			b.WriteString(l)
		case strings.HasPrefix(l, "\tset rs_"), strings.HasPrefix(l, "\tchain stats_"):
			keep = true
			b.WriteString(l)
		case keep:
			b.WriteString(l)
			keep = l != "\t}\n"
		}
	}
	return b.String()
}

// BenchmarkNFTLoadBalancerStats: what the counting costs a connection
// through the virtual service (a client and two real servers on loopback
// in a namespace of its own), with the stats chains as written and with
// them flushed. Root only:
//
//	go test ./internal/kernel -run '^$' -bench NFTLoadBalancerStats -benchtime 3000x -count 5
func BenchmarkNFTLoadBalancerStats(b *testing.B) {
	for _, counted := range []bool{true, false} {
		name := "uncounted"
		if counted {
			name = "counted"
		}
		b.Run(name, func(b *testing.B) { benchStats(b, counted) })
	}
}

func benchStats(b *testing.B, counted bool) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	name := fmt.Sprintf("kglb-bench-%d-%d", os.Getpid(), nftSeq.Add(1))
	cmd := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	cmd("ip", "netns", "add", name)
	b.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	cmd("ip", "-n", name, "link", "set", "lo", "up")
	h, err := netns.GetFromName(name)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	in := func(f func()) {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			b.Fatal(err)
		}
		defer orig.Close()
		if err := netns.Set(h); err != nil {
			b.Fatal(err)
		}
		f()
		if err := netns.Set(orig); err != nil {
			b.Fatal(err) // the thread stays locked, and is retired
		}
		runtime.UnlockOSThread()
	}
	var lb *NFTLoadBalancer
	var lns []net.Listener
	in(func() {
		if lb, err = NewNFTLoadBalancer(""); err != nil {
			b.Fatal(err)
		}
		for range 2 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			lns = append(lns, ln)
		}
	})
	defer lb.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	var servers []netip.AddrPort
	for _, ln := range lns {
		defer ln.Close()
		servers = append(servers, netip.MustParseAddrPort(ln.Addr().String()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				buf := make([]byte, 5)
				io.ReadFull(c, buf)
				c.Write([]byte("ok"))
				c.Close()
			}
		}()
	}
	vip := LBKey{Family: 4, Proto: 6, Addr: lbAP("127.0.0.10:80")}
	if err := lb.Apply([]LBService{{LBKey: vip, Pick: LBRoundRobin, Slots: servers}}, nil); err != nil {
		b.Fatal(err)
	}
	if !counted {
		for _, ch := range []string{lbChainStatsIn, lbChainStatsOut} {
			cmd("ip", "netns", "exec", name, "nft", "flush", "chain", "inet", DefaultLBTable, ch)
		}
	}
	b.ResetTimer()
	began := time.Now()
	// CPU time is less at the mercy of other load than wall time: the
	// process's, whose threads also run the loopback's softirqs.
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	in(func() {
		for range b.N {
			c, err := net.DialTimeout("tcp", vip.Addr.String(), 5*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			c.Write([]byte("hello"))
			io.ReadAll(c)
			c.Close()
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "conns/s")
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/conn")
	b.StopTimer()
	if st, err := lb.Stats(); err == nil && counted && (len(st) != 1 || st[0].Servers[0].Conns+st[0].Servers[1].Conns != uint64(b.N)) {
		b.Errorf("counted %+v, want %d connections", st, b.N)
	}
}
