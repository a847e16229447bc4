// Package latency is a lock-free histogram of how late timers fire: VRRP's advert
// and down timers, and the health checks' schedule. Lateness is the first
// cause of false failovers and of checks that drift from their period.
package latency

import (
	"slices"
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of Histogram's buckets. They
// span what matters for VRRP timers: a healthy host fires them within
// 100 µs; a few milliseconds is load; 100 ms and more is the scheduling
// stall that makes a backup miss adverts and take over (keepalived's
// "A thread timer expired ... ago").
var latencyBounds = [...]time.Duration{
	100 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 500 * time.Millisecond,
	time.Second,
}

// Bounds returns the upper bounds of the histogram's buckets,
// ascending. Observations above the last one fall into a final,
// unbounded bucket.
func Bounds() []time.Duration { return slices.Clone(latencyBounds[:]) }

// Histogram counts durations in fixed buckets, with their sum and
// maximum. It is lock-free: the timer path records into it without
// contending with readers (scrapes, dumps), and its zero value is ready.
type Histogram struct {
	buckets [len(latencyBounds) + 1]atomic.Uint64 // the last one is unbounded
	sum     atomic.Int64                          // nanoseconds
	max     atomic.Int64                          // nanoseconds
}

// Observe records one duration; a negative one counts as zero.
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	h.buckets[bucketOf(d)].Add(1)
	h.sum.Add(int64(d))
	h.observeMax(int64(d))
}

// observeMax raises the maximum to ns if it is higher.
func (h *Histogram) observeMax(ns int64) {
	for {
		old := h.max.Load()
		if ns <= old || h.max.CompareAndSwap(old, ns) {
			return
		}
	}
}

// bucketOf is the index of the first bucket whose bound is >= d
// (Prometheus' "le": a bound is inclusive).
func bucketOf(d time.Duration) int {
	for i, b := range latencyBounds {
		if d <= b {
			return i
		}
	}
	return len(latencyBounds)
}

// Snapshot is a histogram's content at one moment.
type Snapshot struct {
	// Bounds are the buckets' upper bounds, ascending (Bounds).
	Bounds []time.Duration
	// Counts has one entry per bucket, not cumulative: Counts[i] counts
	// durations in (Bounds[i-1], Bounds[i]]; the last entry, at
	// len(Bounds), counts those above the last bound.
	Counts []uint64
	// Count is the number of observations, the sum of Counts.
	Count uint64
	Sum   time.Duration
	Max   time.Duration
}

// Snapshot copies the histogram. Count is computed from the copied
// buckets, so the two always agree even while Observe runs.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Bounds: Bounds(), Counts: make([]uint64, len(h.buckets))}
	for i := range h.buckets {
		s.Counts[i] = h.buckets[i].Load()
		s.Count += s.Counts[i]
	}
	s.Sum = time.Duration(h.sum.Load())
	s.Max = time.Duration(h.max.Load())
	return s
}

// Cumulative returns, for each bound, the number of durations at or
// below it (what a Prometheus histogram's buckets hold).
func (s Snapshot) Cumulative() []uint64 {
	out := make([]uint64, len(s.Bounds))
	var n uint64
	for i := range s.Bounds {
		n += s.Counts[i]
		out[i] = n
	}
	return out
}

// Merge adds o's observations to h (a reload carries counters over).
func (h *Histogram) Merge(o *Histogram) {
	for i := range h.buckets {
		h.buckets[i].Add(o.buckets[i].Load())
	}
	h.sum.Add(o.sum.Load())
	h.observeMax(o.max.Load())
}
