// Package api serves keepalived-go's state over HTTP: Prometheus metrics
// (with the names and labels of mehdy/keepalived-exporter, so existing
// dashboards and alerts keep working, plus our own), a JSON status of the
// VRRP instances, and a health check. It also writes keepalived's JSON
// state dump (keepalived.json) and its data dump (keepalived.data, see
// kadata.go).
//
// Everything is read from the running instances at request time, through
// a Source, so the daemon can swap instances (reload) without telling us.
package api

import (
	"github.com/keepalived-go/keepalived-go/internal/latency"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// Source gives the instances to report. It is called on every request,
// from the HTTP server's goroutines.
type Source interface {
	Instances() []*vrrp.Instance
}

// PoolSource is what a Source also implements when health checks run:
// the virtual servers' pools.
type PoolSource interface {
	VirtualServers() []lvs.PoolStatus
	// CheckLateness is how late the checks started; false when no
	// checker runs.
	CheckLateness() (latency.Snapshot, bool)
}

// pools snapshots src's pools, if it has any.
func pools(src Source) []lvs.PoolStatus {
	if ps, ok := src.(PoolSource); ok {
		return ps.VirtualServers()
	}
	return nil
}

// SourceFunc adapts a function to Source.
type SourceFunc func() []*vrrp.Instance

// Instances calls f.
func (f SourceFunc) Instances() []*vrrp.Instance { return f() }

// keepalivedState is keepalived's number for a state (VRRP_STATE_* in
// vrrp.h), which exporters and keepalived.json use: INIT 0, BACKUP 1,
// MASTER 2, FAULT 3, STOP 98.
func keepalivedState(s vrrp.State) int {
	switch s {
	case vrrp.Backup:
		return 1
	case vrrp.Master:
		return 2
	case vrrp.Fault:
		return 3
	case vrrp.Stop:
		return 98
	}
	return 0
}

// statuses snapshots every instance of src; nil src means none.
func statuses(src Source) []vrrp.InstanceStatus {
	if src == nil {
		return nil
	}
	insts := src.Instances()
	out := make([]vrrp.InstanceStatus, 0, len(insts))
	for _, in := range insts {
		out = append(out, in.Status())
	}
	return out
}
