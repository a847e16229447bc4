package check

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/latency"
)

// Job is one checker as the engine runs it.
type Job struct {
	Checker  Checker
	Schedule *Schedule
	// Timeout bounds one probe (connect_timeout); 0 leaves the bound to
	// the checker (MISC_CHECK's misc_timeout and its SIGKILL delay).
	Timeout time.Duration
	// FromStart counts the time to the next check from the probe's start
	// rather than its end: MISC_CHECK re-arms from the script's start
	// (check_misc.c misc_check_child_thread: last_ran + delay), and a
	// script that outlasts the delay runs again at once.
	FromStart bool
	// OnResult hears every probe's result and what it changed, on the
	// engine's goroutine, in order; it must not block.
	OnResult func(r Result, c Change)
	// OnFailure, if set, hears a failed probe's result before the
	// Schedule (or the Sequencer) counts it, on the engine's goroutine:
	// log_all_failures' lines come before the change they lead to.
	OnFailure func(r Result)
	// Suspended, if set, says when the job must not probe (ha_suspend:
	// the virtual server's address is not on this host): the engine then
	// looks again delay_loop later, and the checker keeps its state.
	Suspended func() bool

	next  time.Time
	index int // in the heap; -1 when not in it (probing or removed)
	gone  bool
	tcp   *connecting // TCP_CHECK's connect, reused (reactor.go)
}

// Engine runs many checkers on one goroutine and a heap of deadlines:
// an idle checker costs no goroutine, timer or socket. A TCP_CHECK probe
// that is due is a non-blocking connect that the engine's reactor
// watches (reactor.go), on the engine's own goroutine, as keepalived's
// scheduler does; any other probe runs on a goroutine of its own for its
// duration only, so a server that hangs delays no other. Results come
// back to the engine, which applies the Schedule (or a Sequencer's own
// rules) and re-arms the checker delay_loop (or delay_before_retry) after
// the probe ended, as keepalived does.
type Engine struct {
	// Lateness is how late each probe started after its time: the drift
	// of the checks from their period.
	Lateness latency.Histogram
	// OnThread, if set, runs on Run's goroutine before the first check,
	// once Run has locked that goroutine to its thread for good: the
	// checks' own scheduling settings (checker_priority...) go on that
	// thread, where the TCP_CHECK probes run. What it returns runs when
	// Run returns; the thread ends with it.
	OnThread func() (done func())
	rand     func() float64 // [0, 1), for the warmup spread
	mu       sync.Mutex
	queue    dueHeap[*Job]
	wake     chan struct{}
	probes   sync.WaitGroup
	due      []*Job // startDue's, reused

	// reactor runs the TCP_CHECK probes while Run runs, unless
	// goroutinesOnly (tests and benchmarks compare the two) or it could
	// not start (then TCP_CHECK's probes run on goroutines too).
	reactor        *reactor
	goroutinesOnly bool
	// sleeper is the reactor while Run waits on it: poke wakes it.
	sleeper atomic.Pointer[reactor]

	// finished holds the results of the probes on goroutines until the
	// engine's goroutine applies them; spare is the other buffer of the
	// two it swaps.
	fmu      sync.Mutex
	finished []finished
	spare    []finished
}

type finished struct {
	job        *Job
	result     Result
	start, end time.Time
}

// NewEngine makes an engine; Run drives it.
func NewEngine() *Engine {
	return &Engine{rand: rand.Float64, wake: make(chan struct{}, 1)}
}

// Add schedules a job's first check, BootstrapDelay plus its share of
// warmup from now.
func (e *Engine) Add(j *Job) {
	e.addAt(j, time.Now().Add(j.Schedule.FirstDelay(e.rand())))
}

// AddAt schedules a job's first check at t (a checker carried over a
// reload keeps its rhythm).
func (e *Engine) addAt(j *Job, t time.Time) {
	e.rearm(j, t)
	e.poke()
}

// rearm puts a job back in the heap; on the engine's goroutine, whose
// loop looks at the heap again before it sleeps, no poke is needed.
func (e *Engine) rearm(j *Job, t time.Time) {
	e.mu.Lock()
	j.next = t
	heap.Push(&e.queue, j)
	e.mu.Unlock()
}

// Remove stops a job: it is not checked again, and a probe under way is
// forgotten when it ends.
func (e *Engine) Remove(j *Job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	j.gone = true
	if j.index >= 0 {
		heap.Remove(&e.queue, j.index)
	}
}

// poke wakes the engine's goroutine to look at its heap and results again.
func (e *Engine) poke() {
	if r := e.sleeper.Load(); r != nil {
		r.wake()
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run checks until ctx is done, then waits for the probes on goroutines
// (the connects under way are abandoned).
func (e *Engine) Run(ctx context.Context) {
	if e.OnThread != nil {
		runtime.LockOSThread() // never unlocked: the thread ends with Run
		defer e.OnThread()()
	}
	defer e.probes.Wait()
	if !e.goroutinesOnly {
		if r, err := newReactor(e.onConnected); err == nil {
			e.runReactor(ctx, r)
			return
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.startDue(ctx)
		e.applyFinished()
		timer.Reset(max(0, time.Until(e.nextDue(time.Now().Add(time.Hour)))))
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-timer.C:
		}
	}
}

// runReactor is Run's loop with the reactor: the engine's goroutine
// sleeps on the reactor's epoll instance until the next job is due, a
// connect ends or times out, or it is poked.
func (e *Engine) runReactor(ctx context.Context, r *reactor) {
	e.mu.Lock()
	e.reactor = r
	e.mu.Unlock()
	e.sleeper.Store(r)
	defer func() {
		e.sleeper.Store(nil)
		e.mu.Lock()
		e.reactor = nil
		e.mu.Unlock()
		r.close()
	}()
	stop := context.AfterFunc(ctx, e.poke)
	defer stop()
	for ctx.Err() == nil {
		e.startDue(ctx)
		e.applyFinished()
		r.wait(e.nextDue(time.Time{}))
	}
}

// startDue starts the probes whose time has come.
func (e *Engine) startDue(ctx context.Context) {
	now := time.Now()
	e.mu.Lock()
	for len(e.queue) > 0 && !e.queue[0].next.After(now) {
		j := heap.Pop(&e.queue).(*Job)
		if j.Suspended != nil && j.Suspended() {
			j.next = now.Add(j.Schedule.Timing().DelayLoop)
			heap.Push(&e.queue, j)
			continue
		}
		e.Lateness.Observe(now.Sub(j.next))
		e.due = append(e.due, j)
	}
	e.mu.Unlock()
	for i, j := range e.due {
		e.due[i] = nil
		if i%yieldEvery == yieldEvery-1 {
			runtime.Gosched() // a burst leaves room for the rest (VRRP)
			if e.reactor != nil {
				e.reactor.catchUp()
			}
		}
		if t, ok := j.Checker.(*TCP); ok && e.reactor != nil {
			e.connect(j, t)
			continue
		}
		e.probes.Add(1)
		go e.probe(ctx, j)
	}
	e.due = e.due[:0]
}

// yieldEvery is how many probes the engine starts or applies before it
// lets other goroutines run: the Go scheduler would preempt a long burst
// (10,000 real servers due at once) only after 10 ms, and a VRRP timer
// on the same P would wait that long.
const yieldEvery = 64

// connect starts a TCP_CHECK probe on the reactor: bounded by
// connect_timeout and the job's Timeout, as Conn.dial under the probe's
// context is.
func (e *Engine) connect(j *Job, t *TCP) {
	p := j.tcp
	if p == nil {
		p = &connecting{job: j}
		j.tcp = p
	}
	p.conn = &t.Conn
	p.start = time.Now()
	timeout := t.Conn.Timeout
	if j.Timeout > 0 && (timeout <= 0 || j.Timeout < timeout) {
		timeout = j.Timeout
	}
	p.deadline = time.Time{}
	if timeout > 0 {
		p.deadline = p.start.Add(timeout)
	}
	e.reactor.start(p)
}

// onConnected is the reactor's report of a connect's result, on the
// engine's goroutine.
func (e *Engine) onConnected(p *connecting, r Result, end time.Time) {
	e.apply(finished{job: p.job, result: r, start: p.start, end: end})
}

func (e *Engine) probe(ctx context.Context, j *Job) {
	defer e.probes.Done()
	var pctx context.Context
	var cancel context.CancelFunc
	if j.Timeout > 0 {
		pctx, cancel = context.WithTimeout(ctx, j.Timeout)
	} else {
		pctx, cancel = context.WithCancel(ctx)
	}
	start := time.Now()
	r := j.Checker.Check(pctx)
	cancel()
	e.fmu.Lock()
	e.finished = append(e.finished, finished{job: j, result: r, start: start, end: time.Now()})
	e.fmu.Unlock()
	e.poke()
}

// applyFinished applies the results of the probes on goroutines so far.
func (e *Engine) applyFinished() {
	e.fmu.Lock()
	batch := e.finished
	e.finished = e.spare[:0]
	e.fmu.Unlock()
	for i := range batch {
		if i%(4*yieldEvery) == 4*yieldEvery-1 {
			runtime.Gosched()
		}
		e.apply(batch[i])
		batch[i] = finished{}
	}
	e.spare = batch
}

// apply records a probe's result and re-arms its job.
func (e *Engine) apply(f finished) {
	e.mu.Lock()
	gone := f.job.gone
	e.mu.Unlock()
	if gone {
		return
	}
	var delay time.Duration
	var change Change
	if !f.result.OK && f.job.OnFailure != nil {
		f.job.OnFailure(f.result)
	}
	if sq, ok := f.job.Checker.(Sequencer); ok {
		delay, change = sq.Next(f.job.Schedule, f.result)
	} else {
		delay, change = f.job.Schedule.Result(f.result.OK)
	}
	if f.job.OnResult != nil {
		f.result.Took = f.end.Sub(f.start)
		f.job.OnResult(f.result, change)
	}
	from := f.end
	if f.job.FromStart {
		from = f.start
	}
	e.rearm(f.job, from.Add(delay))
}

// nextDue is when the first job is due, or none if there is none.
func (e *Engine) nextDue(none time.Time) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.queue) == 0 {
		return none
	}
	return e.queue[0].next
}

// A job is due at its next check.
func (j *Job) due() time.Time  { return j.next }
func (j *Job) heapIndex() *int { return &j.index }
