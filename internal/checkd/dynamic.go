package checkd

// MISC_CHECK, FILE_CHECK and SMTP_CHECK as the daemon runs them: their
// jobs, keepalived's log lines for them, and the weights misc_dynamic and
// FILE_CHECK give the real servers (check_misc.c, check_file.c,
// check_smtp.c, ipwrapper.c update_svr_wgt).

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"

	"github.com/keepalived-go/keepalived-go/internal/check"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/runner"
	"github.com/keepalived-go/keepalived-go/internal/track"
)

// extras is what a service keeps for these checkers.
type extras struct {
	base  map[int]int64 // the configured weight (iweight) of the servers with weighted checkers
	files []*fileJob
}

// jobX is a MISC_CHECK's or SMTP_CHECK's state beyond its Schedule.
type jobX struct {
	misc *check.Misc // nil for SMTP_CHECK
	ran  bool        // keepalived's has_run
	// adj is what the checker adds to its server's weight (cur_weight);
	// lastExit the last exit status that set it (last_exit_code).
	adj      int64
	lastExit int
}

// fileJob is a FILE_CHECK of real server srv.
type fileJob struct {
	srv      int
	file     check.File
	weightKW []string // the FILE_CHECK's own weight keyword, if any
	watched  bool     // its file is followed (its directory exists)
	down     bool
	adj      int64
}

// newJobs makes the jobs of a MISC_CHECK, FILE_CHECK or SMTP_CHECK of
// real server srv (the last of svc.servers), and tells whether c was one.
func (svc *service) newJobs(g *config.GlobalDefs, spec *config.VirtualServerSpec, rs *config.RealServerSpec, c *config.Checker, ci int) bool {
	i := len(svc.servers) - 1
	srv := svc.servers[i]
	logAll := logAllFailures(g, c)
	switch c.Keyword {
	case "MISC_CHECK":
		names := c.User
		if len(names) == 0 {
			names = g.ScriptUser
		}
		cred, err := runner.Credential(names)
		if err != nil {
			svc.log.Error(fmt.Sprintf("Misc check for [%s VS %s] by [%s] cannot run: no user %v", srv.name, svc.name, firstWord(c.MiscPath.Args), names), "err", err)
			return true
		}
		timeout := c.MiscTimeout.Duration()
		if timeout <= 0 {
			timeout = spec.VirtualServer.DelayLoop.Duration()
		}
		m := &check.Misc{Script: runner.Script{Cmd: c.MiscPath.Cmd, Args: c.MiscPath.Args, Cred: cred},
			Timeout: timeout, Dynamic: c.MiscDynamic, Name: srv.name}
		svc.weighs(i, rs)
		srv.jobs = append(srv.jobs, &job{kind: c.Keyword, timing: timingOf(c), x: &jobX{misc: m}, logAll: logAll,
			key: fmt.Sprintf("%s|%s|%d|%s", svc.name, srv.name, ci, fingerprint(c)),
			Job: &check.Job{Checker: m, FromStart: true}})
	case "FILE_CHECK":
		svc.weighs(i, rs)
		svc.ext.files = append(svc.ext.files, &fileJob{srv: i, file: check.File{TrackFile: c.TrackFile}, weightKW: c.Weight})
	case "SMTP_CHECK":
		svc.smtpJobs(srv, rs, c, ci, logAll)
	default:
		return false
	}
	return true
}

// weighs notes that server i has a checker that moves its weight.
func (svc *service) weighs(i int, rs *config.RealServerSpec) {
	if svc.ext.base == nil {
		svc.ext.base = map[int]int64{}
	}
	svc.ext.base[i] = int64(rs.Weight)
}

// effective is server i's weight as keepalived computes it: the
// configured one plus its checkers' adjustments (check_daemon.c
// set_effective_weights), as the kernel takes it (real_weight).
func (svc *service) effective(i int) int {
	w := svc.ext.base[i]
	for _, j := range svc.servers[i].jobs {
		if j.x != nil {
			w += j.x.adj
		}
	}
	for _, f := range svc.ext.files {
		if f.srv == i && f.watched {
			w += f.adj
		}
	}
	return int(max(0, min(w, math.MaxInt32)))
}

// setWeightQuietly is keepalived's direct change of effective_weight,
// with no log, when a failing checker drops its adjustment.
func (svc *service) setWeightQuietly(i int) { svc.pool.Servers[i].Weight = svc.effective(i) }

// startExtras is, at start or reload, what keepalived does before it fills
// the pool: a kept MISC_CHECK carries its last exit status and weight over
// (check_misc.c migrate_misc_check), the FILE_CHECKs count as up or down
// from their file's value (check_file.c set_track_file_checkers_down),
// and the weights include the adjustments (set_effective_weights).
func (svc *service) startExtras(carry *carryOver) {
	for _, srv := range svc.servers {
		for _, j := range srv.jobs {
			if j.x == nil || carry == nil {
				continue
			}
			_, j.x.ran = carry.up[j.key]
			if e, ok := carry.exits[j.key]; ok && j.x.misc != nil && j.x.misc.Dynamic && check.MiscSuccess(e, true) {
				j.x.lastExit = e
				j.x.adj = check.DynamicAdjust(e, int(svc.ext.base[indexOf(svc, srv)]))
			}
		}
	}
	for _, f := range svc.ext.files {
		if f.watched {
			svc.pool.AddChecker(f.srv, !f.down)
		}
	}
	for i := range svc.ext.base {
		svc.setWeightQuietly(i)
	}
}

func indexOf(svc *service, srv *server) int {
	for i, s := range svc.servers {
		if s == srv {
			return i
		}
	}
	return -1
}

// saveExtras keeps, for a reload, a MISC_CHECK's last exit status.
func (c *carryOver) saveExtras(j *job) {
	if j.x == nil || j.x.misc == nil {
		return
	}
	if c.exits == nil {
		c.exits = map[string]int{}
	}
	c.exits[j.key] = j.x.lastExit
}

// onResultX is a MISC_CHECK's or SMTP_CHECK's result handler.
func (svc *service) onResultX(i int, j *job) func(check.Result, check.Change) {
	return func(r check.Result, c check.Change) {
		svc.mu.Lock()
		wasAlive := svc.pool.Servers[i].Alive()
		var evs []lvs.Event
		var alert string // the SMTP alert's body, if one is due
		if j.x.misc != nil {
			evs, alert = svc.miscResult(i, j, r, c)
		} else {
			evs, alert = svc.smtpResult(i, j, r, c)
		}
		alive := svc.pool.Servers[i].Alive()
		svc.mu.Unlock()
		svc.handle(evs)
		if alert != "" {
			svc.checkerAlert(svc.servers[i], alert, wasAlive, alive)
		}
	}
}

// miscResult is misc_check_child_thread's handling of a script's end; it
// returns the alert's body when keepalived sends one: at each success or
// final failure it logs (the first ones included, whether or not the
// server's state moves).
func (svc *service) miscResult(i int, j *job, r check.Result, c check.Change) ([]lvs.Event, string) {
	x := j.x
	first := !x.ran
	x.ran = true
	var evs []lvs.Event
	if r.OK {
		if r.Status != x.lastExit {
			// The weight changes first, then the state: a server coming
			// back is "inactive" when its new weight is logged.
			x.adj = check.DynamicAdjust(r.Status, int(svc.ext.base[i]))
			x.lastExit = r.Status
			evs = svc.pool.SetWeight(i, svc.effective(i))
		}
		alert := ""
		if c == check.WentUp || first {
			svc.log.Info(svc.miscLine(i, j, r, ""))
			alert = miscAlertBody(true, false)
		}
		if c == check.WentUp {
			evs = append(evs, svc.pool.CheckerChanged(i, true)...)
		}
		return evs, alert
	}
	retry := j.Schedule.Timing().Retry
	switch c {
	case check.WentDown, check.StayedDown:
		// keepalived drops the adjustment of a script that exited
		// non-zero; one that timed out or was killed keeps it in the
		// server's weight while forgetting it (a drift); here both drop
		// it, and the next success sets its weight again.
		x.adj, x.lastExit = 0, r.Status
		svc.setWeightQuietly(i)
		msg := fmt.Sprintf(" after %d %s", retry, plural(retry, "retry", "retries"))
		if retry == 0 {
			msg = " with retry disabled"
		}
		svc.log.Info(svc.miscLine(i, j, r, msg))
		return append(evs, svc.stateChange(i, c)...), miscAlertBody(false, r.TimedOut)
	}
	// A failure to be retried is logged, under log_all_failures only, by
	// onFailure (check.Misc.FailureLine).
	return evs, ""
}

// miscLine is keepalived's "Misc check for [RS VS VS] by [SCRIPT] ..."
// line.
func (svc *service) miscLine(i int, j *job, r check.Result, msg string) string {
	return check.MiscLine(svc.servers[i].name, svc.name, j.x.misc.Path(), r, msg)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// stateChange applies a checker's failure to the pool: a server whose
// checker went down; or an alpha server's first failure, which keepalived
// notifies down although the server never was up
// (update_svr_checker_state). As onResult does for the other checkers.
func (svc *service) stateChange(i int, c check.Change) []lvs.Event {
	switch c {
	case check.WentDown:
		return svc.pool.CheckerChanged(i, false)
	case check.StayedDown:
		if !svc.pool.Servers[i].Alive() {
			return []lvs.Event{{Kind: lvs.ServerDown, Server: i}}
		}
	}
	return nil
}

// fileChecks is the FILE_CHECKs of a runtime and the watch of their
// files.
type fileChecks struct {
	watch  *track.FileWatch
	specs  map[string]*config.TrackFileSpec
	byName map[string][]fileRef
}

type fileRef struct {
	svc *service
	job *fileJob
}

// watchFileChecks starts following the files cfg's FILE_CHECKs name, as
// keepalived's checker process does at start (check_daemon.c start_check:
// init_track_files); their values are delivered once run is called.
func watchFileChecks(log *slog.Logger, cfg *config.Config, reload bool, src track.FileSource) *fileChecks {
	fc := &fileChecks{specs: cfg.TrackFileSpecs(), byName: map[string][]fileRef{}}
	var used []*config.TrackFileSpec
	seen := map[string]bool{}
	for _, vs := range cfg.VirtualServerSpecs() {
		for _, rs := range vs.RealServers {
			for _, c := range rs.Checkers {
				if s := fc.specs[c.TrackFile]; c.Keyword == "FILE_CHECK" && s != nil && !seen[s.Name] {
					seen[s.Name] = true
					used = append(used, s)
				}
			}
		}
	}
	if len(used) > 0 {
		fc.watch = track.WatchFiles(log, used, reload, src)
	}
	return fc
}

// attach gives svc's FILE_CHECKs their weight and their file's value.
func (fc *fileChecks) attach(svc *service) {
	for _, f := range svc.ext.files {
		s := fc.specs[f.file.TrackFile]
		if s == nil || fc.watch == nil {
			continue
		}
		v, ok := fc.watch.Initial[s.Name]
		if !ok {
			continue // its directory does not exist: keepalived removes it
		}
		f.file.Weight, f.file.Reverse = s.Weight, s.Reverse
		if w := f.weightKW; len(w) > 0 {
			// check_file.c track_file_weight_handler: an invalid weight
			// or option leaves the track_file's.
			n, err := strconv.Atoi(w[0])
			if err == nil && n >= -math.MaxInt32 && n <= math.MaxInt32 && (len(w) < 2 || w[1] == "reverse" || w[1] == "noreverse") {
				f.file.Weight, f.file.Reverse = n, len(w) > 1 && w[1] == "reverse"
			}
		}
		f.watched = true
		f.down, f.adj = f.file.Status(v)
		fc.byName[s.Name] = append(fc.byName[s.Name], fileRef{svc, f})
	}
}

// run delivers the files' new values.
func (fc *fileChecks) run() {
	if fc.watch != nil {
		fc.watch.Deliver(func(name string, value int64) {
			for _, r := range fc.byName[name] {
				r.svc.fileValue(r.job, value)
			}
		})
	}
}

func (fc *fileChecks) stop() {
	if fc != nil {
		fc.watch.Stop()
	}
}

// fileValue applies a new value of a FILE_CHECK's file
// (process_update_checker_track_file_status).
func (svc *service) fileValue(f *fileJob, value int64) {
	down, adj := f.file.Status(value)
	if down == f.down && adj == f.adj {
		return
	}
	svc.mu.Lock()
	var evs []lvs.Event
	name := svc.servers[f.srv].name
	switch {
	case down:
		svc.log.Info(fmt.Sprintf("(%s): tracked file %s now FAULT state", name, f.file.TrackFile))
		evs = svc.pool.CheckerChanged(f.srv, false)
		f.adj = 0
		svc.setWeightQuietly(f.srv)
	case f.down:
		svc.log.Info(fmt.Sprintf("(%s): tracked file %s leaving FAULT state", name, f.file.TrackFile))
		f.adj = adj
		svc.setWeightQuietly(f.srv)
		evs = svc.pool.CheckerChanged(f.srv, true)
	default:
		f.adj = adj
		evs = svc.pool.SetWeight(f.srv, svc.effective(f.srv))
	}
	f.down = down
	svc.mu.Unlock()
	svc.handle(evs)
}
