// Package nftables is the nftables data plane: an lvs.Backend that holds
// virtual services as destination NAT in a table of its own
// (kernel.NFTLoadBalancer), for kernels without IPVS.
//
// What IPVS does and nftables can express is expressed as such: NAT
// (lb_kind NAT), rr and wrr as a counter over slots (`numgen inc mod N`,
// a destination taking as many slots as its weight, in IPVS's wrr order),
// sh as a hash of the source address (`jhash ip saddr mod N`, weighted
// likewise), dh as a hash of the destination address, fo as its
// highest-weight destination, weight 0 (inhibit_on_failure) as no new
// connections, and no destination as IPVS's ICMP port unreachable.
// persistence_timeout and persistence_granularity as a dynamic set of
// clients per destination (kernel.LBPersist; see internal/kernel/lvs_nft.go):
// a persistent service keeps its weight-0 destinations (and fo's others)
// at weight 0, which take no new client but keep their pinned ones, as
// IPVS's templates keep going to a quiescent destination.
//
// The rest is refused (Refusals: the daemon does not start, a reload is
// refused), never silently approximated: the connection-counting
// schedulers (wlc, keepalived's default, lc, sed, nq, ovf, twos), lblc,
// lblcr and mh, DR and TUN, persistence_engine, ops, sh-port,
// thresholds, fwmark real servers with and without port. With
// Approximate (--lvs-nftables-approximate) the nearest equivalent is held
// instead, with one log line per virtual server saying so (Express's
// notes): the counting schedulers by weighted round robin, lblc and lblcr
// by dh, mh by sh; ops, sh-port, persistence_engine and thresholds
// ignored; a DR/TUN virtual server not programmed, a DR/TUN real server
// left out.
package nftables

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// MaxSlots bounds a service's slots: weights whose sum (divided by their
// greatest common divisor) exceeds it are scaled down to it, each
// destination keeping at least one slot. IPVS's sh also spreads clients
// over 256 buckets.
const MaxSlots = 256

// The schedulers Express leaves: what the kernel rules can tell apart.
const (
	SchedWRR = "wrr" // numgen over weighted slots (rr is wrr with equal weights)
	SchedSH  = "sh"  // jhash of the source address over weighted slots
	SchedDH  = "dh"  // jhash of the destination address over weighted slots
	// SchedNone is a service without destination: its rule rejects new
	// connections whatever its scheduler.
	SchedNone = ""
	// schedDamaged is a service whose chain is not as we write it.
	schedDamaged = "damaged"
)

// Backend is the nftables lvs.Backend.
type Backend struct {
	lb kernel.LoadBalancer
	// approximate: hold what nftables cannot express by its nearest
	// equivalent (--lvs-nftables-approximate); else such a service is
	// refused (Refusals).
	approximate bool
}

var _ lvs.Watcher = (*Backend)(nil)

// Option configures the backend.
type Option func(*Backend)

// Approximate makes the backend hold what nftables cannot express by the
// nearest equivalent, with a note saying so (--lvs-nftables-approximate),
// instead of refusing it.
func Approximate(on bool) Option { return func(b *Backend) { b.approximate = on } }

// New makes the backend over a load-balancing table.
func New(lb kernel.LoadBalancer, opts ...Option) *Backend {
	b := &Backend{lb: lb}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Name is "nftables".
func (b *Backend) Name() string { return "nftables" }

// Approximates tells whether the backend holds what it cannot express by
// the nearest equivalent rather than refusing it.
func (b *Backend) Approximates() bool { return b.approximate }

// scheduling is how an IPVS scheduler is held: the nearest kernel pick,
// whether weights count, and, for one nftables cannot express, why and
// what it is held as with --lvs-nftables-approximate.
type scheduling struct {
	sched    string
	weighted bool
	failover bool // only the highest-weight destination
	why      string
	instead  string
}

// expressible are the lb_algo values nftables expresses as such.
const expressible = "set lb_algo rr, wrr, sh, dh or fo"

// schedulingOf is how lb_algo is held ("" is keepalived's default, wlc).
func schedulingOf(lbAlgo string) scheduling {
	name := "lb_algo " + lbAlgo
	if lbAlgo == "" {
		lbAlgo, name = "wlc", "no lb_algo (keepalived's default: wlc)"
	}
	counts := name + " is not available with nftables (it counts connections)"
	switch lbAlgo {
	case "rr":
		return scheduling{sched: SchedWRR}
	case "wrr":
		return scheduling{sched: SchedWRR, weighted: true}
	case "sh":
		return scheduling{sched: SchedSH, weighted: true}
	case "dh":
		return scheduling{sched: SchedDH, weighted: true}
	case "fo":
		return scheduling{sched: SchedWRR, failover: true}
	case "wlc", "sed", "nq", "twos":
		return scheduling{sched: SchedWRR, weighted: true, why: counts, instead: "weighted round robin instead"}
	case "lc":
		return scheduling{sched: SchedWRR, why: counts, instead: "round robin instead"}
	case "ovf":
		return scheduling{sched: SchedWRR, failover: true, why: counts, instead: "weighted failover (fo) instead"}
	case "lblc", "lblcr":
		return scheduling{sched: SchedDH, weighted: true,
			why: name + " is not available with nftables (it tracks the servers' load)", instead: "destination hashing (dh) instead"}
	case "mh":
		return scheduling{sched: SchedSH, weighted: true, why: name + " is not available with nftables", instead: "source hashing (sh, jhash) instead"}
	}
	return scheduling{sched: SchedWRR, weighted: true, why: name + " is not available with nftables", instead: "weighted round robin instead"}
}

// Refusal is one thing of a virtual service that nftables cannot
// express.
type Refusal struct {
	// Keyword is the keyword at fault (lb_algo, lb_kind, lvs_method,
	// persistence_engine, ops, sh-port, uthreshold...).
	Keyword string
	// Server is the real (or sorry) server at fault; the zero value for
	// the virtual server itself.
	Server netip.AddrPort
	// Why says what nftables cannot do, Fix how to get going, Instead
	// what --lvs-nftables-approximate holds instead.
	Why, Fix, Instead string
}

// String is the refusal as the daemon says it.
func (r Refusal) String() string {
	return r.Why + ": " + r.Fix + " (or start with --lvs-nftables-approximate: " + r.Instead + ")"
}

// note is the refusal as the approximating backend logs it.
func (r Refusal) note() string { return r.Why + ": " + r.Instead }

// Refusals is what of s nftables cannot express (see the package
// comment), in a stable order; none for a service it holds as such.
// s.Scheduler "" is keepalived's default (wlc). Every destination
// counts, whatever its weight (a configuration is checked with its real
// servers at their configured weights).
func Refusals(s lvs.Service) []Refusal {
	var out []Refusal
	if s.Fwmark == 0 && kernel.ProtoNumber(s.Proto) == 0 {
		out = append(out, Refusal{Keyword: "protocol", Why: fmt.Sprintf("protocol %q is not available with nftables", s.Proto),
			Fix: "use protocol TCP, UDP or SCTP", Instead: "not programmed"})
	}
	natVS := true
	if m := cmp.Or(s.Method, "NAT"); m != "NAT" {
		natVS = false
		out = append(out, Refusal{Keyword: "lb_kind", Why: fmt.Sprintf("lb_kind %s is not available with nftables (NAT only)", m),
			Fix: "use lb_kind NAT, or --lvs-backend=ipvs on a kernel with IPVS", Instead: "the virtual server is not programmed"})
	}
	if sch := schedulingOf(s.Scheduler); sch.why != "" {
		out = append(out, Refusal{Keyword: "lb_algo", Why: sch.why, Fix: expressible, Instead: sch.instead})
	}
	if s.Engine != "" {
		out = append(out, Refusal{Keyword: "persistence_engine", Why: "persistence_engine " + s.Engine + " is not available with nftables",
			Fix: "remove persistence_engine", Instead: "ignored"})
	}
	if s.Flags&lvs.FlagOnePacket != 0 {
		out = append(out, Refusal{Keyword: "ops", Why: "ops is not available with nftables",
			Fix: "remove ops", Instead: "UDP is balanced per flow (conntrack entry), not per datagram"})
	}
	if s.Flags&lvs.FlagSched2 != 0 && (s.Scheduler == "sh" || s.Scheduler == "mh") {
		out = append(out, Refusal{Keyword: s.Scheduler + "-port", Why: s.Scheduler + "-port is not available with nftables",
			Fix: "remove " + s.Scheduler + "-port", Instead: "the source address alone is hashed"})
	}
	ports := 0
	for _, d := range s.Dests {
		if m := cmp.Or(d.Method, "NAT"); m != "NAT" && natVS {
			out = append(out, Refusal{Keyword: "lvs_method", Server: d.Addr,
				Why: fmt.Sprintf("real server %s: lb_kind %s is not available with nftables (NAT only)", d.Addr, m),
				Fix: "use NAT, or --lvs-backend=ipvs on a kernel with IPVS", Instead: "left out"})
		}
		for _, th := range []struct {
			kw string
			v  uint32
		}{{"uthreshold", d.UThreshold}, {"lthreshold", d.LThreshold}} {
			if th.v != 0 {
				out = append(out, Refusal{Keyword: th.kw, Server: d.Addr,
					Why: fmt.Sprintf("real server %s: %s is not available with nftables (it counts connections)", d.Addr, th.kw),
					Fix: "remove " + th.kw, Instead: "ignored"})
			}
		}
		if d.Addr.Port() != 0 {
			ports++
		}
	}
	if s.Fwmark != 0 && ports != 0 && ports != len(s.Dests) {
		out = append(out, Refusal{Keyword: "real_server",
			Why: "real servers with and without port in one fwmark service are not available with nftables",
			Fix: "give every real server a port, or none", Instead: "ports ignored"})
	}
	return out
}

// Express is the service as nftables holds it (see the package comment):
// NAT destinations with a positive weight (and with persistence those at
// weight 0), sorted by address, their weights as slot counts; the
// scheduler one of SchedWRR, SchedSH, SchedDH (SchedNone without
// destination of positive weight); no flags; the persistence timeout and
// granularity (in its normal form, see granularity) if persistent and it
// has a destination. What it
// cannot express (Refusals) makes it refuse the service (not
// programmed), or, approximating, hold the nearest equivalent.
func (b *Backend) Express(s lvs.Service) (lvs.Service, bool, []string) {
	out := lvs.Service{ServiceKey: s.ServiceKey, Name: s.Name, Pos: s.Pos, Method: "NAT"}
	refused := Refusals(s)
	var notes []string
	for _, r := range refused {
		if !b.approximate {
			notes = append(notes, r.String()+": not programmed")
		} else {
			notes = append(notes, r.note())
		}
	}
	if len(refused) > 0 && !b.approximate {
		return out, false, notes
	}
	if s.Fwmark == 0 && kernel.ProtoNumber(s.Proto) == 0 {
		return out, false, notes
	}
	if m := cmp.Or(s.Method, "NAT"); m != "NAT" {
		return out, false, notes
	}
	sch := schedulingOf(cmp.Or(s.Scheduler, "wlc"))
	// A persistent service keeps its destinations at weight 0: no new
	// client, but those pinned to them stay (IPVS's templates).
	persistent := s.Persistence > 0
	dests := make([]lvs.Destination, 0, len(s.Dests))
	var seen map[netip.AddrPort]bool // for many destinations; few are searched
	dup := func(a netip.AddrPort) bool {
		if len(s.Dests) > 32 {
			if seen == nil {
				seen = make(map[netip.AddrPort]bool, len(s.Dests))
			}
			d := seen[a]
			seen[a] = true
			return d
		}
		return slices.ContainsFunc(dests, func(x lvs.Destination) bool { return x.Addr == a })
	}
	ports := 0
	for _, d := range s.Dests {
		if m := cmp.Or(d.Method, "NAT"); m != "NAT" {
			continue // refused, or left out (noted)
		}
		if d.Weight <= 0 && !persistent {
			continue // no new connections, as IPVS with weight 0
		}
		d.Weight = max(d.Weight, 0)
		if s.Fwmark == 0 && d.Addr.Port() == 0 {
			d.Addr = netip.AddrPortFrom(d.Addr.Addr(), s.Addr.Port()) // IPVS: the virtual port
		}
		d.Addr = netip.AddrPortFrom(d.Addr.Addr().Unmap(), d.Addr.Port())
		if dup(d.Addr) {
			continue
		}
		if d.Addr.Port() != 0 {
			ports++
		}
		dests = append(dests, lvs.Destination{Addr: d.Addr, Weight: d.Weight, Method: "NAT"})
	}
	if ports != 0 && ports != len(dests) {
		// Refused or noted already when the configured servers mix
		// ports; the alive ones may mix them only if those do.
		for i := range dests {
			dests[i].Addr = netip.AddrPortFrom(dests[i].Addr.Addr(), 0)
		}
		dests = dedupe(dests)
	}
	// The destinations that take new clients (slots), and with
	// persistence those that only keep their pinned ones (weight 0).
	picked := slices.DeleteFunc(slices.Clone(dests), func(d lvs.Destination) bool { return d.Weight <= 0 })
	idle := slices.DeleteFunc(dests, func(d lvs.Destination) bool { return d.Weight > 0 })
	if sch.failover && len(picked) > 0 {
		// IPVS's fo: the first destination of the highest weight; the
		// others keep their pinned clients.
		best := 0
		for i, d := range picked {
			if d.Weight > picked[best].Weight {
				best = i
			}
		}
		if persistent {
			for i, d := range picked {
				if i != best {
					idle = append(idle, lvs.Destination{Addr: d.Addr, Method: "NAT"})
				}
			}
		}
		picked = []lvs.Destination{picked[best]}
	}
	for i := range picked {
		if !sch.weighted {
			picked[i].Weight = 1
		}
	}
	if scaled := scale(picked); scaled {
		notes = append(notes, fmt.Sprintf("the weights need more than %d slots with nftables: scaled down", MaxSlots))
	}
	dests = append(picked, idle...)
	slices.SortFunc(dests, func(a, b lvs.Destination) int { return a.Addr.Compare(b.Addr) })
	if len(dests) > 0 {
		out.Dests = dests
		if persistent {
			out.Persistence, out.Granularity = s.Persistence, granularity(s.Family, s.Granularity)
		}
	}
	out.Scheduler = sch.sched
	if len(picked) == 0 {
		out.Scheduler = SchedNone
	}
	return out, true, notes
}

// granularity is a persistence netmask in its normal form: an IPv4 mask
// as a number (0: none, all ones), an IPv6 prefix length (0 or more than
// 128: none, 128).
func granularity(family int, g uint32) uint32 {
	switch {
	case family == 6 && (g == 0 || g > 128):
		return 128
	case family != 6 && g == 0:
		return 0xffffffff
	}
	return g
}

// maskOf is a normal-form granularity as an address mask.
func maskOf(family int, g uint32) netip.Addr {
	if family == 6 {
		var b [16]byte
		for i := range min(int(g), 128) {
			b[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom16(b)
	}
	return netip.AddrFrom4([4]byte{byte(g >> 24), byte(g >> 16), byte(g >> 8), byte(g)})
}

// granularityOf is an address mask as a granularity (maskOf's inverse);
// 0 for an IPv6 mask that is not a prefix (never a normal form).
func granularityOf(family int, m netip.Addr) uint32 {
	b := m.AsSlice()
	if family != 6 {
		if len(b) != 4 {
			return 0
		}
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	n := 0
	for n < len(b)*8 && b[n/8]&(0x80>>(n%8)) != 0 {
		n++
	}
	if maskOf(6, uint32(n)) != m {
		return 0
	}
	return uint32(n)
}

func dedupe(dests []lvs.Destination) []lvs.Destination {
	seen := map[netip.AddrPort]bool{}
	return slices.DeleteFunc(dests, func(d lvs.Destination) bool {
		dup := seen[d.Addr]
		seen[d.Addr] = true
		return dup
	})
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// scale divides the weights by their greatest common divisor and, if
// they still sum to more than MaxSlots (or to more than one slot per
// destination allows), shares MaxSlots out by largest remainder, each
// keeping at least one slot; it says whether it had to.
func scale(dests []lvs.Destination) bool {
	reduce := func() int {
		g, sum := 0, 0
		for _, d := range dests {
			g = gcd(g, d.Weight)
		}
		for i := range dests {
			dests[i].Weight /= max(g, 1)
			sum += dests[i].Weight
		}
		return sum
	}
	sum := reduce()
	limit := max(MaxSlots, len(dests))
	if sum <= limit {
		return false
	}
	// Each destination first gets one slot, the rest is shared in
	// proportion to the weights beyond that.
	type share struct {
		i    int
		rest float64
	}
	spare := limit - len(dests)
	var over float64
	for _, d := range dests {
		over += float64(d.Weight - 1)
	}
	shares := make([]share, len(dests))
	given := 0
	for i, d := range dests {
		exact := float64(d.Weight-1) * float64(spare) / over
		whole := int(exact)
		dests[i].Weight = 1 + whole
		given += whole
		shares[i] = share{i, exact - float64(whole)}
	}
	slices.SortStableFunc(shares, func(a, b share) int { return cmp.Compare(b.rest, a.rest) })
	for k := 0; given < spare; k++ {
		dests[shares[k%len(shares)].i].Weight++
		given++
	}
	reduce()
	return true
}

// Slots is the slot list of an expressed service: for wrr IPVS's
// weighted round-robin order (each turn, from the highest weight down,
// the destinations of at least that weight, in order), for sh and dh
// each destination's slots together, as IPVS's sh fills its buckets.
func Slots(s *lvs.Service) []netip.AddrPort {
	var out []netip.AddrPort
	if s.Scheduler != SchedWRR {
		for _, d := range s.Dests {
			for range d.Weight {
				out = append(out, d.Addr)
			}
		}
		return out
	}
	top := 0
	for _, d := range s.Dests {
		top = max(top, d.Weight)
	}
	for cw := top; cw > 0; cw-- {
		for _, d := range s.Dests {
			if d.Weight >= cw {
				out = append(out, d.Addr)
			}
		}
	}
	return out
}

// render is the kernel form of an expressed service.
func render(s *lvs.Service) kernel.LBService {
	out := kernel.LBService{LBKey: kernel.LBKey{Family: s.Family, Proto: kernel.ProtoNumber(s.Proto), Addr: s.Addr, Fwmark: s.Fwmark}}
	if s.Fwmark != 0 {
		out.Proto, out.Addr = 0, netip.AddrPort{}
	}
	switch s.Scheduler {
	case SchedSH:
		out.Pick = kernel.LBSourceHash
	case SchedDH:
		out.Pick = kernel.LBDestHash
	}
	out.Slots = Slots(s)
	if s.Persistence > 0 {
		out.Persist = kernel.LBPersist{Timeout: s.Persistence, Mask: maskOf(s.Family, s.Granularity)}
		for _, d := range s.Dests {
			if d.Weight <= 0 {
				out.Idle = append(out.Idle, d.Addr) // sorted, as Express sorts
			}
		}
	}
	return out
}

// decode is a kernel service in Express's terms.
func decode(k kernel.LBService) lvs.Service {
	s := lvs.Service{Method: "NAT"}
	if k.Fwmark != 0 {
		s.ServiceKey = lvs.FwmarkKey(k.Family, k.Fwmark)
	} else {
		s.ServiceKey = lvs.AddrKey(lvs.ProtoName(k.Proto), k.Addr)
	}
	switch {
	case k.Pick == kernel.LBUnknown:
		s.Scheduler = schedDamaged
		return s
	case len(k.Slots) == 0:
		s.Scheduler = SchedNone
	case k.Pick == kernel.LBSourceHash:
		s.Scheduler = SchedSH
	case k.Pick == kernel.LBDestHash:
		s.Scheduler = SchedDH
	default:
		s.Scheduler = SchedWRR
	}
	if k.Persist.Timeout > 0 {
		s.Persistence, s.Granularity = k.Persist.Timeout, granularityOf(k.Family, k.Persist.Mask)
		for _, a := range k.Idle {
			s.Dests = append(s.Dests, lvs.Destination{Addr: a, Method: "NAT"})
		}
	}
	count := map[netip.AddrPort]int{}
	for _, a := range k.Slots {
		if count[a] == 0 {
			s.Dests = append(s.Dests, lvs.Destination{Addr: a, Method: "NAT"})
		}
		count[a]++
	}
	for i := range s.Dests {
		s.Dests[i].Weight = count[s.Dests[i].Addr] // 0 for the idle ones
	}
	slices.SortFunc(s.Dests, func(a, b lvs.Destination) int { return a.Addr.Compare(b.Addr) })
	return s
}

// Observe reads the table's services.
func (b *Backend) Observe(context.Context) ([]lvs.Service, error) {
	ks, err := b.lb.Services()
	if err != nil {
		return nil, err
	}
	out := make([]lvs.Service, len(ks))
	for i, k := range ks {
		out[i] = decode(k)
	}
	return out, nil
}

// unchangedLB is a load-balancing table that can tell whether anything
// changed it (kernel.NFTLoadBalancer, from the ruleset generation).
type unchangedLB interface {
	Unchanged() (bool, error)
}

// Unchanged tells whether nothing has changed the ruleset since the
// last Observe and the Applies after it (see lvs.Watcher): false if
// the table cannot tell.
func (b *Backend) Unchanged(context.Context) (bool, error) {
	if u, ok := b.lb.(unchangedLB); ok {
		return u.Unchanged()
	}
	return false, nil
}

// A transaction carries at most batchServices services and about
// batchBytes of netlink messages. It goes out in one send, which must
// fit the socket's send buffer (net.core.wmem_default, 208 KiB by
// default: netlink_sendmsg refuses more with EMSGSIZE), and each of its
// messages (up to eight a service) is acknowledged: the acknowledgements
// must fit the receive buffer (rmem_default, 208 KiB), else ENOBUFS.
// (Ten messages a service since the counters, kernel.LBStatsBytes.)
// Measured on Linux 6.x: 32 fwmark services with the table's creation
// pass, 40 fail; 16 leaves room.
const (
	batchServices = 16
	batchBytes    = 96 << 10
)

// serviceBytes is a generous estimate of the messages that rewrite a
// service: its chain, rule, map and dispatch element, one map element
// per slot, its real servers' counters, and a persistent service's
// destinations' chains, sets and rules.
func serviceBytes(k kernel.LBService) int {
	n := 1024 + 64*len(k.Slots) + kernel.LBStatsBytes(k)
	if k.Persist.Timeout != 0 {
		// A persistent service's destinations: a chain, a set and two
		// rules each.
		n += 1024 * len(k.Idle)
		for i, d := range k.Slots {
			if !slices.Contains(k.Slots[:i], d) {
				n += 1024
			}
		}
	}
	return n
}

// Apply rewrites each service the operations touch, or deletes it:
// several services per transaction (a cold start of thousands of
// services is tens of transactions, not thousands); if a transaction
// fails, its services are applied one per transaction, so that a
// service that fails does not hold back the others.
func (b *Backend) Apply(ctx context.Context, ops []lvs.Op) error {
	type change struct {
		svc  *lvs.Service
		gone bool
	}
	var order []lvs.ServiceKey
	changes := map[lvs.ServiceKey]*change{}
	for _, op := range ops {
		k := op.Service.ServiceKey
		c := changes[k]
		if c == nil {
			c = &change{}
			changes[k] = c
			order = append(order, k)
		}
		c.svc, c.gone = op.Service, op.Kind == lvs.DelService
	}
	var errs []error
	var set []kernel.LBService
	var del []kernel.LBKey
	var labels []string
	size := 0
	send := func() {
		if len(set)+len(del) == 0 {
			return
		}
		err := b.lb.Apply(set, del)
		if err != nil && len(labels) == 1 {
			errs = append(errs, fmt.Errorf("%s: %w", labels[0], err))
		} else if err != nil {
			for i, s := range set {
				if err := b.lb.Apply([]kernel.LBService{s}, nil); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", labels[i], err))
				}
			}
			for i, k := range del {
				if err := b.lb.Apply(nil, []kernel.LBKey{k}); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", labels[i], err))
				}
			}
		}
		set, del, labels, size = nil, nil, nil, 0
	}
	// Deletions first, in transactions of their own (as the syncer
	// orders them), then the services to write: a batch is all of one
	// kind, so labels follow set or del.
	for _, gone := range []bool{true, false} {
		for _, k := range order {
			c := changes[k]
			if c.gone != gone {
				continue
			}
			if err := ctx.Err(); err != nil {
				return errors.Join(append(errs, err)...)
			}
			r := render(c.svc)
			n := serviceBytes(r)
			if len(set)+len(del) == batchServices || (size > 0 && size+n > batchBytes) {
				send()
			}
			size += n
			labels = append(labels, c.svc.Label())
			if c.gone {
				del = append(del, r.LBKey)
			} else {
				set = append(set, r)
			}
		}
		send()
	}
	return errors.Join(errs...)
}

// Release removes the table.
func (b *Backend) Release(context.Context) error { return b.lb.Delete() }
