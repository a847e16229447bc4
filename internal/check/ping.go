package check

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Ping is PING_CHECK (check/check_ping.c): an ICMP echo request (ICMPv6
// for an IPv6 server) to the real server or connect_ip, carrying 128
// octets of keepalived's filler; the server is up when the echo reply
// with the request's sequence number comes back within connect_timeout.
//
// The socket is the IPPROTO_ICMP datagram ("ping") socket keepalived
// uses, where the kernel chooses the identifier and delivers only the
// replies that carry it. Linux lets a process open one only when its
// group is within net.ipv4.ping_group_range (per network namespace;
// "1 0", nobody, by default). keepalived 2.2.7 rewrites that sysctl to
// start at group 0 when it reads a PING_CHECK (set_ping_group_range, with
// "Warning: ... being expanded" when the range was not empty) and puts
// the old lower bound back when its checker process stops; a crash
// leaves it widened. keepalived-go does not touch the sysctl: where the
// datagram socket is refused it uses a raw ICMP socket, which root (or
// CAP_NET_RAW) may open anyway, with a random identifier of its own and
// a kernel filter for echo replies. Without either the check fails with
// the reason.
//
// Beyond keepalived 2.2.7 (which sends with no bind at all and takes the
// first ICMP packet received as the answer), bind_if, bindto and fwmark
// are honoured and a reply must come from the server and carry the
// request's sequence number (and, on a raw socket, its identifier); other
// packets are ignored. keepalived after 2.2.7 also binds and checks the
// sequence number.
type Ping struct {
	Conn Conn

	once    sync.Once
	id      uint16 // identifier on a raw socket
	seq     atomic.Uint32
	usedRaw atomic.Bool // the last probe used a raw socket (for tests)
}

func (p *Ping) String() string { return fmt.Sprintf("[%s]", p.Conn.Addr.Addr()) }

// icmpPayload is what follows the echo header (check_ping.c ICMP_BUFSIZE
// octets filled by set_buf).
var icmpPayload = keepaliveBuf(128)

// Check sends one echo request and waits for its reply.
func (p *Ping) Check(ctx context.Context) Result {
	p.once.Do(func() { p.id = uint16(rand.N(1 << 16)) })
	target := p.Conn.Addr.Addr().Unmap().WithZone("")
	v4 := target.Is4()
	f, raw, err := p.open(v4)
	if err != nil {
		return failed(err)
	}
	defer f.Close()
	p.usedRaw.Store(raw)
	stop := context.AfterFunc(ctx, func() { f.SetDeadline(time.Now()) })
	defer stop()
	f.SetDeadline(deadline(ctx, p.Conn.Timeout))
	seq := uint16(p.seq.Add(1))
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: int(p.id), Seq: int(seq), Data: icmpPayload}}
	proto, reply := 1, icmp.Type(ipv4.ICMPTypeEchoReply)
	if !v4 {
		msg.Type, proto, reply = ipv6.ICMPTypeEchoRequest, 58, ipv6.ICMPTypeEchoReply
	}
	// The IPv4 checksum is computed here; the kernel computes ICMPv6's
	// and, on a datagram socket, sets the identifier and the checksum.
	out, err := msg.Marshal(nil)
	if err != nil {
		return failed(err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return failed(err)
	}
	to := p.sockaddr(target)
	var ioErr error
	if err := rc.Write(func(fd uintptr) bool {
		ioErr = unix.Sendto(int(fd), out, 0, to)
		return ioErr != unix.EAGAIN
	}); err != nil {
		ioErr = err
	}
	if ioErr != nil {
		return Result{Reason: "send ICMP packet fail: " + ioErr.Error()}
	}
	buf := make([]byte, 1500)
	for {
		var n int
		var from unix.Sockaddr
		if err := rc.Read(func(fd uintptr) bool {
			n, from, ioErr = unix.Recvfrom(int(fd), buf, 0)
			return ioErr != unix.EAGAIN
		}); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return Result{Reason: "no echo reply (timeout)", TimedOut: true}
			}
			return failed(err)
		}
		if ioErr != nil {
			return Result{Reason: "recv ICMP packet error: " + ioErr.Error()}
		}
		if fromAddr(from) != target {
			continue
		}
		b := buf[:n]
		if raw && v4 && len(b) > 0 { // a raw IPv4 socket reads the IP header too
			if hl := int(b[0]&0x0f) * 4; hl <= len(b) {
				b = b[hl:]
			}
		}
		m, err := icmp.ParseMessage(proto, b)
		if err != nil || m.Type != reply {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok || echo.Seq != int(seq) || (raw && echo.ID != int(p.id)) {
			continue
		}
		return Result{OK: true}
	}
}

// open makes the probe's socket: the datagram ICMP socket, else a raw one
// (see Ping), with the connection keywords applied.
func (p *Ping) open(v4 bool) (f *os.File, raw bool, err error) {
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if !v4 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err == unix.EACCES || err == unix.EPERM || err == unix.EPROTONOSUPPORT {
		raw = true
		fd, err = unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return nil, false, fmt.Errorf("ICMP socket: %w (the datagram socket needs the group within net.ipv4.ping_group_range, a raw one root or CAP_NET_RAW)", err)
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("ICMP socket: %w", err)
	}
	if err := p.setup(fd, v4, raw); err != nil {
		unix.Close(fd)
		return nil, false, err
	}
	return os.NewFile(uintptr(fd), "icmp"), raw, nil
}

func (p *Ping) setup(fd int, v4, raw bool) error {
	c := p.Conn
	if c.Fwmark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, c.Fwmark); err != nil {
			return fmt.Errorf("fwmark %d: %w", c.Fwmark, err)
		}
	}
	if c.BindIf != "" {
		if err := unix.BindToDevice(fd, c.BindIf); err != nil {
			return fmt.Errorf("checker can't bind to device %s: %w", c.BindIf, err)
		}
	}
	if raw {
		// Let only echo replies through: a raw socket sees every ICMP
		// packet of the namespace.
		var err error
		if v4 {
			// ICMP_FILTER: a mask of the types to drop.
			err = unix.SetsockoptInt(fd, unix.SOL_RAW, unix.ICMP_FILTER, ^(1 << ipv4.ICMPTypeEchoReply))
		} else {
			var flt unix.ICMPv6Filter
			for i := range flt.Data {
				flt.Data[i] = 0xffffffff
			}
			t := uint(ipv6.ICMPTypeEchoReply)
			flt.Data[t>>5] &^= 1 << (t & 31)
			err = unix.SetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &flt)
		}
		if err != nil {
			return fmt.Errorf("ICMP filter: %w", err)
		}
	}
	if c.BindTo.IsValid() {
		if err := unix.Bind(fd, p.sockaddr(c.BindTo.Unmap())); err != nil {
			return fmt.Errorf("checker bind failed: %w", err)
		}
	}
	return nil
}

// sockaddr is a as a socket address: a link-local IPv6 address is scoped to
// bind_if.
func (p *Ping) sockaddr(a netip.Addr) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4()}
	}
	sa := &unix.SockaddrInet6{Addr: a.As16()}
	if a.IsLinkLocalUnicast() && p.Conn.BindIf != "" {
		if ifi, err := net.InterfaceByName(p.Conn.BindIf); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return sa
}

func fromAddr(sa unix.Sockaddr) netip.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(sa.Addr).Unmap()
	}
	return netip.Addr{}
}

// UpLine is check_ping.c icmp_epilog's success line.
func (p *Ping) UpLine(rs string) string { return "ICMP connection to " + rs + " success." }

// DownLine is icmp_epilog's failure line, which names the virtual server
// only after retries.
func (p *Ping) DownLine(rs, vs string, retry int, hasRun bool, reason string) string {
	if retry > 0 && hasRun {
		return epilogLine("ICMP CHECK on service "+rs+" of "+vs, retry, hasRun, reason)
	}
	return epilogLine("ICMP CHECK on service "+rs, retry, hasRun, reason)
}
