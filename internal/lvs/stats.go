package lvs

import (
	"context"
	"net/netip"
)

// Counters are what the kernel counted of a virtual service or of one of
// its real servers, as IPVS's ip_vs_stats has them: connections, and
// packets and bytes in (client to real server) and out (real server to
// client), since the backend created it.
type Counters struct {
	Connections uint64 `json:"connections"`
	InPackets   uint64 `json:"in_packets"`
	OutPackets  uint64 `json:"out_packets"`
	InBytes     uint64 `json:"in_bytes"`
	OutBytes    uint64 `json:"out_bytes"`
}

// Add adds o's counts.
func (c *Counters) Add(o Counters) {
	c.Connections += o.Connections
	c.InPackets += o.InPackets
	c.OutPackets += o.OutPackets
	c.InBytes += o.InBytes
	c.OutBytes += o.OutBytes
}

// Rates are IPVS's estimates of the last seconds' rates, per second
// (ip_vs_est.c: a moving average over about 8 seconds).
type Rates struct {
	Connections uint64 `json:"connections"`
	InPackets   uint64 `json:"in_packets"`
	OutPackets  uint64 `json:"out_packets"`
	InBytes     uint64 `json:"in_bytes"`
	OutBytes    uint64 `json:"out_bytes"`
}

// DestStats are one real server's counters in one service.
type DestStats struct {
	Addr netip.AddrPort
	Counters
	// Rates are nil where the backend has none (nftables).
	Rates *Rates
	// Active and Inactive are IPVS's connection counts
	// (ActiveConn, InActConn); nil where the backend has none.
	Active, Inactive *uint32
}

// ServiceStats are a virtual service's counters and its real servers'.
type ServiceStats struct {
	ServiceKey
	// Name is the virtual server the service belongs to (its pool's
	// name), where the caller knows it.
	Name string
	Counters
	Rates *Rates
	Dests []DestStats
}

// StatsReader is a Backend that counts traffic. It reads the kernel's
// counters of the services it owns, at each call: nothing is polled.
type StatsReader interface {
	Stats(ctx context.Context) ([]ServiceStats, error)
}

// Stats reads the counters of the backend's services, if it counts
// (ok false otherwise).
func (s *Syncer) Stats(ctx context.Context) (st []ServiceStats, ok bool, err error) {
	r, ok := s.b.(StatsReader)
	if !ok {
		return nil, false, nil
	}
	st, err = r.Stats(ctx)
	return st, true, err
}
