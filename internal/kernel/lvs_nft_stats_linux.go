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
	lbChainStatsIn  = "stats_in"
	lbChainStatsOut = "stats_out"
	lbIDStats4      = lbIDFwm6 + 1 // below lbFirstAnonID
	lbIDStats6      = lbIDFwm6 + 2
)

// The kinds of counted packets, the first part of an rs_stats key, as
// conntrack's directions (enum ip_conntrack_dir) and one more.
const (
	lbKindIn    byte = 0 // IP_CT_DIR_ORIGINAL
	lbKindOut   byte = 1 // IP_CT_DIR_REPLY
	lbKindConns byte = 2
)

// ipsConfirmed is IPS_CONFIRMED (enum ip_conntrack_status): a conntrack
// entry not yet confirmed is one whose first packet is on its way.
const ipsConfirmed = 1 << 3

var (
	lbStatsKeyType4 = nftables.MustConcatSetType(nftables.TypeCTDir, nftables.TypeInetProto, nftables.TypeInetService,
		nftables.TypeIPAddr, nftables.TypeInetService)
	lbStatsKeyType6 = nftables.MustConcatSetType(nftables.TypeCTDir, nftables.TypeInetProto, nftables.TypeInetService,
		nftables.TypeIP6Addr, nftables.TypeInetService)
)

func lbStatsSet(t *nftables.Table, family int) *nftables.Set {
	if family == 6 {
		return &nftables.Set{Table: t, Name: lbSetStats6, ID: lbIDStats6, KeyType: lbStatsKeyType6, Counter: true}
	}
	return &nftables.Set{Table: t, Name: lbSetStats4, ID: lbIDStats4, KeyType: lbStatsKeyType4, Counter: true}
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

// exprs are the rule's expressions; input rules skip what comes from
// loopback, counted where it left.
func (r lbStatsRule) exprs(input bool) []expr.Any {
	var out []expr.Any
	if input {
		out = append(out, &expr.Meta{Key: expr.MetaKeyIIFTYPE, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint16(unix.ARPHRD_LOOPBACK)})
	}
	nfproto, alen, saddr, daddr := byte(unix.NFPROTO_IPV4), uint32(4), uint32(lbV4Saddr), uint32(lbV4Daddr)
	set := lbStatsSet(nil, r.family)
	if r.family == 6 {
		nfproto, alen, saddr, daddr = unix.NFPROTO_IPV6, 16, lbV6Saddr, lbV6Daddr
	}
	out = append(out, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{nfproto}})
	addr, port := daddr, uint32(lbThDport) // the real server going in
	var kind expr.Any = &expr.Ct{Key: expr.CtKeyDIRECTION, Register: 8}
	switch r.kind {
	case lbKindOut:
		addr, port = saddr, 0 // coming out: th sport
	case lbKindConns:
		out = append(out, &expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(ipsConfirmed), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: make([]byte, 4)})
		kind = &expr.Immediate{Register: 8, Data: []byte{lbKindConns}}
	}
	if r.kind != lbKindConns {
		out = append(out, &expr.Ct{Key: expr.CtKeyDIRECTION, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{r.kind}})
	}
	// The key from NFT_REG32_00 (register 8): the kind, the protocol,
	// the service's port (the connection's original destination port:
	// the library sends ct's direction as 4 bytes where the kernel reads
	// one, and 0, original, reads right), the real server's address and
	// port; each from a 4-byte boundary.
	aregs := alen / 4
	return append(out, kind,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Ct{Key: expr.CtKeyPROTODST, Register: 10, Direction: uint32(lbKindIn)},
		&expr.Payload{DestRegister: 11, Base: expr.PayloadBaseNetworkHeader, Offset: addr, Len: alen},
		&expr.Payload{DestRegister: 11 + aregs, Base: expr.PayloadBaseTransportHeader, Offset: port, Len: 2},
		&expr.Lookup{SourceRegister: 8, SetName: set.Name, SetID: set.ID})
}

// lbQueueStatsBase queues the counters' set and chains (with their
// rules, replaced if the chains exist); the set and its elements are
// kept if they exist.
func lbQueueStatsBase(c *nftables.Conn, t *nftables.Table, v *lbView) {
	for _, fam := range []int{4, 6} {
		_ = c.AddSet(lbStatsSet(t, fam), nil) // fails only for anonymous sets
	}
	accept := nftables.ChainPolicyAccept
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
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r.exprs(base.name == lbChainStatsIn),
				UserData: userdata.AppendString(nil, userdata.TypeComment, r.comment())})
		}
	}
}

// lbStatsBaseOK tells whether the counters' sets and chains exist (their
// rules are not read back: the library cannot decode ct's direction as
// the kernel dumps it).
func lbStatsBaseOK(v *lbView) bool {
	return v.sets[lbSetStats4] && v.sets[lbSetStats6] && v.chains[lbChainStatsIn] && v.chains[lbChainStatsOut]
}

// lbStatsKey is the key of one kind of a real server of a service.
func lbStatsKey(kind byte, k LBKey, rs netip.AddrPort) []byte {
	b := []byte{kind, 0, 0, 0, k.Proto, 0, 0, 0, byte(k.Addr.Port() >> 8), byte(k.Addr.Port()), 0, 0}
	b = append(b, rs.Addr().AsSlice()...)
	return append(b, byte(rs.Port()>>8), byte(rs.Port()), 0, 0)
}

// lbStatsElems are the three elements of each real server of a service.
func lbStatsElems(k LBKey, servers []netip.AddrPort) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, 3*len(servers))
	for _, rs := range servers {
		for _, kind := range []byte{lbKindIn, lbKindOut, lbKindConns} {
			out = append(out, nftables.SetElement{Key: lbStatsKey(kind, k, rs)})
		}
	}
	return out
}

// lbStatsServers are the real servers a written service counts: its
// slots' destinations, once each; none for a fwmark service.
func lbStatsServers(s LBService) []netip.AddrPort {
	if s.Fwmark != 0 {
		return nil
	}
	seen := map[netip.AddrPort]bool{}
	var out []netip.AddrPort
	for _, d := range s.Slots {
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
		if e.proto == s.Proto && e.port == s.Addr.Port() && slices.Contains(s.Slots, e.rs) {
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

func lbDecodeStatsKey(family int, key []byte) (lbStatsElem, bool) {
	alen := 4
	if family == 6 {
		alen = 16
	}
	if len(key) != 12+alen+4 || key[0] > lbKindConns {
		return lbStatsElem{}, false
	}
	addr, _ := netip.AddrFromSlice(key[12 : 12+alen])
	return lbStatsElem{kind: key[0], proto: key[4], port: binary.BigEndian.Uint16(key[8:]),
		rs: netip.AddrPortFrom(addr, binary.BigEndian.Uint16(key[12+alen:]))}, true
}

// lbReadStats reads both sets' elements with their counters (none for
// a set that does not exist).
func lbReadStats(c *nftables.Conn, t *nftables.Table, v *lbView) (map[lbStatsElem]*expr.Counter, error) {
	out := map[lbStatsElem]*expr.Counter{}
	for _, fam := range []int{4, 6} {
		set := lbStatsSet(t, fam)
		if !v.sets[set.Name] {
			continue
		}
		elems, err := c.GetSetElements(set)
		if err != nil {
			return nil, fmt.Errorf("reading set %s: %w", set.Name, err)
		}
		for _, e := range elems {
			if d, ok := lbDecodeStatsKey(fam, e.Key); ok {
				n := e.Counter
				if n == nil {
					n = &expr.Counter{}
				}
				out[d] = n
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
