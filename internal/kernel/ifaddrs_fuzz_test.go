//go:build linux

package kernel

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// nlMsg is one netlink message: header, then data, padded to 4 bytes.
func nlMsg(typ, flags uint16, seq uint32, data []byte) []byte {
	ne := binary.NativeEndian
	b := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(data)+3)
	ne.PutUint32(b[0:], uint32(unix.SizeofNlMsghdr+len(data)))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], seq)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// newAddrMsg is an RTM_NEWADDR's data: ifaddrmsg, IFA_ADDRESS and
// IFA_FLAGS.
func newAddrMsg(index int, addr netip.Addr, flags uint32) []byte {
	ne := binary.NativeEndian
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0] = unix.AF_INET
	if addr.Is6() {
		b[0] = unix.AF_INET6
	}
	ne.PutUint32(b[4:], uint32(index))
	attr := func(typ uint16, v []byte) {
		a := make([]byte, unix.SizeofRtAttr, unix.SizeofRtAttr+len(v)+3)
		ne.PutUint16(a[0:], uint16(unix.SizeofRtAttr+len(v)))
		ne.PutUint16(a[2:], typ)
		a = append(a, v...)
		for len(a)%4 != 0 {
			a = append(a, 0)
		}
		b = append(b, a...)
	}
	attr(unix.IFA_ADDRESS, addr.AsSlice())
	attr(unix.IFA_FLAGS, ne.AppendUint32(nil, flags))
	return b
}

// The dump's reader takes the interface's addresses and flags from a
// datagram as the kernel sends it, skips another interface's and an
// earlier request's, and ends at NLMSG_DONE.
func TestReadAddrDump(t *testing.T) {
	a4, a6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	var b []byte
	b = append(b, nlMsg(unix.RTM_NEWADDR, unix.NLM_F_MULTI, 7, newAddrMsg(3, a4, unix.IFA_F_PERMANENT))...)
	b = append(b, nlMsg(unix.RTM_NEWADDR, unix.NLM_F_MULTI, 6, newAddrMsg(3, netip.MustParseAddr("192.0.2.9"), 0))...)
	b = append(b, nlMsg(unix.RTM_NEWADDR, unix.NLM_F_MULTI, 7, newAddrMsg(4, netip.MustParseAddr("192.0.2.8"), 0))...)
	b = append(b, nlMsg(unix.RTM_NEWADDR, unix.NLM_F_MULTI, 7, newAddrMsg(3, a6, unix.IFA_F_NODAD))...)
	var intr bool
	out, done, err := readAddrDump(b, 7, 3, nil, &intr)
	if err != nil || done {
		t.Fatalf("done %v, err %v before NLMSG_DONE", done, err)
	}
	out, done, err = readAddrDump(nlMsg(unix.NLMSG_DONE, unix.NLM_F_MULTI, 7, make([]byte, 4)), 7, 3, out, &intr)
	if err != nil || !done {
		t.Fatalf("done %v, err %v at NLMSG_DONE", done, err)
	}
	want := []ifaceAddr{{ip: a4, flags: unix.IFA_F_PERMANENT}, {ip: a6, flags: unix.IFA_F_NODAD}}
	if len(out) != len(want) || out[0] != want[0] || out[1] != want[1] {
		t.Fatalf("read %+v, want %+v", out, want)
	}
	intr = false
	_, done, err = readAddrDump(nlMsg(unix.NLMSG_DONE, unix.NLM_F_MULTI|unix.NLM_F_DUMP_INTR, 7, make([]byte, 4)), 7, 3, nil, &intr)
	if !done || err != errDumpInterrupted {
		t.Fatalf("an interrupted dump: done %v, err %v", done, err)
	}
}

// FuzzReadAddrDump: whatever the datagram, the reader neither panics nor
// returns an address it did not find for the interface.
func FuzzReadAddrDump(f *testing.F) {
	f.Add(nlMsg(unix.RTM_NEWADDR, unix.NLM_F_MULTI, 1, newAddrMsg(2, netip.MustParseAddr("198.51.100.1"), 0)))
	f.Add(append(nlMsg(unix.RTM_NEWADDR, unix.NLM_F_MULTI, 1, newAddrMsg(2, netip.MustParseAddr("fe80::1"), 0x80)),
		nlMsg(unix.NLMSG_DONE, unix.NLM_F_MULTI, 1, make([]byte, 4))...))
	f.Add(nlMsg(unix.NLMSG_ERROR, 0, 1, []byte{0xea, 0xff, 0xff, 0xff}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var intr bool
		out, _, _ := readAddrDump(b, 1, 2, nil, &intr)
		for _, a := range out {
			if !a.ip.IsValid() {
				t.Fatalf("an invalid address in %+v", out)
			}
		}
	})
}
