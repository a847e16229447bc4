package checkd

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/lvs/ipvs"
	"github.com/keepalived-go/keepalived-go/internal/lvs/nftables"
)

// The data plane: the kernel's virtual services follow the pools. At
// start and at every reload the whole desired set is synced against what
// the backend observes; after each pool change one worker goroutine (so
// that the checkers' engine never waits on netlink) updates the services
// that changed, coalescing bursts; at stop the backend's services are
// removed, unless -I (--dont-release-ipvs) keeps them.

// Option configures the subsystem.
type Option func(*Subsystem)

// WithDataPlane programs the kernel from the pools: backend is
// --lvs-backend ("auto", "ipvs" or "nftables"), keep is -I.
func WithDataPlane(backend string, keep bool) Option {
	return func(s *Subsystem) { s.dpChoice, s.dpKeep = backend, keep }
}

// WithBackend programs b instead of the kernel (tests).
func WithBackend(b lvs.Backend, keep bool) Option {
	return func(s *Subsystem) { s.dpBackend, s.dpKeep = b, keep }
}

// dataPlaneKeywords are the keywords the subsystem acts on once it
// programs the kernel (what nftables cannot hold is refused at start,
// refuse.go, or with --lvs-nftables-approximate logged per virtual
// server when it is programmed).
var dataPlaneKeywords = []string{
	"lb_algo", "lb_kind", "lvs_method", "weight", "inhibit_on_failure",
	"sorry_server", "sorry_server_inhibit", "sorry_server_lvs_method",
	"sh-fallback", "mh-fallback", "sh-port", "mh-port", "ops", "flag-1", "flag-2", "flag-3",
	"persistence_timeout", "persistence_granularity", "persistence_engine", "uthreshold", "lthreshold",
	"virtual_server_group",
	"lvs_timeouts", "lvs_flush", "lvs_flush_on_stop", // lvsglobals.go
}

// syncer is the subsystem's syncer, made with its backend at first use
// (nil without a data plane). Called with s.mu held.
func (s *Subsystem) syncer() *lvs.Syncer {
	if s.dpSyncer != nil || (s.dpBackend == nil && s.dpChoice == "") {
		return s.dpSyncer
	}
	b := s.dpBackend
	if b == nil {
		var err error
		if b, err = newBackend(s.log, s.dpChoice, s.dpApproximate); err != nil {
			s.log.Error("the virtual servers cannot be programmed into the kernel", "err", err)
			s.dpChoice = "" // said once; the checkers run on
			return nil
		}
	}
	s.dpSyncer = lvs.NewSyncer(b, s.log)
	return s.dpSyncer
}

// newBackend picks the kernel data plane, and says which once: IPVS
// when asked (--lvs-backend=ipvs; an IPVS that cannot be opened is an
// error, as keepalived's ipvs_start failing is fatal) or, for auto, when
// the kernel has it; nftables otherwise.
func newBackend(log *slog.Logger, choice string, approximate bool) (lvs.Backend, error) {
	switch choice {
	case "nftables":
		log.Info("LVS: programming the virtual servers with nftables (--lvs-backend=nftables)")
	case "ipvs":
		log.Debug("Initializing ipvs") // ipvs_start's line
		k, err := kernel.OpenIPVS()
		if err != nil {
			return nil, fmt.Errorf("IPVS: Can't initialize ipvs: %w", err)
		}
		log.Info("LVS: programming the virtual servers with IPVS (--lvs-backend=ipvs)")
		return ipvs.New(k, log), nil
	default:
		if !kernel.HasIPVS() {
			log.Info("LVS: the kernel has no IPVS; programming the virtual servers with nftables")
			break
		}
		log.Debug("Initializing ipvs")
		k, err := kernel.OpenIPVS()
		if err == nil {
			log.Info("LVS: the kernel has IPVS; programming the virtual servers with IPVS")
			return ipvs.New(k, log), nil
		}
		log.Warn("LVS: IPVS cannot be opened (" + err.Error() + "); programming the virtual servers with nftables")
	}
	lb, err := kernel.NewNFTLoadBalancer("")
	if err != nil {
		return nil, err
	}
	if approximate {
		log.Warn("LVS: --lvs-nftables-approximate: what nftables cannot express is held by the nearest equivalent, said once per virtual server")
	}
	return nftables.New(lb, nftables.Approximate(approximate)), nil
}

// dataPlane keeps one runtime's services in the kernel.
type dataPlane struct {
	log    *slog.Logger
	syncer *lvs.Syncer
	vss    []*vsPlane
	// byKey are the virtual servers making each kernel service, in
	// configuration order: several when virtual servers share a
	// virtual_server_group (its fwmark entries, or its addresses for
	// virtual servers of the same protocol).
	byKey  map[lvs.ServiceKey][]*vsPlane
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	dirty  map[*vsPlane]bool
	resync bool // the last whole sync failed: do it again
}

// vsPlane is one virtual server's part: its pool and what it is.
type vsPlane struct {
	svc    *service
	spec   *config.VirtualServerSpec
	server map[*lvs.Server]*config.RealServerSpec // the pool's servers' specs
	// keys are its kernel services: its address or fwmark, or one per
	// address and fwmark of its group.
	keys []lvs.ServiceKey
}

// A failed kernel change is tried again after retryDelay, doubling up to
// maxRetryDelay while it keeps failing (say, without CAP_NET_ADMIN).
const (
	retryDelay    = time.Second
	maxRetryDelay = time.Minute
)

// startDataPlane syncs every virtual server's services (the pools are
// started, the engine not yet) and starts the worker that follows their
// changes.
func startDataPlane(log *slog.Logger, syncer *lvs.Syncer, services []*service, specs []*config.VirtualServerSpec) *dataPlane {
	ctx, cancel := context.WithCancel(context.Background())
	dp := &dataPlane{log: log, syncer: syncer, byKey: map[lvs.ServiceKey][]*vsPlane{}, wake: make(chan struct{}, 1),
		cancel: cancel, done: make(chan struct{}), dirty: map[*vsPlane]bool{}}
	for i, svc := range services {
		p := &vsPlane{svc: svc, spec: specs[i], server: map[*lvs.Server]*config.RealServerSpec{}}
		for j, srv := range svc.pool.Servers { // newService made one per real server, in order
			p.server[srv] = p.spec.RealServers[j]
		}
		if svc.pool.Sorry != nil {
			p.server[svc.pool.Sorry] = p.spec.Sorry
		}
		p.keys = serviceKeys(log, p.spec)
		for _, k := range p.keys {
			dp.byKey[k] = append(dp.byKey[k], p)
		}
		dp.vss = append(dp.vss, p)
		svc.changed = func() { dp.mark(p) }
	}
	dp.sync(ctx)
	failed := dp.resync // no other goroutine yet
	go dp.run(ctx)
	if failed {
		dp.mark(nil) // the worker retries
	}
	return dp
}

// mark queues a virtual server whose pool changed (nil: none, only
// wake the worker).
func (dp *dataPlane) mark(p *vsPlane) {
	if p != nil {
		dp.mu.Lock()
		dp.dirty[p] = true
		dp.mu.Unlock()
	}
	select {
	case dp.wake <- struct{}{}:
	default:
	}
}

// sync makes the kernel hold exactly the runtime's services.
func (dp *dataPlane) sync(ctx context.Context) {
	var desired []lvs.Service
	at := map[lvs.ServiceKey]int{}
	for _, p := range dp.vss {
		for _, s := range p.desired() {
			if i, ok := at[s.ServiceKey]; ok {
				merge(&desired[i], s)
				continue
			}
			at[s.ServiceKey] = len(desired)
			desired = append(desired, s)
		}
	}
	err := dp.syncer.Sync(ctx, desired)
	dp.mu.Lock()
	dp.resync = err != nil
	dp.mu.Unlock()
	if err != nil {
		dp.log.Error("LVS: the virtual servers could not all be programmed; retrying", "err", err)
	}
}

// run updates the services whose pools changed until ctx ends, then once
// more for what is still queued.
func (dp *dataPlane) run(ctx context.Context) {
	defer close(dp.done)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	delay, waiting := retryDelay, false
	for {
		select {
		case <-ctx.Done():
			dp.flush(context.WithoutCancel(ctx))
			return
		case <-dp.wake:
			if waiting {
				continue // the retry takes the new changes too
			}
		case <-retry.C:
			waiting = false
		}
		if dp.flush(ctx) {
			delay = retryDelay
			continue
		}
		retry.Reset(delay)
		delay, waiting = min(2*delay, maxRetryDelay), true
	}
}

// flush applies the queued changes; false if one failed (it stays
// queued).
func (dp *dataPlane) flush(ctx context.Context) bool {
	dp.mu.Lock()
	resync, dirty := dp.resync, dp.dirty
	dp.dirty = map[*vsPlane]bool{}
	dp.mu.Unlock()
	if resync {
		dp.sync(ctx)
		dp.mu.Lock()
		defer dp.mu.Unlock()
		return !dp.resync
	}
	ok := true
	// Each virtual server's services, computed once per flush.
	made := map[*vsPlane]map[lvs.ServiceKey]lvs.Service{}
	servicesOf := func(p *vsPlane) map[lvs.ServiceKey]lvs.Service {
		if m, done := made[p]; done {
			return m
		}
		m := map[lvs.ServiceKey]lvs.Service{}
		for _, s := range p.desired() {
			m[s.ServiceKey] = s
		}
		made[p] = m
		return m
	}
	for _, p := range dp.vss { // in configuration order
		if !dirty[p] {
			continue
		}
		for _, k := range p.keys {
			var s lvs.Service
			for i, q := range dp.byKey[k] {
				if i == 0 {
					s = servicesOf(q)[k]
				} else {
					merge(&s, servicesOf(q)[k])
				}
			}
			if err := dp.syncer.Update(ctx, s); err != nil {
				dp.log.Error("LVS: "+p.svc.name+" could not be updated; retrying", "err", err)
				dp.mu.Lock()
				dp.dirty[p] = true
				dp.mu.Unlock()
				ok = false
				break
			}
		}
	}
	return ok
}

// merge adds to s the destinations of another virtual server's service
// of the same key (a shared virtual_server_group) that s has not: a
// destination stays while one of them wants it. keepalived counts the
// alive servers of each group entry per protocol (tcp_alive, udp_alive,
// fwm4_alive... in check/ipvswrapper.c) to the same end, but deletes a
// destination both share when one of them loses it.
func merge(s *lvs.Service, o lvs.Service) {
	for _, d := range o.Dests {
		if !slices.ContainsFunc(s.Dests, func(x lvs.Destination) bool { return x.Addr == d.Addr }) {
			s.Dests = append(s.Dests, d)
		}
	}
}

// stop ends the worker once it has applied what is queued.
func (dp *dataPlane) stop() {
	dp.cancel()
	<-dp.done
}

// maxGroupRange bounds the services one virtual_server_group range
// makes (a /16 of IPv4): an IPv6 /64 would be 2^64 of them.
const maxGroupRange = 65536

// serviceKeys are the kernel services of a virtual server: its address
// or fwmark, or for `virtual_server group NAME` one service per address
// of each range of the group and one per fwmark entry, as keepalived's
// ipvs_group_cmd (check/ipvswrapper.c) makes them. A range runs over
// whole addresses, across octet boundaries: keepalived's loop steps the
// last octet (or last 16 bits for IPv6) only, so that a range crossing a
// /24 never ends there.
func serviceKeys(log *slog.Logger, spec *config.VirtualServerSpec) []lvs.ServiceKey {
	proto := defaultString(spec.Protocol, "tcp")
	switch {
	case spec.Group == nil && spec.Fwmark != 0:
		return []lvs.ServiceKey{lvs.FwmarkKey(max(spec.Family, 4), spec.Fwmark)}
	case spec.Group == nil:
		return []lvs.ServiceKey{lvs.AddrKey(proto, spec.Addr)}
	}
	var keys []lvs.ServiceKey
	seen := map[lvs.ServiceKey]bool{}
	add := func(k lvs.ServiceKey) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, e := range spec.Group.Entries {
		if e.Range == "" {
			// A fwmark entry: its family, else the virtual server's,
			// else IPv4.
			fam := spec.Family
			switch e.Family {
			case "inet":
				fam = 4
			case "inet6":
				fam = 6
			}
			if fam == 0 {
				fam = 4
			}
			add(lvs.FwmarkKey(fam, uint32(e.Fwmark)))
			continue
		}
		if !e.Start.IsValid() || !e.End.IsValid() {
			continue
		}
		n := 0
		for a := e.Start; a.IsValid() && !e.End.Less(a); a = a.Next() {
			if n == maxGroupRange {
				log.Warn(fmt.Sprintf("%s virtual_server_group %s: the range %s has more than %d addresses: only the first %d are programmed",
					e.Pos, firstWord(spec.Group.Args), e.Range, maxGroupRange, maxGroupRange))
				break
			}
			n++
			add(lvs.AddrKey(proto, netip.AddrPortFrom(a, uint16(e.Port))))
		}
	}
	return keys
}

// desired is the virtual server's services as its pool now wants them.
func (p *vsPlane) desired() []lvs.Service {
	spec, vs := p.spec, p.spec.VirtualServer
	base := lvs.Service{Name: p.svc.name, Pos: vs.Pos.String(), Scheduler: spec.Scheduler, Method: spec.Method,
		Flags: lvs.Flags(spec.Flags), Persistence: spec.PersistenceTimeout, Granularity: spec.Granularity,
		Engine: spec.PersistenceEngine}
	if spec.Group != nil {
		base.Name = "" // each service of the group is named by its address in logs
	}
	p.svc.mu.Lock()
	pool := p.svc.pool
	var dests []lvs.Destination
	pd := pool.Destinations()
	if len(pd) > 0 {
		dests = make([]lvs.Destination, 0, len(pd)) // one allocation, not a doubling per append
	}
	for _, d := range pd {
		rs := p.server[d.Server]
		if rs == nil {
			continue
		}
		dests = append(dests, lvs.Destination{Addr: rs.Addr, Weight: d.Weight, Method: defaultString(rs.Method, spec.Method),
			UThreshold: rs.UThreshold, LThreshold: rs.LThreshold, Tunnel: tunnelOf(rs.Tunnel)})
	}
	p.svc.mu.Unlock()
	out := make([]lvs.Service, len(p.keys))
	for i, k := range p.keys {
		out[i] = base
		out[i].ServiceKey = k
		out[i].Dests = slices.Clip(dests) // shared; an append (merge) copies
	}
	return out
}

// tunnelOf is a configured tunnel with IPVS's values.
func tunnelOf(t config.Tunnel) lvs.Tunnel {
	out := lvs.Tunnel{Port: t.Port}
	switch t.Type {
	case "gue":
		out.Type = lvs.TunnelGUE
	case "gre":
		out.Type = lvs.TunnelGRE
	}
	switch t.Checksum {
	case "csum":
		out.Flags = lvs.TunnelChecksum
	case "remcsum":
		out.Flags = lvs.TunnelRemoteChecksum
	}
	return out
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
