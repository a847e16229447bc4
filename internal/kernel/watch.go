package kernel

import (
	"errors"
	"fmt"
	"sync"
)

// Watch is a netlink subscription of github.com/vishvananda/netlink
// (links, addresses) turned into a stream of T.
//
// A netlink subscription can end by itself: when the kernel has more
// events for it than its socket's buffer holds (a burst of changes), the
// next read fails with ENOBUFS and the subscription is over (the library
// reads no more). Updates is then closed and Err says why; events were
// lost, so whoever follows them must subscribe again and list again.
type Watch[T any] struct {
	what    string // for errors: "links", "addresses"
	updates chan T
	stop    chan struct{} // closed: the library closes the socket
	closing chan struct{} // closed by Close
	ended   chan struct{} // closed once the forwarding goroutine returned
	once    sync.Once

	mu   sync.Mutex
	last error // the library's last error callback
	err  error // why the subscription ended; set before updates is closed
}

func newWatch[T any](what string) *Watch[T] {
	return &Watch[T]{what: what, updates: make(chan T, 256), stop: make(chan struct{}),
		closing: make(chan struct{}), ended: make(chan struct{})}
}

// callback is the library's ErrorCallback. It is called for problems the
// subscription survives (a message it cannot decode, an interrupted
// listing) and, last, for the read error that ends it, just before the
// library closes its channel.
func (w *Watch[T]) callback(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = err
}

// forward passes the library's updates on, converted, until it closes its
// channel. It reads that channel to its end even after Close: the
// library's reader blocks on it, and would otherwise never return.
func forward[T, U any](w *Watch[T], raw <-chan U, convert func(U) T) {
	defer close(w.ended)
	for u := range raw {
		select {
		case w.updates <- convert(u):
		case <-w.closing:
		}
	}
	w.mu.Lock()
	select {
	case <-w.closing:
	default:
		w.err = w.last
		if w.err == nil {
			w.err = errors.New("the subscription ended")
		}
		w.err = fmt.Errorf("kernel: watch %s: %w", w.what, w.err)
	}
	w.mu.Unlock()
	close(w.updates)
}

// Updates are the events; the channel is closed when the subscription
// ends (see Err) or after Close.
func (w *Watch[T]) Updates() <-chan T { return w.updates }

// Err is why the subscription ended by itself (the kernel's error, such
// as ENOBUFS when events were lost); nil while it runs and after Close.
// It is set before Updates is closed.
func (w *Watch[T]) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close ends the subscription, closes its socket, and returns once its
// goroutines are done with Updates. It may be called more than once, and
// after the subscription ended by itself.
func (w *Watch[T]) Close() {
	w.once.Do(func() {
		close(w.closing)
		close(w.stop)
	})
	<-w.ended
}
