package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// DNS is DNS_CHECK (check/check_dns.c): one query over UDP, recursion
// desired, a random id, class IN, for Type and Name. The first reply with
// the same id and QR set decides: RCODE 0 is success, any other a
// failure. Datagrams shorter than a header, with another id or without
// QR are ignored (the checker goes on waiting until connect_timeout).
//
// keepalived does not look at the answer count or the answers: a NOERROR
// reply with no answer (NODATA) is a success, and so here.
type DNS struct {
	Conn Conn
	// Type is the query type (keepalived's default: SOA); Name the name
	// queried (default: the root).
	Type uint16
	Name string
}

// DNSTypes are the query types DNS_CHECK's type keyword accepts, in any
// case (check_dns.c DNS_TYPE).
var DNSTypes = map[string]uint16{
	"A": dns.TypeA, "NS": dns.TypeNS, "CNAME": dns.TypeCNAME, "SOA": dns.TypeSOA, "MX": dns.TypeMX,
	"TXT": dns.TypeTXT, "AAAA": dns.TypeAAAA, "RRSIG": dns.TypeRRSIG, "DNSKEY": dns.TypeDNSKEY,
}

func (d *DNS) String() string {
	return fmt.Sprintf("[%s]:udp:%d", d.Conn.Addr.Addr(), d.Conn.Addr.Port())
}

// query is the request check_dns.c dns_make_query builds.
func (d *DNS) query() *dns.Msg {
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.RecursionDesired = true
	typ := d.Type
	if typ == 0 {
		typ = dns.TypeSOA
	}
	m.Question = []dns.Question{{Name: dns.Fqdn(d.Name), Qtype: typ, Qclass: dns.ClassINET}}
	return m
}

// Check sends the query and waits for its answer. The reasons are
// keepalived's (dns_recv_thread, dns_send), which it logs when the
// checker fails for good: "DNS_CHECK (RS) REASON[ after N retries]".
func (d *DNS) Check(ctx context.Context) Result {
	q := d.query()
	out, err := q.Pack()
	if err != nil {
		return Result{Reason: "cannot build the query: " + err.Error()}
	}
	c, err := d.Conn.dial(ctx, "udp")
	if err != nil {
		if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
			// inet_sockaddrtopair's "[ADDR]:PORT"
			return Result{Reason: fmt.Sprintf("network unreachable for [%s]:%d", d.Conn.Addr.Addr(), d.Conn.Addr.Port())}
		}
		return Result{Reason: "connection error."}
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	c.SetDeadline(deadline(ctx, d.Conn.Timeout))
	if n, err := c.Write(out); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return Result{Reason: "write timeout to socket."}
		}
		return Result{Reason: "failed to write socket."}
	} else if n != len(out) {
		return Result{Reason: "failed to write all of the datagram."}
	}
	buf := make([]byte, dnsBufferSize)
	for {
		n, err := c.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return Result{Reason: "read timeout from socket"}
		}
		if err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) {
				return Result{Reason: fmt.Sprintf("failed to read socket; errno %d (%s)", int(errno), errnoText(errno))}
			}
			return Result{Reason: "failed to read socket; " + err.Error()}
		}
		if r, decided := JudgeDNSReply(q.Id, buf[:n]); decided {
			return r
		}
	}
}

// dnsBufferSize is keepalived's receive buffer (check_dns.h
// DNS_BUFFER_SIZE); a longer reply is cut, which does not matter since
// only its header counts.
const dnsBufferSize = 768

// JudgeDNSReply is check_dns.c dns_recv_thread's verdict on one datagram
// received for the query id: decided is false for a datagram the checker
// ignores (shorter than a header, another id, QR not set); otherwise the
// result: RCODE 0 is success whatever the rest holds (keepalived reads the
// header only, so a reply whose body does not parse still counts).
func JudgeDNSReply(id uint16, b []byte) (r Result, decided bool) {
	if len(b) < dnsHeaderLen {
		return Result{}, false
	}
	var m dns.Msg
	// Unpack fills the header before it reads the sections; an error in
	// them leaves the header as received.
	_ = m.Unpack(b)
	if m.Id != id || !m.Response {
		return Result{}, false
	}
	// The header's four RCODE bits: Unpack adds an OPT record's extended
	// bits above them, which keepalived does not read.
	if rcode := m.Rcode & 0xf; rcode != dns.RcodeSuccess {
		return Result{Reason: fmt.Sprintf("read error occurred. (rcode = %d)", rcode)}, true
	}
	return Result{OK: true}, true
}

const dnsHeaderLen = 12

// errnoText is strerror's text: Go's error strings are lower case.
func errnoText(e syscall.Errno) string {
	s := e.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// UpLine: keepalived logs no line of its own when a DNS_CHECK succeeds
// (check_dns.c dns_final).
func (d *DNS) UpLine(string) string { return "" }

// DownLine is dns_final's line: "DNS_CHECK (RS) REASON", with " after N
// retries" once the checker has run before (even for retry 0).
func (d *DNS) DownLine(rs, _ string, retry int, hasRun bool, reason string) string {
	s := fmt.Sprintf("DNS_CHECK (%s) %s", rs, reason)
	if hasRun {
		s += fmt.Sprintf(" after %d retries", retry)
	}
	return s
}
