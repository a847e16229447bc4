package kernel

import "net/netip"

// Traffic counters of the nftables load balancer (lvs_nft_stats_linux.go).
//
// NFTLoadBalancer counts, per virtual service and real server, what IPVS
// counts in its ip_vs_stats: connections, and packets and bytes in
// (client to real server) and out (real server to client). The counters
// are the elements of named sets with per-element counters, two per
// family, looked up by two filter chains for every packet of a
// destination-NATed connection:
//
//	set rs_stats_ip { type ct_dir . inet_proto . inet_service . ipv4_addr . inet_service; counter; }
//	set rs_conns_ip { type inet_proto . inet_service . ipv4_addr . inet_service; counter; }
//	chain stats_out { type filter hook postrouting priority filter; policy accept;
//		meta l4proto { tcp, udp, sctp } ct direction original ct direction . meta l4proto . ct original proto-dst . ip daddr . th dport @rs_stats_ip
//		meta l4proto { tcp, udp, sctp } ct direction reply ct direction . meta l4proto . ct original proto-dst . ip saddr . th sport @rs_stats_ip
//		meta l4proto { tcp, udp, sctp } ct status ! confirmed meta l4proto . ct original proto-dst . ip daddr . th dport @rs_conns_ip
//		... the same for IPv6 (rs_stats_ip6, rs_conns_ip6) }
//	chain stats_in { type filter hook input priority filter; the same, for packets not from loopback }
//
// A key is the direction (original: a packet in; reply: a packet out;
// rs_conns counts the first packet of each connection, not yet confirmed
// in conntrack, so its packet count counts connections), the protocol,
// the virtual service's port (the connection's original destination
// port, from its conntrack entry) and the real server's address and port
// (the packet's destination going in, its source coming out: NAT has
// rewritten the one and not yet the other at these hooks' priority). The
// protocol set also gives nft the protocol context it needs to load what
// it lists again. The virtual address is not in the key: google/nftables
// cannot send the direction that conntrack's typed address keys need,
// and nft can neither print nor load the untyped one in a concatenation.
// So two virtual services of one protocol and port that share a real
// server (address and port) share its counters.
//
// A lookup that finds an element runs its counter. postrouting sees
// every packet a director forwards or sends, input the packets delivered
// to a local client or real server; a packet looped back is counted once,
// where it leaves.
//
// Each real server of an address service has its three elements from
// the change that first gives it a slot until the service is deleted: a
// server taken out of the slots (down, or inhibited) keeps its counters,
// and its draining connections are still counted. Fwmark services are
// not counted: a conntrack entry does not say which mark chose it.

// LBCounters are the counts of one real server of one service.
type LBCounters struct {
	Conns      uint64 // connections
	InPackets  uint64 // client to real server
	InBytes    uint64
	OutPackets uint64 // real server to client
	OutBytes   uint64
}

// LBServerStats are one real server's counters in one service.
type LBServerStats struct {
	Addr netip.AddrPort
	LBCounters
}

// LBServiceStats are the counters of one service, by real server.
type LBServiceStats struct {
	LBKey
	Servers []LBServerStats
}

// LBStatsReader is a LoadBalancer that counts traffic; NFTLoadBalancer
// is one.
type LBStatsReader interface {
	// Stats reads the counters of every address service of the table
	// (none if it does not exist), in one dump.
	Stats() ([]LBServiceStats, error)
}
