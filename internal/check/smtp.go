package check

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// DefaultHelo is the HELO name of an SMTP_CHECK without helo_name
// (check_smtp.h SMTP_DEFAULT_HELO).
const DefaultHelo = "smtpchecker.keepalived.org"

// smtpLineMax is the longest reply line read (check_smtp.h
// SMTP_BUFF_MAX; RFC 5321's 512 with CRLF).
const smtpLineMax = 512

// smtpReplyMax bounds a multi-line reply.
const smtpReplyMax = 64 << 10

// SMTP is SMTP_CHECK (check_smtp.c): connect, read the 220 banner, send
// HELO, read 250, send QUIT, read a reply. Like keepalived, it accepts
// any reply to QUIT, but a connection closed before it fails.
//
// Each step (the connection, each reply, each write) has connect_timeout,
// as keepalived arms each read and write with it; a reply line is read
// within one step however slowly it drips. The failures are keepalived's
// messages (without their "SMTP_CHECK " prefix), naming the server as
// "[ADDR]:PORT".
//
// Where keepalived is stricter than RFC 5321 it is not followed: a
// multi-line reply ("250-..." lines, then "250 ...") is read to its last
// line, and a bare code ("220") is a reply; keepalived reads the first
// line only and fails both.
type SMTP struct {
	Conn Conn
	// Helo is helo_name (DefaultHelo unless set).
	Helo string
	// Server is the real server, for the "Network unreachable" message.
	Server netip.AddrPort
}

func (s *SMTP) String() string { return s.Conn.String() }

// target is the server as FMT_SMTP_RS prints it (inet_sockaddrtopair).
func (s *SMTP) target() string { return pair(s.Conn.Addr) }

func pair(a netip.AddrPort) string { return fmt.Sprintf("[%s]:%d", a.Addr(), a.Port()) }

// Check holds the conversation once.
func (s *SMTP) Check(ctx context.Context) Result {
	timeout := s.Conn.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	c, err := s.Conn.dial(dctx, "tcp")
	cancel()
	if err != nil {
		return Result{Reason: s.connectFailure(err)}
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r := bufio.NewReaderSize(c, smtpLineMax)
	helo := s.Helo
	if helo == "" {
		helo = DefaultHelo
	}
	step := func() { c.SetDeadline(stepDeadline(ctx, timeout)) }
	read := func() (int, string) {
		step()
		code, err := ReadSMTPReply(r)
		switch {
		case isTimeout(err):
			return 0, "Read timeout from server " + s.target()
		case errors.Is(err, errBadReply):
			return -1, ""
		case err != nil:
			return 0, "Read failure from server " + s.target()
		}
		return code, ""
	}
	write := func(line string) string {
		step()
		_, err := io.WriteString(c, line)
		switch {
		case isTimeout(err):
			return "Write timeout to server " + s.target()
		case err != nil:
			return "Write failure to server " + s.target()
		}
		return ""
	}
	if code, fail := read(); fail != "" {
		return Result{Reason: fail}
	} else if code != 220 {
		return Result{Reason: "Bad greeting banner from server " + s.target()}
	}
	if fail := write("HELO " + helo + "\r\n"); fail != "" {
		return Result{Reason: fail}
	}
	if code, fail := read(); fail != "" {
		return Result{Reason: fail}
	} else if code != 250 {
		return Result{Reason: "Bad HELO response from server " + s.target()}
	}
	if fail := write("QUIT\r\n"); fail != "" {
		return Result{Reason: fail}
	}
	// check_smtp.c SMTP_RECV_QUIT: any line is the end of a good check.
	if _, fail := read(); fail != "" {
		return Result{Reason: fail}
	}
	return Result{OK: true}
}

// stepDeadline is now + timeout, or ctx's deadline if that is sooner.
func stepDeadline(ctx context.Context, timeout time.Duration) time.Time {
	d := time.Now().Add(timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// connectFailure is keepalived's message for a connection that failed
// (smtp_check_thread, smtp_connect_thread).
func (s *SMTP) connectFailure(err error) string {
	switch {
	case isTimeout(err), errors.Is(err, syscall.ETIMEDOUT):
		return "Connection timeout to server " + s.target()
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETDOWN):
		return fmt.Sprintf("Network unreachable for server %s - real server %s", s.Conn.Addr.Addr(), pair(s.Server))
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTDOWN),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED):
		return "Could not connect to server " + s.target()
	}
	return "Error connecting to server " + s.target()
}

// errBadReply is a reply that is not "NNN text" lines.
var errBadReply = errors.New("malformed SMTP reply")

// ReadSMTPReply reads one SMTP reply and returns its code: lines of at
// most 512 bytes ending in LF (a CR before it is dropped), each a three
// digit code then " " and text, or nothing; "-" instead of " " continues
// the reply on the next line, which must have the same code (RFC 5321
// 4.2.1). A reply that is not so is errBadReply; a connection that ends
// or fails first is that error.
func ReadSMTPReply(r *bufio.Reader) (int, error) {
	code, total := -1, 0
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return 0, errBadReply
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if total += len(line); total > smtpReplyMax {
			return 0, errBadReply
		}
		c, more, ok := ParseSMTPLine(line)
		if !ok || (code >= 0 && c != code) {
			return 0, errBadReply
		}
		code = c
		if !more {
			return code, nil
		}
	}
}

// ParseSMTPLine reads one reply line (with or without its CRLF): its
// code, whether the reply continues, and whether the line is well formed.
func ParseSMTPLine(line []byte) (code int, more, ok bool) {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) < 3 {
		return 0, false, false
	}
	for _, b := range line[:3] {
		if b < '0' || b > '9' {
			return 0, false, false
		}
		code = code*10 + int(b-'0')
	}
	switch {
	case len(line) == 3 || line[3] == ' ':
		return code, false, true
	case line[3] == '-':
		return code, true, true
	}
	return 0, false, false
}
