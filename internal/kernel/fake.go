package kernel

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"
)

// Fake is an in-memory Kernel for tests of the layers above: it keeps
// interfaces, addresses, routes and rules in maps, records every call,
// can be told to fail, and (joined to a FakeNet) exchanges adverts with
// other Fakes. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	net    map[string]*FakeNet // interface name -> link it is attached to
	ifaces map[string]Interface
	addrs  map[string][]Address
	routes []Route
	rules  []Rule
	calls  []Call
	fail   map[string]error
	conns  []*fakeConn
}

var _ Kernel = (*Fake)(nil)

// Call is one recorded call to a Fake. Arg is the call's argument: an
// Address, netip.Addr, Route, Rule or VRRPConnConfig; for "Send" a
// FakeSent.
type Call struct {
	Op     string // the method name: "AddAddress", "GratuitousARP", "Send", ...
	Ifname string
	Arg    any
}

func (c Call) String() string {
	if c.Ifname == "" {
		return fmt.Sprintf("%s %v", c.Op, c.Arg)
	}
	return fmt.Sprintf("%s %s %v", c.Op, c.Ifname, c.Arg)
}

// FakeSent is the argument of a recorded "Send".
type FakeSent struct {
	Src, Dst netip.Addr
	Payload  []byte
}

func (s FakeSent) String() string {
	return fmt.Sprintf("%v->%v %d bytes", s.Src, s.Dst, len(s.Payload))
}

// NewFake returns a Fake with the given interfaces, attached to no
// network. Missing interface details are made up: Index (1, 2, ... in
// order), HardwareAddr (02:00:00:00:00:index), MTU 1500, Flags up |
// broadcast | multicast, OperUp, and LinkLocal (fe80::index). IPv4 is left
// as given; addresses in IPv4 and LinkLocal also show in ListAddresses.
func NewFake(ifaces ...Interface) *Fake {
	f := &Fake{
		net:    map[string]*FakeNet{},
		ifaces: map[string]Interface{},
		addrs:  map[string][]Address{},
		fail:   map[string]error{},
	}
	for i, ifi := range ifaces {
		if ifi.Index == 0 {
			ifi.Index = i + 1
		}
		if ifi.HardwareAddr == nil {
			ifi.HardwareAddr = net.HardwareAddr{0x02, 0, 0, 0, byte(ifi.Index >> 8), byte(ifi.Index)}
		}
		if ifi.MTU == 0 {
			ifi.MTU = 1500
		}
		if ifi.Flags == 0 {
			ifi.Flags = net.FlagUp | net.FlagBroadcast | net.FlagMulticast | net.FlagRunning
			ifi.OperUp = true
		}
		if !ifi.LinkLocal.IsValid() {
			ifi.LinkLocal = netip.AddrFrom16([16]byte{0xfe, 0x80, 14: byte(ifi.Index >> 8), 15: byte(ifi.Index)})
		}
		f.ifaces[ifi.Name] = ifi
		if ifi.IPv4.IsValid() {
			f.addrs[ifi.Name] = append(f.addrs[ifi.Name], Address{Prefix: netip.PrefixFrom(ifi.IPv4, 24), DAD: true, Preferred: true})
		}
		f.addrs[ifi.Name] = append(f.addrs[ifi.Name], Address{Prefix: netip.PrefixFrom(ifi.LinkLocal, 64), Scope: 253, DAD: true, Preferred: true})
	}
	return f
}

// Attach connects the named interface to the simulated link n (nil
// detaches it: what it sends goes nowhere, nothing reaches it).
func (f *Fake) Attach(ifname string, n *FakeNet) {
	f.mu.Lock()
	old := f.net[ifname]
	if n == nil {
		delete(f.net, ifname)
	} else {
		f.net[ifname] = n
	}
	f.mu.Unlock()
	if old != nil && old != n {
		old.remove(f)
	}
	if n != nil {
		n.add(f)
	}
}

// Fail makes every later call of method op ("AddAddress", "OpenVRRP",
// "Send", ...) return err; a nil err clears it.
func (f *Fake) Fail(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, op)
	} else {
		f.fail[op] = err
	}
}

// Calls returns the calls recorded so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallsOf returns the recorded calls of method op.
func (f *Fake) CallsOf(op string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// OpenConns returns the number of conns opened and not closed.
func (f *Fake) OpenConns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.conns {
		if !c.isClosed() {
			n++
		}
	}
	return n
}

// Routes returns the routes added and not deleted.
func (f *Fake) Routes() []Route {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.routes)
}

// Rules returns the rules added and not deleted.
func (f *Fake) Rules() []Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rules)
}

// record logs a call and returns its injected error, if any. f.mu held.
func (f *Fake) record(op, ifname string, arg any) error {
	f.calls = append(f.calls, Call{Op: op, Ifname: ifname, Arg: arg})
	return f.fail[op]
}

func (f *Fake) iface(name string) (Interface, error) {
	ifi, ok := f.ifaces[name]
	if !ok {
		return Interface{}, fmt.Errorf("kernel: %w %q", ErrNoInterface, name)
	}
	return ifi, nil
}

// InterfaceByName implements Kernel.
func (f *Fake) InterfaceByName(name string) (Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("InterfaceByName", name, nil); err != nil {
		return Interface{}, err
	}
	return f.iface(name)
}

// AddAddress implements Kernel (idempotent; an existing address with the
// same prefix is replaced).
func (f *Fake) AddAddress(ifname string, a Address) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("AddAddress", ifname, a); err != nil {
		return err
	}
	if _, err := f.iface(ifname); err != nil {
		return err
	}
	if !a.Prefix.IsValid() {
		return fmt.Errorf("kernel: add address on %s: invalid prefix", ifname)
	}
	a.Flags = 0
	as := f.addrs[ifname]
	for i := range as {
		if as[i].Prefix == a.Prefix {
			as[i] = a
			return nil
		}
	}
	f.addrs[ifname] = append(as, a)
	return nil
}

// DelAddress implements Kernel (idempotent).
func (f *Fake) DelAddress(ifname string, a Address) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DelAddress", ifname, a); err != nil {
		return err
	}
	f.addrs[ifname] = slices.DeleteFunc(f.addrs[ifname], func(x Address) bool { return x.Prefix == a.Prefix })
	return nil
}

// HasAddress implements Kernel.
func (f *Fake) HasAddress(ifname string, addr netip.Addr) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("HasAddress", ifname, addr); err != nil {
		return false, err
	}
	if _, err := f.iface(ifname); err != nil {
		return false, err
	}
	return containsAddr(f.addrs[ifname], addr), nil
}

// ListAddresses implements Kernel.
func (f *Fake) ListAddresses(ifname string) ([]Address, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ListAddresses", ifname, nil); err != nil {
		return nil, err
	}
	if _, err := f.iface(ifname); err != nil {
		return nil, err
	}
	return slices.Clone(f.addrs[ifname]), nil
}

// AddRoute implements Kernel (idempotent).
func (f *Fake) AddRoute(r Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("AddRoute", r.Dev, r); err != nil {
		return err
	}
	if !slices.Contains(f.routes, r) {
		f.routes = append(f.routes, r)
	}
	return nil
}

// DelRoute implements Kernel (idempotent).
func (f *Fake) DelRoute(r Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DelRoute", r.Dev, r); err != nil {
		return err
	}
	f.routes = slices.DeleteFunc(f.routes, func(x Route) bool { return x == r })
	return nil
}

// AddRule implements Kernel (idempotent).
func (f *Fake) AddRule(r Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("AddRule", "", r); err != nil {
		return err
	}
	if !slices.Contains(f.rules, r) {
		f.rules = append(f.rules, r)
	}
	return nil
}

// DelRule implements Kernel (idempotent).
func (f *Fake) DelRule(r Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DelRule", "", r); err != nil {
		return err
	}
	f.rules = slices.DeleteFunc(f.rules, func(x Rule) bool { return x == r })
	return nil
}

// GratuitousARP implements Kernel: it records the call.
func (f *Fake) GratuitousARP(ifname string, addr netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("GratuitousARP", ifname, addr); err != nil {
		return err
	}
	if _, err := f.iface(ifname); err != nil {
		return err
	}
	if !addr.Unmap().Is4() {
		return fmt.Errorf("kernel: gratuitous arp on %s: %v is not IPv4", ifname, addr)
	}
	return nil
}

// UnsolicitedNA implements Kernel: it records the call.
func (f *Fake) UnsolicitedNA(ifname string, addr netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("UnsolicitedNA", ifname, addr); err != nil {
		return err
	}
	if _, err := f.iface(ifname); err != nil {
		return err
	}
	if !addr.Is6() || addr.Is4In6() {
		return fmt.Errorf("kernel: unsolicited na on %s: %v is not IPv6", ifname, addr)
	}
	return nil
}

// OpenVRRP implements Kernel with a simulated conn: see FakeNet for what
// it receives.
func (f *Fake) OpenVRRP(cfg VRRPConnConfig) (Conn, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("OpenVRRP", cfg.Interface, cfg); err != nil {
		return nil, err
	}
	ifi, err := f.iface(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("kernel: open vrrp: %w", err)
	}
	src := cfg.Source
	if !src.IsValid() {
		if cfg.Family == 4 {
			src = ifi.IPv4
		} else {
			src = ifi.LinkLocal
		}
		if !src.IsValid() {
			return nil, fmt.Errorf("kernel: open vrrp on %s: %w", cfg.Interface, ErrNoSource)
		}
	}
	c := &fakeConn{
		f:      f,
		cfg:    cfg,
		ifi:    ifi,
		src:    src,
		queue:  make(chan fakePacket, 128),
		closed: make(chan struct{}),
		wake:   make(chan struct{}),
	}
	f.conns = append(f.conns, c)
	return c, nil
}

// owns reports whether addr is on one of f's interfaces attached to n.
// f.mu held.
func (f *Fake) owns(n *FakeNet, addr netip.Addr) bool {
	for name, ifi := range f.ifaces {
		if f.net[name] != n {
			continue
		}
		if ifi.IPv4 == addr || ifi.LinkLocal == addr || containsAddr(f.addrs[name], addr) {
			return true
		}
	}
	return false
}

// FakeNet is a simulated link (one broadcast domain) joining Fakes'
// interfaces. An advert sent on an attached interface reaches:
//   - for a multicast destination: every open, non-unicast conn of the
//     same family and group on the other Fakes' interfaces attached to
//     the same FakeNet;
//   - for a unicast destination: every open conn of the same family, on an
//     attached interface, of the Fakes that own the address (an
//     interface's IPv4 or link-local address, or one added with
//     AddAddress).
//
// Nothing is delivered to the sending Fake itself (multicast loopback is
// off, and a socket bound to an interface does not see traffic to its own
// addresses, which goes through lo).
//
// Each packet arrives with TTL = the sender's TTL, Src = the sender's
// Source(), and IfIndex = the receiving interface's index. A conn queues
// up to 128 packets and drops more, as a full socket buffer would.
type FakeNet struct {
	mu    sync.Mutex
	hosts []*Fake
	down  bool
}

// NewFakeNet returns an empty simulated link.
func NewFakeNet() *FakeNet { return &FakeNet{} }

// NewHost returns a Fake (see NewFake) whose interfaces are all attached
// to n.
func (n *FakeNet) NewHost(ifaces ...Interface) *Fake {
	f := NewFake(ifaces...)
	for _, ifi := range ifaces {
		f.Attach(ifi.Name, n)
	}
	return f
}

// SetDown cuts (true) or restores (false) the link: while down, every
// packet sent on it is lost. Sends still succeed, as on a real network.
func (n *FakeNet) SetDown(down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down = down
}

func (n *FakeNet) add(f *Fake) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !slices.Contains(n.hosts, f) {
		n.hosts = append(n.hosts, f)
	}
}

func (n *FakeNet) remove(f *Fake) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hosts = slices.DeleteFunc(n.hosts, func(h *Fake) bool { return h == f })
}

// deliver hands a packet sent by from to every receiving conn.
func (n *FakeNet) deliver(from *fakeConn, p fakePacket) {
	n.mu.Lock()
	if n.down {
		n.mu.Unlock()
		return
	}
	hosts := slices.Clone(n.hosts)
	n.mu.Unlock()
	for _, h := range hosts {
		if h == from.f {
			continue // multicast loopback is off; unicast to self never leaves
		}
		h.mu.Lock()
		mcast := p.Dst.IsMulticast()
		if !mcast && !h.owns(n, p.Dst) {
			h.mu.Unlock()
			continue
		}
		var targets []*fakeConn
		for _, c := range h.conns {
			if c.cfg.Family != from.cfg.Family || c.cfg.Protocol != from.cfg.Protocol || h.net[c.cfg.Interface] != n || c.isClosed() {
				continue
			}
			if mcast && (c.cfg.Unicast || c.cfg.Group != p.Dst) {
				continue
			}
			targets = append(targets, c)
		}
		h.mu.Unlock()
		for _, c := range targets {
			q := p
			q.IfIndex = c.ifi.Index
			select {
			case c.queue <- q:
			default: // receive buffer full: dropped
			}
		}
	}
}

type fakePacket struct {
	Packet
	data []byte
}

type fakeConn struct {
	f      *Fake
	cfg    VRRPConnConfig
	ifi    Interface
	src    netip.Addr
	queue  chan fakePacket
	closed chan struct{}

	mu        sync.Mutex
	closeOnce sync.Once
	deadline  time.Time
	wake      chan struct{} // closed and replaced when the deadline changes
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *fakeConn) Source() netip.Addr { return c.src }

func (c *fakeConn) Send(payload []byte, dst netip.Addr) error {
	dst = dst.Unmap().WithZone("")
	if c.isClosed() {
		return fmt.Errorf("kernel: vrrp send on %s: %w", c.cfg.Interface, net.ErrClosed)
	}
	if familyOf(dst) != c.cfg.Family {
		return fmt.Errorf("kernel: vrrp send on %s: destination %v is not IPv%d", c.cfg.Interface, dst, c.cfg.Family)
	}
	data := slices.Clone(payload)
	c.f.mu.Lock()
	err := c.f.record("Send", c.cfg.Interface, FakeSent{Src: c.src, Dst: dst, Payload: data})
	n := c.f.net[c.cfg.Interface]
	c.f.mu.Unlock()
	if err != nil {
		return err
	}
	if n != nil {
		n.deliver(c, fakePacket{
			Packet: Packet{N: len(data), Src: c.src, Dst: dst, TTL: uint8(c.cfg.TTL)},
			data:   data,
		})
	}
	return nil
}

func (c *fakeConn) Recv(buf []byte) (Packet, error) {
	for {
		if c.isClosed() {
			return Packet{}, fmt.Errorf("kernel: vrrp recv on %s: %w", c.cfg.Interface, net.ErrClosed)
		}
		c.mu.Lock()
		dl, wake := c.deadline, c.wake
		c.mu.Unlock()
		var expired <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return Packet{}, fmt.Errorf("kernel: vrrp recv on %s: %w", c.cfg.Interface, os.ErrDeadlineExceeded)
			}
			t = time.NewTimer(d)
			expired = t.C
		}
		select {
		case p := <-c.queue:
			if t != nil {
				t.Stop()
			}
			if len(p.data) > len(buf) {
				return Packet{}, fmt.Errorf("kernel: vrrp recv on %s: %d-byte packet, %d-byte buffer: %w", c.cfg.Interface, len(p.data), len(buf), ErrTruncated)
			}
			p.N = copy(buf, p.data)
			return p.Packet, nil
		case <-c.closed:
			if t != nil {
				t.Stop()
			}
			return Packet{}, fmt.Errorf("kernel: vrrp recv on %s: %w", c.cfg.Interface, net.ErrClosed)
		case <-expired:
			return Packet{}, fmt.Errorf("kernel: vrrp recv on %s: %w", c.cfg.Interface, os.ErrDeadlineExceeded)
		case <-wake:
			if t != nil {
				t.Stop()
			}
		}
	}
}

func (c *fakeConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	close(c.wake)
	c.wake = make(chan struct{})
	return nil
}

func (c *fakeConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.f.mu.Lock()
		c.f.record("Close", c.cfg.Interface, c.cfg)
		c.f.mu.Unlock()
	})
	return nil
}
