// Package ipvs is the IPVS data plane: an lvs.Backend that programs the
// kernel's IPVS as keepalived 2.2.7 does (check/ipvswrapper.c,
// check/libipvs.c), over generic netlink (kernel.IPVS). Beside the
// services: global_defs's lvs_timeouts, lvs_flush and lvs_flush_on_stop
// (settings.go) and the lvs_sync_daemon subsystem (sync.go), over
// kernel.IPVSControl.
//
// What a service becomes (ipvs_set_srule, ipvs_set_drule, ipvs_cmd):
//
//   - the scheduler is lb_algo's name as such (every scheduler the kernel
//     has; the kernel loads ip_vs_NAME itself), wlc by default;
//   - the flags are keepalived's (ops, flag-1..3, sh-/mh-port and
//     -fallback), plus IP_VS_SVC_F_PERSISTENT with a persistence timeout;
//     the persistence netmask is persistence_granularity (255.255.255.255
//     or /128 without);
//   - a destination is forwarded by its lvs_method (masquerading for NAT,
//     direct routing for DR, tunnelling for TUN with its type, port and
//     checksum flags), at its weight (inhibit_on_failure: 0) with its
//     uthreshold and lthreshold; a DR or TUN destination takes the
//     service's port (none for a fwmark service), as ipvs_cmd sets it.
//
// A persistent service takes persistence_engine's name
// (IPVS_SVC_ATTR_PE_NAME, as ipvs_set_srule sets it only with a
// persistence timeout); kernel.IPVS encodes its messages itself
// (kernel/ipvs_batch.go), and takes many changes to a send
// (kernel.IPVSBatcher): Apply sends its operations together and reads
// their answers together, where keepalived sends one and waits for its
// answer.
//
// IPVS has no table of its own, so the backend keeps what it owns: the
// services it was asked to express (the configured ones) and those it
// created, and in them the destinations it was asked for or created.
// Observe returns only those, so that a service or destination made by
// hand (ipvsadm) is never changed, and Release removes only those.
//
// Errors are handled as ipvs_talk does: an add that finds the entry there
// (EEXIST) and a delete that finds it gone (ENOENT; the kernel's ESRCH for
// a service, which libnl turns into ENOENT) succeed; an edit of a
// destination that is gone adds it; every error is logged with
// keepalived's line, "IPVS cmd IP_VS_SO_SET_ADD(1154) error: Service
// already exists(17) (10.0.0.1:tcp:80)".
package ipvs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// Backend is the IPVS lvs.Backend.
type Backend struct {
	k   kernel.IPVS
	log *slog.Logger

	mu    sync.Mutex
	owned map[lvs.ServiceKey]*ownership
	seq   uint64
	// settings.go: the kernel's timeouts before lvs_timeouts changed
	// them (nil: unchanged), and lvs_flush_on_stop.
	origTimeouts *kernel.IPVSTimeouts
	flushOnStop  FlushMode
}

// ownership is what the backend owns of one service, with when each
// part was first claimed: Release goes in that order, which is the
// configuration's at start.
type ownership struct {
	order uint64
	dests map[netip.AddrPort]uint64
}

var _ lvs.Backend = (*Backend)(nil)

// New makes the backend over k, logging IPVS errors to log.
func New(k kernel.IPVS, log *slog.Logger) *Backend {
	return &Backend{k: k, log: log, owned: map[lvs.ServiceKey]*ownership{}}
}

// Name is "IPVS".
func (b *Backend) Name() string { return "IPVS" }

// Close closes the kernel connection.
func (b *Backend) Close() error { return b.k.Close() }

// The service flags keepalived sets from its keywords; persistence is
// Service.Persistence, IP_VS_SVC_F_HASHED the kernel's own.
const serviceFlags = lvs.FlagOnePacket | lvs.FlagSched1 | lvs.FlagSched2 | lvs.FlagSched3

// defaultGranularity is the persistence netmask of one client address
// (ipvs_set_srule: 0xffffffff, or 128 for IPv6).
func defaultGranularity(family int) uint32 {
	if family == 6 {
		return 128
	}
	return math.MaxUint32
}

// Express is the service as IPVS holds it (see the package comment): the
// scheduler named (wlc by default), keepalived's flags, the persistence
// netmask explicit when persistent (Granularity 0 is one client address)
// and none otherwise, the persistence engine only when persistent, no
// service-level method; the
// destinations with their method (the service's by default), DR and TUN
// ones on the service's port, weights within IPVS's 0..2147483647, tunnel
// settings only for TUN. Expressing a service also makes it, and its
// destinations, the backend's own.
func (b *Backend) Express(s lvs.Service) (lvs.Service, bool, []string) {
	out := lvs.Service{ServiceKey: s.ServiceKey, Name: s.Name, Pos: s.Pos, Scheduler: cmp.Or(s.Scheduler, "wlc"),
		Flags: s.Flags & serviceFlags, Persistence: s.Persistence}
	if s.Fwmark == 0 && kernel.ProtoNumber(s.Proto) == 0 {
		return out, false, []string{fmt.Sprintf("protocol %q is not available with IPVS: not programmed", s.Proto)}
	}
	var notes []string
	if s.Persistence > 0 {
		out.Granularity = s.Granularity
		if out.Granularity == 0 {
			out.Granularity = defaultGranularity(s.Family)
		}
		out.Engine = s.Engine
	}
	// Duplicates: a look through the few destinations already kept, a
	// map for many (a no-op reload of thousands of services is mostly
	// Express).
	var seen map[netip.AddrPort]bool
	if len(s.Dests) > 32 {
		seen = make(map[netip.AddrPort]bool, len(s.Dests))
	}
	if len(s.Dests) > 0 {
		out.Dests = make([]lvs.Destination, 0, len(s.Dests))
	}
	for _, d := range s.Dests {
		d.Method = cmp.Or(d.Method, s.Method, "NAT")
		if _, ok := fwdMethods[d.Method]; !ok {
			notes = append(notes, fmt.Sprintf("real server %s: unknown lvs_method %s: left out", d.Addr, d.Method))
			continue
		}
		addr := d.Addr.Addr().Unmap()
		port := d.Addr.Port()
		if d.Method != "NAT" {
			port = s.Addr.Port() // ipvs_cmd: a DR or TUN destination takes the service's port (0 for a fwmark)
		}
		d.Addr = netip.AddrPortFrom(addr, port)
		if seen != nil && seen[d.Addr] || seen == nil && slices.ContainsFunc(out.Dests, func(x lvs.Destination) bool { return x.Addr == d.Addr }) {
			continue // IPVS holds one destination per address and port: the first (EEXIST for the others)
		}
		if seen != nil {
			seen[d.Addr] = true
		}
		d.Weight = min(max(d.Weight, 0), math.MaxInt32) // real_weight
		if d.Method != "TUN" {
			d.Tunnel = lvs.Tunnel{}
		}
		out.Dests = append(out.Dests, d)
	}
	if len(out.Dests) == 0 {
		out.Dests = nil // as Observe decodes a service without destinations
	}
	b.claim(&out)
	return out, true, notes
}

// claim makes an expressed service and its destinations the backend's.
func (b *Backend) claim(s *lvs.Service) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := b.owned[s.ServiceKey]
	if o == nil {
		b.seq++
		o = &ownership{order: b.seq, dests: map[netip.AddrPort]uint64{}}
		b.owned[s.ServiceKey] = o
	}
	for _, d := range s.Dests {
		if _, ok := o.dests[d.Addr]; !ok {
			b.seq++
			o.dests[d.Addr] = b.seq
		}
	}
}

// fwdMethods are lvs_method's forwarding methods (IP_VS_CONN_F_*).
var fwdMethods = map[string]uint32{"NAT": kernel.IPVSMasq, "DR": kernel.IPVSDRoute, "TUN": kernel.IPVSTunnel}

// keyOf is an IPVS service's key.
func keyOf(k kernel.IPVSService) lvs.ServiceKey {
	if k.Fwmark != 0 {
		return lvs.FwmarkKey(k.Family, k.Fwmark)
	}
	proto := lvs.ProtoName(k.Proto)
	return lvs.AddrKey(proto, k.Addr)
}

// render is the kernel form of an expressed service (ipvs_set_srule).
func render(s *lvs.Service) kernel.IPVSService {
	out := kernel.IPVSService{Family: s.Family, Fwmark: s.Fwmark, Sched: s.Scheduler, Flags: uint32(s.Flags & serviceFlags),
		Netmask: defaultGranularity(s.Family)}
	if s.Fwmark == 0 {
		out.Proto = kernel.ProtoNumber(s.Proto)
		out.Addr = s.Addr
	}
	if s.Persistence > 0 {
		out.Flags |= kernel.IPVSFlagPersistent
		out.Timeout = s.Persistence
		out.Netmask = s.Granularity
		out.PE = s.Engine
	}
	return out
}

// renderDest is the kernel form of an expressed destination
// (ipvs_set_drule).
func renderDest(d lvs.Destination) kernel.IPVSDest {
	return kernel.IPVSDest{Addr: d.Addr, Fwd: fwdMethods[d.Method], Weight: uint32(d.Weight), UThresh: d.UThreshold,
		LThresh: d.LThreshold, TunType: uint8(d.Tunnel.Type), TunPort: d.Tunnel.Port, TunFlags: uint16(d.Tunnel.Flags)}
}

// decode is a kernel service and the destinations we own of it, in
// Express's terms.
func decode(k kernel.IPVSService, dests []kernel.IPVSDest) lvs.Service {
	s := lvs.Service{ServiceKey: keyOf(k), Scheduler: k.Sched, Flags: lvs.Flags(k.Flags) & serviceFlags}
	if len(dests) > 0 {
		s.Dests = make([]lvs.Destination, 0, len(dests))
	}
	if k.Flags&kernel.IPVSFlagPersistent != 0 {
		s.Persistence = k.Timeout
		s.Granularity = k.Netmask
		s.Engine = k.PE
	}
	for _, d := range dests {
		x := lvs.Destination{Addr: d.Addr, Weight: int(min(d.Weight, math.MaxInt32)), UThreshold: d.UThresh, LThreshold: d.LThresh}
		switch d.Fwd {
		case kernel.IPVSMasq:
			x.Method = "NAT"
		case kernel.IPVSDRoute:
			x.Method = "DR"
		case kernel.IPVSTunnel:
			x.Method = "TUN"
			x.Tunnel = lvs.Tunnel{Type: lvs.TunnelType(d.TunType), Port: d.TunPort, Flags: lvs.TunnelFlags(d.TunFlags)}
		default:
			x.Method = fmt.Sprintf("fwd %d", d.Fwd) // local (made by hand): never what we express
		}
		s.Dests = append(s.Dests, x)
	}
	return s
}

// Observe reads the services the backend owns, with the destinations it
// owns in them.
func (b *Backend) Observe(context.Context) ([]lvs.Service, error) {
	ks, err := b.k.Services()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []lvs.Service
	for _, k := range ks {
		o := b.owned[keyOf(k)]
		if o == nil {
			continue // not ours: never touched
		}
		all, err := b.k.Dests(k)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		ours := slices.DeleteFunc(all, func(d kernel.IPVSDest) bool {
			_, own := o.dests[d.Addr]
			return !own
		})
		out = append(out, decode(k, ours))
	}
	return out, nil
}

// The commands ipvs_talk logs, with their numbers (IP_VS_SO_SET_*,
// include/uapi/linux/ip_vs.h).
type command int

const (
	cmdAdd      command = 1154
	cmdEdit     command = 1155
	cmdDel      command = 1156
	cmdAddDest  command = 1159
	cmdDelDest  command = 1160
	cmdEditDest command = 1161
)

func (c command) String() string {
	switch c {
	case cmdAdd:
		return "IP_VS_SO_SET_ADD"
	case cmdEdit:
		return "IP_VS_SO_SET_EDIT"
	case cmdDel:
		return "IP_VS_SO_SET_DEL"
	case cmdAddDest:
		return "IP_VS_SO_SET_ADDDEST"
	case cmdDelDest:
		return "IP_VS_SO_SET_DELDEST"
	case cmdEditDest:
		return "IP_VS_SO_SET_EDITDEST"
	case cmdFlush:
		return "IP_VS_SO_SET_FLUSH"
	case cmdStartDaemon:
		return "IP_VS_SO_SET_STARTDAEMON"
	case cmdStopDaemon:
		return "IP_VS_SO_SET_STOPDAEMON"
	}
	return "(unknown)"
}

// talk runs one command as ipvs_talk does: EEXIST on an add and ENOENT
// on a delete succeed; an edit of a destination that is gone adds it;
// every error is logged. It returns the error that was not ignored.
func (b *Backend) talk(cmd command, s kernel.IPVSService, d kernel.IPVSDest) error {
	var err error
	switch cmd {
	case cmdAdd:
		err = b.k.AddService(s)
	case cmdEdit:
		err = b.k.EditService(s)
	case cmdDel:
		err = b.k.DelService(s)
	case cmdAddDest:
		err = b.k.AddDest(s, d)
	case cmdDelDest:
		err = b.k.DelDest(s, d)
	case cmdEditDest:
		if err = b.k.EditDest(s, d); errnoOf(err) == syscall.ENOENT {
			cmd = cmdAddDest
			err = b.k.AddDest(s, d)
		}
	}
	return b.report(cmd, s, d, err)
}

// report logs a command's error as ipvs_talk does and returns it unless
// it is ignored: EEXIST on an add, ENOENT on a delete.
func (b *Backend) report(cmd command, s kernel.IPVSService, d kernel.IPVSDest, err error) error {
	if err == nil {
		return nil
	}
	errno := errnoOf(err)
	ignored := (errno == syscall.EEXIST && (cmd == cmdAdd || cmd == cmdAddDest)) ||
		(errno == syscall.ENOENT && (cmd == cmdDel || cmd == cmdDelDest))
	what := " (" + formatService(s)
	if cmd >= cmdAddDest {
		what += fmt.Sprintf(" -> %s:%d", d.Addr.Addr(), d.Addr.Port())
	}
	what += ")"
	line := fmt.Sprintf("IPVS cmd %s(%d) error: %s(%d)%s", cmd, int(cmd), strerror(cmd, errno, err), int(errno), what)
	if ignored {
		b.log.Info(line)
		return nil
	}
	b.log.Error(line)
	return fmt.Errorf("%s%s: %w", cmd, what, err)
}

// errnoOf is the errno keepalived would see: libnl turns the kernel's
// ESRCH (no such service) into ENOENT, as it does a few others
// (nl_syserr2nlerr, then libipvs.c's nlerr2syserr).
func errnoOf(err error) syscall.Errno {
	switch e := kernel.Errno(err); e {
	case syscall.ESRCH:
		return syscall.ENOENT
	case syscall.EADDRINUSE:
		return syscall.EEXIST
	case syscall.ENOPROTOOPT, syscall.EFAULT:
		return syscall.EINVAL
	case syscall.ENOBUFS:
		return syscall.ENOMEM
	default:
		return e
	}
}

// strerror is libipvs.c's ipvs_strerror: messages of its own for some
// errnos of some commands, else the C library's.
func strerror(cmd command, errno syscall.Errno, err error) string {
	type key struct {
		cmd   command
		errno syscall.Errno
	}
	specific := map[key]string{
		{cmdAdd, syscall.EEXIST}:         "Service already exists",
		{cmdAdd, syscall.ENOENT}:         "Scheduler or persistence engine not found",
		{cmdEdit, syscall.ENOENT}:        "Scheduler or persistence engine not found",
		{cmdAddDest, syscall.EEXIST}:     "Destination already exists",
		{cmdEditDest, syscall.ENOENT}:    "No such destination",
		{cmdDelDest, syscall.ENOENT}:     "No such destination",
		{cmdStartDaemon, syscall.EEXIST}: "Daemon has already run",
		{cmdStopDaemon, syscall.ESRCH}:   "No daemon is running",
	}
	if m, ok := specific[key{cmd, errno}]; ok {
		return m
	}
	switch errno {
	case syscall.ESRCH:
		return "No such service"
	case syscall.EPERM:
		return "Permission denied (you must be root)"
	case syscall.EINVAL:
		return "Invalid operation.  Possibly wrong module version, address not unicast, ..."
	case syscall.ENOPROTOOPT:
		return "Protocol not available"
	case syscall.ENOMEM:
		return "Memory allocation problem"
	case syscall.EOPNOTSUPP:
		return "Operation not supported with IPv6"
	case syscall.EAFNOSUPPORT:
		return "Operation not supported with specified address family"
	case syscall.EMSGSIZE:
		return "Module is wrong version"
	case 0:
		return err.Error()
	}
	m := errno.Error()
	return strings.ToUpper(m[:1]) + m[1:] // strerror's capital
}

// formatService is ipvswrapper.c's format_srule: "10.0.0.1:tcp:80",
// "2001:db8::1:udp:53", "Fwm 5", "Fwm 5 inet6".
func formatService(s kernel.IPVSService) string {
	if s.Fwmark != 0 {
		if s.Family == 6 {
			return fmt.Sprintf("Fwm %d inet6", s.Fwmark)
		}
		return fmt.Sprintf("Fwm %d", s.Fwmark)
	}
	return fmt.Sprintf("%s:%s:%d", s.Addr.Addr(), lvs.ProtoName(s.Proto), s.Addr.Port())
}

// Apply performs the operations in order, each as ipvs_talk does; a
// failed one does not stop the others. A kernel.IPVSBatcher takes them
// many at a time: up to and including each destination edit, whose
// answer must be known before what follows (an edit of a destination
// found gone adds it, as ipvs_talk does, before the next operation). The
// errors are logged in the operations' order.
func (b *Backend) Apply(ctx context.Context, ops []lvs.Op) error {
	bk, ok := b.k.(kernel.IPVSBatcher)
	if !ok {
		return b.applyEach(ctx, ops)
	}
	kops := make([]kernel.IPVSOp, len(ops))
	for i, op := range ops {
		kops[i] = kernel.IPVSOp{Kind: kernelKinds[op.Kind], Service: render(op.Service), Dest: renderDest(op.Dest)}
	}
	var errs []error
	for i := 0; i < len(ops); {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		j := i
		for j < len(ops) && kops[j].Kind != kernel.IPVSEditDest {
			j++
		}
		j = min(j+1, len(ops)) // the edit too
		results := bk.Batch(kops[i:j])
		for n, err := range results {
			op, kop := ops[i+n], kops[i+n]
			cmd := commands[op.Kind]
			if kop.Kind == kernel.IPVSEditDest && errnoOf(err) == syscall.ENOENT {
				cmd = cmdAddDest
				err = bk.Batch([]kernel.IPVSOp{{Kind: kernel.IPVSAddDest, Service: kop.Service, Dest: kop.Dest}})[0]
			}
			if err = b.report(cmd, kop.Service, kop.Dest, err); err != nil {
				errs = append(errs, err)
				continue
			}
			b.owns(op)
		}
		i = j
	}
	return errors.Join(errs...)
}

// The kernel's change and ipvs_talk's command of each operation.
var (
	kernelKinds = map[lvs.OpKind]kernel.IPVSOpKind{lvs.AddService: kernel.IPVSAddService, lvs.EditService: kernel.IPVSEditService,
		lvs.DelService: kernel.IPVSDelService, lvs.AddDest: kernel.IPVSAddDest, lvs.EditDest: kernel.IPVSEditDest, lvs.DelDest: kernel.IPVSDelDest}
	commands = map[lvs.OpKind]command{lvs.AddService: cmdAdd, lvs.EditService: cmdEdit, lvs.DelService: cmdDel,
		lvs.AddDest: cmdAddDest, lvs.EditDest: cmdEditDest, lvs.DelDest: cmdDelDest}
)

// owns forgets what a successful deletion removed.
func (b *Backend) owns(op lvs.Op) {
	switch op.Kind {
	case lvs.DelService:
		b.disown(op.Service.ServiceKey, nil)
	case lvs.DelDest:
		b.disown(op.Service.ServiceKey, &op.Dest.Addr)
	}
}

// applyEach performs the operations one call each (a kernel.IPVS that
// is not a kernel.IPVSBatcher).
func (b *Backend) applyEach(ctx context.Context, ops []lvs.Op) error {
	var errs []error
	for _, op := range ops {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if err := b.talk(commands[op.Kind], render(op.Service), renderDest(op.Dest)); err != nil {
			errs = append(errs, err)
			continue
		}
		b.owns(op)
	}
	return errors.Join(errs...)
}

// disown forgets a deleted service, or one destination of it.
func (b *Backend) disown(key lvs.ServiceKey, dest *netip.AddrPort) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if dest == nil {
		delete(b.owned, key)
	} else if o := b.owned[key]; o != nil {
		delete(o.dests, *dest)
	}
}

// Release removes what the backend owns, as keepalived's clear_services
// does at stop: service by service (in the order they were first
// configured: the configuration's, unless reloads added some), each
// destination deleted (inhibited ones too, not set to weight 0), then the
// service. Services and destinations made by hand stay. Under
// lvs_flush_on_stop it flushes instead (settings.go).
func (b *Backend) Release(ctx context.Context) error {
	b.mu.Lock()
	mode := b.flushOnStop
	b.mu.Unlock()
	if mode != NoFlush {
		return b.releaseFlushing(ctx, mode)
	}
	observed, err := b.Observe(ctx)
	if err != nil {
		return err
	}
	b.sortByOrder(observed)
	var ops []lvs.Op
	for i := range observed {
		s := &observed[i]
		for _, d := range s.Dests {
			ops = append(ops, lvs.Op{Kind: lvs.DelDest, Service: s, Dest: d})
		}
		ops = append(ops, lvs.Op{Kind: lvs.DelService, Service: s})
	}
	return b.Apply(ctx, ops)
}

// sortByOrder sorts services, and their destinations, in the order the
// backend first claimed them.
func (b *Backend) sortByOrder(observed []lvs.Service) {
	b.mu.Lock()
	order := func(s lvs.Service) uint64 {
		if o := b.owned[s.ServiceKey]; o != nil {
			return o.order
		}
		return 0
	}
	slices.SortStableFunc(observed, func(x, y lvs.Service) int { return cmp.Compare(order(x), order(y)) })
	for i := range observed {
		o := b.owned[observed[i].ServiceKey]
		slices.SortStableFunc(observed[i].Dests, func(x, y lvs.Destination) int { return cmp.Compare(o.dests[x.Addr], o.dests[y.Addr]) })
	}
	b.mu.Unlock()
}
