package check

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StatusCodes is a url's status_code set: codes 100 to 599.
type StatusCodes [500]bool

// ParseStatusCodes reads status_code's words ("200", "200-299") as
// keepalived's status_code_handler and url_check do: a word it cannot
// read is skipped (and reported in the error), and a set left empty is
// the default, 200-299.
func ParseStatusCodes(words []string) (*StatusCodes, error) {
	var s StatusCodes
	var bad []string
	empty := true
	for _, w := range words {
		lo, hi, isRange := strings.Cut(w, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 100 || b > 599 || a > b {
			bad = append(bad, w)
			continue
		}
		for c := a; c <= b; c++ {
			s[c-100], empty = true, false
		}
	}
	if empty {
		for c := 200; c <= 299; c++ {
			s[c-100] = true
		}
	}
	if bad != nil {
		return &s, fmt.Errorf("invalid HTTP_GET status code '%s'", strings.Join(bad, "', '"))
	}
	return &s, nil
}

// Has tells whether code is in the set.
func (s *StatusCodes) Has(code int) bool { return code >= 100 && code <= 599 && s[code-100] }

// URL is one url block of HTTP_GET or SSL_GET, resolved.
type URL struct {
	Path string
	// Host is the request's Host header: the url's virtualhost, else the
	// checker's, the real server's, the virtual server's, else the
	// address and port connected to.
	Host string
	// Virtualhost is the url's own virtualhost, for the log.
	Virtualhost string
	// SNI is the name sent in the TLS handshake, "" for none.
	SNI string
	// Digest is the MD5 the body must have (digest), nil for none.
	Digest *[md5.Size]byte
	Status *StatusCodes
	Regex  *Regex
	// RegexErr is why the url's regex could not be compiled: the url
	// then always fails.
	RegexErr error
	// TLSCompliant is the url's tls_compliant.
	TLSCompliant bool

	lenMismatch int64 // keepalived's len_mismatch: the difference last logged
	rawWarned   bool
}

// ParseDigest reads a digest's 32 hex digits.
func ParseDigest(s string) (*[md5.Size]byte, error) {
	var d [md5.Size]byte
	if len(s) != 2*md5.Size {
		return nil, fmt.Errorf("digest '%s' character length should be %d rather than %d", s, 2*md5.Size, len(s))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return nil, fmt.Errorf("digest '%s': %v", s, err)
	}
	return &d, nil
}

// HTTP is HTTP_GET and SSL_GET (check/check_http.c, check_ssl.c): each
// probe fetches one of its urls, which passes if a header came, its
// status is in the url's set, its body has the url's MD5 digest and
// matches (or, with regex_no_match, does not match) its regex, in that
// order. The URL cycle (URLCycle) decides which url is next and when.
//
// Deliberate differences from keepalived 2.2.7 (for the README):
//   - one deadline, connect_timeout, bounds the whole fetch; keepalived
//     bounds each read, so a slow server can hold a check far longer
//     (keepalived issue #1822);
//   - the body ends where Content-Length or the chunked coding says, not
//     at EOF: a server that keeps the connection open passes at once
//     (keepalived waits for the timeout, issue #180);
//   - a chunked body is decoded before its digest and regex (keepalived
//     hashes the chunk sizes with the data, a digest that changes with
//     the way the server cuts its page); a digest that only matches the
//     raw chunked body still passes, with a warning logged once, so that
//     digests made by keepalived's genhash go on working;
//   - header fields are matched without regard to case, in the header
//     only (keepalived searches "Content-Length:" as written, anywhere in
//     its first buffer), a status line without a reason phrase is read,
//     and a header may exceed 4095 bytes;
//   - the SNI name falls back on the real server's virtualhost too, as
//     the Host header does (keepalived skips it);
//   - a url other than the failed one that fails while the server
//     recovers becomes the failed url (URLCycle): keepalived refetches it
//     after delay_before_retry, with fast_recovery in a loop that never
//     sleeps;
//   - with a ca in the SSL block the server's chain is verified
//     (ClientTLS); keepalived loads the ca and verifies nothing. Without
//     one, nothing is verified, as keepalived;
//   - regexes run on Go's regexp (Regex): PCRE-only syntax fails the url.
//
// What keepalived does and this does too: the first complete cycle of a
// server that is up logs "Remote Web server ... succeed on service."; the
// first failure of an alpha checker neither logs nor notifies (its
// epilog marks the checker as run before it looks at its state); "failed
// after N retries" is logged even for a failure at start.
type HTTP struct {
	Conn Conn
	// TLS is SSL_GET's client configuration; nil for HTTP_GET.
	TLS *tls.Config
	// TLSCompliant is the checker's tls_compliant.
	TLSCompliant bool
	Protocol     HTTPProtocol
	URLs         []*URL
	FastRecovery bool
	// Log, if set, hears keepalived's log lines.
	Log func(string)
	// Server and Service are the real and virtual server as keepalived's
	// logs name them.
	Server, Service string

	cycle *URLCycle
	last  httpProbe
}

// httpProbe is what Check leaves for Next: they never run at once.
type httpProbe struct {
	url  *URL
	ok   bool
	msg  string // keepalived's words for the failure, or the check that passed
	why  string
	skip bool
}

func (h *HTTP) String() string { return h.Conn.String() }

// LogsChanges: HTTP logs its own lines (check_http.c epilog).
func (h *HTTP) LogsChanges() bool { return true }

func (h *HTTP) log(format string, args ...any) {
	if h.Log != nil {
		h.Log(fmt.Sprintf(format, args...))
	}
}

func (h *HTTP) urlCycle() *URLCycle {
	if h.cycle == nil {
		h.cycle = NewURLCycle(len(h.URLs), h.FastRecovery)
	}
	return h.cycle
}

// Check fetches the current url and judges its response.
func (h *HTTP) Check(ctx context.Context) Result {
	u := h.URLs[h.urlCycle().Current()]
	h.last = h.check(ctx, u)
	if h.last.ok {
		return Result{OK: true}
	}
	return Result{Reason: u.Path + ": " + h.last.why}
}

func (h *HTTP) check(ctx context.Context, u *URL) httpProbe {
	if u.RegexErr != nil {
		return httpProbe{url: u, msg: msgRegex, why: "invalid regex: " + u.RegexErr.Error()}
	}
	f := &Fetch{Conn: h.Conn, Request: HTTPRequest(u.Path, u.Host, h.Protocol),
		Digest: u.Digest != nil, Regex: u.Regex, StopAtEnd: true, Statuses: u.Status,
		TLSCompliant: h.TLSCompliant || u.TLSCompliant}
	if h.TLS != nil {
		f.TLS = h.TLS
		if u.SNI != "" {
			f.TLS = h.TLS.Clone()
			f.TLS.ServerName = u.SNI
		}
	}
	start := time.Now()
	resp, err := f.Do(ctx)
	if err != nil {
		var fe *FetchError
		if !errors.As(err, &fe) {
			fe = &FetchError{Msg: msgConnectFailed, Err: err}
		}
		why := fe.Msg
		if fe.Err != nil {
			why = fe.Err.Error()
			if isTimeout(fe.Err) {
				why = fmt.Sprintf("%s after %v", fe.Msg, time.Since(start).Round(time.Millisecond))
			}
		}
		return httpProbe{url: u, msg: fe.Msg, why: why, skip: fe.Skip}
	}
	if !u.Status.Has(resp.Status) {
		return httpProbe{url: u, msg: msgStatus, why: fmt.Sprintf("status code %d", resp.Status)}
	}
	if cl := resp.ContentLength; cl >= 0 && !resp.Chunked && cl != resp.Received {
		// Logged the first time a given difference is seen
		// (http_handle_response).
		if d := cl - resp.Received; d != u.lenMismatch {
			h.log("http_check for RS %s VS %s url %s%s: content_length (%d) does not match received bytes (%d)",
				h.Server, h.Service, u.Virtualhost, u.Path, cl, resp.Received)
			u.lenMismatch = d
		}
	} else {
		u.lenMismatch = 0
	}
	msg := "HTTP status code"
	if u.Digest != nil {
		if resp.Sum != *u.Digest {
			if !resp.Chunked || resp.RawSum != *u.Digest {
				return httpProbe{url: u, msg: msgDigest, why: fmt.Sprintf("MD5 digest %x, want %x", resp.Sum, *u.Digest)}
			}
			if !u.rawWarned {
				h.log("%s url(%s): digest %x is of the chunked coding, not of the body (%x): keepalived's genhash made it; run keepalived-go's genhash for the body's",
					h, u.Path, resp.RawSum, resp.Sum)
				u.rawWarned = true
			}
		}
		msg = "MD5 digest"
	}
	if u.Regex != nil {
		if resp.Matched == u.Regex.NoMatch {
			why := "regex " + strconv.Quote(u.Regex.Pattern) + " did not match"
			if u.Regex.NoMatch {
				why = "regex " + strconv.Quote(u.Regex.Pattern) + " matched"
			}
			return httpProbe{url: u, msg: msgRegex, why: why}
		}
		msg = "Regex match"
	}
	return httpProbe{url: u, ok: true, msg: msg}
}

// Next applies keepalived's URL cycle to the probe's result and logs its
// lines.
func (h *HTTP) Next(s *Schedule, r Result) (time.Duration, Change) {
	p := h.last
	if p.skip {
		h.log("%s", msgBindFailed)
		return s.t.DelayLoop, Unchanged
	}
	if p.ok && !s.up {
		h.log("%s success to %s url(%s)", p.msg, h, p.url.Path)
	}
	delay, change, ev := h.urlCycle().Result(s, p.ok)
	switch ev {
	case CycleSucceeded:
		h.log("Remote Web server %s succeed on service.", h)
	case CycleFailed:
		line := fmt.Sprintf("HTTP_CHECK on service %s failed", h)
		if s.t.Retry > 0 {
			line += fmt.Sprintf(" after %d retries", s.t.Retry)
		}
		h.log("%s. (%s)", line, r.Reason)
	}
	return delay, change
}
