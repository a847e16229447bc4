package kernel

// Load balancing with nftables, where the kernel has no IPVS.
//
// NFTLoadBalancer (lvs_nft_linux.go) keeps keepalived-go's virtual
// services as destination NAT in a table of its own, `inet
// keepalived-lvs`, built so that `nft list table inet keepalived-lvs`
// reads as what it does:
//
//	table inet keepalived-lvs {
//		map services_ip  { type inet_proto . ipv4_addr . inet_service : verdict; elements = { tcp . 198.51.100.100 . 80 : jump vs-tcp-198.51.100.100-80 } }
//		map services_ip6 { type inet_proto . ipv6_addr . inet_service : verdict }
//		map fwmarks_ip   { type mark : verdict }
//		map fwmarks_ip6  { type mark : verdict }
//		chain prerouting { type nat hook prerouting priority dstnat; policy accept;
//			meta nfproto ipv4 meta mark vmap @fwmarks_ip
//			meta nfproto ipv6 meta mark vmap @fwmarks_ip6
//			meta nfproto ipv4 meta l4proto . ip daddr . th dport vmap @services_ip
//			meta nfproto ipv6 meta l4proto . ip6 daddr . th dport vmap @services_ip6 }
//		chain output { the same, type nat hook output priority -100, for local clients }
//		chain vs-tcp-198.51.100.100-80 {
//			meta l4proto tcp dnat ip to numgen inc mod 3 map { 0 : 10.0.0.2 . 80, 1 : 10.0.0.2 . 80, 2 : 10.0.0.3 . 80 } }
//	}
//
// Fwmark services come first, as IPVS looks them up first. Each virtual
// service is one dispatch-map element and one chain of its own (named
// after its key; IPv6 colons become underscores), whose one rule picks a
// slot and rewrites the destination:
//
//   - LBRoundRobin: `numgen inc mod N`, a counter: slot after slot. A
//     weighted round robin repeats a destination in as many slots as its
//     weight.
//   - LBSourceHash / LBDestHash: `jhash ip saddr mod N` (daddr), with a
//     fixed seed so that a client keeps its slot across restarts.
//   - no slot: `reject` with an ICMP(v6) port unreachable, which is what
//     IPVS answers (TCP and UDP alike) when its scheduler finds no
//     destination (ip_vs_leave).
//
// A fwmark service matches `meta l4proto { tcp, udp, sctp }`, the
// protocols IPVS balances. A slot without port keeps the packet's port.
//
// A persistent service (persistence_timeout, persistence_granularity;
// lvs_nft_persist_linux.go) has a chain and a pins set per destination
// (named after the service's chain and the destination), one rule per
// destination before the pick, and picks through a verdict map:
//
//	chain vs-tcp-198.51.100.100-80 {
//		meta l4proto tcp ip saddr & 255.255.255.0 == @vs-tcp-198.51.100.100-80-10.0.0.2-80 jump vs-tcp-198.51.100.100-80-10.0.0.2-80
//		meta l4proto tcp ip saddr & 255.255.255.0 == @vs-tcp-198.51.100.100-80-10.0.0.3-80 jump vs-tcp-198.51.100.100-80-10.0.0.3-80
//		meta l4proto tcp numgen inc mod 2 vmap @vs-tcp-198.51.100.100-80 }
//	chain vs-tcp-198.51.100.100-80-10.0.0.2-80 {
//		meta l4proto tcp update @vs-tcp-198.51.100.100-80-10.0.0.2-80 { ip saddr & 255.255.255.0 }
//		meta l4proto tcp dnat ip to 10.0.0.2:80 }
//	set vs-tcp-198.51.100.100-80-10.0.0.2-80 { type ipv4_addr; size 1048576; flags dynamic,timeout; timeout 5m }
//	map vs-tcp-198.51.100.100-80 { type mark : verdict; elements = { 0x00000000 : jump vs-...-10.0.0.2-80, ... } }
//
// The pins sets are IPVS's persistence templates: a client (its address
// masked by the granularity) in a destination's set goes back to that
// destination; a new one is picked and put in the set of the destination
// it got. Every new connection restarts its pin's timeout (the nat chain
// sees only a connection's first packet; IPVS restarts a template's
// timer likewise while it controls connections). A destination removed
// from the service goes with its rule and its set, so its clients are
// picked afresh at their next connection (IPVS expires a template whose
// destination is gone, ip_vs_check_template); one at weight 0 keeps its
// rule and set without slot (LBService.Idle), so its pinned clients keep
// going to it, as IPVS's templates do unless
// net.ipv4.vs.expire_quiescent_template is set. A rewrite keeps the sets
// of the destinations that stay, unless the timeout or mask changed.
// (nft cannot print a lookup whose key or data a register holds from
// another lookup, nor can a verdict map be updated from the packet path:
// hence a set and a rule per destination, O(destinations) lookups for a
// new connection of a persistent service.)
//
// Every change is one nfnetlink batch (one transaction): a service is
// rewritten (its chain flushed and refilled, its map element added if
// missing) or deleted (element, then chain) without touching any other;
// the table, maps and base chains are created by the first change and
// repaired (the base chains flushed and refilled) if they are found
// damaged. Delete removes the table.

import (
	"fmt"
	"net/netip"
	"strings"
)

// DefaultLBTable is the name of the nftables load-balancing table (in the
// inet family).
const DefaultLBTable = "keepalived-lvs"

// LBKey identifies a virtual service in the load-balancing table: an
// address, port and protocol, or a firewall mark of one family.
type LBKey struct {
	Family int            // 4 or 6
	Proto  uint8          // IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP; 0 for a fwmark service
	Addr   netip.AddrPort // an address service's address and port
	Fwmark uint32         // a fwmark service's mark
}

// LBPick is how a service picks a slot for a new connection.
type LBPick uint8

const (
	LBRoundRobin LBPick = iota // numgen inc: slot after slot
	LBSourceHash               // jhash of the source address
	LBDestHash                 // jhash of the destination address
	// LBUnknown is a service whose chain is not as NFTLoadBalancer
	// makes it (changed by hand): rewriting it repairs it.
	LBUnknown LBPick = 255
)

// LBService is one virtual service of the load-balancing table.
type LBService struct {
	LBKey
	Pick LBPick
	// Slots are the destinations in slot order; port 0 keeps the
	// packet's destination port. No slot rejects new connections (of
	// clients not pinned to an Idle destination).
	Slots []netip.AddrPort
	// Persist is the service's persistence (the zero value for none).
	Persist LBPersist
	// Idle are destinations without slot that keep the clients pinned
	// to them (a persistent service's servers at weight 0: IPVS's
	// persistence templates keep sending their clients to a quiescent
	// destination); sorted, none in Slots. Only with Persist.
	Idle []netip.AddrPort
}

// LBPersist is a service's persistence (IPVS's persistent service): a
// client, its source address masked by Mask, is pinned to the
// destination it was given until Timeout seconds pass without a new
// connection from it, as long as that destination is in the service
// (in Slots or Idle).
type LBPersist struct {
	Timeout uint32     // seconds; 0: not persistent
	Mask    netip.Addr // of the service's family (255.255.255.255: per address); the zero Addr without persistence
}

// LoadBalancer is the nftables load-balancing table. NFTLoadBalancer is
// the real one.
type LoadBalancer interface {
	// Services reads the services of the table (none if it does not
	// exist).
	Services() ([]LBService, error)
	// Apply writes set (each replacing the service of its key, if any)
	// and deletes del, in one transaction: all or nothing. The
	// transaction goes out in one netlink send: a few services at a
	// time, not thousands.
	Apply(set []LBService, del []LBKey) error
	// Delete removes the table.
	Delete() error
}

// protoNames are the protocols a service may have, by number.
var protoNames = map[uint8]string{6: "tcp", 17: "udp", 132: "sctp"}

// ProtoNumber is the IP protocol number of "tcp", "udp" or "sctp" (0 for
// anything else).
func ProtoNumber(name string) uint8 {
	for n, s := range protoNames {
		if s == name {
			return n
		}
	}
	return 0
}

// lbChainName is the chain of a service: "vs-tcp-198.51.100.100-80",
// "vs-udp-2001_db8__1-53", "vs-fwm-5-ip6". nft does not take colons in
// chain names, and only these characters keep `nft list` output loadable
// by `nft -f`.
func lbChainName(k LBKey) string {
	if k.Fwmark != 0 {
		fam := "ip"
		if k.Family == 6 {
			fam = "ip6"
		}
		return fmt.Sprintf("vs-fwm-%d-%s", k.Fwmark, fam)
	}
	proto, ok := protoNames[k.Proto]
	if !ok {
		proto = fmt.Sprint(k.Proto)
	}
	return fmt.Sprintf("vs-%s-%s-%d", proto, strings.ReplaceAll(k.Addr.Addr().String(), ":", "_"), k.Addr.Port())
}

func (k LBKey) String() string {
	if k.Fwmark != 0 {
		return fmt.Sprintf("fwmark %d (IPv%d)", k.Fwmark, k.Family)
	}
	return fmt.Sprintf("%s %s", protoNames[k.Proto], k.Addr)
}

// valid tells whether the key can be a service of the table.
func (k LBKey) valid() error {
	switch {
	case k.Family != 4 && k.Family != 6:
		return fmt.Errorf("kernel: nftables: %v: family %d", k, k.Family)
	case k.Fwmark != 0:
		if k.Proto != 0 || k.Addr.IsValid() {
			return fmt.Errorf("kernel: nftables: %v: a fwmark service has no address or protocol", k)
		}
	case protoNames[k.Proto] == "":
		return fmt.Errorf("kernel: nftables: %v: protocol %d is not tcp, udp or sctp", k, k.Proto)
	case !k.Addr.IsValid() || k.Addr.Addr().Zone() != "" || k.Addr.Addr().Is4In6() || k.Addr.Addr().Is4() != (k.Family == 4):
		return fmt.Errorf("kernel: nftables: %v: not an IPv%d address", k, k.Family)
	}
	return nil
}
