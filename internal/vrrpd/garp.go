package vrrpd

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// garpPacer spaces the gratuitous ARPs and unsolicited NAs of every
// instance per physical interface, as keepalived does with
// vrrp_garp_interval, vrrp_gna_interval and garp_group (vrrp_arp.c
// send_gratuitous_arp and queue_garp, vrrp_ndisc.c likewise,
// vrrp_scheduler.c vrrp_arp_thread / vrrp_arpna_send, vrrp_if.c
// set_default_garp_delay):
//
//   - an interface (a VMAC's parent for a VMAC) has at most one delay,
//     from the garp_group naming it, else from the global intervals; the
//     interfaces of one garp_group share one delay, so their packets are
//     spaced together;
//   - a packet that may go now goes, and the next one on that interface
//     may go one interval later;
//   - a packet that may not go yet is marked pending for its instance and
//     address: a mark, not a queue, so a burst of garp_master_repeat
//     packets to an interface already sending shrinks to one pending
//     packet per address. keepalived behaves so, and a throttled
//     interface therefore sees fewer packets than repeat × addresses;
//   - when the first pending packet may go, each instance (in
//     configuration order) sends its pending addresses (in their order)
//     whose interface is free at that moment, at most one per interface
//     per pass; the others wait for the next pass. An instance that no
//     longer holds its VIPs drops its pending packets.
//
// Without an interval on an interface, packets go at once, back to back.
type garpPacer struct {
	send func(v vrrp.VIP) error // sends one packet now
	now  func() time.Time
	// unpaced: no interval anywhere; announce sends at once, unlocked.
	unpaced bool

	mu      sync.Mutex
	delays  map[string]*garpDelay // by interface name
	base    map[string]string     // VMAC name -> its parent
	pending []pendingGARP
	timer   *time.Timer
	timerAt time.Time
	stopped bool
	passes  sync.WaitGroup // timer callbacks armed or running
}

// garpDelay is keepalived's garp_delay_t: the intervals of an interface
// (or of a garp_group's interfaces) and when each family may send next.
type garpDelay struct {
	garp, gna         time.Duration // 0: no spacing
	garpNext, gnaNext time.Time
}

type pendingGARP struct {
	owner *kernelNet
	vip   vrrp.VIP
}

// newGARPPacer makes the delays of the configuration: one per garp_group,
// shared by its interfaces, and the global intervals for any other
// interface.
func newGARPPacer(g *config.GlobalDefs, groups []*config.GarpGroup, send func(vrrp.VIP) error) *garpPacer {
	p := &garpPacer{send: send, now: time.Now, delays: map[string]*garpDelay{}, base: map[string]string{}}
	for _, gg := range groups {
		d := &garpDelay{garp: gg.GarpInterval.Duration(), gna: gg.GnaInterval.Duration()}
		if !gg.IsSet("garp_interval") && !gg.IsSet("gna_interval") {
			continue // keepalived: "garp group %d does not have any delay set - removing"
		}
		// An interval of 0 is a delay all the same: the group's
		// interfaces are not spaced, not even by the global interval.
		names := []string{}
		if gg.Interface != "" {
			names = append(names, gg.Interface)
		}
		for _, w := range gg.Interfaces {
			names = append(names, w.Words...)
		}
		for _, name := range names {
			if _, ok := p.delays[name]; !ok { // keepalived: "garp_group already specified for %s - ignoring"
				p.delays[name] = d
			}
		}
	}
	if g != nil && (g.VRRPGarpInterval > 0 || g.VRRPGnaInterval > 0) {
		p.delays[""] = &garpDelay{garp: g.VRRPGarpInterval.Duration(), gna: g.VRRPGnaInterval.Duration()}
	}
	p.unpaced = !slices.ContainsFunc(slices.Collect(maps.Values(p.delays)), func(d *garpDelay) bool { return d.garp > 0 || d.gna > 0 })
	return p
}

// setBase records that the VMAC vmac sits on parent: its packets are
// spaced with the parent's.
func (p *garpPacer) setBase(vmac, parent string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.base[vmac] = parent
}

// delayOf is the delay of dev's physical interface and the interval for
// addr's family; nil or 0 when its packets are not spaced. mu held.
func (p *garpPacer) delayOf(dev string, addr netip.Addr) (*garpDelay, time.Duration) {
	if b, ok := p.base[dev]; ok {
		dev = b
	}
	d, ok := p.delays[dev]
	if !ok {
		d = p.delays[""]
		if d != nil {
			// The global intervals are per interface: give this one its own.
			d = &garpDelay{garp: d.garp, gna: d.gna}
			p.delays[dev] = d
		}
	}
	if d == nil {
		return nil, 0
	}
	if addr.Is4() {
		return d, d.garp
	}
	return d, d.gna
}

// next is when d lets addr's family send again. mu held.
func (d *garpDelay) next(addr netip.Addr) *time.Time {
	if addr.Is4() {
		return &d.garpNext
	}
	return &d.gnaNext
}

// announce sends one packet per address for owner, now or when its
// interface is free (see garpPacer).
func (p *garpPacer) announce(owner *kernelNet, vs []vrrp.VIP) error {
	if p.unpaced {
		// Nothing to space (the usual case): send without the lock, so
		// that instances taking over together do not wait for each other.
		var errs []error
		for _, v := range vs {
			errs = append(errs, p.send(v))
		}
		return errors.Join(errs...)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	now := p.now()
	for _, v := range vs {
		addr := v.Prefix.Addr()
		d, gap := p.delayOf(v.Dev, addr)
		if gap <= 0 {
			errs = append(errs, p.send(v))
			continue
		}
		next := d.next(addr)
		if !now.Before(*next) {
			errs = append(errs, p.send(v))
			*next = now.Add(gap)
			continue
		}
		if !slices.Contains(p.pending, pendingGARP{owner, v}) {
			p.pending = append(p.pending, pendingGARP{owner, v})
		}
		// keepalived's queue_garp: the pass comes one interval from now,
		// unless one is due earlier.
		p.schedule(now.Add(gap))
	}
	return errors.Join(errs...)
}

// schedule arms the pass for at, unless one comes earlier. mu held.
func (p *garpPacer) schedule(at time.Time) {
	if p.stopped || (p.timer != nil && !at.Before(p.timerAt)) {
		return
	}
	if p.timer != nil && p.timer.Stop() {
		p.passes.Done()
	}
	p.timerAt = at
	p.passes.Add(1)
	p.timer = time.AfterFunc(at.Sub(p.now()), p.pass)
}

// pass sends the pending packets whose interface is free (keepalived's
// vrrp_arp_thread) and arms the next pass for the others.
func (p *garpPacer) pass() {
	defer p.passes.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	if p.stopped {
		return
	}
	now := p.now()
	// Instances in configuration order, addresses in theirs.
	slices.SortStableFunc(p.pending, func(a, b pendingGARP) int {
		if a.owner.order != b.owner.order {
			return a.owner.order - b.owner.order
		}
		return a.owner.vipIndex(a.vip) - b.owner.vipIndex(b.vip)
	})
	var first time.Time
	kept := p.pending[:0]
	for _, pg := range p.pending {
		if !pg.owner.held.Load() {
			continue
		}
		addr := pg.vip.Prefix.Addr()
		d, gap := p.delayOf(pg.vip.Dev, addr)
		if d == nil {
			if err := p.send(pg.vip); err != nil {
				pg.owner.log.Error("cannot announce virtual addresses", "err", err)
			}
			continue
		}
		next := d.next(addr)
		if gap <= 0 || !now.Before(*next) {
			if err := p.send(pg.vip); err != nil {
				pg.owner.log.Error("cannot announce virtual addresses", "err", err)
			}
			if gap > 0 {
				*next = now.Add(gap)
			}
			continue
		}
		kept = append(kept, pg)
		if first.IsZero() || next.Before(first) {
			first = *next
		}
	}
	clear(p.pending[len(kept):])
	p.pending = kept
	if !first.IsZero() {
		p.schedule(first)
	}
}

// stop drops what is pending and waits for a running pass.
func (p *garpPacer) stop() {
	p.mu.Lock()
	p.stopped = true
	p.pending = nil
	if p.timer != nil && p.timer.Stop() {
		p.passes.Done()
	}
	p.timer = nil
	p.mu.Unlock()
	p.passes.Wait()
}
