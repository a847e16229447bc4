package vrrp

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

// announceLog records the addresses each Announce call was for, and when.
type announceLog struct {
	discardNet
	mu    sync.Mutex
	calls []announceCall
}

type announceCall struct {
	at   time.Time
	addr netip.Addr
}

func (n *announceLog) Announce(vs []VIP) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, v := range vs {
		n.calls = append(n.calls, announceCall{time.Now(), v.Prefix.Addr()})
	}
	return nil
}

func (n *announceLog) since(t0 time.Time) []announceCall {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []announceCall
	for _, c := range n.calls {
		if !c.at.Before(t0) {
			out = append(out, c)
		}
	}
	return out
}

// masterWith resumes an instance as master on a recording Net and waits
// for its takeover announcements to pass.
func masterWith(t *testing.T, cfg InstanceConfig) (*Instance, *announceLog) {
	t.Helper()
	net := &announceLog{}
	cfg.Source, cfg.Group = netip.MustParseAddr("198.51.100.2"), MulticastIPv4
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	inst, err := NewInstance(cfg, net)
	if err != nil {
		t.Fatal(err)
	}
	inst.Resume(Master, cfg.VIPs)
	eventually(t, "master", func() bool { return inst.State() == Master })
	time.Sleep(20 * time.Millisecond)
	t.Cleanup(func() {
		inst.cancelAnnounce()
		inst.effects.wait()
		inst.announcing.Wait()
	})
	return inst, net
}

// keepalived's vrrp_receive_advert: a master hearing a lower priority
// sends garp_lower_prio_repeat announcements at once and as many again
// garp_lower_prio_delay later, with or without lower_prio_no_advert; with
// garp_lower_prio_repeat 0, none. The master's own schedule
// (garp_master_repeat, refresh) is left alone.
func TestLowerPriorityAdvertAnnouncesGarpLowerPrioRepeat(t *testing.T) {
	for _, tc := range []struct {
		name     string
		repeat   int
		noAdvert bool
		want     int
	}{
		{"repeat 3", 3, false, 6},
		{"repeat 2, lower_prio_no_advert", 2, true, 4},
		{"repeat 0", 0, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := v3Instance("A", 150)
			cfg.Machine.LowerPrioNoAdvert = tc.noAdvert
			cfg.VIPs = []VIP{{Prefix: testVIP}}
			cfg.Announce = AnnounceConfig{Repeat: 1, LowerPrioRepeat: tc.repeat, LowerPrioDelay: 100 * time.Millisecond}
			inst, net := masterWith(t, cfg)
			t0 := time.Now()
			inst.step(&AdvertReceived{Src: netip.MustParseAddr("198.51.100.1"), Priority: 100, MaxAdverInt: 100 * time.Millisecond})
			time.Sleep(250 * time.Millisecond)
			got := net.since(t0)
			if len(got) != tc.want {
				t.Fatalf("%d announcements, want %d: %v", len(got), tc.want, got)
			}
			if tc.want > 0 {
				half := tc.want / 2
				if gap := got[half].at.Sub(got[half-1].at); gap < 100*time.Millisecond {
					t.Errorf("the second burst came %v after the first, want garp_lower_prio_delay (100ms)", gap)
				}
			}
		})
	}
}

// keepalived announces for every other member of the sync group with
// garp_lower_prio_repeat set: the loser's other members stopped sending
// adverts, so only this one hears the split brain.
func TestLowerPriorityAdvertAnnouncesForTheSyncGroup(t *testing.T) {
	g := NewSyncGroup("G", Master, nil, nil)
	mk := func(name string, vrid, repeat int, vip netip.Prefix) InstanceConfig {
		cfg := v3Instance(name, 150)
		cfg.Machine.VRID = vrid
		cfg.VIPs = []VIP{{Prefix: vip}}
		cfg.SyncGroup = g
		cfg.Announce = AnnounceConfig{Repeat: 1, LowerPrioRepeat: repeat}
		return cfg
	}
	a, netA := masterWith(t, mk("A", 51, 2, testVIP))
	_, netB := masterWith(t, mk("B", 52, 3, netip.MustParsePrefix("198.51.100.201/24")))
	_, netC := masterWith(t, mk("C", 53, 0, netip.MustParsePrefix("198.51.100.202/24")))
	t0 := time.Now()
	a.step(&AdvertReceived{Src: netip.MustParseAddr("198.51.100.1"), Priority: 100, MaxAdverInt: 100 * time.Millisecond})
	time.Sleep(100 * time.Millisecond)
	if a, b, c := len(netA.since(t0)), len(netB.since(t0)), len(netC.since(t0)); a != 2 || b != 3 || c != 0 {
		t.Errorf("announcements A %d, B %d, C %d; want 2, 3, 0", a, b, c)
	}
}

// garp_extra_if: while master, ExtraVIPs are announced with the first
// scheduled advert after each interval (keepalived's
// vrrp_state_master_tx), the interval counting from that advert; never
// without an interval, never once the VIPs are gone.
func TestExtraIfAnnouncesWithTheAdverts(t *testing.T) {
	extra := VIP{Prefix: netip.MustParsePrefix("192.0.2.1/24"), Dev: "eth1"}
	for _, tc := range []struct {
		name     string
		interval time.Duration
		want     int
	}{
		// Adverts every 100 ms from the takeover at 0: due after 150 ms,
		// sent at 200; due after 350, sent at 400; due after 550.
		{"every 150ms", 150 * time.Millisecond, 2},
		{"off", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := v3Instance("A", 150)
			cfg.VIPs = []VIP{{Prefix: testVIP}, extra}
			cfg.Announce = AnnounceConfig{Repeat: 1, ExtraInterval: tc.interval, ExtraVIPs: []VIP{extra}}
			inst, net := masterWith(t, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); inst.Run(ctx) }()
			t0 := time.Now()
			time.Sleep(500 * time.Millisecond)
			got := net.since(t0)
			cancel()
			<-done
			if len(got) != tc.want {
				t.Fatalf("%d announcements in 500 ms, want %d: %v", len(got), tc.want, got)
			}
			for _, c := range got {
				if c.addr != extra.Prefix.Addr() {
					t.Errorf("announced %v, want only %v", c.addr, extra.Prefix.Addr())
				}
			}
			if n := len(net.since(time.Now())); n != 0 {
				t.Errorf("%d announcements after stopping", n)
			}
		})
	}
}

// Masters fighting for a long while (1,000 instances at advert_int 0.1)
// answer a lower priority every interval for as long as
// garp_lower_prio_delay: every answer's two bursts still go out at their
// times, from one goroutine per instance, not one per answer waiting out
// the delay.
func TestLowerPriorityAnswersShareOneGoroutine(t *testing.T) {
	cfg := v3Instance("A", 150)
	cfg.VIPs = []VIP{{Prefix: testVIP}}
	cfg.Announce = AnnounceConfig{Repeat: 1, LowerPrioRepeat: 1, LowerPrioDelay: 300 * time.Millisecond}
	inst, net := masterWith(t, cfg)
	t0 := time.Now()
	before := runtime.NumGoroutine()
	const answers = 200
	for range answers {
		inst.effects.push(inst.startLowerPrio) // as a lower-priority advert queues it
	}
	inst.effects.wait()
	if during := runtime.NumGoroutine() - before; during > 2 {
		t.Fatalf("%d more goroutines while %d answers wait for their second burst, want 1", during, answers)
	}
	eventually(t, "every answer's two bursts", func() bool { return len(net.since(t0)) == 2*answers })
	got := net.since(t0)
	if gap := got[answers].at.Sub(t0); gap < 300*time.Millisecond {
		t.Fatalf("the first delayed burst came %v after the answers, want garp_lower_prio_delay (300ms)", gap)
	}
}
