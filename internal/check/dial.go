package check

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is the common connection keywords of a checker, resolved: where
// to connect and from where.
type Conn struct {
	// Addr is connect_ip:connect_port, else the real server's address
	// and port.
	Addr netip.AddrPort
	// BindTo and BindPort are the local address and port (bindto,
	// bind_port); zero values let the kernel choose.
	BindTo   netip.Addr
	BindPort uint16
	// BindIf is bind_if: the interface to leave from (needed for an IPv6
	// link-local address).
	BindIf string
	// Fwmark marks the probe's packets (fwmark), so that policy routing
	// can send them the way the service's traffic goes.
	Fwmark int
	// Timeout is connect_timeout: the bound of the whole probe.
	Timeout time.Duration
}

// String is the address as keepalived's checker logs print it:
// "[10.0.0.2]:tcp:80".
func (c Conn) String() string { return fmt.Sprintf("[%s]:tcp:%d", c.Addr.Addr(), c.Addr.Port()) }

// dialer is the net.Dialer the connection keywords ask for, for network
// "tcp" or "udp"; opts are further socket options a checker sets before
// the socket is bound (UDP_CHECK's IP_RECVERR).
func (c Conn) dialer(network string, opts ...func(fd int) error) *net.Dialer {
	d := &net.Dialer{Timeout: c.Timeout}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		local := c.BindTo
		if !local.IsValid() {
			local = netip.IPv4Unspecified()
			if c.Addr.Addr().Is6() {
				local = netip.IPv6Unspecified()
			}
		}
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, c.BindPort))
		if network == "udp" {
			d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, c.BindPort))
		}
	}
	if c.Fwmark != 0 || c.BindIf != "" || len(opts) > 0 {
		d.Control = func(_, _ string, raw syscall.RawConn) error {
			var err error
			cerr := raw.Control(func(fd uintptr) {
				if c.Fwmark != 0 {
					err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, c.Fwmark)
				}
				if err == nil && c.BindIf != "" {
					err = unix.BindToDevice(int(fd), c.BindIf)
				}
				for _, o := range opts {
					if err == nil {
						err = o(int(fd))
					}
				}
			})
			if cerr != nil {
				return cerr
			}
			return err
		}
	}
	return d
}

// dial opens a connection of network "tcp" or "udp" to c.Addr within
// ctx's deadline; opts are further socket options (see dialer).
func (c Conn) dial(ctx context.Context, network string, opts ...func(fd int) error) (net.Conn, error) {
	target := c.Addr
	if c.BindIf != "" && target.Addr().Is6() && target.Addr().IsLinkLocalUnicast() {
		target = netip.AddrPortFrom(target.Addr().WithZone(c.BindIf), target.Port())
	}
	return c.dialer(network, opts...).DialContext(ctx, network, target.String())
}
