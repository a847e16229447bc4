package check

import (
	"container/heap"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The reactor runs TCP_CHECK's probes without a goroutine each, as
// keepalived does with its own epoll scheduler: the engine's goroutine
// opens a non-blocking socket and starts the connect (socket, the
// options the checker asks for, bind, connect → EINPROGRESS), and one
// goroutine watches every connect under way on one epoll instance, reads
// SO_ERROR when the socket becomes writable, or gives up at
// connect_timeout, closes the socket and hands the result back. A probe
// costs five system calls (socket, connect, epoll_ctl, getsockopt,
// close) and no allocation; a thousand connects under way cost a
// thousand sockets and nothing else.
//
// Go's net package would add a goroutine, a context, the netpoller's
// registration and half a dozen socket options and address look-ups to
// each probe: at 10,000 real servers the goroutines alone outnumbered
// what the scheduler could keep in time (see BENCHMARKS.md).

// connecting is one TCP connect, from its start to its result. The
// engine keeps one per TCP_CHECK job and reuses it for every probe.
type connecting struct {
	conn     *Conn
	job      *Job // the engine's; nil in the reactor's own tests
	start    time.Time
	deadline time.Time // zero: none (the kernel's SYN retries end it)
	fd       int
	seq      uint32 // tells this connect's epoll events from a former one's on the same fd
	index    int    // in the reactor's deadline heap; -1 when not in it
	// The socket addresses, filled at each start: kept here, they cost
	// no allocation.
	remote4, local4 unix.SockaddrInet4
	remote6, local6 unix.SockaddrInet6
}

// reactor watches the connects under way.
type reactor struct {
	epfd, evfd int
	// done hears each connect's result, once, on the reactor's goroutine
	// (or on the caller of start when the connect ended at once); it
	// must not block.
	done func(p *connecting, r Result, end time.Time)

	mu        sync.Mutex
	byFD      []*connecting // connects under way by socket
	deadlines connectHeap
	inflight  int
	seq       uint32
	wakeAt    time.Time // the latest the reactor's goroutine wakes up
	stopping  bool

	exited chan struct{}
}

// idleWait is how long the reactor sleeps at most: a connect whose
// deadline is later than its wake-up needs no eventfd write to be seen.
const idleWait = time.Second

// epoll data of the eventfd: connects carry a sequence number >= 1.
const wakeSeq = 0

// newReactor starts a reactor; close stops it.
func newReactor(done func(p *connecting, r Result, end time.Time)) (*reactor, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd), Pad: wakeSeq}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(evfd)
		unix.Close(epfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	r := &reactor{epfd: epfd, evfd: evfd, done: done, exited: make(chan struct{})}
	go r.loop()
	return r, nil
}

// close stops the reactor and waits for its goroutine: the connects
// under way are abandoned (their sockets closed, no result).
func (r *reactor) close() {
	r.mu.Lock()
	if r.stopping {
		r.mu.Unlock()
		<-r.exited
		return
	}
	r.stopping = true
	r.wake()
	r.mu.Unlock()
	<-r.exited
	unix.Close(r.epfd)
	unix.Close(r.evfd)
}

// pending is the number of connects under way.
func (r *reactor) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inflight
}

// wake interrupts the reactor's epoll_wait; r.mu is held, so that the
// eventfd is still open.
func (r *reactor) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(r.evfd, one[:]) // EAGAIN: it is awake already
}

// start begins p's connect to p.conn; p.deadline (if not zero) bounds
// it. Its result comes to done: at once if the connect ended at once
// (refused, or no socket), else from the reactor's goroutine.
func (r *reactor) start(p *connecting) {
	c := p.conn
	family, remote, local, err := p.sockaddrs()
	if err != nil {
		r.done(p, failed(err), time.Now())
		return
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		r.done(p, failed(c.dialError(os.NewSyscallError("socket", err))), time.Now())
		return
	}
	if err := c.prepare(fd, local); err != nil {
		unix.Close(fd)
		r.done(p, failed(c.dialError(err)), time.Now())
		return
	}
	switch err := unix.Connect(fd, remote); err {
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
	case nil, unix.EISCONN: // connected at once
		unix.Close(fd)
		r.done(p, Result{OK: true}, time.Now())
		return
	default:
		unix.Close(fd)
		r.done(p, failed(c.dialError(os.NewSyscallError("connect", err))), time.Now())
		return
	}
	r.mu.Lock()
	if r.stopping {
		r.mu.Unlock()
		unix.Close(fd)
		return
	}
	if r.seq++; r.seq == wakeSeq {
		r.seq++
	}
	p.fd, p.seq, p.index = fd, r.seq, -1
	// The socket is registered under r.mu, so that the reactor's
	// goroutine finds p as soon as an event can come.
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: int32(fd), Pad: int32(p.seq)}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		r.mu.Unlock()
		unix.Close(fd)
		r.done(p, failed(c.dialError(os.NewSyscallError("epoll_ctl", err))), time.Now())
		return
	}
	for fd >= len(r.byFD) {
		r.byFD = append(r.byFD, nil)
	}
	r.byFD[fd] = p
	r.inflight++
	if !p.deadline.IsZero() {
		heap.Push(&r.deadlines, p)
		if p.deadline.Before(r.wakeAt) {
			r.wakeAt = p.deadline
			r.wake()
		}
	}
	r.mu.Unlock()
}

// ended is a connect taken off the books, its socket still open.
type ended struct {
	p       *connecting
	expired bool
}

func (r *reactor) loop() {
	defer close(r.exited)
	events := make([]unix.EpollEvent, 256)
	var batch []ended
	for {
		n, err := unix.EpollWait(r.epfd, events, r.timeout())
		if err != nil && err != unix.EINTR {
			time.Sleep(time.Millisecond) // cannot happen; do not spin if it does
		}
		now := time.Now()
		batch = batch[:0]
		r.mu.Lock()
		if r.stopping {
			r.abandon()
			r.mu.Unlock()
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if ev.Pad == wakeSeq {
				var b [8]byte
				unix.Read(r.evfd, b[:])
				continue
			}
			fd := int(ev.Fd)
			if fd >= len(r.byFD) || r.byFD[fd] == nil || r.byFD[fd].seq != uint32(ev.Pad) {
				continue // a former connect's (cannot happen: one-shot, and deleted before close)
			}
			batch = append(batch, ended{p: r.forget(fd)})
		}
		for len(r.deadlines) > 0 && !r.deadlines[0].deadline.After(now) {
			batch = append(batch, ended{p: r.forget(r.deadlines[0].fd), expired: true})
		}
		r.mu.Unlock()
		for i, e := range batch {
			if i%yieldEvery == yieldEvery-1 {
				runtime.Gosched()
			}
			r.finish(e, now)
		}
	}
}

// timeout is how long epoll_wait may sleep, in milliseconds: until the
// first deadline, idleWait at most.
func (r *reactor) timeout() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.wakeAt = now.Add(idleWait)
	if len(r.deadlines) > 0 && r.deadlines[0].deadline.Before(r.wakeAt) {
		r.wakeAt = r.deadlines[0].deadline
	}
	// Rounded up, lest it wake before the deadline; and never negative,
	// which would be no timeout at all.
	return int(max(0, r.wakeAt.Sub(now)+time.Millisecond-1) / time.Millisecond)
}

// forget takes the connect on fd off the books; r.mu is held.
func (r *reactor) forget(fd int) *connecting {
	p := r.byFD[fd]
	r.byFD[fd] = nil
	r.inflight--
	if p.index >= 0 {
		heap.Remove(&r.deadlines, p.index)
	}
	return p
}

// finish reads an ended connect's outcome, closes its socket and reports.
func (r *reactor) finish(e ended, now time.Time) {
	p := e.p
	if e.expired {
		// Out of epoll first: the socket may outlive its close in a child
		// forked meanwhile, and must then send no event for its number.
		unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, p.fd, nil)
		unix.Close(p.fd)
		r.done(p, failed(p.conn.dialError(os.ErrDeadlineExceeded)), now)
		return
	}
	soerr, err := unix.GetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	unix.Close(p.fd)
	switch {
	case err != nil:
		r.done(p, failed(p.conn.dialError(os.NewSyscallError("getsockopt", err))), now)
	case soerr != 0:
		r.done(p, failed(p.conn.dialError(os.NewSyscallError("connect", unix.Errno(soerr)))), now)
	default:
		r.done(p, Result{OK: true}, now)
	}
}

// abandon closes the sockets of the connects under way; r.mu is held.
func (r *reactor) abandon() {
	for fd, p := range r.byFD {
		if p != nil {
			unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, fd, nil)
			unix.Close(fd)
			r.byFD[fd] = nil
		}
	}
	r.inflight = 0
	r.deadlines = nil
}

// sockaddrs are the connect's family, target and local address (nil:
// the kernel chooses), as Conn.dial resolves them: an IPv4-mapped
// target is IPv4, bind_if is the zone of an IPv6 link-local target, and
// bind_port without bindto binds the unspecified address.
func (p *connecting) sockaddrs() (family int, remote, local unix.Sockaddr, err error) {
	c := p.conn
	target := c.Addr.Addr().Unmap()
	if !target.Is4() && c.BindIf != "" && target.IsLinkLocalUnicast() {
		target = target.WithZone(c.BindIf)
	}
	var la netip.Addr
	if c.BindTo.IsValid() || c.BindPort != 0 {
		la = c.BindTo.Unmap()
		if !la.IsValid() {
			la = netip.IPv4Unspecified()
			if !target.Is4() {
				la = netip.IPv6Unspecified()
			}
		}
		switch {
		case la.Is4() == target.Is4():
		case la.IsUnspecified(): // the wildcard of either family is any address
			la = netip.IPv4Unspecified()
			if !target.Is4() {
				la = netip.IPv6Unspecified()
			}
		default:
			return 0, nil, nil, &net.OpError{Op: "dial", Net: "tcp",
				Err: &net.AddrError{Err: "no suitable address found", Addr: netip.AddrPortFrom(c.BindTo, c.BindPort).String()}}
		}
	}
	if target.Is4() {
		p.remote4 = unix.SockaddrInet4{Port: int(c.Addr.Port()), Addr: target.As4()}
		remote = &p.remote4
		if la.IsValid() {
			p.local4 = unix.SockaddrInet4{Port: int(c.BindPort), Addr: la.As4()}
			local = &p.local4
		}
		return unix.AF_INET, remote, local, nil
	}
	p.remote6 = unix.SockaddrInet6{Port: int(c.Addr.Port()), Addr: target.As16()}
	if z := target.Zone(); z != "" {
		p.remote6.ZoneId = zoneIndex(z)
	}
	remote = &p.remote6
	if la.IsValid() {
		p.local6 = unix.SockaddrInet6{Port: int(c.BindPort), Addr: la.As16()}
		local = &p.local6
	}
	return unix.AF_INET6, remote, local, nil
}

// zoneIndex is the index of the interface an IPv6 zone names, as Go's
// net package finds it: by name (looked up again at most once a minute),
// else the zone is a number, else 0 (the connect then fails).
func zoneIndex(zone string) uint32 {
	zones.Lock()
	defer zones.Unlock()
	if i, ok := zones.index[zone]; ok && time.Since(zones.at) < time.Minute {
		return i
	}
	if ifs, err := net.Interfaces(); err == nil {
		zones.index, zones.at = make(map[string]uint32, len(ifs)), time.Now()
		for _, ifi := range ifs {
			zones.index[ifi.Name] = uint32(ifi.Index)
		}
	}
	if i, ok := zones.index[zone]; ok {
		return i
	}
	n, err := strconv.ParseUint(zone, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

var zones struct {
	sync.Mutex
	index map[string]uint32
	at    time.Time
}

// prepare sets the socket options the checker asks for (fwmark,
// bind_if) and binds the local address, as Conn.dialer does.
func (c *Conn) prepare(fd int, local unix.Sockaddr) error {
	if c.Fwmark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, c.Fwmark); err != nil {
			return err
		}
	}
	if c.BindIf != "" {
		if err := unix.BindToDevice(fd, c.BindIf); err != nil {
			return err
		}
	}
	if local != nil {
		if err := unix.Bind(fd, local); err != nil {
			return os.NewSyscallError("bind", err)
		}
	}
	return nil
}

// dialError is the error Conn.dial returns for the same failure, so that
// the log lines read the same: "dial tcp 10.0.0.2:80: connect:
// connection refused", "dial tcp 10.0.0.2:80: i/o timeout".
func (c *Conn) dialError(err error) error {
	target := c.Addr
	if c.BindIf != "" && target.Addr().Is6() && target.Addr().IsLinkLocalUnicast() {
		target = netip.AddrPortFrom(target.Addr().WithZone(c.BindIf), target.Port())
	}
	e := &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(target), Err: err}
	if c.BindTo.IsValid() || c.BindPort != 0 {
		local := c.BindTo
		if !local.IsValid() {
			local = netip.IPv4Unspecified()
			if c.Addr.Addr().Is6() {
				local = netip.IPv6Unspecified()
			}
		}
		e.Source = net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, c.BindPort))
	}
	return e
}

// connectHeap orders connects by deadline.
type connectHeap []*connecting

func (h connectHeap) Len() int           { return len(h) }
func (h connectHeap) Less(i, k int) bool { return h[i].deadline.Before(h[k].deadline) }
func (h connectHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].index, h[k].index = i, k
}
func (h *connectHeap) Push(x any) {
	p := x.(*connecting)
	p.index = len(*h)
	*h = append(*h, p)
}
func (h *connectHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	p.index = -1
	*h = old[:len(old)-1]
	return p
}
