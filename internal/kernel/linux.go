//go:build linux

package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Linux is the real Kernel. The zero value is ready to use; use it by
// pointer (&Linux{}). It keeps one AF_PACKET socket, opened on first use
// in the calling thread's network namespace, for gratuitous ARPs and
// unsolicited NAs on every interface, and one rtnetlink command channel,
// opened the same way, for every address, route and rule it changes or
// reads, as keepalived keeps one nl_cmd per process (keepalived_netlink.c
// kernel_netlink_init): a netlink.Handle's socket, and beside it one of
// ours for the interface ioctls and the address dumps the library cannot
// filter (see dumpSocket). Close releases them. Once opened, the sockets
// stay in their namespace, whatever thread calls: use one Linux per
// network namespace.
type Linux struct {
	mu     sync.Mutex
	packet int // AF_PACKET socket + 1; 0 when not open

	// cmdMu guards cmd and cmdBuf: commands hold it for reading while
	// they use the socket, opening and closing hold it for writing. The
	// handle serialises concurrent requests on its socket itself
	// (vishvananda/netlink v1.3.1 nl/nl_linux.go
	// NetlinkRequest.ExecuteIter: a handle's socket is locked from the
	// request to the end of its reply, sequence numbers are taken
	// atomically, and replies with another one are skipped).
	cmdMu  sync.RWMutex
	cmd    *cmdSocket // nil when not open
	cmdBuf NetlinkBuffer
}

// cmdSocket is the command channel: the rtnetlink handle, and an
// rtnetlink socket of our own in the same network namespace (see
// dumpSocket) for the SIOCGIF* ioctls that find an interface's index or
// MAC without a netlink round trip (and without parsing every attribute
// of the link, as LinkByName does) and for the address dumps filtered by
// interface.
type cmdSocket struct {
	h     *netlink.Handle
	d     *dumpSocket // nil in interfaceIndex's
	ioctl int         // d's socket
}

var _ Kernel = (*Linux)(nil)

// Close closes the announcement socket and the command socket, if open.
// The Linux value stays usable: the next announcement or command opens a
// new one (in the calling thread's network namespace), with the receive
// buffer SetCommandBuffer asked for.
func (l *Linux) Close() error {
	l.cmdMu.Lock()
	l.closeCommand()
	l.cmdMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.packet == 0 {
		return nil
	}
	err := unix.Close(l.packet - 1)
	l.packet = 0
	return err
}

// closeCommand closes the command socket; cmdMu is held for writing.
func (l *Linux) closeCommand() {
	if l.cmd != nil {
		l.cmd.h.Close()
		l.cmd.d.close()
		l.cmd = nil
	}
}

// SetCommandBuffer sizes the receive buffers of the command sockets
// (keepalived's vrrp_netlink_cmd_rcv_bufs[_force]; its
// keepalived_netlink.c netlink_set_rx_buf_size): SO_RCVBUF, or
// SO_RCVBUFFORCE with Force. The socket is opened now if it is not, in
// the calling thread's network namespace, and one opened after a Close
// gets the same buffer. Size 0 gives the socket the kernel's default
// (net.core.rmem_default) again: a socket sized before is replaced by a
// fresh one. An error (SO_RCVBUFFORCE without CAP_NET_ADMIN) leaves the
// socket usable with the buffer it had, as keepalived logs the failure and
// goes on.
func (l *Linux) SetCommandBuffer(b NetlinkBuffer) error {
	l.cmdMu.Lock()
	defer l.cmdMu.Unlock()
	resized := l.cmdBuf != (NetlinkBuffer{})
	l.cmdBuf = b
	if l.cmd != nil && b.Size == 0 && resized {
		l.closeCommand()
	}
	if l.cmd == nil {
		c, err := openCommand()
		if err != nil {
			return fmt.Errorf("kernel: netlink command socket: %w", err)
		}
		l.cmd = c
	}
	if b.Size == 0 {
		return nil
	}
	if err := l.cmd.setBuffer(b); err != nil {
		opt := "SO_RCVBUF"
		if b.Force {
			opt = "SO_RCVBUFFORCE"
		}
		return fmt.Errorf("kernel: netlink command socket: %s %d: %w", opt, b.Size, err)
	}
	return nil
}

// CommandBuffer reads the handle's socket's receive buffer back
// (SO_RCVBUF: twice the size set, as the kernel doubles it), or 0 when
// the socket is not open.
func (l *Linux) CommandBuffer() (int, error) {
	l.cmdMu.RLock()
	defer l.cmdMu.RUnlock()
	if l.cmd == nil {
		return 0, nil
	}
	sizes, err := l.cmd.h.GetSocketReceiveBufferSize()
	if err != nil || len(sizes) == 0 {
		return 0, err
	}
	return sizes[0], nil
}

// openCommand opens a command channel in the calling thread's network
// namespace.
func openCommand() (*cmdSocket, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	// The bound the library gives the sockets it opens per request.
	if err := h.SetSocketTimeout(netlink.GetSocketTimeout()); err != nil {
		h.Close()
		return nil, err
	}
	d, err := openDumpSocket()
	if err != nil {
		h.Close()
		return nil, err
	}
	return &cmdSocket{h: h, d: d, ioctl: d.fd}, nil
}

// setBuffer sizes the receive buffers of both sockets.
func (c *cmdSocket) setBuffer(b NetlinkBuffer) error {
	if err := c.h.SetSocketReceiveBufferSize(b.Size, b.Force); err != nil {
		return err
	}
	opt := unix.SO_RCVBUF
	if b.Force {
		opt = unix.SO_RCVBUFFORCE
	}
	return unix.SetsockoptInt(c.d.fd, unix.SOL_SOCKET, opt, b.Size)
}

// command returns the command channel, opening it if needed, with cmdMu
// held for reading: the caller calls l.cmdMu.RUnlock when done with it.
func (l *Linux) command() (*cmdSocket, error) {
	l.cmdMu.RLock()
	if c := l.cmd; c != nil {
		return c, nil
	}
	l.cmdMu.RUnlock()
	l.cmdMu.Lock()
	if l.cmd == nil {
		c, err := openCommand()
		if err != nil {
			l.cmdMu.Unlock()
			return nil, fmt.Errorf("netlink command socket: %w", err)
		}
		if b := l.cmdBuf; b.Size > 0 {
			// Best effort, as keepalived's: SetCommandBuffer reported
			// whether this size can be had.
			_ = c.setBuffer(b)
		}
		l.cmd = c
	}
	l.cmdMu.Unlock()
	return l.command()
}

// index finds the named interface's index with ioctl SIOCGIFINDEX:
// ErrNoInterface when there is none.
func (c *cmdSocket) index(name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil { // too long for a name
		return 0, fmt.Errorf("%w %q", ErrNoInterface, name)
	}
	if err := unix.IoctlIfreq(c.ioctl, unix.SIOCGIFINDEX, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return 0, fmt.Errorf("%w %q", ErrNoInterface, name)
		}
		return 0, fmt.Errorf("interface %q: %w", name, os.NewSyscallError("ioctl SIOCGIFINDEX", err))
	}
	return int(ifr.Uint32()), nil
}

// interfaceIndex finds the named interface's index in the calling
// thread's network namespace with ioctl SIOCGIFINDEX on a socket opened
// for it: ErrNoInterface when there is none.
func interfaceIndex(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, os.NewSyscallError("socket AF_UNIX", err)
	}
	defer unix.Close(fd)
	return (&cmdSocket{ioctl: fd}).index(name)
}

// link is the minimal link netlink needs to address an interface by
// index in a command, found without parsing the link's attributes.
func (c *cmdSocket) link(name string) (netlink.Link, error) {
	i, err := c.index(name)
	if err != nil {
		return nil, err
	}
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: i, Name: name}}, nil
}

// ifreqHW is struct ifreq as SIOCGIFHWADDR fills it: the name, then a
// struct sockaddr whose family is the device type (ARPHRD_*) and whose
// data starts with the hardware address (linux/if.h).
type ifreqHW struct {
	name   [unix.IFNAMSIZ]byte
	family uint16
	data   [14]byte
	_      [8]byte // the rest of the union
}

// ethernet finds an Ethernet interface's index and MAC with two ioctls;
// ok is false for any other type of device (the caller asks netlink).
func (c *cmdSocket) ethernet(name string) (index int, mac net.HardwareAddr, ok bool, err error) {
	if index, err = c.index(name); err != nil {
		return 0, nil, false, err
	}
	var r ifreqHW
	copy(r.name[:unix.IFNAMSIZ-1], name)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(c.ioctl), unix.SIOCGIFHWADDR, uintptr(unsafe.Pointer(&r))); e != 0 {
		if e == unix.ENODEV {
			return 0, nil, false, fmt.Errorf("%w %q", ErrNoInterface, name)
		}
		return 0, nil, false, fmt.Errorf("interface %q: %w", name, os.NewSyscallError("ioctl SIOCGIFHWADDR", e))
	}
	if r.family != unix.ARPHRD_ETHER {
		return index, nil, false, nil
	}
	return index, net.HardwareAddr(r.data[:6:6]), true, nil
}

// handleLinkByName is LinkByName through h, with ErrNoInterface for a
// missing interface.
func handleLinkByName(h *netlink.Handle, name string) (netlink.Link, error) {
	link, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("%w %q", ErrNoInterface, name)
		}
		return nil, fmt.Errorf("interface %q: %w", name, err)
	}
	return link, nil
}

// perRequest is a Handle without sockets: each request opens its own, in
// the calling thread's network namespace, as the package's functions do
// (the VMAC, ipvlan and promote_secondaries code, which runs once per
// instance, uses it).
var perRequest = &netlink.Handle{}

// InterfaceByName describes the named interface.
func (l *Linux) InterfaceByName(name string) (Interface, error) {
	c, err := l.command()
	if err != nil {
		return Interface{}, fmt.Errorf("kernel: %w", err)
	}
	defer l.cmdMu.RUnlock()
	ifi, err := interfaceByNameWith(c.h, c.d, name)
	if err != nil {
		return Interface{}, fmt.Errorf("kernel: %w", err)
	}
	return ifi, nil
}

// OpenVRRP opens a VRRPConn; see the package-level OpenVRRP.
func (l *Linux) OpenVRRP(cfg VRRPConnConfig) (Conn, error) {
	c, err := OpenVRRP(cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func linkByName(name string) (netlink.Link, error) { return handleLinkByName(perRequest, name) }

// addrList retries dumps the kernel flags as interrupted (NLM_F_DUMP_INTR:
// the address list changed while it was being read).
func addrList(h *netlink.Handle, link netlink.Link, family int) ([]netlink.Addr, error) {
	var err error
	for range 5 {
		var as []netlink.Addr
		as, err = h.AddrList(link, family)
		if err == nil {
			return as, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return nil, err
}

func interfaceByName(name string) (Interface, error) {
	return interfaceByNameWith(perRequest, nil, name)
}

// interfaceByNameWith describes the interface from its link attributes
// (through h) and its addresses: from d's dump filtered by the kernel
// when d can, else from the full dump through h.
func interfaceByNameWith(h *netlink.Handle, d *dumpSocket, name string) (Interface, error) {
	link, err := handleLinkByName(h, name)
	if err != nil {
		return Interface{}, err
	}
	a := link.Attrs()
	ifi := Interface{
		Index:        a.Index,
		Name:         a.Name,
		MTU:          a.MTU,
		HardwareAddr: a.HardwareAddr,
		Flags:        a.Flags,
		OperUp:       a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown,
	}
	var addrs []ifaceAddr
	if d != nil && d.strict {
		addrs, err = d.addrs(a.Index, nil)
		if errors.Is(err, unix.ENODEV) {
			return Interface{}, fmt.Errorf("%w %q", ErrNoInterface, name)
		}
	} else {
		var nas []netlink.Addr
		nas, err = addrList(h, link, netlink.FAMILY_ALL)
		for _, na := range nas {
			if ip, ok := netip.AddrFromSlice(na.IP); ok {
				addrs = append(addrs, ifaceAddr{ip: ip, flags: uint32(na.Flags)})
			}
		}
	}
	if err != nil {
		return Interface{}, fmt.Errorf("interface %q: addresses: %w", name, err)
	}
	var llUsable bool
	for _, na := range addrs {
		ip := na.ip.Unmap()
		switch {
		case ip.Is4():
			if !ifi.IPv4.IsValid() && na.flags&unix.IFA_F_SECONDARY == 0 {
				ifi.IPv4 = ip
			}
		case ip.IsLinkLocalUnicast():
			usable := na.flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0
			if !ifi.LinkLocal.IsValid() || (usable && !llUsable) {
				ifi.LinkLocal, llUsable = ip, usable
			}
		}
	}
	return ifi, nil
}

func toNetlinkAddr(a Address) (*netlink.Addr, error) {
	if !a.Prefix.IsValid() {
		return nil, errors.New("invalid prefix")
	}
	ip := a.Prefix.Addr().WithZone("")
	bits := a.Prefix.Bits()
	if ip.Is4In6() {
		ip, bits = ip.Unmap(), max(bits-96, 0)
	}
	na := &netlink.Addr{
		IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, ip.BitLen())},
		Scope: int(a.Scope),
	}
	if ip.Is4() {
		na.Label = a.Label
		if a.Broadcast.IsValid() {
			if !a.Broadcast.Unmap().Is4() {
				return nil, fmt.Errorf("broadcast %v is not IPv4", a.Broadcast)
			}
			na.Broadcast = a.Broadcast.Unmap().AsSlice()
		}
		return na, nil
	}
	if !a.DAD {
		na.Flags |= unix.IFA_F_NODAD
	}
	if !a.Preferred {
		// Deprecated: never chosen as a source address. Valid forever.
		na.PreferedLft = 0
		na.ValidLft = 0xffffffff
	}
	return na, nil
}

// AddAddress adds a to the interface, or updates it in place when it is
// already there (netlink NLM_F_REPLACE), so a repeated call returns nil
// and converges flags and lifetimes. IPv6 addresses get IFA_F_NODAD and a
// preferred lifetime of 0 unless a.DAD / a.Preferred say otherwise.
func (l *Linux) AddAddress(ifname string, a Address) error {
	c, err := l.command()
	if err != nil {
		return fmt.Errorf("kernel: add address %v: %w", a.Prefix, err)
	}
	defer l.cmdMu.RUnlock()
	link, err := c.link(ifname)
	if err != nil {
		return fmt.Errorf("kernel: add address %v: %w", a.Prefix, err)
	}
	na, err := toNetlinkAddr(a)
	if err != nil {
		return fmt.Errorf("kernel: add address %v on %s: %w", a.Prefix, ifname, err)
	}
	if err := c.h.AddrReplace(link, na); err != nil {
		return fmt.Errorf("kernel: add address %v on %s: %w", a.Prefix, ifname, err)
	}
	return nil
}

// DelAddress removes a (matched by address and prefix length) from the
// interface. An address that is not there, or an interface that does not
// exist any more, is not an error.
func (l *Linux) DelAddress(ifname string, a Address) error {
	c, err := l.command()
	if err != nil {
		return fmt.Errorf("kernel: delete address %v: %w", a.Prefix, err)
	}
	defer l.cmdMu.RUnlock()
	link, err := c.link(ifname)
	if errors.Is(err, ErrNoInterface) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kernel: delete address %v: %w", a.Prefix, err)
	}
	na, err := toNetlinkAddr(a)
	if err != nil {
		return fmt.Errorf("kernel: delete address %v on %s: %w", a.Prefix, ifname, err)
	}
	na.Label = "" // match on the address, not the label
	if err := c.h.AddrDel(link, na); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("kernel: delete address %v on %s: %w", a.Prefix, ifname, err)
	}
	return nil
}

// ListAddresses lists the interface's addresses, IPv4 and IPv6.
func (l *Linux) ListAddresses(ifname string) ([]Address, error) {
	c, err := l.command()
	if err != nil {
		return nil, fmt.Errorf("kernel: list addresses: %w", err)
	}
	defer l.cmdMu.RUnlock()
	link, err := c.link(ifname)
	if err != nil {
		return nil, fmt.Errorf("kernel: list addresses: %w", err)
	}
	nas, err := addrList(c.h, link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("kernel: list addresses on %s: %w", ifname, err)
	}
	out := make([]Address, 0, len(nas))
	for _, na := range nas {
		ip, ok := netip.AddrFromSlice(na.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		ones, _ := na.Mask.Size()
		if ip.Is4() && ones > 32 {
			ones -= 96
		}
		a := Address{
			Prefix:    netip.PrefixFrom(ip, ones),
			Label:     na.Label,
			Scope:     uint8(na.Scope),
			DAD:       na.Flags&unix.IFA_F_NODAD == 0,
			Preferred: na.Flags&unix.IFA_F_DEPRECATED == 0,
			Flags:     uint32(na.Flags),
		}
		if b, ok := netip.AddrFromSlice(na.Broadcast); ok {
			a.Broadcast = b.Unmap()
		}
		out = append(out, a)
	}
	return out, nil
}

// HasAddress reports whether addr is on the interface (any prefix length).
func (l *Linux) HasAddress(ifname string, addr netip.Addr) (bool, error) {
	as, err := l.ListAddresses(ifname)
	if err != nil {
		return false, err
	}
	return containsAddr(as, addr), nil
}

func containsAddr(as []Address, addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, a := range as {
		if a.Prefix.Addr() == addr {
			return true
		}
	}
	return false
}

func ipNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func toNetlinkRoute(c *cmdSocket, r Route) (*netlink.Route, error) {
	fam := prefixFamily(r.Dst)
	if fam == 0 {
		return nil, errors.New("no destination")
	}
	nr := &netlink.Route{
		Dst:      ipNet(r.Dst),
		Table:    r.Table,
		Priority: r.Metric,
		Type:     r.Type,
		Scope:    netlink.Scope(r.Scope),
		Family:   map[int]int{4: netlink.FAMILY_V4, 6: netlink.FAMILY_V6}[fam],
	}
	if r.Via.IsValid() {
		if familyOf(r.Via.Unmap()) != fam {
			return nil, fmt.Errorf("gateway %v and destination %v differ in family", r.Via, r.Dst)
		}
		nr.Gw = r.Via.Unmap().WithZone("").AsSlice()
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.Unmap().WithZone("").AsSlice()
	}
	if r.Dev != "" {
		i, err := c.index(r.Dev)
		if err != nil {
			return nil, err
		}
		nr.LinkIndex = i
	}
	if r.Scope == 0 && !r.Via.IsValid() && r.Dev != "" && (r.Type == 0 || r.Type == unix.RTN_UNICAST) {
		nr.Scope = netlink.SCOPE_LINK
	}
	return nr, nil
}

// AddRoute adds r; a route that already exists is not an error.
func (l *Linux) AddRoute(r Route) error {
	c, err := l.command()
	if err != nil {
		return fmt.Errorf("kernel: add route %v: %w", r.Dst, err)
	}
	defer l.cmdMu.RUnlock()
	nr, err := toNetlinkRoute(c, r)
	if err != nil {
		return fmt.Errorf("kernel: add route %v: %w", r.Dst, err)
	}
	if err := c.h.RouteAdd(nr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("kernel: add route %v: %w", r.Dst, err)
	}
	return nil
}

// DelRoute deletes r; a route that is not there (or whose device is gone)
// is not an error.
func (l *Linux) DelRoute(r Route) error {
	c, err := l.command()
	if err != nil {
		return fmt.Errorf("kernel: delete route %v: %w", r.Dst, err)
	}
	defer l.cmdMu.RUnlock()
	nr, err := toNetlinkRoute(c, r)
	if errors.Is(err, ErrNoInterface) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kernel: delete route %v: %w", r.Dst, err)
	}
	if err := c.h.RouteDel(nr); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("kernel: delete route %v: %w", r.Dst, err)
	}
	return nil
}

func toNetlinkRule(r Rule) (*netlink.Rule, error) {
	fam := r.Family
	for _, p := range []netip.Prefix{r.From, r.To} {
		if !p.IsValid() {
			continue
		}
		f := prefixFamily(p)
		if fam != 0 && f != fam {
			return nil, fmt.Errorf("rule mixes IPv%d and IPv%d", fam, f)
		}
		fam = f
	}
	nr := netlink.NewRule()
	switch fam {
	case 4:
		nr.Family = netlink.FAMILY_V4
	case 6:
		nr.Family = netlink.FAMILY_V6
	default:
		return nil, errors.New("rule has no family")
	}
	if r.From.IsValid() {
		nr.Src = ipNet(r.From)
	}
	if r.To.IsValid() {
		nr.Dst = ipNet(r.To)
	}
	nr.Table = r.Table
	if r.Priority > 0 {
		nr.Priority = r.Priority
	}
	return nr, nil
}

func (r Rule) String() string {
	var b strings.Builder
	if r.Priority > 0 {
		fmt.Fprintf(&b, "%d: ", r.Priority)
	}
	b.WriteString("from ")
	if r.From.IsValid() {
		b.WriteString(r.From.String())
	} else {
		b.WriteString("all")
	}
	if r.To.IsValid() {
		b.WriteString(" to " + r.To.String())
	}
	fmt.Fprintf(&b, " table %d", r.Table)
	return b.String()
}

// AddRule adds r; an identical rule that already exists is not an error.
func (l *Linux) AddRule(r Rule) error {
	nr, err := toNetlinkRule(r)
	if err != nil {
		return fmt.Errorf("kernel: add rule %v: %w", r, err)
	}
	c, err := l.command()
	if err != nil {
		return fmt.Errorf("kernel: add rule %v: %w", r, err)
	}
	defer l.cmdMu.RUnlock()
	if err := c.h.RuleAdd(nr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("kernel: add rule %v: %w", r, err)
	}
	return nil
}

// DelRule deletes r; a rule that is not there is not an error.
func (l *Linux) DelRule(r Rule) error {
	nr, err := toNetlinkRule(r)
	if err != nil {
		return fmt.Errorf("kernel: delete rule %v: %w", r, err)
	}
	c, err := l.command()
	if err != nil {
		return fmt.Errorf("kernel: delete rule %v: %w", r, err)
	}
	defer l.cmdMu.RUnlock()
	if err := c.h.RuleDel(nr); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kernel: delete rule %v: %w", r, err)
	}
	return nil
}

// ethernet finds the interface's index and hardware address: with two
// ioctls for an Ethernet device, else from its link attributes (loopback's
// address has 6 bytes too; a tunnel's has not).
func (l *Linux) ethernet(ifname string) (int, net.HardwareAddr, error) {
	c, err := l.command()
	if err != nil {
		return 0, nil, err
	}
	defer l.cmdMu.RUnlock()
	index, mac, ok, err := c.ethernet(ifname)
	if err != nil || ok {
		return index, mac, err
	}
	link, err := handleLinkByName(c.h, ifname)
	if err != nil {
		return 0, nil, err
	}
	return link.Attrs().Index, link.Attrs().HardwareAddr, nil
}

// packetSocket returns the shared AF_PACKET socket, opening it if needed.
// Protocol 0: it sends, and never receives anything.
func (l *Linux) packetSocket() (int, error) {
	if l.packet != 0 {
		return l.packet - 1, nil
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket AF_PACKET", err)
	}
	l.packet = fd + 1
	return fd, nil
}

// sendFrames writes complete Ethernet frames to the interface.
func (l *Linux) sendFrames(ifindex int, frames ...[]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	fd, err := l.packetSocket()
	if err != nil {
		return err
	}
	sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
	for _, f := range frames {
		copy(sa.Addr[:], f[0:6]) // the frame's destination MAC
		sa.Protocol = htons(binary.BigEndian.Uint16(f[12:14]))
		if err := unix.Sendto(fd, f, 0, sa); err != nil {
			return os.NewSyscallError("sendto", err)
		}
	}
	return nil
}

// htons converts to network byte order, as sockaddr_ll's protocol wants.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// GratuitousARP broadcasts a gratuitous ARP request, then a gratuitous ARP
// reply, for addr from the interface's MAC (see AppendGARP).
func (l *Linux) GratuitousARP(ifname string, addr netip.Addr) error {
	addr = addr.Unmap()
	if !addr.Is4() {
		return fmt.Errorf("kernel: gratuitous arp on %s: %v is not IPv4", ifname, addr)
	}
	index, mac, err := l.ethernet(ifname)
	if err != nil {
		return fmt.Errorf("kernel: gratuitous arp: %w", err)
	}
	if len(mac) != 6 {
		return fmt.Errorf("kernel: gratuitous arp on %s: %w", ifname, ErrNotEthernet)
	}
	var b [2 * garpLen]byte
	req := AppendGARP(b[:0], mac, addr, ARPRequest)
	rep := AppendGARP(req[garpLen:garpLen], mac, addr, ARPReply)
	if err := l.sendFrames(index, req, rep); err != nil {
		return fmt.Errorf("kernel: gratuitous arp on %s for %v: %w", ifname, addr, err)
	}
	return nil
}

// UnsolicitedNA sends an unsolicited neighbour advertisement for addr to
// ff02::1 from the interface's MAC (see AppendUnsolicitedNA). The Router
// flag is set when the interface forwards IPv6
// (net.ipv6.conf.IF.forwarding), as keepalived does.
func (l *Linux) UnsolicitedNA(ifname string, addr netip.Addr) error {
	addr = addr.WithZone("")
	if !addr.Is6() || addr.Is4In6() {
		return fmt.Errorf("kernel: unsolicited na on %s: %v is not IPv6", ifname, addr)
	}
	index, mac, err := l.ethernet(ifname)
	if err != nil {
		return fmt.Errorf("kernel: unsolicited na: %w", err)
	}
	if len(mac) != 6 {
		return fmt.Errorf("kernel: unsolicited na on %s: %w", ifname, ErrNotEthernet)
	}
	router := false
	if v, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + ifname + "/forwarding"); err == nil {
		router = strings.TrimSpace(string(v)) == "1"
	}
	var b [naLen]byte
	if err := l.sendFrames(index, AppendUnsolicitedNA(b[:0], mac, addr, router)); err != nil {
		return fmt.Errorf("kernel: unsolicited na on %s for %v: %w", ifname, addr, err)
	}
	return nil
}
