package checkd

import (
	"github.com/keepalived-go/keepalived-go/internal/latency"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"time"
)

// VirtualServers is a snapshot of every virtual server's pool, for the
// status API and the metrics; safe from any goroutine.
func (s *Subsystem) VirtualServers() []lvs.PoolStatus {
	rt := s.cur.Load()
	if rt == nil {
		return nil
	}
	out := make([]lvs.PoolStatus, 0, len(rt.services))
	for _, svc := range rt.services {
		svc.mu.Lock()
		st := svc.pool.Status()
		svc.mu.Unlock()
		for i := range st.Servers {
			if i < len(svc.dataPorts) {
				st.Servers[i].KeepalivedPort = svc.dataPorts[i]
			}
			if i < len(svc.servers) {
				p := &svc.servers[i].probes
				st.Servers[i].Checks, st.Servers[i].CheckFailures = p.n.Load(), p.failed.Load()
				st.Servers[i].CheckSeconds = time.Duration(p.nanos.Load()).Seconds()
			}
		}
		out = append(out, st)
	}
	return out
}

// CheckLateness is how late the checks started after their time since
// the daemon started (reloads included); false when no checker runs.
func (s *Subsystem) CheckLateness() (latency.Snapshot, bool) {
	rt := s.cur.Load()
	if rt == nil {
		return latency.Snapshot{}, false
	}
	return rt.engine.Lateness.Snapshot(), true
}
