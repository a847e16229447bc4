package checkd

import (
	"context"
	"fmt"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs/ipvs"
)

// lvsGlobalKeywords are global_defs's keywords about IPVS itself, which
// the subsystem acts on with the IPVS backend (lvs/ipvs/settings.go) and
// says at start do not apply to nftables.
var lvsGlobalKeywords = []string{"lvs_timeouts", "lvs_flush", "lvs_flush_on_stop"}

// applyLVSGlobals applies lvs_timeouts, lvs_flush (at the first start
// only) and lvs_flush_on_stop, in check_daemon.c start_check's order:
// the timeouts, then the flush, before the services are synced. Called
// with s.mu held, with the syncer made.
func (s *Subsystem) applyLVSGlobals(cfg *config.Config, first bool) {
	g := cfg.GlobalDefs
	b, isIPVS := s.dpSyncer.Backend().(*ipvs.Backend)
	if !isIPVS {
		if g == nil {
			return
		}
		for _, kw := range lvsGlobalKeywords {
			if g.IsSet(kw) {
				s.log.Warn(fmt.Sprintf("%s %s: applies to IPVS only, not to the %s backend: ignored",
					g.PosOf(kw), kw, s.dpSyncer.Backend().Name()))
			}
		}
		return
	}
	var t kernel.IPVSTimeouts
	flush, mode := false, ipvs.NoFlush
	if g != nil {
		// What is wrong in them was reported when the file was read.
		t = ipvs.TimeoutsOf(g.LVSTimeouts)
		flush = g.LVSFlush
		mode = ipvs.FlushModeOf(g.LVSFlushOnStop, g.IsSet("lvs_flush_on_stop"))
	}
	b.SetTimeouts(t)
	b.SetFlushOnStop(mode)
	s.dpFlushing = mode != ipvs.NoFlush
	if first && flush {
		b.Flush()
	}
}

// restoreLVSGlobals puts back what applyLVSGlobals changed in the kernel
// and keepalived restores at every stop, -I or not: the timeouts
// (ipvswrapper.c's ipvs_stop).
func (s *Subsystem) restoreLVSGlobals(context.Context) {
	if s.dpSyncer == nil {
		return
	}
	if b, ok := s.dpSyncer.Backend().(*ipvs.Backend); ok {
		b.RestoreTimeouts()
	}
}
