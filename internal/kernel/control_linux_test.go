//go:build linux

package kernel

import (
	"bytes"
	"testing"
	"unsafe"
)

func TestParseControlGarbage(t *testing.T) {
	// Garbage and short buffers must not panic.
	for _, b := range [][]byte{nil, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 40), make([]byte, 64)} {
		_ = parseControl(b)
	}
}

// FuzzParseReceived: what a raw proto-112 socket hands over, IPv4 packet
// and control messages, of any content. Never panics, and a packet it
// accepts lies inside what was read.
func FuzzParseReceived(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 192, 0, 2, 1, 224, 0, 0, 18, 0x21, 51, 100, 1, 0, 1, 0, 0}, []byte{})
	f.Add([]byte{0x46, 0, 0, 20}, bytes.Repeat([]byte{0xff}, 40))
	f.Fuzz(func(t *testing.T, pkt, oob []byte) {
		// The kernel hands over 8-byte aligned control messages.
		aligned := unsafe.Slice((*byte)(unsafe.Pointer(&make([]uint64, 16)[0])), 128)
		n := copy(aligned, oob)
		c := &VRRPConn{cfg: VRRPConnConfig{Family: 4}, roob: aligned, rn: len(pkt)}
		c.rmsg.SetControllen(n)
		buf := append([]byte(nil), pkt...)
		if p, ok := c.parse(buf); ok && (p.N < 0 || p.N > len(pkt)) {
			t.Fatalf("packet of %d bytes from %d read", p.N, len(pkt))
		}
	})
}
