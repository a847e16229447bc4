package vrrpd

import (
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// TestRecvBufferSumsAsKeepalived: each instance of a socket adds its
// kernel_rx_buf_size, else the share vrrp_rx_bufs_policy gives it; the
// policy words are read as keepalived's handler reads them.
func TestRecvBufferSumsAsKeepalived(t *testing.T) {
	members := []rxMember{{kernelRxBufSize: 1000, mtu: 1500, advLen: 40}, {mtu: 9000, advLen: 32}}
	for _, tt := range []struct {
		words []string
		mult  int
		want  int
	}{
		{nil, 0, 1000},
		{[]string{"MTU"}, 0, 1000 + 3*9000},
		{[]string{"mtu"}, 2, 1000 + 2*9000},
		{[]string{"ADVERT"}, 0, 1000 + 3*32},
		{[]string{"MTU", "ADVERT"}, 0, 1000 + 3*9000}, // MTU wins
		{[]string{"5000"}, 0, 1000 + 5000},
		{[]string{"5000", "MTU"}, 0, 1000 + 5000},   // a size wins
		{[]string{"MTU", "5000"}, 0, 1000 + 3*9000}, // the size is read from the first word: invalid
		{[]string{"bogus"}, 0, 1000},
	} {
		p := readRxPolicy(&config.GlobalDefs{VRRPRxBufsPolicy: tt.words, VRRPRxBufsMultiplier: tt.mult})
		if got := recvBuffer(p, members); got != tt.want {
			t.Errorf("policy %q multiplier %d: %d, want %d", tt.words, tt.mult, got, tt.want)
		}
	}
	if got := recvBuffer(readRxPolicy(nil), members[1:]); got != 0 {
		t.Errorf("nothing configured: %d, want 0 (the kernel's default)", got)
	}
}

// TestAdvertLenIsKeepalivedsVrrpAdvLen: the IPv4 header, VRRPv2's
// authentication data and 4 or 16 bytes per advertised address.
func TestAdvertLenIsKeepalivedsVrrpAdvLen(t *testing.T) {
	two := []vrrp.VIP{{}, {}}
	for _, tt := range []struct {
		version, family, want int
	}{{2, 4, 20 + 8 + 8 + 8}, {3, 4, 20 + 8 + 8}, {3, 6, 8 + 32}} {
		ic := vrrp.InstanceConfig{VIPs: two, Machine: vrrp.MachineConfig{Version: tt.version}}
		if got := advertLen(&ic, tt.family); got != tt.want {
			t.Errorf("v%d IPv%d: %d, want %d", tt.version, tt.family, got, tt.want)
		}
	}
}
