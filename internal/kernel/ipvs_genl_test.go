package kernel

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
)

// serviceMessage is a GET_SERVICE reply holding s as the kernel sends it.
func serviceMessage(t testing.TB, s IPVSService) []byte {
	t.Helper()
	b, err := encodeService(s)
	if err != nil {
		t.Fatal(err)
	}
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(ipvsCmdAttrService, b)
	out, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// attrs are a payload's attributes by type.
func attrs(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	ms, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16][]byte{}
	for _, m := range ms {
		out[m.Type&^netlink.Nested] = m.Data
	}
	return out
}

func TestIPVSServiceEncoding(t *testing.T) {
	s := IPVSService{Family: 4, Proto: 17, Addr: netip.MustParseAddrPort("10.0.0.1:5060"), Sched: "rr",
		Flags: IPVSFlagPersistent, Timeout: 300, Netmask: 0xffffff00, PE: "sip"}
	b, err := encodeService(s)
	if err != nil {
		t.Fatal(err)
	}
	a := attrs(t, b)
	// What libipvs.c's ipvs_nl_fill_service_attr puts: AF_INET, the
	// address in 16 bytes, the port and the IPv4 mask in network order,
	// the flags with an all-ones mask, the engine's name with its NUL.
	want := map[uint16][]byte{
		ipvsSvcAttrAF:        {syscall.AF_INET, 0},
		ipvsSvcAttrProtocol:  {17, 0},
		ipvsSvcAttrAddr:      {10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		ipvsSvcAttrPort:      {0x13, 0xc4},
		ipvsSvcAttrSchedName: []byte("rr\x00"),
		ipvsSvcAttrPEName:    []byte("sip\x00"),
		ipvsSvcAttrFlags:     {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
		ipvsSvcAttrTimeout:   {44, 1, 0, 0},
		ipvsSvcAttrNetmask:   {0xff, 0xff, 0xff, 0},
	}
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the expected bytes are a little-endian host's")
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("attributes:\n got %v\nwant %v", a, want)
	}
	// Without an engine, no PE_NAME attribute: the library's message.
	s.PE = ""
	b, _ = encodeService(s)
	if _, ok := attrs(t, b)[ipvsSvcAttrPEName]; ok {
		t.Error("a service without persistence engine sends IPVS_SVC_ATTR_PE_NAME")
	}
	// An IPv6 prefix length is a host-order number.
	v6 := IPVSService{Family: 6, Fwmark: 7, Sched: "sh", Netmask: 64}
	b, _ = encodeService(v6)
	a = attrs(t, b)
	if !bytes.Equal(a[ipvsSvcAttrNetmask], []byte{64, 0, 0, 0}) || !bytes.Equal(a[ipvsSvcAttrFwmark], []byte{7, 0, 0, 0}) {
		t.Errorf("IPv6 fwmark service: netmask %v fwmark %v", a[ipvsSvcAttrNetmask], a[ipvsSvcAttrFwmark])
	}
	if _, ok := a[ipvsSvcAttrAddr]; ok {
		t.Error("a fwmark service sends an address")
	}
}

func TestIPVSServiceRoundTrip(t *testing.T) {
	for _, s := range []IPVSService{
		{Family: 4, Proto: 6, Addr: netip.MustParseAddrPort("10.0.0.1:80"), Sched: "wlc", Netmask: 0xffffffff},
		{Family: 4, Proto: 17, Addr: netip.MustParseAddrPort("10.0.0.1:5060"), Sched: "rr", Flags: IPVSFlagPersistent | IPVSFlagOnePacket,
			Timeout: 300, Netmask: 0xffffff00, PE: "sip"},
		{Family: 6, Proto: 132, Addr: netip.MustParseAddrPort("[2001:db8::1]:9"), Sched: "mh", Flags: IPVSFlagSched1, Netmask: 128},
		{Family: 6, Fwmark: 5, Sched: "wrr", Flags: IPVSFlagPersistent, Timeout: 60, Netmask: 64, PE: "sip"},
	} {
		got, err := decodeServiceMessage(serviceMessage(t, s))
		if err != nil || got != s {
			t.Errorf("%v: decoded %+v, %v", s, got, err)
		}
	}
	// The kernel's hashed flag is not the service's.
	s := IPVSService{Family: 4, Fwmark: 1, Sched: "rr", Flags: IPVSFlagHashed | IPVSFlagSched2, Netmask: 0xffffffff}
	if got, _ := decodeServiceMessage(serviceMessage(t, s)); got.Flags != IPVSFlagSched2 {
		t.Errorf("flags %#x, want %#x", got.Flags, IPVSFlagSched2)
	}
}

func TestIPVSTimeoutsAndDaemonEncoding(t *testing.T) {
	b, err := encodeTimeouts(IPVSTimeouts{TCP: 7200, TCPFin: 0, UDP: 60})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeTimeouts(b); err != nil || got != (IPVSTimeouts{TCP: 7200, UDP: 60}) {
		t.Errorf("timeouts: %+v %v", got, err)
	}
	d := IPVSDaemon{State: IPVSSyncMaster, Interface: "eth0", SyncID: 51, MaxLen: 1400, Port: 8850, TTL: 2,
		Group: netip.MustParseAddr("239.1.2.3")}
	b, err = encodeDaemon(d, true)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeDaemonMessage(b); err != nil || got != d {
		t.Errorf("daemon: %+v %v", got, err)
	}
	nested := attrs(t, attrs(t, b)[ipvsCmdAttrDaemon])
	if !bytes.Equal(nested[ipvsDaemonAttrMcastGroup], []byte{239, 1, 2, 3}) || !bytes.Equal(nested[ipvsDaemonAttrMcastIfn], []byte("eth0\x00")) {
		t.Errorf("daemon attributes %v", nested)
	}
	// A daemon without the optional settings sends none of them, as
	// libipvs.c's ipvs_start_daemon; a stop sends the state and id only.
	b, _ = encodeDaemon(IPVSDaemon{State: IPVSSyncBackup, Interface: "eth1"}, true)
	if n := len(attrs(t, attrs(t, b)[ipvsCmdAttrDaemon])); n != 3 {
		t.Errorf("a plain start sends %d attributes, want 3", n)
	}
	b, _ = encodeDaemon(IPVSDaemon{State: IPVSSyncBackup, Interface: "eth1", Port: 9}, false)
	if n := len(attrs(t, attrs(t, b)[ipvsCmdAttrDaemon])); n != 2 {
		t.Errorf("a stop sends %d attributes, want 2", n)
	}
	v6 := IPVSDaemon{State: IPVSSyncBackup, Interface: "eth1", Group: netip.MustParseAddr("ff02::81")}
	b, _ = encodeDaemon(v6, true)
	if got, err := decodeDaemonMessage(b); err != nil || got != v6 {
		t.Errorf("IPv6 daemon: %+v %v", got, err)
	}
}

func TestIPVSDecodeRefusesMalformed(t *testing.T) {
	good := serviceMessage(t, IPVSService{Family: 4, Proto: 6, Addr: netip.MustParseAddrPort("10.0.0.1:80"), Sched: "rr", Netmask: 0xffffffff})
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-3],
		"no service": func() []byte {
			ae := netlink.NewAttributeEncoder()
			ae.Uint32(ipvsCmdAttrTimeoutTCP, 1)
			b, _ := ae.Encode()
			return b
		}(),
	} {
		if s, err := decodeServiceMessage(b); err == nil {
			t.Errorf("%s: decoded %+v", name, s)
		}
	}
}

func TestFakeIPVSControl(t *testing.T) {
	f := &FakeIPVS{}
	if got, _ := f.Timeouts(); got != (IPVSTimeouts{900, 120, 300}) {
		t.Errorf("default timeouts %v", got)
	}
	f.SetTimeouts(IPVSTimeouts{TCP: 10})
	if got, _ := f.Timeouts(); got != (IPVSTimeouts{10, 120, 300}) {
		t.Errorf("after setting tcp: %v", got)
	}
	if err := f.StopDaemon(IPVSSyncMaster); Errno(err) != syscall.ESRCH {
		t.Errorf("stopping no daemon: %v", err)
	}
	f.StartDaemon(IPVSDaemon{State: IPVSSyncBackup, Interface: "eth0"})
	if err := f.StartDaemon(IPVSDaemon{State: IPVSSyncBackup, Interface: "eth0"}); Errno(err) != syscall.EEXIST {
		t.Errorf("starting a second backup: %v", err)
	}
	f.AddService(IPVSService{Family: 4, Fwmark: 1, Sched: "rr", Netmask: 0xffffffff})
	if err := f.AddService(IPVSService{Family: 4, Fwmark: 2, Sched: "rr", Netmask: 0xffffffff, PE: "nosuch"}); Errno(err) != syscall.ENOENT {
		t.Errorf("unknown persistence engine: %v", err)
	}
	f.Flush()
	if s, _ := f.Services(); len(s) != 0 {
		t.Errorf("after flush: %v", s)
	}
}

// FuzzIPVSDecode feeds the decoders of IPVS's replies arbitrary bytes:
// they must not panic, and a service they accept must encode and decode
// to itself.
func FuzzIPVSDecode(f *testing.F) {
	f.Add(serviceMessage(f, IPVSService{Family: 4, Proto: 17, Addr: netip.MustParseAddrPort("10.0.0.1:5060"), Sched: "rr",
		Flags: IPVSFlagPersistent, Timeout: 300, Netmask: 0xffffff00, PE: "sip"}))
	f.Add(serviceMessage(f, IPVSService{Family: 6, Fwmark: 5, Sched: "wrr", Netmask: 64}))
	b, _ := encodeDaemon(IPVSDaemon{State: IPVSSyncMaster, Interface: "eth0", SyncID: 5, Group: netip.MustParseAddr("239.0.0.1")}, true)
	f.Add(b)
	b, _ = encodeTimeouts(IPVSTimeouts{1, 2, 3})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeTimeouts(b)
		decodeDaemonMessage(b)
		s, err := decodeServiceMessage(b)
		if err != nil {
			return
		}
		if s.Fwmark == 0 && s.Addr.Addr().Is4() != (s.Family == 4) {
			t.Fatalf("family %d with address %v", s.Family, s.Addr)
		}
		enc, err := encodeService(s)
		if err != nil {
			return // a name with a NUL cannot be sent
		}
		ae := netlink.NewAttributeEncoder()
		ae.Bytes(ipvsCmdAttrService, enc)
		m, _ := ae.Encode()
		if again, err := decodeServiceMessage(m); err != nil || again != s {
			t.Fatalf("%+v encodes to %+v, %v", s, again, err)
		}
	})
}
