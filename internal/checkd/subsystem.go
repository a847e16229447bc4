package checkd

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// Subsystem runs the health checkers of a configuration's virtual
// servers.
type Subsystem struct {
	log *slog.Logger

	mu sync.Mutex // serialises Apply and Stop
	rt *runtime
	// cur is rt for readers (status, metrics), who must not wait for a
	// reload.
	cur atomic.Pointer[runtime]
}

// New makes the checker subsystem; it runs nothing until Apply.
func New(log *slog.Logger) *Subsystem { return &Subsystem{log: log} }

// Name is the subsystem's name in logs.
func (s *Subsystem) Name() string { return "Healthcheck" }

// Keywords are the configuration keywords the subsystem acts on.
func (s *Subsystem) Keywords() []string { return keywords }

// Apply starts the checkers of cfg's virtual servers, replacing those of
// the previous configuration.
func (s *Subsystem) Apply(_ context.Context, cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var carry *carryOver
	if s.rt != nil {
		carry = s.rt.stop(true)
		s.rt = nil
		s.cur.Store(nil)
	}
	if len(cfg.VirtualServerSpecs()) == 0 {
		carry.release()
		return nil
	}
	s.rt = start(s.log, cfg, carry)
	s.cur.Store(s.rt)
	return nil
}

// Stop ends every checker and returns once their goroutines and the
// notifications they started have ended.
func (s *Subsystem) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rt != nil {
		s.cur.Store(nil)
		s.rt.stop(false).release()
		s.rt = nil
	}
	return nil
}
