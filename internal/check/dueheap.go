package check

import "time"

// scheduled is what a dueHeap holds: something due at a time that keeps
// its own place in the heap (for heap.Remove and heap.Fix).
type scheduled interface {
	due() time.Time
	heapIndex() *int
}

// dueHeap is a container/heap of T ordered by when each is due: the
// engine's jobs and the reactor's connects. A T out of the heap has
// index -1.
type dueHeap[T scheduled] []T

func (h dueHeap[T]) Len() int           { return len(h) }
func (h dueHeap[T]) Less(i, k int) bool { return h[i].due().Before(h[k].due()) }
func (h dueHeap[T]) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	*h[i].heapIndex(), *h[k].heapIndex() = i, k
}
func (h *dueHeap[T]) Push(x any) {
	p := x.(T)
	*p.heapIndex() = len(*h)
	*h = append(*h, p)
}
func (h *dueHeap[T]) Pop() any {
	old := *h
	p := old[len(old)-1]
	var zero T
	old[len(old)-1] = zero
	*p.heapIndex() = -1
	*h = old[:len(old)-1]
	return p
}
