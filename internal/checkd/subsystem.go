package checkd

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// Subsystem runs the health checkers of a configuration's virtual
// servers, and (with a data plane) keeps the kernel's virtual services
// equal to their pools.
type Subsystem struct {
	log *slog.Logger

	mu sync.Mutex // serialises Apply and Stop
	rt *runtime
	// cur is rt for readers (status, metrics), who must not wait for a
	// reload.
	cur atomic.Pointer[runtime]

	// The data plane (dataplane.go): the --lvs-backend choice or a
	// backend given, -I, and the syncer made at first use.
	dpChoice  string
	dpBackend lvs.Backend
	dpKeep    bool
	// dpApproximate: --lvs-nftables-approximate (refuse.go).
	dpApproximate bool
	dpSyncer      *lvs.Syncer
	dpApplied     bool // a configuration with virtual servers was applied (lvs_flush: the first only)
	// dpFlushing: lvs_flush_on_stop with the IPVS backend.
	dpFlushing bool
}

// New makes the checker subsystem; it runs nothing until Apply. Without
// WithDataPlane (or WithBackend) it programs no kernel.
func New(log *slog.Logger, opts ...Option) *Subsystem {
	s := &Subsystem{log: log}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Name is the subsystem's name in logs.
func (s *Subsystem) Name() string { return "Healthcheck" }

// Keywords are the configuration keywords the subsystem acts on.
func (s *Subsystem) Keywords() []string {
	if s.dpChoice == "" && s.dpBackend == nil {
		return keywords
	}
	return append(append([]string(nil), keywords...), dataPlaneKeywords...)
}

// Apply starts the checkers of cfg's virtual servers, replacing those of
// the previous configuration, and syncs the kernel's virtual services.
func (s *Subsystem) Apply(ctx context.Context, cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var carry *carryOver
	if s.rt != nil {
		s.rt.halt()
		s.rt.reloadRemovals(cfg)
		carry = s.rt.handOver(true)
		s.rt = nil
		s.cur.Store(nil)
	}
	if len(cfg.VirtualServerSpecs()) == 0 {
		carry.release()
		if s.dpSyncer != nil {
			// No virtual server left: remove what the last one had.
			if err := s.dpSyncer.Sync(ctx, nil); err != nil {
				s.log.Error("LVS: the virtual servers could not be removed", "err", err)
			}
		}
		return nil
	}
	syncer := s.syncer()
	if syncer != nil {
		s.applyLVSGlobals(cfg, !s.dpApplied)
		s.dpApplied = true
	}
	s.rt = start(s.log, cfg, carry, syncer)
	s.cur.Store(s.rt)
	return nil
}

// Stop ends every checker and returns once their goroutines and the
// notifications they started have ended; the kernel's virtual services
// are removed, unless -I keeps them (lvs_flush_on_stop: flushed, when
// there are virtual servers, as keepalived's clear_services).
func (s *Subsystem) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	running := s.rt != nil
	if s.rt != nil {
		s.cur.Store(nil)
		s.rt.halt()
		if !s.dpKeep {
			// keepalived's clear_services, which -I skips.
			s.rt.shutdown(s.dpSyncer != nil && !s.dpFlushing) // no per-server lines when flushing
		}
		s.rt.handOver(false).release()
		s.rt = nil
	}
	defer s.restoreLVSGlobals(ctx)
	if s.dpSyncer != nil && !s.dpKeep && (running || !s.dpFlushing) {
		if err := s.dpSyncer.Release(ctx); err != nil {
			return err
		}
	}
	return nil
}
