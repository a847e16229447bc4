package lvs

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
)

// ServiceKey identifies a virtual service in the kernel, as IPVS does: an
// address, port and protocol, or a firewall mark of one address family.
type ServiceKey struct {
	Family int    // 4 or 6
	Fwmark uint32 // a fwmark service (Proto and Addr are then zero)
	Proto  string // "tcp", "udp" or "sctp"
	Addr   netip.AddrPort
}

// ProtoName is an IP protocol number as services name it: tcp, udp,
// sctp, else the number.
func ProtoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 132:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

// AddrKey is the key of an address service.
func AddrKey(proto string, addr netip.AddrPort) ServiceKey {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	fam := 4
	if addr.Addr().Is6() {
		fam = 6
	}
	return ServiceKey{Family: fam, Proto: proto, Addr: addr}
}

// FwmarkKey is the key of a fwmark service of family 4 or 6.
func FwmarkKey(family int, mark uint32) ServiceKey {
	return ServiceKey{Family: family, Fwmark: mark}
}

// String is the service as keepalived's logs print it (check_data.c
// format_vs): "[10.0.0.1]:tcp:80" or "FWM 5".
func (k ServiceKey) String() string {
	if k.Fwmark != 0 {
		return fmt.Sprintf("FWM %d", k.Fwmark)
	}
	return fmt.Sprintf("[%s]:%s:%d", k.Addr.Addr(), k.Proto, k.Addr.Port())
}

func (k ServiceKey) compare(o ServiceKey) int {
	return cmp.Or(cmp.Compare(k.Family, o.Family), cmp.Compare(k.Fwmark, o.Fwmark),
		cmp.Compare(k.Proto, o.Proto), k.Addr.Compare(o.Addr))
}

// Flags are a service's IPVS flags, with IPVS's values
// (IP_VS_SVC_F_*), as keepalived sets them from its keywords.
type Flags uint32

const (
	FlagOnePacket Flags = 0x0004 // ops
	FlagSched1    Flags = 0x0008 // sh-fallback, mh-fallback, flag-1
	FlagSched2    Flags = 0x0010 // sh-port, mh-port, flag-2
	FlagSched3    Flags = 0x0020 // flag-3
)

// Service is a virtual service as the kernel should hold it (desired) or
// holds it (observed).
type Service struct {
	ServiceKey
	// Name is the virtual server as keepalived's logs print it; Pos is
	// where it is configured ("(FILE: Line N)"). Neither is compared:
	// they only make log lines, and the kernel does not keep them.
	Name, Pos string
	// Scheduler is lb_algo ("wlc" by default).
	Scheduler string
	// Method is the virtual server's lb_kind: NAT, DR or TUN.
	Method string
	Flags  Flags
	// Persistence is persistence_timeout in seconds, 0 for none.
	Persistence uint32
	// Granularity is the persistence netmask (persistence_granularity):
	// an IPv4 mask as a number (0xffffff00 for 255.255.255.0) or an IPv6
	// prefix length. Engine is persistence_engine ("" for none).
	Granularity uint32
	Engine      string
	// Dests are the destinations: the alive real servers at their
	// weight, inhibited ones at 0, or the sorry server.
	Dests []Destination
}

// Destination is a real server (or the sorry server) in a service.
type Destination struct {
	Addr   netip.AddrPort
	Weight int
	Method string // NAT, DR or TUN
	// UThreshold and LThreshold are uthreshold and lthreshold (0: none).
	UThreshold, LThreshold uint32
	// Tunnel is a TUN destination's encapsulation.
	Tunnel Tunnel
}

// Tunnel is a tunnelled destination's encapsulation, with IPVS's values
// (IP_VS_CONN_F_TUNNEL_TYPE_*, IP_VS_TUNNEL_ENCAP_FLAG_*); the zero value
// is IPIP without checksum.
type Tunnel struct {
	Type  TunnelType
	Port  uint16 // GUE's destination port
	Flags TunnelFlags
}

// TunnelType is a tunnel's encapsulation.
type TunnelType uint8

const (
	TunnelIPIP TunnelType = 0
	TunnelGUE  TunnelType = 1
	TunnelGRE  TunnelType = 2
)

// TunnelFlags are a tunnel's checksum options.
type TunnelFlags uint16

const (
	TunnelNoChecksum     TunnelFlags = 0
	TunnelChecksum       TunnelFlags = 1 // csum
	TunnelRemoteChecksum TunnelFlags = 2 // remcsum
)

// Label is the service's name for log lines.
func (s *Service) Label() string {
	if s.Name != "" {
		return s.Name
	}
	return s.ServiceKey.String()
}

// sameAttrs tells whether two services agree on everything but their
// destinations (and names).
func (s *Service) sameAttrs(o *Service) bool {
	return s.Scheduler == o.Scheduler && s.Method == o.Method && s.Flags == o.Flags && s.Persistence == o.Persistence &&
		s.Granularity == o.Granularity && s.Engine == o.Engine
}

// Clone is a deep copy of the service.
func (s Service) Clone() Service {
	s.Dests = slices.Clone(s.Dests)
	return s
}
