//go:build linux

package kernel

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/cloudflare/ipvs"
	"github.com/cloudflare/ipvs/netmask"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// HasIPVS tells whether the kernel offers IPVS: its generic netlink
// family "IPVS" is registered (ip_vs loaded or built in), or ip_vs is a
// module keepalived would load (modprobe ip_vs).
func HasIPVS() bool {
	if _, err := netlink.GenlFamilyGet("IPVS"); err == nil {
		return true
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	dir := "/lib/modules/" + unix.ByteSliceToString(u.Release[:]) + "/"
	for _, f := range []string{"modules.dep", "modules.builtin"} {
		if b, err := os.ReadFile(dir + f); err == nil && bytes.Contains(b, []byte("/ip_vs.ko")) {
			return true
		}
	}
	return false
}

// OpenIPVS connects to the IPVS of the calling thread's network namespace
// (the socket stays in it). As keepalived's ipvs_start
// (check/ipvswrapper.c), it loads ip_vs (modprobe) if the kernel does not
// know the IPVS family yet.
func OpenIPVS() (IPVS, error) {
	c, err := ipvs.New()
	if err != nil {
		modprobe("ip_vs")
		if c, err = ipvs.New(); err != nil {
			return nil, fmt.Errorf("kernel: IPVS: %w", err)
		}
	}
	return &linuxIPVS{c: c}, nil
}

// modprobe loads a module as keepalived_modprobe (core/utils.c) does: the
// kernel's modprobe helper (/proc/sys/kernel/modprobe), quietly.
func modprobe(module string) {
	path := "/sbin/modprobe"
	if b, err := os.ReadFile("/proc/sys/kernel/modprobe"); err == nil && len(bytes.TrimSpace(b)) > 0 {
		path = strings.TrimSpace(string(b))
	}
	_ = exec.Command(path, "-s", "--", module).Run()
}

// linuxIPVS is IPVS over cloudflare/ipvs's generic netlink client. The
// client's netlink socket takes one request at a time.
type linuxIPVS struct {
	mu sync.Mutex
	c  ipvs.Client
}

func toLibService(s IPVSService) ipvs.Service {
	out := ipvs.Service{Family: ipvs.INET, Scheduler: s.Sched, Flags: ipvs.Flags(s.Flags), Timeout: s.Timeout}
	if s.Family == 6 {
		out.Family = ipvs.INET6
		out.Netmask = netmask.MaskFrom(int(min(s.Netmask, 128)), 128)
	} else {
		n := s.Netmask
		out.Netmask = netmask.MaskFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
	if s.Fwmark != 0 {
		out.FWMark = s.Fwmark
	} else {
		out.Protocol = ipvs.Protocol(s.Proto)
		out.Address = s.Addr.Addr()
		out.Port = s.Addr.Port()
	}
	return out
}

func fromLibService(s ipvs.ServiceExtended) IPVSService {
	out := IPVSService{Family: 4, Fwmark: s.FWMark, Sched: s.Scheduler, Flags: uint32(s.Flags) &^ IPVSFlagHashed, Timeout: s.Timeout}
	if s.Family == ipvs.INET6 {
		out.Family = 6
	}
	if s.FWMark == 0 {
		out.Proto = uint8(s.Protocol)
		out.Addr = netip.AddrPortFrom(s.Address.Unmap(), s.Port)
	}
	switch {
	case s.Netmask.Is4():
		b := s.Netmask.AsSlice()
		out.Netmask = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	case s.Netmask.Is6():
		out.Netmask = uint32(max(s.Netmask.Bits(), 0))
	}
	return out
}

func toLibDest(d IPVSDest) ipvs.Destination {
	out := ipvs.Destination{Address: d.Addr.Addr(), Port: d.Addr.Port(), Family: ipvs.INET, FwdMethod: ipvs.ForwardType(d.Fwd),
		Weight: d.Weight, UpperThreshold: d.UThresh, LowerThreshold: d.LThresh,
		TunnelType: ipvs.TunnelType(d.TunType), TunnelPort: d.TunPort, TunnelFlags: ipvs.TunnelFlags(d.TunFlags)}
	if d.Addr.Addr().Is6() {
		out.Family = ipvs.INET6
	}
	return out
}

func fromLibDest(d ipvs.DestinationExtended) IPVSDest {
	return IPVSDest{Addr: netip.AddrPortFrom(d.Address.Unmap(), d.Port), Fwd: uint32(d.FwdMethod) & 0x7, // IP_VS_CONN_F_FWD_MASK
		Weight: d.Weight, UThresh: d.UpperThreshold, LThresh: d.LowerThreshold,
		TunType: uint8(d.TunnelType), TunPort: d.TunnelPort, TunFlags: uint16(d.TunnelFlags)}
}

func (l *linuxIPVS) Services() ([]IPVSService, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	svcs, err := l.c.Services()
	if err == os.ErrNotExist { // the library's answer to an empty dump (not the kernel's ENOENT)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]IPVSService, len(svcs))
	for i, s := range svcs {
		out[i] = fromLibService(s)
	}
	return out, nil
}

func (l *linuxIPVS) Dests(s IPVSService) ([]IPVSDest, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ds, err := l.c.Destinations(toLibService(s))
	if err == os.ErrNotExist { // an empty dump (the kernel dumps nothing for a missing service)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]IPVSDest, len(ds))
	for i, d := range ds {
		out[i] = fromLibDest(d)
	}
	return out, nil
}

func (l *linuxIPVS) AddService(s IPVSService) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.CreateService(toLibService(s))
}

func (l *linuxIPVS) EditService(s IPVSService) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.UpdateService(toLibService(s))
}

func (l *linuxIPVS) DelService(s IPVSService) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.RemoveService(toLibService(s))
}

func (l *linuxIPVS) AddDest(s IPVSService, d IPVSDest) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.CreateDestination(toLibService(s), toLibDest(d))
}

func (l *linuxIPVS) EditDest(s IPVSService, d IPVSDest) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.UpdateDestination(toLibService(s), toLibDest(d))
}

func (l *linuxIPVS) DelDest(s IPVSService, d IPVSDest) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.RemoveDestination(toLibService(s), toLibDest(d))
}

// Close closes the netlink socket.
func (l *linuxIPVS) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.c.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
