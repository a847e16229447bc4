package check

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"sync"
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
	// Suspended, if set, says when the job must not probe (ha_suspend:
	// the virtual server's address is not on this host): the engine then
	// looks again delay_loop later, and the checker keeps its state.
	Suspended func() bool

	next  time.Time
	index int // in the heap; -1 when not in it (probing or removed)
	gone  bool
}

// Engine runs many checkers on one goroutine and a heap of deadlines:
// an idle checker costs no goroutine, timer or socket. A probe that is due
// runs on a goroutine of its own for its duration only, so a server that
// hangs delays no other; its result comes back to the engine, which
// applies the Schedule (or a Sequencer's own rules) and re-arms the
// checker delay_loop (or delay_before_retry) after the probe ended, as
// keepalived does.
type Engine struct {
	// Lateness is how late each probe started after its time: the drift
	// of the checks from their period.
	Lateness latency.Histogram
	rand     func() float64 // [0, 1), for the warmup spread
	mu       sync.Mutex
	queue    jobHeap
	wake     chan struct{}
	results  chan finished
	probes   sync.WaitGroup
}

type finished struct {
	job        *Job
	result     Result
	start, end time.Time
}

// NewEngine makes an engine; Run drives it.
func NewEngine() *Engine {
	return &Engine{rand: rand.Float64, wake: make(chan struct{}, 1), results: make(chan finished, 64)}
}

// Add schedules a job's first check, BootstrapDelay plus its share of
// warmup from now.
func (e *Engine) Add(j *Job) {
	e.addAt(j, time.Now().Add(j.Schedule.FirstDelay(e.rand())))
}

// AddAt schedules a job's first check at t (a checker carried over a
// reload keeps its rhythm).
func (e *Engine) addAt(j *Job, t time.Time) {
	e.mu.Lock()
	j.next = t
	heap.Push(&e.queue, j)
	e.mu.Unlock()
	e.poke()
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

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run checks until ctx is done, then waits for the probes under way.
func (e *Engine) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer e.probes.Wait()
	for {
		e.startDue(ctx)
		timer.Reset(e.untilNext())
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-timer.C:
		case f := <-e.results:
			e.apply(f)
		}
	}
}

// startDue starts the probes whose time has come.
func (e *Engine) startDue(ctx context.Context) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.queue) > 0 && !e.queue[0].next.After(now) {
		j := heap.Pop(&e.queue).(*Job)
		if j.Suspended != nil && j.Suspended() {
			j.next = now.Add(j.Schedule.Timing().DelayLoop)
			heap.Push(&e.queue, j)
			continue
		}
		e.Lateness.Observe(now.Sub(j.next))
		e.probes.Add(1)
		go e.probe(ctx, j)
	}
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
	select {
	case e.results <- finished{job: j, result: r, start: start, end: time.Now()}:
	case <-ctx.Done():
	}
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
	if sq, ok := f.job.Checker.(Sequencer); ok {
		delay, change = sq.Next(f.job.Schedule, f.result)
	} else {
		delay, change = f.job.Schedule.Result(f.result.OK)
	}
	if f.job.OnResult != nil {
		f.job.OnResult(f.result, change)
	}
	from := f.end
	if f.job.FromStart {
		from = f.start
	}
	e.addAt(f.job, from.Add(delay))
}

func (e *Engine) untilNext() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.queue) == 0 {
		return time.Hour
	}
	return max(0, time.Until(e.queue[0].next))
}

// jobHeap orders jobs by their next check.
type jobHeap []*Job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, k int) bool { return h[i].next.Before(h[k].next) }
func (h jobHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].index, h[k].index = i, k
}
func (h *jobHeap) Push(x any) {
	j := x.(*Job)
	j.index = len(*h)
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	j.index = -1
	*h = old[:len(old)-1]
	return j
}
