package vrrpd

import (
	"errors"
	"reflect"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/notify"
	"github.com/keepalived-go/keepalived-go/internal/track"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// A reload (SIGHUP) replaces the running VRRP subsystem with one built
// from the new configuration without dropping a VIP: an instance that
// keeps its name, VRID, interface and family carries its state over (a
// master stays master, holding its addresses throughout, and runs no
// notify script), and the nftables tables, VMACs, FIFOs and vrrp_script
// verdicts still wanted are handed over instead of being rebuilt. Only
// what the new configuration dropped is released: the addresses, routes
// and rules it no longer lists, the instances it removed (which resign
// as at shutdown), the VMACs nobody uses.

// runningInstance is one instance of a runtime with what it was built
// from.
type runningInstance struct {
	ci     *config.VRRPInstance
	ic     vrrp.InstanceConfig
	inst   *vrrp.Instance
	net    *kernelNet
	notify *notifier
}

// carryOver is what the previous runtime hands to the next. A nil
// *carryOver (start-up) carries nothing.
type carryOver struct {
	states   map[string]vrrp.State // by instance name
	priority map[string]int        // effective priority, by instance name
	held     map[string]*runningInstance
	fw       kernel.Firewall
	nft      kernel.NFTConfig
	links    map[string]ownedLink // VMACs and ipvlans, by vmacKey
	fifos    *notify.FIFOs        // closed once the next runtime has opened its own
	alerts   *notify.Alerter      // stopped once the next runtime has opened its own
	retired  []*notify.Notifier   // still running STOP scripts: the next runtime stops them
	verdicts map[string]bool      // vrrp_script good, by name
	static   staticConfig
	promoted []func() error // promote_secondaries holds, released once the next runtime holds its own
}

func (c *carryOver) state(name string) (vrrp.State, bool) {
	if c == nil {
		return vrrp.Init, false
	}
	st, ok := c.states[name]
	return st, ok
}

// heldInstance is the previous runtime's instance of this name, if the
// reload carries it over.
func (c *carryOver) heldInstance(name string) *vrrp.Instance {
	if c == nil || c.held[name] == nil {
		return nil
	}
	return c.held[name].inst
}

// freshVIPs are the addresses of the reloaded instance ic that the one it
// replaces did not hold: the only ones a resumed master announces.
func (c *carryOver) freshVIPs(ic vrrp.InstanceConfig) []vrrp.VIP {
	held := c.held[ic.Name]
	if held == nil {
		return concatVIPs(ic)
	}
	return vipsMinus(concatVIPs(ic), concatVIPs(held.ic))
}

// takeLink hands over the link with this configuration, if there is one.
func (c *carryOver) takeLink(key string) (ownedLink, bool) {
	if c == nil {
		return nil, false
	}
	l, ok := c.links[key]
	delete(c.links, key)
	return l, ok
}

// takeLinksNamed hands over the links with this name (whatever their
// configuration), to be deleted.
func (c *carryOver) takeLinksNamed(name string) map[string]ownedLink {
	out := map[string]ownedLink{}
	if c == nil {
		return out
	}
	for key, l := range c.links {
		if l.Name() == name {
			out[key] = l
			delete(c.links, key)
		}
	}
	return out
}

// hasLinkNamed tells whether a link still carried over has this name.
func (c *carryOver) hasLinkNamed(name string) bool {
	if c == nil {
		return false
	}
	for _, l := range c.links {
		if l.Name() == name {
			return true
		}
	}
	return false
}

// retiredNotifiers are the notifiers of the runtimes a reload replaced,
// for the next runtime to stop.
func (c *carryOver) retiredNotifiers() []*notify.Notifier {
	if c == nil {
		return nil
	}
	return c.retired
}

// scriptVerdicts starts the verdicts of the new configuration's scripts:
// as carried over for a script of the same name, else as the script
// starts (good unless init_fail).
func (c *carryOver) scriptVerdicts(objs *track.Objects) *track.Verdicts {
	if c == nil {
		return track.NewVerdicts(objs, nil)
	}
	return track.NewVerdicts(objs, c.verdicts)
}

// reload builds the runtime for cfg from this one, which it stops.
func (rt *vrrpRuntime) reload(cfg *config.Config, keepVIPs bool) (*vrrpRuntime, error) {
	carry := rt.handOver(cfg)
	next, err := startVRRPWith(cfg, rt.k, rt.log, keepVIPs, carry, rt.listener)
	if next == nil {
		// Nothing could start: release what was handed over, as a stop
		// would have.
		next = &vrrpRuntime{log: rt.log, k: rt.k}
	}
	next.releaseDropped(carry)
	if next.cancel == nil {
		return nil, errors.Join(err, errors.New("no VRRP instance runs after the reload"))
	}
	return next, err
}

// handOver stops the runtime for a reload to cfg: the instances cfg keeps
// stop without resigning or releasing, the others resign and release as
// at shutdown; what cfg may reuse is returned, not destroyed.
func (rt *vrrpRuntime) handOver(cfg *config.Config) *carryOver {
	carry := &carryOver{states: map[string]vrrp.State{}, priority: map[string]int{},
		held: map[string]*runningInstance{}, fw: rt.fw, nft: rt.nft, links: rt.links,
		fifos: rt.fifos, alerts: rt.alerts, static: rt.static, promoted: rt.promoted}
	if rt.tracker != nil {
		// First, so that no verdict or priority changes after it is taken.
		rt.tracker.Stop()
	}
	if rt.scripts != nil {
		carry.verdicts = rt.scripts.Snapshot()
	}
	next := map[string]*config.VRRPInstance{}
	for _, ci := range cfg.Instances {
		next[ci.Name()] = ci
	}
	for name, ri := range rt.byName {
		ci, ok := next[name]
		if !ok || !sameIdentity(ri.ci, ci) {
			continue
		}
		carry.held[name] = ri // for its counters, at least
		st := ri.inst.State()
		if st == vrrp.Fault || st == vrrp.Stop {
			continue // it starts afresh; the tracker puts it back in FAULT
		}
		carry.states[name] = st
		carry.priority[name] = ri.inst.Status().Priority
		ri.inst.HandOver()
	}
	for name, ri := range rt.byName {
		if _, kept := carry.held[name]; !kept {
			ri.notify.deleteAtStop(ri.inst.State())
		}
	}
	rt.cancel()
	rt.running.Wait()
	for _, c := range rt.conns {
		c.Close()
	}
	rt.readers.Wait()
	// The notifications of removed instances (FAULT, or DELETED with
	// notify_deleted) run on, in the background.
	carry.retired = retireNotifiers(rt.notifiers, rt.retired)
	return carry
}

// sameIdentity tells whether a reload may carry an instance's state over:
// the same virtual router on the same link.
func sameIdentity(old, next *config.VRRPInstance) bool {
	return old.VRID == next.VRID && old.Interface == next.Interface &&
		instanceFamily(old) == instanceFamily(next) && reflect.DeepEqual(old.UseVMAC, next.UseVMAC) &&
		old.IsSet("use_vmac") == next.IsSet("use_vmac") && reflect.DeepEqual(old.UseIPvlan, next.UseIPvlan) &&
		old.IsSet("use_ipvlan") == next.IsSet("use_ipvlan")
}

// releaseDropped releases what the previous runtime held and this one
// does not want: the addresses, routes and rules of a carried master
// that the new configuration no longer lists, static entries gone from
// it, unused VMACs, FIFOs and firewall tables.
func (rt *vrrpRuntime) releaseDropped(carry *carryOver) {
	// What any instance now holds stays, so that an address moved from
	// one master instance to another needs one reload, not keepalived's two.
	var wanted []vrrp.VIP
	var wantedRouting routing
	for _, ri := range rt.byName {
		wanted = append(wanted, concatVIPs(ri.ic)...)
		wantedRouting.routes = append(wantedRouting.routes, ri.net.routing.routes...)
		wantedRouting.rules = append(wantedRouting.rules, ri.net.routing.rules...)
	}
	for name, old := range carry.held {
		if carry.states[name] != vrrp.Master {
			continue
		}
		if err := rt.unblockDropped(old, rt.byName[name]); err != nil {
			rt.log.Error("("+name+") cannot unblock the addresses the reload dropped", "err", err)
		}
		if err := removeAddresses(rt.k, vipsMinus(concatVIPs(old.ic), wanted)); err != nil {
			rt.log.Error("("+name+") cannot remove the addresses the reload dropped", "err", err)
		}
		if err := old.net.routing.minus(wantedRouting).remove(rt.k); err != nil {
			rt.log.Error("("+name+") cannot remove the routes the reload dropped", "err", err)
		}
	}
	carry.static.minus(rt.static).remove(rt.k, rt.log)
	releasePromoted(rt.log, carry.promoted)
	rt.deleteLinks(carry.links)
	carry.fifos.Close()
	carry.alerts.Stop()
	if carry.fw != nil && carry.fw != rt.fw {
		if err := carry.fw.Close(); err != nil {
			rt.log.Error("cannot remove the old nftables tables", "err", err)
		}
	}
}

// unblockDropped lifts the no_accept drop rules a carried master had in
// the adopted tables for addresses that no longer need them: dropped from
// the configuration, or of an instance that now accepts traffic.
func (rt *vrrpRuntime) unblockDropped(old, now *runningInstance) error {
	if rt.fw == nil || old.net.fw != rt.fw {
		return nil
	}
	unblock := concatVIPs(old.ic)
	if now != nil && now.net.fw != nil {
		unblock = vipsMinus(unblock, concatVIPs(now.ic))
	}
	if len(unblock) == 0 {
		return nil
	}
	return rt.fw.Unblock(firewallAddrs(unblock)...)
}

// removeAddresses deletes addresses, whatever instance they were of.
func removeAddresses(k kernel.Kernel, vs []vrrp.VIP) error {
	var errs []error
	for _, v := range vs {
		errs = append(errs, k.DelAddress(v.Dev, kernelAddress(v)))
	}
	return errors.Join(errs...)
}

// adoptFirewall takes the previous runtime's nftables tables over when
// their settings are unchanged; else they go before new ones are made
// (new tables of the same name replace the old ones).
func (rt *vrrpRuntime) adoptFirewall(cfg *config.Config, carry *carryOver) {
	if carry == nil || carry.fw == nil {
		return
	}
	if nc := nftConfig(cfg); reflect.DeepEqual(nc, carry.nft) {
		rt.fw, rt.nft = carry.fw, nc
		return
	}
	if err := carry.fw.Close(); err != nil {
		rt.log.Error("cannot remove the old nftables tables", "err", err)
	}
	carry.fw = nil
}

func concatVIPs(ic vrrp.InstanceConfig) []vrrp.VIP {
	return append(append([]vrrp.VIP(nil), ic.VIPs...), ic.Excluded...)
}

// vipsMinus is the addresses of a that b does not have on the same
// device.
func vipsMinus(a, b []vrrp.VIP) []vrrp.VIP {
	var out []vrrp.VIP
	for _, v := range a {
		found := false
		for _, w := range b {
			if v.Prefix == w.Prefix && v.Dev == w.Dev {
				found = true
				break
			}
		}
		if !found {
			out = append(out, v)
		}
	}
	return out
}
