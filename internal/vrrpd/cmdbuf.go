package vrrpd

import (
	"log/slog"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// commandBuffered is a Kernel with a netlink command socket to size
// (kernel.Linux).
type commandBuffered interface {
	SetCommandBuffer(kernel.NetlinkBuffer) error
}

// applyCommandBuffer sizes the kernel's netlink command socket with
// vrrp_netlink_cmd_rcv_bufs[_force], at start and at each reload, as
// keepalived's VRRP process sizes its nl_cmd (keepalived_netlink.c
// kernel_netlink_init, and kernel_netlink_set_recv_bufs at reload).
// Unset, the kernel's default stays (keepalived sets 64 KiB, less than
// Linux's usual 208 KiB), as for the monitors (tracking.go). A size that
// cannot be set (_force without CAP_NET_ADMIN) is logged and the socket
// goes on, as keepalived's netlink_set_rx_buf_size does.
func applyCommandBuffer(log *slog.Logger, k kernel.Kernel, g *config.GlobalDefs) {
	kb, ok := k.(commandBuffered)
	if !ok {
		return
	}
	var b kernel.NetlinkBuffer
	if g != nil {
		b = kernel.NetlinkBuffer{Size: g.VRRPNetlinkCmdRcvBufs, Force: g.VRRPNetlinkCmdRcvBufsForce}
	}
	if err := kb.SetCommandBuffer(b); err != nil {
		log.Info("vrrp_netlink_cmd_rcv_bufs: cannot size the netlink command socket", "err", err)
	}
}
