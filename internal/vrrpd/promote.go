package vrrpd

import (
	"log/slog"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// promoteSecondaries turns promote_secondaries on for the instance's
// interface while the runtime runs, as keepalived's vrrp_complete_init
// (vrrp.c) does for an instance with promote_secondaries; keepalived
// ignores it with use_vmac or use_ipvlan, whose link has it set anyway. A reload hands
// the holds to the next runtime (releaseDropped), so that an interface
// kept by both never flips.
func (rt *vrrpRuntime) promoteSecondaries(ci *config.VRRPInstance) {
	if !ci.PromoteSecondaries || ci.IsSet("use_vmac") || ci.IsSet("use_ipvlan") {
		return
	}
	release, err := kernel.PromoteSecondaries(ci.Interface)
	if err != nil {
		rt.log.Error("("+ci.Name()+") cannot set promote_secondaries", "err", err)
		return
	}
	rt.promoted = append(rt.promoted, release)
}

// releasePromoted gives the promote_secondaries holds back.
func releasePromoted(log *slog.Logger, holds []func() error) {
	for _, release := range holds {
		if err := release(); err != nil {
			log.Error("cannot restore promote_secondaries", "err", err)
		}
	}
}
