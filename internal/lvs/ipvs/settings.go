package ipvs

// What global_defs says to IPVS beside the virtual servers: lvs_timeouts,
// lvs_flush and lvs_flush_on_stop, over kernel.IPVSControl (generic
// netlink, kernel/ipvs_genl.go), as keepalived's checker process does
// (check/check_daemon.c start_check and checker_terminate_phase2,
// check/ipvswrapper.c, check/libipvs.c).

import (
	"context"
	"errors"
	"fmt"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// FlushMode is lvs_flush_on_stop.
type FlushMode int

const (
	// NoFlush: at stop each service's destinations are deleted, then the
	// service (keepalived's clear_service_vs).
	NoFlush FlushMode = iota
	// FlushFull (lvs_flush_on_stop): the whole table is flushed, services
	// made by others included (clear_services: ipvs_flush_cmd).
	FlushFull
	// FlushVS (lvs_flush_on_stop VS): each service is deleted with its
	// destinations at once, none deleted one by one.
	FlushVS
)

// TimeoutsOf is lvs_timeouts's values (config.ParseLVSTimeouts; its
// messages are the configuration's, reported when it is read).
func TimeoutsOf(words []string) kernel.IPVSTimeouts {
	if len(words) == 0 {
		return kernel.IPVSTimeouts{}
	}
	t, _ := config.ParseLVSTimeouts(words)
	return kernel.IPVSTimeouts{TCP: t.TCP, TCPFin: t.TCPFin, UDP: t.UDP}
}

// FlushModeOf is lvs_flush_on_stop's mode, set tells whether it was
// written.
func FlushModeOf(words []string, set bool) FlushMode {
	if !set {
		return NoFlush
	}
	m, _ := config.ParseLVSFlushOnStop(words)
	return map[config.LVSFlushOnStop]FlushMode{config.LVSFlushFull: FlushFull, config.LVSFlushVS: FlushVS}[m]
}

// control is the kernel's IPVSControl, nil if the kernel connection has
// none.
func (b *Backend) control() kernel.IPVSControl {
	c, _ := b.k.(kernel.IPVSControl)
	return c
}

// SetTimeouts applies lvs_timeouts at start and at every reload, as
// check_daemon.c's start_check: a configuration with timeouts sets them
// (libipvs.c's ipvs_set_timeout: the kernel's values are read first, the
// first time, so that a timeout not configured stays as it was and stop
// can restore them); one without restores the kernel's own values if an
// earlier configuration changed them. keepalived logs "Failed to set ipvs
// timeouts" when the kernel refuses.
func (b *Backend) SetTimeouts(t kernel.IPVSTimeouts) {
	if t == (kernel.IPVSTimeouts{}) {
		b.RestoreTimeouts()
		return
	}
	c := b.control()
	if c == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.origTimeouts == nil {
		orig, err := c.Timeouts()
		if err != nil {
			b.log.Info("Failed to get IPVS timeouts")
		} else {
			b.origTimeouts = &orig
		}
	}
	if b.origTimeouts != nil {
		t.TCP = cmpOr(t.TCP, b.origTimeouts.TCP)
		t.TCPFin = cmpOr(t.TCPFin, b.origTimeouts.TCPFin)
		t.UDP = cmpOr(t.UDP, b.origTimeouts.UDP)
	}
	if err := c.SetTimeouts(t); err != nil {
		b.log.Info("Failed to set ipvs timeouts")
	}
}

func cmpOr(a, b uint32) uint32 {
	if a != 0 {
		return a
	}
	return b
}

// RestoreTimeouts puts back the kernel's timeouts if SetTimeouts changed
// them (ipvswrapper.c's ipvs_stop, at every stop, -I or not).
func (b *Backend) RestoreTimeouts() {
	c := b.control()
	if c == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.origTimeouts == nil {
		return
	}
	if err := c.SetTimeouts(*b.origTimeouts); err != nil {
		b.log.Info("Failed to set ipvs timeouts")
	}
}

// cmdFlush is IP_VS_SO_SET_FLUSH, as ipvs_talk logs it.
const cmdFlush command = 1157

// Flush empties the kernel's IPVS table, services made by others
// included (lvs_flush at start, lvs_flush_on_stop at stop:
// ipvswrapper.c's ipvs_flush_cmd), and forgets what the backend owned.
// A failure is logged as ipvs_talk logs it: "IPVS cmd
// IP_VS_SO_SET_FLUSH(1157) error: ...".
func (b *Backend) Flush() error {
	c := b.control()
	if c == nil {
		return errors.New("IPVS: this kernel connection cannot flush")
	}
	err := c.Flush()
	b.mu.Lock()
	if err == nil {
		clear(b.owned)
	}
	b.mu.Unlock()
	if err != nil {
		errno := errnoOf(err)
		b.log.Info(fmt.Sprintf("IPVS cmd %s(%d) error: %s(%d)", cmdFlush, int(cmdFlush), strerror(cmdFlush, errno, err), int(errno)))
		return fmt.Errorf("%s: %w", cmdFlush, err)
	}
	return nil
}

// SetFlushOnStop says how Release removes the services (lvs_flush_on_stop).
func (b *Backend) SetFlushOnStop(m FlushMode) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushOnStop = m
}

// releaseFlushing is Release under lvs_flush_on_stop: the whole table
// flushed, or each owned service deleted with its destinations.
func (b *Backend) releaseFlushing(ctx context.Context, mode FlushMode) error {
	if mode == FlushFull {
		return b.Flush()
	}
	observed, err := b.Observe(ctx)
	if err != nil {
		return err
	}
	b.sortByOrder(observed)
	ops := make([]lvs.Op, 0, len(observed))
	for i := range observed {
		ops = append(ops, lvs.Op{Kind: lvs.DelService, Service: &observed[i]})
	}
	return b.Apply(ctx, ops)
}
