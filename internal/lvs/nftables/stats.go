package nftables

import (
	"context"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

var _ lvs.StatsReader = (*Backend)(nil)

// Stats reads the counters of the table's address services (see
// kernel.LBStatsReader: fwmark services are not counted): a service's
// counts are its real servers' sums, those taken out of its slots
// included. nftables has no rates.
func (b *Backend) Stats(context.Context) ([]lvs.ServiceStats, error) {
	r, ok := b.lb.(kernel.LBStatsReader)
	if !ok {
		return nil, nil
	}
	ks, err := r.Stats()
	if err != nil {
		return nil, err
	}
	out := make([]lvs.ServiceStats, 0, len(ks))
	for _, k := range ks {
		s := lvs.ServiceStats{ServiceKey: lvs.AddrKey(lvs.ProtoName(k.Proto), k.Addr)}
		for _, d := range k.Servers {
			c := lvs.Counters{Connections: d.Conns, InPackets: d.InPackets, OutPackets: d.OutPackets,
				InBytes: d.InBytes, OutBytes: d.OutBytes}
			s.Add(c)
			s.Dests = append(s.Dests, lvs.DestStats{Addr: d.Addr, Counters: c})
		}
		out = append(out, s)
	}
	return out, nil
}
