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
	"log/slog"
	"sync"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// procSpec is a vrrp_track_process block as the daemon runs it: the
// configuration's resolved block, with its parameters as
// /proc/PID/cmdline holds them.
type procSpec struct {
	config.TrackProcessSpec
	nulParams []byte // Params, each NUL-terminated
}

// newProcSpec is the runtime's copy of a resolved block.
func newProcSpec(s *config.TrackProcessSpec) *procSpec {
	p := &procSpec{TrackProcessSpec: *s}
	for _, w := range s.Params {
		p.nulParams = append(append(p.nulParams, w...), 0)
	}
	return p
}

// procStatus is a change of a tracked process's status.
type procStatus struct {
	name string
	up   bool
}

// matches tells whether a process counts for the spec: its name (comm)
// is exactly path, or with full_command its argv[0] is, and then its
// parameters match as param_match says.
func (s *procSpec) matches(p kernel.ProcInfo) bool {
	if !s.FullCommand {
		return p.Comm == s.Process
	}
	argv0, rest, _ := bytes.Cut(p.Cmdline, []byte{0})
	if string(argv0) != s.Process {
		return false
	}
	return s.ParamMatch == config.ParamMatchNone || s.paramsMatch(rest)
}

// paramsMatch is track_process.c's check_params on the parameters as
// /proc/PID/cmdline holds them (NUL-terminated).
func (s *procSpec) paramsMatch(rest []byte) bool {
	switch {
	case s.ParamMatch == config.ParamMatchExact && s.nulParams == nil && len(rest) == 0:
		return true
	case len(rest) < len(s.nulParams):
		return false
	case s.ParamMatch == config.ParamMatchExact:
		return bytes.Equal(rest, s.nulParams)
	case s.nulParams == nil:
		return true
	case s.ParamMatch == config.ParamMatchPartial:
		return bytes.HasPrefix(rest, s.nulParams)
	}
	// ParamMatchInitial: the last configured parameter is a prefix.
	return len(s.nulParams) == 1 || bytes.HasPrefix(rest, s.nulParams[:len(s.nulParams)-1])
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
	return &quorumCounter{quorum: s.Quorum, quorumMax: s.QuorumMax, forkDelay: s.ForkDelay, termDelay: s.TerminateDelay}
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
		m.needCmd = m.needCmd || s.FullCommand
		m.needComm = m.needComm || !s.FullCommand
	}
	return m
}

// statuses are the specs' current statuses by name.
func (m *procMonitor) statuses() map[string]bool {
	out := map[string]bool{}
	for i, c := range m.table.counters {
		out[m.table.specs[i].Name] = c.up
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
		case m.out <- procStatus{name: m.table.specs[i].Name, up: m.table.counters[i].up}:
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
		if s.FullCommand {
			next[i] = prev != nil && prev[i]
		} else {
			next[i] = s.Process == comm
		}
	}
	return next
}
