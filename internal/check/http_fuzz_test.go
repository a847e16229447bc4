package check

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"io"
	"net/http/httputil"
	"testing"
	"time"
)

var responseSeeds = []string{
	"HTTP/1.0 200 OK\r\nContent-Length: 12\r\nContent-Type: text/html\r\n\r\nHello world\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n7\r\n world\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nTrailer: X\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX: y\r\n\r\ngarbage",
	"HTTP/1.0 404 Not Found\r\n\r\n",
	"HTTP/1.1 200\r\n\r\nbody",
	"HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nabcdef",
	"HTTP/1.0 200 OK\r\nContent-Length: 99\r\n\r\nshort",
	"HTTP/1.0 2000 OK\r\n\r\n",
	"garbage",
	"\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
}

// FuzzParseStatus: the status line never panics and yields 0 or the
// three digits after the first space.
func FuzzParseStatus(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		code := ParseStatus(h)
		if code < 0 || code > 999 {
			t.Fatalf("status %d", code)
		}
		if code != 0 {
			i := bytes.IndexByte(h, ' ')
			if i < 0 || len(h) < i+4 || string(h[i+1:i+4]) != string([]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)}) {
				t.Fatalf("status %d from %q", code, h)
			}
		}
		cl, _ := headerFields(h)
		if cl < -1 {
			t.Fatalf("content length %d", cl)
		}
	})
}

// recorder is a ResponseObserver keeping what it is shown.
type recorder struct {
	header []byte
	body   bytes.Buffer
	ended  bool
}

func (r *recorder) HeaderRead()                  {}
func (r *recorder) Header(h []byte)              { r.header = append([]byte(nil), h...) }
func (r *recorder) Body(b []byte, _ bool)        { r.body.Write(b) }
func (r *recorder) End(_ [md5.Size]byte, _ bool) { r.ended = true }

// FuzzResponse streams a response through the header parser, the body
// framing, the digest and the regex, and compares the result with the
// same work done on the whole body in memory.
func FuzzResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), "world", false)
		f.Add([]byte(s), "^H.*o$", true)
	}
	f.Fuzz(func(t *testing.T, data []byte, pattern string, stop bool) {
		wd := time.AfterFunc(5*time.Second, func() { panic(fmt.Sprintf("HANG %q %q %v", data, pattern, stop)) })
		defer wd.Stop()
		re, err := CompileRegex(pattern, nil)
		if err != nil {
			re = nil
		}
		obs := &recorder{}
		fetch := &Fetch{Digest: true, Regex: re, StopAtEnd: stop, Observer: obs}
		rd := &responseReader{conn: &oneByteSometimes{r: bytes.NewReader(data)}}
		resp, err := rd.read(fetch)

		end := headerEnd(data)
		if end < 0 {
			if err == nil {
				t.Fatal("a response without a header was read")
			}
			return
		}
		if err != nil {
			if !resp2chunked(data[:end]) {
				t.Fatalf("a response with a header failed: %v", err)
			}
			return
		}
		rest := data[end:]
		var body []byte
		if resp.Chunked {
			body, err = io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(rest)))
			if err != nil {
				t.Fatalf("streamed a body whose chunked coding is broken: %v", err)
			}
		} else {
			body = rest
			if resp.ContentLength >= 0 && int64(len(body)) > resp.ContentLength {
				body = body[:resp.ContentLength]
			}
			if !stop && resp.Received != int64(len(rest)) {
				t.Fatalf("received %d of %d", resp.Received, len(rest))
			}
		}
		if resp.Status != ParseStatus(data[:end]) {
			t.Fatal("status differs")
		}
		if resp.Sum != md5.Sum(body) {
			t.Fatalf("streamed digest %x, whole body's %x", resp.Sum, md5.Sum(body))
		}
		if !bytes.Equal(obs.body.Bytes(), body) || !bytes.Equal(obs.header, data[:end]) {
			t.Fatal("the observer saw other bytes")
		}
		if re != nil && resp.Matched != re.Matches(body) {
			t.Fatalf("streamed match %v, whole body's %v", resp.Matched, !resp.Matched)
		}
	})
}

// resp2chunked tells whether a header frames its body in chunks (whose
// coding may fail).
func resp2chunked(h []byte) bool {
	_, chunked := headerFields(h)
	return chunked
}

// oneByteSometimes cuts reads short to vary the chunking.
type oneByteSometimes struct {
	r *bytes.Reader
	n int
}

func (o *oneByteSometimes) Read(p []byte) (int, error) {
	o.n++
	if o.n%3 == 0 && len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}
