package kernel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Kernel is what the VRRP layer needs from the operating system. Linux is
// the real implementation, Fake the in-memory one for tests.
type Kernel interface {
	// InterfaceByName describes a network interface, including its
	// primary IPv4 address and its IPv6 link-local address.
	InterfaceByName(name string) (Interface, error)
	// OpenVRRP opens an advert socket; see VRRPConnConfig.
	OpenVRRP(cfg VRRPConnConfig) (Conn, error)

	// AddAddress adds a (virtual) address to an interface. It is
	// idempotent: an address that is already there is updated in place
	// (flags, lifetimes) and nil is returned.
	AddAddress(ifname string, a Address) error
	// DelAddress removes an address (matched by address and prefix
	// length). An address that is not there, or an interface that no
	// longer exists, is not an error.
	DelAddress(ifname string, a Address) error
	// HasAddress reports whether addr is on the interface, with any
	// prefix length.
	HasAddress(ifname string, addr netip.Addr) (bool, error)
	// ListAddresses lists the interface's IPv4 and IPv6 addresses.
	ListAddresses(ifname string) ([]Address, error)

	// AddRoute adds a route; an identical existing route is not an error.
	AddRoute(r Route) error
	// DelRoute deletes a route; a missing route is not an error.
	DelRoute(r Route) error
	// AddRule adds a policy routing rule; an identical existing rule is
	// not an error.
	AddRule(r Rule) error
	// DelRule deletes a rule; a missing rule is not an error.
	DelRule(r Rule) error

	// GratuitousARP broadcasts one gratuitous ARP request and one
	// gratuitous ARP reply for addr (IPv4) from the interface's MAC.
	GratuitousARP(ifname string, addr netip.Addr) error
	// UnsolicitedNA sends one unsolicited neighbour advertisement for
	// addr (IPv6) to ff02::1 from the interface's MAC.
	UnsolicitedNA(ifname string, addr netip.Addr) error
}

// Conn is one advert socket: a VRRPConn, or a Fake's simulated one.
type Conn interface {
	// Send sends one VRRP message (the IP payload, as vrrp.Marshal
	// returns it) to dst: the multicast group or a unicast peer. The IP
	// source is always Source().
	Send(payload []byte, dst netip.Addr) error
	// Recv waits for the next advert and copies its VRRP message (the IP
	// payload, without IP header) to buf[:Packet.N]. It returns an error
	// matching net.ErrClosed once the Conn is closed (also when Close is
	// called while Recv waits), and one matching os.ErrDeadlineExceeded
	// after the read deadline.
	Recv(buf []byte) (Packet, error)
	// Source is the address adverts are sent from, needed for the VRRPv3
	// pseudo-header checksum.
	Source() netip.Addr
	// SetReadDeadline bounds Recv, as net.Conn's does; the zero time
	// removes the bound.
	SetReadDeadline(t time.Time) error
	// Close closes the socket and wakes a waiting Recv.
	Close() error
}

// Packet describes one received advert. The VRRP message is buf[:N] of
// the buffer passed to Recv.
type Packet struct {
	// N is the length of the VRRP message (the IP payload).
	N int
	// Src and Dst are the IP header's addresses, without zone.
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or the IPv6 hop limit the packet arrived with.
	TTL uint8
	// IfIndex is the index of the interface the packet arrived on.
	IfIndex int
}

// VRRPConnConfig configures OpenVRRP.
type VRRPConnConfig struct {
	// Interface is the name of the interface to send and receive on.
	Interface string
	// Family is 4 or 6.
	Family int
	// Group is the multicast group: 224.0.0.18 (vrrp.MulticastIPv4) or
	// ff02::12 (vrrp.MulticastIPv6) when zero; keepalived's
	// vrrp_mcast_group4/6 and mcast_dst_ip change it. Ignored when Unicast.
	Group netip.Addr
	// Unicast: do not join the group (unicast_peer instances).
	Unicast bool
	// Source is the address adverts go out from. When zero: the
	// interface's primary IPv4 address, or its IPv6 link-local address as
	// RFC 5798 requires. keepalived's mcast_src_ip / unicast_src_ip set it.
	Source netip.Addr
	// TTL is the TTL / hop limit of outgoing adverts, 255 when zero.
	// VRRP receivers drop multicast adverts with any other value; only
	// unicast_ttl should change it.
	TTL int
	// RecvBuffer, when > 0, sets SO_RCVBUF (kernel_rx_buf_size).
	RecvBuffer int
	// VRF, for a unicast socket without Interface, is the VRF device to
	// bind it to (keepalived's vrf keyword): adverts are then routed and
	// received in that VRF. Without both, a unicast socket is bound to no
	// device. Ignored with an Interface, which may itself be in a VRF.
	VRF string
	// Protocol is the IP protocol of the socket: ProtoVRRP (112, when
	// zero) or, for VRRPv2 with auth_type AH over IPv4, ProtoAH (51). An
	// AH conn works on whole IPv4 packets, as keepalived's AH sockets do
	// (vrrp.c open_vrrp_read_socket opens IPPROTO_AH, the send socket uses
	// IP_HDRINCL): Send takes the packet with its IP header (the caller
	// builds it, since the ICV covers it; the kernel fills in the header
	// checksum) and Recv returns it with its header in buf[:N].
	Protocol int
}

// IP protocols of VRRP conns.
const (
	ProtoVRRP = 112
	ProtoAH   = 51
)

// Interface describes a network interface.
type Interface struct {
	Index        int
	Name         string
	MTU          int
	HardwareAddr net.HardwareAddr
	// Flags are the administrative flags (net.FlagUp, FlagMulticast, ...).
	Flags net.Flags
	// OperUp is true when the kernel reports the link as operationally up
	// (or unknown, as loopback and some virtual devices do).
	OperUp bool
	// IPv4 is the first primary (not secondary) IPv4 address, if any.
	IPv4 netip.Addr
	// LinkLocal is the IPv6 link-local address, if any; a usable one (not
	// tentative, not DAD-failed) is preferred. Without zone.
	LinkLocal netip.Addr
}

// Address is an IP address on an interface.
type Address struct {
	// Prefix is the address and its prefix length (/32 or /128 for a
	// bare VIP).
	Prefix netip.Prefix
	// Label is the IPv4 label ("eth0:vip"); it must start with the
	// interface's name. Ignored for IPv6.
	Label string
	// Broadcast is the IPv4 broadcast address. When zero, AddAddress lets
	// the netlink library derive it from the prefix (as `ip addr add ...
	// brd +`), except for /31 and /32. Ignored for IPv6.
	Broadcast netip.Addr
	// Scope is the rtnetlink scope (0 global/universe, 200 site, 253 link,
	// 254 host).
	Scope uint8
	// DAD: run duplicate address detection on an IPv6 address. False (the
	// VIP default) adds it with IFA_F_NODAD.
	DAD bool
	// Preferred: keep an IPv6 address preferred, so the kernel may use it
	// as a source address. False (the VIP default) adds it with a
	// preferred lifetime of 0 (deprecated) and an infinite valid lifetime.
	Preferred bool
	// Flags are the kernel's IFA_F_* flags, filled in by ListAddresses
	// and ignored by AddAddress.
	Flags uint32
}

// Route is a route for virtual_routes / static_routes, in a basic form.
type Route struct {
	// Dst is the destination; 0.0.0.0/0 or ::/0 for a default route.
	Dst netip.Prefix
	// Via is the gateway, if any.
	Via netip.Addr
	// Dev is the output interface; optional when Via is set.
	Dev string
	// Src is the preferred source address, if any.
	Src netip.Addr
	// Table is the routing table; 0 means main (254).
	Table int
	// Metric is the route's priority (`metric`).
	Metric int
	// Scope is the rtnetlink scope; 0 picks what `ip route` picks: link
	// for a route without gateway through a device, global otherwise.
	Scope uint8
	// Type is the rtnetlink route type (unix.RTN_BLACKHOLE,
	// RTN_UNREACHABLE, RTN_PROHIBIT, ...); 0 is a unicast route.
	Type int
}

// Rule is a policy routing rule for virtual_rules / static_rules, in a
// basic form.
type Rule struct {
	// Family is 4 or 6; needed only when From and To are both zero.
	Family int
	// From and To select on source and destination; zero matches all.
	From, To netip.Prefix
	// Table is the table to look up.
	Table int
	// Priority is the rule's preference; 0 lets the kernel choose (a rule
	// with preference 0 cannot be expressed).
	Priority int
}

// Errors.
var (
	// ErrNoInterface wraps failures to find a named interface.
	ErrNoInterface = errors.New("no such interface")
	// ErrNoSource is returned by OpenVRRP when no source address was
	// given and the interface has none of the family.
	ErrNoSource = errors.New("no source address")
	// ErrTruncated is returned by Recv when a packet did not fit buf.
	ErrTruncated = errors.New("packet truncated")
	// ErrNotEthernet is returned by GratuitousARP and UnsolicitedNA on
	// links without 6-byte hardware addresses.
	ErrNotEthernet = errors.New("not an Ethernet link")
)

// normalize validates cfg and fills in Group and TTL; Source is resolved
// by the caller.
func (cfg *VRRPConnConfig) normalize() error {
	if cfg.Interface == "" && (!cfg.Unicast || !cfg.Source.IsValid()) {
		// keepalived 2.2.8's chk_min_cfg and vrrp_complete_instance: only
		// a unicast instance with its source address may go without.
		return errors.New("kernel: open vrrp: no interface (and not unicast with a source address)")
	}
	switch cfg.Family {
	case 4:
		if !cfg.Group.IsValid() {
			cfg.Group = netip.AddrFrom4([4]byte{224, 0, 0, 18})
		}
	case 6:
		if !cfg.Group.IsValid() {
			cfg.Group = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 0x12})
		}
	default:
		return fmt.Errorf("kernel: open vrrp on %s: family %d, want 4 or 6", cfg.Interface, cfg.Family)
	}
	cfg.Group = cfg.Group.Unmap().WithZone("")
	if !cfg.Unicast && (!cfg.Group.IsMulticast() || familyOf(cfg.Group) != cfg.Family) {
		return fmt.Errorf("kernel: open vrrp on %s: group %v is not an IPv%d multicast address", cfg.Interface, cfg.Group, cfg.Family)
	}
	if cfg.Source.IsValid() {
		cfg.Source = cfg.Source.Unmap().WithZone("")
		if familyOf(cfg.Source) != cfg.Family {
			return fmt.Errorf("kernel: open vrrp on %s: source %v is not IPv%d", cfg.Interface, cfg.Source, cfg.Family)
		}
	}
	if cfg.TTL == 0 {
		cfg.TTL = 255
	}
	switch cfg.Protocol {
	case 0:
		cfg.Protocol = ProtoVRRP
	case ProtoVRRP:
	case ProtoAH:
		if cfg.Family != 4 {
			return fmt.Errorf("kernel: open vrrp on %s: AH is IPv4 only", cfg.Interface)
		}
	default:
		return fmt.Errorf("kernel: open vrrp on %s: protocol %d, want %d or %d", cfg.Interface, cfg.Protocol, ProtoVRRP, ProtoAH)
	}
	if cfg.TTL < 1 || cfg.TTL > 255 {
		return fmt.Errorf("kernel: open vrrp on %s: ttl %d out of range 1..255", cfg.Interface, cfg.TTL)
	}
	return nil
}

// familyOf returns 4 or 6 for a valid (unmapped) address, 0 otherwise.
func familyOf(a netip.Addr) int {
	switch {
	case a.Is4():
		return 4
	case a.Is6():
		return 6
	}
	return 0
}

// prefixFamily returns the family (4 or 6) of a prefix's address after unmapping, 0 if invalid.
func prefixFamily(p netip.Prefix) int {
	if !p.IsValid() {
		return 0
	}
	return familyOf(p.Addr().Unmap())
}
