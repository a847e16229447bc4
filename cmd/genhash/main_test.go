package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/genhash"
	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

const debianGenhash = "/usr/bin/genhash"

// newServer is a raw HTTP server (testenv.RawHTTPServer) answering each
// request with respond.
func newServer(t *testing.T, respond func(c net.Conn)) *testenv.RawHTTPServer {
	return testenv.NewRawHTTPServer(t, func(c net.Conn, _ string) { respond(c) })
}

// port is a server's port as genhash's -p takes it.
func port(s *testenv.RawHTTPServer) string { return strconv.Itoa(int(s.Addr.Port())) }

func write(parts ...string) func(net.Conn) {
	return func(c net.Conn) {
		for i, p := range parts {
			if i > 0 {
				time.Sleep(100 * time.Millisecond)
			}
			io.WriteString(c, p)
		}
	}
}

// outcome is what a genhash run printed and returned, its response time
// blanked.
type outcome struct {
	stdout, stderr string
	code           int
}

var usecs = regexp.MustCompile(`= [0-9]+ usecs`)

func normalise(o outcome) outcome {
	o.stdout = usecs.ReplaceAllString(o.stdout, "= N usecs")
	return o
}

func runDebian(t *testing.T, args ...string) outcome {
	t.Helper()
	cmd := exec.Command(debianGenhash, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return normalise(outcome{out.String(), errOut.String(), code})
}

func runOurs(args ...string) outcome {
	var out, errOut bytes.Buffer
	code := genhash.Run(debianGenhash, args, &out, &errOut)
	return normalise(outcome{out.String(), errOut.String(), code})
}

func needDebian(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(debianGenhash); err != nil {
		testenv.Unavailable(t, "this test needs keepalived's genhash at "+debianGenhash)
	}
}

// compare runs both genhashes with args and wants the same output, exit
// status and request.
func compare(t *testing.T, srv *testenv.RawHTTPServer, args ...string) outcome {
	t.Helper()
	before := 0
	if srv != nil {
		before = len(srv.Requests())
	}
	want := runDebian(t, args...)
	got := runOurs(args...)
	if got != want {
		t.Errorf("genhash %s:\n--- keepalived: exit %d, stdout:\n%s--- stderr:\n%s--- ours: exit %d, stdout:\n%s--- stderr:\n%s",
			strings.Join(args, " "), want.code, want.stdout, want.stderr, got.code, got.stdout, got.stderr)
	}
	if srv != nil {
		reqs := srv.Requests()[before:]
		if len(reqs) != 2 || reqs[0] != reqs[1] {
			t.Errorf("genhash %s: requests %q", strings.Join(args, " "), reqs)
		}
	}
	return got
}

func okResponse(body string) string {
	return fmt.Sprintf("HTTP/1.0 200 OK\r\nContent-Length: %d\r\nContent-Type: text/html\r\n\r\n%s", len(body), body)
}

// Over plain HTTP the output is keepalived's byte for byte, the response
// time aside: the digest alone, and -v's dumps.
func TestSameAsKeepalivedOverHTTP(t *testing.T) {
	needDebian(t)
	big := make([]byte, 10240)
	for i := range big {
		big[i] = byte(i)
	}
	for _, tc := range []struct {
		name    string
		respond func(net.Conn)
		extra   []string
	}{
		{"page", write(okResponse("Hello world\n")), nil},
		{"header then body", write("HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nHello", " world\n"), nil},
		{"header in two reads", write("HTTP/1.0 200 OK\r\nCont", "ent-Length: 12\r\n\r\nHello world\n"), nil},
		{"big body", write(okResponse(string(big))), nil},
		{"longer than Content-Length", write("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nHello world\n"), nil},
		{"no body", write("HTTP/1.0 404 Not Found\r\n\r\n"), nil},
		{"no header", write("HTTP/1.0 200 OK\r\n"), nil},
		{"nothing", write(), nil},
		{"virtual host and 1.1", write(okResponse("x")), []string{"-V", "www.example.com", "-P", "1.1"}},
		{"1.0c", write(okResponse("x")), []string{"--protocol=1.0c"}},
	} {
		srv := newServer(t, tc.respond)
		for _, verbose := range []bool{false, true} {
			args := append([]string{"-s", "127.0.0.1", "-p", port(srv), "-u", "/index.html"}, tc.extra...)
			if verbose {
				args = append(args, "-v")
			}
			t.Run(fmt.Sprintf("%s verbose %v", tc.name, verbose), func(t *testing.T) { compare(t, srv, args...) })
		}
	}
}

// Failures print keepalived's message; the exit status stays 0.
func TestSameAsKeepalivedOnFailures(t *testing.T) {
	needDebian(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	_, closed, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	got := compare(t, nil, "-s", "127.0.0.1", "-p", closed, "-u", "/", "-v")
	if !strings.HasPrefix(got.stdout, "Connection failed\n") {
		t.Errorf("refused: %q", got.stdout)
	}
	silent := newServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	got = compare(t, nil, "-s", "127.0.0.1", "-p", port(silent), "-u", "/", "-t", "1")
	if got.stdout != "Timeout WEB read\n" {
		t.Errorf("silent server: %q", got.stdout)
	}
	// A plain server that answers at once, without waiting for a
	// request, and keeps the connection until the client closes it: a
	// close at once raced the client's handshake, and Debian's genhash
	// then said "Connection failed" when the reset came first.
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\n")
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	_, plainPort, _ := net.SplitHostPort(pl.Addr().String())
	got = compare(t, nil, "-S", "-s", "127.0.0.1", "-p", plainPort, "-u", "/", "-t", "2")
	if got.stdout != "SSL handshake/communication error connecting to\n" {
		t.Errorf("TLS to a plain server: %q", got.stdout)
	}
}

// Over TLS the output is keepalived's, and SNI is sent with -I, from -V.
func TestSameAsKeepalivedOverTLS(t *testing.T) {
	needDebian(t)
	var mu sync.Mutex
	var names []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "12")
		w.Header().Set("Date", "Thu, 01 Jan 2026 00:00:00 GMT")
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "Hello world\n")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		names = append(names, h.ServerName)
		mu.Unlock()
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	base := []string{"-S", "-s", "127.0.0.1", "-p", port, "-u", "/x", "-t", "2"}
	compare(t, nil, base...)
	compare(t, nil, append(base, "-v")...)
	compare(t, nil, append(base, "-I", "-V", "www.example.com")...)
	compare(t, nil, append(base, "-I")...)
	mu.Lock()
	defer mu.Unlock()
	if want := `["" "" "" "" "www.example.com" "www.example.com" "" ""]`; fmt.Sprintf("%q", names) != want {
		t.Errorf("SNI names %q, want %s", names, want)
	}
}

// Bad command lines print keepalived's messages and usage, exit 1.
func TestSameAsKeepalivedOnUsageErrors(t *testing.T) {
	needDebian(t)
	for _, args := range [][]string{
		{},
		{"-h"},
		{"-s", "127.0.0.1"},
		{"-s", "127.0.0.1", "-p", "80"},
		{"-s", "127.0.0.1", "-p", "0", "-u", "/"},
		{"-s", "127.0.0.1", "-p", "8x", "-u", "/"},
		{"-s", "localhost", "-p", "80", "-u", "/"},
		{"-s", "127.0.0.1", "-p", "80", "-u", "/", "-P", "2.0"},
		{"-s", "127.0.0.1", "-p", "80", "-u", "/", "-t", "-1"},
		{"-s", "127.0.0.1", "-p", "80", "-u", "/", "-m", "x"},
		{"-s", "127.0.0.1", "-p", "80", "-u", "/", "-x"},
		{"-s", "127.0.0.1", "-p", "80", "-u", "/", "--bogus"},
		{"-s", "127.0.0.1", "-p", "80", "-u", "/", "extra", "args"},
		{"-s", "127.0.0.1", "-p", "80", "-u"},
		{"-vh", "-s", "127.0.0.1"},
	} {
		compare(t, nil, args...)
	}
	// keepalived 2.2.7 crashes on a long option without its value
	// (long_options[-1]); ours says which.
	got := runOurs("-s", "127.0.0.1", "-p", "80", "--url")
	if got.code != 1 || !strings.HasPrefix(got.stderr, "Missing parameter for option --url\nUsage: ") {
		t.Errorf("%+v", got)
	}
}

// The digest of a chunked body is the decoded body's, which the
// checkers check; keepalived's genhash hashes the chunked coding. This
// is a deliberate difference.
func TestChunkedBodyDigestIsTheDecodedBodys(t *testing.T) {
	srv := newServer(t, write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n7\r\n world\n\r\n0\r\n\r\n"))
	got := runOurs("-s", "127.0.0.1", "-p", port(srv), "-u", "/")
	if got.stdout != "f0ef7081e1539ac00ef5b761b4fb01b3\n" || got.code != 0 {
		t.Fatalf("%+v", got)
	}
	if !strings.Contains(got.stderr, "e0a16f1186c2626b4edd69a136d75ddb") {
		t.Errorf("stderr does not give keepalived's digest: %q", got.stderr)
	}
	if _, err := os.Stat(debianGenhash); err == nil {
		if want := runDebian(t, "-s", "127.0.0.1", "-p", port(srv), "-u", "/"); want.stdout != "e0a16f1186c2626b4edd69a136d75ddb\n" {
			t.Errorf("keepalived's genhash: %q", want.stdout)
		}
	}
}

func TestDumpBuffer(t *testing.T) {
	var b bytes.Buffer
	genhash.DumpBuffer(&b, []byte("HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\n"))
	want := "0000  48 54 54 50 2f 31 2e 30 - 20 32 30 30 20 4f 4b 0d   HTTP/1.0 200 OK.\n" +
		"0016  0a 43 6f 6e 74 65 6e 74 - 2d 4c 65 6e 67 74 68 3a   .Content-Length:\n" +
		"0032  20 31 32 0d 0a 0d 0a    -                            12....         \n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	genhash.DumpBuffer(&b, nil)
	if b.Len() != 0 {
		t.Fatal(strconv.Quote(b.String()))
	}
}
