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
// connections, and no destination as IPVS's ICMP port unreachable. The
// rest is approximated by the nearest equivalent, with one log line per
// virtual server saying so (Express's notes): the connection-counting
// schedulers (wlc, lc, sed, nq, ovf, twos) by weighted round robin, lblc
// and lblcr by dh, mh by sh; ops, sh-port and persistence_timeout are
// ignored; DR and TUN are not available (a DR/TUN virtual server is not
// programmed, a DR/TUN real server is left out).
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
}

var _ lvs.Watcher = (*Backend)(nil)

// New makes the backend over a load-balancing table.
func New(lb kernel.LoadBalancer) *Backend { return &Backend{lb: lb} }

// Name is "nftables".
func (b *Backend) Name() string { return "nftables" }

// scheduling is how an IPVS scheduler is held: the nearest kernel pick,
// whether weights count, and what to log.
type scheduling struct {
	sched    string
	weighted bool
	failover bool // only the highest-weight destination
	note     string
}

func schedulingOf(lbAlgo string) scheduling {
	counts := func(instead string) string {
		return fmt.Sprintf("lb_algo %s is not available with nftables (it counts connections): %s instead", lbAlgo, instead)
	}
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
		return scheduling{sched: SchedWRR, weighted: true, note: counts("weighted round robin")}
	case "lc":
		return scheduling{sched: SchedWRR, note: counts("round robin")}
	case "ovf":
		return scheduling{sched: SchedWRR, failover: true, note: counts("weighted failover (fo)")}
	case "lblc", "lblcr":
		return scheduling{sched: SchedDH, weighted: true,
			note: fmt.Sprintf("lb_algo %s is not available with nftables (it tracks the servers' load): destination hashing (dh) instead", lbAlgo)}
	case "mh":
		return scheduling{sched: SchedSH, weighted: true,
			note: "lb_algo mh is not available with nftables: source hashing (sh, jhash) instead"}
	}
	return scheduling{sched: SchedWRR, weighted: true,
		note: fmt.Sprintf("lb_algo %s is not available with nftables: weighted round robin instead", lbAlgo)}
}

// Express is the service as nftables holds it (see the package comment):
// NAT destinations with a positive weight, sorted by address, their
// weights as slot counts; the scheduler one of SchedWRR, SchedSH, SchedDH
// (SchedNone without destination); no flags, no persistence.
func (b *Backend) Express(s lvs.Service) (lvs.Service, bool, []string) {
	out := lvs.Service{ServiceKey: s.ServiceKey, Name: s.Name, Pos: s.Pos, Method: "NAT"}
	if s.Fwmark == 0 && kernel.ProtoNumber(s.Proto) == 0 {
		return out, false, []string{fmt.Sprintf("protocol %q is not available with nftables: not programmed", s.Proto)}
	}
	if m := cmp.Or(s.Method, "NAT"); m != "NAT" {
		return out, false, []string{fmt.Sprintf("lb_kind %s is not available with nftables (NAT only): the virtual server is not programmed", m)}
	}
	var notes []string
	sch := schedulingOf(cmp.Or(s.Scheduler, "wlc"))
	if sch.note != "" {
		notes = append(notes, sch.note)
	}
	if s.Persistence > 0 {
		notes = append(notes, "persistence_timeout is not available with nftables yet: ignored")
	}
	if s.Engine != "" {
		notes = append(notes, "persistence_engine "+s.Engine+" is not available with nftables: ignored")
	}
	if s.Flags&lvs.FlagOnePacket != 0 {
		notes = append(notes, "ops is not available with nftables: UDP is balanced per flow (conntrack entry), not per datagram")
	}
	if s.Flags&lvs.FlagSched2 != 0 && (s.Scheduler == "sh" || s.Scheduler == "mh") {
		notes = append(notes, s.Scheduler+"-port is not available with nftables: the source address alone is hashed")
	}
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
			notes = append(notes, fmt.Sprintf("real server %s: lb_kind %s is not available with nftables (NAT only): left out", d.Addr, m))
			continue
		}
		if d.Weight <= 0 {
			continue // no new connections, as IPVS with weight 0
		}
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
		notes = append(notes, "real servers with and without port in one fwmark service are not available with nftables: ports ignored")
		for i := range dests {
			dests[i].Addr = netip.AddrPortFrom(dests[i].Addr.Addr(), 0)
		}
		dests = dedupe(dests)
	}
	if sch.failover && len(dests) > 0 {
		// IPVS's fo: the first destination of the highest weight.
		best := dests[0]
		for _, d := range dests[1:] {
			if d.Weight > best.Weight {
				best = d
			}
		}
		dests = []lvs.Destination{best}
	}
	for i := range dests {
		if !sch.weighted {
			dests[i].Weight = 1
		}
	}
	if scaled := scale(dests); scaled {
		notes = append(notes, fmt.Sprintf("the weights need more than %d slots with nftables: scaled down", MaxSlots))
	}
	slices.SortFunc(dests, func(a, b lvs.Destination) int { return a.Addr.Compare(b.Addr) })
	if len(dests) > 0 {
		out.Dests = dests
	}
	out.Scheduler = sch.sched
	if len(dests) == 0 {
		out.Scheduler = SchedNone
	}
	return out, true, notes
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
		return s
	case k.Pick == kernel.LBSourceHash:
		s.Scheduler = SchedSH
	case k.Pick == kernel.LBDestHash:
		s.Scheduler = SchedDH
	default:
		s.Scheduler = SchedWRR
	}
	count := map[netip.AddrPort]int{}
	for _, a := range k.Slots {
		if count[a] == 0 {
			s.Dests = append(s.Dests, lvs.Destination{Addr: a, Method: "NAT"})
		}
		count[a]++
	}
	for i := range s.Dests {
		s.Dests[i].Weight = count[s.Dests[i].Addr]
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
// per slot, and its real servers' counters.
func serviceBytes(k kernel.LBService) int { return 1024 + 64*len(k.Slots) + kernel.LBStatsBytes(k) }

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
