package test

import "testing"

// TestNetlinkCmdReceiveBufferAsKeepalived: the rtnetlink command sockets
// (subscribed to no group) have the receive buffer
// vrrp_netlink_cmd_rcv_bufs asks, in keepalived-go as in keepalived's
// VRRP process (its nl_cmd); with _force beyond net.core.rmem_max.
func TestNetlinkCmdReceiveBufferAsKeepalived(t *testing.T) {
	netlinkBufferAsKeepalived(t, "vrrp_netlink_cmd_rcv_bufs", "198.51.100.202", false)
}
