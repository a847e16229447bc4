package vrrpd

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// bufferedFake is a Fake with a command socket to size, as kernel.Linux.
type bufferedFake struct {
	*kernel.Fake
	mu   sync.Mutex
	bufs []kernel.NetlinkBuffer
}

func (f *bufferedFake) SetCommandBuffer(b kernel.NetlinkBuffer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bufs = append(f.bufs, b)
	return nil
}

// TestCommandBufferAtStartAndReload: the subsystem sizes the kernel's
// command socket with vrrp_netlink_cmd_rcv_bufs(_force) at start, and
// again at a reload (back to the default when the reload drops it), as
// keepalived's VRRP process sizes its nl_cmd.
func TestCommandBufferAtStartAndReload(t *testing.T) {
	const instance = `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    virtual_ipaddress {
        198.51.100.1
    }
}
`
	k := &bufferedFake{Fake: kernel.NewFake(kernel.Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.1")})}
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), k, false, nil)
	defer s.Stop(context.Background())
	for _, conf := range []string{
		"global_defs {\n    vrrp_netlink_cmd_rcv_bufs 100000\n}\n" + instance,
		"global_defs {\n    vrrp_netlink_cmd_rcv_bufs 9000000\n    vrrp_netlink_cmd_rcv_bufs_force\n}\n" + instance,
		instance,
	} {
		if err := s.Apply(context.Background(), loadConf(t, conf)); err != nil {
			t.Fatal(err)
		}
	}
	want := []kernel.NetlinkBuffer{{Size: 100000}, {Size: 9000000, Force: true}, {}}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !slices.Equal(k.bufs, want) {
		t.Errorf("command socket sized %v, want %v (start, reload, reload)", k.bufs, want)
	}
}
