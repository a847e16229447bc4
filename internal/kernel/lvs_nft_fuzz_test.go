//go:build linux

package kernel

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
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
