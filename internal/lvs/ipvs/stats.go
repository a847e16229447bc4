package ipvs

import (
	"context"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

var _ lvs.StatsReader = (*Backend)(nil)

// Stats reads IPVS's counters and rates of the services the backend owns
// and of their destinations it owns, as `ipvsadm -Ln --stats --rate`
// shows them: the service's counts are IPVS's own (they include
// destinations since removed).
func (b *Backend) Stats(context.Context) ([]lvs.ServiceStats, error) {
	r, ok := b.k.(kernel.IPVSStatsReader)
	if !ok {
		return nil, nil
	}
	b.mu.Lock()
	owned := make(map[lvs.ServiceKey]map[string]bool, len(b.owned))
	for k, o := range b.owned {
		ds := make(map[string]bool, len(o.dests))
		for a := range o.dests {
			ds[a.String()] = true
		}
		owned[k] = ds
	}
	b.mu.Unlock()
	ks, err := r.Stats(func(s kernel.IPVSService) bool { return owned[keyOf(s)] != nil })
	if err != nil {
		return nil, err
	}
	out := make([]lvs.ServiceStats, 0, len(ks))
	for _, k := range ks {
		s := lvs.ServiceStats{ServiceKey: keyOf(k.IPVSService)}
		s.Counters, s.Rates = counters(k.Stats)
		for _, d := range k.Dests {
			if !owned[s.ServiceKey][d.Addr.String()] {
				continue // not ours
			}
			ds := lvs.DestStats{Addr: d.Addr, Active: &d.Active, Inactive: &d.Inactive}
			ds.Counters, ds.Rates = counters(d.Stats)
			s.Dests = append(s.Dests, ds)
		}
		out = append(out, s)
	}
	return out, nil
}

func counters(s kernel.IPVSStats) (lvs.Counters, *lvs.Rates) {
	return lvs.Counters{Connections: s.Conns, InPackets: s.InPkts, OutPackets: s.OutPkts, InBytes: s.InBytes, OutBytes: s.OutBytes},
		&lvs.Rates{Connections: s.CPS, InPackets: s.InPPS, OutPackets: s.OutPPS, InBytes: s.InBPS, OutBytes: s.OutBPS}
}
