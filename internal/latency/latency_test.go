package latency

import (
	"slices"
	"sync"
	"testing"
	"time"
)

func TestHistogramBucketsAreInclusiveUpperBounds(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{
		0,                                       // bucket 0 (<= 100µs)
		100 * time.Microsecond,                  // bucket 0: a bound is inclusive
		100*time.Microsecond + 1,                // bucket 1 (<= 500µs)
		3 * time.Millisecond,                    // bucket 3 (<= 5ms)
		time.Second,                             // bucket 8 (<= 1s)
		2 * time.Second,                         // the unbounded bucket
		-5 * time.Millisecond,                   // counts as 0: bucket 0
		100*time.Millisecond + time.Microsecond, // bucket 7 (<= 500ms)
	} {
		h.Observe(d)
	}
	s := h.Snapshot()
	want := []uint64{3, 1, 0, 1, 0, 0, 0, 1, 1, 1}
	if !slices.Equal(s.Counts, want) {
		t.Fatalf("counts %v, want %v", s.Counts, want)
	}
	if s.Count != 8 {
		t.Errorf("count %d, want 8", s.Count)
	}
	wantSum := 100*time.Microsecond + 100*time.Microsecond + 1 + 3*time.Millisecond + time.Second + 2*time.Second + 100*time.Millisecond + time.Microsecond
	if s.Sum != wantSum {
		t.Errorf("sum %v, want %v (a negative duration adds nothing)", s.Sum, wantSum)
	}
	if s.Max != 2*time.Second {
		t.Errorf("max %v, want 2s", s.Max)
	}
	if got, wantCum := s.Cumulative(), []uint64{3, 4, 4, 5, 5, 5, 5, 6, 7}; !slices.Equal(got, wantCum) {
		t.Errorf("cumulative %v, want %v", got, wantCum)
	}
	if len(s.Bounds) != len(s.Counts)-1 || s.Bounds[0] != 100*time.Microsecond || s.Bounds[len(s.Bounds)-1] != time.Second {
		t.Errorf("bounds %v do not match counts %v", s.Bounds, s.Counts)
	}
}

func TestHistogramZeroValueIsEmpty(t *testing.T) {
	var h Histogram
	s := h.Snapshot()
	if s.Count != 0 || s.Sum != 0 || s.Max != 0 || len(s.Counts) != len(Bounds())+1 {
		t.Fatalf("empty histogram: %+v", s)
	}
}

// TestHistogramConcurrentObserve: no observation is lost and the
// maximum is the true one when many goroutines record at once (run with
// -race).
func TestHistogramConcurrentObserve(t *testing.T) {
	var h Histogram
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				h.Observe(time.Duration(w*each+i) * time.Microsecond)
				if i%100 == 0 {
					h.Snapshot() // readers run beside writers
				}
			}
		}()
	}
	wg.Wait()
	s := h.Snapshot()
	if s.Count != workers*each {
		t.Fatalf("count %d, want %d", s.Count, workers*each)
	}
	if want := time.Duration(workers*each-1) * time.Microsecond; s.Max != want {
		t.Fatalf("max %v, want %v", s.Max, want)
	}
	n := int64(workers * each)
	if want := time.Duration(n*(n-1)/2) * time.Microsecond; s.Sum != want {
		t.Fatalf("sum %v, want %v", s.Sum, want)
	}
}

func BenchmarkHistogramObserve(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for b.Loop() {
		h.Observe(3 * time.Millisecond)
	}
}
