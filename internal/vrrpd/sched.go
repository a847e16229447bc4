package vrrpd

import (
	"log/slog"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// processSettingsOf is global_defs' scheduling settings for VRRP: what
// keepalived applies to its VRRP child, keepalived-go applies to every
// thread of the daemon but the health checks' own (checkd's sched.go).
func processSettingsOf(g *config.GlobalDefs) (kernel.ProcessSettings, error) {
	if g == nil {
		return kernel.ProcessSettings{}, nil
	}
	s := kernel.ProcessSettings{Nice: int(g.VRRPPriority), RTPriority: g.VRRPRtPriority, NoSwap: g.VRRPNoSwap}
	if g.IsSet("vrrp_rlimit_rttime") || g.IsSet("vrrp_rlimit_rtime") {
		// Only when asked: validation fills in keepalived's 10 ms default,
		// which keepalived applies to a VRRP child that does nothing else;
		// keepalived-go's real-time threads also load and apply the
		// configuration (10,000 real servers take longer than 10 ms
		// without blocking) and the kernel would kill the daemon.
		s.RTTime = g.VRRPRlimitRttime
	}
	var err error
	s.CPUs, err = kernel.ParseCPUs("vrrp_cpu_affinity", g.VRRPCPUAffinity)
	return s, err
}

// applyProcessSettings applies cfg's settings, logging what fails (the
// daemon runs on: a setting is a means to run better, not to run).
func applyProcessSettings(log *slog.Logger, cfg *config.Config) {
	s, err := processSettingsOf(cfg.GlobalDefs)
	if err == nil {
		err = s.Apply()
	}
	if err != nil {
		log.Error("cannot apply the VRRP process settings", "err", err)
	}
}
