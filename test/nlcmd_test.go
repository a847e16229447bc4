package test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// TestNetlinkCmdReceiveBufferAsKeepalived: the rtnetlink command socket
// (subscribed to no group) has the receive buffer
// vrrp_netlink_cmd_rcv_bufs asks, in keepalived-go as in keepalived's
// VRRP process (its nl_cmd); with _force beyond net.core.rmem_max.
func TestNetlinkCmdReceiveBufferAsKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	for _, tc := range []struct {
		name, global string
		want         int
	}{
		{"size", "    vrrp_netlink_cmd_rcv_bufs 100000\n", 100000},
		{"force", "    vrrp_netlink_cmd_rcv_bufs 9000000\n    vrrp_netlink_cmd_rcv_bufs_force\n", 9000000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := "global_defs {\n" + tc.global + "}\n" + rxInstance("VI_1", 51, "198.51.100.202", "")
			l := newLab(t, "r1")
			r1 := l.Host("r1")
			for _, impl := range []string{"keepalived-go", "keepalived"} {
				p, pid := startImpl(t, l, r1, impl, conf)
				waitLog(t, 5*time.Second, p, "Entering BACKUP STATE")
				var got []int
				lab.WaitUntil("the command socket is open", 3*time.Second, func() bool {
					got = socketBuffers(t, pid, "netlink", func(f []string) bool {
						return f[1] == "0" && strings.Trim(f[3], "0") == "" // NETLINK_ROUTE, no group
					})
					return slices.Contains(got, 2*tc.want)
				})
				p.Stop()
				if !slices.Contains(got, 2*tc.want) {
					t.Errorf("%s: its rtnetlink command sockets' SO_RCVBUF read %v, want one of %d (set %d):\n%s", impl, got, 2*tc.want, tc.want, p.Log())
				}
			}
		})
	}
}
