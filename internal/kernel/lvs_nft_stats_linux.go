//go:build linux

package kernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The counters' parts of the table (see lvs_nft_stats.go).
const (
	lbSetStats4     = "rs_stats_ip"
	lbSetStats6     = "rs_stats_ip6"
	lbSetConns4     = "rs_conns_ip"
	lbSetConns6     = "rs_conns_ip6"
	lbChainStatsIn  = "stats_in"
	lbChainStatsOut = "stats_out"
	// The sets' IDs follow the maps'; the stats rules' anonymous sets
	// (their protocols) count from lbStatsAnonID, above the services'
	// anonymous sets of the same batch (from lbFirstAnonID).
	lbIDStats4    = lbIDFwm6 + 1
	lbIDStats6    = lbIDFwm6 + 2
	lbIDConns4    = lbIDFwm6 + 3
	lbIDConns6    = lbIDFwm6 + 4
	lbStatsAnonID = 1 << 24
)

// The kinds of counts: conntrack's directions (enum ip_conntrack_dir),
// the first part of an rs_stats key, and connections (rs_conns).
const (
	lbKindIn    byte = 0 // IP_CT_DIR_ORIGINAL
	lbKindOut   byte = 1 // IP_CT_DIR_REPLY
	lbKindConns byte = 2
)

// ipsConfirmed is IPS_CONFIRMED (enum ip_conntrack_status): a conntrack
// entry not yet confirmed is one whose first packet is on its way.
const ipsConfirmed = 1 << 3

func lbAddrType(family int) nftables.SetDatatype {
	if family == 6 {
		return nftables.TypeIP6Addr
	}
	return nftables.TypeIPAddr
}

// lbStatsSet is the set of a family's packet counters (conns false) or
// connection counters.
func lbStatsSet(t *nftables.Table, family int, conns bool) *nftables.Set {
	s := &nftables.Set{Table: t, Counter: true}
	switch {
	case conns:
		s.KeyType = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService, lbAddrType(family), nftables.TypeInetService)
		s.Name, s.ID = lbSetConns4, lbIDConns4
		if family == 6 {
			s.Name, s.ID = lbSetConns6, lbIDConns6
		}
	default:
		s.KeyType = nftables.MustConcatSetType(nftables.TypeCTDir, nftables.TypeInetProto, nftables.TypeInetService,
			lbAddrType(family), nftables.TypeInetService)
		s.Name, s.ID = lbSetStats4, lbIDStats4
		if family == 6 {
			s.Name, s.ID = lbSetStats6, lbIDStats6
		}
	}
	return s
}

// lbStatsRule is one counting rule of the stats chains.
type lbStatsRule struct {
	family int
	kind   byte
}

var lbStatsRules = []lbStatsRule{
	{4, lbKindIn}, {4, lbKindOut}, {4, lbKindConns},
	{6, lbKindIn}, {6, lbKindOut}, {6, lbKindConns},
}

func (r lbStatsRule) comment() string {
	what := map[byte]string{lbKindIn: "packets in", lbKindOut: "packets out", lbKindConns: "connections"}[r.kind]
	return fmt.Sprintf("keepalived-go: IPv%d %s", r.family, what)
}

// queue queues the rule in chain ch; input rules skip what comes from
// loopback, counted where it left. id numbers its anonymous set.
func (r lbStatsRule) queue(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, input bool, id uint32) {
	var out []expr.Any
	if input {
		out = append(out, &expr.Meta{Key: expr.MetaKeyIIFTYPE, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint16(unix.ARPHRD_LOOPBACK)})
	}
	nfproto, alen, saddr, daddr := byte(unix.NFPROTO_IPV4), uint32(4), uint32(lbV4Saddr), uint32(lbV4Daddr)
	if r.family == 6 {
		nfproto, alen, saddr, daddr = unix.NFPROTO_IPV6, 16, lbV6Saddr, lbV6Daddr
	}
	// The protocols IPVS balances, as a set: it also tells nft what the
	// ports are, so that `nft list` output loads again with `nft -f`.
	protos := &nftables.Set{Table: t, Name: "__set%d", ID: id, Anonymous: true, Constant: true, KeyType: nftables.TypeInetProto}
	// (AddSet fails only for anonymous sets that are not constant.)
	_ = c.AddSet(protos, []nftables.SetElement{{Key: []byte{unix.IPPROTO_TCP}}, {Key: []byte{unix.IPPROTO_UDP}}, {Key: []byte{unix.IPPROTO_SCTP}}})
	out = append(out, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{nfproto}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: protos.Name, SetID: protos.ID})
	addr, port := daddr, uint32(lbThDport) // the real server going in
	set := lbStatsSet(t, r.family, r.kind == lbKindConns)
	reg := uint32(8) // NFT_REG32_00: the key's first register
	switch r.kind {
	case lbKindConns:
		out = append(out, &expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(ipsConfirmed), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: make([]byte, 4)})
	default:
		if r.kind == lbKindOut {
			addr, port = saddr, 0 // coming out: th sport
		}
		out = append(out, &expr.Ct{Key: expr.CtKeyDIRECTION, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{r.kind}},
			&expr.Ct{Key: expr.CtKeyDIRECTION, Register: reg})
		reg++
	}
	// The key, each part from a 4-byte boundary: (the direction,) the
	// protocol, the service's port (the connection's original
	// destination port: the library sends ct's direction as 4 bytes
	// where the kernel reads one, and 0, original, reads right), the
	// real server's address and port.
	out = append(out,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg},
		&expr.Ct{Key: expr.CtKeyPROTODST, Register: reg + 1, Direction: uint32(lbKindIn)},
		&expr.Payload{DestRegister: reg + 2, Base: expr.PayloadBaseNetworkHeader, Offset: addr, Len: alen},
		&expr.Payload{DestRegister: reg + 2 + alen/4, Base: expr.PayloadBaseTransportHeader, Offset: port, Len: 2},
		&expr.Lookup{SourceRegister: 8, SetName: set.Name, SetID: set.ID})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: out,
		UserData: userdata.AppendString(nil, userdata.TypeComment, r.comment())})
}

// lbQueueStatsBase queues the counters' sets and chains (with their
// rules, replaced if the chains exist); the sets and their elements are
// kept if they exist.
func lbQueueStatsBase(c *nftables.Conn, t *nftables.Table, v *lbView) {
	for _, fam := range []int{4, 6} {
		for _, conns := range []bool{false, true} {
			_ = c.AddSet(lbStatsSet(t, fam, conns), nil) // fails only for anonymous sets
		}
	}
	accept := nftables.ChainPolicyAccept
	id := uint32(lbStatsAnonID)
	for _, base := range []struct {
		name string
		hook *nftables.ChainHook
	}{{lbChainStatsIn, nftables.ChainHookInput}, {lbChainStatsOut, nftables.ChainHookPostrouting}} {
		ch := &nftables.Chain{Name: base.name, Table: t, Type: nftables.ChainTypeFilter, Hooknum: base.hook,
			Priority: nftables.ChainPriorityFilter, Policy: &accept}
		c.AddChain(ch)
		if v.chains[base.name] {
			c.FlushChain(ch)
		}
		for _, r := range lbStatsRules {
			r.queue(c, t, ch, base.name == lbChainStatsIn, id)
			id++
		}
	}
}

// lbStatsBaseOK tells whether the counters' sets and chains exist (their
// rules are not read back: the library cannot decode ct's direction as
// the kernel dumps it).
func lbStatsBaseOK(v *lbView) bool {
	return v.sets[lbSetStats4] && v.sets[lbSetStats6] && v.sets[lbSetConns4] && v.sets[lbSetConns6] &&
		v.chains[lbChainStatsIn] && v.chains[lbChainStatsOut]
}

// lbStatsKey is the key of one kind of count of a real server of a
// service (in its set: the kind is part of the key of packets only).
func lbStatsKey(kind byte, k LBKey, rs netip.AddrPort) []byte {
	var b []byte
	if kind != lbKindConns {
		b = append(b, kind, 0, 0, 0)
	}
	b = append(b, k.Proto, 0, 0, 0, byte(k.Addr.Port()>>8), byte(k.Addr.Port()), 0, 0)
	b = append(b, rs.Addr().AsSlice()...)
	return append(b, byte(rs.Port()>>8), byte(rs.Port()), 0, 0)
}

// lbQueueStatsElems queues the addition (or deletion) of the counters of
// servers in service k: two packet counters and a connection counter
// each. Adding an element that exists keeps it and its counter.
func lbQueueStatsElems(c *nftables.Conn, t *nftables.Table, k LBKey, servers []netip.AddrPort, add bool) error {
	var pkts, conns []nftables.SetElement
	for _, rs := range servers {
		pkts = append(pkts, nftables.SetElement{Key: lbStatsKey(lbKindIn, k, rs)}, nftables.SetElement{Key: lbStatsKey(lbKindOut, k, rs)})
		conns = append(conns, nftables.SetElement{Key: lbStatsKey(lbKindConns, k, rs)})
	}
	op := c.SetDeleteElements
	if add {
		op = c.SetAddElements
	}
	if err := op(lbStatsSet(t, k.Family, false), pkts); err != nil {
		return err
	}
	return op(lbStatsSet(t, k.Family, true), conns)
}

// LBStatsBytes is a generous estimate of the netlink bytes that add the
// counters of a service's real servers (three elements each, up to 36
// bytes of key for IPv6 with their attributes), for the nftables
// backend's batches: a batch must fit the socket's buffers.
func LBStatsBytes(s LBService) int { return 256 * len(lbStatsServers(s)) }

// lbStatsServers are the real servers a written service counts: its
// slots' destinations, once each; none for a fwmark service.
func lbStatsServers(s LBService) []netip.AddrPort {
	if s.Fwmark != 0 {
		return nil
	}
	seen := map[netip.AddrPort]bool{}
	var out []netip.AddrPort
	for _, d := range slices.Concat(s.Slots, s.Idle) {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// lbStatsOwnServers are the real servers whose counters go with service
// k when it is deleted (with the services of del): those that no other
// service of its protocol and port still counts.
func lbStatsOwnServers(v *lbView, k LBKey, del []LBKey) []netip.AddrPort {
	gone := map[LBKey]bool{}
	for _, d := range del {
		gone[d] = true
	}
	var out []netip.AddrPort
	for rs := range v.counted[k] {
		shared := false
		for o, servers := range v.counted {
			if !gone[o] && o.Family == k.Family && o.Proto == k.Proto && o.Addr.Port() == k.Addr.Port() && servers[rs] {
				shared = true
				break
			}
		}
		if !shared {
			out = append(out, rs)
		}
	}
	return out
}

// count notes that service k has counters for real server rs.
func (v *lbView) count(k LBKey, rs netip.AddrPort) {
	if v.counted[k] == nil {
		v.counted[k] = map[netip.AddrPort]bool{}
	}
	v.counted[k][rs] = true
}

// placeStats gives service s, as read from its chain, the counters of
// the servers of its slots that several services could have.
func (v *lbView) placeStats(s LBService) {
	if s.Fwmark != 0 {
		return
	}
	for _, e := range v.unplaced {
		if e.proto == s.Proto && e.port == s.Addr.Port() && (slices.Contains(s.Slots, e.rs) || slices.Contains(s.Idle, e.rs)) {
			v.count(s.LBKey, e.rs)
		}
	}
}

// lbStatsElem is a decoded element: what it counts, for which real
// server, of which protocol and port.
type lbStatsElem struct {
	kind  byte
	proto uint8
	port  uint16
	rs    netip.AddrPort
}

func lbDecodeStatsKey(family int, conns bool, key []byte) (lbStatsElem, bool) {
	var e lbStatsElem
	if conns {
		e.kind = lbKindConns
	} else {
		if len(key) < 4 || key[0] > lbKindOut {
			return e, false
		}
		e.kind, key = key[0], key[4:]
	}
	alen := 4
	if family == 6 {
		alen = 16
	}
	if len(key) != 8+alen+4 {
		return e, false
	}
	addr, _ := netip.AddrFromSlice(key[8 : 8+alen])
	e.proto, e.port = key[0], binary.BigEndian.Uint16(key[4:])
	e.rs = netip.AddrPortFrom(addr, binary.BigEndian.Uint16(key[8+alen:]))
	return e, true
}

// lbReadStats reads the counters' sets (none for a set that does not
// exist): four dumps on one socket.
func lbReadStats(c *nftables.Conn, t *nftables.Table, v *lbView) (map[lbStatsElem]*expr.Counter, error) {
	out := map[lbStatsElem]*expr.Counter{}
	for _, fam := range []int{4, 6} {
		for _, conns := range []bool{false, true} {
			set := lbStatsSet(t, fam, conns)
			if !v.sets[set.Name] {
				continue
			}
			elems, err := c.GetSetElements(set)
			if err != nil {
				return nil, fmt.Errorf("reading set %s: %w", set.Name, err)
			}
			for _, e := range elems {
				if d, ok := lbDecodeStatsKey(fam, conns, e.Key); ok {
					n := e.Counter
					if n == nil {
						n = &expr.Counter{}
					}
					out[d] = n
				}
			}
		}
	}
	return out, nil
}

// lbReadStatsServers reads which real servers each service counts (into
// v.counted): a key names the service by its protocol and port only, so
// where several services have them the server goes to those whose slots
// have it, once Services reads them (v.unplaced, placeStats); one taken
// out of their slots before is not reported again.
func lbReadStatsServers(c *nftables.Conn, t *nftables.Table, v *lbView) error {
	v.counted, v.unplaced = map[LBKey]map[netip.AddrPort]bool{}, nil
	elems, err := lbReadStats(c, t, v)
	if err != nil {
		return err
	}
	// The services by family, protocol and port: what a key says of its
	// service.
	type part struct {
		family int
		proto  uint8
		port   uint16
	}
	byPart := map[part][]LBKey{}
	for k := range v.elems {
		if k.Fwmark == 0 {
			p := part{k.Family, k.Proto, k.Addr.Port()}
			byPart[p] = append(byPart[p], k)
		}
	}
	for e := range elems {
		if e.kind != lbKindConns {
			continue
		}
		fam := 6
		if e.rs.Addr().Is4() {
			fam = 4
		}
		switch ks := byPart[part{fam, e.proto, e.port}]; len(ks) {
		case 0:
		case 1:
			v.count(ks[0], e.rs)
		default:
			// Several services of this protocol and port: the one
			// whose slots have the server (placeStats).
			v.unplaced = append(v.unplaced, e)
		}
	}
	return nil
}

// Stats reads the counters of the table's address services, sorted by
// key, their real servers by address.
func (lb *NFTLoadBalancer) Stats() ([]LBServiceStats, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closed {
		return nil, ErrLoadBalancerClosed
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(lb.ns)), nftables.AsLasting())
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	if lb.view == nil {
		v, err := lb.read(c)
		if err != nil {
			return nil, fmt.Errorf("kernel: nftables: reading table %s: %w", lb.table, err)
		}
		lb.view = v
	}
	elems, err := lbReadStats(c, lb.tbl(), lb.view)
	if err != nil {
		return nil, fmt.Errorf("kernel: nftables: %w", err)
	}
	var out []LBServiceStats
	for k, servers := range lb.view.counted {
		s := LBServiceStats{LBKey: k}
		for rs := range servers {
			n := LBServerStats{Addr: rs}
			at := lbStatsElem{proto: k.Proto, port: k.Addr.Port(), rs: rs}
			if e := elems[with(at, lbKindIn)]; e != nil {
				n.InPackets, n.InBytes = e.Packets, e.Bytes
			}
			if e := elems[with(at, lbKindOut)]; e != nil {
				n.OutPackets, n.OutBytes = e.Packets, e.Bytes
			}
			if e := elems[with(at, lbKindConns)]; e != nil {
				n.Conns = e.Packets
			}
			s.Servers = append(s.Servers, n)
		}
		sort.Slice(s.Servers, func(i, j int) bool { return s.Servers[i].Addr.Compare(s.Servers[j].Addr) < 0 })
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return lbKeyLess(out[i].LBKey, out[j].LBKey) })
	return out, nil
}

func with(e lbStatsElem, kind byte) lbStatsElem {
	e.kind = kind
	return e
}

var _ LBStatsReader = (*NFTLoadBalancer)(nil)
