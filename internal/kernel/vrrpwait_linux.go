//go:build linux

package kernel

import (
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The VRRP socket is not in Go's network poller: the poller watches every
// socket it holds edge-triggered, and wakes the process (the thread
// asleep in its epoll_wait) for every packet that arrives, whether or not
// a goroutine waits to read. A backup of 1,000 instances at advert_int
// 0.1 receives 10,000 adverts a second; those wake-ups, and not the
// adverts, were most of its CPU (perf: the cost of the context
// switches). Instead the socket sits in an epoll instance of its own with
// EPOLLONESHOT, and that instance in Go's poller (as the checkers'
// reactor in internal/check): once a wait has seen the socket readable,
// the socket wakes nobody until the next wait arms it again, so that a
// reader that reads, then lets adverts gather for a while (vrrpd's
// socket reader), is woken by its own timer and not by every advert.
//
// Reads and sends use MSG_DONTWAIT on the socket's descriptor, which is a
// plain os.File (not pollable), so that its closing is safe against a
// concurrent system call.

// readyWaiter is the socket's epoll instance.
type readyWaiter struct {
	ep     *os.File // the epoll instance, in Go's poller
	eprc   syscall.RawConn
	sock   int // the socket's descriptor, as registered
	closed atomic.Bool
	events [1]unix.EpollEvent
	armErr unix.Errno
	// seen and arm as functions, made once: a closure per call would
	// allocate.
	seenFn func(fd uintptr) bool
	armFn  func(fd uintptr)
}

// newReadyWaiter makes an epoll instance holding sock, not armed: the
// first wait arms it.
func newReadyWaiter(sock int) (*readyWaiter, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLONESHOT, Fd: int32(sock)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, sock, &ev); err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	// Non-blocking, os.NewFile puts the instance in Go's poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(epfd), "vrrp-epoll")
	rc, err := f.SyscallConn()
	if err == nil {
		err = f.SetReadDeadline(time.Time{}) // fails if not in the poller
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &readyWaiter{ep: f, eprc: rc, sock: sock}
	w.seenFn = w.seen
	w.armFn = func(fd uintptr) { w.armErr = w.arm(fd) }
	return w, nil
}

// arm makes the socket wake the instance again when it is readable (at
// once if it is now). fd is the instance's descriptor.
func (w *readyWaiter) arm(fd uintptr) unix.Errno {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(w.sock)}
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, fd, unix.EPOLL_CTL_MOD, uintptr(w.sock), uintptr(unsafe.Pointer(&ev)), 0, 0)
	return e
}

// seen takes the instance's event, if any (which disarms the socket), and
// says whether there was one. Raw: it never blocks (see noSysmonWake).
func (w *readyWaiter) seen(fd uintptr) bool {
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&w.events[0])), 1, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		return e != 0 || n > 0 // an error: let the read that follows meet it
	}
}

// wait arms the socket and waits until it is readable, the deadline
// passes or the conn is closed. Called with the conn's read lock held.
func (w *readyWaiter) wait() error {
	w.armErr = 0
	if err := w.eprc.Control(w.armFn); err != nil {
		return w.closedOr(err)
	}
	if w.armErr != 0 {
		return os.NewSyscallError("epoll_ctl", w.armErr)
	}
	return w.closedOr(w.eprc.Read(w.seenFn))
}

// closedOr is err, or net.ErrClosed once the conn is closed (os.File's
// errors for a closed file are not net's).
func (w *readyWaiter) closedOr(err error) error {
	if err != nil && w.closed.Load() {
		return net.ErrClosed
	}
	return err
}

// close closes the instance, waking a wait.
func (w *readyWaiter) close() error {
	w.closed.Store(true)
	return w.ep.Close()
}
