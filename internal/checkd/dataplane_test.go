package checkd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/lvs/ipvs"
)

func startWithBackend(t *testing.T, conf string, logs *syncBuffer, opts ...Option) *Subsystem {
	t.Helper()
	cfg, _ := config.LoadBytes("t.conf", []byte(conf), config.Options{})
	s := New(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), opts...)
	if err := s.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return s
}

// destsOf is the fake backend's destinations of its one service, as
// "addr/weight".
func destsOf(fb *lvs.FakeBackend) []string {
	var out []string
	for _, s := range fb.Services() {
		for _, d := range s.Dests {
			out = append(out, fmt.Sprintf("%s/%d", d.Addr, d.Weight))
		}
	}
	return out
}

// The kernel's service follows the pool: both servers at start, one
// taken out by its checker and put back, nothing changed by a reload of
// the same configuration, everything removed at stop.
func TestDataPlaneFollowsThePool(t *testing.T) {
	a, b := newTCPServer(t), newTCPServer(t)
	port := func(s *tcpServer) string { return s.addr[strings.LastIndexByte(s.addr, ':')+1:] }
	conf := fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    lb_algo rr
    delay_loop 0.1
    real_server 127.0.0.1 %s {
        weight 2
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
}
`, port(a), port(b))
	fb := &lvs.FakeBackend{}
	var logs syncBuffer
	s := startWithBackend(t, conf, &logs, WithBackend(fb, false))
	both := []string{a.addr + "/2", b.addr + "/1"}
	if got := destsOf(fb); !reflect.DeepEqual(got, both) {
		t.Fatalf("at start: %v, want %v", got, both)
	}
	svc := fb.Services()[0]
	if svc.ServiceKey != lvs.AddrKey("tcp", netip.MustParseAddrPort("192.0.2.1:80")) || svc.Scheduler != "rr" || svc.Method != "NAT" {
		t.Fatalf("service %+v", svc)
	}
	fb.Applied()

	b.stop()
	waitFor(t, "the stopped server leaves the kernel", func() bool { return reflect.DeepEqual(destsOf(fb), both[:1]) })
	b.start(b.addr)
	waitFor(t, "it comes back", func() bool { return reflect.DeepEqual(destsOf(fb), both) })
	for _, ops := range fb.Applied() {
		if len(ops) != 1 || (ops[0].Kind != lvs.DelDest && ops[0].Kind != lvs.AddDest) || ops[0].Dest.Addr.String() != b.addr {
			t.Fatalf("a server's change took %v", ops)
		}
	}

	cfg, _ := config.LoadBytes("t.conf", []byte(conf), config.Options{})
	if err := s.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got := fb.Applied(); len(got) != 0 {
		t.Fatalf("a reload of the same configuration applied %v", got)
	}
	// A reload without the virtual server removes it.
	empty, _ := config.LoadBytes("t.conf", []byte("global_defs {\n}\n"), config.Options{})
	if err := s.Apply(context.Background(), empty); err != nil {
		t.Fatal(err)
	}
	if len(fb.Services()) != 0 || !strings.Contains(logs.String(), "Removing Virtual Server [192.0.2.1]:tcp:80") {
		t.Fatalf("after removing the virtual server: %+v\n%s", fb.Services(), logs.String())
	}
	if err := s.Stop(context.Background()); err != nil || fb.Released() != 1 {
		t.Fatalf("stop: %v, released %d", err, fb.Released())
	}
}

// With -I the kernel's services stay at stop; inhibit_on_failure keeps a
// failed server at weight 0; the sorry server stands in when the quorum
// is lost.
func TestDataPlaneInhibitSorryServerAndKeep(t *testing.T) {
	a := newTCPServer(t)
	port := a.addr[strings.LastIndexByte(a.addr, ':')+1:]
	conf := fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    sorry_server 192.0.2.9 8080
    real_server 127.0.0.1 %s {
        inhibit_on_failure
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
}
`, port)
	fb := &lvs.FakeBackend{}
	var logs syncBuffer
	s := startWithBackend(t, conf, &logs, WithBackend(fb, true))
	if got := destsOf(fb); !reflect.DeepEqual(got, []string{a.addr + "/1"}) {
		t.Fatalf("at start: %v", got)
	}
	a.stop()
	want := []string{a.addr + "/0", "192.0.2.9:8080/1"}
	waitFor(t, "the sorry server stands in, the failed server at weight 0", func() bool { return reflect.DeepEqual(destsOf(fb), want) })
	if err := s.Stop(context.Background()); err != nil || fb.Released() != 0 || !reflect.DeepEqual(destsOf(fb), want) {
		t.Fatalf("-I: stop %v, released %d, %v", err, fb.Released(), destsOf(fb))
	}
}

// A kernel that refuses the changes (no CAP_NET_ADMIN, say) is retried
// until it takes them.
func TestDataPlaneRetriesFailures(t *testing.T) {
	a := newTCPServer(t)
	conf := fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            warmup 0
        }
    }
}
`, a.addr[strings.LastIndexByte(a.addr, ':')+1:])
	fb := &lvs.FakeBackend{}
	fb.Err = errors.New("netlink: operation not permitted")
	var logs syncBuffer
	s := startWithBackend(t, conf, &logs, WithBackend(fb, false))
	defer s.Stop(context.Background())
	if !strings.Contains(logs.String(), "operation not permitted") {
		t.Fatalf("the failure is not logged:\n%s", logs.String())
	}
	fb.SetErr(nil)
	waitFor(t, "the retry programs the service", func() bool { return reflect.DeepEqual(destsOf(fb), []string{a.addr + "/1"}) })
}

// keysOf are the fake backend's services and their destinations, as
// "KEY: addr/weight ...".
func keysOf(fb *lvs.FakeBackend) []string {
	var out []string
	for _, s := range fb.Services() {
		line := s.ServiceKey.String() + ":"
		for _, d := range s.Dests {
			line += fmt.Sprintf(" %s/%d", d.Addr, d.Weight)
		}
		out = append(out, line)
	}
	return out
}

// A virtual_server_group is one service per address of its ranges (the
// range crossing an octet boundary included) and per fwmark entry. A TCP
// and a UDP virtual server of one group share its fwmark services and
// keep their own address services: a TCP server's failure leaves the UDP
// side alone.
func TestDataPlaneGroups(t *testing.T) {
	a := newTCPServer(t)
	port := a.addr[strings.LastIndexByte(a.addr, ':')+1:]
	conf := fmt.Sprintf(`virtual_server_group G {
    10.0.0.254-10.0.1.1 80
    fwmark 7
}
virtual_server group G {
    protocol TCP
    lb_algo rr
    delay_loop 0.1
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
}
virtual_server group G {
    protocol UDP
    lb_algo rr
    real_server 127.0.0.2 53 {
    }
}
`, port)
	fb := &lvs.FakeBackend{}
	var logs syncBuffer
	s := startWithBackend(t, conf, &logs, WithBackend(fb, false))
	defer s.Stop(context.Background())
	tcpDest, udpDest := " "+a.addr+"/1", " 127.0.0.2:53/1"
	want := func(tcpUp bool) []string {
		tcp := tcpDest
		if !tcpUp {
			tcp = ""
		}
		var out []string
		for _, proto := range []string{"tcp", "udp"} {
			for _, addr := range []string{"10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"} {
				d := udpDest
				if proto == "tcp" {
					d = tcp
				}
				out = append(out, fmt.Sprintf("[%s]:%s:80:%s", addr, proto, d))
			}
		}
		return append(out, "FWM 7:"+tcp+udpDest)
	}
	if got := keysOf(fb); !reflect.DeepEqual(got, want(true)) {
		t.Fatalf("services:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want(true), "\n"))
	}
	a.stop()
	waitFor(t, "the TCP server leaves the TCP services and the fwmark, not the UDP ones", func() bool {
		return reflect.DeepEqual(keysOf(fb), want(false))
	})
}

// The IPVS backend under the data plane: keepalived's flags, persistence
// and tunnels reach the kernel, a reload of the same configuration
// changes nothing, and stop removes each server, then each service, with
// keepalived's lines.
func TestDataPlaneIPVSBackend(t *testing.T) {
	conf := `virtual_server 192.0.2.1 80 {
    protocol TCP
    lb_algo sh
    sh-port
    lb_kind TUN type gue port 6080
    persistence_timeout 600
    persistence_granularity 255.255.255.0
    real_server 192.0.2.2 8080 {
        weight 3
        uthreshold 100
    }
    real_server 192.0.2.3 80 {
        lvs_method NAT
    }
}
virtual_server fwmark 9 {
    lb_algo rr
    lb_kind DR
    real_server 192.0.2.4 80 {
    }
}
`
	k := &kernel.FakeIPVS{}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := startWithBackend(t, conf, &logs, WithBackend(ipvs.New(k, log), false))
	v := kernel.IPVSService{Family: 4, Proto: 6, Addr: netip.MustParseAddrPort("192.0.2.1:80"), Sched: "sh",
		Flags: kernel.IPVSFlagSched2 | kernel.IPVSFlagPersistent, Timeout: 600, Netmask: 0xffffff00}
	f := kernel.IPVSService{Family: 4, Fwmark: 9, Sched: "rr", Netmask: 0xffffffff}
	want := map[kernel.IPVSService][]kernel.IPVSDest{
		v: {{Addr: netip.MustParseAddrPort("192.0.2.2:80"), Fwd: kernel.IPVSTunnel, Weight: 3, UThresh: 100, TunType: 1, TunPort: 6080},
			{Addr: netip.MustParseAddrPort("192.0.2.3:80"), Fwd: kernel.IPVSMasq, Weight: 1}},
		f: {{Addr: netip.MustParseAddrPort("192.0.2.4:0"), Fwd: kernel.IPVSDRoute, Weight: 1}},
	}
	got := map[kernel.IPVSService][]kernel.IPVSDest{}
	svcs, _ := k.Services()
	for _, x := range svcs {
		got[x], _ = k.Dests(x)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("kernel:\n got %+v\nwant %+v", got, want)
	}
	k.Calls()
	cfg, _ := config.LoadBytes("t.conf", []byte(conf), config.Options{})
	if err := s.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if calls := k.Calls(); len(calls) != 0 {
		t.Fatalf("a reload of the same configuration: %q", calls)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{
		"del-dest tcp 192.0.2.1:80 -> 192.0.2.2:80 weight 3",
		"del-dest tcp 192.0.2.1:80 -> 192.0.2.3:80 weight 1",
		"del-service tcp 192.0.2.1:80",
		"del-dest fwmark 9 (IPv4) -> 192.0.2.4:0 weight 1",
		"del-service fwmark 9 (IPv4)",
	}
	if calls := k.Calls(); !reflect.DeepEqual(calls, wantCalls) {
		t.Fatalf("stop:\n%q\nwant\n%q", calls, wantCalls)
	}
	for _, line := range []string{
		"Shutting down service [192.0.2.2]:tcp:8080 from VS [192.0.2.1]:tcp:80",
		"Shutting down service [192.0.2.3]:tcp:80 from VS [192.0.2.1]:tcp:80",
		"Shutting down service [192.0.2.4]:tcp:80 from VS FWM 9",
	} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q", line)
		}
	}
}

// Group ranges run over whole addresses, across IPv4 octets and IPv6's
// 16-bit groups, and are cut at maxGroupRange addresses.
func TestServiceKeysOfGroupRanges(t *testing.T) {
	cfg, diags := config.LoadBytes("t.conf", []byte(`virtual_server_group G {
    2001:db8::fffe-2001:db8::1:1 443
    10.0.0.0/15 80
    fwmark 3 inet6
}
virtual_server group G {
    protocol TCP
    lb_kind TUN
    persistence_timeout 60
    real_server 2001:db8:1::2 443 {
    }
}
`), config.Options{})
	specs := cfg.VirtualServerSpecs()
	if len(specs) != 1 {
		t.Fatalf("specs %v: %v", specs, diags)
	}
	var logs syncBuffer
	keys := serviceKeys(slog.New(slog.NewTextHandler(&logs, nil)), specs[0])
	var got []string
	for _, k := range keys[:4] {
		got = append(got, k.String())
	}
	want := []string{"[2001:db8::fffe]:tcp:443", "[2001:db8::ffff]:tcp:443", "[2001:db8::1:0]:tcp:443", "[2001:db8::1:1]:tcp:443"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("IPv6 range: %v, want %v", got, want)
	}
	if n := len(keys); n != 4+maxGroupRange+1 || keys[4].Addr.String() != "10.0.0.0:80" || keys[4+maxGroupRange-1].Addr.String() != "10.0.255.255:80" ||
		keys[n-1] != lvs.FwmarkKey(6, 3) {
		t.Errorf("%d keys (%v ... %v, %v)", n, keys[4], keys[4+maxGroupRange-1], keys[n-1])
	}
	if !strings.Contains(logs.String(), "the range 10.0.0.0/15 has more than 65536 addresses") {
		t.Errorf("the cut is not logged: %s", logs.String())
	}
}
