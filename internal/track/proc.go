package track

// vrrp_track_process: the number of running processes of a name, within
// [quorum, quorum_max], weighs on the priority of the instances tracking
// it, as keepalived 2.2.7's core/track_process.c and vrrp/vrrp_track.c do
// it. Processes are followed with the kernel's proc connector after one
// scan of /proc; where the connector cannot be used (a network namespace
// other than the initial one refuses it) /proc is scanned every second.

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// paramMatch is how a process's parameters must match (param_match).
type paramMatch int

const (
	paramNone    paramMatch = iota // the name alone
	paramExact                     // exactly the configured parameters
	paramPartial                   // the first parameters are the configured ones
	paramInitial                   // as partial, but the last may be longer
)

// noQuorumMax is keepalived's default quorum_max (UINT_MAX).
const noQuorumMax = math.MaxUint32

// procSpec is a vrrp_track_process block as the daemon runs it.
type procSpec struct {
	name                 string
	path                 string // the process name (comm), or argv[0] with full_command
	params               []byte // the parameters, each NUL-terminated as in /proc/PID/cmdline
	match                paramMatch
	full                 bool // match /proc/PID/cmdline rather than the name
	quorum, quorumMax    int
	forkDelay, termDelay time.Duration
	weight               int // keepalived's default is 0: down means FAULT
	reverse              bool
}

// procStatus is a change of a tracked process's status.
type procStatus struct {
	name string
	up   bool
}

// procSpecs are the usable vrrp_track_process blocks by name, and what
// keepalived would have said about them. A block without `process` is
// dropped; of two blocks with one name the first wins.
func procSpecs(cfg *config.Config) (map[string]*procSpec, []string) {
	out := map[string]*procSpec{}
	var problems []string
	for _, tp := range cfg.TrackProcesses {
		name := blockName(tp.Args)
		if _, dup := out[name]; dup {
			continue
		}
		s, p := procSpecOf(name, tp)
		problems = append(problems, p...)
		if s != nil {
			out[name] = s
		}
	}
	return out, problems
}

// procSpecOf reads one block as vrrp_parser.c's vrrp_tprocess_* handlers.
func procSpecOf(name string, tp *config.TrackProcess) (*procSpec, []string) {
	if len(tp.Process) == 0 {
		return nil, []string{fmt.Sprintf("track process '%s' process name not specified", name)}
	}
	s := &procSpec{name: name, path: tp.Process[0], quorum: 1, quorumMax: noQuorumMax}
	if len(tp.Process) > 1 {
		for _, p := range tp.Process[1:] {
			s.params = append(append(s.params, p...), 0)
		}
		s.match, s.full = paramExact, true
	}
	var problems []string
	if tp.IsSet("param_match") {
		problems = append(problems, s.setParamMatch(tp.ParamMatch)...)
	}
	// keepalived's handler ignores any argument: `full_command` turns it on.
	s.full = s.full || tp.IsSet("full_command")
	s.weight, s.reverse, problems = procBlockWeight(name, tp.Weight, problems)
	problems = s.setQuorum(tp, problems)
	problems = s.setDelays(tp, problems)
	return s, problems
}

func (s *procSpec) setParamMatch(words []string) []string {
	switch {
	case len(words) == 0:
		s.match = paramExact
	case words[0] == "initial":
		s.match = paramInitial
	case words[0] == "partial":
		s.match = paramPartial
	default:
		return []string{fmt.Sprintf("Invalid param_match type %s - ignoring", words[0])}
	}
	s.full = true
	return nil
}

// procBlockWeight reads `weight W [reverse]`: W in [-254, 254], else the
// line is ignored (weight 0).
func procBlockWeight(name string, words []string, problems []string) (int, bool, []string) {
	if len(words) == 0 {
		return 0, false, problems
	}
	w, err := strconv.Atoi(words[0])
	if err != nil || w < -254 || w > 254 {
		return 0, false, append(problems, fmt.Sprintf("Weight (%s) for vrrp_track_process %s must be between [-254..254] inclusive. Ignoring...", words[0], name))
	}
	if len(words) > 1 {
		if words[1] == "reverse" {
			return w, true, problems
		}
		problems = append(problems, fmt.Sprintf("vrrp_track_process %s unknown weight option %s", name, words[1]))
	}
	return w, false, problems
}

// setQuorum applies quorum and quorum_max in the order they were written,
// since keepalived checks each against the other as it reads it.
func (s *procSpec) setQuorum(tp *config.TrackProcess, problems []string) []string {
	for _, kw := range inLineOrder(&tp.Block, "quorum", "quorum_max") {
		if kw == "quorum" {
			problems = s.applyQuorum(tp.Quorum, problems)
		} else {
			problems = s.applyQuorumMax(tp.QuorumMax, problems)
		}
	}
	return problems
}

func (s *procSpec) applyQuorum(q int, problems []string) []string {
	switch {
	case q < 1 || q > 65535:
		return append(problems, fmt.Sprintf("Quorum (%d) for vrrp_track_process %s must be between [1..65535] inclusive. Ignoring...", q, s.name))
	case q > s.quorumMax:
		return append(problems, "Quorum is greater than quorum_max - ignoring")
	}
	s.quorum = q
	return problems
}

// applyQuorumMax: quorum_max 0 means "up while none runs" (quorum 0).
func (s *procSpec) applyQuorumMax(m int, problems []string) []string {
	switch {
	case m < 0 || m > 65535:
		return append(problems, fmt.Sprintf("quorum_max (%d) for vrrp_track_process %s must be between [0..65535] inclusive. Ignoring...", m, s.name))
	case (m != 0 || s.quorum > 1) && m < s.quorum:
		return append(problems, "quorum_max is less than quorum - ignoring")
	}
	s.quorumMax = m
	if m == 0 {
		s.quorum = 0
	} else if s.quorum == 0 {
		s.quorum = 1
	}
	return problems
}

// setDelays applies delay (both), fork_delay and terminate_delay in the
// order they were written; each must be in (0, 3600] seconds.
func (s *procSpec) setDelays(tp *config.TrackProcess, problems []string) []string {
	values := map[string]config.Timer{"delay": tp.Delay, "fork_delay": tp.ForkDelay, "terminate_delay": tp.TerminateDelay}
	for _, kw := range inLineOrder(&tp.Block, "delay", "fork_delay", "terminate_delay") {
		d := values[kw].Duration()
		if d <= 0 || d > time.Hour {
			problems = append(problems, fmt.Sprintf("%s (%s) for vrrp_track_process %s must be between [0.000001..3600] inclusive. Ignoring...", kw, d, s.name))
			continue
		}
		if kw != "fork_delay" {
			s.termDelay = d
		}
		if kw != "terminate_delay" {
			s.forkDelay = d
		}
	}
	return problems
}

// inLineOrder lists the keywords of kws written in block b, in the order
// of their lines.
func inLineOrder(b *config.Block, kws ...string) []string {
	var set []string
	for _, kw := range kws {
		if b.IsSet(kw) {
			set = append(set, kw)
		}
	}
	sort.SliceStable(set, func(i, j int) bool {
		pi, pj := b.PosOf(set[i]), b.PosOf(set[j])
		return pi.File == pj.File && pi.Line < pj.Line
	})
	return set
}

// matches tells whether a process counts for the spec: its name (comm)
// is exactly path, or with full_command its argv[0] is, and then its
// parameters match as param_match says.
func (s *procSpec) matches(p kernel.ProcInfo) bool {
	if !s.full {
		return p.Comm == s.path
	}
	argv0, rest, _ := bytes.Cut(p.Cmdline, []byte{0})
	if string(argv0) != s.path {
		return false
	}
	return s.match == paramNone || s.paramsMatch(rest)
}

// paramsMatch is track_process.c's check_params on the parameters as
// /proc/PID/cmdline holds them (NUL-terminated).
func (s *procSpec) paramsMatch(rest []byte) bool {
	switch {
	case s.match == paramExact && s.params == nil && len(rest) == 0:
		return true
	case len(rest) < len(s.params):
		return false
	case s.match == paramExact:
		return bytes.Equal(rest, s.params)
	case s.params == nil:
		return true
	case s.match == paramPartial:
		return bytes.HasPrefix(rest, s.params)
	}
	// paramInitial: the last configured parameter is a prefix.
	return len(s.params) == 1 || bytes.HasPrefix(rest, s.params[:len(s.params)-1])
}

// procCause is why a process starts or stops counting, which decides
// whether fork_delay or terminate_delay applies.
type procCause int

const (
	causeFork   procCause = iota // a counted process forked: fork_delay applies
	causeExec                    // a process now matches (exec, new name, a rescan): at once
	causeExit                    // a counted process exited: terminate_delay applies
	causeRename                  // a process no longer matches (exec, new name): at once
)

// quorumCounter counts the processes matching one spec and decides its
// status, with keepalived's delays: the status is looked at only when the
// count reaches quorum or quorum_max+1 (going up), or falls below quorum
// or back to quorum_max (going down).
type quorumCounter struct {
	quorum, quorumMax    int
	forkDelay, termDelay time.Duration
	count                int
	up                   bool
	forkAt, termAt       time.Time // pending delays, zero when none
}

func newQuorumCounter(s *procSpec) *quorumCounter {
	return &quorumCounter{quorum: s.quorum, quorumMax: s.quorumMax, forkDelay: s.forkDelay, termDelay: s.termDelay}
}

func (c *quorumCounter) inQuorum() bool { return c.count >= c.quorum && c.count <= c.quorumMax }

// add counts one more process (check_process, check_process_fork); it
// reports whether the status changed. A fork waits fork_delay, unless a
// terminate_delay is pending: then the process came back in time and the
// pending change is cancelled.
func (c *quorumCounter) add(cause procCause, now time.Time) bool {
	c.count++
	if c.count != c.quorum && c.count != c.quorumMax+1 {
		return false
	}
	if cause == causeFork && c.termAt.IsZero() && c.forkDelay > 0 {
		if c.forkAt.IsZero() {
			c.forkAt = now.Add(c.forkDelay)
		}
		return false
	}
	c.termAt = time.Time{}
	return c.settle()
}

// remove counts one process less (check_process_termination,
// remove_process_from_track). An exit waits terminate_delay, unless a
// fork_delay is pending, which it cancels.
func (c *quorumCounter) remove(cause procCause, now time.Time) bool {
	was := c.count
	c.count--
	if was != c.quorum && c.count != c.quorumMax {
		return false
	}
	if cause == causeExit && c.forkAt.IsZero() && c.termDelay > 0 {
		if c.termAt.IsZero() {
			c.termAt = now.Add(c.termDelay)
		}
		return false
	}
	c.forkAt = time.Time{}
	return c.settle()
}

// expire ends the delays due by now and reports whether the status changed.
func (c *quorumCounter) expire(now time.Time) bool {
	fired := false
	for _, at := range []*time.Time{&c.forkAt, &c.termAt} {
		if !at.IsZero() && !now.Before(*at) {
			*at, fired = time.Time{}, true
		}
	}
	return fired && c.settle()
}

// deadline is when the next pending delay ends (zero: none).
func (c *quorumCounter) deadline() time.Time {
	switch {
	case c.forkAt.IsZero():
		return c.termAt
	case c.termAt.IsZero() || c.forkAt.Before(c.termAt):
		return c.forkAt
	}
	return c.termAt
}

// settle sets the status from the count and reports whether it changed.
func (c *quorumCounter) settle() bool {
	up := c.inQuorum()
	if up == c.up {
		return false
	}
	c.up = up
	return true
}

// procTable is which processes count for which specs.
type procTable struct {
	specs    []*procSpec
	counters []*quorumCounter
	pids     map[int][]bool // by pid, the specs it counts for
}

func newProcTable(specs []*procSpec) *procTable {
	t := &procTable{specs: specs, pids: map[int][]bool{}}
	for _, s := range specs {
		t.counters = append(t.counters, newQuorumCounter(s))
	}
	return t
}

// set makes process pid count for the specs in next (nil: none), with
// gain as the cause of new matches and loss as the cause of lost ones,
// and returns the specs whose status changed.
func (t *procTable) set(pid int, next []bool, gain, loss procCause, now time.Time) []int {
	prev := t.pids[pid]
	var changed []int
	counted := false
	for i, c := range t.counters {
		was, is := prev != nil && prev[i], next != nil && next[i]
		counted = counted || is
		if (is && !was && c.add(gain, now)) || (was && !is && c.remove(loss, now)) {
			changed = append(changed, i)
		}
	}
	if counted {
		t.pids[pid] = next
	} else {
		delete(t.pids, pid)
	}
	return changed
}

// expire ends the delays due by now; it returns the specs whose status changed.
func (t *procTable) expire(now time.Time) []int {
	var changed []int
	for i, c := range t.counters {
		if c.expire(now) {
			changed = append(changed, i)
		}
	}
	return changed
}

// deadline is the earliest pending delay (zero: none).
func (t *procTable) deadline() time.Time {
	var next time.Time
	for _, c := range t.counters {
		if d := c.deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	return next
}

// procMonitor follows the processes of the tracked specs and sends each
// change of status.
type procMonitor struct {
	log               *slog.Logger
	src               ProcSource
	table             *procTable
	needComm, needCmd bool
	out               chan<- procStatus
	done              <-chan struct{}
	timer             *time.Timer // fires at the table's next deadline
}

// startProcMonitor scans the processes, then follows them on a goroutine
// counted in wg until done is closed, sending each change of status to
// out. It returns the statuses found by the scan, which apply at once
// (keepalived's initialise_process_tracking_priorities applies no delay
// at start).
func startProcMonitor(log *slog.Logger, src ProcSource, specs []*procSpec, out chan<- procStatus, done <-chan struct{}, wg *sync.WaitGroup) map[string]bool {
	m := newProcMonitor(log, src, specs, out, done)
	// Listen first, so that no process starting during the scan is missed.
	watch, err := src.WatchProcesses()
	m.initialScan()
	initial := m.statuses() // before the monitor's goroutine owns the table
	if err != nil {
		m.logFallBack(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err != nil {
			m.poll()
			return
		}
		m.listen(watch)
	}()
	return initial
}

func newProcMonitor(log *slog.Logger, src ProcSource, specs []*procSpec, out chan<- procStatus, done <-chan struct{}) *procMonitor {
	m := &procMonitor{log: log, src: src, table: newProcTable(specs), out: out, done: done, timer: time.NewTimer(time.Hour)}
	m.timer.Stop()
	for _, s := range specs {
		m.needCmd = m.needCmd || s.full
		m.needComm = m.needComm || !s.full
	}
	return m
}

// statuses are the specs' current statuses by name.
func (m *procMonitor) statuses() map[string]bool {
	out := map[string]bool{}
	for i, c := range m.table.counters {
		out[m.table.specs[i].name] = c.up
	}
	return out
}

// fallBack rescans the processes every second until done, saying once
// why.
func (m *procMonitor) fallBack(why error) {
	m.logFallBack(why)
	m.poll()
}

func (m *procMonitor) logFallBack(why error) {
	m.log.Warn("track_process: the kernel's process events cannot be used (" + why.Error() + "): rescanning /proc every second instead")
}

// initialScan counts the matching processes, and sets each status.
func (m *procMonitor) initialScan() {
	for pid, set := range m.scan() {
		m.table.pids[pid] = set
		for i, on := range set {
			if on {
				m.table.counters[i].count++
			}
		}
	}
	for _, c := range m.table.counters {
		c.up = c.inQuorum()
	}
}

// scan lists the processes that match some spec.
func (m *procMonitor) scan() map[int][]bool {
	out := map[int][]bool{}
	pids, err := m.src.Pids()
	if err != nil {
		m.log.Error("track_process: cannot read /proc", "err", err)
		return out
	}
	for _, pid := range pids {
		if set := m.matchPid(pid); set != nil {
			out[pid] = set
		}
	}
	return out
}

// matchPid reads process pid and returns the specs it matches (nil: none).
func (m *procMonitor) matchPid(pid int) []bool {
	info, ok := m.src.ReadProcess(pid, m.needComm, m.needCmd)
	if !ok {
		return nil
	}
	return m.matchInfo(info)
}

func (m *procMonitor) matchInfo(info kernel.ProcInfo) []bool {
	var set []bool
	for i, s := range m.table.specs {
		if s.matches(info) {
			if set == nil {
				set = make([]bool, len(m.table.specs))
			}
			set[i] = true
		}
	}
	return set
}

// rescan compares a new scan with what is counted: a process that went
// away (or became a zombie) exited, one that no longer matches was
// renamed, and a new match counts at once.
func (m *procMonitor) rescan(now time.Time) bool {
	fresh := m.scan()
	var changed []int
	for pid := range m.table.pids {
		if _, ok := fresh[pid]; ok {
			continue
		}
		cause := causeRename
		if _, alive := m.src.ReadProcess(pid, true, false); !alive {
			cause = causeExit
		}
		changed = append(changed, m.table.set(pid, nil, causeExec, cause, now)...)
	}
	for pid, set := range fresh {
		changed = append(changed, m.table.set(pid, set, causeExec, causeRename, now)...)
	}
	return m.emit(changed)
}

// poll rescans the processes every second until done.
func (m *procMonitor) poll() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		ok := true
		select {
		case <-tick.C:
			ok = m.rescan(time.Now())
		case <-m.timer.C:
			ok = m.emit(m.table.expire(time.Now()))
		case <-m.done:
			return
		}
		if !ok {
			return
		}
		m.arm()
	}
}

// arm sets the timer to the next pending delay.
func (m *procMonitor) arm() {
	if d := m.table.deadline(); !d.IsZero() {
		m.timer.Reset(time.Until(d))
	} else {
		m.timer.Stop()
	}
}

// emit sends the status of the specs that changed; false once done.
func (m *procMonitor) emit(changed []int) bool {
	for _, i := range changed {
		select {
		case m.out <- procStatus{name: m.table.specs[i].name, up: m.table.counters[i].up}:
		case <-m.done:
			return false
		}
	}
	return true
}

// connectorAckWait is how long the kernel has to acknowledge the
// subscription before its events are taken as unusable (keepalived only
// warns after 100 ms; keepalived-go rescans /proc instead).
const connectorAckWait = time.Second

// listen follows the process events until done, and closes the watch;
// without an acknowledgement of the subscription, or when the events end,
// it falls back to rescanning.
func (m *procMonitor) listen(w ProcWatch) {
	ack := time.NewTimer(connectorAckWait)
	defer ack.Stop()
	var rescan <-chan time.Time // after lost events, as process_lost_messages_timer_thread
	for {
		ok := true
		select {
		case ev, open := <-w.Events():
			switch {
			case !open:
				err := w.Err()
				w.Close()
				if err == nil {
					err = errors.New("the process events ended")
				}
				m.fallBack(err)
				return
			case ev.Kind == kernel.ProcAck:
				ack.Stop()
			case ev.Kind == kernel.ProcEventsLost:
				if rescan == nil {
					m.log.Warn("track_process: process events were lost; rescanning /proc")
					rescan = time.After(time.Second)
				}
			default:
				ok = m.emit(m.handle(ev, time.Now()))
			}
		case <-rescan:
			rescan = nil
			ok = m.rescan(time.Now())
		case <-m.timer.C:
			ok = m.emit(m.table.expire(time.Now()))
		case <-ack.C:
			w.Close()
			m.fallBack(errors.New("the kernel did not acknowledge the subscription"))
			return
		case <-m.done:
			w.Close()
			return
		}
		if !ok {
			w.Close()
			return
		}
		m.arm()
	}
}

// handle applies one process event (keepalived's handle_proc_ev); thread
// events are ignored. It returns the specs whose status changed.
func (m *procMonitor) handle(ev kernel.ProcEvent, now time.Time) []int {
	if ev.Pid != ev.Tgid {
		return nil
	}
	t := m.table
	switch ev.Kind {
	case kernel.ProcFork:
		// The child of a counted process counts too (check_process_fork).
		if parent, ok := t.pids[ev.ParentTgid]; ok {
			return t.set(ev.Pid, append([]bool(nil), parent...), causeFork, causeRename, now)
		}
	case kernel.ProcExec:
		info, ok := m.src.ReadProcess(ev.Pid, m.needComm, m.needCmd)
		if !ok {
			return nil // gone already: its exit event follows
		}
		return t.set(ev.Pid, m.matchInfo(info), causeExec, causeRename, now)
	case kernel.ProcComm:
		return t.set(ev.Pid, m.withComm(ev.Pid, ev.Comm), causeExec, causeRename, now)
	case kernel.ProcExit:
		return t.set(ev.Pid, nil, causeExec, causeExit, now)
	}
	return nil
}

// withComm is what process pid matches after renaming itself to comm:
// the specs matching names change, those matching command lines do not
// (keepalived does not read a changed command line either).
func (m *procMonitor) withComm(pid int, comm string) []bool {
	prev := m.table.pids[pid]
	next := make([]bool, len(m.table.specs))
	for i, s := range m.table.specs {
		if s.full {
			next[i] = prev != nil && prev[i]
		} else {
			next[i] = s.path == comm
		}
	}
	return next
}
