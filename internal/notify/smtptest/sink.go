// Package smtptest is an SMTP server for tests: emersion/go-smtp on
// loopback, recording what each client sent byte for byte and the
// messages it took.
package smtptest

import (
	"bytes"
	"io"
	"log"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"

	smtp "github.com/emersion/go-smtp"
)

// Sink is a running SMTP server on 127.0.0.1, closed when the test ends.
type Sink struct {
	Port string // the port it listens on

	srv    *smtp.Server
	served chan struct{}

	mu      sync.Mutex
	wires   []*bytes.Buffer // what each connection sent, in order
	msgs    []string        // the data of each message taken
	refuse  string          // a recipient refused with 550
	quitted int             // connections the client ended with QUIT
}

// New starts a Sink for the test t.
func New(t testing.TB) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Sink{served: make(chan struct{})}
	s.Port = ln.Addr().String()[strings.LastIndexByte(ln.Addr().String(), ':')+1:]
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s}, nil }))
	s.srv.Domain = "sink.test"
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	go func() { defer close(s.served); s.srv.Serve(&tapListener{Listener: ln, sink: s}) }()
	t.Cleanup(func() { s.srv.Close(); <-s.served })
	return s
}

// Refuse makes the server refuse the recipient addr (550).
func (s *Sink) Refuse(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = addr
}

// Wire is what the n-th connection sent, "" if there was none.
func (s *Sink) Wire(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n >= len(s.wires) {
		return ""
	}
	return s.wires[n].String()
}

// Messages are the data of the messages taken, in order.
func (s *Sink) Messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// Quitted is how many connections the client ended with QUIT.
func (s *Sink) Quitted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quitted
}

var subjectBody = regexp.MustCompile(`(?s)Subject: ([^\r]*)\r\n.*?\r\n\r\n(.*?)\r\n`)

// Alerts are the messages taken as "SUBJECT | BODY".
func (s *Sink) Alerts() []string {
	var out []string
	for _, m := range s.Messages() {
		if sb := subjectBody.FindStringSubmatch(m); sb != nil {
			out = append(out, sb[1]+" | "+sb[2])
		} else {
			out = append(out, "unreadable: "+m)
		}
	}
	return out
}

type tapListener struct {
	net.Listener
	sink *Sink
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	buf := &bytes.Buffer{}
	l.sink.mu.Lock()
	l.sink.wires = append(l.sink.wires, buf)
	l.sink.mu.Unlock()
	return &tapConn{Conn: c, buf: buf, sink: l.sink}, nil
}

type tapConn struct {
	net.Conn
	buf  *bytes.Buffer
	sink *Sink
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.sink.mu.Lock()
	c.buf.Write(p[:n])
	if n > 0 && strings.HasSuffix(c.buf.String(), "QUIT\r\n") {
		c.sink.quitted++
	}
	c.sink.mu.Unlock()
	return n, err
}

type session struct{ s *Sink }

func (ss *session) Reset()                               {}
func (ss *session) Logout() error                        { return nil }
func (ss *session) Mail(string, *smtp.MailOptions) error { return nil }

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if to == ss.s.refuse {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, string(b))
	ss.s.mu.Unlock()
	return err
}
