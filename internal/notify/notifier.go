package notify

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/runner"
)

// Kind is the kind of object a Notifier speaks for, as keepalived's FIFO
// lines and generic notify arguments name it.
type Kind string

const (
	Instance      Kind = "INSTANCE" // a vrrp_instance
	Group         Kind = "GROUP"    // a vrrp_sync_group
	VirtualServer Kind = "VS"       // a virtual_server: quorum up or down
	RealServer    Kind = "RS"       // a real_server: up or down
)

const (
	// DefaultScriptWait is how long a queue waits for a notify script
	// before it goes on without it: keepalived's default
	// startup_script_timeout and shutdown_script_timeout.
	DefaultScriptWait = 10 * time.Second
	// DefaultQueueLen is how many notifications with scripts may wait
	// behind a slow script before the next ones are dropped.
	DefaultQueueLen = 64
)

// Options are a Notifier's settings; the zero value is usable.
type Options struct {
	Log   *slog.Logger // slog.Default() if nil
	FIFOs *FIFOs       // where the lines go; nil for none
	// ScriptWait bounds the wait for one script (DefaultScriptWait if
	// 0): past it the queue logs that the script still runs and goes on
	// with the next one, leaving it running.
	ScriptWait time.Duration
	// QueueLen is how many notifications may wait (DefaultQueueLen if 0).
	QueueLen int
}

// Event is one notification: a state change, or a passing event such as
// MASTER_RX_LOWER_PRI or a priority change.
type Event struct {
	What    string   // the state or event, for the logs: MASTER, UP...
	Lines   []string // FIFO lines, written as they are, at once
	Scripts []Script // run one after the other on the queue; zero ones are skipped
}

// Stats are the losses of a Notifier, or of the process (Totals).
type Stats struct {
	// DroppedEvents are notifications whose scripts did not run: the
	// queue was full (scripts too slow) or the notifier had stopped.
	DroppedEvents uint64
	// DroppedLines are FIFO lines that did not fit in their pipe.
	DroppedLines uint64
	// OverrunScripts are scripts still running when the queue stopped
	// waiting for them (ScriptWait).
	OverrunScripts uint64
}

// totals are the process's Stats, across notifiers and reloads.
var totals struct {
	droppedEvents, droppedLines, overrunScripts atomic.Uint64
}

// Totals are the losses of every notifier and FIFO since the process
// started, for metrics: they only grow. DroppedLines counts a line once
// per pipe that dropped it.
func Totals() Stats {
	return Stats{DroppedEvents: totals.droppedEvents.Load(), DroppedLines: totals.droppedLines.Load(),
		OverrunScripts: totals.overrunScripts.Load()}
}

// Notifier notifies the changes of one object (an instance, a sync group,
// a virtual or real server) in their order: each Event's lines are
// written to the FIFOs at once, on the caller's goroutine, and its
// scripts are queued, to run one after the other in event order on the
// Notifier's own goroutine. The queue waits for a script at most
// ScriptWait; a script that overruns is left running, as keepalived
// leaves its notify scripts, until Stop.
type Notifier struct {
	kind  Kind
	name  string
	log   *slog.Logger
	fifos *FIFOs
	wait  time.Duration

	mu       sync.Mutex // one Notify at a time: lines and queue in one order
	closed   bool
	queueLen int
	// pending are the events whose scripts wait, oldest first; a
	// goroutine runs them while there are any (working), and ends when
	// none is left: a notifier that has nothing to run costs no
	// goroutine and no buffer (1,000 VRRP instances had 1,000 idle
	// goroutines and 4 MB of queues).
	pending []Event
	working bool
	worker  sync.WaitGroup

	ctx     context.Context // cancelled at Stop, once the queue has run: ends what still runs
	cancel  context.CancelFunc
	scripts sync.WaitGroup // the scripts started, running or not
	running atomic.Int32   // the scripts still running

	droppedEvents, droppedLines, overruns atomic.Uint64
	dropLog                               limiter
	stopOnce                              sync.Once
}

// New starts the notifier of the object kind name.
func New(kind Kind, name string, o Options) *Notifier {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.ScriptWait <= 0 {
		o.ScriptWait = DefaultScriptWait
	}
	if o.QueueLen <= 0 {
		o.QueueLen = DefaultQueueLen
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{kind: kind, name: name, log: o.Log.With("notify", string(kind)+" "+name), fifos: o.FIFOs,
		wait: o.ScriptWait, queueLen: o.QueueLen, ctx: ctx, cancel: cancel}
}

// Kind and Name are the object's, as given to New.
func (n *Notifier) Kind() Kind   { return n.kind }
func (n *Notifier) Name() string { return n.name }

// Notify writes ev's lines to the FIFOs and queues its scripts, without
// ever blocking: a line that does not fit in a pipe is dropped, and so
// are the scripts of an event that finds the queue full; both are
// counted (Stats) and logged.
func (n *Notifier) Notify(ev Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, line := range ev.Lines {
		if d := n.fifos.Write(line); d > 0 {
			n.droppedLines.Add(uint64(d))
		}
	}
	if !hasScripts(ev.Scripts) {
		return
	}
	if n.closed {
		n.drop(ev, "the notifier has stopped")
		return
	}
	if len(n.pending) >= n.queueLen {
		n.drop(ev, "the queue is full: notify scripts are slow")
		return
	}
	n.pending = append(n.pending, ev)
	if !n.working {
		n.working = true
		n.worker.Add(1)
		go n.work()
	}
}

func hasScripts(scripts []Script) bool {
	for _, s := range scripts {
		if !s.IsZero() {
			return true
		}
	}
	return false
}

// drop counts a notification whose scripts will not run, and logs it (at
// most every 10 seconds, with the count of those not logged).
func (n *Notifier) drop(ev Event, why string) {
	n.droppedEvents.Add(1)
	totals.droppedEvents.Add(1)
	if ok, more := n.dropLog.allow(time.Now()); ok {
		n.log.Error("notify scripts not run: "+why, "event", ev.What, "dropped_before", more,
			"dropped_total", n.droppedEvents.Load())
	}
}

// work runs the pending events' scripts, in order, until none is left.
func (n *Notifier) work() {
	defer n.worker.Done()
	for {
		ev, ok := n.next()
		if !ok {
			return
		}
		for _, s := range ev.Scripts {
			if !s.IsZero() {
				n.run(ev.What, s)
			}
		}
	}
}

// next takes the oldest pending event, or says there is none and that
// the worker ends (so that the next Notify starts one).
func (n *Notifier) next() (Event, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.pending) == 0 {
		n.pending, n.working = nil, false
		return Event{}, false
	}
	ev := n.pending[0]
	n.pending[0] = Event{}
	n.pending = n.pending[1:]
	return ev, true
}

// run starts a script and waits for it, for ScriptWait at most. The
// script runs as keepalived's notify_exec runs it (core/notify.c
// system_call_script without a timer): nothing kills it but Stop.
func (n *Notifier) run(what string, s Script) {
	if s.Err != nil {
		n.log.Error("notify script not run", "event", what, "script", s.Cmd, "err", s.Err)
		return
	}
	ended := make(chan struct{})
	n.scripts.Add(1)
	n.running.Add(1)
	go func() {
		defer n.scripts.Done()
		defer n.running.Add(-1)
		defer close(ended)
		r := runner.Run(n.ctx, s.Script, 0)
		switch {
		case r.OK():
		case n.ctx.Err() != nil:
			n.log.Warn("notify script ended at stop", "event", what, "script", s.Cmd, "output", string(r.Output))
		case r.Err != nil:
			n.log.Error("notify script cannot run", "event", what, "script", s.Cmd, "err", r.Err, "output", string(r.Output))
		default:
			n.log.Warn("notify script failed", "event", what, "script", s.Cmd, "status", r.ExitCode, "output", string(r.Output))
		}
	}()
	t := time.NewTimer(n.wait)
	defer t.Stop()
	select {
	case <-ended:
	case <-t.C:
		n.overruns.Add(1)
		totals.overrunScripts.Add(1)
		n.log.Warn("notify script still running after "+n.wait.String()+": the next notifications go on without it",
			"event", what, "script", s.Cmd)
	}
}

// Stats are this notifier's losses since New.
func (n *Notifier) Stats() Stats {
	return Stats{DroppedEvents: n.droppedEvents.Load(), DroppedLines: n.droppedLines.Load(),
		OverrunScripts: n.overruns.Load()}
}

// Busy tells whether notifications are queued or scripts still run.
func (n *Notifier) Busy() bool {
	n.mu.Lock()
	working := n.working
	n.mu.Unlock()
	return working || n.running.Load() > 0
}

// Close takes no more notifications (later ones are dropped and counted)
// and returns at once; what is queued still runs. Closing every notifier
// before stopping any lets their queues run together.
func (n *Notifier) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
}

// Stop closes the notifier, waits until the queued notifications (the STOP
// ones, at shutdown) have run, each script for ScriptWait at most, then
// ends the scripts still running (SIGTERM to their process group, SIGKILL
// runner.KillDelay later) and waits for them: on return nothing of the
// notifier runs.
func (n *Notifier) Stop() {
	n.Close()
	n.stopOnce.Do(func() {
		// No worker starts once closed: Wait sees the last one end.
		n.worker.Wait()
		n.cancel()
		n.scripts.Wait()
		if more := n.dropLog.flush(); more > 0 {
			n.log.Error("notify scripts not run and not logged", "count", more)
		}
	})
}
