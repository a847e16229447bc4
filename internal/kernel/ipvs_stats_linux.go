//go:build linux

package kernel

import (
	"os"

	"github.com/cloudflare/ipvs"
)

var _ IPVSStatsReader = (*linuxIPVS)(nil)

// libStats are the library's counters, the 64-bit ones where the kernel
// sent them (IPVS_SVC_ATTR_STATS64, Linux ≥ 4.0).
func libStats(s32, s64 ipvs.Stats) IPVSStats {
	s := s64
	if s64 == (ipvs.Stats{}) {
		s = s32
	}
	return IPVSStats{Conns: s.Connections, InPkts: s.IncomingPackets, OutPkts: s.OutgoingPackets,
		InBytes: s.IncomingBytes, OutBytes: s.OutgoingBytes, CPS: s.ConnectionRate,
		InPPS: s.IncomingPacketRate, OutPPS: s.OutgoingPacketRate, InBPS: s.IncomingByteRate, OutBPS: s.OutgoingByteRate}
}

// Stats dumps the services and, for each one want keeps, its
// destinations, with their counters.
func (l *linuxIPVS) Stats(want func(IPVSService) bool) ([]IPVSServiceStats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	svcs, err := l.c.Services()
	if err == os.ErrNotExist { // the library's answer to an empty dump
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []IPVSServiceStats
	for _, s := range svcs {
		k := fromLibService(s)
		if want != nil && !want(k) {
			continue
		}
		st := IPVSServiceStats{IPVSService: k, Stats: libStats(s.Stats, s.Stats64)}
		ds, err := l.c.Destinations(s.Service)
		if err != nil && err != os.ErrNotExist {
			return nil, err
		}
		for _, d := range ds {
			st.Dests = append(st.Dests, IPVSDestStats{IPVSDest: fromLibDest(d), Active: d.ActiveConnections,
				Inactive: d.InactiveConnections, Stats: libStats(d.Stats, d.Stats64)})
		}
		out = append(out, st)
	}
	return out, nil
}
