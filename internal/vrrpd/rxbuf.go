package vrrpd

import (
	"strconv"
	"strings"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// rxPolicy is global_defs' vrrp_rx_bufs_policy and vrrp_rx_bufs_multiplier
// as keepalived reads them (global_parser.c vrrp_rx_bufs_policy_handler):
// MTU or ADVERT, case-insensitive, or a size.
type rxPolicy struct {
	mtu, advert bool
	size        int  // a size was given (sized)
	sized       bool // RX_BUFS_SIZE
	multiplier  int  // vrrp_rx_bufs_multiples, 3 by default
}

// readRxPolicy reads the policy words. keepalived reads the size from the
// first word whatever word is not MTU or ADVERT, and a size overrides
// MTU and ADVERT, MTU overrides ADVERT; the configuration layer reports
// those cases at -t.
func readRxPolicy(g *config.GlobalDefs) rxPolicy {
	p := rxPolicy{multiplier: 3}
	if g == nil {
		return p
	}
	if g.VRRPRxBufsMultiplier >= 1 {
		p.multiplier = g.VRRPRxBufsMultiplier
	}
	for _, w := range g.VRRPRxBufsPolicy {
		switch {
		case strings.EqualFold(w, "MTU"):
			p.mtu = true
		case strings.EqualFold(w, "ADVERT"):
			p.advert = true
		default:
			if n, err := strconv.ParseUint(g.VRRPRxBufsPolicy[0], 10, 32); err == nil {
				p.size, p.sized = int(n), true
			}
		}
	}
	if p.sized {
		p.mtu, p.advert = false, false
	} else if p.mtu {
		p.advert = false
	}
	return p
}

// rxMember is what one instance adds to its socket's receive buffer.
type rxMember struct {
	kernelRxBufSize int // kernel_rx_buf_size, 0 if not set
	mtu             int // of the instance's interface
	advLen          int // its advert's length as received (advertLen)
}

// recvBuffer is SO_RCVBUF for a socket shared by members, as keepalived
// sums it (vrrp_scheduler.c vrrp_create_sockpool): each instance adds its
// kernel_rx_buf_size, else the policy's size, else multiplier × its
// advert's length (ADVERT), else multiplier × its interface's MTU (MTU),
// else nothing. 0 leaves the kernel's default.
func recvBuffer(p rxPolicy, members []rxMember) int {
	total := 0
	for _, m := range members {
		switch {
		case m.kernelRxBufSize > 0:
			total += m.kernelRxBufSize
		case p.sized:
			total += p.size
		case p.advert:
			total += p.multiplier * m.advLen
		case p.mtu:
			total += p.multiplier * m.mtu
		}
	}
	return total
}

// advertLen is keepalived's vrrp_adv_len (vrrp.c): the VRRP header, the
// VRRPv2 authentication data over IPv4, the advertised addresses, and the
// IPv4 header (an IPv6 raw socket does not receive the IPv6 header).
func advertLen(ic *vrrp.InstanceConfig, family int) int {
	n := 8
	if family == 6 {
		return n + 16*len(ic.VIPs)
	}
	if ic.Machine.Version == 2 {
		n += 8
	}
	return n + 4*len(ic.VIPs) + 20
}
