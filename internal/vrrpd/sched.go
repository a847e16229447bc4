package vrrpd

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// processSettingsOf is global_defs' scheduling settings for VRRP: what
// keepalived applies to its VRRP child, keepalived-go applies to the
// daemon, whose threads all serve VRRP.
func processSettingsOf(g *config.GlobalDefs) (kernel.ProcessSettings, error) {
	if g == nil {
		return kernel.ProcessSettings{}, nil
	}
	s := kernel.ProcessSettings{Nice: int(g.VRRPPriority), RTPriority: g.VRRPRtPriority, NoSwap: g.VRRPNoSwap, RTTime: g.VRRPRlimitRttime}
	for _, w := range g.VRRPCPUAffinity {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n >= kernel.MaxCPUs {
			return s, fmt.Errorf("vrrp_cpu_affinity: invalid CPU %q", w)
		}
		s.CPUs = append(s.CPUs, n)
	}
	return s, nil
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
