package vrrp

import (
	"context"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// hub is an in-memory LAN: an advert one node sends reaches every other
// node's Demux, with TTL 255, unless the sender or the receiver is cut
// off. Each node reads its inbox on a goroutine of its own, as the
// daemon's socket reader does, so delivery is asynchronous.
type hub struct {
	mu    sync.Mutex
	nodes []*hubNode
}

type hubNode struct {
	hub   *hub
	src   netip.Addr
	demux *Demux
	mu    sync.Mutex
	vips  map[netip.Prefix]bool
	cut   bool // packets from and to this node are lost (crash, partition)
	garps int
	sent  int
	inbox chan Received
}

// receive is the node's "socket reader": it hands each packet to the
// demux until quit is closed.
func (n *hubNode) receive(quit <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case p := <-n.inbox:
			n.demux.Dispatch(p)
		case <-quit:
			return
		}
	}
}

func (n *hubNode) SendAdvert(payload []byte, dst netip.Addr) error {
	n.hub.mu.Lock()
	n.sent++
	cut := n.cut
	nodes := append([]*hubNode(nil), n.hub.nodes...)
	n.hub.mu.Unlock()
	if cut {
		return nil
	}
	for _, o := range nodes {
		if o == n || o.inbox == nil || o.isCut() || (dst.IsValid() && !dst.IsMulticast() && dst != o.src) {
			continue
		}
		select {
		case o.inbox <- Received{Payload: append([]byte(nil), payload...), Src: n.src, Dst: dst, TTL: 255}:
		default: // a full receive queue drops, as a socket buffer does
		}
	}
	return nil
}

func (n *hubNode) isCut() bool {
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	return n.cut
}

func (n *hubNode) AddVIPs(vips []VIP) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, v := range vips {
		n.vips[v.Prefix] = true
	}
	return nil
}

func (n *hubNode) RemoveVIPs(vips []VIP) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, v := range vips {
		delete(n.vips, v.Prefix)
	}
	return nil
}

func (n *hubNode) Announce(vips []VIP) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.garps++
	return nil
}

func (n *hubNode) holds(p netip.Prefix) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.vips[p]
}

func (n *hubNode) setCut(cut bool) {
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	n.cut = cut
}

var testVIP = netip.MustParsePrefix("192.0.2.100/32")

type router struct {
	node     *hubNode
	inst     *Instance
	cancel   context.CancelFunc
	done     chan struct{} // Run returned
	quit     chan struct{} // tells the reader to return
	received chan struct{} // the reader returned
	once     sync.Once
}

// startRouter runs one instance on the hub.
func startRouter(t *testing.T, h *hub, addr string, cfg InstanceConfig) *router {
	t.Helper()
	src := netip.MustParseAddr(addr)
	node := &hubNode{hub: h, src: src, vips: map[netip.Prefix]bool{}}
	cfg.Source = src
	cfg.Machine.PrimaryAddr = src
	if !cfg.Group.IsValid() {
		cfg.Group = netip.MustParseAddr("224.0.0.18")
	}
	if cfg.VIPs == nil {
		cfg.VIPs = []VIP{{Prefix: testVIP}}
	}
	inst, err := NewInstance(cfg, node)
	if err != nil {
		t.Fatal(err)
	}
	node.demux = NewDemux(inst)
	node.inbox = make(chan Received, 256)
	h.mu.Lock()
	h.nodes = append(h.nodes, node)
	h.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	r := &router{node: node, inst: inst, cancel: cancel, done: make(chan struct{}),
		quit: make(chan struct{}), received: make(chan struct{})}
	go node.receive(r.quit, r.received)
	go func() { defer close(r.done); inst.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop shuts the instance down, then its reader (once only).
func (r *router) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
		close(r.quit)
		<-r.received
	})
}

func v3Instance(name string, prio int) InstanceConfig {
	return InstanceConfig{Name: name, Machine: MachineConfig{Version: 3, VRID: 51, Priority: prio,
		AdvertInt: 100 * time.Millisecond, Preempt: true, InitialState: Backup}}
}

// eventually polls cond every 5 ms for at most 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func onlyHolder(rs ...*router) *router {
	var holder *router
	for _, r := range rs {
		if r.node.holds(testVIP) {
			if holder != nil {
				return nil
			}
			holder = r
		}
	}
	return holder
}

func TestInstancesElectTheHighestPriority(t *testing.T) {
	h := &hub{}
	a := startRouter(t, h, "192.0.2.1", v3Instance("A", 150))
	b := startRouter(t, h, "192.0.2.2", v3Instance("B", 100))
	c := startRouter(t, h, "192.0.2.3", v3Instance("C", 50))
	eventually(t, "A is the only master and holds the VIP", func() bool {
		return a.inst.State() == Master && b.inst.State() == Backup && c.inst.State() == Backup && onlyHolder(a, b, c) == a
	})
	if a.node.garps == 0 {
		t.Error("the master did not announce the VIP")
	}
}

func TestGracefulStopHandsOverAfterSkewTime(t *testing.T) {
	h := &hub{}
	a := startRouter(t, h, "192.0.2.1", v3Instance("A", 150))
	b := startRouter(t, h, "192.0.2.2", v3Instance("B", 100))
	eventually(t, "A is master", func() bool { return a.inst.State() == Master && b.inst.State() == Backup })
	stopped := time.Now()
	a.stop()
	if a.node.holds(testVIP) {
		t.Fatal("A kept the VIP after stopping")
	}
	if a.inst.Stats().PriZeroSent.Load() == 0 {
		t.Fatal("A did not resign with a priority-0 advert")
	}
	eventually(t, "B takes over", func() bool { return b.node.holds(testVIP) })
	// B heard the resignation, so it waited Skew_Time (~60 ms here) rather
	// than Master_Down_Interval (360 ms); the machine's tests pin the times
	// with a fake clock.
	if b.inst.Stats().PriZeroRcvd.Load() == 0 {
		t.Error("B took over without hearing A's priority-0 advert")
	}
	t.Logf("B took over %v after A stopped", time.Since(stopped))
}

func TestCrashFailoverAndPreemptBack(t *testing.T) {
	h := &hub{}
	a := startRouter(t, h, "192.0.2.1", v3Instance("A", 150))
	b := startRouter(t, h, "192.0.2.2", v3Instance("B", 100))
	eventually(t, "A is master", func() bool { return a.inst.State() == Master && b.inst.State() == Backup })
	a.node.setCut(true) // A's adverts stop reaching anyone, as if it died
	eventually(t, "B takes over", func() bool { return b.inst.State() == Master && b.node.holds(testVIP) })
	a.node.setCut(false) // A is back with a higher priority: it preempts
	eventually(t, "A is master again and B released the VIP", func() bool {
		return a.inst.State() == Master && b.inst.State() == Backup && !b.node.holds(testVIP)
	})
}

func TestNopreemptKeepsTheCurrentMaster(t *testing.T) {
	h := &hub{}
	cfgB := v3Instance("B", 100)
	b := startRouter(t, h, "192.0.2.2", cfgB)
	eventually(t, "B is master alone", func() bool { return b.inst.State() == Master })
	cfgA := v3Instance("A", 150)
	cfgA.Machine.Preempt = false
	a := startRouter(t, h, "192.0.2.1", cfgA)
	time.Sleep(800 * time.Millisecond) // more than two Master_Down_Intervals
	if a.inst.State() != Backup || b.inst.State() != Master {
		t.Fatalf("with nopreempt A must stay backup: A %v, B %v", a.inst.State(), b.inst.State())
	}
}

// TestEqualPrioritiesHealToTheHigherAddress: two equal-priority masters
// (HI cut off while both start) keep the higher address once they hear
// each other (RFC 5798 §6.4.3). A backup never preempts an equal master,
// so the tie-break only shows between two masters.
func TestEqualPrioritiesHealToTheHigherAddress(t *testing.T) {
	h := &hub{}
	lo := startRouter(t, h, "192.0.2.1", v3Instance("LO", 100))
	hi := startRouter(t, h, "192.0.2.9", v3Instance("HI", 100))
	hi.node.setCut(true)
	eventually(t, "both are master", func() bool { return hi.inst.State() == Master && lo.inst.State() == Master })
	hi.node.setCut(false)
	eventually(t, "the higher address is master", func() bool {
		return hi.inst.State() == Master && lo.inst.State() == Backup && onlyHolder(lo, hi) == hi
	})
}

func TestAuthMismatchIsDroppedAndCounted(t *testing.T) {
	h := &hub{}
	v2 := func(name string, prio int, pass string) InstanceConfig {
		return InstanceConfig{Name: name, AuthType: AuthPass, AuthPass: []byte(pass),
			Machine: MachineConfig{Version: 2, VRID: 51, Priority: prio, AdvertInt: time.Second, Preempt: true, InitialState: Backup}}
	}
	cfgA := v2("A", 150, "secret")
	cfgA.Machine.InitialState = Master // adverts start after one interval
	a := startRouter(t, h, "192.0.2.1", cfgA)
	cfgB := v2("B", 100, "other")
	logs := &syncBuffer{}
	cfgB.Log = slog.New(slog.NewTextHandler(logs, nil))
	b := startRouter(t, h, "192.0.2.2", cfgB)
	eventually(t, "B counts A's adverts as auth failures", func() bool {
		return b.inst.Stats().Dropped[DropAuthFailure].Load() > 0
	})
	if b.inst.Stats().AdvertRcvd.Load() != 0 {
		t.Fatal("B accepted an advert with the wrong password")
	}
	if a.inst.State() != Master {
		t.Fatalf("A is %v, want MASTER", a.inst.State())
	}
	if !strings.Contains(logs.String(), "(B) received an invalid passwd!") {
		t.Errorf("B did not log it as keepalived does:\n%s", logs)
	}
}

func TestUnicastPeersElect(t *testing.T) {
	h := &hub{}
	peerOf := func(addr string) []Peer { return []Peer{{Addr: netip.MustParseAddr(addr)}} }
	cfgA, cfgB := v3Instance("A", 150), v3Instance("B", 100)
	cfgA.Peers, cfgB.Peers = peerOf("192.0.2.2"), peerOf("192.0.2.1")
	a := startRouter(t, h, "192.0.2.1", cfgA)
	b := startRouter(t, h, "192.0.2.2", cfgB)
	eventually(t, "A is master over unicast", func() bool {
		return a.inst.State() == Master && b.inst.State() == Backup && onlyHolder(a, b) == a
	})
}

func TestCheckUnicastSrcDropsAdvertsFromStrangers(t *testing.T) {
	peer, stranger := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.9")
	for _, check := range []bool{false, true} {
		cfg := v3Instance("A", 100)
		cfg.Peers, cfg.CheckUnicastSrc = []Peer{{Addr: peer}}, check
		inst, err := NewInstance(cfg, &hubNode{vips: map[netip.Prefix]bool{}})
		if err != nil {
			t.Fatal(err)
		}
		adv := Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{testVIP.Addr()}}
		dst := netip.MustParseAddr("192.0.2.1")
		for _, src := range []netip.Addr{peer, stranger} {
			b, _ := adv.Marshal(src, dst, ChecksumV3Pseudo)
			inst.Deliver(Received{Payload: b, Src: src, Dst: dst, TTL: 255})
		}
		wantRcvd, wantDropped := uint64(2), uint64(0)
		if check {
			wantRcvd, wantDropped = 1, 1
		}
		s := inst.Stats()
		if s.AdvertRcvd.Load() != wantRcvd || s.Dropped[DropUnicastSrc].Load() != wantDropped {
			t.Errorf("check_unicast_src %v: received %d, unicast_src_err %d; want %d and %d",
				check, s.AdvertRcvd.Load(), s.Dropped[DropUnicastSrc].Load(), wantRcvd, wantDropped)
		}
	}
}

func TestDemuxCountsUnknownVRIDs(t *testing.T) {
	inst, err := NewInstance(v3Instance("A", 100), &hubNode{vips: map[netip.Prefix]bool{}})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDemux(inst)
	adv := Advert{Version: 3, VRID: 77, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{testVIP.Addr()}}
	src, dst := netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("224.0.0.18")
	b, _ := adv.Marshal(src, dst, ChecksumV3Pseudo)
	d.Dispatch(Received{Payload: b, Src: src, Dst: dst, TTL: 255})
	d.Dispatch(Received{Payload: b[:3], Src: src, Dst: dst, TTL: 255})
	if d.Unknown.Load() != 1 || d.Short.Load() != 1 {
		t.Fatalf("unknown %d short %d, want 1 and 1", d.Unknown.Load(), d.Short.Load())
	}
}

func TestBadTTLIsDroppedWithoutTouchingTimers(t *testing.T) {
	inst, err := NewInstance(v3Instance("A", 100), &hubNode{vips: map[netip.Prefix]bool{}})
	if err != nil {
		t.Fatal(err)
	}
	adv := Advert{Version: 3, VRID: 51, Priority: 200, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{testVIP.Addr()}}
	src, dst := netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("224.0.0.18")
	b, _ := adv.Marshal(src, dst, ChecksumV3Pseudo)
	inst.Deliver(Received{Payload: b, Src: src, Dst: dst, TTL: 254})
	if inst.Stats().Dropped[DropTTL].Load() != 1 || inst.Stats().AdvertRcvd.Load() != 0 {
		t.Fatalf("a TTL-254 advert must be dropped and counted (ip_ttl_err=%d, received=%d)", inst.Stats().Dropped[DropTTL].Load(), inst.Stats().AdvertRcvd.Load())
	}
}

func TestWriteStatsUsesKeepalivedsFormat(t *testing.T) {
	inst, err := NewInstance(v3Instance("VI_1", 100), &hubNode{vips: map[netip.Prefix]bool{}})
	if err != nil {
		t.Fatal(err)
	}
	inst.stats.AdvertSent.Add(3)
	inst.stats.Dropped[DropTTL].Add(2)
	inst.stats.Dropped[DropAuthFailure].Add(1)
	var b strings.Builder
	inst.WriteStats(&b)
	// The layout keepalived 2.2.7 writes to /tmp/keepalived.stats.
	want := `VRRP Instance: VI_1
  Advertisements:
    Received: 0
    Sent: 3
  Became master: 0
  Released master: 0
  Packet Errors:
    Length: 0
    TTL: 2
    Invalid Type: 0
    Advertisement Interval: 0
    Address List: 0
  Authentication Errors:
    Invalid Type: 0
    Type Mismatch: 0
    Failure: 1
  Priority Zero:
    Received: 0
    Sent: 0
`
	if b.String() != want {
		t.Fatalf("stats:\n%s\nwant:\n%s", b.String(), want)
	}
}

type discardNet struct{}

func (discardNet) SendAdvert([]byte, netip.Addr) error { return nil }
func (discardNet) AddVIPs([]VIP) error                 { return nil }
func (discardNet) RemoveVIPs([]VIP) error              { return nil }
func (discardNet) Announce([]VIP) error                { return nil }

// backupAndItsMastersAdvert is a started backup (VRID 51, priority 100)
// and an advert from its priority-150 master.
func backupAndItsMastersAdvert(tb testing.TB) (*Instance, Received) {
	tb.Helper()
	cfg := v3Instance("VI_1", 100)
	cfg.VIPs = []VIP{{Prefix: testVIP}}
	cfg.Log = slog.New(slog.DiscardHandler)
	inst, err := NewInstance(cfg, discardNet{})
	if err != nil {
		tb.Fatal(err)
	}
	inst.step(Start{})
	adv := Advert{Version: 3, VRID: 51, Priority: 150, Interval: 50 * time.Millisecond, Addrs: []netip.Addr{testVIP.Addr()}}
	src, dst := netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("224.0.0.18")
	payload, err := adv.Marshal(src, dst, ChecksumV3Pseudo)
	if err != nil {
		tb.Fatal(err)
	}
	return inst, Received{Payload: payload, Src: src, Dst: dst, TTL: 255}
}

// BenchmarkInstanceDeliver is the receive path of a backup: the checks of
// one valid advert and the state machine's step.
func BenchmarkInstanceDeliver(b *testing.B) {
	inst, p := backupAndItsMastersAdvert(b)
	b.ReportAllocs()
	for b.Loop() {
		inst.Deliver(p)
	}
}

// BenchmarkInstanceSendAdvert is the send path of a master: encode and
// hand one advert to the network.
func BenchmarkInstanceSendAdvert(b *testing.B) {
	cfg := v3Instance("VI_1", 100)
	cfg.Source, cfg.Group = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("224.0.0.18")
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

// A master resumed by a reload announces only the addresses that are new
// to it: the others never moved.
func TestResumedMasterAnnouncesOnlyFreshAddresses(t *testing.T) {
	for _, tc := range []struct {
		fresh     []VIP
		wantGARPs bool
	}{{nil, false}, {[]VIP{{Prefix: testVIP}}, true}} {
		node := &hubNode{vips: map[netip.Prefix]bool{}}
		cfg := v3Instance("A", 150)
		cfg.VIPs = []VIP{{Prefix: testVIP}}
		cfg.Announce = AnnounceConfig{Repeat: 1}
		inst, err := NewInstance(cfg, node)
		if err != nil {
			t.Fatal(err)
		}
		inst.Resume(Master, tc.fresh)
		time.Sleep(50 * time.Millisecond)
		node.mu.Lock()
		garps := node.garps
		node.mu.Unlock()
		if inst.State() != Master || !node.holds(testVIP) || (garps > 0) != tc.wantGARPs {
			t.Errorf("fresh %v: state %v, holds %v, %d announcements", tc.fresh, inst.State(), node.holds(testVIP), garps)
		}
		inst.cancelAnnounce()
	}
}

// A unicast backup leaving FAULT announces its own address (keepalived's
// try_up_instance), so that the master can reach it at once; a multicast
// one has nothing to announce.
func TestUnicastInstanceAnnouncesItsAddressLeavingFault(t *testing.T) {
	for _, unicast := range []bool{false, true} {
		node := &hubNode{vips: map[netip.Prefix]bool{}}
		cfg := v3Instance("A", 100)
		cfg.Machine.AdvertInt = time.Second // no takeover during the test
		cfg.Source, cfg.SourceInterface = netip.MustParseAddr("192.0.2.1"), "eth0"
		if unicast {
			cfg.Peers = []Peer{{Addr: netip.MustParseAddr("192.0.2.2")}}
		}
		inst, err := NewInstance(cfg, node)
		if err != nil {
			t.Fatal(err)
		}
		inst.SetFault(true)
		inst.Start()
		inst.SetFault(false)
		inst.effects.wait()
		node.mu.Lock()
		garps := node.garps
		node.mu.Unlock()
		if inst.State() != Backup || (garps == 1) != unicast || garps > 1 {
			t.Errorf("unicast %v: state %v after the fault, %d announcements", unicast, inst.State(), garps)
		}
	}
}

// Buckets 3 and 7 are (1ms, 5ms] and (100ms, 500ms] (latency.Bounds).
func TestRecordLatenessFeedsTheHistogram(t *testing.T) {
	inst, err := NewInstance(v3Instance("VI_1", 100), discardNet{})
	if err != nil {
		t.Fatal(err)
	}
	inst.recordLateness(3 * time.Millisecond)
	inst.recordLateness(200 * time.Millisecond) // also logs a warning
	s := inst.Stats().TimerLateness.Snapshot()
	if s.Count != 2 || s.Counts[3] != 1 || s.Counts[7] != 1 {
		t.Fatalf("lateness histogram %+v, want one in (1ms, 5ms] and one in (100ms, 500ms]", s)
	}
	if s.Max != 200*time.Millisecond {
		t.Fatalf("max %v, want 200ms", s.Max)
	}
}

// Alive answers while Run runs, and not when the instance's lock is held
// (a stuck timer or advert) or after Run returned.
func TestAliveAnswersOnlyWhileTheLoopRuns(t *testing.T) {
	r := startRouter(t, &hub{}, "192.0.2.1", v3Instance("A", 100))
	alive := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return r.inst.Alive(ctx)
	}
	if !alive() {
		t.Fatal("a running instance does not answer")
	}
	r.inst.mu.Lock()
	stuck := alive()
	r.inst.mu.Unlock()
	if stuck {
		t.Fatal("an instance whose lock is held answers")
	}
	if !alive() {
		t.Fatal("the instance does not answer once its lock is free")
	}
	r.stop()
	if alive() {
		t.Fatal("a stopped instance answers")
	}
}

// syncBuffer is a log destination safe for the instance's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWrongCastAdvertIsDroppedAndCounted: a priority-254 advert, valid in
// every other way, sent to a multicast master's own address does not
// make it step down; it is counted in addr_list_err and logged once, in
// keepalived's words (vrrp.c vrrp_check_packet). The reverse for a
// unicast instance. The same advert sent to the group does win, so the
// advert itself is one the master would yield to.
func TestWrongCastAdvertIsDroppedAndCounted(t *testing.T) {
	self, other := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.9")
	group := netip.MustParseAddr("224.0.0.18")
	for _, tc := range []struct {
		name     string
		peers    []Peer
		dst      netip.Addr // the wrong kind
		good     netip.Addr // the right kind
		wantLine string
	}{
		{"multicast instance", nil, self, group,
			"(A) Expected multicast packet but received unicast packet from 192.0.2.9"},
		{"unicast instance", []Peer{{Addr: other}}, group, self,
			"(A) Expected unicast packet but received multicast packet from 192.0.2.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			cfg := v3Instance("A", 100)
			cfg.Machine.InitialState = Master
			cfg.Peers = tc.peers
			cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
			r := startRouter(t, &hub{}, self.String(), cfg)
			eventually(t, "A is master", func() bool { return r.inst.State() == Master && r.node.holds(testVIP) })
			adv := Advert{Version: 3, VRID: 51, Priority: 254, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{testVIP.Addr()}}
			wrong, _ := adv.Marshal(other, tc.dst, ChecksumV3Pseudo)
			for range 30 { // three Master_Down_Intervals' worth
				r.node.inbox <- Received{Payload: wrong, Src: other, Dst: tc.dst, TTL: 255}
				time.Sleep(10 * time.Millisecond)
			}
			s := r.inst.Stats()
			eventually(t, "all 30 adverts are counted", func() bool { return s.AddrListErr.Load() == 30 })
			if r.inst.State() != Master || !r.node.holds(testVIP) {
				t.Fatalf("A is %v (holds the VIP: %v) after adverts of the wrong kind", r.inst.State(), r.node.holds(testVIP))
			}
			if s.Dropped[DropAddrList].Load() != 30 || s.AdvertRcvd.Load() != 0 || s.BecomeMaster.Load() != 1 {
				t.Errorf("dropped as addr_list_err %d, received %d, became master %d; want 30, 0, 1",
					s.Dropped[DropAddrList].Load(), s.AdvertRcvd.Load(), s.BecomeMaster.Load())
			}
			if n := strings.Count(logs.String(), tc.wantLine); n != 1 {
				t.Errorf("%q logged %d times, want once:\n%s", tc.wantLine, n, logs.String())
			}
			good, _ := adv.Marshal(other, tc.good, ChecksumV3Pseudo)
			r.node.inbox <- Received{Payload: good, Src: other, Dst: tc.good, TTL: 255}
			eventually(t, "A yields to the same advert of the right kind", func() bool { return r.inst.State() == Backup })
		})
	}
}

// TestSkipCheckAdvAddrChecksOnlyANewMaster: adverts whose address list
// differs from the instance's are accepted and counted in addr_list_err
// (keepalived ≥ 2.3.3, vrrp.c vrrp_check_packet). With skip_check_adv_addr
// a backup compares the list only for an advert from a new master
// (vrrp_state_backup's master_change), always compares the count, and a
// master compares every advert.
func TestSkipCheckAdvAddrChecksOnlyANewMaster(t *testing.T) {
	x, y := netip.MustParseAddr("192.0.2.9"), netip.MustParseAddr("192.0.2.10")
	other := netip.MustParseAddr("192.0.2.101")
	same := func(a netip.Addr) []netip.Addr { return []netip.Addr{a, a, a, a, a, a, a, a, a, a} }
	for _, tc := range []struct {
		name     string
		skip     bool
		master   bool // the instance is master, the adverts lower
		from     []netip.Addr
		addrs    []netip.Addr
		want     uint64
		wantLine string
	}{
		{"without, one master", false, false, same(x), []netip.Addr{other}, 10,
			"(A) ip address associated with VRID 51 not present in advert from 192.0.2.9: 192.0.2.100"},
		{"with, one master", true, false, same(x), []netip.Addr{other}, 1,
			"(A) ip address associated with VRID 51 not present in advert from 192.0.2.9: 192.0.2.100"},
		{"with, the master changes each time", true, false, []netip.Addr{x, y, x, y, x, y, x, y, x, y}, []netip.Addr{other}, 10, ""},
		{"with, another count", true, false, same(x), []netip.Addr{testVIP.Addr(), other}, 10, "(A) expected 1 VIPs but received 2"},
		{"with, as master", true, true, same(x), []netip.Addr{other}, 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			cfg := v3Instance("A", 100)
			cfg.SkipCheckAdvAddr = tc.skip
			cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
			prio := uint8(200)
			want := Backup
			if tc.master {
				cfg.Machine.InitialState, prio, want = Master, 50, Master
			}
			r := startRouter(t, &hub{}, "192.0.2.1", cfg)
			eventually(t, "A has started", func() bool { return r.inst.State() == want })
			group := netip.MustParseAddr("224.0.0.18")
			adv := Advert{Version: 3, VRID: 51, Priority: prio, Interval: 100 * time.Millisecond, Addrs: tc.addrs}
			for _, src := range tc.from {
				b, _ := adv.Marshal(src, group, ChecksumV3Pseudo)
				r.node.inbox <- Received{Payload: b, Src: src, Dst: group, TTL: 255}
				time.Sleep(10 * time.Millisecond)
			}
			s := r.inst.Stats()
			eventually(t, "all 10 adverts are received", func() bool { return s.AdvertRcvd.Load() == 10 })
			if got := s.AddrListErr.Load(); got != tc.want {
				t.Errorf("addr_list_err %d, want %d", got, tc.want)
			}
			if r.inst.State() != want {
				t.Errorf("A is %v after the adverts, want %v", r.inst.State(), want)
			}
			if tc.wantLine != "" && strings.Count(logs.String(), tc.wantLine) != 1 {
				t.Errorf("%q not logged once:\n%s", tc.wantLine, logs.String())
			}
		})
	}
}

// TestOldUnicastChecksum: keepalived 1.3.6 and earlier checksummed
// unicast VRRPv3 adverts with the group in the pseudo-header. By default
// an instance that receives such an advert accepts it and answers in kind
// from then on ("Setting unicast VRRPv3 checksum to old version", vrrp.c
// vrrp_check_packet); with old_unicast_checksum never it drops it as a
// checksum error; with old_unicast_checksum it sends that way from the
// start.
func TestOldUnicastChecksum(t *testing.T) {
	self, peer := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.9")
	group := netip.MustParseAddr("224.0.0.18")
	for _, tc := range []struct {
		name     string
		mode     OldChecksumMode
		accepted bool
	}{
		{"learnt", OldChecksumLearn, true},
		{"never", OldChecksumNever, false},
		{"always", OldChecksumAlways, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			cfg := v3Instance("A", 100)
			cfg.Peers = []Peer{{Addr: peer}}
			cfg.OldUnicastChecksum, cfg.ChecksumGroup = tc.mode, group
			cfg.Machine.InitialState = Master
			cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
			h := &hub{}
			r := startRouter(t, h, self.String(), cfg)
			// A listener in the peer's place sees what A sends.
			sink := &hubNode{hub: h, src: peer, vips: map[netip.Prefix]bool{}, inbox: make(chan Received, 256)}
			h.mu.Lock()
			h.nodes = append(h.nodes, sink)
			h.mu.Unlock()
			eventually(t, "A is master", func() bool { return r.inst.State() == Master })
			adv := Advert{Version: 3, VRID: 51, Priority: 50, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{testVIP.Addr()}}
			old, _ := adv.Marshal(peer, group, ChecksumV3Pseudo) // the pseudo-header says the group
			r.node.inbox <- Received{Payload: old, Src: peer, Dst: self, TTL: 255}
			s := r.inst.Stats()
			if tc.accepted {
				eventually(t, "the advert is accepted", func() bool { return s.AdvertRcvd.Load() == 1 })
			} else {
				eventually(t, "the advert is dropped", func() bool { return s.Dropped[DropChecksum].Load() == 1 })
			}
			// What A sends next: drain, then take a fresh one.
			for len(sink.inbox) > 0 {
				<-sink.inbox
			}
			var sent Received
			select {
			case sent = <-sink.inbox:
			case <-time.After(2 * time.Second):
				t.Fatal("A sent nothing")
			}
			_, errOld := Parse(sent.Payload, self, group, ChecksumV3Pseudo)
			_, errNew := Parse(sent.Payload, self, peer, ChecksumV3Pseudo)
			if wantOld := tc.mode != OldChecksumNever; (errOld == nil) != wantOld || (errNew == nil) == wantOld {
				t.Errorf("A's advert: old checksum %v, new %v; want the old one %v", errOld, errNew, wantOld)
			}
			learnt := strings.Contains(logs.String(), "(A) Setting unicast VRRPv3 checksum to old version")
			if learnt != (tc.mode == OldChecksumLearn) {
				t.Errorf("logged the switch: %v:\n%s", learnt, logs.String())
			}
		})
	}
}

// A backup receiving its master's adverts allocates nothing per advert
// (a backup of 1,000 instances at advert_int 0.1 receives 10,000 a
// second): the address list is parsed into a buffer on the stack.
func TestDeliverAllocatesNothing(t *testing.T) {
	inst, p := backupAndItsMastersAdvert(t)
	demux := NewDemux(inst)
	if n := testing.AllocsPerRun(100, func() { demux.Dispatch(p) }); n != 0 {
		t.Fatalf("%v allocations per advert delivered, want 0", n)
	}
	if got := inst.Stats().AdvertRcvd.Load(); got < 100 {
		t.Fatalf("%d adverts received, want every one", got)
	}
}

// ParseInto gives what Parse gives, its addresses in the caller's buffer.
func TestParseIntoUsesTheCallersBuffer(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")}
	adv := Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: addrs}
	src, dst := netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("224.0.0.18")
	payload, err := adv.Marshal(src, dst, ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse(payload, src, dst, ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]netip.Addr, 1, 4) // its old contents are not kept
	got, err := ParseInto(payload, src, dst, ChecksumV3Pseudo, buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || !slices.Equal(got.Addrs, addrs) {
		t.Fatalf("ParseInto: %+v, Parse: %+v", got, want)
	}
	if &got.Addrs[0] != &buf[:1][0] {
		t.Fatal("ParseInto did not use the buffer it was given")
	}
}
