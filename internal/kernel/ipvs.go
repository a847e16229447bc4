package kernel

// IPVS, the kernel's load balancer, over generic netlink (family "IPVS"):
// what keepalived's check/libipvs.c does with libnl, with messages of our
// own (ipvs_batch.go, ipvs_genl.go; github.com/cloudflare/ipvs reads the
// counters). The types carry IPVS's own
// values (include/uapi/linux/ip_vs.h); what they mean for keepalived's
// keywords is internal/lvs/ipvs's business.

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"syscall"
)

// IPVS service flags (IP_VS_SVC_F_*).
const (
	IPVSFlagPersistent uint32 = 0x0001
	IPVSFlagHashed     uint32 = 0x0002 // set by the kernel on every service it holds
	IPVSFlagOnePacket  uint32 = 0x0004
	IPVSFlagSched1     uint32 = 0x0008
	IPVSFlagSched2     uint32 = 0x0010
	IPVSFlagSched3     uint32 = 0x0020
)

// IPVS forwarding methods (IP_VS_CONN_F_*).
const (
	IPVSMasq   uint32 = 0 // NAT
	IPVSTunnel uint32 = 2 // TUN
	IPVSDRoute uint32 = 3 // DR
)

// IPVSService is a virtual service: an address, port and protocol, or a
// firewall mark of one family, and how it schedules.
type IPVSService struct {
	Family int            // 4 or 6
	Proto  uint8          // IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP; 0 for a fwmark service
	Addr   netip.AddrPort // an address service's address and port
	Fwmark uint32         // a fwmark service's mark
	Sched  string         // the scheduler's name: rr, wrr, wlc, sh, mh...
	Flags  uint32         // IPVSFlag*; read back without IPVSFlagHashed
	// Timeout is the persistence timeout in seconds (with
	// IPVSFlagPersistent).
	Timeout uint32
	// Netmask is the persistence granularity: an IPv4 mask as a number
	// (0xffffffff for one client address) or an IPv6 prefix length.
	Netmask uint32
	// PE is the persistence engine's name (IPVS_SVC_ATTR_PE_NAME: "sip",
	// the kernel's ip_vs_pe_sip), "" for none. An edit without one
	// removes the service's engine, as the kernel's ip_vs_edit_service
	// does.
	PE string
}

// Key is the service without its scheduling: what IPVS looks it up by.
func (s IPVSService) Key() IPVSService {
	return IPVSService{Family: s.Family, Proto: s.Proto, Addr: s.Addr, Fwmark: s.Fwmark}
}

func (s IPVSService) String() string {
	if s.Fwmark != 0 {
		return fmt.Sprintf("fwmark %d (IPv%d)", s.Fwmark, s.Family)
	}
	return fmt.Sprintf("%s %s", protoNames[s.Proto], s.Addr)
}

// IPVSDest is a destination (real server) of a service.
type IPVSDest struct {
	Addr    netip.AddrPort // its family may differ from the service's (tunnels only)
	Fwd     uint32         // IPVSMasq, IPVSTunnel or IPVSDRoute
	Weight  uint32
	UThresh uint32 // upper connection threshold, 0 for none
	LThresh uint32 // lower connection threshold
	// A tunnel's type (IP_VS_CONN_F_TUNNEL_TYPE_*: 0 ipip, 1 gue, 2
	// gre), GUE port and checksum flags (IP_VS_TUNNEL_ENCAP_FLAG_*).
	TunType  uint8
	TunPort  uint16
	TunFlags uint16
}

// IPVS is the kernel's IPVS table. Errors carry the kernel's errno
// (errors.As into a syscall.Errno): EEXIST for a service or destination
// that exists, ESRCH for a service that does not, ENOENT for a
// destination that does not (or an unknown scheduler).
type IPVS interface {
	// Services lists every service of the table.
	Services() ([]IPVSService, error)
	// Dests lists the destinations of service s (by its key).
	Dests(s IPVSService) ([]IPVSDest, error)
	AddService(s IPVSService) error
	// EditService changes the scheduling of the service of s's key.
	EditService(s IPVSService) error
	DelService(s IPVSService) error
	AddDest(s IPVSService, d IPVSDest) error
	// EditDest changes the destination of d's address.
	EditDest(s IPVSService, d IPVSDest) error
	DelDest(s IPVSService, d IPVSDest) error
	Close() error
}

// Errno is the kernel's errno of an IPVS error (0 if it has none).
func Errno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// FakeIPVS is an in-memory IPVS for tests: it keeps services and
// destinations in the order they were added and answers as the kernel's
// ip_vs_ctl.c does (the same errnos for what exists or not, an unknown
// scheduler, an IPv6 prefix out of 1-128, a destination of another family
// that is not tunnelled, a GUE tunnel without port, lthreshold above
// uthreshold); the QEMU tests check it against Debian's 6.1 kernel
// (internal/lvs/ipvs/kernel_guest_test.go). Calls records every change,
// successful or not.
type FakeIPVS struct {
	mu       sync.Mutex
	services []*fakeIPVSService
	calls    []string
	// The settings of ipvs_genl.go's IPVSControl: the timeouts (nil
	// until set: the kernel's defaults) and the sync daemons running.
	timeouts *IPVSTimeouts
	daemons  []IPVSDaemon
	// Scheds are the schedulers the fake kernel has (nil: those of a
	// Debian kernel).
	Scheds []string
	// Fail, when set, is returned by every call (say, EPERM).
	Fail error
}

type fakeIPVSService struct {
	IPVSService
	dests []IPVSDest
}

var _ IPVS = (*FakeIPVS)(nil)

var fakeIPVSScheds = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}

// fakeIPVSEngines are the persistence engines of a Debian kernel.
var fakeIPVSEngines = []string{"sip"}

func (f *FakeIPVS) find(s IPVSService) *fakeIPVSService {
	for _, x := range f.services {
		if x.Key() == s.Key() {
			return x
		}
	}
	return nil
}

func (f *FakeIPVS) record(op string, s IPVSService, d *IPVSDest, err error) error {
	c := op + " " + s.String()
	if d != nil {
		c += fmt.Sprintf(" -> %s weight %d", d.Addr, d.Weight)
	}
	if err != nil {
		c += ": " + err.Error()
	}
	f.calls = append(f.calls, c)
	return err
}

func (f *FakeIPVS) checkService(s IPVSService) error {
	scheds := f.Scheds
	if scheds == nil {
		scheds = fakeIPVSScheds
	}
	switch {
	case !slices.Contains(scheds, s.Sched), s.PE != "" && !slices.Contains(fakeIPVSEngines, s.PE):
		return syscall.ENOENT
	case s.Family == 6 && (s.Netmask < 1 || s.Netmask > 128):
		return syscall.EINVAL
	case s.Fwmark == 0 && (s.Addr.Addr().Is4() != (s.Family == 4) || protoNames[s.Proto] == ""):
		return syscall.EAFNOSUPPORT
	}
	return nil
}

func checkDest(s IPVSService, d IPVSDest) error {
	switch {
	case d.Addr.Addr().Is4() != (s.Family == 4) && d.Fwd != IPVSTunnel:
		return syscall.EINVAL
	case d.LThresh > d.UThresh: // even without an upper threshold (0)
		return syscall.ERANGE
	case d.TunType == 1 && d.TunPort == 0:
		return syscall.EINVAL
	}
	return nil
}

// Services lists the services.
func (f *FakeIPVS) Services() ([]IPVSService, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return nil, f.Fail
	}
	out := make([]IPVSService, len(f.services))
	for i, s := range f.services {
		out[i] = s.IPVSService
	}
	return out, nil
}

// Dests lists a service's destinations.
func (f *FakeIPVS) Dests(s IPVSService) ([]IPVSDest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return nil, f.Fail
	}
	x := f.find(s)
	if x == nil {
		return nil, nil // the kernel's dump of a missing service is empty
	}
	return slices.Clone(x.dests), nil
}

// AddService adds a service.
func (f *FakeIPVS) AddService(s IPVSService) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.Fail
	switch {
	case err != nil:
	case f.find(s) != nil:
		err = syscall.EEXIST
	default:
		if err = f.checkService(s); err == nil {
			f.services = append(f.services, &fakeIPVSService{IPVSService: s})
		}
	}
	return f.record("add-service", s, nil, err)
}

// EditService changes a service's scheduling.
func (f *FakeIPVS) EditService(s IPVSService) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.Fail
	if err == nil {
		if x := f.find(s); x == nil {
			err = syscall.ESRCH
		} else if err = f.checkService(s); err == nil {
			x.IPVSService = s
		}
	}
	return f.record("edit-service", s, nil, err)
}

// DelService deletes a service and its destinations.
func (f *FakeIPVS) DelService(s IPVSService) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.Fail
	if err == nil {
		if x := f.find(s); x == nil {
			err = syscall.ESRCH
		} else {
			f.services = slices.DeleteFunc(f.services, func(y *fakeIPVSService) bool { return y == x })
		}
	}
	return f.record("del-service", s.Key(), nil, err)
}

func (f *FakeIPVS) destOp(op string, s IPVSService, d IPVSDest, do func(x *fakeIPVSService, i int) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.Fail
	if err == nil {
		if x := f.find(s); x == nil {
			err = syscall.ESRCH
		} else {
			err = do(x, slices.IndexFunc(x.dests, func(y IPVSDest) bool { return y.Addr == d.Addr }))
		}
	}
	return f.record(op, s.Key(), &d, err)
}

// AddDest adds a destination.
func (f *FakeIPVS) AddDest(s IPVSService, d IPVSDest) error {
	return f.destOp("add-dest", s, d, func(x *fakeIPVSService, i int) error {
		if i >= 0 {
			return syscall.EEXIST
		}
		if err := checkDest(x.IPVSService, d); err != nil {
			return err
		}
		x.dests = append(x.dests, d)
		return nil
	})
}

// EditDest changes a destination.
func (f *FakeIPVS) EditDest(s IPVSService, d IPVSDest) error {
	return f.destOp("edit-dest", s, d, func(x *fakeIPVSService, i int) error {
		if i < 0 {
			return syscall.ENOENT
		}
		if err := checkDest(x.IPVSService, d); err != nil {
			return err
		}
		x.dests[i] = d
		return nil
	})
}

// DelDest deletes a destination.
func (f *FakeIPVS) DelDest(s IPVSService, d IPVSDest) error {
	return f.destOp("del-dest", s, d, func(x *fakeIPVSService, i int) error {
		if i < 0 {
			return syscall.ENOENT
		}
		x.dests = slices.Delete(x.dests, i, i+1)
		return nil
	})
}

// Close does nothing.
func (f *FakeIPVS) Close() error { return nil }

// Calls returns the changes asked for since the last call, and forgets
// them: "add-service tcp 10.0.0.1:80", "del-dest tcp 10.0.0.1:80 ->
// 10.0.0.2:80 weight 1: no such file or directory".
func (f *FakeIPVS) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}
