//go:build linux

package kernel

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The decoders of what NFTLoadBalancer reads back from the kernel (the
// dispatch maps' keys and verdicts, the slot maps' elements) take any
// bytes without panicking, and what they accept encodes back to itself.

func lbEncodeSlots(family int, slots []netip.AddrPort) []nftables.SetElement {
	out := make([]nftables.SetElement, len(slots))
	for i, d := range slots {
		val := d.Addr().AsSlice()
		if d.Port() != 0 {
			val = append(val, byte(d.Port()>>8), byte(d.Port()), 0, 0)
		}
		out[i] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)), Val: val}
	}
	return out
}

func FuzzLBDecode(f *testing.F) {
	jump, _ := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_VERDICT_CODE, Data: binaryutil.BigEndian.PutUint32(uint32(0xfffffffd))},
		{Type: unix.NFTA_VERDICT_CHAIN, Data: []byte("vs-tcp-198.51.100.1-80\x00")},
	})
	f.Add(lbEncodeKey(LBKey{Family: 4, Proto: 6, Addr: netip.MustParseAddrPort("198.51.100.1:80")}), uint8(0))
	f.Add(lbEncodeKey(LBKey{Family: 6, Proto: 17, Addr: netip.MustParseAddrPort("[2001:db8::1]:53")}), uint8(3))
	f.Add(lbEncodeKey(LBKey{Family: 4, Fwmark: 7}), uint8(1))
	f.Add(jump, uint8(0))
	var slots []byte
	for _, e := range lbEncodeSlots(4, []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:80")}) {
		slots = append(append(slots, e.Key...), e.Val...)
	}
	f.Add(slots, uint8(4))
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		m := lbMapKinds[int(sel)%len(lbMapKinds)]
		if k, err := lbDecodeKey(m, data); err == nil {
			if again, err := lbDecodeKey(m, lbEncodeKey(k)); err != nil || again != k {
				t.Fatalf("key %+v re-read as %+v, %v", k, again, err)
			}
		}
		if chain, err := lbDecodeVerdict(data); err == nil && chain == "" {
			t.Fatal("a jump to no chain")
		}
		family, withPort := 4, sel&4 != 0
		if sel&8 != 0 {
			family = 6
		}
		size := 4 + 4
		if family == 6 {
			size = 4 + 16
		}
		if withPort {
			size += 4
		}
		var elems []nftables.SetElement
		for i := 0; i+size <= len(data); i += size {
			elems = append(elems, nftables.SetElement{Key: data[i : i+4], Val: data[i+4 : i+size]})
		}
		got, err := lbDecodeSlots(family, withPort, uint32(len(elems)), elems)
		if err != nil {
			return
		}
		again, err := lbDecodeSlots(family, withPort, uint32(len(got)), lbEncodeSlots(family, got))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("slots %v re-read as %v, %v", got, again, err)
		}
	})
}

// The rule readers take any expressions without panicking: random rules
// made of the expressions they meet (and others) are read or refused.
func TestLBRuleReadersTakeAnyExpressions(t *testing.T) {
	pool := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: lbV4Saddr, Len: 4},
		&expr.Payload{DestRegister: 2, Base: expr.PayloadBaseNetworkHeader, Offset: lbV6Saddr, Len: 16},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 255, 255, 0}, Xor: make([]byte, 4)},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255}, Xor: nil},
		&expr.Lookup{SourceRegister: 1, SetName: "vs-tcp-198.51.100.1-80-10.0.0.2-80"},
		&expr.Lookup{SourceRegister: 1, SetName: "vs-tcp-198.51.100.1-80", IsDestRegSet: true},
		&expr.Lookup{SourceRegister: 1, SetName: "vs-tcp-198.51.100.1-80", IsDestRegSet: true, DestRegister: 1},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: "vs-tcp-198.51.100.1-80-10.0.0.2-80"},
		&expr.Dynset{SrcRegKey: 1, SetName: "vs-tcp-198.51.100.1-80-10.0.0.2-80", Operation: unix.NFT_DYNSET_OP_UPDATE},
		&expr.Immediate{Register: 1, Data: []byte{10, 0, 0, 2}},
		&expr.Immediate{Register: 2, Data: []byte{0, 80}},
		&expr.Immediate{Register: 2, Data: []byte{0}},
		&expr.Numgen{Register: 1, Modulus: 3, Type: unix.NFT_NG_INCREMENTAL},
		&expr.Hash{SourceRegister: 2, DestRegister: 1, Length: 16, Modulus: 2, Seed: lbHashSeed, Type: expr.HashTypeJenkins},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV6, RegAddrMin: 1},
		&expr.Reject{},
		&expr.Counter{},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		exprs := make([]expr.Any, r.IntN(8))
		for i := range exprs {
			exprs[i] = pool[r.IntN(len(pool))]
		}
		lbParseRule(exprs)
		if s, err := lbParsePersistRule(exprs); err == nil && s.isNAT && !s.dest.IsValid() {
			t.Fatalf("a DNAT to nothing: %#v", exprs)
		}
	}
}
