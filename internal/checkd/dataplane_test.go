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
	"github.com/keepalived-go/keepalived-go/internal/lvs"
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
