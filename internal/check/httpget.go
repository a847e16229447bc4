package check

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http/httputil"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// HTTPProtocol is http_protocol: the request's version and whether it
// asks the server to close the connection.
type HTTPProtocol int

const (
	HTTP10  HTTPProtocol = iota // "1.0" (keepalived's default)
	HTTP10C                     // "1.0C": 1.0 with Connection: close
	HTTP11                      // "1.1", always with Connection: close
)

// ParseHTTPProtocol reads http_protocol's value (or genhash's -P).
func ParseHTTPProtocol(s string) (HTTPProtocol, bool) {
	switch s {
	case "", "1.0":
		return HTTP10, true
	case "1.0C", "1.0c":
		return HTTP10C, true
	case "1.1":
		return HTTP11, true
	}
	return HTTP10, false
}

func (p HTTPProtocol) String() string {
	return [...]string{"1.0", "1.0C", "1.1"}[p]
}

// HostHeader is the value of the request's Host header: the virtual host
// if one is set, else the address connected to with its port, an IPv6
// address in brackets (check_http.c http_request_thread, RFC 2732).
func HostHeader(vhost string, addr netip.AddrPort) string {
	if vhost != "" {
		return vhost
	}
	return netip.AddrPortFrom(addr.Addr().WithZone(""), addr.Port()).String()
}

// HTTPRequest is the GET keepalived sends (check_http.c request_template).
func HTTPRequest(path, host string, p HTTPProtocol) []byte {
	minor, closing := 0, ""
	if p == HTTP11 {
		minor = 1
	}
	if p != HTTP10 {
		closing = "Connection: close\r\n"
	}
	return fmt.Appendf(nil, "GET %s HTTP/1.%d\r\nUser-Agent: KeepAliveClient\r\n%sHost: %s\r\n\r\n", path, minor, closing, host)
}

// FetchError is a fetch that failed before a response could be judged,
// with keepalived's words for it: the message its timeout_epilog logs
// ("... server [ip]:tcp:port.") and genhash prints.
type FetchError struct {
	// Msg is keepalived's message: "Timeout connecting", "Connection
	// failed", "SSL handshake/communication error connecting to", ...
	Msg string
	Err error
	// Skip says the probe could not be run at all (a socket option or
	// bind failed): keepalived logs "WEB socket bind failed.
	// Rescheduling" and tries again after delay_loop without counting a
	// failure.
	Skip bool
}

func (e *FetchError) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}

func (e *FetchError) Unwrap() error { return e.Err }

// Keepalived's messages (check_http.c, check_ssl.c).
const (
	msgConnectTimeout = "Timeout connecting"
	msgConnectFailed  = "Connection failed"
	msgUnreachable    = "HTTP_CHECK - network unreachable"
	msgBindFailed     = "WEB socket bind failed. Rescheduling"
	msgSSLHandshake   = "SSL handshake/communication error connecting to"
	msgWriteTimeout   = "Timeout WEB write"
	msgSendFailed     = "Cannot send get request to"
	msgFirstRead      = "Timeout WEB read"
	msgHTTPRead       = "Timeout HTTP read"
	msgSSLRead        = "Timeout SSL read"
	msgReadError      = "Read error with"
	msgSSLReadError   = "SSL read error from"
	msgNoData         = "Read, no data received from"
	msgStatus         = "HTTP status code error to"
	msgDigest         = "MD5 digest error to"
	msgRegex          = "Regex match failed"
)

// ResponseObserver hears a response as it is read: genhash -v prints it.
// Its calls follow keepalived's http_process_response.
type ResponseObserver interface {
	// HeaderRead is a read that found the header incomplete so far.
	HeaderRead()
	// Header is the response header through its blank line.
	Header(h []byte)
	// Body is body bytes as they are hashed; first says they came in the
	// read that completed the header.
	Body(b []byte, first bool)
	// End is the end of the stream: clean says it ended as keepalived
	// prints the digest (EOF; a TLS close_notify).
	End(sum [md5.Size]byte, clean bool)
}

// Fetch is one GET as HTTP_GET, SSL_GET and genhash do it: connect, TLS
// if asked, send the request, read the response.
//
// One deadline (the context's: connect_timeout for a checker) bounds the
// whole fetch; keepalived's bounds each read, so a server that drips its
// answer can hold a check far longer (keepalived issue #1822).
type Fetch struct {
	Conn Conn
	// TLS is the client configuration of SSL_GET; nil for HTTP_GET.
	TLS *tls.Config
	// TLSCompliant ends the TLS session with a close_notify
	// (tls_compliant); keepalived otherwise shuts down quietly.
	TLSCompliant bool
	Request      []byte
	// Digest asks for the MD5 of the body.
	Digest bool
	// Regex, if set, is searched in the body.
	Regex *Regex
	// StopAtEnd stops reading at the end of the body as its header frames
	// it (Content-Length, chunked) instead of at EOF as keepalived does:
	// a server that keeps the connection open does not make the check
	// wait for its timeout. Status codes that fail are not read further.
	StopAtEnd bool
	// Statuses, with StopAtEnd, lets the fetch stop after a header whose
	// status is not among them.
	Statuses *StatusCodes
	// Observer, if set, hears the response as it is read (genhash -v).
	Observer ResponseObserver
}

// Response is what a fetch read.
type Response struct {
	// Status is the status code; 0 if the status line could not be read
	// (keepalived's extract_status_code).
	Status int
	// ContentLength is the header's, -1 if none.
	ContentLength int64
	// Chunked says the body came in chunked transfer coding; Sum is of
	// the decoded body, RawSum of the body as sent (what keepalived
	// hashes).
	Chunked bool
	// Received is how many body bytes came (after decoding).
	Received int64
	// Sum is the MD5 of the body, cut to Content-Length.
	Sum    [md5.Size]byte
	RawSum [md5.Size]byte
	// Matched says the regex matched within its offsets.
	Matched bool
	// Truncated says the fetch stopped reading early (the status failed).
	Truncated bool
}

// Do fetches. It fails with a *FetchError when no response could be
// judged: no connection, no header. A response is returned whatever its
// status; judging it is the caller's.
func (f *Fetch) Do(ctx context.Context) (*Response, error) {
	raw, err := f.Conn.dial(ctx, "tcp")
	if err != nil {
		return nil, dialError(err)
	}
	defer raw.Close()
	if d, ok := ctx.Deadline(); ok {
		raw.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	watch := &rawWatch{Conn: raw}
	var conn net.Conn = watch
	if f.TLS != nil {
		tc := tls.Client(watch, f.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			if isTimeout(err) || ctx.Err() != nil {
				return nil, &FetchError{Msg: msgConnectTimeout, Err: err}
			}
			return nil, &FetchError{Msg: msgSSLHandshake, Err: err}
		}
		if f.TLSCompliant {
			defer tc.Close() // close_notify, then the socket
		}
		conn = tc
	}
	if _, err := conn.Write(f.Request); err != nil {
		if isTimeout(err) {
			return nil, &FetchError{Msg: msgWriteTimeout, Err: err}
		}
		return nil, &FetchError{Msg: msgSendFailed, Err: err}
	}
	rd := &responseReader{conn: conn, tls: f.TLS != nil, watch: watch}
	return rd.read(f)
}

// dialError classifies a failed connect as keepalived's layer4.c does.
// Go cannot tell connect()'s own error from one the socket reports later,
// which keepalived words differently; the errno decides here.
func dialError(err error) error {
	var se *os.SyscallError
	var errno syscall.Errno
	switch {
	case isTimeout(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT):
		return &FetchError{Msg: msgConnectTimeout, Err: err}
	case errors.As(err, &se) && se.Syscall == "connect":
		if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) ||
			errors.Is(err, syscall.ENETDOWN) || errors.Is(err, syscall.EHOSTDOWN) {
			return &FetchError{Msg: msgUnreachable, Err: err}
		}
	case errors.As(err, &se), errors.As(err, &errno):
		// socket, bind, or a socket option (fwmark, bind_if: the dialer's
		// Control returns their bare errno).
		return &FetchError{Msg: msgBindFailed, Err: err, Skip: true}
	}
	return &FetchError{Msg: msgConnectFailed, Err: err}
}

// rawWatch records what the socket under a TLS session returned: a TLS
// EOF while the socket has not ended is a close_notify.
type rawWatch struct {
	net.Conn
	ended bool
}

func (w *rawWatch) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if err != nil {
		w.ended = true
	}
	return n, err
}

// maxHeader bounds a response header. keepalived keeps 4095 bytes and
// takes a longer header for no data at all.
const maxHeader = 64 << 10

// readSize is keepalived's read size (MAX_BUFFER_LENGTH - 1): genhash -v
// dumps each read, so reads of the same size dump alike.
const readSize = 4095

// responseReader reads one response from a connection.
type responseReader struct {
	conn  io.Reader
	tls   bool
	watch *rawWatch

	got      int64 // bytes read from the connection
	leftover []byte
	err      error
	clean    bool // the stream ended as keepalived prints its digest
}

// Read serves what followed the header in the header's reads, then the
// connection, one read of it per call. It ends at EOF; for TLS, at any
// error but a timeout too, as keepalived's ssl_read_thread does.
func (r *responseReader) Read(p []byte) (int, error) {
	if len(r.leftover) > 0 {
		n := copy(p, r.leftover)
		r.leftover = r.leftover[n:]
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.conn.Read(p)
	r.got += int64(n)
	if err != nil {
		r.err = r.classify(err)
		if n > 0 {
			return n, nil
		}
		return 0, r.err
	}
	return n, nil
}

// classify turns a read error into io.EOF when the stream ended, or a
// *FetchError.
func (r *responseReader) classify(err error) error {
	switch {
	case isTimeout(err):
		msg := msgHTTPRead
		if r.got == 0 {
			msg = msgFirstRead
		} else if r.tls {
			msg = msgSSLRead
		}
		return &FetchError{Msg: msg, Err: err}
	case err == io.EOF:
		r.clean = !r.tls || !r.watch.ended
		return io.EOF
	case r.tls:
		return io.EOF
	}
	return &FetchError{Msg: msgReadError, Err: err}
}

// readHeader reads until the blank line that ends the header.
func (r *responseReader) readHeader(obs ResponseObserver) ([]byte, error) {
	buf := make([]byte, 0, readSize)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxHeader {
				return nil, &FetchError{Msg: msgNoData, Err: errors.New("response header too long")}
			}
			buf = append(buf, make([]byte, readSize)...)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			buf = buf[:len(buf)+n]
			if obs != nil {
				obs.HeaderRead()
			}
			if end := headerEnd(buf); end >= 0 {
				r.leftover = buf[end:]
				return buf[:end], nil
			}
		}
		if err != nil {
			if err == io.EOF {
				return nil, &FetchError{Msg: msgNoData, Err: errors.New("no response header")}
			}
			return nil, err
		}
	}
}

// headerEnd is where the body starts: after the first CRLFCRLF
// (html.c extract_html), -1 if there is none yet.
func headerEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return -1
}

// ParseStatus reads the status code of a status line as keepalived's
// extract_status_code does: after the first space, three digits, then a
// space. A status line without a reason phrase ("HTTP/1.1 200" and its
// CRLF) is accepted too; keepalived takes it for status 0. 0 means no
// status.
func ParseStatus(h []byte) int {
	i := bytes.IndexAny(h, " \r")
	if i < 0 || h[i] != ' ' {
		return 0
	}
	c := h[i+1:]
	if len(c) < 4 || (c[3] != ' ' && c[3] != '\r') {
		return 0
	}
	code := 0
	for _, d := range c[:3] {
		if d < '0' || d > '9' {
			return 0
		}
		code = code*10 + int(d-'0')
	}
	return code
}

// headerFields is the framing the header gives the body: its
// Content-Length (-1 if none or invalid) and whether it is chunked. Field
// names are matched without regard to case; keepalived looks for
// "Content-Length:" as written, anywhere in what it has read.
func headerFields(h []byte) (contentLength int64, chunked bool) {
	contentLength = -1
	lines := bytes.Split(h, []byte("\r\n"))
	for _, l := range lines[1:] {
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		v := strings.TrimSpace(string(value))
		switch strings.ToLower(string(name)) {
		case "content-length":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				contentLength = n
			}
		case "transfer-encoding":
			codings := strings.Split(v, ",")
			chunked = strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked")
		}
	}
	return contentLength, chunked
}

// read reads the response.
func (r *responseReader) read(f *Fetch) (*Response, error) {
	obs := f.Observer
	h, err := r.readHeader(obs)
	if err != nil {
		var fe *FetchError
		if errors.As(err, &fe) && fe.Msg == msgNoData && r.clean {
			// The stream ended before a header (ssl_read_thread: a TLS
			// close_notify then is a read error).
			if obs != nil {
				obs.End(md5.Sum(nil), true)
			}
			if r.tls {
				fe.Msg = msgSSLReadError
			}
		}
		return nil, err
	}
	resp := &Response{Status: ParseStatus(h)}
	resp.ContentLength, resp.Chunked = headerFields(h)
	if obs != nil {
		obs.Header(h)
	}
	if f.StopAtEnd && f.Statuses != nil && !f.Statuses.Has(resp.Status) {
		resp.Truncated = true
		return resp, nil
	}
	b := newBody(r, resp, f.Digest || obs != nil, obs, f.StopAtEnd)
	if f.Regex != nil {
		resp.Matched = f.Regex.match(b)
	}
	err = b.drain()
	resp.Received, resp.Sum, resp.RawSum = b.received, b.sum(b.hash), b.sum(b.raw)
	if err != nil {
		return nil, err
	}
	if obs != nil && r.clean {
		obs.End(resp.Sum, true)
	}
	return resp, nil
}

// body is a response's body as the checks read it: framed by its header,
// hashed, counted and observed as it passes.
type body struct {
	src    *responseReader
	framed io.Reader // the body, decoded when chunked
	br     *bufio.Reader
	hash   hash.Hash // the body, cut to Content-Length
	raw    hash.Hash // the body as sent, when chunked
	obs    ResponseObserver
	stop   bool
	// left is how many bytes Content-Length still allows, -1 without
	// one.
	left     int64
	received int64
	err      error
	// banner: the first body bytes came in the header's reads (genhash
	// -v prints a banner before them).
	banner bool
}

func newBody(src *responseReader, resp *Response, digest bool, obs ResponseObserver, stop bool) *body {
	b := &body{src: src, obs: obs, stop: stop, left: -1, banner: len(src.leftover) > 0}
	if digest {
		b.hash = md5.New()
	}
	if resp.Chunked {
		// The chunked coding is decoded before hashing: keepalived hashes
		// the chunk sizes with the data, a digest that changes with the
		// way the server cuts its body. The raw digest is kept to
		// recognise a digest computed by keepalived's genhash.
		b.raw = md5.New()
		b.br = bufio.NewReaderSize(io.TeeReader(src, b.raw), readSize)
		b.framed = httputil.NewChunkedReader(b.br)
	} else {
		b.framed = src
		b.left = resp.ContentLength
	}
	return b
}

// Read hands out body bytes, hashing and observing them. Past
// Content-Length bytes are counted, not hashed nor handed out; they end
// the body with StopAtEnd.
func (b *body) Read(p []byte) (int, error) {
	for b.err == nil {
		if b.left == 0 && b.stop {
			b.err = io.EOF
			break
		}
		n, err := b.framed.Read(p)
		b.received += int64(n)
		data := p[:n]
		if b.left >= 0 {
			data = data[:min(int64(n), b.left)]
			b.left -= int64(len(data))
		}
		if b.hash != nil {
			b.hash.Write(data)
		}
		if b.obs != nil && len(data) > 0 {
			b.obs.Body(data, b.banner)
			b.banner = false
		}
		if err != nil {
			b.err = b.ended(err)
		}
		if len(data) > 0 {
			return len(data), nil
		}
	}
	return 0, b.err
}

// ended is the error that ends the body: io.EOF, or a *FetchError.
func (b *body) ended(err error) error {
	if err == io.EOF && b.raw != nil {
		err = b.trailer()
	}
	var fe *FetchError
	if err != io.EOF && !errors.As(err, &fe) {
		// A malformed chunked coding.
		err = &FetchError{Msg: msgReadError, Err: err}
	}
	return err
}

// trailer reads what follows the last chunk: trailer fields up to their
// blank line and, unless StopAtEnd, the rest to EOF, all into the raw
// digest.
func (b *body) trailer() error {
	for {
		line, err := b.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	if b.stop {
		return io.EOF
	}
	if _, err := io.Copy(io.Discard, b.br); err != nil {
		return err
	}
	return io.EOF
}

// drain reads what is left of the body.
func (b *body) drain() error {
	buf := make([]byte, readSize)
	for {
		if _, err := b.Read(buf); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func (b *body) sum(h hash.Hash) (s [md5.Size]byte) {
	if h != nil {
		copy(s[:], h.Sum(nil))
	}
	return s
}
