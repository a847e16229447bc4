package kernel

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"
)

// destMessage is a GET_DEST reply's attributes holding d as the kernel
// sends it.
func destMessage(d IPVSDest) []byte { return appendDest(nil, d) }

var testDests = []IPVSDest{
	{Addr: netip.MustParseAddrPort("10.0.1.1:8080"), Fwd: IPVSMasq, Weight: 2},
	{Addr: netip.MustParseAddrPort("10.0.1.2:80"), Fwd: IPVSDRoute, Weight: 1, UThresh: 100, LThresh: 10},
	{Addr: netip.MustParseAddrPort("10.0.1.3:80"), Fwd: IPVSTunnel, Weight: 1, TunType: 1, TunPort: 6080, TunFlags: 3},
	{Addr: netip.MustParseAddrPort("[2001:db8::9]:80"), Fwd: IPVSTunnel, Weight: 2147483647},
}

func TestIPVSDestRoundTrip(t *testing.T) {
	for _, d := range testDests {
		for _, family := range []int{4, 6} {
			if got, err := decodeDestMessage(destMessage(d), family); err != nil || got != d {
				t.Errorf("%+v: decoded %+v, %v", d, got, err)
			}
		}
	}
	// The kernel's flags beside the method (IP_VS_CONN_F_*) are not the
	// destination's.
	d := testDests[0]
	d.Fwd = IPVSDRoute | 0x0100
	if got, _ := decodeDestMessage(destMessage(d), 4); got.Fwd != IPVSDRoute {
		t.Errorf("forwarding %d, want %d", got.Fwd, IPVSDRoute)
	}
}

// Before Linux 3.18 a destination has no family of its own: the
// service's.
func TestIPVSDestWithoutFamily(t *testing.T) {
	var b []byte
	b, start := beginNested(b, ipvsCmdAttrDest)
	a := addr16(netip.MustParseAddr("2001:db8::1"))
	b = appendAttr(b, ipvsDestAttrAddr, a[:]...)
	b = appendBE16(b, ipvsDestAttrPort, 80)
	b = appendU32(b, ipvsDestAttrWeight, 3)
	b = endNested(b, start)
	got, err := decodeDestMessage(b, 6)
	if want := (IPVSDest{Addr: netip.MustParseAddrPort("[2001:db8::1]:80"), Weight: 3}); err != nil || got != want {
		t.Errorf("decoded %+v, %v; want %+v", got, err, want)
	}
	a4 := addr16(netip.MustParseAddr("10.0.0.1"))
	v4 := appendAttr(nil, ipvsCmdAttrDest|0x8000, appendAttr(nil, ipvsDestAttrAddr, a4[:]...)...)
	if got, err := decodeDestMessage(v4, 4); err != nil || got.Addr.Addr() != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("IPv4 service's destination: %+v, %v", got, err)
	}
}

func TestIPVSDestDecodeRefusesMalformed(t *testing.T) {
	good := destMessage(testDests[0])
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-3],
		"no dest":   appendU32(nil, ipvsCmdAttrTimeoutTCP, 1),
		"no addr":   appendAttr(nil, ipvsCmdAttrDest, appendBE16(nil, ipvsDestAttrPort, 80)...),
		"short port": appendAttr(nil, ipvsCmdAttrDest, append(appendAttr(nil, ipvsDestAttrAddr, make([]byte, 16)...),
			appendAttr(nil, ipvsDestAttrPort, 1)...)...),
	} {
		if d, err := decodeDestMessage(b, 4); err == nil {
			t.Errorf("%s: decoded %+v", name, d)
		}
	}
}

// Each change is one message: the family's id, a request asking for an
// acknowledgement, its sequence number, IPVS's command; the service whole
// for NEW_SERVICE and SET_SERVICE (encodeService's attributes), its key
// only otherwise; the destination whole.
func TestIPVSOpMessages(t *testing.T) {
	s := IPVSService{Family: 4, Proto: 17, Addr: netip.MustParseAddrPort("10.0.0.1:5060"), Sched: "rr",
		Flags: IPVSFlagPersistent, Timeout: 300, Netmask: 0xffffff00, PE: "sip"}
	d := testDests[2]
	full, _ := encodeService(s)
	key := appendService(nil, s.Key(), false)[4:]
	var b []byte
	kinds := []IPVSOpKind{IPVSAddService, IPVSEditService, IPVSDelService, IPVSAddDest, IPVSEditDest, IPVSDelDest}
	for i, k := range kinds {
		b = appendOpMessage(b, 0x1234, uint32(100+i), IPVSOp{Kind: k, Service: s, Dest: d})
	}
	cmds := []uint8{ipvsCmdNewService, ipvsCmdSetService, ipvsCmdDelService, ipvsCmdNewDest, ipvsCmdSetDest, ipvsCmdDelDest}
	for i, k := range kinds {
		typ, seq, payload, rest, ok := nextMessage(b)
		if !ok {
			t.Fatalf("message %d missing", i)
		}
		b = rest
		if typ != 0x1234 || seq != uint32(100+i) || payload[0] != cmds[i] || payload[1] != ipvsGenlVersion {
			t.Errorf("%d: type %#x seq %d genl header %v", k, typ, seq, payload[:4])
		}
		a := attrs(t, payload[genlHdrLen:])
		wantSvc := key
		if k == IPVSAddService || k == IPVSEditService {
			wantSvc = full
		}
		if !bytes.Equal(a[ipvsCmdAttrService], wantSvc) {
			t.Errorf("%d: service %v, want %v", k, a[ipvsCmdAttrService], wantSvc)
		}
		if got, ok := a[ipvsCmdAttrDest]; ok != (k >= IPVSAddDest) || (ok && !bytes.Equal(got, destMessage(d)[4:])) {
			t.Errorf("%d: destination %v", k, got)
		}
	}
	if len(b) != 0 {
		t.Errorf("%d bytes left", len(b))
	}
	// The header's flags: NLM_F_REQUEST | NLM_F_ACK.
	m := appendOpMessage(nil, 1, 1, IPVSOp{Kind: IPVSDelService, Service: s})
	if f := binary.NativeEndian.Uint16(m[6:]); f != nlmFRequest|nlmFAck {
		t.Errorf("flags %#x", f)
	}
	// A destination is added with every attribute libipvs.c's
	// ipvs_nl_fill_dest_attr sends.
	a := attrs(t, destMessage(d)[4:])
	for _, typ := range []uint16{ipvsDestAttrAddrFamily, ipvsDestAttrAddr, ipvsDestAttrPort, ipvsDestAttrFwdMethod, ipvsDestAttrWeight,
		ipvsDestAttrUThresh, ipvsDestAttrLThresh, ipvsDestAttrTunType, ipvsDestAttrTunPort, ipvsDestAttrTunFlags} {
		if _, ok := a[typ]; !ok {
			t.Errorf("no destination attribute %d", typ)
		}
	}
	if !bytes.Equal(a[ipvsDestAttrTunPort], []byte{0x17, 0xc0}) || !bytes.Equal(a[ipvsDestAttrAddr][:4], []byte{10, 0, 1, 3}) {
		t.Errorf("tunnel port %v, address %v", a[ipvsDestAttrTunPort], a[ipvsDestAttrAddr])
	}
}

// ack is an NLMSG_ERROR message answering seq with errno.
func ack(seq uint32, errno syscall.Errno) []byte {
	b := binary.NativeEndian.AppendUint32(nil, 36)
	b = binary.NativeEndian.AppendUint16(b, nlmsgError)
	b = binary.NativeEndian.AppendUint16(b, 0x100) // NLM_F_CAPPED
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint32(b, uint32(-int32(errno)))
	return append(b, make([]byte, 16)...) // the request's header
}

func TestIPVSMatchAcks(t *testing.T) {
	errs := make([]error, 3)
	answered := make([]bool, 3)
	var b []byte
	b = append(b, ack(9, syscall.EEXIST)...) // an earlier request's
	b = append(b, ack(12, syscall.ENOENT)...)
	b = append(b, ack(10, 0)...)
	if n := matchAcks(b, 10, errs, answered); n != 2 {
		t.Errorf("%d answered, want 2", n)
	}
	if n := matchAcks(append(ack(10, syscall.EEXIST), ack(11, syscall.ESRCH)...), 10, errs, answered); n != 1 {
		t.Errorf("%d more answered, want 1 (10 was already)", n)
	}
	if errs[0] != nil || Errno(errs[1]) != syscall.ESRCH || Errno(errs[2]) != syscall.ENOENT || !answered[0] || !answered[1] || !answered[2] {
		t.Errorf("errors %v, answered %v", errs, answered)
	}
	// Sequence numbers that wrap.
	errs, answered = make([]error, 2), make([]bool, 2)
	if n := matchAcks(append(ack(0xffffffff, 0), ack(0, syscall.EEXIST)...), 0xffffffff, errs, answered); n != 2 || Errno(errs[1]) != syscall.EEXIST {
		t.Errorf("wrapped: %d answered, %v", n, errs)
	}
}

func TestFakeIPVSBatch(t *testing.T) {
	f := &FakeIPVS{}
	s := IPVSService{Family: 4, Fwmark: 1, Sched: "rr", Netmask: 0xffffffff}
	errs := f.Batch([]IPVSOp{{Kind: IPVSAddService, Service: s}, {Kind: IPVSAddService, Service: s},
		{Kind: IPVSAddDest, Service: s, Dest: testDests[1]}, {Kind: IPVSDelDest, Service: s, Dest: testDests[0]}})
	if errs[0] != nil || Errno(errs[1]) != syscall.EEXIST || errs[2] != nil || Errno(errs[3]) != syscall.ENOENT {
		t.Errorf("errors %v", errs)
	}
	if ds, _ := f.Dests(s); len(ds) != 1 || ds[0] != testDests[1] {
		t.Errorf("destinations %+v", ds)
	}
}

// FuzzIPVSDestDecode feeds the destination and acknowledgement decoders
// arbitrary bytes: they must not panic, and a destination they accept
// must encode and decode to itself.
func FuzzIPVSDestDecode(f *testing.F) {
	for _, d := range testDests {
		f.Add(destMessage(d))
	}
	f.Add(append(ack(1, syscall.EEXIST), ack(2, 0)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		errs, answered := make([]error, 4), make([]bool, 4)
		if n := matchAcks(b, 1, errs, answered); n > 4 {
			t.Fatalf("%d answered of 4", n)
		}
		d, err := decodeDestMessage(b, 4)
		if err != nil {
			return
		}
		if again, err := decodeDestMessage(destMessage(d), 4); err != nil || again != d {
			t.Fatalf("%+v encodes to %+v, %v", d, again, err)
		}
	})
}
