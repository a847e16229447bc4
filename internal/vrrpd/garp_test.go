package vrrpd

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// sentLog records what a pacer sends, and when.
type sentLog struct {
	mu   sync.Mutex
	sent []sentGARP
}

type sentGARP struct {
	at  time.Time
	vip vrrp.VIP
}

func (s *sentLog) send(v vrrp.VIP) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, sentGARP{time.Now(), v})
	return nil
}

func (s *sentLog) get() []sentGARP {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// String is "addr@ms ..." from the first packet.
func (s *sentLog) String() string {
	var b strings.Builder
	got := s.get()
	for _, g := range got {
		fmt.Fprintf(&b, "%v@%d ", g.vip.Prefix.Addr(), g.at.Sub(got[0].at).Milliseconds())
	}
	return b.String()
}

func pacerFor(t *testing.T, conf string) (*garpPacer, *sentLog) {
	t.Helper()
	cfg, _ := config.LoadBytes("t.conf", []byte(conf), config.Options{InterfaceExists: func(string) bool { return true }})
	log := &sentLog{}
	p := newGARPPacer(cfg.GlobalDefs, cfg.GarpGroups, log.send)
	t.Cleanup(p.stop)
	return p, log
}

func vipOn(addr, dev string) vrrp.VIP {
	a := netip.MustParseAddr(addr)
	return vrrp.VIP{Prefix: netip.PrefixFrom(a, a.BitLen()), Dev: dev}
}

func owner(order int, vs ...vrrp.VIP) *kernelNet {
	n := &kernelNet{order: order, vips: vs, log: slog.Default()}
	n.held.Store(true)
	return n
}

// checkSent compares the addresses sent, in order, and that packet i
// came at least after[i] after the first (less 1 ms: the pacer reads its
// clock just before the first send is recorded).
func checkSent(t *testing.T, log *sentLog, want []string, after []time.Duration) {
	t.Helper()
	got := log.get()
	var addrs []string
	for _, g := range got {
		addrs = append(addrs, g.vip.Prefix.Addr().String())
	}
	if !slices.Equal(addrs, want) {
		t.Fatalf("sent %v, want %v", log, want)
	}
	for i := 1; i < len(got); i++ {
		if d := got[i].at.Sub(got[0].at); d < after[i]-time.Millisecond {
			t.Errorf("packet %d came %v after the first, want at least %v (sent %v)", i, d, after[i], log)
		}
	}
}

// keepalived's queue_garp and vrrp_arp_thread: with vrrp_garp_interval,
// three back-to-back bursts for two addresses become three packets: the
// first address now, then (one per interval) the first again and the
// second, each instance's addresses in their order.
func TestPacerShrinksBurstsAsKeepalived(t *testing.T) {
	p, log := pacerFor(t, "global_defs {\n vrrp_garp_interval 0.05\n}\n")
	a, b := vipOn("198.51.100.200", "eth0"), vipOn("198.51.100.201", "eth0")
	n := owner(0, a, b)
	for range 3 {
		p.announce(n, []vrrp.VIP{a, b})
	}
	time.Sleep(250 * time.Millisecond)
	checkSent(t, log, []string{"198.51.100.200", "198.51.100.200", "198.51.100.201"},
		[]time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond})
}

// Without an interval nothing is held back; IPv6 is spaced by
// vrrp_gna_interval only.
func TestPacerSendsAtOnceWithoutInterval(t *testing.T) {
	p, log := pacerFor(t, "global_defs {\n vrrp_garp_interval 0.05\n}\n")
	a, b := vipOn("2001:db8::200", "eth0"), vipOn("2001:db8::201", "eth0")
	n := owner(0, a, b)
	for range 3 {
		p.announce(n, []vrrp.VIP{a, b})
	}
	if got := len(log.get()); got != 6 {
		t.Errorf("%d NAs sent at once, want 6 (no vrrp_gna_interval)", got)
	}
	p, log = pacerFor(t, "global_defs {\n}\n")
	a4, b4 := vipOn("198.51.100.200", "eth0"), vipOn("198.51.100.201", "eth0")
	for range 3 {
		p.announce(n, []vrrp.VIP{a4, b4})
	}
	if got := len(log.get()); !p.unpaced || got != 6 {
		t.Errorf("no interval at all: unpaced %v, %d GARPs sent at once, want 6", p.unpaced, got)
	}
}

// A garp_group's interfaces share one delay; an interface outside it has
// the global one; a VMAC is paced with its parent.
func TestPacerGarpGroupAggregatesInterfaces(t *testing.T) {
	p, log := pacerFor(t, `garp_group {
 garp_interval 0.05
 interfaces {
  eth0
  eth1
 }
}
`)
	p.setBase("vrrp.51", "eth1")
	a, b, c, d := vipOn("198.51.100.200", "eth0"), vipOn("198.51.100.201", "vrrp.51"), vipOn("198.51.100.202", "eth2"), vipOn("198.51.100.203", "eth2")
	n := owner(0, a, b, c, d)
	p.announce(n, []vrrp.VIP{a, b, c, d})
	time.Sleep(150 * time.Millisecond)
	// eth2 is not paced (no global interval): c and d go at once.
	checkSent(t, log, []string{"198.51.100.200", "198.51.100.202", "198.51.100.203", "198.51.100.201"},
		[]time.Duration{0, 0, 0, 50 * time.Millisecond})
}

// Pending packets of an instance that lost its VIPs are dropped
// (vrrp_arp_thread skips a vrrp no longer master); instances go in
// configuration order.
func TestPacerDropsReleasedAndOrdersInstances(t *testing.T) {
	p, log := pacerFor(t, "global_defs {\n vrrp_garp_interval 0.05\n}\n")
	a, b, c := vipOn("198.51.100.200", "eth0"), vipOn("198.51.100.201", "eth0"), vipOn("198.51.100.202", "eth0")
	first, second, third := owner(0, a), owner(1, b), owner(2, c)
	p.announce(third, []vrrp.VIP{c})
	p.announce(second, []vrrp.VIP{b})
	p.announce(first, []vrrp.VIP{a})
	second.held.Store(false)
	time.Sleep(150 * time.Millisecond)
	checkSent(t, log, []string{"198.51.100.202", "198.51.100.200"}, []time.Duration{0, 50 * time.Millisecond})
}

// garp_lower_prio_repeat and _delay resolve as keepalived's: the instance's,
// else the global ones, else the master's repeat and delay (after
// vrrp_min_garp); none in strict mode.
func TestAnnounceConfigLowerPrio(t *testing.T) {
	for _, tc := range []struct {
		name, global, inst string
		repeat             int
		delay              time.Duration
	}{
		{"defaults", "", "", 5, 5 * time.Second},
		{"master's", "vrrp_garp_master_repeat 2\nvrrp_garp_master_delay 3\n", "", 2, 3 * time.Second},
		{"vrrp_min_garp", "vrrp_min_garp\n", "", 1, 0},
		{"global", "vrrp_garp_lower_prio_repeat 4\nvrrp_garp_lower_prio_delay 7\n", "", 4, 7 * time.Second},
		{"instance", "vrrp_garp_lower_prio_repeat 4\n", "garp_lower_prio_repeat 1\ngarp_lower_prio_delay 0\n", 1, 0},
		{"strict", "vrrp_strict\n", "", 0, 0},
		{"strict resets", "vrrp_strict\n", "garp_lower_prio_repeat 3\ngarp_lower_prio_delay 2\n", 0, 0},
	} {
		text := "global_defs {\n" + tc.global + "}\nvrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n priority 255\n" +
			tc.inst + " virtual_ipaddress {\n 198.51.100.1\n }\n}\n"
		cfg, _ := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true }})
		ac := announceConfig(cfg.GlobalDefs, cfg.Instances[0], nil, "lo", 4)
		if ac.LowerPrioRepeat != tc.repeat || ac.LowerPrioDelay != tc.delay {
			t.Errorf("%s: garp_lower_prio_repeat %d, delay %v; want %d, %v", tc.name, ac.LowerPrioRepeat, ac.LowerPrioDelay, tc.repeat, tc.delay)
		}
	}
}

// garp_extra_if resolves as keepalived's vrrp_complete_instance and
// vrrp_send_vmac_update pick: the instance's keyword, else the global
// one; off without an address on another interface; without "all" only
// the VMACs of use_vmac_addr or an address line's use_vmac count; then
// the first address of each other interface, and the instance's own only
// with vmac_xmit_base.
func TestExtraIfPicksOneAddressPerOtherInterface(t *testing.T) {
	vips := " virtual_ipaddress {\n 198.51.100.1\n 192.0.2.1 dev eth1\n 192.0.2.2 dev eth1\n 203.0.113.1 dev eth2\n }\n"
	for _, tc := range []struct {
		name, global, inst, vips string
		vmac                     bool
		interval                 time.Duration
		want                     []string
	}{
		{"all", "", "garp_extra_if all 60\n", vips, false, time.Minute, []string{"192.0.2.1", "203.0.113.1"}},
		{"global", "vrrp_garp_extra_if 30 all\n", "", vips, false, 30 * time.Second, []string{"192.0.2.1", "203.0.113.1"}},
		{"vmac_garp_intvl", "", "vmac_garp_intvl all 5\n", vips, false, 5 * time.Second, []string{"192.0.2.1", "203.0.113.1"}},
		{"instance 0 turns the global off", "vrrp_garp_extra_if all 30\n", "garp_extra_if all 0\n", vips, false, 0, nil},
		{"without all", "", "garp_extra_if 60\n", vips, false, 0, nil},
		{"no other interface", "", "garp_extra_if all 60\n", " virtual_ipaddress {\n 198.51.100.1\n }\n", false, 0, nil},
		{"vmac_xmit_base, use_vmac", "", "garp_extra_if all 60\nuse_vmac\nvmac_xmit_base\n", vips, true, time.Minute,
			[]string{"198.51.100.1", "192.0.2.1", "203.0.113.1"}},
		{"no time", "", "garp_extra_if all\n", vips, false, 0, nil},
		{"without all, an address's VMAC", "", "garp_extra_if 60\n",
			" virtual_ipaddress {\n 198.51.100.1\n 192.0.2.1 dev eth1 use_vmac\n 203.0.113.1 dev eth2\n }\n", false, time.Minute, []string{"192.0.2.1"}},
	} {
		text := "global_defs {\n" + tc.global + "}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 255\n" +
			tc.inst + tc.vips + "}\n"
		cfg, _ := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true }})
		vipIf := "eth0"
		ln := &instanceLinks{extra: map[vipPlace]string{}}
		if tc.vmac {
			vipIf = "vrrp.1"
			ln.vmac, ln.vipIf = &kernel.VMAC{}, vipIf
		}
		if strings.Contains(tc.vips, "use_vmac") {
			ln.extra[vipPlace{"eth1", 4}] = "vrrp1.1"
		}
		ac := announceConfig(cfg.GlobalDefs, cfg.Instances[0], ln, vipIf, 4)
		var got []string
		for _, v := range ac.ExtraVIPs {
			got = append(got, v.Prefix.Addr().String())
		}
		if ac.ExtraInterval != tc.interval || !slices.Equal(got, tc.want) {
			t.Errorf("%s: every %v %v, want every %v %v", tc.name, ac.ExtraInterval, got, tc.interval, tc.want)
		}
	}
}

// A garp_group with garp_interval 0 keeps its interfaces out of the global
// vrrp_garp_interval (keepalived gives an interface one delay: its group's).
func TestPacerZeroIntervalGroupEscapesTheGlobalInterval(t *testing.T) {
	p, log := pacerFor(t, "global_defs {\n vrrp_garp_interval 0.05\n}\ngarp_group {\n garp_interval 0\n interface eth1\n}\n")
	a, b := vipOn("198.51.100.200", "eth1"), vipOn("198.51.100.201", "eth0")
	n := owner(0, a, b)
	for range 2 {
		p.announce(n, []vrrp.VIP{a, b})
	}
	time.Sleep(100 * time.Millisecond)
	checkSent(t, log, []string{"198.51.100.200", "198.51.100.201", "198.51.100.200", "198.51.100.201"},
		[]time.Duration{0, 0, 0, 50 * time.Millisecond})
}
