package testenv

import (
	"bufio"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// RawHTTPServer is a loopback TCP server for HTTP clients under test
// (HTTP_GET, genhash): it reads each request's header, records it and
// lets respond write whatever bytes the test wants, malformed included,
// which net/http's server would not send.
type RawHTTPServer struct {
	Addr netip.AddrPort
	mu   sync.Mutex
	reqs []string
}

// NewRawHTTPServer listens on 127.0.0.1 until the test ends, calling
// respond with each connection after its request header.
func NewRawHTTPServer(t testing.TB, respond func(c net.Conn, req string)) *RawHTTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &RawHTTPServer{Addr: netip.MustParseAddrPort(ln.Addr().String())}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				req := readHeader(c)
				s.mu.Lock()
				s.reqs = append(s.reqs, req)
				s.mu.Unlock()
				respond(c, req)
			}()
		}
	}()
	return s
}

// readHeader reads up to the blank line ending a request header.
func readHeader(c net.Conn) string {
	var req strings.Builder
	br := bufio.NewReader(c)
	for {
		l, err := br.ReadString('\n')
		req.WriteString(l)
		if err != nil || l == "\r\n" {
			return req.String()
		}
	}
}

// Requests are the request headers received so far.
func (s *RawHTTPServer) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}
