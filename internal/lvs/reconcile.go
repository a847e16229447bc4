package lvs

import (
	"fmt"
	"net/netip"
	"slices"
)

// OpKind is one kind of kernel operation, as IPVS has them.
type OpKind uint8

const (
	AddService  OpKind = iota // a new service (its destinations follow as AddDest)
	EditService               // scheduler, method, flags or persistence changed
	DelService                // the service and its destinations go
	AddDest                   // a new destination
	EditDest                  // a destination's weight, method, thresholds or tunnel changed
	DelDest                   // a destination goes
)

func (k OpKind) String() string {
	switch k {
	case AddService:
		return "add service"
	case EditService:
		return "edit service"
	case DelService:
		return "delete service"
	case AddDest:
		return "add destination"
	case EditDest:
		return "edit destination"
	case DelDest:
		return "delete destination"
	}
	return fmt.Sprintf("op %d", uint8(k))
}

// Op is one kernel operation. Service is the whole service as it should
// be once the operation is done (for DelService, as it was), so that a
// backend that rewrites a service at once (nftables) need not replay the
// operations; Dest is the destination of a destination operation.
type Op struct {
	Kind    OpKind
	Service *Service
	Dest    Destination
}

func (o Op) String() string {
	if o.Kind >= AddDest {
		return fmt.Sprintf("%s %s weight %d to %s", o.Kind, o.Dest.Addr, o.Dest.Weight, o.Service.Label())
	}
	return fmt.Sprintf("%s %s", o.Kind, o.Service.Label())
}

// Reconcile returns the fewest operations that turn the observed services
// into the desired ones: services only observed are deleted, services
// only desired are added with their destinations, and services in both
// are edited only where they differ (an edited service's unchanged
// destinations are left alone). Desired and observed services are
// matched by key, destinations by address; of two desired services with
// the same key (or two destinations with the same address) the first
// counts. Deletions come first, so that nothing added collides with what
// goes; the order is otherwise the desired order. Equal inputs give no
// operation. Reconcile is pure: it neither keeps nor changes its inputs.
func Reconcile(desired, observed []Service) []Op {
	have := make(map[ServiceKey]*Service, len(observed))
	for i := range observed {
		if _, dup := have[observed[i].ServiceKey]; !dup {
			have[observed[i].ServiceKey] = &observed[i]
		}
	}
	want := make(map[ServiceKey]*Service, len(desired))
	for i := range desired {
		if _, dup := want[desired[i].ServiceKey]; !dup {
			want[desired[i].ServiceKey] = &desired[i]
		}
	}
	// The services to add and their destinations, counted first: a cold
	// start's 42,000 operations are then one allocation instead of a
	// slice doubled (and copied) twenty times.
	adds := 0
	for i := range desired {
		if d := &desired[i]; want[d.ServiceKey] == d && have[d.ServiceKey] == nil {
			adds += 1 + len(d.Dests)
		}
	}
	var ops []Op
	if adds > 0 {
		ops = make([]Op, 0, adds)
	}
	for i := range observed {
		o := &observed[i]
		if want[o.ServiceKey] == nil && have[o.ServiceKey] == o {
			ops = append(ops, Op{Kind: DelService, Service: o})
		}
	}
	for i := range desired {
		d := &desired[i]
		if want[d.ServiceKey] != d {
			continue // a duplicate
		}
		o := have[d.ServiceKey]
		if o == nil {
			ops = append(ops, Op{Kind: AddService, Service: d})
			ops = appendAddDests(ops, d)
			continue
		}
		if !d.sameAttrs(o) {
			ops = append(ops, Op{Kind: EditService, Service: d})
		}
		ops = append(ops, destOps(d, o)...)
	}
	return ops
}

// appendAddDests appends the additions of d's destinations, the first
// of each address. Up to smallDests destinations, a duplicate is looked
// for among the ones before it, without a map.
func appendAddDests(ops []Op, d *Service) []Op {
	if len(d.Dests) > smallDests {
		seen := make(map[netip.AddrPort]bool, len(d.Dests))
		for _, dst := range d.Dests {
			if !seen[dst.Addr] {
				seen[dst.Addr] = true
				ops = append(ops, Op{Kind: AddDest, Service: d, Dest: dst})
			}
		}
		return ops
	}
	for i, dst := range d.Dests {
		if !slices.ContainsFunc(d.Dests[:i], func(x Destination) bool { return x.Addr == dst.Addr }) {
			ops = append(ops, Op{Kind: AddDest, Service: d, Dest: dst})
		}
	}
	return ops
}

// smallDests is the number of destinations up to which appendAddDests
// looks for duplicates without a map.
const smallDests = 32

// destOps are the destination operations from o's destinations to d's:
// deletions, then edits and additions in d's order.
func destOps(d, o *Service) []Op {
	if slices.Equal(d.Dests, o.Dests) {
		return nil // the common case, without a map
	}
	if len(d.Dests) <= smallDests && len(o.Dests) <= smallDests {
		return destOpsSmall(d, o)
	}
	return destOpsMap(d, o)
}

// destOpsSmall is destOps without a map, for a few destinations: IPVS
// dumps a service's destinations newest first, so that after a start
// the kernel's order is the reverse of the configuration's, slices.Equal
// fails for every service at every reload, and the maps were a no-op
// reload's largest allocation.
func destOpsSmall(d, o *Service) []Op {
	var ops []Op
	for i, x := range o.Dests {
		if indexAddr(d.Dests, x.Addr) < 0 && indexAddr(o.Dests[:i], x.Addr) < 0 {
			ops = append(ops, Op{Kind: DelDest, Service: d, Dest: x})
		}
	}
	for i, x := range d.Dests {
		if indexAddr(d.Dests[:i], x.Addr) >= 0 {
			continue
		}
		switch j := indexAddr(o.Dests, x.Addr); {
		case j < 0:
			ops = append(ops, Op{Kind: AddDest, Service: d, Dest: x})
		case o.Dests[j] != x:
			ops = append(ops, Op{Kind: EditDest, Service: d, Dest: x})
		}
	}
	return ops
}

// indexAddr is the index of the first destination at addr, or -1.
func indexAddr(dests []Destination, addr netip.AddrPort) int {
	for i := range dests {
		if dests[i].Addr == addr {
			return i
		}
	}
	return -1
}

// destOpsMap is destOps with maps, for many destinations.
func destOpsMap(d, o *Service) []Op {
	had := make(map[netip.AddrPort]Destination, len(o.Dests))
	for _, x := range o.Dests {
		if _, dup := had[x.Addr]; !dup {
			had[x.Addr] = x
		}
	}
	wanted := make(map[netip.AddrPort]bool, len(d.Dests))
	for _, x := range d.Dests {
		wanted[x.Addr] = true
	}
	var ops []Op
	gone := map[netip.AddrPort]bool{}
	for _, x := range o.Dests {
		if !wanted[x.Addr] && !gone[x.Addr] {
			gone[x.Addr] = true
			ops = append(ops, Op{Kind: DelDest, Service: d, Dest: x})
		}
	}
	done := map[netip.AddrPort]bool{}
	for _, x := range d.Dests {
		if done[x.Addr] {
			continue
		}
		done[x.Addr] = true
		switch y, ok := had[x.Addr]; {
		case !ok:
			ops = append(ops, Op{Kind: AddDest, Service: d, Dest: x})
		case y != x:
			ops = append(ops, Op{Kind: EditDest, Service: d, Dest: x})
		}
	}
	return ops
}
