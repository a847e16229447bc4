package check

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// udpServer is a loopback UDP server whose answer to each datagram is
// set by the test: nil is silence.
type udpServer struct {
	conn  *net.UDPConn
	addr  netip.AddrPort
	mu    sync.Mutex
	reply func(req []byte) []byte
	got   [][]byte
	from  []netip.AddrPort
}

func newUDPServer(t *testing.T, reply func([]byte) []byte) *udpServer {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	s := &udpServer{conn: c, addr: netip.MustParseAddrPort(c.LocalAddr().String()), reply: reply}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			req := bytes.Clone(buf[:n])
			s.mu.Lock()
			s.got, s.from = append(s.got, req), append(s.from, from)
			reply := s.reply
			s.mu.Unlock()
			if reply == nil {
				continue
			}
			if out := reply(req); out != nil {
				c.WriteToUDPAddrPort(out, from)
			}
		}
	}()
	return s
}

func (s *udpServer) setReply(f func([]byte) []byte) {
	s.mu.Lock()
	s.reply = f
	s.mu.Unlock()
}

func (s *udpServer) last() ([]byte, netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) == 0 {
		return nil, netip.AddrPort{}
	}
	return s.got[len(s.got)-1], s.from[len(s.from)-1]
}

func echo(req []byte) []byte { return req }

func constant(b string) func([]byte) []byte { return func([]byte) []byte { return []byte(b) } }

// closedUDPPort is a loopback port nobody listens on: a datagram to it
// draws an ICMP port unreachable.
func closedUDPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(c.LocalAddr().String())
	c.Close()
	return addr
}

func udpCheck(addr netip.AddrPort) *UDP {
	return &UDP{Conn: Conn{Addr: addr, Timeout: 300 * time.Millisecond}, MaxReplyLength: DefaultUDPMaxReplyLength}
}

// An answering server is up, and gets keepalived's default payload.
func TestUDPCheckUpAndDefaultPayload(t *testing.T) {
	s := newUDPServer(t, echo)
	if r := probe(udpCheck(s.addr), time.Second); !r.OK {
		t.Fatalf("echo server: %+v", r)
	}
	if got, _ := s.last(); string(got) != "keepalived check - keepalived ch" {
		t.Fatalf("payload %q, want keepalived's 32 octets of filler", got)
	}
}

// An ICMP port unreachable fails the check at once.
func TestUDPCheckPortUnreachableFails(t *testing.T) {
	start := time.Now()
	r := probe(udpCheck(closedUDPPort(t)), time.Second)
	if r.OK || !strings.Contains(r.Reason, "unreachable") {
		t.Fatalf("closed port: %+v, want a failure for the ICMP port unreachable", r)
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Fatalf("took %v: the ICMP error should end the check before connect_timeout", took)
	}
}

// Silence is success unless require_reply.
func TestUDPCheckSilence(t *testing.T) {
	s := newUDPServer(t, nil)
	c := udpCheck(s.addr)
	start := time.Now()
	if r := probe(c, time.Second); !r.OK {
		t.Fatalf("silent server without require_reply: %+v", r)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("took %v: the checker must wait connect_timeout for an ICMP error", took)
	}
	c.RequireReply = true
	if r := probe(c, time.Second); r.OK {
		t.Fatal("silent server with require_reply is up")
	}
}

// require_reply's hex string must match the start of the reply, x
// nibbles excepted; only the shorter of the two is compared.
func TestUDPCheckReplyData(t *testing.T) {
	s := newUDPServer(t, constant("ok"))
	c := udpCheck(s.addr)
	c.RequireReply = true
	for _, tc := range []struct {
		hex, reply string
		ok         bool
	}{
		{"6f 6b", "ok", true},
		{"6f6b", "no", false},
		{"6x 6b", "ok", true},
		{"6x 6b", "ak", true},
		{"7x 6b", "ok", false},
		{"6f 6b 21", "ok", true}, // the reply is shorter: its 2 octets are compared
		{"6f", "ok!", true},      // the string is shorter
		{"6f", "no", false},
	} {
		data, mask, ok := ParseHex(tc.hex, true)
		if !ok {
			t.Fatalf("ParseHex(%q) failed", tc.hex)
		}
		c.Reply, c.ReplyMask = data, mask
		s.setReply(constant(tc.reply))
		if r := probe(c, time.Second); r.OK != tc.ok || r.Mismatch == tc.ok {
			t.Errorf("require_reply %q, reply %q: %+v, want ok=%v (a refused reply is a mismatch)", tc.hex, tc.reply, r, tc.ok)
		}
	}
}

// With require_reply the reply's length must be within min and max
// reply length (as keepalived.conf(5) says, with or without a hex
// string); without it the length does not matter.
func TestUDPCheckReplyLengths(t *testing.T) {
	s := newUDPServer(t, nil)
	c := udpCheck(s.addr)
	c.RequireReply, c.MinReplyLength, c.MaxReplyLength = true, 3, 5
	for _, n := range []int{2, 3, 5, 6, 300} {
		s.setReply(constant(strings.Repeat("a", n)))
		if r := probe(c, time.Second); r.OK != (n >= 3 && n <= 5) || r.Mismatch == r.OK {
			t.Errorf("reply of %d octets with lengths 3-5: %+v", n, r)
		}
	}
	c.Reply = []byte("aa")
	s.setReply(constant("aaaaaaa"))
	if r := probe(c, time.Second); r.OK {
		t.Error("a matching reply longer than max_reply_length is up")
	}
	c.RequireReply, c.Reply = false, nil
	if r := probe(c, time.Second); !r.OK {
		t.Errorf("without require_reply the length must not matter: %+v", r)
	}
}

// The configured payload is sent, from bind_port.
func TestUDPCheckPayloadAndBindPort(t *testing.T) {
	s := newUDPServer(t, echo)
	free := closedUDPPort(t)
	c := udpCheck(s.addr)
	c.Payload = []byte{0xab, 0x12, 0x0f}
	c.Conn.BindTo, c.Conn.BindPort = netip.MustParseAddr("127.0.0.1"), free.Port()
	if r := probe(c, time.Second); !r.OK {
		t.Fatal(r)
	}
	got, from := s.last()
	if !bytes.Equal(got, c.Payload) || from.Port() != free.Port() {
		t.Fatalf("server got %x from %v, want %x from port %d", got, from, c.Payload, free.Port())
	}
}

func TestParseHexIsKeepalivedsReadHexStr(t *testing.T) {
	for _, tc := range []struct {
		in       string
		wild     bool
		data     string // hex of the octets, "" for invalid
		wildMask string
	}{
		// keepalived.conf(5)'s example.
		{"Ab12f 3 456 546443123", false, "ab120f0345065464431203", ""},
		{"  00\t01 ", false, "0001", ""},
		{"6x 6b", true, "606b", "0f00"},
		{"x6 XX", true, "0600", "f0ff"},
		{"6x", false, "", ""},   // a wildcard where none is allowed
		{"0g", false, "", ""},   // not a hex digit
		{"", false, "", ""},     // nothing
		{"a\tb", false, "", ""}, // a tab inside an octet
		// A last octet ff: 2.2.7 refuses it (its error marker), 2.3.3
		// and keepalived-go read it.
		{"ff", false, "ff", ""},
		{"00ff", false, "00ff", ""},
		{"01 fF", true, "01ff", ""},
		{"0x ff", true, "00ff", "0f00"},
		{"ff 00", false, "ff00", ""},
		{"ff g", false, "", ""},
	} {
		data, mask, ok := ParseHex(tc.in, tc.wild)
		if tc.data == "" {
			if ok {
				t.Errorf("ParseHex(%q) = %x, want invalid", tc.in, data)
			}
			continue
		}
		if !ok || hexOf(data) != tc.data || hexOf(mask) != tc.wildMask {
			t.Errorf("ParseHex(%q) = %x mask %x ok %v, want %s mask %q", tc.in, data, mask, ok, tc.data, tc.wildMask)
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestUDPLines(t *testing.T) {
	u := &UDP{}
	if l := u.UpLine("[10.0.0.2]:udp:53"); l != "UDP connection to [10.0.0.2]:udp:53 success." {
		t.Error(l)
	}
	if l := u.DownLine("[10.0.0.2]:udp:53", "[10.0.0.1]:udp:53", 3, true, ""); l != "UDP_CHECK on service [10.0.0.2]:udp:53 failed after 3 retries." {
		t.Error(l)
	}
	if l := u.DownLine("[10.0.0.2]:udp:53", "[10.0.0.1]:udp:53", 3, false, "no reply"); l != "UDP_CHECK on service [10.0.0.2]:udp:53 failed. (no reply)" {
		t.Error(l)
	}
}
