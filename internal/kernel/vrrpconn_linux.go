//go:build linux

package kernel

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// VRRPConn is a raw IP protocol 112 socket (51 for AH: see
// VRRPConnConfig.Protocol) on one interface and one
// address family. One VRRPConn serves every VRRP instance on that
// (interface, family, multicast or unicast): the caller dispatches
// received adverts by VRID.
//
// Send and Recv are safe for concurrent use (each is serialised with
// itself) and do not allocate on success. Close may be called at any time
// and wakes a waiting Recv.
type VRRPConn struct {
	cfg     VRRPConnConfig
	ifindex int
	src     netip.Addr
	file    *os.File // the socket, outside Go's poller (vrrpwait_linux.go)
	rc      syscall.RawConn
	waiter  *readyWaiter

	rmu   sync.Mutex
	rbuf  []byte
	rname unix.RawSockaddrInet6 // large enough for sockaddr_in too
	rmsg  unix.Msghdr
	riov  unix.Iovec
	roob  []byte // 8-byte aligned (heap)
	rn    int
	rerr  syscall.Errno
	rgot  bool
	tryFn func(fd uintptr) // rgot = doRead(fd), made once
	batch *batchReader     // RecvBatch's (vrrpbatch_linux.go), guarded by rmu

	tmu      sync.Mutex
	tryBatch *batchReader // TryRecvBatch's, guarded by tmu

	wmu     sync.Mutex
	wname4  unix.RawSockaddrInet4
	wname6  unix.RawSockaddrInet6
	wmsg    unix.Msghdr
	wiov    unix.Iovec
	woob    []byte
	werr    syscall.Errno
	writeFn func(fd uintptr) bool
}

// compile-time check
var _ Conn = (*VRRPConn)(nil)

// OpenVRRP opens the advert socket described by cfg: bound to the
// interface (SO_BINDTODEVICE), IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off,
// multicast loopback off, TTL / hop limit cfg.TTL (255) for multicast and
// unicast, receiving the destination address, TTL / hop limit and
// interface of every packet, and (unless cfg.Unicast) a member of
// cfg.Group on that interface only.
//
// When cfg.Source is zero the source is the interface's primary IPv4
// address or its IPv6 link-local address, looked up once, now: a conn
// whose source address disappears must be reopened. An IPv6 link-local
// address that is still tentative (DAD running) is used, but Send fails
// until DAD completes.
func OpenVRRP(cfg VRRPConnConfig) (*VRRPConn, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	var ifi Interface
	if cfg.Interface != "" {
		var err error
		if ifi, err = interfaceByName(cfg.Interface); err != nil {
			return nil, fmt.Errorf("kernel: open vrrp: %w", err)
		}
	}
	src := cfg.Source
	if !src.IsValid() {
		if cfg.Family == 4 {
			src = ifi.IPv4
		} else {
			src = ifi.LinkLocal
		}
		if !src.IsValid() {
			return nil, fmt.Errorf("kernel: open vrrp on %s: %w: the interface has no IPv%d %s", cfg.Interface, ErrNoSource, cfg.Family, map[int]string{4: "address", 6: "link-local address"}[cfg.Family])
		}
	}
	c := &VRRPConn{cfg: cfg, ifindex: ifi.Index, src: src}
	c.tryFn = func(fd uintptr) { c.rgot = c.doRead(fd) }
	c.roob = make([]byte, 128)
	c.writeFn = c.doWrite

	network, laddr := fmt.Sprintf("ip4:%d", cfg.Protocol), "0.0.0.0"
	if cfg.Family == 6 {
		network, laddr = "ip6:112", "::"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = c.setupSocket(int(fd))
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, laddr)
	if err != nil {
		return nil, fmt.Errorf("kernel: open vrrp on %s: %w", cfg.Interface, err)
	}
	conn := pc.(*net.IPConn)
	if err := c.setup(conn, ifi); err != nil {
		conn.Close()
		return nil, fmt.Errorf("kernel: open vrrp on %s: %w", cfg.Interface, err)
	}
	if err := c.leavePoller(conn); err != nil {
		return nil, fmt.Errorf("kernel: open vrrp on %s: %w", cfg.Interface, err)
	}
	return c, nil
}

// setupSocket runs before bind: nothing that arrives on other interfaces
// or for groups joined elsewhere may be queued.
func (c *VRRPConn) setupSocket(fd int) error {
	// Without an interface, a unicast socket is bound to its VRF, if any
	// (open_vrrp_read_socket and open_vrrp_send_socket in keepalived's
	// vrrp.c).
	if dev := cmp.Or(c.cfg.Interface, c.cfg.VRF); dev != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev); err != nil {
			return os.NewSyscallError("setsockopt SO_BINDTODEVICE "+dev, err)
		}
	}
	if c.cfg.Family == 4 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); err != nil {
			return os.NewSyscallError("setsockopt IP_MULTICAST_ALL", err)
		}
	} else {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0); err != nil {
			return os.NewSyscallError("setsockopt IPV6_MULTICAST_ALL", err)
		}
	}
	if c.cfg.Protocol == ProtoAH {
		// We build the IP header, which the AH ICV covers.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
			return os.NewSyscallError("setsockopt IP_HDRINCL", err)
		}
	}
	if c.cfg.RecvBuffer > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, c.cfg.RecvBuffer); err != nil {
			return os.NewSyscallError("setsockopt SO_RCVBUF", err)
		}
	}
	return nil
}

func (c *VRRPConn) setup(conn *net.IPConn, ifi Interface) error {
	nifi := &net.Interface{Index: ifi.Index, Name: ifi.Name, MTU: ifi.MTU, HardwareAddr: ifi.HardwareAddr, Flags: ifi.Flags}
	group := &net.IPAddr{IP: c.cfg.Group.AsSlice()}
	if c.cfg.Family == 4 {
		p := ipv4.NewPacketConn(conn)
		if err := p.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface|ipv4.FlagTTL, true); err != nil {
			return err
		}
		if nifi.Index != 0 {
			if err := p.SetMulticastInterface(nifi); err != nil {
				return err
			}
		}
		if err := p.SetMulticastLoopback(false); err != nil {
			return err
		}
		if err := p.SetMulticastTTL(c.cfg.TTL); err != nil {
			return err
		}
		if err := p.SetTTL(c.cfg.TTL); err != nil {
			return err
		}
		if !c.cfg.Unicast {
			if err := p.JoinGroup(nifi, group); err != nil {
				return err
			}
		}
	} else {
		p := ipv6.NewPacketConn(conn)
		if err := p.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface|ipv6.FlagHopLimit, true); err != nil {
			return err
		}
		if nifi.Index != 0 {
			if err := p.SetMulticastInterface(nifi); err != nil {
				return err
			}
		}
		if err := p.SetMulticastLoopback(false); err != nil {
			return err
		}
		if err := p.SetMulticastHopLimit(c.cfg.TTL); err != nil {
			return err
		}
		if err := p.SetHopLimit(c.cfg.TTL); err != nil {
			return err
		}
		if !c.cfg.Unicast {
			if err := p.JoinGroup(nifi, group); err != nil {
				return err
			}
		}
	}
	c.buildSendControl()
	return nil
}

// leavePoller takes the socket out of Go's poller (see vrrpwait_linux.go):
// the conn is closed, which removes it, and a duplicate of its descriptor,
// blocking (every call says MSG_DONTWAIT), becomes the conn's socket, in
// an epoll instance of its own. Whatever arrived before SO_BINDTODEVICE
// and IP_MULTICAST_ALL took effect is dropped. conn is closed on return.
func (c *VRRPConn) leavePoller(conn *net.IPConn) error {
	defer conn.Close()
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return err
	}
	if derr != nil {
		return os.NewSyscallError("fcntl", derr)
	}
	// Blocking, os.NewFile leaves it out of the poller.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("fcntl", err)
	}
	c.file = os.NewFile(uintptr(fd), "vrrp")
	if c.rc, err = c.file.SyscallConn(); err == nil {
		c.waiter, err = newReadyWaiter(fd)
	}
	if err != nil {
		c.file.Close()
		return err
	}
	var scratch [64]byte
	if err := c.rc.Control(func(fd uintptr) {
		for {
			_, _, err := unix.Recvfrom(int(fd), scratch[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC)
			if err != unix.EINTR && err != nil {
				return // EAGAIN: drained
			}
		}
	}); err != nil {
		c.Close()
		return err
	}
	return nil
}

// readOrWait calls try with the socket's descriptor until *got says it
// read something, waiting for the socket in between.
func (c *VRRPConn) readOrWait(try func(fd uintptr), got *bool) error {
	for {
		*got = false
		if err := c.rc.Control(try); err != nil {
			return c.waiter.closedOr(err)
		}
		if *got {
			return nil
		}
		if err := c.waiter.wait(); err != nil {
			return err
		}
	}
}

// buildSendControl prepares the IP_PKTINFO / IPV6_PKTINFO control message
// that pins every advert's source address and interface.
func (c *VRRPConn) buildSendControl() {
	if c.cfg.Family == 4 {
		c.woob = make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c.woob[0]))
		h.Level = unix.IPPROTO_IP
		h.Type = unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&c.woob[unix.CmsgLen(0)]))
		pi.Ifindex = int32(c.ifindex)
		pi.Spec_dst = c.src.As4()
		c.wname4.Family = unix.AF_INET
		c.wmsg.Name = (*byte)(unsafe.Pointer(&c.wname4))
		c.wmsg.Namelen = unix.SizeofSockaddrInet4
	} else {
		c.woob = make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c.woob[0]))
		h.Level = unix.IPPROTO_IPV6
		h.Type = unix.IPV6_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&c.woob[unix.CmsgLen(0)]))
		pi.Addr = c.src.As16()
		pi.Ifindex = uint32(c.ifindex)
		c.wname6.Family = unix.AF_INET6
		c.wmsg.Name = (*byte)(unsafe.Pointer(&c.wname6))
		c.wmsg.Namelen = unix.SizeofSockaddrInet6
	}
	c.wmsg.Iov = &c.wiov
	c.wmsg.SetIovlen(1)
	c.wmsg.Control = &c.woob[0]
	c.wmsg.SetControllen(len(c.woob))
}

// Source returns the address adverts are sent from.
func (c *VRRPConn) Source() netip.Addr { return c.src }

// Group returns the multicast group (meaningful unless Unicast).
func (c *VRRPConn) Group() netip.Addr { return c.cfg.Group }

// IfIndex returns the index of the conn's interface.
func (c *VRRPConn) IfIndex() int { return c.ifindex }

// Interface returns the name of the conn's interface.
func (c *VRRPConn) Interface() string { return c.cfg.Interface }

// Family returns 4 or 6.
func (c *VRRPConn) Family() int { return c.cfg.Family }

// SetReadDeadline bounds Recv; see net.Conn.
func (c *VRRPConn) SetReadDeadline(t time.Time) error { return c.waiter.ep.SetReadDeadline(t) }

// Close closes the socket; a Recv or RecvBatch waiting on it returns an
// error matching net.ErrClosed.
func (c *VRRPConn) Close() error {
	werr := c.waiter.close()
	if err := c.file.Close(); err != nil {
		return err
	}
	return werr
}

// Send sends payload, a VRRP message, to dst (the group or a unicast
// peer) from Source() on the conn's interface.
func (c *VRRPConn) Send(payload []byte, dst netip.Addr) error {
	dst = dst.Unmap()
	if familyOf(dst) != c.cfg.Family {
		return fmt.Errorf("kernel: vrrp send on %s: destination %v is not IPv%d", c.cfg.Interface, dst, c.cfg.Family)
	}
	if len(payload) == 0 {
		return fmt.Errorf("kernel: vrrp send on %s: empty payload", c.cfg.Interface)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.cfg.Family == 4 {
		c.wname4.Addr = dst.As4()
	} else {
		c.wname6.Addr = dst.As16()
		c.wname6.Scope_id = 0
		if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() || dst.IsInterfaceLocalMulticast() {
			c.wname6.Scope_id = uint32(c.ifindex)
		}
	}
	c.wiov.Base = &payload[0]
	c.wiov.SetLen(len(payload))
	c.werr = 0
	err := c.waiter.closedOr(c.rc.Write(c.writeFn))
	c.wiov.Base = nil
	if err != nil {
		return fmt.Errorf("kernel: vrrp send on %s to %v: %w", c.cfg.Interface, dst, err)
	}
	if c.werr != 0 {
		return fmt.Errorf("kernel: vrrp send on %s from %v to %v: %w", c.cfg.Interface, c.src, dst, os.NewSyscallError("sendmsg", c.werr))
	}
	return nil
}

func (c *VRRPConn) doWrite(fd uintptr) bool {
	for {
		// Raw: the socket never blocks (see noSysmonWake). A full send
		// buffer (EAGAIN) is an error, the advert dropped, as on
		// keepalived's non-blocking send socket (vrrp.c,
		// open_vrrp_send_socket): the caller, the timer of every
		// instance, must not wait for the socket.
		_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&c.wmsg)), unix.MSG_DONTWAIT)
		if e == unix.EINTR {
			continue
		}
		c.werr = e
		return true
	}
}

func (c *VRRPConn) doRead(fd uintptr) bool {
	c.riov.Base = &c.rbuf[0]
	c.riov.SetLen(len(c.rbuf))
	c.rmsg.Name = (*byte)(unsafe.Pointer(&c.rname))
	c.rmsg.Namelen = unix.SizeofSockaddrInet6
	c.rmsg.Iov = &c.riov
	c.rmsg.SetIovlen(1)
	c.rmsg.Control = &c.roob[0]
	c.rmsg.SetControllen(len(c.roob))
	c.rmsg.Flags = 0
	for {
		// Raw: the socket never blocks (see noSysmonWake).
		n, _, e := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&c.rmsg)), unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		c.rn = int(n)
		c.rerr = e
		return true
	}
}

// Recv waits for the next advert on the conn and returns it in
// buf[:Packet.N] (the VRRP message only: for IPv4 the IP header the kernel
// delivers is stripped). buf should hold at least 64 KiB to never
// truncate; 4.2 KiB holds the largest valid advert (255 IPv6 addresses)
// with an IPv4 header. A packet larger than buf is dropped with an error
// matching ErrTruncated. Malformed IPv4 headers are skipped, and so are
// multicast packets not for the conn's group (all of them on a unicast
// conn).
func (c *VRRPConn) Recv(buf []byte) (Packet, error) {
	if len(buf) == 0 {
		return Packet{}, errors.New("kernel: vrrp recv: empty buffer")
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf = buf
	defer func() { c.rbuf = nil; c.riov.Base = nil }()
	for {
		c.rerr = 0
		if err := c.readOrWait(c.tryFn, &c.rgot); err != nil {
			return Packet{}, fmt.Errorf("kernel: vrrp recv on %s: %w", c.cfg.Interface, err)
		}
		if c.rerr != 0 {
			return Packet{}, fmt.Errorf("kernel: vrrp recv on %s: %w", c.cfg.Interface, os.NewSyscallError("recvmsg", c.rerr))
		}
		if c.rmsg.Flags&unix.MSG_TRUNC != 0 || c.rn > len(buf) {
			return Packet{}, fmt.Errorf("kernel: vrrp recv on %s: %d-byte packet, %d-byte buffer: %w", c.cfg.Interface, c.rn, len(buf), ErrTruncated)
		}
		p, ok := c.parse(buf)
		if !ok {
			continue
		}
		// IPv6 raw sockets bound to :: receive every group joined on the
		// interface, by any socket, whatever IPV6_MULTICAST_ALL says
		// (net/ipv6/raw.c raw_v6_match checks memberships only for bound
		// sockets); filter here, for both families alike.
		if p.Dst.IsMulticast() && (c.cfg.Unicast || p.Dst != c.cfg.Group) {
			continue
		}
		return p, nil
	}
}

// parse interprets the last datagram read into buf.
func (c *VRRPConn) parse(buf []byte) (Packet, bool) {
	return c.parseInto(buf, c.rn, &c.rname, c.roob[:c.rmsg.Controllen])
}

// parseInto interprets a datagram of rn bytes read into buf, from name,
// with the control messages oob.
func (c *VRRPConn) parseInto(buf []byte, rn int, name *unix.RawSockaddrInet6, oob []byte) (Packet, bool) {
	var p Packet
	cm := parseControl(oob)
	p.IfIndex = cm.ifindex
	if c.cfg.Family == 4 {
		b := buf[:rn]
		if len(b) < 20 || b[0]>>4 != 4 {
			return p, false
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if ihl < 20 || total < ihl || total > len(b) {
			return p, false
		}
		p.TTL = b[8]
		p.Src = netip.AddrFrom4([4]byte(b[12:16]))
		p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		if c.cfg.Protocol == ProtoAH {
			p.N = total // the header stays: the AH ICV covers it
			return p, true
		}
		p.N = copy(buf, b[ihl:total])
		return p, true
	}
	if name.Family != unix.AF_INET6 {
		return p, false
	}
	p.Src = netip.AddrFrom16(name.Addr)
	p.Dst = cm.dst
	p.TTL = cm.ttl
	p.N = rn
	return p, true
}

type control struct {
	ifindex int
	dst     netip.Addr
	ttl     uint8
}

// parseControl walks a control message buffer without allocating.
func parseControl(b []byte) control {
	var cm control
	for len(b) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(b) {
			break
		}
		data := b[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			cm.ifindex = int(pi.Ifindex)
			cm.dst = netip.AddrFrom4(pi.Addr)
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TTL && len(data) >= 4:
			cm.ttl = uint8(binary.NativeEndian.Uint32(data))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			cm.ifindex = int(pi.Ifindex)
			cm.dst = netip.AddrFrom16(pi.Addr)
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			cm.ttl = uint8(binary.NativeEndian.Uint32(data))
		}
		sp := unix.CmsgSpace(l - unix.CmsgLen(0))
		if sp > len(b) {
			break
		}
		b = b[sp:]
	}
	return cm
}
