package kernel

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkState is an interface's state as VRRP tracks it: up means
// administratively up and operationally running (keepalived's IFF_UP and
// IFF_RUNNING).
type LinkState struct {
	Name  string
	Index int
	Up    bool
}

// LinkWatch is a subscription to the interfaces of a network namespace
// (rtnetlink's RTNLGRP_LINK). Updates reports the state of every
// interface, first as it is now, then at every change (a deleted interface
// is reported down).
//
// A netlink subscription can end by itself: when the kernel has more
// events for it than its socket's buffer holds (a burst of link changes),
// the next read fails with ENOBUFS and the subscription is over (the
// netlink library reads no more). Updates is then closed and Err says
// why; events were lost, so whoever follows the interfaces must subscribe
// again and list them again.
type LinkWatch struct {
	updates chan LinkState
	stop    chan struct{} // closed: the library closes the socket
	closing chan struct{} // closed by Close
	ended   chan struct{} // closed once the forwarding goroutine returned
	once    sync.Once

	mu   sync.Mutex
	last error // the library's last error callback
	err  error // why the subscription ended; set before updates is closed
}

// WatchLinks subscribes to the interfaces of the calling thread's network
// namespace.
func WatchLinks() (*LinkWatch, error) { return watchLinks(0) }

// watchLinks is WatchLinks with the socket's receive buffer set to rcvbuf
// bytes when it is not 0 (tests make it small to overflow it).
func watchLinks(rcvbuf int) (*LinkWatch, error) {
	w := &LinkWatch{updates: make(chan LinkState, 256), stop: make(chan struct{}),
		closing: make(chan struct{}), ended: make(chan struct{})}
	raw := make(chan netlink.LinkUpdate, 256)
	opts := netlink.LinkSubscribeOptions{ListExisting: true, ReceiveBufferSize: rcvbuf, ErrorCallback: w.callback}
	if err := netlink.LinkSubscribeWithOptions(raw, w.stop, opts); err != nil {
		close(w.stop) // the library may already wait on it to close its socket
		return nil, fmt.Errorf("kernel: watch links: %w", err)
	}
	go w.forward(raw)
	return w, nil
}

// callback is the library's ErrorCallback. It is called for problems the
// subscription survives (a message it cannot decode, an interrupted
// listing) and, last, for the read error that ends it, just before the
// library closes its channel.
func (w *LinkWatch) callback(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = err
}

// forward passes the library's updates on until it closes its channel.
// It reads that channel to its end even after Close: the library's reader
// blocks on it, and would otherwise never return.
func (w *LinkWatch) forward(raw <-chan netlink.LinkUpdate) {
	defer close(w.ended)
	for u := range raw {
		a := u.Attrs()
		s := LinkState{Name: a.Name, Index: a.Index, Up: linkUp(a) && u.Header.Type != unix.RTM_DELLINK}
		select {
		case w.updates <- s:
		case <-w.closing:
		}
	}
	w.mu.Lock()
	select {
	case <-w.closing:
	default:
		w.err = w.last
		if w.err == nil {
			w.err = errors.New("the link subscription ended")
		}
		w.err = fmt.Errorf("kernel: watch links: %w", w.err)
	}
	w.mu.Unlock()
	close(w.updates)
}

// Updates are the interface states; the channel is closed when the
// subscription ends (see Err) or after Close.
func (w *LinkWatch) Updates() <-chan LinkState { return w.updates }

// Err is why the subscription ended by itself (the kernel's error, such
// as ENOBUFS when events were lost); nil while it runs and after Close.
// It is set before Updates is closed.
func (w *LinkWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close ends the subscription, closes its socket, and returns once its
// goroutines are done with Updates. It may be called more than once, and
// after the subscription ended by itself.
func (w *LinkWatch) Close() {
	w.once.Do(func() {
		close(w.closing)
		close(w.stop)
	})
	<-w.ended
}

// LinkStates reports the state of every interface of the calling thread's
// network namespace now: the whole list at once, where a LinkWatch's first
// listing arrives piecemeal.
func LinkStates() ([]LinkState, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("kernel: list links: %w", err)
	}
	out := make([]LinkState, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		out = append(out, LinkState{Name: a.Name, Index: a.Index, Up: linkUp(a)})
	}
	return out, nil
}

// linkUp is IFF_UP and IFF_RUNNING: administratively up, and
// operationally up (or unknown, as for lo).
func linkUp(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
}
