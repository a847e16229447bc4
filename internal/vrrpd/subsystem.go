package vrrpd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// Subsystem is VRRP as the daemon runs it (keepalived's VRRP child): it
// starts the instances of a configuration, reloads them in place, and
// stops them.
type Subsystem struct {
	log      *slog.Logger
	k        kernel.Kernel
	keepVIPs bool // -V: leave the VIPs in place at stop

	mu sync.RWMutex // guards rt against the API's readers
	rt *vrrpRuntime

	listener StateListener // nil: none
}

// StateListener hears every instance's state changes, after its notify
// hooks: the IPVS sync daemon follows its instance (lvs_sync_daemon).
// It is called on the instance's effects queue, never under its lock;
// STOP, the end of an instance, is not passed on.
type StateListener interface {
	InstanceState(name string, master bool)
}

// New makes the VRRP subsystem; it runs nothing until Apply. listener,
// if not nil, hears the instances' state changes.
func New(log *slog.Logger, k kernel.Kernel, keepVIPs bool, listener StateListener) *Subsystem {
	return &Subsystem{log: log, k: k, keepVIPs: keepVIPs, listener: listener}
}

// Name is the subsystem's name in logs.
func (s *Subsystem) Name() string { return "VRRP" }

// Keywords are the configuration keywords the subsystem acts on.
func (s *Subsystem) Keywords() []string { return keywords }

// Apply runs cfg's VRRP instances: starts them, reloads the running ones
// (carrying their states over) or stops them if cfg has none.
func (s *Subsystem) Apply(_ context.Context, cfg *config.Config) error {
	if hasVRRPConfig(cfg) {
		applyProcessSettings(s.log, cfg)
		applyCommandBuffer(s.log, s.k, cfg.GlobalDefs)
		// Again once VRRP runs: its start made threads, which inherited
		// the settings only from threads that had them.
		defer applyProcessSettings(s.log, cfg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	switch {
	case s.rt == nil && hasVRRPConfig(cfg):
		s.rt, err = startVRRPWith(cfg, s.k, s.log, s.keepVIPs, nil, s.listener)
	case s.rt != nil && !hasVRRPConfig(cfg):
		s.rt.stop()
		s.rt = nil
	case s.rt != nil:
		start := time.Now()
		s.rt, err = s.rt.reload(cfg, s.keepVIPs)
		s.log.Info("VRRP reloaded", "took", time.Since(start))
	}
	return err
}

// Stop shuts every instance down: masters resign and release their VIPs
// (unless -V), and every goroutine of the subsystem has ended on return.
func (s *Subsystem) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rt != nil {
		s.rt.stop()
		s.rt = nil
	}
	return nil
}

// Instances are the running instances, for the API and the dumps. They
// never change while a runtime runs; a reload replaces the slice.
func (s *Subsystem) Instances() []*vrrp.Instance {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.rt == nil {
		return nil
	}
	return s.rt.instances
}

// ScriptVerdicts are the vrrp_scripts' current verdicts (good or not),
// by name.
func (s *Subsystem) ScriptVerdicts() map[string]bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.rt == nil || s.rt.scripts == nil {
		return nil
	}
	return s.rt.scripts.Snapshot()
}

// WriteStats writes keepalived.stats (SIGUSR2) in keepalived's format.
func (s *Subsystem) WriteStats(w io.Writer) error {
	for _, in := range s.Instances() {
		if err := in.WriteStats(w); err != nil {
			return err
		}
	}
	return nil
}

// hasVRRPConfig tells whether keepalived would start its VRRP process:
// instances or static addresses, routes or rules.
func hasVRRPConfig(cfg *config.Config) bool {
	return len(cfg.Instances)+len(cfg.StaticIPAddresses)+len(cfg.StaticRoutes)+len(cfg.StaticRules) > 0
}

// Alive says whether every instance's loop answers before ctx ends,
// naming the first that does not (systemd's watchdog is fed only while
// they all answer).
func (s *Subsystem) Alive(ctx context.Context) error {
	for _, in := range s.Instances() {
		if !in.Alive(ctx) {
			return fmt.Errorf("VRRP instance %s does not answer", in.Name())
		}
	}
	return nil
}
