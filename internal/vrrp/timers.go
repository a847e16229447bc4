package vrrp

import (
	"container/heap"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Timers runs the timers of many instances on one goroutine, as
// keepalived's one thread does with its timer tree
// (keepalived/core/scheduler.c): one Go timer, set for the earliest
// deadline of them all, instead of one per instance.
//
// The deadlines live in a heap, each keyed by what the instance's
// deadline was when it went in. A backup's deadline moves later with
// every advert it receives; the heap is not touched then (the instance
// only stores its deadline in an atomic), and Run, before it sleeps,
// moves an entry whose deadline went on to its new place. Run thus
// wakes only when a deadline really comes, or when one moves earlier
// (schedule wakes it): a backup of hundreds of instances whose master
// is alive sleeps for most of a Master_Down_Interval at a time, where a
// timer each woke a goroutine for every instance about every
// Master_Down_Interval.
//
// When a deadline comes, Run does the timer's work itself, as
// keepalived's thread does: a master's adverts that fall due together go
// out in one pass, without waking a goroutine for each (with 1,000
// masters, handing each timer to its instance's goroutine cost more CPU
// in the Go scheduler, readying and parking them, than the sends). The
// work does not wait for the network: a send on a full socket drops the
// advert, as keepalived's non-blocking socket does, and state changes
// only queue their effects (VIPs, announcements, hooks); only a log line
// is written there and then, as keepalived writes its own. An instance
// whose lock is held (an advert being received) is not waited for: its
// own goroutine (Instance.Run) is signalled to do the work, so no
// instance's lock holds up another's timer.
//
// Before a backup's timer takes it to MASTER, Run delivers the adverts
// waiting in its socket (InstanceConfig.Queue): keepalived's scheduler
// handles a readable socket before the timers that came in the same
// wake-up (lib/scheduler.c thread_fetch_next_queue moves the ready reads
// off the read tree before thread_timerfd_handler times out what is
// left), so a master's advert that arrived in time is not missed because
// its reader, another goroutine here, had not been scheduled yet when
// the deadline came, as on a busy machine.
type Timers struct {
	mu    sync.Mutex
	h     timerHeap
	wake  chan struct{} // a deadline moved earlier than Run sleeps for
	pings chan chan struct{}
	// Wakeups counts Run's wake-ups, for tests and profiles.
	Wakeups atomic.Uint64
	// signalled counts the deadlines that came, for tests; handedOff
	// those whose work went to the instance's goroutine (its lock was
	// busy); drains the sockets read before backups' timers.
	signalled, handedOff, drains atomic.Uint64
}

// NewTimers makes a timer set; Run drives it.
func NewTimers() *Timers {
	return &Timers{wake: make(chan struct{}, 1), pings: make(chan chan struct{})}
}

// epoch is the origin of the monotonic nanoseconds the heap holds.
var epoch = time.Now()

// monoNanos is t as nanoseconds since epoch, on the monotonic clock; at
// least 1, 0 meaning "no deadline".
func monoNanos(t time.Time) int64 { return max(1, int64(t.Sub(epoch))) }

// schedule makes sure the instance is in the heap no later than its
// deadline (in.due), or out of it when it has none, and wakes Run when
// the earliest deadline moved earlier.
func (t *Timers) schedule(in *Instance) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := in.due.Load()
	switch {
	case d == 0:
		if in.tindex >= 0 {
			heap.Remove(&t.h, in.tindex)
		}
		return
	case in.tindex < 0:
		in.tkey = d
		heap.Push(&t.h, in)
	case d < in.tkey:
		in.tkey = d
		heap.Fix(&t.h, in.tindex)
	default:
		return
	}
	if in.tindex == 0 {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// Run fires the instances' timers until ctx is done.
func (t *Timers) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []*Instance
	for {
		now := time.Now()
		var next int64
		due, next = t.expired(due[:0], monoNanos(now))
		t.signalled.Add(uint64(len(due)))
		t.deliverQueued(due)
		for _, in := range due {
			if in.fireUnlessBusy() {
				continue
			}
			t.handedOff.Add(1)
			select {
			case in.fireC <- struct{}{}:
			default: // already signalled
			}
		}
		if len(due) > 0 {
			clear(due)
			// The fires re-filed their instances, waking Run for the
			// heap it is about to read again anyway.
			select {
			case <-t.wake:
			default:
			}
			continue
		}
		if next != 0 {
			timer.Reset(time.Duration(next - monoNanos(time.Now())))
		} else {
			timer.Stop()
		}
		select {
		case <-timer.C:
			t.Wakeups.Add(1)
		case <-t.wake:
			t.Wakeups.Add(1)
		case answer := <-t.pings:
			close(answer)
		case <-ctx.Done():
			return
		}
	}
}

// deliverQueued delivers what waits in the sockets of the due instances
// that are not masters (backups, whose timer comes only when no advert
// came in time), each socket once.
func (t *Timers) deliverQueued(due []*Instance) {
	var queues [4]Queue
	drained := queues[:0]
	for _, in := range due {
		q := in.cfg.Queue
		if q == nil || in.State() == Master || slices.Contains(drained, q) {
			continue
		}
		q.DeliverQueued()
		t.drains.Add(1)
		drained = append(drained, q)
	}
}

// expired takes the instances whose deadline has come (or is within
// their earliness, see advertEarliness) out of the heap,
// moving on the way those whose deadline went on, and says when the
// earliest remaining deadline is (0: none).
func (t *Timers) expired(due []*Instance, now int64) ([]*Instance, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.h) > 0 {
		in := t.h[0]
		d := in.due.Load()
		switch {
		case d == 0:
			heap.Pop(&t.h)
		case d > in.tkey:
			in.tkey = d
			heap.Fix(&t.h, 0)
		case d <= now+in.early.Load():
			heap.Pop(&t.h)
			due = append(due, in)
		default:
			return due, d
		}
	}
	return due, 0
}

// alive says whether Run answers before ctx ends.
func (t *Timers) alive(ctx context.Context) bool {
	answer := make(chan struct{})
	select {
	case t.pings <- answer:
	case <-ctx.Done():
		return false
	}
	select {
	case <-answer:
		return true
	case <-ctx.Done():
		return false
	}
}

// timerHeap orders instances by tkey; Timers.mu guards it and the
// instances' tkey and tindex.
type timerHeap []*Instance

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].tkey < h[j].tkey }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].tindex, h[j].tindex = i, j
}
func (h *timerHeap) Push(x any) {
	in := x.(*Instance)
	in.tindex = len(*h)
	*h = append(*h, in)
}
func (h *timerHeap) Pop() any {
	old := *h
	in := old[len(old)-1]
	old[len(old)-1] = nil
	in.tindex = -1
	*h = old[:len(old)-1]
	return in
}
