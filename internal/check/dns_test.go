package check

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsServer is a miekg/dns server on loopback whose answers the test
// sets; it records the queries it gets.
type dnsServer struct {
	addr    netip.AddrPort
	mu      sync.Mutex
	answer  func(w dns.ResponseWriter, q *dns.Msg)
	queries []*dns.Msg
}

func newDNSServer(t *testing.T, answer func(w dns.ResponseWriter, q *dns.Msg)) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{addr: netip.MustParseAddrPort(pc.LocalAddr().String()), answer: answer}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			s.mu.Lock()
			s.queries = append(s.queries, q)
			answer := s.answer
			s.mu.Unlock()
			answer(w, q)
		})}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return s
}

func (s *dnsServer) set(answer func(w dns.ResponseWriter, q *dns.Msg)) {
	s.mu.Lock()
	s.answer = answer
	s.mu.Unlock()
}

func (s *dnsServer) seen() []*dns.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*dns.Msg(nil), s.queries...)
}

// rcode answers every query with that RCODE and no record.
func rcode(code int) func(dns.ResponseWriter, *dns.Msg) {
	return func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(q, code)
		w.WriteMsg(m)
	}
}

func silent(dns.ResponseWriter, *dns.Msg) {}

func dnsCheck(addr netip.AddrPort) *DNS {
	return &DNS{Conn: Conn{Addr: addr, Timeout: 300 * time.Millisecond}}
}

// A NOERROR answer is success, even without any record (keepalived does
// not read the answer count). The query is keepalived's: SOA for the
// root, class IN, recursion desired, a random id.
func TestDNSCheckGoodAnswer(t *testing.T) {
	s := newDNSServer(t, rcode(dns.RcodeSuccess))
	c := dnsCheck(s.addr)
	for range 4 {
		if r := probe(c, time.Second); !r.OK {
			t.Fatalf("NOERROR answer: %+v", r)
		}
	}
	qs := s.seen()
	ids := map[uint16]bool{}
	for _, q := range qs {
		ids[q.Id] = true
		if !q.RecursionDesired || q.Response || len(q.Question) != 1 {
			t.Fatalf("query %v", q)
		}
		if qq := q.Question[0]; qq.Name != "." || qq.Qtype != dns.TypeSOA || qq.Qclass != dns.ClassINET {
			t.Fatalf("question %v, want . IN SOA", qq)
		}
	}
	if len(ids) < 2 {
		t.Fatalf("ids %v: every query should get a random id", ids)
	}
}

func TestDNSCheckTypeAndName(t *testing.T) {
	s := newDNSServer(t, rcode(dns.RcodeSuccess))
	c := dnsCheck(s.addr)
	c.Type, c.Name = DNSTypes["AAAA"], "www.example.com"
	if r := probe(c, time.Second); !r.OK {
		t.Fatal(r)
	}
	if qq := s.seen()[0].Question[0]; qq.Name != "www.example.com." || qq.Qtype != dns.TypeAAAA {
		t.Fatalf("question %v, want www.example.com. AAAA", qq)
	}
}

// An error RCODE fails at once, with keepalived's reason.
func TestDNSCheckRcodeError(t *testing.T) {
	s := newDNSServer(t, rcode(dns.RcodeServerFailure))
	start := time.Now()
	r := probe(dnsCheck(s.addr), time.Second)
	if r.OK || r.Reason != "read error occurred. (rcode = 2)" {
		t.Fatalf("SERVFAIL: %+v", r)
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Fatalf("took %v: an error answer decides at once", took)
	}
	s.set(rcode(dns.RcodeNameError))
	if r := probe(dnsCheck(s.addr), time.Second); r.OK || r.Reason != "read error occurred. (rcode = 3)" {
		t.Fatalf("NXDOMAIN: %+v", r)
	}
}

// A reply with another id, or without QR, is ignored: the checker waits
// on for its own answer, and times out without it.
func TestDNSCheckWrongIDIsIgnored(t *testing.T) {
	wrong := func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Id ^= 0x5a5a
		w.WriteMsg(m)
	}
	notResponse := func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Response = false
		w.WriteMsg(m)
	}
	for name, bad := range map[string]func(dns.ResponseWriter, *dns.Msg){"wrong id": wrong, "QR unset": notResponse} {
		s := newDNSServer(t, bad)
		start := time.Now()
		if r := probe(dnsCheck(s.addr), time.Second); r.OK || r.Reason != "read timeout from socket" {
			t.Fatalf("%s: %+v, want a read timeout", name, r)
		}
		if took := time.Since(start); took < 250*time.Millisecond {
			t.Fatalf("%s: failed after %v, before connect_timeout", name, took)
		}
		// The bad reply first, then the right one: success.
		s.set(func(w dns.ResponseWriter, q *dns.Msg) {
			bad(w, q)
			rcode(dns.RcodeSuccess)(w, q)
		})
		if r := probe(dnsCheck(s.addr), time.Second); !r.OK {
			t.Fatalf("%s then the answer: %+v", name, r)
		}
	}
}

func TestDNSCheckTimeoutAndRefused(t *testing.T) {
	s := newDNSServer(t, silent)
	if r := probe(dnsCheck(s.addr), time.Second); r.OK || r.Reason != "read timeout from socket" {
		t.Fatalf("silent server: %+v", r)
	}
	r := probe(dnsCheck(closedUDPPort(t)), time.Second)
	if r.OK || r.Reason != "failed to read socket; errno 111 (Connection refused)" {
		t.Fatalf("closed port: %+v", r)
	}
}

func TestJudgeDNSReply(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion(".", dns.TypeSOA)
	q.Id = 0x1234
	ok := new(dns.Msg)
	ok.SetReply(q)
	good, _ := ok.Pack()
	for _, tc := range []struct {
		name    string
		b       []byte
		decided bool
		ok      bool
	}{
		{"answer", good, true, true},
		{"header only", good[:12], true, true}, // keepalived reads the header alone
		{"short", good[:11], false, false},
		{"truncated body", good[:14], true, true},
		{"wrong id", append([]byte{0x12, 0x35}, good[2:]...), false, false},
		{"query", append(append([]byte{}, good[:2]...), append([]byte{good[2] &^ 0x80}, good[3:]...)...), false, false},
		{"refused", append(append([]byte{}, good[:3]...), append([]byte{good[3] | 5}, good[4:]...)...), true, false},
	} {
		r, decided := JudgeDNSReply(0x1234, tc.b)
		if decided != tc.decided || r.OK != tc.ok {
			t.Errorf("%s: %+v decided %v, want decided %v ok %v", tc.name, r, decided, tc.decided, tc.ok)
		}
	}
}

// FuzzDNSReply checks the verdict on any datagram against keepalived's
// reading of the header alone (check_dns.c dns_recv_thread): length, id,
// QR and the four RCODE bits.
func FuzzDNSReply(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("example.com.", dns.TypeA)
	q.Id = 7
	for _, code := range []int{dns.RcodeSuccess, dns.RcodeServerFailure, dns.RcodeBadVers} {
		m := new(dns.Msg)
		m.SetRcode(q, code)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IPv4(192, 0, 2, 1)})
		if code == dns.RcodeBadVers {
			m.SetEdns0(1232, false) // the extended bits go into the OPT record
			m.Rcode = code
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint16(7), b)
	}
	f.Add(uint16(0), []byte{0, 0, 0x80, 0})
	f.Fuzz(func(t *testing.T, id uint16, b []byte) {
		r, decided := JudgeDNSReply(id, b)
		if len(b) < 12 || binary.BigEndian.Uint16(b) != id || b[2]&0x80 == 0 {
			if decided {
				t.Fatalf("decided %+v on a datagram keepalived ignores", r)
			}
			return
		}
		if !decided || r.OK != (b[3]&0x0f == 0) {
			t.Fatalf("%+v decided %v for RCODE %d", r, decided, b[3]&0x0f)
		}
		if !r.OK && !strings.HasPrefix(r.Reason, "read error occurred. (rcode = ") {
			t.Fatalf("reason %q", r.Reason)
		}
	})
}

func TestDNSLines(t *testing.T) {
	d := &DNS{}
	if l := d.UpLine("[10.0.0.2]:udp:53"); l != "" {
		t.Errorf("keepalived logs no success line for DNS_CHECK: %q", l)
	}
	if l := d.DownLine("[10.0.0.2]:udp:53", "", 3, true, "read timeout from socket"); l != "DNS_CHECK ([10.0.0.2]:udp:53) read timeout from socket after 3 retries" {
		t.Error(l)
	}
	if l := d.DownLine("[10.0.0.2]:udp:53", "", 3, false, "read timeout from socket"); l != "DNS_CHECK ([10.0.0.2]:udp:53) read timeout from socket" {
		t.Error(l)
	}
}
