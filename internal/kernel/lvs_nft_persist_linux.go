//go:build linux

package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Persistent services (see lvs_nft.go): a chain and a dynamic set per
// destination, a pinned rule per destination in the service's chain,
// and the pick through a verdict map to the destinations' chains.

// lbPinsSize bounds each destination's pins set: the clients (or client
// networks) it remembers at once. IPVS has no bound; a client beyond it
// is balanced but not pinned (the update fails, and with it its rule;
// the DNAT is the next rule).
const lbPinsSize = 1 << 20

// lbDestName names a persistent service's destination's chain and pins
// set: the service's chain name, then the address (colons as
// underscores) and the port if any: "vs-tcp-198.51.100.100-80-10.0.0.2-80".
// No service's chain has such a name (addresses have no dash).
func lbDestName(k LBKey, d netip.AddrPort) string {
	name := lbChainName(k) + "-" + strings.ReplaceAll(d.Addr().String(), ":", "_")
	if d.Port() != 0 {
		name += fmt.Sprintf("-%d", d.Port())
	}
	return name
}

// lbPersistView is what the load balancer knows of a persistent
// service's destinations' chains and sets: the persistence they were
// made for (timeout and mask) and the destinations.
type lbPersistView struct {
	persist LBPersist
	dests   []netip.AddrPort
}

// lbOwnDests are the destination chains the table holds for service k:
// what the view knows, else those of the table's chains named after it.
func lbOwnDests(v *lbView, k LBKey) []string {
	if pv, ok := v.persist[k]; ok {
		var out []string
		for _, d := range pv.dests {
			out = append(out, lbDestName(k, d))
		}
		return out
	}
	if !v.chains[lbChainName(k)] {
		return nil // a new service (its destinations' chains go with its own)
	}
	prefix := lbChainName(k) + "-"
	var out []string
	for name := range v.chains {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	for name := range v.sets {
		if strings.HasPrefix(name, prefix) && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// lbQueueDropDests queues the removal of service k's destination chains
// and sets, but for those in keep (once the rules that use them are
// gone: the caller flushed the service's chain and deleted its map).
func lbQueueDropDests(c *nftables.Conn, t *nftables.Table, v *lbView, k LBKey, keep map[string]bool) {
	for _, name := range lbOwnDests(v, k) {
		if keep[name] {
			continue
		}
		if v.chains[name] {
			ch := &nftables.Chain{Name: name, Table: t}
			c.FlushChain(ch)
			c.DelChain(ch)
		}
		if v.sets[name] {
			c.DelSet(&nftables.Set{Table: t, Name: name})
		}
	}
}

// lbFamilyParams are a family's header offsets and NAT family.
func lbFamilyParams(family int) (alen, saddr, daddr, nfproto uint32) {
	if family == 6 {
		return 16, lbV6Saddr, lbV6Daddr, unix.NFPROTO_IPV6
	}
	return 4, lbV4Saddr, lbV4Daddr, unix.NFPROTO_IPV4
}

// lbClient reads the client's address into register 1, masked by the
// persistence granularity, after the family match that lets nft print
// it as ip saddr (ip6 saddr).
func lbClient(s LBService) []expr.Any {
	alen, saddr, _, nfproto := lbFamilyParams(s.Family)
	out := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(nfproto)}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: saddr, Len: alen},
	}
	if m := s.Persist.Mask.AsSlice(); slices.ContainsFunc(m, func(b byte) bool { return b != 0xff }) {
		out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: alen, Mask: m, Xor: make([]byte, alen)})
	}
	return out
}

// lbQueuePersistent queues a persistent service's rules, after the
// caller flushed (or added) its chain and its destinations' chains, and
// deleted its map and the pins sets not in keep:
//
//	chain vs-tcp-198.51.100.100-80 {
//		meta l4proto tcp meta nfproto ipv4 ip saddr & 255.255.255.0 @vs-tcp-198.51.100.100-80-10.0.0.2-80 jump vs-tcp-198.51.100.100-80-10.0.0.2-80
//		(one such rule per destination: a client pinned to one goes back to it)
//		meta l4proto tcp numgen inc mod 2 vmap @vs-tcp-198.51.100.100-80 (or reject, without slot)
//	}
//	chain vs-tcp-198.51.100.100-80-10.0.0.2-80 {
//		meta l4proto tcp update @vs-tcp-198.51.100.100-80-10.0.0.2-80 { ip saddr & 255.255.255.0 }
//		meta l4proto tcp dnat ip to 10.0.0.2:80
//	}
//	set vs-tcp-198.51.100.100-80-10.0.0.2-80 { type ipv4_addr; size 1048576; flags dynamic,timeout; timeout 5m }
//	map vs-tcp-198.51.100.100-80 { type mark : verdict; elements = { 0x00000000 : jump vs-...-10.0.0.2-80, ... } }
//
// A destination's pins set is kept (keep) when it exists with the same
// timeout and mask; its chain is rewritten.
func lbQueuePersistent(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, s LBService, v *lbView, keep map[string]bool,
	match func() ([]expr.Any, error), id *uint32) error {
	alen, saddr, daddr, nfproto := lbFamilyParams(s.Family)
	all := slices.Concat(s.Slots, s.Idle)
	var dests []netip.AddrPort
	for _, d := range all {
		if !slices.Contains(dests, d) {
			dests = append(dests, d)
		}
	}
	slices.SortFunc(dests, func(a, b netip.AddrPort) int { return a.Compare(b) })
	keyType := nftables.TypeIPAddr
	if s.Family == 6 {
		keyType = nftables.TypeIP6Addr
	}
	for _, d := range dests {
		name := lbDestName(s.LBKey, d)
		*id++
		pins := &nftables.Set{Table: t, Name: name, ID: *id, KeyType: keyType, Dynamic: true, HasTimeout: true,
			Timeout: time.Duration(s.Persist.Timeout) * time.Second, Size: lbPinsSize}
		if !keep[name] {
			if err := c.AddSet(pins, nil); err != nil {
				return err
			}
		}
		dch := &nftables.Chain{Name: name, Table: t}
		if !v.chains[name] {
			c.AddChain(dch) // else flushed by the caller
		}
		exprs, err := match()
		if err != nil {
			return err
		}
		// The pin, then the DNAT in a rule of its own: a client that
		// cannot be pinned (its set full) is still sent on.
		exprs = append(append(exprs, lbClient(s)...),
			&expr.Dynset{SrcRegKey: 1, SetName: pins.Name, SetID: pins.ID, Operation: unix.NFT_DYNSET_OP_UPDATE})
		c.AddRule(&nftables.Rule{Table: t, Chain: dch, Exprs: exprs})
		if exprs, err = match(); err != nil {
			return err
		}
		exprs = append(exprs, &expr.Immediate{Register: 1, Data: d.Addr().AsSlice()})
		nat := &expr.NAT{Type: expr.NATTypeDestNAT, Family: nfproto, RegAddrMin: 1}
		if d.Port() != 0 {
			exprs = append(exprs, &expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(d.Port())})
			nat.RegProtoMin = 2
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: dch, Exprs: append(exprs, nat)})
		// The pinned rule, in the service's chain.
		if exprs, err = match(); err != nil {
			return err
		}
		exprs = append(append(exprs, lbClient(s)...),
			&expr.Lookup{SourceRegister: 1, SetName: pins.Name, SetID: pins.ID},
			&expr.Verdict{Kind: expr.VerdictJump, Chain: name})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	}
	if len(s.Slots) == 0 {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}}})
		return nil
	}
	exprs, err := match()
	if err != nil {
		return err
	}
	n := uint32(len(s.Slots))
	exprs = append(exprs, lbPickExprs(s.Pick, n, alen, saddr, daddr, nfproto)...)
	*id++
	slots := &nftables.Set{Table: t, Name: ch.Name, ID: *id, IsMap: true, KeyType: nftables.TypeMark,
		KeyByteOrder: binaryutil.NativeEndian, DataType: nftables.TypeVerdict}
	elems := make([]nftables.SetElement, n)
	for i, d := range s.Slots {
		elems[i] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)),
			VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: lbDestName(s.LBKey, d)}}
	}
	if err := c.AddSet(slots, elems); err != nil {
		return err
	}
	exprs = append(exprs, &expr.Lookup{SourceRegister: 1, SetName: slots.Name, SetID: slots.ID, IsDestRegSet: true, DestRegister: 0})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	return nil
}

// lbPinnedShape is what a persistent service's rule reads: in its
// chain, the pinned rules (set, then a jump to the chain of that name)
// and the pick (a verdict map); in a destination's chain, the pin update
// and the DNAT.
type lbPinnedShape struct {
	mask     []byte // nil: none
	family   int
	set      string // the pins set looked up or updated
	jump     string // a pinned rule's jump
	dest     netip.AddrPort
	pick     LBPick
	modulus  uint32
	vmap     string
	reject   bool
	isPick   bool
	isPinned bool
	isDest   bool // a destination's chain's pin
	isNAT    bool // a destination's chain's DNAT
}

// lbParsePersistRule reads one rule of a persistent service (either
// chain).
func lbParsePersistRule(exprs []expr.Any) (lbPinnedShape, error) {
	var s lbPinnedShape
	var payload *expr.Payload
	client, picked, nat := false, false, false
	var imm [3][]byte
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta, *expr.Cmp:
			// the protocol and family matches
		case *expr.Payload:
			if e.DestRegister == 1 && !client && !picked {
				switch [2]uint32{e.Offset, e.Len} {
				case [2]uint32{lbV4Saddr, 4}:
					s.family = 4
				case [2]uint32{lbV6Saddr, 16}:
					s.family = 6
				default:
					return s, errors.New("unexpected client address")
				}
				if e.Base != expr.PayloadBaseNetworkHeader {
					return s, errors.New("unexpected client address")
				}
				client = true
				continue
			}
			payload = e
		case *expr.Bitwise:
			if !client || s.mask != nil || e.SourceRegister != 1 || e.DestRegister != 1 || int(e.Len) != len(e.Mask) ||
				len(e.Xor) != len(e.Mask) || slices.ContainsFunc(e.Xor, func(b byte) bool { return b != 0 }) {
				return s, errors.New("unexpected bitwise")
			}
			s.mask = slices.Clone(e.Mask)
		case *expr.Lookup:
			switch {
			case !e.IsDestRegSet && client && e.SourceRegister == 1 && s.set == "":
				s.set, s.isPinned = e.SetName, true
			case !e.IsDestRegSet:
				// the fwmark services' protocol set
			case picked && e.DestRegister == 0 && e.SourceRegister == 1 && s.vmap == "":
				s.vmap, s.isPick = e.SetName, true
			default:
				return s, errors.New("unexpected lookup")
			}
		case *expr.Verdict:
			if !s.isPinned || e.Kind != expr.VerdictJump || s.jump != "" {
				return s, errors.New("unexpected verdict")
			}
			s.jump = e.Chain
		case *expr.Dynset:
			if !client || s.set != "" || e.SrcRegKey != 1 || e.SrcRegData != 0 || e.Operation != unix.NFT_DYNSET_OP_UPDATE ||
				e.Invert || e.Timeout != 0 || len(e.Exprs) != 0 {
				return s, errors.New("unexpected dynset")
			}
			s.set, s.isDest = e.SetName, true
		case *expr.Immediate:
			if client || (e.Register != 1 && e.Register != 2) || imm[e.Register] != nil {
				return s, errors.New("unexpected immediate")
			}
			imm[e.Register] = slices.Clone(e.Data)
		case *expr.Numgen:
			if picked || client || e.Type != unix.NFT_NG_INCREMENTAL || e.Register != 1 {
				return s, errors.New("unexpected numgen")
			}
			picked, s.pick, s.modulus = true, LBRoundRobin, e.Modulus
		case *expr.Hash:
			if picked || client || payload == nil || payload.Base != expr.PayloadBaseNetworkHeader || e.Type != expr.HashTypeJenkins ||
				e.DestRegister != 1 || e.Length != payload.Len || e.Seed != lbHashSeed {
				return s, errors.New("unexpected hash")
			}
			if s.pick = lbHashedPick(payload); s.pick == LBUnknown {
				return s, errors.New("unexpected hashed field")
			}
			picked, s.modulus = true, e.Modulus
		case *expr.NAT:
			if nat || client || e.Type != expr.NATTypeDestNAT || e.RegAddrMin != 1 || imm[1] == nil ||
				(e.RegProtoMin == 2) != (imm[2] != nil) || (e.RegProtoMin != 0 && e.RegProtoMin != 2) {
				return s, errors.New("unexpected nat")
			}
			nat = true
			fam := map[uint32]int{unix.NFPROTO_IPV4: 4, unix.NFPROTO_IPV6: 6}[e.Family]
			addr, ok := netip.AddrFromSlice(imm[1])
			s.family = fam
			if fam == 0 || !ok || addr.Is4() != (fam == 4) {
				return s, errors.New("unexpected nat address")
			}
			var port uint16
			if imm[2] != nil {
				if len(imm[2]) != 2 || binary.BigEndian.Uint16(imm[2]) == 0 {
					return s, errors.New("unexpected nat port")
				}
				port = binary.BigEndian.Uint16(imm[2])
			}
			s.dest = netip.AddrPortFrom(addr, port)
		case *expr.Reject:
			s.reject = true
		default:
			return s, fmt.Errorf("unexpected expression %T", e)
		}
	}
	switch {
	case s.reject && !client && !picked && !nat:
		return s, nil
	case s.isPinned && s.jump != "" && !picked && !nat:
		return s, nil
	case s.isDest && !nat && !picked:
		return s, nil // a destination's pin
	case nat && !client && !picked && s.set == "":
		s.isNAT = true
		return s, nil // a destination's DNAT
	case s.isPick && s.modulus > 0 && !client && !nat && !s.reject:
		return s, nil
	}
	return s, errors.New("incomplete rule")
}

// lbIsPersistent tells whether a service chain's rules are a persistent
// service's: its first rule is a pinned rule.
func lbIsPersistent(rules []*nftables.Rule) bool {
	if len(rules) < 2 {
		return false
	}
	s, err := lbParsePersistRule(rules[0].Exprs)
	return err == nil && s.isPinned
}

// lbDecodePersistent reads a persistent service from its chain's rules,
// its destinations' chains and its verdict map.
func lbDecodePersistent(c *nftables.Conn, t *nftables.Table, k LBKey, rules []*nftables.Rule, v *lbView, requests *atomic.Uint64) (LBService, error) {
	s := LBService{LBKey: k, Pick: LBRoundRobin}
	var mask []byte
	var timeout uint32
	byChain := map[string]netip.AddrPort{}
	var dests []netip.AddrPort
	for i, r := range rules {
		sh, err := lbParsePersistRule(r.Exprs)
		if err != nil {
			return s, err
		}
		last := i == len(rules)-1
		switch {
		case sh.isPinned && !last:
			if sh.set != sh.jump || sh.family != k.Family || !v.chains[sh.jump] || !v.sets[sh.set] {
				return s, fmt.Errorf("pinned rule %q -> %q", sh.set, sh.jump)
			}
			if i == 0 {
				mask = sh.mask
			} else if !bytes.Equal(mask, sh.mask) {
				return s, errors.New("masks differ")
			}
			to := v.timeouts[sh.set]
			if to == 0 || (timeout != 0 && to != timeout) {
				return s, fmt.Errorf("pins set %q timeout %d", sh.set, to)
			}
			timeout = to
			requests.Add(1)
			drules, err := c.GetRules(t, &nftables.Chain{Name: sh.jump, Table: t})
			if err != nil {
				return s, err
			}
			if len(drules) != 2 {
				return s, fmt.Errorf("%d rules in %s", len(drules), sh.jump)
			}
			pin, err := lbParsePersistRule(drules[0].Exprs)
			if err != nil {
				return s, err
			}
			d, err := lbParsePersistRule(drules[1].Exprs)
			if err != nil {
				return s, err
			}
			if !pin.isDest || pin.set != sh.set || !bytes.Equal(pin.mask, mask) || pin.family != k.Family || !d.isNAT || d.family != k.Family ||
				lbDestName(k, d.dest) != sh.jump || slices.Contains(dests, d.dest) {
				return s, fmt.Errorf("destination chain %s", sh.jump)
			}
			byChain[sh.jump] = d.dest
			dests = append(dests, d.dest)
		case last && sh.reject:
		case last && sh.isPick:
			if sh.vmap != lbChainName(k) {
				return s, fmt.Errorf("verdict map %q", sh.vmap)
			}
			requests.Add(1)
			elems, err := c.GetSetElements(&nftables.Set{Table: t, Name: sh.vmap})
			if err != nil {
				return s, err
			}
			if uint64(len(elems)) != uint64(sh.modulus) {
				return s, fmt.Errorf("%d elements for %d slots", len(elems), sh.modulus)
			}
			s.Slots = make([]netip.AddrPort, sh.modulus)
			for _, e := range elems {
				if len(e.Key) != 4 {
					return s, errors.New("slot key")
				}
				n := binaryutil.NativeEndian.Uint32(e.Key)
				chain, err := lbDecodeVerdict(e.Val)
				d, ok := byChain[chain]
				if err != nil || !ok || n >= sh.modulus || s.Slots[n].IsValid() {
					return s, fmt.Errorf("slot %d", n)
				}
				s.Slots[n] = d
			}
			s.Pick = sh.pick
		default:
			return s, errors.New("rules out of order")
		}
	}
	if len(dests) == 0 {
		return s, errors.New("no destination")
	}
	for _, d := range dests {
		if !slices.Contains(s.Slots, d) {
			s.Idle = append(s.Idle, d)
		}
	}
	slices.SortFunc(s.Idle, func(a, b netip.AddrPort) int { return a.Compare(b) })
	maskAddr, _ := netip.AddrFromSlice(lbFullMask(mask, k.Family))
	s.Persist = LBPersist{Timeout: timeout, Mask: maskAddr}
	slices.SortFunc(dests, func(a, b netip.AddrPort) int { return a.Compare(b) })
	v.persist[k] = lbPersistView{persist: s.Persist, dests: dests}
	return s, nil
}

// lbFullMask is mask, or (nil: no bitwise) all ones of the family.
func lbFullMask(mask []byte, family int) []byte {
	if mask != nil {
		return mask
	}
	if family == 6 {
		return bytes.Repeat([]byte{0xff}, 16)
	}
	return bytes.Repeat([]byte{0xff}, 4)
}
