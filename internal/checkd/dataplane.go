package checkd

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
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
// programs the kernel (what nftables cannot hold is logged per virtual
// server when it is programmed).
var dataPlaneKeywords = []string{
	"lb_algo", "lb_kind", "lvs_method", "weight", "inhibit_on_failure",
	"sorry_server", "sorry_server_inhibit", "sorry_server_lvs_method",
	"sh-fallback", "mh-fallback",
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
		if b, err = newBackend(s.log, s.dpChoice); err != nil {
			s.log.Error("the virtual servers cannot be programmed into the kernel", "err", err)
			s.dpChoice = "" // said once; the checkers run on
			return nil
		}
	}
	s.dpSyncer = lvs.NewSyncer(b, s.log)
	return s.dpSyncer
}

// newBackend picks the kernel data plane, and says which once.
func newBackend(log *slog.Logger, choice string) (lvs.Backend, error) {
	switch choice {
	case "nftables":
		log.Info("LVS: programming the virtual servers with nftables (--lvs-backend=nftables)")
	case "ipvs":
		log.Warn("LVS: --lvs-backend=ipvs: keepalived-go's IPVS backend is not built yet; programming the virtual servers with nftables")
	default:
		if kernel.HasIPVS() {
			log.Warn("LVS: the kernel has IPVS, but keepalived-go's IPVS backend is not built yet; programming the virtual servers with nftables")
		} else {
			log.Info("LVS: the kernel has no IPVS; programming the virtual servers with nftables")
		}
	}
	lb, err := kernel.NewNFTLoadBalancer("")
	if err != nil {
		return nil, err
	}
	return nftables.New(lb), nil
}

// dataPlane keeps one runtime's services in the kernel.
type dataPlane struct {
	log    *slog.Logger
	syncer *lvs.Syncer
	vss    []*vsPlane
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
	dp := &dataPlane{log: log, syncer: syncer, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}),
		dirty: map[*vsPlane]bool{}}
	for i, svc := range services {
		p := &vsPlane{svc: svc, spec: specs[i], server: map[*lvs.Server]*config.RealServerSpec{}}
		for j, srv := range svc.pool.Servers { // newService made one per real server, in order
			p.server[srv] = p.spec.RealServers[j]
		}
		if svc.pool.Sorry != nil {
			p.server[svc.pool.Sorry] = p.spec.Sorry
		}
		if p.spec.Group != nil {
			log.Warn(p.spec.VirtualServer.Pos.String() + " virtual_server group " + firstWord(p.spec.Group.Args) +
				": virtual_server_group is not programmed into the kernel yet")
			continue
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
	desired := make([]lvs.Service, 0, len(dp.vss))
	for _, p := range dp.vss {
		desired = append(desired, p.desired())
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
	for _, p := range dp.vss { // in configuration order
		if !dirty[p] {
			continue
		}
		if err := dp.syncer.Update(ctx, p.desired()); err != nil {
			dp.log.Error("LVS: "+p.svc.name+" could not be updated; retrying", "err", err)
			dp.mu.Lock()
			dp.dirty[p] = true
			dp.mu.Unlock()
			ok = false
		}
	}
	return ok
}

// stop ends the worker once it has applied what is queued.
func (dp *dataPlane) stop() {
	dp.cancel()
	<-dp.done
}

// desired is the virtual server's service as its pool now wants it.
func (p *vsPlane) desired() lvs.Service {
	spec, vs := p.spec, p.spec.VirtualServer
	s := lvs.Service{Name: p.svc.name, Pos: vs.Pos.String(), Scheduler: spec.Scheduler, Method: spec.Method}
	if spec.Fwmark != 0 {
		s.ServiceKey = lvs.FwmarkKey(spec.Family, spec.Fwmark)
	} else {
		s.ServiceKey = lvs.AddrKey(defaultString(spec.Protocol, "tcp"), spec.Addr)
	}
	if spec.Persistent {
		s.Persistence = 360
		if len(vs.PersistenceTimeout) > 0 {
			if n, err := strconv.ParseUint(vs.PersistenceTimeout[0], 10, 32); err == nil {
				s.Persistence = uint32(n)
			}
		}
	}
	for _, f := range []struct {
		on   bool
		flag lvs.Flags
	}{
		{vs.OPS, lvs.FlagOnePacket},
		{vs.SHFallback || vs.MHFallback || vs.Flag1, lvs.FlagSched1},
		{vs.SHPort || vs.MHPort || vs.Flag2, lvs.FlagSched2},
		{vs.Flag3, lvs.FlagSched3},
	} {
		if f.on {
			s.Flags |= f.flag
		}
	}
	p.svc.mu.Lock()
	defer p.svc.mu.Unlock()
	pool := p.svc.pool
	for _, d := range pool.Destinations() {
		rs := p.server[d.Server]
		if rs == nil {
			continue
		}
		s.Dests = append(s.Dests, lvs.Destination{Addr: rs.Addr, Weight: d.Weight, Method: defaultString(rs.Method, spec.Method)})
	}
	return s
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
