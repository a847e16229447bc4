package checkd

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/check"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/latency"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/notify"
)

// runtime is one configuration's checkers running.
type runtime struct {
	log      *slog.Logger
	engine   *check.Engine
	cancel   context.CancelFunc
	done     chan struct{}
	fifos    *notify.FIFOs
	alerts   *notify.Alerter // SMTP alerts, shared by the virtual servers
	services []*service
	suspend  *suspender // nil without ha_suspend
	files    *fileChecks
	dp       *dataPlane // nil without a data plane
	halted   bool
}

// carryOver is what a reload hands from one runtime to the next: the
// state of every checker, by its identity, and what must outlive the
// swap until the new runtime has taken over.
type carryOver struct {
	up        map[string]bool // checker key -> up
	quorumUp  map[string]bool // virtual server name -> quorum up
	lateness  *latency.Histogram
	fifos     *notify.FIFOs
	alerts    *notify.Alerter
	notifiers []*notify.Notifier
	exits     map[string]int // MISC_CHECK key -> last exit status
}

// quorumOf is the quorum state a reload kept for a virtual server.
func (c *carryOver) quorumOf(name string) (up, kept bool) {
	if c == nil {
		return false, false
	}
	up, kept = c.quorumUp[name]
	return up, kept
}

// release stops what the old runtime left running: its notifiers (their
// queued scripts run first) and its FIFOs (kept open until now so that a
// reader of a FIFO both configurations name never sees it close).
func (c *carryOver) release() {
	if c == nil {
		return
	}
	for _, n := range c.notifiers {
		n.Stop()
	}
	c.alerts.Stop() // the last alerter of the process waits for the sender
	c.fifos.Close()
}

// start builds and runs the checkers of cfg; carry (nil at start-up)
// holds the states a reload keeps. With a syncer, the kernel's virtual
// services are synced to the started pools before the first check.
func start(log *slog.Logger, cfg *config.Config, carry *carryOver, syncer *lvs.Syncer) *runtime {
	ctx, cancel := context.WithCancel(context.Background())
	rt := &runtime{log: log, engine: check.NewEngine(), cancel: cancel, done: make(chan struct{})}
	g := cfg.GlobalDefs
	if g == nil {
		g = &config.GlobalDefs{}
	}
	rt.fifos = notify.OpenFIFOs(log, g.ScriptUser, g.NotifyFIFO, g.LVSNotifyFIFO)
	rt.alerts = notify.OpenAlerter(log, notify.SMTPSettingsOf(g))
	if carry != nil {
		rt.engine.Lateness.Merge(carry.lateness)
	}
	carry.release()
	var suspendable []*service
	rt.files = watchFileChecks(log, cfg, carry != nil, nil)
	ssl := newSSLContext(log, cfg)
	specs := cfg.VirtualServerSpecs()
	for _, spec := range specs {
		svc := newService(log, g, spec, rt.fifos, ssl)
		rt.files.attach(svc)
		svc.mail = alertingOf(rt.alerts, g, spec.VirtualServer)
		rt.services = append(rt.services, svc)
		if svc.haSuspend {
			suspendable = append(suspendable, svc)
		}
	}
	if len(suspendable) > 0 {
		rt.suspend = newSuspender(log, suspendable,
			kernel.NetlinkBuffer{Size: g.LVSNetlinkMonitorRcvBufs, Force: g.LVSNetlinkMonitorRcvBufsForc},
			kernel.NetlinkBuffer{Size: g.LVSNetlinkCmdRcvBufs, Force: g.LVSNetlinkCmdRcvBufsForce})
		rt.suspend.start()
	}
	for _, svc := range rt.services {
		svc.start(rt.engine, carry, g.RSInitNotifies)
	}
	rt.files.run()
	if syncer != nil {
		rt.dp = startDataPlane(log, syncer, rt.services, specs)
	}
	rt.engine.OnThread = checkerThread(log, g)
	go func() { defer close(rt.done); rt.engine.Run(ctx) }()
	return rt
}

// halt stops the checkers and the data plane's worker: the pools move no
// more, and the notifiers still take notifications (removals.go).
func (rt *runtime) halt() {
	if rt.halted {
		return
	}
	rt.halted = true
	if rt.suspend != nil {
		rt.suspend.Stop()
	}
	rt.files.stop()
	rt.cancel()
	<-rt.done
	if rt.dp != nil {
		rt.dp.stop()
	}
}

// handOver closes the notifiers of a halted runtime and returns what the
// next runtime takes over (the states, at a reload).
func (rt *runtime) handOver(reload bool) *carryOver {
	carry := &carryOver{up: map[string]bool{}, quorumUp: map[string]bool{}, fifos: rt.fifos, alerts: rt.alerts,
		lateness: &rt.engine.Lateness}
	for _, svc := range rt.services {
		svc.notifier.Close()
		carry.notifiers = append(carry.notifiers, svc.notifier)
		if !reload {
			continue
		}
		carry.quorumUp[svc.name] = svc.pool.QuorumIsUp()
		for _, srv := range svc.servers {
			for _, j := range srv.jobs {
				carry.up[j.key] = j.Schedule.Up()
				carry.saveExtras(j)
			}
		}
	}
	return carry
}

// serviceName is a virtual server as keepalived's logs and FIFO lines
// print it (check_data.c format_vs): "[10.0.0.1]:tcp:80", "FWM 5", or
// "[GROUP]:80" for a virtual_server_group.
func serviceName(spec *config.VirtualServerSpec) string {
	switch {
	case spec.Group != nil:
		return fmt.Sprintf("[%s]:%d", firstWord(spec.Group.Args), spec.Addr.Port())
	case spec.Fwmark != 0:
		return fmt.Sprintf("FWM %d", spec.Fwmark)
	}
	return trio(spec.Addr, spec.Protocol)
}

// trio is keepalived's inet_sockaddrtotrio: "[ADDR]:PROTO:PORT".
// Appended by hand, not with fmt: the daemon names every real server so
// at each start and reload (40,000 of them in test/lvsscale), and
// fmt.Sprintf was a tenth of a reload's CPU there.
func trio(a netip.AddrPort, proto string) string {
	if proto == "" {
		proto = "tcp"
	}
	b := make([]byte, 0, 64)
	b = append(b, '[')
	if ip := a.Addr(); ip.IsValid() {
		b = ip.AppendTo(b)
	} else {
		b = append(b, ip.String()...) // "invalid IP", as %s prints it
	}
	b = append(b, "]:"...)
	b = append(b, proto...)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(a.Port()), 10)
	return string(b)
}

// timingOf is a checker's resolved timing (validation filled in what it
// inherits and keepalived's defaults).
func timingOf(c *config.Checker) check.Timing {
	return check.Timing{
		DelayLoop:        c.DelayLoop.Duration(),
		DelayBeforeRetry: c.DelayBeforeRetry.Duration(),
		Warmup:           c.Warmup.Duration(),
		Retry:            c.Retry,
		Alpha:            c.Alpha,
	}
}

// connOf is a checker's connection keywords against the real server.
func connOf(c *config.Checker, rs netip.AddrPort) check.Conn {
	conn := check.Conn{Addr: rs, BindIf: c.BindIf, Fwmark: c.Fwmark, Timeout: c.ConnectTimeout.Duration()}
	if a, err := netip.ParseAddr(c.ConnectIP); err == nil {
		conn.Addr = netip.AddrPortFrom(a, conn.Addr.Port())
	}
	if c.ConnectPort != 0 {
		conn.Addr = netip.AddrPortFrom(conn.Addr.Addr(), uint16(c.ConnectPort))
	}
	if a, err := netip.ParseAddr(c.BindTo); err == nil {
		conn.BindTo = a
	}
	conn.BindPort = uint16(c.BindPort)
	if conn.Timeout <= 0 {
		conn.Timeout = 5 * time.Second
	}
	return conn
}
