package checkd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keepalived-go/keepalived-go/internal/check"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/notify"
)

// service is one virtual server: its pool, its real servers' checkers and
// its notifications. The pool changes on the engine's goroutine only; mu
// guards it against readers (status).
type service struct {
	log        *slog.Logger
	name       string
	mu         sync.Mutex
	pool       *lvs.Pool
	servers    []*server
	dataPorts  []string // each server's port in keepalived's data dump (dataPort)
	notifier   *notify.Notifier
	quorumUp   notify.Script
	quorumDown notify.Script
	// haSuspend: the checkers run only while ownsAddr matches an address
	// of this host (suspend.go); suspended says they do not now.
	haSuspend bool
	ownsAddr  addrMatcher
	omega     bool   // its real servers and itself notify their going at stop
	group     string // its virtual_server_group, if any
	// groupEntries and protocol are the group's entries and the
	// protocol, for the reload's lines on entries (removals.go).
	groupEntries []config.VSGEntry
	protocol     string
	suspended    atomic.Bool
	ext          extras     // MISC_CHECK, FILE_CHECK and SMTP_CHECK (dynamic.go)
	bfd          []bfdCheck // BFD_CHECK, not run (bfd.go)
	mail         alerting   // SMTP alerts (smtp.go)
	// changed, when set, hears that the pool changed (the data plane).
	changed func()
}

// server is one real server and its checkers.
type server struct {
	name       string
	notifyUp   notify.Script
	notifyDown notify.Script
	alert      bool // smtp_alert
	jobs       []*job
	probes     probeCounts
}

// probeCounts count a server's probes for the metrics, from the engine's
// goroutine while the API reads them.
type probeCounts struct {
	n, failed atomic.Uint64
	nanos     atomic.Int64
}

func (p *probeCounts) add(r check.Result) {
	p.n.Add(1)
	if !r.OK {
		p.failed.Add(1)
	}
	p.nanos.Add(int64(r.Took))
}

// job is a checker with its identity across reloads.
type job struct {
	*check.Job
	key    string
	kind   string // TCP_CHECK, ...
	timing check.Timing
	x      *jobX // MISC_CHECK and SMTP_CHECK (dynamic.go)
	ran    bool  // keepalived's has_run: a result was seen (or kept over a reload)
	logAll bool  // log_all_failures, of the checker (or an SMTP host) or global_defs
}

func newService(log *slog.Logger, g *config.GlobalDefs, spec *config.VirtualServerSpec, fifos *notify.FIFOs, ssl *sslContext) *service {
	vs := spec.VirtualServer
	name := serviceName(spec)
	svc := &service{log: log, name: name,
		pool:       &lvs.Pool{Name: name, Quorum: max(1, vs.Quorum), Hysteresis: vs.Hysteresis},
		notifier:   notify.New(notify.VirtualServer, name, notify.Options{Log: log, FIFOs: fifos}),
		quorumUp:   notify.ScriptOf(vs.QuorumUp, g.ScriptUser),
		quorumDown: notify.ScriptOf(vs.QuorumDown, g.ScriptUser),
		haSuspend:  vs.HASuspend, ownsAddr: matcherOf(spec), omega: vs.Omega}
	if spec.Group != nil {
		svc.group = firstWord(spec.Group.Args)
		svc.groupEntries, svc.protocol = spec.Group.Entries, spec.Protocol
	}
	svc.suspended.Store(vs.HASuspend) // until the suspender has seen the addresses
	for _, rs := range spec.RealServers {
		srv := &server{name: trio(rs.Addr, spec.Protocol),
			notifyUp:   notify.ScriptOf(rs.RealServer.NotifyUp, g.ScriptUser),
			notifyDown: notify.ScriptOf(rs.RealServer.NotifyDown, g.ScriptUser),
			alert:      realServerAlerts(g, rs.RealServer)}
		svc.servers = append(svc.servers, srv)
		svc.dataPorts = append(svc.dataPorts, dataPort(spec, rs))
		svc.pool.Servers = append(svc.pool.Servers, &lvs.Server{Name: srv.name, Weight: rs.Weight,
			Inhibit: rs.RealServer.InhibitOnFailure})
		for i, c := range rs.Checkers {
			if c.Keyword == "BFD_CHECK" {
				svc.bfdJob(c)
				continue
			}
			if svc.newJobs(g, spec, rs, c, i) {
				continue
			}
			checker, ok := newChecker(c, rs, checkerEnv{log: log, g: g, spec: spec, service: name, ssl: ssl})
			if !ok {
				continue
			}
			srv.jobs = append(srv.jobs, &job{kind: c.Keyword, timing: timingOf(c), logAll: logAllFailures(g, c),
				key: fmt.Sprintf("%s|%s|%d|%s", name, srv.name, i, fingerprint(c)),
				Job: &check.Job{Checker: checker, Timeout: c.ConnectTimeout.Duration()}})
		}
	}
	if s := spec.Sorry; s != nil {
		svc.pool.Sorry = &lvs.Server{Name: trio(s.Addr, spec.Protocol), Weight: s.Weight, Inhibit: vs.SorryServerInhibit}
	}
	return svc
}

// dataPort is a real server's port as keepalived keeps it, which its data
// dump prints: validation (check_parser.c, see config/validate_lvs.go
// vsPorts) clears the port of a server that is not NAT under a fwmark and
// resets it to the virtual server's when they differ; in a group, the port
// is left.
func dataPort(spec *config.VirtualServerSpec, rs *config.RealServerSpec) string {
	port := rs.Addr.Port()
	if defaultString(rs.Method, spec.Method) != "NAT" && spec.Group == nil {
		switch {
		case spec.Fwmark != 0:
			port = 0
		case port != 0:
			port = spec.Addr.Port()
		}
	}
	return strconv.Itoa(int(port))
}

// checkerEnv is what building a checker may need beyond its block.
type checkerEnv struct {
	log     *slog.Logger
	g       *config.GlobalDefs
	spec    *config.VirtualServerSpec
	service string // the virtual server's name
	ssl     *sslContext
}

// newChecker is the probe for a checker block, if keepalived-go runs that
// kind yet.
func newChecker(c *config.Checker, rs *config.RealServerSpec, env checkerEnv) (check.Checker, bool) {
	switch c.Keyword {
	case "TCP_CHECK":
		return &check.TCP{Conn: connOf(c, rs.Addr)}, true
	case "UDP_CHECK":
		return udpChecker(c, rs.Addr), true
	case "DNS_CHECK":
		return dnsChecker(c, rs.Addr), true
	case "PING_CHECK":
		return pingChecker(c, rs.Addr), true
	case "HTTP_GET", "SSL_GET":
		return newHTTPChecker(env.log, env.g, c, rs, env.spec, env.service, env.ssl)
	}
	return nil, false
}

// fingerprint is what identifies a checker's configuration: a reload
// keeps the state of a checker whose configuration did not change. It is
// a hash of the configuration's text, which is some 600 bytes per
// checker: kept in every job's key, the text took 6 MB at 10,000 real
// servers.
func fingerprint(c *config.Checker) string {
	b := *c
	b.Block = config.Block{Keyword: c.Keyword, Args: c.Args}
	text := fmt.Appendf(nil, "%+v", b)
	for _, u := range c.URLs { // not their addresses
		v := *u
		v.Block = config.Block{}
		text = fmt.Appendf(text, "|%+v", v)
	}
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:16])
}

// start registers the checkers with the engine and fills the pool, with
// the states carry kept for unchanged checkers.
func (svc *service) start(e *check.Engine, carry *carryOver, initNotifies bool) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	svc.startExtras(carry)
	svc.startBFD()
	for i, srv := range svc.servers {
		for _, j := range srv.jobs {
			up, kept := false, false
			if carry != nil {
				up, kept = carry.up[j.key]
			}
			if kept {
				j.Schedule = check.Resume(j.timing, up)
				j.ran = true
			} else {
				j.Schedule = check.NewSchedule(j.timing)
				svc.log.Info(fmt.Sprintf("%s healthchecker for service %s for VS %s",
					map[bool]string{false: "Activating", true: "Deactivating"}[svc.suspended.Load()], srv.name, svc.name))
			}
			if svc.haSuspend {
				j.Suspended = svc.suspended.Load
			}
			svc.pool.AddChecker(i, j.Schedule.Up())
			onResult := svc.onResult(i, j)
			j.OnResult = func(r check.Result, c check.Change) {
				srv.probes.add(r)
				onResult(r, c)
			}
			j.OnFailure = svc.onFailure(i, j)
			e.Add(j.Job)
		}
	}
	if up, kept := carry.quorumOf(svc.name); kept {
		svc.handle(svc.pool.Resume(up))
		return
	}
	svc.handle(svc.pool.Start(initNotifies))
}

// logAllFailures is a checker's log_all_failures, resolved: its own, or
// global_defs' checker_log_all_failures (check_api.c, global_parser.c).
func logAllFailures(g *config.GlobalDefs, c *config.Checker) bool {
	return c.LogAllFailures || g.CheckerLogAllFailures
}

// onFailure is, under log_all_failures, what logs each failed probe with
// the checker's own words (check.FailureLiner), before the failure is
// counted: one mechanism for every checker.
func (svc *service) onFailure(i int, j *job) func(check.Result) {
	fl, ok := j.Checker.(check.FailureLiner)
	if !j.logAll || !ok {
		return nil
	}
	name := svc.servers[i].name
	return func(r check.Result) {
		if l := fl.FailureLine(check.AttemptOf(j.Schedule, name, svc.name, r)); l != "" {
			svc.log.Info(l)
		}
	}
}

// onResult is a checker's result handler, on the engine's goroutine.
func (svc *service) onResult(i int, j *job) func(check.Result, check.Change) {
	if j.x != nil {
		return svc.onResultX(i, j)
	}
	srv := svc.servers[i]
	sl, selfLogging := j.Checker.(check.SelfLogger)
	selfLogging = selfLogging && sl.LogsChanges()
	return func(r check.Result, c check.Change) {
		hasRun := j.ran
		j.ran = true
		lines, own := j.Checker.(check.Lines)
		if c == check.Unchanged {
			// The first success of a checker that starts up is logged
			// as its coming up is (tcp_epilog: is_success && (!is_up ||
			// !has_run)), with nothing to notify.
			if r.OK && !hasRun && !selfLogging {
				if !own {
					svc.log.Info(fmt.Sprintf("%s success.", successLine(j.kind, srv.name)))
				} else if l := lines.UpLine(srv.name); l != "" {
					svc.log.Info(l)
				}
			}
			return
		}
		switch {
		case selfLogging:
		case c == check.WentUp && own:
			if l := lines.UpLine(srv.name); l != "" {
				svc.log.Info(l)
			}
		case c == check.WentUp:
			svc.log.Info(fmt.Sprintf("%s success.", successLine(j.kind, srv.name)))
		case (c == check.WentDown || c == check.StayedDown) && own:
			svc.log.Info(lines.DownLine(srv.name, svc.name, j.Schedule.Timing().Retry, hasRun, r.Reason))
		default:
			svc.log.Info(failureLine(j.kind, srv.name, j.Schedule.Timing().Retry, hasRun, r.Reason))
		}
		svc.mu.Lock()
		if c == check.StayedDown {
			// An alpha server's first failure: keepalived notifies it
			// down although it never was up (update_svr_checker_state).
			alive := svc.pool.Servers[i].Alive()
			svc.mu.Unlock()
			if !alive {
				svc.handle([]lvs.Event{{Kind: lvs.ServerDown, Server: i}})
			}
			return
		}
		wasAlive := svc.pool.Servers[i].Alive()
		evs := svc.pool.CheckerChanged(i, c == check.WentUp)
		alive := svc.pool.Servers[i].Alive()
		svc.mu.Unlock()
		svc.handle(evs)
		svc.checkerAlert(srv, checkerAlertBody(j.kind, c == check.WentUp), wasAlive, alive)
	}
}

// successLine and failureLine are keepalived's lines for a checker's
// change (check_tcp.c tcp_epilog).
func successLine(kind, name string) string {
	if kind == "TCP_CHECK" {
		return "TCP connection to " + name
	}
	return kind + " on service " + name
}

func failureLine(kind, name string, retry int, afterRetries bool, reason string) string {
	s := fmt.Sprintf("%s on service %s failed", kind, name)
	if retry > 0 && afterRetries {
		s += fmt.Sprintf(" after %d retries", retry)
	}
	return s + "." + map[bool]string{true: "", false: " (" + reason + ")"}[reason == ""]
}

// handle logs a pool's events and sends their notifications: the
// scripts, and the FIFO lines keepalived writes with their terminating
// NUL (ipwrapper.c notify_fifo_rs and notify_fifo_vs).
func (svc *service) handle(evs []lvs.Event) {
	if len(evs) > 0 && svc.changed != nil {
		defer svc.changed() // after keepalived's lines
	}
	for _, ev := range evs {
		for _, l := range ev.Log {
			svc.log.Info(l)
		}
		switch ev.Kind {
		case lvs.ServerUp, lvs.ServerDown:
			srv, state, script := svc.servers[ev.Server], "UP", svc.servers[ev.Server].notifyUp
			if ev.Kind == lvs.ServerDown {
				state, script = "DOWN", srv.notifyDown
			}
			svc.notifier.Notify(notify.Event{What: "RS " + srv.name + " " + state,
				Lines:   []string{fmt.Sprintf("RS %s %s %s\n\x00", srv.name, svc.name, state)},
				Scripts: []notify.Script{script}})
		case lvs.QuorumUp, lvs.QuorumDown:
			state, script := "UP", svc.quorumUp
			if ev.Kind == lvs.QuorumDown {
				state, script = "DOWN", svc.quorumDown
			}
			svc.notifier.Notify(notify.Event{What: "VS " + state,
				Lines:   []string{fmt.Sprintf("VS %s %s\n\x00", svc.name, state)},
				Scripts: []notify.Script{script}})
			svc.quorumAlert(ev)
		}
	}
}

func firstWord(words []string) string {
	if len(words) == 0 {
		return ""
	}
	return strings.TrimSpace(words[0])
}
