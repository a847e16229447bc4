package check

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// UDP is UDP_CHECK (check/check_udp.c, core/layer4.c udp_bind_connect and
// udp_socket_state): one datagram is sent on a connected UDP socket that
// asks for ICMP errors (IP_RECVERR), then the checker waits
// connect_timeout for an answer.
//
//   - An ICMP destination unreachable (port, host, network unreachable,
//     administratively prohibited...) fails the check; any other ICMP
//     error does not (udp_socket_error).
//   - Silence until connect_timeout is success, unless RequireReply.
//   - A reply is success; with RequireReply its length must lie within
//     MinReplyLength..MaxReplyLength and, when Reply is given, its first
//     min(len(reply), len(Reply)) octets must match Reply outside the
//     wildcard nibbles (check_udp_reply).
//
// keepalived 2.2.7 checks the reply's length only when require_reply has
// a hex string; keepalived.conf(5) says the length is checked whenever
// require_reply is given, and keepalived-go does as the manual says.
// keepalived 2.2.7 also ignores bind_if for UDP_CHECK (fixed after 2.2.7);
// keepalived-go honours it.
type UDP struct {
	Conn Conn
	// Payload is what is sent; nil sends keepalived's default, 32 octets
	// of "keepalived check - " repeated (layer4.c set_buf).
	Payload      []byte
	RequireReply bool
	// Reply is require_reply's hex string, ReplyMask its wildcard nibbles
	// (0x0f or 0xf0 bits set where the string had x), nil when none.
	Reply, ReplyMask []byte
	// MinReplyLength and MaxReplyLength bound a required reply, as given:
	// keepalived's defaults are 0 and DefaultUDPMaxReplyLength.
	MinReplyLength, MaxReplyLength int
}

// DefaultUDPMaxReplyLength is max_reply_length's default
// (check_udp.c udp_check_handler).
const DefaultUDPMaxReplyLength = 255

func (u *UDP) String() string {
	return fmt.Sprintf("[%s]:udp:%d", u.Conn.Addr.Addr(), u.Conn.Addr.Port())
}

// deadline is when a probe gives up: connect_timeout from now, or ctx's
// deadline if sooner.
func deadline(ctx context.Context, timeout time.Duration) time.Time {
	d, ok := ctx.Deadline()
	if timeout > 0 && (!ok || time.Now().Add(timeout).Before(d)) {
		return time.Now().Add(timeout)
	}
	return d
}

// keepaliveBuf is keepalived's filler for payloads it does not take from
// the configuration: "keepalived check - " repeated over n octets
// (layer4.c set_buf).
func keepaliveBuf(n int) []byte {
	const s = "keepalived check - "
	b := make([]byte, n)
	for i := range b {
		b[i] = s[i%len(s)]
	}
	return b
}

// Check sends the datagram and judges what comes back.
func (u *UDP) Check(ctx context.Context) Result {
	c, err := u.Conn.dial(ctx, "udp", setRecvErr(u.Conn.Addr.Addr().Is4()))
	if err != nil {
		return failed(err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	c.SetDeadline(deadline(ctx, u.Conn.Timeout))
	payload := u.Payload
	if payload == nil {
		payload = keepaliveBuf(32)
	}
	if _, err := c.Write(payload); err != nil {
		return failed(err)
	}
	// keepalived reads one octet when no reply is required, and
	// max_reply_length + 1 otherwise, so that a longer reply shows.
	buf := make([]byte, 1)
	if u.RequireReply {
		buf = make([]byte, u.MaxReplyLength+1)
	}
	n, err := c.Read(buf)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if u.RequireReply {
			return Result{Reason: "no reply"}
		}
		return Result{OK: true}
	case err != nil:
		if why := icmpUnreachable(c.(*net.UDPConn)); why != "" {
			return Result{Reason: why}
		}
		// Another ICMP error: keepalived counts it a success
		// (udp_socket_error).
		return Result{OK: true}
	}
	if u.RequireReply {
		if why := u.judgeReply(buf[:n]); why != "" {
			return Result{Reason: why, Mismatch: true}
		}
	}
	return Result{OK: true}
}

// judgeReply is check_udp_reply: "" when the reply is what require_reply
// asks for, else why not.
func (u *UDP) judgeReply(b []byte) string {
	if len(b) < u.MinReplyLength || len(b) > u.MaxReplyLength {
		return fmt.Sprintf("reply length %d not within %d-%d", len(b), u.MinReplyLength, u.MaxReplyLength)
	}
	for i := 0; i < len(b) && i < len(u.Reply); i++ {
		care := byte(0xff)
		if u.ReplyMask != nil {
			care = ^u.ReplyMask[i]
		}
		if (b[i]^u.Reply[i])&care != 0 {
			return "reply data mismatch"
		}
	}
	return ""
}

// setRecvErr asks for ICMP errors on the socket's error queue
// (udp_bind_connect's IP_RECVERR / IPV6_RECVERR): without it Linux does
// not report a network or host unreachable to a UDP socket.
func setRecvErr(v4 bool) func(fd int) error {
	return func(fd int) error {
		if v4 {
			return unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_RECVERR, 1)
		}
		return unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
	}
}

// icmpUnreachable reads the socket's error queue (layer4.c
// udp_socket_error) and says which ICMP destination unreachable it holds,
// or "" if none.
func icmpUnreachable(c *net.UDPConn) string {
	rc, err := c.SyscallConn()
	if err != nil {
		return ""
	}
	var why string
	rc.Control(func(fd uintptr) {
		for range 8 { // the queue may hold several errors
			buf, oob := make([]byte, 64), make([]byte, 512)
			_, oobn, _, _, err := unix.Recvmsg(int(fd), buf, oob, unix.MSG_ERRQUEUE)
			if err != nil {
				return
			}
			if w := unreachableIn(oob[:oobn]); w != "" {
				why = w
				return
			}
		}
	})
	return why
}

// unreachableIn finds an ICMP or ICMPv6 destination unreachable in the
// control messages of a MSG_ERRQUEUE read.
func unreachableIn(oob []byte) string {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return ""
	}
	for _, m := range msgs {
		v4 := m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR
		v6 := m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR
		if (!v4 && !v6) || len(m.Data) < 8 {
			continue
		}
		// struct sock_extended_err: ee_errno u32, ee_origin, ee_type,
		// ee_code u8...
		errno := unix.Errno(binary.NativeEndian.Uint32(m.Data))
		origin, typ, code := m.Data[4], m.Data[5], m.Data[6]
		if (v4 && origin == unix.SO_EE_ORIGIN_ICMP && typ == 3) ||
			(v6 && origin == unix.SO_EE_ORIGIN_ICMP6 && typ == 1) {
			return fmt.Sprintf("ICMP destination unreachable, code %d (%v)", code, errno)
		}
	}
	return ""
}

// ParseHex is keepalived's read_hex_str (lib/parser.c), which reads
// UDP_CHECK's payload and require_reply: hex digits taken two at a time,
// spaces and tabs skipped between octets, a digit alone before a space or
// the end one octet ("Ab12f 3" is AB 12 0F 03). With wildcards, x or X is
// a nibble whose value does not matter: mask has its bits set. ok is false
// for an empty string or a character that is not a hex digit.
// keepalived 2.2.7 also refuses a string whose last octet is ff (it tests
// the last value read against its error marker, 0xff); keepalived 2.3.3
// fixed that (e7bf4d16, "Fix error handling for HEX_STR parsing in
// UDP_CHECK"), and so does keepalived-go.
func ParseHex(s string, wildcards bool) (data, mask []byte, ok bool) {
	const bad, wild = 0xff, 0xfe
	val := func(c byte) byte {
		switch {
		case c >= '0' && c <= '9':
			return c - '0'
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10
		case wildcards && (c == 'x' || c == 'X'):
			return wild
		}
		return bad
	}
	var v byte
	usedMask, bogus := false, false
	for i := 0; ; {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		v = val(s[i])
		i++
		if v == bad {
			bogus = true
			break
		}
		var m byte
		if v == wild {
			v, m, usedMask = 0, 0x0f, true
		}
		if i < len(s) && s[i] != ' ' {
			hi, mhi := v<<4, m<<4
			v = val(s[i])
			i++
			if v == bad {
				bogus = true
				break
			}
			m = 0
			if v == wild {
				v, m, usedMask = 0, 0x0f, true
			}
			v |= hi
			m |= mhi
		}
		data = append(data, v)
		mask = append(mask, m)
	}
	if bogus || len(data) == 0 {
		return nil, nil, false
	}
	if !usedMask {
		mask = nil
	}
	return data, mask, true
}

// UpLine is udp_epilog's success line.
func (u *UDP) UpLine(rs string) string { return "UDP connection to " + rs + " success." }

// DownLine is udp_epilog's failure line.
func (u *UDP) DownLine(rs, _ string, retry int, hasRun bool, reason string) string {
	return epilogLine("UDP_CHECK on service "+rs, retry, hasRun, reason)
}
