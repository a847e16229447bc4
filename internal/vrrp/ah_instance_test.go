package vrrp

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func ahInstance(name string, prio int, pass string) InstanceConfig {
	return InstanceConfig{Name: name, AuthType: AuthAH, AuthPass: []byte(pass),
		Machine: MachineConfig{Version: 2, VRID: 51, Priority: prio, AdvertInt: time.Second, Preempt: true, InitialState: Backup}}
}

// TestAHInstancesElectAndFailOver: two AH instances with one password
// elect the higher priority, the backup accepts every advert (the
// sequence numbers go up), and when the master is cut off the backup
// takes over.
func TestAHInstancesElectAndFailOver(t *testing.T) {
	h := &hub{}
	a := startRouter(t, h, "192.0.2.1", ahInstance("A", 150, "secret"))
	b := startRouter(t, h, "192.0.2.2", ahInstance("B", 100, "secret"))
	eventually(t, "A is the only master and B has heard it twice", func() bool {
		return onlyHolder(a, b) == a && b.inst.State() == Backup && b.inst.Stats().AdvertRcvd.Load() >= 2
	})
	if d := b.inst.Stats().Dropped[DropAuthFailure].Load(); d != 0 {
		t.Fatalf("B dropped %d of A's adverts as authentication failures", d)
	}
	if got, sent := b.inst.AHSeq(), a.inst.AHSeq(); got != sent || got < 2 {
		t.Fatalf("B's sequence counter is %d, A's %d: want both the last sent, at least 2", got, sent)
	}
	a.node.setCut(true)
	eventually(t, "B takes over", func() bool { return b.inst.State() == Master && b.node.holds(testVIP) })
}

// TestAHWrongPasswordMakesBothMasters: each side drops the other's
// adverts as authentication failures, so both become master.
func TestAHWrongPasswordMakesBothMasters(t *testing.T) {
	h := &hub{}
	a := startRouter(t, h, "192.0.2.1", ahInstance("A", 150, "secret"))
	b := startRouter(t, h, "192.0.2.2", ahInstance("B", 100, "other"))
	eventually(t, "both are masters, each dropping the other's adverts", func() bool {
		return a.inst.State() == Master && b.inst.State() == Master &&
			a.inst.Stats().Dropped[DropAuthFailure].Load() > 0 && b.inst.Stats().Dropped[DropAuthFailure].Load() > 0
	})
	if n := a.inst.Stats().AdvertRcvd.Load() + b.inst.Stats().AdvertRcvd.Load(); n != 0 {
		t.Fatalf("%d adverts with the wrong key accepted", n)
	}
}

// ahDeliverer is an instance fed by hand with keepalived's captured
// packets, logging to a buffer.
func ahDeliverer(t *testing.T, src string) (*Instance, *syncBuffer, *recordNet) {
	t.Helper()
	cfg := ahInstance("VI_1", 100, "secret")
	cfg.Source = netip.MustParseAddr(src)
	cfg.Machine.PrimaryAddr = cfg.Source
	cfg.Group = MulticastIPv4
	cfg.VIPs = []VIP{{Prefix: netip.MustParsePrefix("198.51.100.200/24")}}
	logs := &syncBuffer{}
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	n := &recordNet{}
	in, err := NewInstance(cfg, n)
	if err != nil {
		t.Fatal(err)
	}
	return in, logs, n
}

func fixtureNamed(t *testing.T, name string) ahFixture {
	for _, fx := range loadAHFixtures(t) {
		if fx.name == name {
			return fx
		}
	}
	t.Fatalf("no fixture %s", name)
	return ahFixture{}
}

func ahReceived(pkt []byte) Received {
	return Received{Payload: pkt, Src: netip.AddrFrom4([4]byte(pkt[12:16])), Dst: netip.AddrFrom4([4]byte(pkt[16:20])), TTL: pkt[8]}
}

// TestAHSequenceNumbersAgainstReplay: keepalived's adverts are accepted
// in order by a fresh instance (its counter starts at 0, as keepalived's
// after a restart); one whose sequence number is not above the last is a
// replay, dropped, counted as an authentication failure and logged as
// keepalived logs it. So is a bad ICV, and an SPI that is not the source.
func TestAHSequenceNumbersAgainstReplay(t *testing.T) {
	in, logs, _ := ahDeliverer(t, "192.0.2.2")
	demux := NewDemux(in)
	seq1, seq2, seq4 := fixtureNamed(t, "mcast_seq1"), fixtureNamed(t, "mcast_seq2"), fixtureNamed(t, "mcast_seq4")
	demux.Dispatch(ahReceived(seq1.pkt))
	demux.Dispatch(ahReceived(seq4.pkt))
	if got := in.Stats().AdvertRcvd.Load(); got != 2 {
		t.Fatalf("%d adverts accepted, want 2 (seq 1 then 4)\n%s", got, logs)
	}
	demux.Dispatch(ahReceived(seq2.pkt)) // behind: a replay
	demux.Dispatch(ahReceived(seq4.pkt)) // again
	if got, drops := in.Stats().AdvertRcvd.Load(), in.Stats().Dropped[DropAuthFailure].Load(); got != 2 || drops != 2 {
		t.Fatalf("after two replays: %d accepted, %d auth failures; want 2 and 2\n%s", got, drops, logs)
	}
	for _, want := range []string{
		"(VI_1) IPSEC-AH : sequence number 2 already processed. Packet dropped. Local(4)",
		"(VI_1) IPSEC-AH : sequence number 4 already processed. Packet dropped. Local(4)",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}

	bad := bytes.Clone(seq4.pkt)
	binary.BigEndian.PutUint32(bad[28:], 9) // a higher sequence number, not under the ICV it carries
	demux.Dispatch(ahReceived(bad))
	spi := bytes.Clone(seq4.pkt)
	spi[12+3] = 9 // another source, SPI left: the ICV breaks first
	demux.Dispatch(ahReceived(spi))
	if drops := in.Stats().Dropped[DropAuthFailure].Load(); drops != 4 {
		t.Fatalf("%d auth failures, want 4\n%s", drops, logs)
	}
	if n := strings.Count(logs.String(), "(VI_1) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"); n != 2 {
		t.Errorf("the bad-ICV line logged %d times, want 2:\n%s", n, logs)
	}
	if in.AHSeq() != 4 {
		t.Errorf("counter %d after rejected packets, want 4", in.AHSeq())
	}
}

// TestAHSPIMustBeTheSource: a packet with a valid ICV whose SPI is not its
// source address is dropped, as keepalived's vrrp_in_chk_ipsecah does.
func TestAHSPIMustBeTheSource(t *testing.T) {
	in, logs, _ := ahDeliverer(t, "192.0.2.2")
	mac := NewAHMAC(AHKey([]byte("secret")))
	adv := Advert{Version: 2, VRID: 51, Priority: 150, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.200")}}
	pkt, err := adv.AppendMarshalAH(nil, AHHeader{Src: netip.MustParseAddr("192.0.2.1"), Dst: MulticastIPv4, ID: 1, TTL: 255, Seq: 1}, mac)
	if err != nil {
		t.Fatal(err)
	}
	pkt[ipv4HdrLen+7] = 9 // SPI 192.0.2.9
	copy(pkt[ipv4HdrLen+12:], mac.icv(pkt, ipv4HdrLen, false))
	in.Deliver(ahReceived(pkt))
	if in.Stats().AdvertRcvd.Load() != 0 || in.Stats().Dropped[DropAuthFailure].Load() != 1 {
		t.Fatalf("accepted %d, auth failures %d; want 0 and 1\n%s", in.Stats().AdvertRcvd.Load(), in.Stats().Dropped[DropAuthFailure].Load(), logs)
	}
	if !strings.Contains(logs.String(), "IPSEC AH : invalid IPSEC SPI value.") {
		t.Errorf("no SPI line in the log:\n%s", logs)
	}
}

// recordNet keeps what an instance sends.
type recordNet struct {
	discardNet
	mu   sync.Mutex
	sent [][]byte
}

func (n *recordNet) SendAdvert(payload []byte, _ netip.Addr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, bytes.Clone(payload))
	return nil
}

func (n *recordNet) packets() [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([][]byte(nil), n.sent...)
}

// TestAHMasterSendsTheNextSequenceNumbers: a master's adverts carry the
// counter plus one each (after the last advert it accepted) and IP
// identifications from 1; on a lower priority advert it takes the
// sender's number plus one first, as keepalived does ("Syncing seq_num").
// keepalived 2.2.7 accepts what it sends (see the namespace tests).
func TestAHMasterSendsTheNextSequenceNumbers(t *testing.T) {
	in, _, n := ahDeliverer(t, "192.0.2.2")
	in.Deliver(ahReceived(fixtureNamed(t, "mcast_seq2").pkt)) // priority 150: counter 2
	in.mu.Lock()
	in.sendAdvert(100)
	in.sendAdvert(100)
	in.mu.Unlock()
	pkts := n.packets()
	if len(pkts) != 2 {
		t.Fatalf("%d packets sent", len(pkts))
	}
	mac := NewAHMAC(AHKey([]byte("secret")))
	for i, pkt := range pkts {
		p, err := ParseAH(pkt)
		if err != nil {
			t.Fatal(err)
		}
		if p.AH.Seq != uint32(3+i) || binary.BigEndian.Uint16(pkt[4:]) != uint16(1+i) || pkt[8] != 255 || pkt[1] != 0xc0 {
			t.Errorf("packet %d: seq %d, id %d, TTL %d, TOS %#x; want seq %d, id %d, TTL 255, TOS 0xc0", i, p.AH.Seq, binary.BigEndian.Uint16(pkt[4:]), pkt[8], pkt[1], 3+i, 1+i)
		}
		if !VerifyAH(pkt, &p, mac, false) {
			t.Errorf("packet %d: ICV does not verify", i)
		}
	}

	// A master that hears a lower priority (priority 50, seq 1000) syncs.
	in, logs, n := ahDeliverer(t, "192.0.2.2")
	in.cfg.Machine.InitialState, in.cfg.Machine.Priority = Master, PriorityOwner
	in.m = NewMachine(in.cfg.Machine)
	in.Start()
	if in.State() != Master {
		t.Fatalf("state %v, want MASTER", in.State())
	}
	before := len(n.packets())
	mac2 := NewAHMAC(AHKey([]byte("secret")))
	low := Advert{Version: 2, VRID: 51, Priority: 50, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.200")}}
	pkt, _ := low.AppendMarshalAH(nil, AHHeader{Src: netip.MustParseAddr("192.0.2.1"), Dst: MulticastIPv4, ID: 7, TTL: 255, Seq: 1000}, mac2)
	in.Deliver(ahReceived(pkt))
	after := n.packets()[before:]
	if len(after) == 0 {
		t.Fatalf("the master did not answer a lower priority\n%s", logs)
	}
	p, _ := ParseAH(after[0])
	if p.AH.Seq != 1002 {
		t.Errorf("answer's sequence number %d, want 1002 (the lower priority's 1000, plus one, plus one)", p.AH.Seq)
	}
	if !strings.Contains(logs.String(), "(VI_1) IPSEC-AH : Syncing seq_num - Increment seq") {
		t.Errorf("no sync line in the log:\n%s", logs)
	}
	in.step(Shutdown{})
	in.effects.wait()
}

// TestAHUnicastLeavesTheTTLOutOfTheICV: a unicast AH instance accepts an
// advert whose TTL a router lowered; a multicast one would not.
func TestAHUnicastLeavesTheTTLOutOfTheICV(t *testing.T) {
	fx := fixtureNamed(t, "unicast_seq1")
	cfg := ahInstance("VI_2", 100, "longerpa")
	cfg.Machine.VRID = 52
	cfg.Source = netip.MustParseAddr("192.0.2.2")
	cfg.Peers = []Peer{{Addr: netip.MustParseAddr("192.0.2.1")}}
	cfg.VIPs = []VIP{{Prefix: netip.MustParsePrefix("198.51.100.201/24")}, {Prefix: netip.MustParsePrefix("198.51.100.202/24")}}
	cfg.Log = slog.New(slog.DiscardHandler)
	in, err := NewInstance(cfg, discardNet{})
	if err != nil {
		t.Fatal(err)
	}
	pkt := bytes.Clone(fx.pkt)
	pkt[8] = 62
	in.Deliver(ahReceived(pkt))
	if in.Stats().AdvertRcvd.Load() != 1 {
		t.Fatalf("unicast advert with TTL 62 not accepted: drops %v", in.Stats().Dropped[DropAuthFailure].Load())
	}
}

func TestAHNeedsVRRPv2OverIPv4(t *testing.T) {
	cfg := ahInstance("A", 100, "x")
	cfg.Source = netip.MustParseAddr("2001:db8::1")
	if _, err := NewInstance(cfg, discardNet{}); err == nil {
		t.Error("AH over IPv6 accepted")
	}
	cfg = ahInstance("A", 100, "x")
	cfg.Source = netip.MustParseAddr("192.0.2.1")
	cfg.Machine.Version = 3
	cfg.Machine.AdvertInt = time.Second
	if _, err := NewInstance(cfg, discardNet{}); err == nil {
		t.Error("AH with VRRPv3 accepted")
	}
}

// BenchmarkInstanceDeliverAH is BenchmarkInstanceDeliver for a VRRPv2 AH
// backup: the AH header, the ICV and the sequence number checked too.
func BenchmarkInstanceDeliverAH(b *testing.B) {
	cfg := ahInstance("VI_1", 100, "secret")
	cfg.Source = netip.MustParseAddr("192.0.2.1")
	cfg.VIPs = []VIP{{Prefix: testVIP}}
	inst, err := NewInstance(cfg, discardNet{})
	if err != nil {
		b.Fatal(err)
	}
	inst.step(Start{})
	adv := Advert{Version: 2, VRID: 51, Priority: 150, Interval: time.Second, Addrs: []netip.Addr{testVIP.Addr()}}
	src := netip.MustParseAddr("192.0.2.5")
	pkt, _ := adv.AppendMarshalAH(nil, AHHeader{Src: src, Dst: MulticastIPv4, ID: 1, TTL: 255, Seq: 1}, NewAHMAC(AHKey([]byte("secret"))))
	p := Received{Payload: pkt, Src: src, Dst: MulticastIPv4, TTL: 255}
	b.ReportAllocs()
	for b.Loop() {
		inst.ah.seq = 0 // the same advert, never a replay
		inst.Deliver(p)
	}
	if inst.Stats().AdvertRcvd.Load() == 0 {
		b.Fatal("nothing accepted")
	}
}

// BenchmarkInstanceSendAdvertAH is BenchmarkInstanceSendAdvert for a
// VRRPv2 AH master: the IPv4 and AH headers and the ICV too.
func BenchmarkInstanceSendAdvertAH(b *testing.B) {
	cfg := ahInstance("VI_1", 100, "secret")
	cfg.Source, cfg.Group = netip.MustParseAddr("192.0.2.1"), MulticastIPv4
	cfg.VIPs = []VIP{{Prefix: testVIP}}
	inst, err := NewInstance(cfg, discardNet{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		inst.sendAdvert(100)
	}
}
