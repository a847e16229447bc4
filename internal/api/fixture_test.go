package api

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// nopNet is a vrrp.Net that accepts everything and sends nothing.
type nopNet struct{}

func (nopNet) SendAdvert([]byte, netip.Addr) error { return nil }
func (nopNet) AddVIPs([]vrrp.VIP) error            { return nil }
func (nopNet) RemoveVIPs([]vrrp.VIP) error         { return nil }
func (nopNet) Announce([]vrrp.VIP) error           { return nil }

var (
	peer  = netip.MustParseAddr("192.0.2.9")
	group = vrrp.MulticastIPv4
)

// fixture is two started instances, driven by hand so that every counter
// is known:
//
//   - VI_1 on eth0, VRID 51, the address owner (priority 255): MASTER at
//     once; it sent one advert; one VIP and one excluded VIP.
//   - VI_2 on eth1, VRID 52, priority 100: BACKUP; it received two valid
//     adverts (one of priority 0) and dropped one with TTL 254; its timers
//     fired 3 ms and 200 ms late.
func fixture(t *testing.T) []*vrrp.Instance {
	t.Helper()
	owner := newInstance(t, vrrp.InstanceConfig{Name: "VI_1", Interface: "eth0",
		Machine:  machine(51, 255),
		Source:   netip.MustParseAddr("192.0.2.1"),
		VIPs:     []vrrp.VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/32")}},
		Excluded: []vrrp.VIP{{Prefix: netip.MustParsePrefix("192.0.2.101/32")}},
	})
	backup := newInstance(t, vrrp.InstanceConfig{Name: "VI_2", Interface: "eth1",
		Machine: machine(52, 100),
		Source:  netip.MustParseAddr("192.0.2.2"),
		VIPs:    []vrrp.VIP{{Prefix: netip.MustParsePrefix("192.0.2.200/24"), Dev: "eth1"}},
		Announce: vrrp.AnnounceConfig{Repeat: 5, Delay: 5 * time.Second, RefreshRepeat: 1,
			LowerPrioRepeat: 5, LowerPrioDelay: 5 * time.Second},
	})
	deliver(t, backup, 52, 200, 255, "192.0.2.200")
	deliver(t, backup, 52, 0, 255, "192.0.2.200")
	deliver(t, backup, 52, 200, 254, "192.0.2.200")
	backup.Stats().TimerLateness.Observe(3 * time.Millisecond)
	backup.Stats().TimerLateness.Observe(200 * time.Millisecond)
	if owner.State() != vrrp.Master || backup.State() != vrrp.Backup {
		t.Fatalf("fixture: VI_1 %v, VI_2 %v; want MASTER and BACKUP", owner.State(), backup.State())
	}
	return []*vrrp.Instance{owner, backup}
}

func machine(vrid, prio int) vrrp.MachineConfig {
	return vrrp.MachineConfig{Version: 3, VRID: vrid, Priority: prio, AdvertInt: time.Second,
		Preempt: true, InitialState: vrrp.Backup, HigherPrioSendAdvert: true}
}

// newInstance builds and starts an instance; it is not Run, so nothing
// happens to it but what the test does.
func newInstance(t *testing.T, cfg vrrp.InstanceConfig) *vrrp.Instance {
	t.Helper()
	cfg.Group = group
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Machine.PrimaryAddr = cfg.Source
	in, err := vrrp.NewInstance(cfg, nopNet{})
	if err != nil {
		t.Fatal(err)
	}
	in.Start()
	return in
}

// deliver hands the instance a VRRPv3 advert from peer.
func deliver(t *testing.T, in *vrrp.Instance, vrid, prio int, ttl uint8, vip string) {
	t.Helper()
	adv := vrrp.Advert{Version: 3, Type: vrrp.TypeAdvertisement, VRID: uint8(vrid), Priority: uint8(prio),
		Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr(vip)}}
	b, err := adv.Marshal(peer, group, vrrp.ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	in.Deliver(vrrp.Received{Payload: b, Src: peer, Dst: group, TTL: ttl})
}

func sourceOf(insts []*vrrp.Instance) Source {
	return SourceFunc(func() []*vrrp.Instance { return insts })
}
