package kernel

// IPVSStats are IPVS's counters of a service or destination (struct
// ip_vs_kstats as IPVS_CMD_GET_SERVICE/GET_DEST dump them, 64-bit where
// the kernel sends them) and its rate estimates, per second.
type IPVSStats struct {
	Conns, InPkts, OutPkts, InBytes, OutBytes uint64
	CPS, InPPS, OutPPS, InBPS, OutBPS         uint64
}

// IPVSDestStats are a destination's counters and connection counts.
type IPVSDestStats struct {
	IPVSDest
	Active, Inactive uint32 // ActiveConn, InActConn
	Stats            IPVSStats
}

// IPVSServiceStats are a service's counters and its destinations'.
type IPVSServiceStats struct {
	IPVSService
	Stats IPVSStats
	Dests []IPVSDestStats
}

// IPVSStatsReader is an IPVS that reads its counters; the kernel's
// (OpenIPVS) and FakeIPVS are.
type IPVSStatsReader interface {
	// Stats dumps the services want keeps (nil: all) with their
	// counters and destinations: one dump of the services and one of
	// each kept service's destinations.
	Stats(want func(IPVSService) bool) ([]IPVSServiceStats, error)
}

var _ IPVSStatsReader = (*FakeIPVS)(nil)

// Stats lists the fake's services and destinations, with counters the
// test set with SetStats (zero otherwise).
func (f *FakeIPVS) Stats(want func(IPVSService) bool) ([]IPVSServiceStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil {
		return nil, f.Fail
	}
	var out []IPVSServiceStats
	for _, s := range f.services {
		if want != nil && !want(s.IPVSService) {
			continue
		}
		st := IPVSServiceStats{IPVSService: s.IPVSService, Stats: fakeIPVSStats[s.Key().String()]}
		for _, d := range s.dests {
			st.Dests = append(st.Dests, IPVSDestStats{IPVSDest: d, Stats: fakeIPVSStats[s.Key().String()+" "+d.Addr.String()]})
		}
		out = append(out, st)
	}
	return out, nil
}

// fakeIPVSStats are the fakes' counters by service (and destination);
// tests of one package set them with SetFakeIPVSStats.
var fakeIPVSStats = map[string]IPVSStats{}

// SetFakeIPVSStats sets what every FakeIPVS reports as the counters of
// service s (and of its destination dest, if valid). Not for parallel
// tests.
func SetFakeIPVSStats(s IPVSService, dest IPVSDest, st IPVSStats) {
	k := s.Key().String()
	if dest.Addr.IsValid() {
		k += " " + dest.Addr.String()
	}
	fakeIPVSStats[k] = st
}
