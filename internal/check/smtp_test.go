package check

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// smtpServer is a loopback SMTP server that answers as script says: the
// banner, then for each command read, its reply ("" closes the
// connection). The commands it read are sent to heard.
type smtpServer struct {
	addr  netip.AddrPort
	heard chan string
}

func startSMTP(t *testing.T, banner string, replies ...string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{addr: netip.MustParseAddrPort(ln.Addr().String()), heard: make(chan string, 16)}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if banner == "" {
					io.Copy(io.Discard, c) // never greets
					return
				}
				io.WriteString(c, banner)
				r := bufio.NewReader(c)
				for _, reply := range replies {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					select {
					case s.heard <- line:
					default:
					}
					if reply == "" {
						return
					}
					io.WriteString(c, reply)
				}
			}()
		}
	}()
	return s
}

func smtpCheck(addr netip.AddrPort, timeout time.Duration) *SMTP {
	return &SMTP{Conn: Conn{Addr: addr, Timeout: timeout}, Server: addr}
}

func TestSMTPGoodConversation(t *testing.T) {
	s := startSMTP(t, "220 mail.example ESMTP\r\n", "250 hello\r\n", "221 bye\r\n")
	c := smtpCheck(s.addr, time.Second)
	if r := c.Check(context.Background()); !r.OK {
		t.Fatalf("good server: %+v", r)
	}
	if helo := <-s.heard; helo != "HELO smtpchecker.keepalived.org\r\n" {
		t.Fatalf("sent %q, want keepalived's default HELO", helo)
	}
	if quit := <-s.heard; quit != "QUIT\r\n" {
		t.Fatalf("sent %q", quit)
	}
	c.Helo = "lb1.example"
	c.Check(context.Background())
	if helo := <-s.heard; helo != "HELO lb1.example\r\n" {
		t.Fatalf("sent %q, want helo_name", helo)
	}
}

// Multi-line replies (RFC 5321) are read to their last line; keepalived
// reads their first line and fails them.
func TestSMTPMultiLineReplies(t *testing.T) {
	s := startSMTP(t, "220-mail.example ESMTP\r\n220-more\r\n220 ready\r\n", "250-hello\r\n250 PIPELINING\r\n", "221 bye\r\n")
	if r := smtpCheck(s.addr, time.Second).Check(context.Background()); !r.OK {
		t.Fatalf("multi-line replies: %+v", r)
	}
}

func TestSMTPFailures(t *testing.T) {
	closed := func() netip.AddrPort {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		a := netip.MustParseAddrPort(ln.Addr().String())
		ln.Close()
		return a
	}()
	for _, tc := range []struct {
		name   string
		addr   func(t *testing.T) netip.AddrPort
		reason string
		took   time.Duration
	}{
		{"bad banner", func(t *testing.T) netip.AddrPort { return startSMTP(t, "554 go away\r\n").addr }, "Bad greeting banner from server [127.0.0.1]:", 0},
		{"garbage banner", func(t *testing.T) netip.AddrPort { return startSMTP(t, "hello\r\n").addr }, "Bad greeting banner from server [127.0.0.1]:", 0},
		{"bad HELO", func(t *testing.T) netip.AddrPort { return startSMTP(t, "220 x\r\n", "501 no\r\n").addr }, "Bad HELO response from server [127.0.0.1]:", 0},
		{"closed before QUIT reply", func(t *testing.T) netip.AddrPort { return startSMTP(t, "220 x\r\n", "250 ok\r\n", "").addr }, "Read failure from server [127.0.0.1]:", 0},
		{"refused", func(*testing.T) netip.AddrPort { return closed }, "Could not connect to server [127.0.0.1]:", 0},
		{"no banner", func(t *testing.T) netip.AddrPort { return startSMTP(t, "").addr }, "Read timeout from server [127.0.0.1]:", 300 * time.Millisecond},
		{"no handshake", fullListener, "Connection timeout to server [127.0.0.1]:", 300 * time.Millisecond},
	} {
		addr := tc.addr(t)
		start := time.Now()
		r := smtpCheck(addr, 300*time.Millisecond).Check(context.Background())
		took := time.Since(start)
		if r.OK || !strings.HasPrefix(r.Reason, tc.reason) || !strings.HasSuffix(r.Reason, "]:"+itoa(int(addr.Port()))) {
			t.Errorf("%s: %+v, want %q", tc.name, r, tc.reason)
		}
		if tc.took > 0 && (took < tc.took-50*time.Millisecond || took > tc.took+time.Second) {
			t.Errorf("%s: took %v, want about connect_timeout %v", tc.name, took, tc.took)
		}
	}
}

func itoa(n int) string {
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// Any reply to QUIT ends a good check (check_smtp.c SMTP_RECV_QUIT).
func TestSMTPAnyReplyToQuit(t *testing.T) {
	s := startSMTP(t, "220 x\r\n", "250 ok\r\n", "500 what\r\n")
	if r := smtpCheck(s.addr, time.Second).Check(context.Background()); !r.OK {
		t.Fatalf("%+v", r)
	}
}

func TestParseSMTPLine(t *testing.T) {
	for _, tc := range []struct {
		line     string
		code     int
		more, ok bool
	}{
		{"220 mail ESMTP\r\n", 220, false, true},
		{"220\r\n", 220, false, true},
		{"220", 220, false, true},
		{"250-PIPELINING\r\n", 250, true, true},
		{"25 short\r\n", 0, false, false},
		{"2x0 bad\r\n", 0, false, false},
		{"2200 long\r\n", 0, false, false},
		{" 220 space\r\n", 0, false, false},
		{"", 0, false, false},
	} {
		code, more, ok := ParseSMTPLine([]byte(tc.line))
		if code != tc.code || more != tc.more || ok != tc.ok {
			t.Errorf("%q: %d %v %v, want %d %v %v", tc.line, code, more, ok, tc.code, tc.more, tc.ok)
		}
	}
}

func TestReadSMTPReply(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code int
		err  error
	}{
		{"220 ok\r\n", 220, nil},
		{"250-a\r\n250-b\r\n250 c\r\nextra", 250, nil},
		{"250-a\r\n251 b\r\n", 0, errBadReply},
		{"250-a\r\n", 0, io.ErrUnexpectedEOF},
		{"220 no newline", 0, io.ErrUnexpectedEOF},
		{strings.Repeat("x", 600) + "\n", 0, errBadReply},
	} {
		code, err := ReadSMTPReply(bufio.NewReaderSize(strings.NewReader(tc.in), smtpLineMax))
		if code != tc.code || !errors.Is(err, tc.err) {
			t.Errorf("%.20q: %d %v, want %d %v", tc.in, code, err, tc.code, tc.err)
		}
	}
}

// FuzzSMTPReply: reading any bytes as a reply never panics, and a reply
// read has the code of its first line, made of its first three digits.
func FuzzSMTPReply(f *testing.F) {
	for _, s := range []string{"220 ok\r\n", "250-a\r\n250 b\r\n", "250-a\r\n251 b\r\n", "220\n", "", "\n", "999-\n999 \n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		code, err := ReadSMTPReply(bufio.NewReaderSize(bytes.NewReader(in), smtpLineMax))
		if err != nil {
			if code != 0 {
				t.Fatalf("code %d with error %v", code, err)
			}
			return
		}
		if code < 0 || code > 999 || len(in) < 3 || int(in[0]-'0')*100+int(in[1]-'0')*10+int(in[2]-'0') != code {
			t.Fatalf("%q read as code %d", in, code)
		}
		line, _, _ := bytes.Cut(in, []byte("\n"))
		if c, _, ok := ParseSMTPLine(line); !ok || c != code {
			t.Fatalf("%q: first line %q parses as %d %v", in, line, c, ok)
		}
	})
}
