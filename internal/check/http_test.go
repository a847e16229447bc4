package check

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// answer is a respond function writing a fixed response.
func answer(resp string) func(net.Conn, string) {
	return func(c net.Conn, _ string) { io.WriteString(c, resp) }
}

func okResponse(body string) string {
	return fmt.Sprintf("HTTP/1.0 200 OK\r\nContent-Length: %d\r\nContent-Type: text/html\r\n\r\n%s", len(body), body)
}

func testURL(t *testing.T, path string, addr netip.AddrPort) *URL {
	t.Helper()
	st, err := ParseStatusCodes(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &URL{Path: path, Host: HostHeader("", addr), Status: st}
}

func httpCheck(addr netip.AddrPort, urls ...*URL) *HTTP {
	return &HTTP{Conn: Conn{Addr: addr, Timeout: time.Second}, URLs: urls}
}

func md5Of(s string) *[md5.Size]byte {
	d := md5.Sum([]byte(s))
	return &d
}

// The request is keepalived's, byte for byte; a 200 with the right
// digest passes.
func TestHTTPGetRequestAndSuccess(t *testing.T) {
	srv := testenv.NewRawHTTPServer(t, answer(okResponse("Hello world\n")))
	u := testURL(t, "/index.html", srv.Addr)
	u.Digest = md5Of("Hello world\n")
	h := httpCheck(srv.Addr, u)
	if r := probe(h, time.Second); !r.OK {
		t.Fatalf("%+v", r)
	}
	want := fmt.Sprintf("GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:%d\r\n\r\n", srv.Addr.Port())
	if got := srv.Requests(); len(got) != 1 || got[0] != want {
		t.Fatalf("request %q, want %q", got, want)
	}
	if h.last.msg != "MD5 digest" {
		t.Fatalf("success message %q", h.last.msg)
	}
}

// http_protocol 1.1 and 1.0C ask the server to close; a virtualhost
// replaces the address in Host, without a port.
func TestHTTPGetProtocolAndVirtualhost(t *testing.T) {
	srv := testenv.NewRawHTTPServer(t, answer(okResponse("x")))
	for _, tc := range []struct {
		proto HTTPProtocol
		want  string
	}{
		{HTTP11, "GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.com\r\n\r\n"},
		{HTTP10C, "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.com\r\n\r\n"},
	} {
		u := testURL(t, "/", srv.Addr)
		u.Host = HostHeader("www.example.com", srv.Addr)
		h := httpCheck(srv.Addr, u)
		h.Protocol = tc.proto
		if r := probe(h, time.Second); !r.OK {
			t.Fatalf("%+v", r)
		}
		reqs := srv.Requests()
		if got := reqs[len(reqs)-1]; got != tc.want {
			t.Errorf("%v: request %q, want %q", tc.proto, got, tc.want)
		}
	}
	if got := HostHeader("", netip.MustParseAddrPort("[2001:db8::1]:8080")); got != "[2001:db8::1]:8080" {
		t.Errorf("IPv6 Host %q", got)
	}
}

func TestHTTPGetRefused(t *testing.T) {
	srv := testenv.NewRawHTTPServer(t, answer(""))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	h := httpCheck(addr, testURL(t, "/", srv.Addr))
	r := probe(h, time.Second)
	if r.OK || h.last.msg != msgConnectFailed || !strings.Contains(r.Reason, "refused") {
		t.Fatalf("closed port: %+v, message %q", r, h.last.msg)
	}
}

// The whole fetch is bounded by connect_timeout: a server that never
// answers, or drips its answer a byte at a time, fails in about that
// time (keepalived bounds each read).
func TestHTTPGetTimesOut(t *testing.T) {
	silent := testenv.NewRawHTTPServer(t, func(c net.Conn, _ string) { io.Copy(io.Discard, c) })
	drip := testenv.NewRawHTTPServer(t, func(c net.Conn, _ string) {
		for _, b := range []byte(okResponse("Hello world\n")) {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	for _, tc := range []struct {
		srv *testenv.RawHTTPServer
		msg string
	}{{silent, msgFirstRead}, {drip, msgHTTPRead}} {
		h := httpCheck(tc.srv.Addr, testURL(t, "/", tc.srv.Addr))
		start := time.Now()
		r := probe(h, 300*time.Millisecond)
		took := time.Since(start)
		if r.OK || h.last.msg != tc.msg {
			t.Fatalf("%+v, message %q, want %q", r, h.last.msg, tc.msg)
		}
		if took < 250*time.Millisecond || took > time.Second {
			t.Fatalf("took %v, want about 300ms", took)
		}
	}
	// The connection itself timing out.
	h := httpCheck(fullListener(t), testURL(t, "/", silent.Addr))
	if r := probe(h, 300*time.Millisecond); r.OK || h.last.msg != msgConnectTimeout {
		t.Fatalf("%+v, message %q", r, h.last.msg)
	}
}

func TestHTTPGetStatusCodes(t *testing.T) {
	srv := testenv.NewRawHTTPServer(t, answer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"))
	u := testURL(t, "/", srv.Addr)
	h := httpCheck(srv.Addr, u)
	if r := probe(h, time.Second); r.OK || h.last.msg != msgStatus || !strings.Contains(r.Reason, "503") {
		t.Fatalf("503 against 200-299: %+v %q", r, h.last.msg)
	}
	var err error
	if u.Status, err = ParseStatusCodes([]string{"200", "500-503"}); err != nil {
		t.Fatal(err)
	}
	if r := probe(h, time.Second); !r.OK {
		t.Fatalf("503 against 200 500-503: %+v", r)
	}
	for _, bad := range []string{"99", "600", "300-200", "2x0"} {
		if _, err := ParseStatusCodes([]string{bad}); err == nil {
			t.Errorf("status_code %s accepted", bad)
		}
	}
}

func TestHTTPGetWrongDigest(t *testing.T) {
	srv := testenv.NewRawHTTPServer(t, answer(okResponse("Hello world\n")))
	u := testURL(t, "/", srv.Addr)
	u.Digest = md5Of("Hello World\n")
	h := httpCheck(srv.Addr, u)
	if r := probe(h, time.Second); r.OK || h.last.msg != msgDigest {
		t.Fatalf("%+v %q", r, h.last.msg)
	}
	// The digest covers Content-Length bytes only.
	srv2 := testenv.NewRawHTTPServer(t, answer("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nHello world\n"))
	u2 := testURL(t, "/", srv2.Addr)
	u2.Digest = md5Of("Hello")
	var lines []string
	h2 := httpCheck(srv2.Addr, u2)
	h2.Log = func(s string) { lines = append(lines, s) }
	if r := probe(h2, time.Second); !r.OK {
		t.Fatalf("digest cut to Content-Length: %+v", r)
	}
}

// A body shorter than its Content-Length is logged the first time.
func TestHTTPGetContentLengthMismatchLogged(t *testing.T) {
	srv := testenv.NewRawHTTPServer(t, answer("HTTP/1.0 200 OK\r\nContent-Length: 50\r\n\r\nHello world\n"))
	var lines []string
	h := httpCheck(srv.Addr, testURL(t, "/x", srv.Addr))
	h.Server, h.Service = "[127.0.0.1]:tcp:80", "[192.0.2.1]:tcp:80"
	h.Log = func(s string) { lines = append(lines, s) }
	for i := 0; i < 2; i++ {
		if r := probe(h, time.Second); !r.OK {
			t.Fatalf("%+v", r)
		}
	}
	want := "http_check for RS [127.0.0.1]:tcp:80 VS [192.0.2.1]:tcp:80 url /x: content_length (50) does not match received bytes (12)"
	if len(lines) != 1 || lines[0] != want {
		t.Fatalf("log %q, want once %q", lines, want)
	}
}

func TestHTTPGetRegex(t *testing.T) {
	srv := testenv.NewRawHTTPServer(t, answer(okResponse("<html>\nStatus: RUNNING\n</html>\n")))
	for _, tc := range []struct {
		pattern string
		opts    []string
		noMatch bool
		min     int64
		max     int64
		hasMax  bool
		ok      bool
	}{
		{pattern: "Status: RUNNING", ok: true},
		{pattern: "Status: STOPPED", ok: false},
		{pattern: "Status: STOPPED", noMatch: true, ok: true},
		{pattern: "RUNNING", noMatch: true, ok: false},
		{pattern: "status: running", ok: false},
		{pattern: "status: running", opts: []string{"caseless"}, ok: true},
		{pattern: "</html>$", ok: true}, // PCRE's $ before a final newline
		{pattern: "</html>$", opts: []string{"dollar_endonly"}, ok: false},
		{pattern: "^Status", ok: false},
		{pattern: "^Status", opts: []string{"multiline"}, ok: true},
		{pattern: "html>.Status", ok: false},
		{pattern: "html>.Status", opts: []string{"dotall"}, ok: true},
		{pattern: "Status: \\s RUN  # comment\n NING", opts: []string{"extended"}, ok: true},
		{pattern: "Status", opts: []string{"firstline"}, ok: false},
		{pattern: "html", opts: []string{"firstline"}, ok: true},
		{pattern: "RUNNING", min: 8, ok: true},
		{pattern: "RUNNING", min: 16, ok: false},
		{pattern: "RUNNING", max: 15, hasMax: true, ok: true},
		{pattern: "RUNNING", max: 14, hasMax: true, ok: false},
	} {
		re, err := CompileRegex(tc.pattern, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		re.NoMatch, re.MinOffset, re.MaxOffset, re.HasMax = tc.noMatch, tc.min, tc.max, tc.hasMax
		u := testURL(t, "/", srv.Addr)
		u.Regex = re
		h := httpCheck(srv.Addr, u)
		if r := probe(h, time.Second); r.OK != tc.ok {
			t.Errorf("regex %q %v no_match %v offsets %d-%d: %+v, want ok %v", tc.pattern, tc.opts, tc.noMatch, tc.min, tc.max, r, tc.ok)
		} else if !r.OK && h.last.msg != msgRegex {
			t.Errorf("message %q", h.last.msg)
		}
	}
	if _, err := CompileRegex(`(a)\1`, nil); err == nil {
		t.Error("a backreference compiled")
	}
}

// A chunked body is decoded before its digest and regex; a digest of the
// chunked coding, as keepalived's genhash computes it, still passes with
// a warning logged once.
func TestHTTPGetChunkedBody(t *testing.T) {
	raw := "5\r\nHello\r\n7\r\n world\n\r\n0\r\n\r\n"
	srv := testenv.NewRawHTTPServer(t, answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+raw))
	u := testURL(t, "/", srv.Addr)
	u.Digest = md5Of("Hello world\n")
	u.Regex, _ = CompileRegex("lo wor", nil)
	var lines []string
	h := httpCheck(srv.Addr, u)
	h.Log = func(s string) { lines = append(lines, s) }
	if r := probe(h, time.Second); !r.OK {
		t.Fatalf("decoded digest: %+v", r)
	}
	u.Regex = nil
	u.Digest = md5Of(raw)
	for i := 0; i < 2; i++ {
		if r := probe(h, time.Second); !r.OK {
			t.Fatalf("keepalived's digest of the chunked coding: %+v", r)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "chunked") {
		t.Fatalf("want one warning, got %q", lines)
	}
	u.Digest = md5Of("Hello world")
	if r := probe(h, time.Second); r.OK {
		t.Fatal("a wrong digest of a chunked body passed")
	}
}

// A Go server answering in chunks, flushing between them.
func TestHTTPGetChunkedFromGoServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, s := range []string{"Hello", " world", "\n"} {
			io.WriteString(w, s)
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	addr := netip.MustParseAddrPort(srv.Listener.Addr().String())
	u := testURL(t, "/", addr)
	u.Digest = md5Of("Hello world\n")
	h := httpCheck(addr, u)
	h.Protocol = HTTP11
	if r := probe(h, time.Second); !r.OK {
		t.Fatalf("%+v", r)
	}
}

// A server that keeps the connection open after its response passes at
// once: the body ends where Content-Length says.
func TestHTTPGetKeepAliveServer(t *testing.T) {
	srv := testenv.NewRawHTTPServer(t, func(c net.Conn, _ string) {
		io.WriteString(c, okResponse("Hello world\n"))
		io.Copy(io.Discard, c) // open until the client closes
	})
	u := testURL(t, "/", srv.Addr)
	u.Digest = md5Of("Hello world\n")
	start := time.Now()
	if r := probe(httpCheck(srv.Addr, u), time.Second); !r.OK || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("%+v after %v", r, time.Since(start))
	}
}

// A server that closes without a header fails with keepalived's "no
// data" message.
func TestHTTPGetNoHeader(t *testing.T) {
	srv := testenv.NewRawHTTPServer(t, answer("HTTP/1.0 200 OK\r\n"))
	h := httpCheck(srv.Addr, testURL(t, "/", srv.Addr))
	if r := probe(h, time.Second); r.OK || h.last.msg != msgNoData {
		t.Fatalf("%+v %q", r, h.last.msg)
	}
}

// tlsServer is a loopback HTTPS server that records the SNI names it
// is sent.
type tlsServer struct {
	*httptest.Server
	Addr netip.AddrPort
	mu   sync.Mutex
	sni  []string
	// clientCerts is how many certificates each client sent.
	clientCerts []int
}

func newTLSServer(t *testing.T, body string) *tlsServer {
	t.Helper()
	s := &tlsServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Server.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		s.mu.Lock()
		s.sni = append(s.sni, hello.ServerName)
		s.mu.Unlock()
		return nil, nil
	}, VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
		s.mu.Lock()
		s.clientCerts = append(s.clientCerts, len(raw))
		s.mu.Unlock()
		return nil
	}}
	s.StartTLS()
	t.Cleanup(s.Close)
	s.Addr = netip.MustParseAddrPort(s.Listener.Addr().String())
	return s
}

func (s *tlsServer) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sni...)
}

func sslCheck(t *testing.T, addr netip.AddrPort, files SSLFiles, u *URL) *HTTP {
	t.Helper()
	cfg, err := ClientTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	h := httpCheck(addr, u)
	h.TLS = cfg
	return h
}

// SSL_GET passes against a self-signed certificate (keepalived verifies
// nothing) and sends SNI only when asked.
func TestSSLGetUnverifiedAndSNI(t *testing.T) {
	srv := newTLSServer(t, "Hello world\n")
	u := testURL(t, "/", srv.Addr)
	u.Digest = md5Of("Hello world\n")
	h := sslCheck(t, srv.Addr, SSLFiles{}, u)
	if VerifiesServers(h.TLS) {
		t.Fatal("verifies without a ca")
	}
	if r := probe(h, time.Second); !r.OK {
		t.Fatalf("%+v", r)
	}
	u.SNI = "www.example.com"
	h.TLSCompliant = true
	if r := probe(h, time.Second); !r.OK {
		t.Fatalf("%+v", r)
	}
	if got := srv.names(); len(got) != 2 || got[0] != "" || got[1] != "www.example.com" {
		t.Fatalf("SNI names %q, want none then www.example.com", got)
	}
}

// A TLS handshake that fails is keepalived's handshake error.
func TestSSLGetHandshakeError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\n")
			c.Close()
		}
	}()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	h := sslCheck(t, addr, SSLFiles{}, testURL(t, "/", addr))
	if r := probe(h, time.Second); r.OK || h.last.msg != msgSSLHandshake {
		t.Fatalf("%+v %q", r, h.last.msg)
	}
}

// With a ca the server's chain must lead to it.
func TestSSLGetVerifiesWithCA(t *testing.T) {
	srv := newTLSServer(t, "ok")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pem")
	os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	bad := filepath.Join(dir, "bad.pem")
	// A CA that signed nothing here: a fresh self-signed certificate.
	der, _ := testCertificate(t)
	os.WriteFile(bad, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	h := sslCheck(t, srv.Addr, SSLFiles{CA: good}, testURL(t, "/", srv.Addr))
	if !VerifiesServers(h.TLS) {
		t.Fatal("does not verify with a ca")
	}
	if r := probe(h, time.Second); !r.OK {
		t.Fatalf("%+v", r)
	}
	h = sslCheck(t, srv.Addr, SSLFiles{CA: bad}, testURL(t, "/", srv.Addr))
	if r := probe(h, time.Second); r.OK || h.last.msg != msgSSLHandshake {
		t.Fatalf("%+v %q", r, h.last.msg)
	}
}

// log_all_failures logs each failure while up with keepalived's words;
// a URL that passes while down is logged; the change lines are
// keepalived's.
func TestHTTPGetLogLines(t *testing.T) {
	var status sync.Map
	srv := testenv.NewRawHTTPServer(t, func(c net.Conn, req string) {
		code := 200
		if v, ok := status.Load("code"); ok {
			code = v.(int)
		}
		fmt.Fprintf(c, "HTTP/1.0 %d X\r\nContent-Length: 0\r\n\r\n", code)
	})
	u := testURL(t, "/p", srv.Addr)
	h := httpCheck(srv.Addr, u)
	var lines []string
	h.Log = func(s string) { lines = append(lines, s) }
	tm := Timing{DelayLoop: time.Second, DelayBeforeRetry: time.Second, Retry: 1}
	s := Resume(tm, true)
	name := h.String()
	step := func() Change {
		r := probe(h, time.Second)
		if !r.OK { // as the engine's OnFailure, under log_all_failures
			if l := h.FailureLine(AttemptOf(s, name, "[192.0.2.1]:tcp:80", r)); l != "" {
				lines = append(lines, l)
			}
		}
		_, c := h.Next(s, r)
		return c
	}
	status.Store("code", 500)
	if step() != Unchanged || step() != WentDown {
		t.Fatal("retry 1: want down on the second failure")
	}
	status.Store("code", 200)
	// The failed URL passes, then every URL again from the first.
	if step() != Unchanged || step() != WentUp {
		t.Fatal("want up on the second success")
	}
	want := []string{
		"HTTP status code error to server " + name + ". (/p: status code 500)",
		"HTTP status code error to server " + name + ". (/p: status code 500)",
		"HTTP_CHECK on service " + name + " failed after 1 retries. (/p: status code 500)",
		"HTTP status code success to " + name + " url(/p)",
		"HTTP status code success to " + name + " url(/p)",
		"Remote Web server " + name + " succeed on service.",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// The engine runs an HTTP checker's URL cycle: one URL per delay_loop,
// the failed URL retried, then all again from the first.
func TestHTTPGetCycleThroughTheEngine(t *testing.T) {
	var mu sync.Mutex
	failing := map[string]bool{}
	srv := testenv.NewRawHTTPServer(t, func(c net.Conn, req string) {
		path := strings.Fields(req)[1]
		mu.Lock()
		bad := failing[path]
		mu.Unlock()
		if bad {
			io.WriteString(c, "HTTP/1.0 404 Not Found\r\n\r\n")
			return
		}
		io.WriteString(c, okResponse("ok"))
	})
	h := httpCheck(srv.Addr, testURL(t, "/a", srv.Addr), testURL(t, "/b", srv.Addr), testURL(t, "/c", srv.Addr))
	e := startEngine(t)
	tm := Timing{DelayLoop: 20 * time.Millisecond, DelayBeforeRetry: 10 * time.Millisecond, Retry: 1}
	changes := make(chan Change, 8)
	mu.Lock()
	failing["/b"] = true
	mu.Unlock()
	e.addAt(&Job{Checker: h, Schedule: Resume(tm, true), Timeout: time.Second,
		OnResult: func(_ Result, c Change) {
			if c != Unchanged {
				changes <- c
			}
		}}, time.Now())
	if c := waitChange(t, changes); c != WentDown {
		t.Fatalf("change %v", c)
	}
	time.Sleep(100 * time.Millisecond) // the failed URL fetched again while down
	mu.Lock()
	failing["/b"] = false
	mu.Unlock()
	if c := waitChange(t, changes); c != WentUp {
		t.Fatalf("change %v", c)
	}
	var paths []string
	for _, r := range srv.Requests() {
		paths = append(paths, strings.Fields(r)[1])
	}
	got := strings.Join(paths, " ")
	// /a, /b failing twice (retry 1): down; /b again while down until it
	// passes; then /a /b /c: up.
	if !strings.HasPrefix(got, "/a /b /b /b") || !strings.HasSuffix(got, "/b /a /b /c") || strings.Contains(got, "/c /a") {
		t.Fatalf("paths fetched: %s", got)
	}
	if strings.Count(got, "/c") != 1 {
		t.Fatalf("paths fetched: %s", got)
	}
}

// The global SSL block's certificate and key are a client certificate;
// the password decrypts a legacy encrypted key.
func TestSSLGetClientCertificate(t *testing.T) {
	srv := newTLSServer(t, "ok")
	der, key := testCertificate(t)
	dir := t.TempDir()
	certFile, keyFile, encFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "enc.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	//lint:ignore SA1019 the legacy encrypted PEM form is what keepalived's password decrypts.
	enc, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", kder, []byte("secret"), x509.PEMCipherAES256) //lint:ignore SA1019 as above
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(encFile, pem.EncodeToMemory(enc), 0o600)

	for _, files := range []SSLFiles{
		{},
		{Certificate: certFile, Key: keyFile},
		{Certificate: certFile, Key: encFile, Password: "secret"},
	} {
		h := sslCheck(t, srv.Addr, files, testURL(t, "/", srv.Addr))
		if r := probe(h, time.Second); !r.OK {
			t.Fatalf("%+v: %+v", files, r)
		}
	}
	srv.mu.Lock()
	got := fmt.Sprint(srv.clientCerts)
	srv.mu.Unlock()
	if got != "[0 1 1]" {
		t.Fatalf("client certificates sent %s, want [0 1 1]", got)
	}
	if _, err := ClientTLS(SSLFiles{Certificate: certFile, Key: encFile, Password: "wrong"}); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if _, err := ClientTLS(SSLFiles{Certificate: filepath.Join(dir, "none.pem")}); err == nil {
		t.Fatal("a missing certificate was accepted")
	}
}

func waitChange(t *testing.T, changes chan Change) Change {
	t.Helper()
	select {
	case c := <-changes:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no change in 5s")
	}
	return Unchanged
}
