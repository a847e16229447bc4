package checkd

import (
	"context"

	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// LVSStats reads the kernel's counters of the virtual services, at each
// call (nothing is polled), each named after its virtual server (its
// pool's name in /status/virtual_servers); ok is false without a data
// plane or with a backend that does not count.
func (s *Subsystem) LVSStats(ctx context.Context) (out []lvs.ServiceStats, ok bool, err error) {
	rt := s.cur.Load()
	if rt == nil || rt.dp == nil {
		return nil, false, nil
	}
	out, ok, err = rt.dp.syncer.Stats(ctx)
	for i := range out {
		if vs := rt.dp.byKey[out[i].ServiceKey]; len(vs) > 0 {
			out[i].Name = vs[0].svc.pool.Name
		}
	}
	return out, ok, err
}
