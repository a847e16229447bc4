package vrrp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ahFixture is one testdata/ah/*.hex file: a whole IPv4 packet with AH
// captured from keepalived 2.2.7.
type ahFixture struct {
	name    string
	key     [AuthDataLen]byte
	unicast bool
	seq     uint32
	pkt     []byte
}

func loadAHFixtures(tb testing.TB) []ahFixture {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "ah", "*.hex"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no AH fixtures: %v", err)
	}
	var out []ahFixture
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err != nil {
			tb.Fatal(err)
		}
		fx := ahFixture{name: strings.TrimSuffix(filepath.Base(fn), ".hex")}
		for _, line := range strings.Split(string(b), "\n") {
			switch {
			case strings.HasPrefix(line, "# key: "):
				fx.key = AHKey([]byte(strings.TrimPrefix(line, "# key: ")))
			case strings.HasPrefix(line, "# unicast: "):
				fx.unicast = strings.TrimPrefix(line, "# unicast: ") == "true"
			case strings.HasPrefix(line, "# seq: "):
				n, _ := strconv.Atoi(strings.TrimPrefix(line, "# seq: "))
				fx.seq = uint32(n)
			case line != "" && !strings.HasPrefix(line, "#"):
				if fx.pkt, err = hex.DecodeString(line); err != nil {
					tb.Fatalf("%s: %v", fn, err)
				}
			}
		}
		out = append(out, fx)
	}
	return out
}

// TestAHFixtures: every AH packet keepalived 2.2.7 sent decodes, its ICV
// verifies with the password and fails with another, and encoding the
// same advert gives the same bytes, ICV included (the IP header checksum
// aside, which the kernel fills in).
func TestAHFixtures(t *testing.T) {
	for _, fx := range loadAHFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			p, err := ParseAH(fx.pkt)
			if err != nil {
				t.Fatal(err)
			}
			if p.AH.NextHeader != IPProto || p.AH.PayloadLen != 4 || p.AH.Seq != fx.seq || p.AH.SPI != p.Src.As4() {
				t.Fatalf("AH header %+v, want next header 112, length 4, seq %d, SPI = source %v", p.AH, fx.seq, p.Src)
			}
			adv, err := Parse(p.Message, p.Src, p.Dst, ChecksumV3Pseudo)
			if err != nil {
				t.Fatal(err)
			}
			if adv.Version != 2 || adv.AuthType != AuthAH || adv.AuthData != [AuthDataLen]byte{} || adv.Interval != time.Second {
				t.Fatalf("advert %+v", adv)
			}
			mac := NewAHMAC(fx.key)
			if !VerifyAH(fx.pkt, &p, mac, fx.unicast) {
				t.Fatal("keepalived's ICV does not verify with its password")
			}
			if VerifyAH(fx.pkt, &p, NewAHMAC(AHKey([]byte("wrong"))), fx.unicast) {
				t.Fatal("the ICV verifies with another password")
			}
			h := AHHeader{Src: p.Src, Dst: p.Dst, ID: binary.BigEndian.Uint16(fx.pkt[4:]), TTL: p.TTL, Seq: p.AH.Seq, Unicast: fx.unicast}
			got, err := adv.AppendMarshalAH(nil, h, mac)
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.Clone(fx.pkt)
			want[10], want[11] = 0, 0
			if !bytes.Equal(got, want) {
				t.Fatalf("encoded\n%x\nkeepalived sent (checksum zeroed)\n%x", got, want)
			}
		})
	}
}

// TestAHMutableFields: what a router may change on the way (TOS, fragment
// offset, header checksum; the TTL of a unicast advert) leaves the ICV
// valid; anything else breaks it.
func TestAHMutableFields(t *testing.T) {
	for _, fx := range loadAHFixtures(t) {
		mac := NewAHMAC(fx.key)
		check := func(what string, off int, wantOK bool) {
			t.Helper()
			pkt := bytes.Clone(fx.pkt)
			pkt[off] ^= 0x01
			p, err := ParseAH(pkt)
			if err != nil {
				t.Fatalf("%s: %s: %v", fx.name, what, err)
			}
			if ok := VerifyAH(pkt, &p, mac, fx.unicast); ok != wantOK {
				t.Errorf("%s: %s changed: verifies %v, want %v", fx.name, what, ok, wantOK)
			}
		}
		check("TOS", 1, true)
		check("fragment offset", 7, true)
		check("header checksum", 10, true)
		check("TTL", 8, fx.unicast)
		check("identification", 5, false)
		check("destination", 19, false)
		check("SPI", 23, false)
		check("sequence number", 31, false)
		check("ICV", 40, false)
		check("priority", 46, false)
		check("last VIP byte", len(fx.pkt)-9, false)
	}
}

func TestParseAHErrors(t *testing.T) {
	fx := loadAHFixtures(t)[0]
	short := bytes.Clone(fx.pkt[:ipv4HdrLen+AHLen+4])
	binary.BigEndian.PutUint16(short[2:], uint16(len(short)))
	for _, tc := range []struct {
		name string
		pkt  []byte
		drop bool
	}{
		{"empty", nil, false},
		{"IPv6", append([]byte{0x60}, fx.pkt[1:]...), false},
		{"not AH", func() []byte { b := bytes.Clone(fx.pkt); b[9] = IPProto; return b }(), false},
		{"total beyond the buffer", fx.pkt[:len(fx.pkt)-1], false},
		{"IHL too small", func() []byte { b := bytes.Clone(fx.pkt); b[0] = 0x44; return b }(), false},
		{"too short for AH and VRRP", short, true},
	} {
		_, err := ParseAH(tc.pkt)
		if err == nil {
			t.Errorf("%s: parsed", tc.name)
			continue
		}
		if r, ok := Reason(err); ok != tc.drop || (ok && r != DropPacketLen) {
			t.Errorf("%s: %v: counted drop %v, want %v", tc.name, err, ok, tc.drop)
		}
	}
}

func TestMarshalAHErrors(t *testing.T) {
	mac := NewAHMAC(AHKey([]byte("k")))
	v4 := netip.MustParseAddr("192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	adv := Advert{Version: 2, VRID: 1, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{v4}}
	if _, err := adv.AppendMarshalAH(nil, AHHeader{Src: v6, Dst: v6}, mac); err == nil {
		t.Error("IPv6 header accepted")
	}
	v3 := adv
	v3.Version = 3
	if _, err := v3.AppendMarshalAH(nil, AHHeader{Src: v4, Dst: MulticastIPv4}, mac); err == nil {
		t.Error("VRRPv3 accepted")
	}
	bad := adv
	bad.VRID = 0
	b := []byte{1, 2, 3}
	if got, err := bad.AppendMarshalAH(b, AHHeader{Src: v4, Dst: MulticastIPv4}, mac); err == nil || !bytes.Equal(got, b) {
		t.Errorf("invalid advert: %v, buffer %x", err, got)
	}
}

func TestMarshalAHDoesNotAllocate(t *testing.T) {
	fx := loadAHFixtures(t)[0]
	p, _ := ParseAH(fx.pkt)
	adv, _ := Parse(p.Message, p.Src, p.Dst, ChecksumV3Pseudo)
	mac := NewAHMAC(fx.key)
	buf := make([]byte, 0, 256)
	h := AHHeader{Src: p.Src, Dst: p.Dst, ID: 1, TTL: 255, Seq: 1}
	if n := testing.AllocsPerRun(100, func() { _, _ = adv.AppendMarshalAH(buf, h, mac) }); n > 0 {
		t.Errorf("AppendMarshalAH: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { VerifyAH(fx.pkt, &p, mac, false) }); n > 0 {
		t.Errorf("VerifyAH: %v allocations", n)
	}
}

// FuzzParseAH: the AH decoder and the ICV check never panic, and what
// decodes re-verifies the same way.
func FuzzParseAH(f *testing.F) {
	for _, fx := range loadAHFixtures(f) {
		f.Add(fx.pkt, fx.unicast)
	}
	mac := NewAHMAC(AHKey([]byte("secret")))
	f.Fuzz(func(t *testing.T, pkt []byte, unicast bool) {
		p, err := ParseAH(pkt)
		if err != nil {
			return
		}
		if p.IHL+AHLen+len(p.Message) > len(pkt) {
			t.Fatalf("message beyond the packet: IHL %d, message %d, packet %d", p.IHL, len(p.Message), len(pkt))
		}
		ok := VerifyAH(pkt, &p, mac, unicast)
		if ok != VerifyAH(bytes.Clone(pkt), &p, mac, unicast) {
			t.Fatal("VerifyAH is not deterministic")
		}
		_, _ = Parse(p.Message, p.Src, p.Dst, ChecksumV3Pseudo)
	})
}
