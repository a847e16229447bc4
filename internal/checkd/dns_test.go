package checkd

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/check"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/miekg/dns"
)

// dnsServer is a miekg/dns server on loopback answering with the RCODE
// the test sets, for the question it checks.
func dnsServer(t *testing.T, rcode *atomic.Int32, questions chan<- dns.Question) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			if len(q.Question) == 1 {
				select {
				case questions <- q.Question[0]:
				default:
				}
			}
			m := new(dns.Msg)
			m.SetRcode(q, int(rcode.Load()))
			w.WriteMsg(m)
		})}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	addr := pc.LocalAddr().String()
	return addr[strings.LastIndexByte(addr, ':')+1:]
}

// A DNS_CHECK takes its server out after retry failures: keepalived's
// "DNS_CHECK (RS) REASON after N retries" line, notify_down, the FIFO's
// RS and VS lines; one good answer brings it back, with no success line
// of the checker's own (keepalived logs none for DNS_CHECK).
func TestDNSCheckDownAndUpNotifies(t *testing.T) {
	var rcode atomic.Int32
	questions := make(chan dns.Question, 64)
	port := dnsServer(t, &rcode, questions)
	dir := t.TempDir()
	fifo := readFIFO(t, filepath.Join(dir, "fifo"))
	events := filepath.Join(dir, "events")
	conf := fmt.Sprintf(`global_defs {
    notify_fifo %s
}
virtual_server 192.0.2.1 53 {
    protocol UDP
    delay_loop 0.2
    real_server 127.0.0.1 %[3]s {
        notify_up "/bin/sh -c 'echo rs_up >> %[2]s'"
        notify_down "/bin/sh -c 'echo rs_down >> %[2]s'"
        DNS_CHECK {
            connect_timeout 1
            retry 1
            warmup 0
            type a
            name example.com
        }
    }
}
`, filepath.Join(dir, "fifo"), events, port)
	var logs syncBuffer
	s := startChecks(t, conf, &logs)

	select {
	case q := <-questions:
		if q.Name != "example.com." || q.Qtype != dns.TypeA || q.Qclass != dns.ClassINET {
			t.Fatalf("question %v, want example.com. IN A", q)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no query")
	}
	time.Sleep(300 * time.Millisecond)
	rcode.Store(dns.RcodeServerFailure)
	rs, vs := "[127.0.0.1]:udp:"+port, "[192.0.2.1]:udp:53"
	waitFor(t, "RS DOWN on the FIFO", func() bool { return fifo.has("RS " + rs + " " + vs + " DOWN\n\x00") })
	waitFor(t, "VS DOWN on the FIFO", func() bool { return fifo.has("VS " + vs + " DOWN\n\x00") })
	waitFor(t, "notify_down ran", fileHas(events, "rs_down\n"))
	for _, want := range []string{
		"Activating healthchecker for service " + rs + " for VS " + vs,
		"DNS_CHECK (" + rs + ") read error occurred. (rcode = 2) after 1 retries",
		"Removing service " + rs + " from VS " + vs,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	rcode.Store(dns.RcodeSuccess)
	waitFor(t, "RS UP on the FIFO", func() bool { return fifo.has("RS " + rs + " " + vs + " UP\n\x00") })
	waitFor(t, "notify_up ran", fileHas(events, "rs_down\nrs_up\n"))
	if strings.Contains(logs.String(), "success.") {
		t.Errorf("keepalived logs no success line for DNS_CHECK:\n%s", logs.String())
	}
	s.Stop(context.Background())
}

// DNS_CHECK's own defaults come from validation: retry 3 and
// delay_before_retry = the checker's delay_loop (check_dns.c
// dns_check_handler, check_data.c validate_check_config); the real
// server's values win over them. The type and name keep keepalived's
// defaults (SOA, the root) when absent or refused.
func TestDNSCheckDefaults(t *testing.T) {
	conf := `virtual_server 192.0.2.1 53 {
    protocol UDP
    delay_loop 7
    real_server 192.0.2.2 53 {
        DNS_CHECK {
            delay_loop 4
        }
        DNS_CHECK {
            type BOGUS
            name a..b
        }
    }
    real_server 192.0.2.3 53 {
        retry 5
        delay_before_retry 2
        DNS_CHECK {
            type mx
            name example.org.
        }
    }
}
`
	cfg, _ := config.LoadBytes("t.conf", []byte(conf), config.Options{})
	specs := cfg.VirtualServerSpecs()
	if len(specs) != 1 || len(specs[0].RealServers) != 2 {
		t.Fatalf("specs %+v", specs)
	}
	rs1, rs2 := specs[0].RealServers[0], specs[0].RealServers[1]
	for i, tc := range []struct {
		c         *config.Checker
		rs        *config.RealServerSpec
		retry     int
		dbr, loop time.Duration
		typ       uint16
		name      string
	}{
		{rs1.Checkers[0], rs1, 3, 4 * time.Second, 4 * time.Second, dns.TypeSOA, ""},
		{rs1.Checkers[1], rs1, 3, 7 * time.Second, 7 * time.Second, dns.TypeSOA, ""},
		{rs2.Checkers[0], rs2, 5, 2 * time.Second, 7 * time.Second, dns.TypeMX, "example.org."},
	} {
		tm := timingOf(tc.c)
		if tm.Retry != tc.retry || tm.DelayBeforeRetry != tc.dbr || tm.DelayLoop != tc.loop {
			t.Errorf("checker %d: %+v, want retry %d delay_before_retry %v delay_loop %v", i, tm, tc.retry, tc.dbr, tc.loop)
		}
		probe, ok := newChecker(tc.c, tc.rs, checkerEnv{})
		d, isDNS := probe.(*check.DNS)
		if !ok || !isDNS || d.Type != tc.typ || d.Name != tc.name {
			t.Errorf("checker %d: %+v, want type %d name %q", i, probe, tc.typ, tc.name)
		}
	}
}

// UDP_CHECK's and PING_CHECK's blocks become their probes.
func TestUDPAndPingCheckersFromConfig(t *testing.T) {
	conf := `virtual_server 192.0.2.1 53 {
    protocol UDP
    real_server 192.0.2.2 53 {
        UDP_CHECK {
            payload 01 02 0a
            require_reply 0x 41
            min_reply_length 2
            max_reply_length 9
        }
        UDP_CHECK {
            payload zz
        }
        PING_CHECK {
            connect_ip 192.0.2.9
            bind_if eth7
        }
    }
}
`
	cfg, _ := config.LoadBytes("t.conf", []byte(conf), config.Options{})
	rs := cfg.VirtualServerSpecs()[0].RealServers[0]
	p0, _ := newChecker(rs.Checkers[0], rs, checkerEnv{})
	u, ok := p0.(*check.UDP)
	if !ok || fmt.Sprintf("%x %x", u.Payload, u.Reply) != "01020a 0041" || fmt.Sprintf("%x", u.ReplyMask) != "0f00" ||
		!u.RequireReply || u.MinReplyLength != 2 || u.MaxReplyLength != 9 {
		t.Errorf("UDP_CHECK: %+v", p0)
	}
	p1, _ := newChecker(rs.Checkers[1], rs, checkerEnv{})
	if u, ok := p1.(*check.UDP); !ok || u.Payload != nil || u.RequireReply || u.MaxReplyLength != 255 {
		t.Errorf("UDP_CHECK with an invalid payload: %+v, want the default payload", p1)
	}
	p2, _ := newChecker(rs.Checkers[2], rs, checkerEnv{})
	if p, ok := p2.(*check.Ping); !ok || p.Conn.Addr.Addr().String() != "192.0.2.9" || p.Conn.BindIf != "eth7" {
		t.Errorf("PING_CHECK: %+v", p2)
	}
}
