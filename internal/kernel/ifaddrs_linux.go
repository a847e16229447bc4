//go:build linux

package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// dumpSocket is the command channel's second rtnetlink socket: the
// interface ioctls (SIOCGIF*, which any socket answers for its network
// namespace) and the address dumps the kernel filters by interface
// (NETLINK_GET_STRICT_CHK, Linux 4.20 and later), which the library
// cannot ask for: its AddrList dumps every address of the namespace and
// parses them all to keep one interface's, which at the start of a
// thousand instances with their VIPs still on the interfaces was most of
// the daemon's allocations.
type dumpSocket struct {
	fd     int
	strict bool // the kernel filters dumps by ifa_index

	mu  sync.Mutex // guards seq and buf: one dump at a time
	seq uint32
	buf []byte
}

func openDumpSocket() (*dumpSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, os.NewSyscallError("socket AF_NETLINK", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind AF_NETLINK", err)
	}
	// The bound the library's sockets have (netlink.GetSocketTimeout).
	tv := unix.Timeval{Sec: 60}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("setsockopt SO_RCVTIMEO", err)
	}
	strict := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1) == nil
	return &dumpSocket{fd: fd, strict: strict}, nil
}

// ifaceAddr is what InterfaceByName needs of an address.
type ifaceAddr struct {
	ip    netip.Addr
	flags uint32
}

// errDumpInterrupted: the addresses changed while the dump was read
// (NLM_F_DUMP_INTR).
var errDumpInterrupted = errors.New("address dump interrupted")

// addrs dumps the addresses of interface index, IPv4 then IPv6 in the
// kernel's order (as the full dump lists them), retrying a dump the
// kernel flags as interrupted. Only with strict.
func (d *dumpSocket) addrs(index int, out []ifaceAddr) ([]ifaceAddr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	for range 5 {
		var got []ifaceAddr
		if got, err = d.dump(index, out); !errors.Is(err, errDumpInterrupted) {
			return got, err
		}
	}
	return nil, err
}

func (d *dumpSocket) dump(index int, out []ifaceAddr) ([]ifaceAddr, error) {
	d.seq++
	var req [unix.SizeofNlMsghdr + unix.SizeofIfAddrmsg]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.RTM_GETADDR)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], d.seq)
	// ifaddrmsg: family AF_UNSPEC (both), then ifa_index at offset 4.
	ne.PutUint32(req[unix.SizeofNlMsghdr+4:], uint32(index))
	kernel := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}
	if err := ignoringEINTR(func() error { return unix.Sendto(d.fd, req[:], 0, kernel) }); err != nil {
		return nil, os.NewSyscallError("sendto RTM_GETADDR", err)
	}
	if d.buf == nil {
		d.buf = make([]byte, 64<<10) // the library's receive size
	}
	out = out[:0]
	intr := false
	for {
		var n int
		var from unix.Sockaddr
		err := ignoringEINTR(func() (err error) {
			n, from, err = unix.Recvfrom(d.fd, d.buf, 0)
			return err
		})
		if err != nil {
			return nil, os.NewSyscallError("recvfrom RTM_GETADDR", err)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		var done bool
		if out, done, err = readAddrDump(d.buf[:n], d.seq, index, out, &intr); done || err != nil {
			return out, err
		}
	}
}

// readAddrDump reads one datagram of an RTM_GETADDR dump's answer (the
// standard library's netlink parsers): the addresses of interface index
// are appended to out; done says the dump has ended, with the kernel's
// error if it sent one, or errDumpInterrupted when some part was flagged
// NLM_F_DUMP_INTR (*intr carries that flag across datagrams). Messages
// of another sequence (the answer to an earlier request that gave up)
// are skipped.
func readAddrDump(b []byte, seq uint32, index int, out []ifaceAddr, intr *bool) ([]ifaceAddr, bool, error) {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return out, true, fmt.Errorf("malformed netlink message: %w", err)
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Seq != seq {
			continue
		}
		if m.Header.Flags&unix.NLM_F_DUMP_INTR != 0 {
			*intr = true
		}
		switch m.Header.Type {
		case unix.NLMSG_DONE, unix.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
					return out, true, unix.Errno(errno)
				}
			}
			if *intr {
				return out, true, errDumpInterrupted
			}
			return out, true, nil
		case unix.RTM_NEWADDR:
			if a, ok := parseIfaddr(m, index); ok {
				out = append(out, a)
			}
		}
	}
	return out, false, nil
}

// parseIfaddr reads an RTM_NEWADDR's address (IFA_LOCAL, else
// IFA_ADDRESS, as the library's parseAddr does) and flags (IFA_FLAGS,
// else ifa_flags); ok is false for another interface's, or a message
// too short to be one. The attributes are walked here, bounds checked:
// syscall.ParseNetlinkRouteAttr panics on some malformed ones (found by
// FuzzReadAddrDump).
func parseIfaddr(m *syscall.NetlinkMessage, index int) (ifaceAddr, bool) {
	b := m.Data
	ne := binary.NativeEndian
	if len(b) < unix.SizeofIfAddrmsg || int(ne.Uint32(b[4:])) != index {
		return ifaceAddr{}, false
	}
	a := ifaceAddr{flags: uint32(b[2])}
	var local, address netip.Addr
	for b = b[unix.SizeofIfAddrmsg:]; len(b) >= unix.SizeofRtAttr; {
		l := int(ne.Uint16(b[0:]))
		if l < unix.SizeofRtAttr || l > len(b) {
			break
		}
		v := b[unix.SizeofRtAttr:l]
		switch ne.Uint16(b[2:]) {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(v)
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(v)
		case unix.IFA_FLAGS:
			if len(v) >= 4 {
				a.flags = ne.Uint32(v)
			}
		}
		b = b[min((l+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1), len(b)):]
	}
	a.ip = local
	if !a.ip.IsValid() {
		a.ip = address
	}
	return a, a.ip.IsValid()
}

func (d *dumpSocket) close() { unix.Close(d.fd) }

// ignoringEINTR retries f while it fails with EINTR: with SO_RCVTIMEO a
// blocking recvfrom is not restarted after a signal handler (signal(7)),
// and the Go runtime signals its threads (preemption).
func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}
