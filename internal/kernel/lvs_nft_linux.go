//go:build linux

package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NFTLoadBalancer is the nftables LoadBalancer (see lvs_nft.go). It works
// in the network namespace of the thread that called
// NewNFTLoadBalancer, and is safe for concurrent use.
//
// It remembers what the table holds (the dispatch elements and chains)
// from its last read and its own writes, so that a change touches only
// its services; after a failed change it reads the table again first.
//
// It also follows the ruleset generation (see Generation) from a whole
// read of the table (Services) through its own writes: while each of
// its transactions moved the generation by exactly one from the one it
// knew, nothing else changed the ruleset, and Unchanged can say so
// without reading anything back.
type NFTLoadBalancer struct {
	mu     sync.Mutex
	table  string
	ns     netns.NsHandle
	view   *lbView // nil: unknown, read before the next change
	closed bool
	// genConn is the socket of the generation requests (nil until the
	// first); gen is the generation after the last whole read or write,
	// which left the table as the caller knows it if trusted.
	genConn *netlink.Conn
	gen     uint32
	trusted bool
	// requests counts the netlink requests sent (dumps, gets, batches).
	requests atomic.Uint64
}

var _ LoadBalancer = (*NFTLoadBalancer)(nil)

// ErrLoadBalancerClosed is returned after Close.
var ErrLoadBalancerClosed = errors.New("kernel: nftables load balancer closed")

// lbView is what the table holds, as far as the load balancer knows.
type lbView struct {
	// base: the table, the four maps and the two base chains exist, the
	// chains holding the dispatch rules (and nothing else).
	base   bool
	elems  map[LBKey]string // dispatch-map element -> the chain it jumps to
	chains map[string]bool  // the table's chains
	sets   map[string]bool  // the table's named sets and maps
	// timeouts are the default timeouts (seconds) of the sets that have
	// one (the pins sets), as read; persist what the load balancer
	// knows of each service's persistence, as written or read back with
	// it (lvs_nft_persist_linux.go).
	timeouts map[string]uint32
	persist  map[LBKey]lbPersistView
	// counted are the real servers each service has counters for, and
	// unplaced the counters read that may be of several services
	// (lvs_nft_stats_linux.go).
	counted  map[LBKey]map[netip.AddrPort]bool
	unplaced []lbStatsElem
}

// The table's fixed parts.
const (
	lbChainPre = "prerouting"
	lbChainOut = "output"
	lbMapSvc4  = "services_ip"
	lbMapSvc6  = "services_ip6"
	lbMapFwm4  = "fwmarks_ip"
	lbMapFwm6  = "fwmarks_ip6"
	// lbHashSeed is jhash's seed: fixed, so that a client hashes to the
	// same slot after a restart (the kernel picks a random one if none
	// is given).
	lbHashSeed = 0x6b656570
	// lbPriority is the nat chains' priority: dstnat (NF_IP_PRI_NAT_DST).
	lbPriority = -100
)

// Set IDs only need to be unique within one batch: the maps have fixed
// ones, anonymous sets count from lbFirstAnonID.
const (
	lbIDSvc4 = iota + 1
	lbIDSvc6
	lbIDFwm4
	lbIDFwm6
	lbFirstAnonID = 16
)

var (
	lbKeyType4  = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeIPAddr, nftables.TypeInetService)
	lbKeyType6  = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeIP6Addr, nftables.TypeInetService)
	lbDataPort4 = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
	lbDataPort6 = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeInetService)
)

// Offsets in the IPv4 and IPv6 headers, and of the destination port.
const (
	lbV4Saddr, lbV4Daddr = 12, 16
	lbV6Saddr, lbV6Daddr = 8, 24
	lbThDport            = 2
)

// NewNFTLoadBalancer prepares the load-balancing table `inet TABLE`
// (DefaultLBTable if table is "") in the calling thread's network
// namespace. It changes nothing until the first Apply.
func NewNFTLoadBalancer(table string) (*NFTLoadBalancer, error) {
	if table == "" {
		table = DefaultLBTable
	}
	if len(table) > 255 || bytes.IndexByte([]byte(table), 0) >= 0 {
		return nil, fmt.Errorf("kernel: nftables: invalid table name %q", table)
	}
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("kernel: nftables: current network namespace: %w", err)
	}
	return &NFTLoadBalancer{table: table, ns: ns}, nil
}

// Table is the table's name (in the inet family).
func (lb *NFTLoadBalancer) Table() string { return lb.table }

// Close releases the namespace handle; the table stays as it is.
func (lb *NFTLoadBalancer) Close() error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closed {
		return nil
	}
	lb.closed = true
	if lb.genConn != nil {
		lb.genConn.Close()
		lb.genConn = nil
	}
	return lb.ns.Close()
}

// Requests is how many netlink requests the load balancer has sent:
// dumps, gets (the ruleset generation) and batches.
func (lb *NFTLoadBalancer) Requests() uint64 { return lb.requests.Load() }

// Generation is the namespace's nftables ruleset generation, which the
// kernel increments at every transaction that changes anything, in any
// table (nf_tables_api.c: nf_tables_commit increments base_seq; the
// NFT_MSG_GETGEN request reads it).
func (lb *NFTLoadBalancer) Generation() (uint32, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closed {
		return 0, ErrLoadBalancerClosed
	}
	return lb.generation()
}

// Unchanged tells whether nothing has changed the namespace's ruleset
// since the load balancer last read its table whole (Services) or
// wrote it, all its writes since that read having succeeded with
// nothing else committed in between: the table then holds what that
// read returned with those writes applied. False when it cannot tell.
func (lb *NFTLoadBalancer) Unchanged() (bool, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closed {
		return false, ErrLoadBalancerClosed
	}
	if !lb.trusted {
		return false, nil
	}
	g, err := lb.generation()
	if err != nil {
		return false, err
	}
	return g == lb.gen, nil
}

// generation asks for the ruleset generation: one request, one answer
// (no acknowledgement asked), on a socket kept open. Called with lb.mu
// held.
func (lb *NFTLoadBalancer) generation() (uint32, error) {
	lb.requests.Add(1)
	if lb.genConn == nil {
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(lb.ns)})
		if err != nil {
			return 0, fmt.Errorf("kernel: nftables: ruleset generation: %w", err)
		}
		lb.genConn = c
	}
	msgs, err := lb.genConn.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN), Flags: netlink.Request},
		// struct nfgenmsg: family, version, resource id
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	if err != nil {
		lb.genConn.Close() // a fresh socket next time
		lb.genConn = nil
		return 0, fmt.Errorf("kernel: nftables: ruleset generation: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type != netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_NEWGEN) || len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, fmt.Errorf("kernel: nftables: ruleset generation: %w", err)
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
		if err := ad.Err(); err != nil {
			return 0, fmt.Errorf("kernel: nftables: ruleset generation: %w", err)
		}
	}
	return 0, errors.New("kernel: nftables: ruleset generation: no NFTA_GEN_ID in the answer")
}

func (lb *NFTLoadBalancer) conn() (*nftables.Conn, error) {
	return nftables.New(nftables.WithNetNSFd(int(lb.ns)), nftables.WithSockOptions(lbBuffers))
}

// lbSocketBuffer is the send and receive buffer a transaction's socket
// asks for: a persistent service's destinations are four messages each,
// each acknowledged, and the default buffers (net.core.rmem_default and
// wmem_default, about 208 KiB) hold the acknowledgements of only some
// hundreds of messages (the kernel drops the rest: ENOBUFS).
const lbSocketBuffer = 8 << 20

// lbBuffers raises a transaction socket's buffers past the sysctl
// limits (SO_RCVBUFFORCE, SO_SNDBUFFORCE: CAP_NET_ADMIN, which
// programming nftables needs anyway); failing that, the defaults stay.
func lbBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, lbSocketBuffer)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, lbSocketBuffer)
	})
	return nil
}

func (lb *NFTLoadBalancer) tbl() *nftables.Table {
	return &nftables.Table{Name: lb.table, Family: nftables.TableFamilyINet}
}

// Services reads the table's services, sorted by key. A service whose
// chain is not as NFTLoadBalancer makes it comes back with Pick
// LBUnknown.
func (lb *NFTLoadBalancer) Services() (_ []LBService, err error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closed {
		return nil, ErrLoadBalancerClosed
	}
	// One socket for the whole read (a dump per service otherwise opens
	// its own).
	c, err := nftables.New(nftables.WithNetNSFd(int(lb.ns)), nftables.AsLasting())
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	lb.view, lb.trusted = nil, false
	// The generation before and after: the same, and nothing changed
	// during the read (it takes many dumps).
	g0, gerr := lb.generation()
	v, err := lb.read(c)
	if err != nil {
		return nil, fmt.Errorf("kernel: nftables: reading table %s: %w", lb.table, err)
	}
	lb.view = v
	defer func() {
		if err != nil || gerr != nil {
			return
		}
		if g1, gerr := lb.generation(); gerr == nil && g1 == g0 {
			lb.gen, lb.trusted = g1, true
		}
	}()
	keys := make([]LBKey, 0, len(v.elems))
	for k := range v.elems {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return lbKeyLess(keys[i], keys[j]) })
	out := make([]LBService, 0, len(keys))
	t := lb.tbl()
	for _, k := range keys {
		s := LBService{LBKey: k, Pick: LBUnknown}
		name := v.elems[k]
		if name == lbChainName(k) && v.chains[name] {
			lb.requests.Add(1)
			rules, err := c.GetRules(t, &nftables.Chain{Name: name, Table: t})
			if err != nil {
				return nil, fmt.Errorf("kernel: nftables: reading chain %s: %w", name, err)
			}
			if lbIsPersistent(rules) {
				if d, err := lbDecodePersistent(c, t, k, rules, v, &lb.requests); err == nil {
					s = d
					v.placeStats(s)
				}
			} else if pick, slots, err := lbDecodeChain(c, t, k, rules, &lb.requests); err == nil {
				s.Pick, s.Slots = pick, slots
				v.persist[k] = lbPersistView{}
				v.placeStats(s)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func lbKeyLess(a, b LBKey) bool {
	if a.Family != b.Family {
		return a.Family < b.Family
	}
	if a.Fwmark != b.Fwmark {
		return a.Fwmark < b.Fwmark
	}
	if a.Proto != b.Proto {
		return a.Proto < b.Proto
	}
	return a.Addr.Compare(b.Addr) < 0
}

// lbDecodeChain reads a service's pick and slots from its chain's rules
// and its map's elements.
func lbDecodeChain(c *nftables.Conn, t *nftables.Table, k LBKey, rules []*nftables.Rule, requests *atomic.Uint64) (LBPick, []netip.AddrPort, error) {
	if len(rules) != 1 {
		return LBUnknown, nil, fmt.Errorf("%d rules", len(rules))
	}
	shape, err := lbParseRule(rules[0].Exprs)
	if err != nil {
		return LBUnknown, nil, err
	}
	if shape.reject {
		return LBRoundRobin, nil, nil
	}
	if shape.family != k.Family || shape.mapName != lbChainName(k) {
		return LBUnknown, nil, fmt.Errorf("IPv%d NAT from map %q in service %v", shape.family, shape.mapName, k)
	}
	requests.Add(1)
	elems, err := c.GetSetElements(&nftables.Set{Table: t, Name: shape.mapName})
	if err != nil {
		return LBUnknown, nil, err
	}
	slots, err := lbDecodeSlots(k.Family, shape.withPort, shape.modulus, elems)
	if err != nil {
		return LBUnknown, nil, err
	}
	return shape.pick, slots, nil
}

// lbRuleShape is what a service rule does.
type lbRuleShape struct {
	reject   bool
	pick     LBPick
	modulus  uint32
	mapName  string
	family   int
	withPort bool
}

// lbParseRule reads a service rule as NFTLoadBalancer writes it: an
// optional protocol match, a pick (numgen, or a payload and a jhash), a
// map lookup into register 1 and a DNAT from it; or a reject.
func lbParseRule(exprs []expr.Any) (lbRuleShape, error) {
	var s lbRuleShape
	var payload *expr.Payload
	picked, nat := false, false
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta, *expr.Cmp:
			// the protocol match
		case *expr.Lookup:
			if !e.IsDestRegSet {
				continue // the fwmark services' protocol set
			}
			if e.DestRegister != 1 || s.mapName != "" {
				return s, errors.New("unexpected map lookup")
			}
			s.mapName = e.SetName
		case *expr.Reject:
			s.reject = true
		case *expr.Numgen:
			if picked || e.Type != unix.NFT_NG_INCREMENTAL || e.Register != 1 {
				return s, errors.New("unexpected numgen")
			}
			picked, s.pick, s.modulus = true, LBRoundRobin, e.Modulus
		case *expr.Payload:
			payload = e
		case *expr.Hash:
			if picked || payload == nil || payload.Base != expr.PayloadBaseNetworkHeader || e.Type != expr.HashTypeJenkins ||
				e.DestRegister != 1 || e.Length != payload.Len {
				return s, errors.New("unexpected hash")
			}
			if s.pick = lbHashedPick(payload); s.pick == LBUnknown {
				return s, errors.New("unexpected hashed field")
			}
			picked, s.modulus = true, e.Modulus
		case *expr.NAT:
			if nat || e.Type != expr.NATTypeDestNAT || e.RegAddrMin != 1 {
				return s, errors.New("unexpected nat")
			}
			nat = true
			switch e.Family {
			case unix.NFPROTO_IPV4:
				s.family = 4
				s.withPort = e.RegProtoMin == 9
			case unix.NFPROTO_IPV6:
				s.family = 6
				s.withPort = e.RegProtoMin == 12 || e.RegProtoMin == 2
			default:
				return s, fmt.Errorf("nat family %d", e.Family)
			}
			if e.RegProtoMin != 0 && !s.withPort {
				return s, errors.New("unexpected nat port register")
			}
		default:
			return s, fmt.Errorf("unexpected expression %T", e)
		}
	}
	switch {
	case s.reject && !picked && !nat && s.mapName == "":
		return s, nil
	case s.reject || !picked || !nat || s.mapName == "" || s.modulus == 0:
		return s, errors.New("incomplete rule")
	}
	return s, nil
}

// lbDecodeSlots turns a slot map's elements (keys 0..modulus-1 in host
// byte order, addresses with or without port) into the slots.
func lbDecodeSlots(family int, withPort bool, modulus uint32, elems []nftables.SetElement) ([]netip.AddrPort, error) {
	if modulus == 0 || uint64(len(elems)) != uint64(modulus) {
		return nil, fmt.Errorf("%d elements for %d slots", len(elems), modulus)
	}
	alen := 4
	if family == 6 {
		alen = 16
	}
	vlen := alen
	if withPort {
		vlen += 4
	}
	slots := make([]netip.AddrPort, modulus)
	for _, e := range elems {
		if len(e.Key) != 4 || len(e.Val) != vlen {
			return nil, fmt.Errorf("element of %d:%d bytes", len(e.Key), len(e.Val))
		}
		i := binaryutil.NativeEndian.Uint32(e.Key)
		if i >= modulus || slots[i].IsValid() {
			return nil, fmt.Errorf("slot %d out of range or twice", i)
		}
		addr, _ := netip.AddrFromSlice(e.Val[:alen])
		var port uint16
		if withPort {
			port = binary.BigEndian.Uint16(e.Val[alen:])
			if port == 0 {
				return nil, fmt.Errorf("slot %d: port 0", i)
			}
		}
		slots[i] = netip.AddrPortFrom(addr, port)
	}
	return slots, nil
}

// lbMapKind names the four dispatch maps.
type lbMapKind struct {
	family int
	fwmark bool
}

var lbMapKinds = []lbMapKind{{4, true}, {6, true}, {4, false}, {6, false}}

func (m lbMapKind) name() string {
	switch {
	case m.fwmark && m.family == 4:
		return lbMapFwm4
	case m.fwmark:
		return lbMapFwm6
	case m.family == 4:
		return lbMapSvc4
	}
	return lbMapSvc6
}

func (m lbMapKind) set(t *nftables.Table) *nftables.Set {
	s := &nftables.Set{Table: t, Name: m.name(), IsMap: true, DataType: nftables.TypeVerdict}
	switch {
	case m.fwmark:
		s.KeyType, s.KeyByteOrder = nftables.TypeMark, binaryutil.NativeEndian
		s.ID = lbIDFwm4
		if m.family == 6 {
			s.ID = lbIDFwm6
		}
	case m.family == 4:
		s.KeyType, s.ID = lbKeyType4, lbIDSvc4
	default:
		s.KeyType, s.ID = lbKeyType6, lbIDSvc6
	}
	return s
}

func lbMapOf(k LBKey) lbMapKind { return lbMapKind{family: k.Family, fwmark: k.Fwmark != 0} }

// lbEncodeKey is a service's key in its dispatch map: the mark in host
// byte order, or protocol . address . port, each padded to 4 bytes.
func lbEncodeKey(k LBKey) []byte {
	if k.Fwmark != 0 {
		return binaryutil.NativeEndian.PutUint32(k.Fwmark)
	}
	b := []byte{k.Proto, 0, 0, 0}
	b = append(b, k.Addr.Addr().AsSlice()...)
	return append(b, byte(k.Addr.Port()>>8), byte(k.Addr.Port()), 0, 0)
}

// lbDecodeKey reads a dispatch map's key.
func lbDecodeKey(m lbMapKind, key []byte) (LBKey, error) {
	k := LBKey{Family: m.family}
	if m.fwmark {
		if len(key) != 4 {
			return k, fmt.Errorf("mark of %d bytes", len(key))
		}
		k.Fwmark = binaryutil.NativeEndian.Uint32(key)
		if k.Fwmark == 0 {
			return k, errors.New("mark 0")
		}
		return k, nil
	}
	alen := 4
	if m.family == 6 {
		alen = 16
	}
	if len(key) != 4+alen+4 {
		return k, fmt.Errorf("key of %d bytes", len(key))
	}
	addr, _ := netip.AddrFromSlice(key[4 : 4+alen])
	k.Proto = key[0]
	k.Addr = netip.AddrPortFrom(addr, binary.BigEndian.Uint16(key[4+alen:]))
	return k, k.valid()
}

// lbDecodeVerdict reads a dispatch element's data: a jump to a chain.
func lbDecodeVerdict(val []byte) (string, error) {
	ad, err := netlink.NewAttributeDecoder(val)
	if err != nil {
		return "", err
	}
	ad.ByteOrder = binary.BigEndian
	code, chain := uint32(0), ""
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_VERDICT_CODE:
			code = ad.Uint32()
		case unix.NFTA_VERDICT_CHAIN:
			chain = ad.String()
		}
	}
	if err := ad.Err(); err != nil {
		return "", err
	}
	if int32(code) != unix.NFT_JUMP || chain == "" {
		return "", fmt.Errorf("verdict %d %q is not a jump", int32(code), chain)
	}
	return chain, nil
}

// lbDispatch is one dispatch rule of the base chains.
type lbDispatch struct {
	comment string
	m       lbMapKind
}

var lbDispatchRules = []lbDispatch{
	{"keepalived-go: IPv4 fwmark services", lbMapKind{4, true}},
	{"keepalived-go: IPv6 fwmark services", lbMapKind{6, true}},
	{"keepalived-go: IPv4 services", lbMapKind{4, false}},
	{"keepalived-go: IPv6 services", lbMapKind{6, false}},
}

func (d lbDispatch) exprs() []expr.Any {
	nfproto := byte(unix.NFPROTO_IPV4)
	if d.m.family == 6 {
		nfproto = unix.NFPROTO_IPV6
	}
	out := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{nfproto}},
	}
	lookup := &expr.Lookup{SourceRegister: 1, SetName: d.m.name(), SetID: d.m.set(nil).ID, IsDestRegSet: true, DestRegister: 0}
	if d.m.fwmark {
		return append(out, &expr.Meta{Key: expr.MetaKeyMARK, Register: 1}, lookup)
	}
	// meta l4proto . ip daddr . th dport: registers 1 (NFT_REG32_00), then
	// the address and the port, each from a 4-byte boundary.
	daddr, alen, portReg := uint32(lbV4Daddr), uint32(4), uint32(10)
	if d.m.family == 6 {
		daddr, alen, portReg = lbV6Daddr, 16, 13
	}
	return append(out,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseNetworkHeader, Offset: daddr, Len: alen},
		&expr.Payload{DestRegister: portReg, Base: expr.PayloadBaseTransportHeader, Offset: lbThDport, Len: 2},
		lookup)
}

func (d lbDispatch) userData() []byte {
	return userdata.AppendString(nil, userdata.TypeComment, d.comment)
}

// read reads what the table holds: its chains, whether its fixed parts
// are as they should be, and the dispatch elements.
func (lb *NFTLoadBalancer) read(c *nftables.Conn) (*lbView, error) {
	v := &lbView{elems: map[LBKey]string{}, chains: map[string]bool{}, sets: map[string]bool{},
		timeouts: map[string]uint32{}, persist: map[LBKey]lbPersistView{}, counted: map[LBKey]map[netip.AddrPort]bool{}}
	lb.requests.Add(1)
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == lb.table }) {
		return v, nil
	}
	t := lb.tbl()
	lb.requests.Add(2) // the chains, the sets
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, err
	}
	base := 0
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != lb.table {
			continue
		}
		v.chains[ch.Name] = true
		if (ch.Name == lbChainPre || ch.Name == lbChainOut) && ch.Type == nftables.ChainTypeNAT && ch.Hooknum != nil {
			base++
		}
	}
	sets, err := c.GetSets(t)
	if err != nil {
		return nil, err
	}
	for _, s := range sets {
		if !s.Anonymous {
			v.sets[s.Name] = true
		}
		if s.HasTimeout && s.Timeout > 0 && s.Timeout%time.Second == 0 && s.Timeout/time.Second <= math.MaxUint32 {
			v.timeouts[s.Name] = uint32(s.Timeout / time.Second)
		}
	}
	maps := 0
	for _, m := range lbMapKinds {
		i := slices.IndexFunc(sets, func(s *nftables.Set) bool { return s.Name == m.name() })
		if i < 0 {
			continue
		}
		// (The library misreads a verdict map's key type, so only the
		// flags are checked; each element's key is checked as read.)
		if !sets[i].IsMap {
			continue
		}
		maps++
		lb.requests.Add(1)
		elems, err := c.GetSetElements(m.set(t))
		if err != nil {
			return nil, err
		}
		for _, e := range elems {
			k, err := lbDecodeKey(m, e.Key)
			if err != nil {
				continue // not ours to read, nor to touch
			}
			chain, err := lbDecodeVerdict(e.Val)
			if err != nil {
				chain = "" // ours, to be rewritten
			}
			v.elems[k] = chain
		}
	}
	v.base = base == 2 && maps == len(lbMapKinds) && lbStatsBaseOK(v)
	if err := lbReadStatsServers(c, t, v); err != nil {
		return nil, err
	}
	for _, name := range []string{lbChainPre, lbChainOut} {
		if !v.base {
			break
		}
		lb.requests.Add(1)
		rules, err := c.GetRules(t, &nftables.Chain{Name: name, Table: t})
		if err != nil {
			return nil, err
		}
		v.base = len(rules) == len(lbDispatchRules)
		for i := 0; v.base && i < len(rules); i++ {
			v.base = bytes.Equal(rules[i].UserData, lbDispatchRules[i].userData())
		}
	}
	return v, nil
}

// Apply writes set and deletes del in one transaction.
func (lb *NFTLoadBalancer) Apply(set []LBService, del []LBKey) error {
	seen := map[LBKey]bool{}
	for _, s := range set {
		if err := lbCheck(s); err != nil {
			return err
		}
		if seen[s.LBKey] {
			return fmt.Errorf("kernel: nftables: %v twice", s.LBKey)
		}
		seen[s.LBKey] = true
	}
	for _, k := range del {
		if err := k.valid(); err != nil {
			return err
		}
		if seen[k] {
			return fmt.Errorf("kernel: nftables: %v twice", k)
		}
		seen[k] = true
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closed {
		return ErrLoadBalancerClosed
	}
	// A change that fails because the table is not as we believed (an
	// administrator deleted it, a chain, an element) is retried once,
	// after reading the table again.
	var first error
	for range 2 {
		if lb.view == nil {
			c, err := lb.conn()
			if err != nil {
				return err
			}
			v, err := lb.read(c)
			if err != nil {
				return errors.Join(first, fmt.Errorf("kernel: nftables: reading table %s: %w", lb.table, err))
			}
			lb.view = v
		}
		err := lb.write(lb.view, set, del)
		if err == nil {
			return nil
		}
		lb.view = nil
		if first != nil {
			return err
		}
		first = err
	}
	return first
}

// write queues and sends one transaction from what v says the table
// holds; on success it updates v.
func (lb *NFTLoadBalancer) write(v *lbView, set []LBService, del []LBKey) error {
	c, err := lb.conn()
	if err != nil {
		return err
	}
	t := lb.tbl()
	if !v.base {
		lb.queueBase(c, t, v)
	}
	id := uint32(lbFirstAnonID)
	for _, k := range del {
		if _, ok := v.elems[k]; ok {
			if err := c.SetDeleteElements(lbMapOf(k).set(t), []nftables.SetElement{{Key: lbEncodeKey(k)}}); err != nil {
				return err
			}
		}
		name := lbChainName(k)
		if v.chains[name] {
			ch := &nftables.Chain{Name: name, Table: t}
			c.FlushChain(ch)
			c.DelChain(ch)
		}
		if v.sets[name] {
			c.DelSet(&nftables.Set{Table: t, Name: name})
		}
		lbQueueDropDests(c, t, v, k, nil)
		if rs := lbStatsOwnServers(v, k, del); len(rs) > 0 && lbStatsBaseOK(v) {
			if err := lbQueueStatsElems(c, t, k, rs, false); err != nil {
				return err
			}
		}
	}
	for _, s := range set {
		name := lbChainName(s.LBKey)
		ch := &nftables.Chain{Name: name, Table: t}
		if v.chains[name] {
			c.FlushChain(ch)
		} else {
			c.AddChain(ch)
		}
		if v.sets[name] {
			// Its rule is gone with the flush: the map can go, and come
			// again with the new slots, in the same transaction.
			c.DelSet(&nftables.Set{Table: t, Name: name})
		}
		// A persistent service's destinations: their chains flushed
		// (those of destinations gone deleted with their pins), their
		// pins kept if made for the same timeout and mask.
		own := lbOwnDests(v, s.LBKey)
		for _, dn := range own {
			if v.chains[dn] {
				c.FlushChain(&nftables.Chain{Name: dn, Table: t})
			}
		}
		keep, keepSets := map[string]bool{}, map[string]bool{}
		if s.Persist.Timeout != 0 {
			pv, known := v.persist[s.LBKey]
			for _, d := range slices.Concat(s.Slots, s.Idle) {
				dn := lbDestName(s.LBKey, d)
				keep[dn] = true
				keepSets[dn] = known && pv.persist == s.Persist && v.sets[dn] && v.timeouts[dn] == s.Persist.Timeout
			}
		}
		lbQueueDropDests(c, t, v, s.LBKey, keep)
		for dn := range keep {
			if v.sets[dn] && !keepSets[dn] {
				c.DelSet(&nftables.Set{Table: t, Name: dn})
			}
		}
		if err := lbQueueRule(c, t, ch, s, v, keepSets, &id); err != nil {
			return err
		}
		// Adding an element that exists keeps it and its counter.
		if rs := lbStatsServers(s); len(rs) > 0 {
			if err := lbQueueStatsElems(c, t, s.LBKey, rs, true); err != nil {
				return err
			}
		}
		if jump, ok := v.elems[s.LBKey]; !ok || jump != name {
			m := lbMapOf(s.LBKey).set(t)
			key := lbEncodeKey(s.LBKey)
			if ok {
				if err := c.SetDeleteElements(m, []nftables.SetElement{{Key: key}}); err != nil {
					return err
				}
			}
			if err := c.SetAddElements(m, []nftables.SetElement{{Key: key,
				VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: name}}}); err != nil {
				return err
			}
		}
	}
	// The generation before and after: our one transaction moves it by
	// one; more, and something else changed the ruleset meanwhile.
	g0, gerr := lb.generation()
	lb.requests.Add(1)
	if err := c.Flush(); err != nil {
		lb.trusted = false
		return fmt.Errorf("kernel: nftables: table %s: %w", lb.table, err)
	}
	g1, gerr1 := lb.generation()
	lb.trusted = lb.trusted && gerr == nil && gerr1 == nil && g0 == lb.gen && g1 == g0+1
	lb.gen = g1
	v.base = true
	v.chains[lbChainPre], v.chains[lbChainOut] = true, true
	v.chains[lbChainStatsIn], v.chains[lbChainStatsOut] = true, true
	v.sets[lbSetStats4], v.sets[lbSetStats6], v.sets[lbSetConns4], v.sets[lbSetConns6] = true, true, true, true
	forget := func(k LBKey) {
		for _, dn := range lbOwnDests(v, k) {
			delete(v.chains, dn)
			delete(v.sets, dn)
			delete(v.timeouts, dn)
		}
		delete(v.persist, k)
	}
	for _, k := range del {
		forget(k)
		delete(v.counted, k)
		delete(v.elems, k)
		delete(v.chains, lbChainName(k))
		delete(v.sets, lbChainName(k))
	}
	for _, s := range set {
		name := lbChainName(s.LBKey)
		forget(s.LBKey)
		pv := lbPersistView{}
		if s.Persist.Timeout != 0 {
			pv.persist = s.Persist
			for _, d := range slices.Concat(s.Slots, s.Idle) {
				if !slices.Contains(pv.dests, d) {
					pv.dests = append(pv.dests, d)
				}
				dn := lbDestName(s.LBKey, d)
				v.chains[dn], v.sets[dn], v.timeouts[dn] = true, true, s.Persist.Timeout
			}
		}
		v.persist[s.LBKey] = pv
		v.elems[s.LBKey] = name
		v.chains[name] = true
		v.sets[name] = len(s.Slots) > 0
		for _, rs := range lbStatsServers(s) {
			if v.counted[s.LBKey] == nil {
				v.counted[s.LBKey] = map[netip.AddrPort]bool{}
			}
			v.counted[s.LBKey][rs] = true
		}
	}
	return nil
}

// lbCheck validates a service before anything is queued.
func lbCheck(s LBService) error {
	if err := s.valid(); err != nil {
		return err
	}
	if s.Pick > LBDestHash {
		return fmt.Errorf("kernel: nftables: %v: unknown pick %d", s.LBKey, s.Pick)
	}
	ports := 0
	for _, d := range s.Slots {
		if !d.IsValid() || d.Addr().Zone() != "" || d.Addr().Is4In6() || d.Addr().Is4() != (s.Family == 4) {
			return fmt.Errorf("kernel: nftables: %v: destination %v is not an IPv%d address", s.LBKey, d, s.Family)
		}
		if d.Port() != 0 {
			ports++
		}
	}
	for _, d := range s.Idle {
		if !d.IsValid() || d.Addr().Zone() != "" || d.Addr().Is4In6() || d.Addr().Is4() != (s.Family == 4) {
			return fmt.Errorf("kernel: nftables: %v: destination %v is not an IPv%d address", s.LBKey, d, s.Family)
		}
		if slices.Contains(s.Slots, d) {
			return fmt.Errorf("kernel: nftables: %v: idle destination %v has a slot", s.LBKey, d)
		}
		if d.Port() != 0 {
			ports++
		}
	}
	if ports != 0 && ports != len(s.Slots)+len(s.Idle) {
		return fmt.Errorf("kernel: nftables: %v: some destinations have a port, others not", s.LBKey)
	}
	switch p := s.Persist; {
	case p.Timeout == 0 && (p.Mask.IsValid() || len(s.Idle) > 0):
		return fmt.Errorf("kernel: nftables: %v: a mask or idle destinations without persistence", s.LBKey)
	case p.Timeout != 0 && (!p.Mask.IsValid() || p.Mask.Zone() != "" || p.Mask.Is4In6() || p.Mask.Is4() != (s.Family == 4)):
		return fmt.Errorf("kernel: nftables: %v: persistence mask %v is not an IPv%d mask", s.LBKey, p.Mask, s.Family)
	case p.Timeout != 0 && len(s.Slots)+len(s.Idle) == 0:
		return fmt.Errorf("kernel: nftables: %v: persistence without destination", s.LBKey)
	case !slices.IsSortedFunc(s.Idle, func(a, b netip.AddrPort) int { return a.Compare(b) }) || len(slices.Compact(slices.Clone(s.Idle))) != len(s.Idle):
		return fmt.Errorf("kernel: nftables: %v: idle destinations not sorted or twice", s.LBKey)
	}
	return nil
}

// queueBase queues the table, its maps and its base chains with their
// dispatch rules; what exists is kept (creating it again does nothing),
// except the base chains' rules, which are replaced.
func (lb *NFTLoadBalancer) queueBase(c *nftables.Conn, t *nftables.Table, v *lbView) {
	c.AddTable(t)
	for _, m := range lbMapKinds {
		// AddSet only fails for anonymous sets that are not constant.
		_ = c.AddSet(m.set(t), nil)
	}
	accept := nftables.ChainPolicyAccept
	for _, base := range []struct {
		name string
		hook *nftables.ChainHook
	}{{lbChainPre, nftables.ChainHookPrerouting}, {lbChainOut, nftables.ChainHookOutput}} {
		ch := &nftables.Chain{Name: base.name, Table: t, Type: nftables.ChainTypeNAT, Hooknum: base.hook,
			Priority: nftables.ChainPriorityRef(lbPriority), Policy: &accept}
		c.AddChain(ch)
		if v.chains[base.name] {
			c.FlushChain(ch)
		}
		for _, d := range lbDispatchRules {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: d.exprs(), UserData: d.userData()})
		}
	}
	lbQueueStatsBase(c, t, v)
}

// lbQueueRule queues the service's one rule and its slot map (named
// after the service, like its chain).
func lbQueueRule(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, s LBService, v *lbView, keep map[string]bool, id *uint32) error {
	if s.Persist.Timeout != 0 {
		match := func() ([]expr.Any, error) {
			if s.Fwmark == 0 {
				return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{s.Proto}}}, nil
			}
			*id++
			protos := &nftables.Set{Table: t, Name: "__set%d", ID: *id, Anonymous: true, Constant: true, KeyType: nftables.TypeInetProto}
			if err := c.AddSet(protos, []nftables.SetElement{{Key: []byte{unix.IPPROTO_TCP}}, {Key: []byte{unix.IPPROTO_UDP}}, {Key: []byte{unix.IPPROTO_SCTP}}}); err != nil {
				return nil, err
			}
			return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Lookup{SourceRegister: 1, SetName: protos.Name, SetID: protos.ID}}, nil
		}
		return lbQueuePersistent(c, t, ch, s, v, keep, match, id)
	}
	if len(s.Slots) == 0 {
		// What IPVS answers when it finds no destination (ip_vs_leave),
		// TCP and UDP alike.
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}}})
		return nil
	}
	var exprs []expr.Any
	if s.Fwmark != 0 {
		*id++
		protos := &nftables.Set{Table: t, Name: "__set%d", ID: *id, Anonymous: true, Constant: true, KeyType: nftables.TypeInetProto}
		if err := c.AddSet(protos, []nftables.SetElement{{Key: []byte{unix.IPPROTO_TCP}}, {Key: []byte{unix.IPPROTO_UDP}}, {Key: []byte{unix.IPPROTO_SCTP}}}); err != nil {
			return err
		}
		exprs = append(exprs, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Lookup{SourceRegister: 1, SetName: protos.Name, SetID: protos.ID})
	} else {
		exprs = append(exprs, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{s.Proto}})
	}
	n := uint32(len(s.Slots))
	alen, saddr, daddr, nfproto, portReg := uint32(4), uint32(lbV4Saddr), uint32(lbV4Daddr), uint32(unix.NFPROTO_IPV4), uint32(9)
	if s.Family == 6 {
		alen, saddr, daddr, nfproto, portReg = 16, lbV6Saddr, lbV6Daddr, unix.NFPROTO_IPV6, 12
	}
	exprs = append(exprs, lbPickExprs(s.Pick, n, alen, saddr, daddr, nfproto)...)
	withPort := s.Slots[0].Port() != 0
	// A named map, keyed by the slot number in host byte order: the
	// library marks anonymous maps' keys big-endian, and nft would print
	// slot 1 as 16777216. "mark" is nft's host-order 32-bit type.
	*id++
	dests := &nftables.Set{Table: t, Name: ch.Name, ID: *id, IsMap: true, KeyType: nftables.TypeMark,
		KeyByteOrder: binaryutil.NativeEndian, DataType: nftables.TypeIPAddr}
	switch {
	case s.Family == 4 && withPort:
		dests.DataType = lbDataPort4
	case s.Family == 6 && withPort:
		dests.DataType = lbDataPort6
	case s.Family == 6:
		dests.DataType = nftables.TypeIP6Addr
	}
	elems := make([]nftables.SetElement, n)
	for i, d := range s.Slots {
		val := d.Addr().AsSlice()
		if withPort {
			val = append(val, byte(d.Port()>>8), byte(d.Port()), 0, 0)
		}
		elems[i] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)), Val: val}
	}
	if err := c.AddSet(dests, elems); err != nil {
		return err
	}
	nat := &expr.NAT{Type: expr.NATTypeDestNAT, Family: nfproto, RegAddrMin: 1}
	if withPort {
		nat.RegProtoMin = portReg
	}
	exprs = append(exprs, &expr.Lookup{SourceRegister: 1, SetName: dests.Name, SetID: dests.ID, IsDestRegSet: true, DestRegister: 1}, nat)
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	return nil
}

// Delete removes the table (a missing table is not an error).
func (lb *NFTLoadBalancer) Delete() error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.closed {
		return ErrLoadBalancerClosed
	}
	lb.view, lb.trusted = nil, false
	c, err := lb.conn()
	if err != nil {
		return err
	}
	c.DelTable(lb.tbl())
	lb.requests.Add(1)
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("kernel: nftables: deleting table %s: %w", lb.table, err)
	}
	return nil
}

// lbPickExprs put a new connection's slot number (0 to n-1) in register
// 1: a counter for round robin, a hash of the source (or destination)
// address otherwise. alen, saddr and daddr are the family's address
// length and offsets, nfproto its NFPROTO_ number.
func lbPickExprs(pick LBPick, n, alen, saddr, daddr, nfproto uint32) []expr.Any {
	switch pick {
	case LBRoundRobin:
		return []expr.Any{&expr.Numgen{Register: 1, Modulus: n, Type: unix.NFT_NG_INCREMENTAL}}
	case LBSourceHash, LBDestHash:
		off := saddr
		if pick == LBDestHash {
			off = daddr
		}
		// The family match lets nft print the payload as ip saddr (or
		// ip6 daddr...) in an inet table.
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 2, Data: []byte{byte(nfproto)}},
			&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: alen},
			&expr.Hash{SourceRegister: 2, DestRegister: 1, Length: alen, Modulus: n, Seed: lbHashSeed, Type: expr.HashTypeJenkins}}
	}
	return nil
}

// lbHashedPick is the pick a jhash of the payload p makes: of the source
// or the destination address (either family), else LBUnknown.
func lbHashedPick(p *expr.Payload) LBPick {
	switch [2]uint32{p.Offset, p.Len} {
	case [2]uint32{lbV4Saddr, 4}, [2]uint32{lbV6Saddr, 16}:
		return LBSourceHash
	case [2]uint32{lbV4Daddr, 4}, [2]uint32{lbV6Daddr, 16}:
		return LBDestHash
	}
	return LBUnknown
}
