package vrrpd

import (
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/track"
)

// trackSources are where the trackers (internal/track) learn what the
// tracked objects do: the kernel's when zero, fakes in tests.
var trackSources track.Sources

// monitorBuffers is src with global_defs' receive buffers for the
// netlink sockets the trackers open: vrrp_netlink_monitor_rcv_bufs for
// the interface monitor (keepalived's nl_kernel in the VRRP process,
// keepalived_netlink.c kernel_netlink_init) and process_monitor_rcv_bufs
// for the proc connector (track_process.c). Unset, the kernel's default
// stays (keepalived sets 64 KiB, less than Linux's usual 208 KiB).
func monitorBuffers(g *config.GlobalDefs, src track.Sources) track.Sources {
	if g != nil {
		src.LinkBuffer = kernel.NetlinkBuffer{Size: g.VRRPNetlinkMonitorRcvBufs, Force: g.VRRPNetlinkMonitorRcvForce}
		src.ProcBuffer = kernel.NetlinkBuffer{Size: g.ProcessMonitorRcvBufs, Force: g.ProcessMonitorRcvBufsForce}
	}
	return src
}
