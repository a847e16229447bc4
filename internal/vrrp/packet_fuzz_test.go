package vrrp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"slices"
	"testing"
)

// fuzzHeaders are the IP header address pairs FuzzParse can choose from.
var fuzzHeaders = [][2]netip.Addr{
	{netip.MustParseAddr("192.0.2.1"), MulticastIPv4},
	{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")},
	{netip.MustParseAddr("fe80::f86b:cfff:feff:44a4"), MulticastIPv6},
	{{}, {}}, // VRRPv2 without header addresses
	{netip.MustParseAddr("::ffff:192.0.2.1"), netip.MustParseAddr("::ffff:224.0.0.18")},
	{netip.MustParseAddr("192.0.2.1"), MulticastIPv6},
}

// fuzzSel packs the header choice (bits 0-2), the checksum mode (bit 3) and
// "recompute the checksum before parsing" (bit 4), so that the fuzzer gets
// past the checksum check to the later validations.
func fuzzSel(hdr int, mode ChecksumMode, fix bool) uint8 {
	s := uint8(hdr) | uint8(mode)<<3
	if fix {
		s |= 1 << 4
	}
	return s
}

func FuzzParse(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		hdr := slices.IndexFunc(fuzzHeaders, func(h [2]netip.Addr) bool { return h[0] == fx.src && h[1] == fx.csumDst })
		if hdr < 0 {
			hdr = 0
		}
		f.Add(fx.payload, fuzzSel(hdr, fx.mode, false))
		f.Add(fx.payload, fuzzSel(hdr, fx.mode, true))
	}
	f.Add([]byte{}, uint8(0))
	f.Add([]byte{0x31, 1, 100, 0, 0, 100, 0, 0}, fuzzSel(0, 0, true))

	f.Fuzz(func(t *testing.T, b []byte, sel uint8) {
		h := fuzzHeaders[int(sel&7)%len(fuzzHeaders)]
		src, dst := h[0], h[1]
		mode := ChecksumMode(sel >> 3 & 1)
		if sel&(1<<4) != 0 && len(b) >= headerLen {
			b = slices.Clone(b)
			binary.BigEndian.PutUint16(b[6:], checksum(b, b[0]>>4, src.Unmap(), dst.Unmap(), mode))
		}
		a, err := Parse(b, src, dst, mode)
		if err != nil {
			if a.Addrs != nil {
				t.Fatalf("error %v with addresses %v", err, a.Addrs)
			}
			return
		}
		out, err := a.Marshal(src, dst, mode)
		if err != nil {
			t.Fatalf("Parse(%x) = %+v, but Marshal fails: %v", b, a, err)
		}
		// Marshal writes the v3 reserved bits as zero (RFC 5798 §5.2.5: they
		// are ignored on reception), which changes the checksum too.
		want := slices.Clone(b)
		if a.Version == 3 && want[4]&0xf0 != 0 {
			want[4] &= 0x0f
			binary.BigEndian.PutUint16(want[6:], checksum(want, 3, src.Unmap(), dst.Unmap(), mode))
		}
		// A zero checksum has two encodings; Marshal writes 0x0000.
		if c := binary.BigEndian.Uint16(want[6:]); c == 0xffff && binary.BigEndian.Uint16(out[6:]) == 0 {
			want[6], want[7] = 0, 0
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("round trip differs:\n in  %x\n out %x\n advert %+v", b, out, a)
		}
		if a.Len() != len(out) {
			t.Fatalf("Len() = %d, encoded %d", a.Len(), len(out))
		}
		a2, err := Parse(out, src, dst, mode)
		if err != nil {
			t.Fatalf("re-Parse of Marshal output: %v", err)
		}
		a2.Checksum, a.Checksum = 0, 0
		if !reflect.DeepEqual(a, a2) {
			t.Fatalf("re-Parse = %+v, want %+v", a2, a)
		}
	})
}
