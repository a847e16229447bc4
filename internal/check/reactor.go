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
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The reactor runs TCP_CHECK's probes without a goroutine each, as
// keepalived does with its own epoll scheduler: the engine's goroutine
// opens a non-blocking socket and starts the connect (socket, the
// options the checker asks for, bind, connect → EINPROGRESS) and
// registers it with the reactor's epoll instance; when the engine has
// nothing due it sleeps on that instance (parked in Go's poller, which
// watches the instance's descriptor, with the next job's time as its
// deadline), takes each connect that became writable (SO_ERROR says why
// one failed), gives up those past connect_timeout, closes them and
// applies their results. A probe costs four system calls (socket,
// connect, epoll_ctl, close; getsockopt too if it failed) and no
// allocation; a thousand connects under way cost a thousand sockets and
// nothing else; and the checks keep one goroutine busy at most, so that
// VRRP finds a free P.
//
// Go's net package would add a goroutine, a context, the poller's
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
	index    int // in the reactor's deadline heap; -1 when not in it
	// The socket addresses, filled at each start: kept here, they cost
	// no allocation.
	remote4, local4 unix.SockaddrInet4
	remote6, local6 unix.SockaddrInet6
}

// reactor watches the connects under way. It belongs to one goroutine,
// the engine's, which calls start, wait and close; wake is for any
// goroutine.
type reactor struct {
	epoll *os.File // the epoll instance, in Go's poller
	rc    syscall.RawConn
	epfd  int
	evfd  int // an eventfd in the epoll set: wake
	// done hears each connect's result, once, on the reactor's goroutine
	// (in start or wait); it must not block.
	done func(p *connecting, r Result, end time.Time)

	byFD      []*connecting // connects under way by socket
	deadlines dueHeap[*connecting]
	inflight  atomic.Int64 // len(byFD) less its nils, for any goroutine
	events    []unix.EpollEvent
	ended     []ended

	wmu    sync.Mutex // wake against close
	closed bool
}

// eventsPerPoll bounds the connects one look at the epoll instance
// finishes (about 20 µs each), so that the jobs due meanwhile start at
// most a millisecond or two late.
const eventsPerPoll = 64

// newReactor makes a reactor; close releases it.
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
	fail := func(err error) (*reactor, error) {
		unix.Close(evfd)
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		return fail(os.NewSyscallError("epoll_ctl", err))
	}
	// Non-blocking, os.NewFile puts the instance in Go's poller, so that
	// the engine's goroutine sleeps on it without holding a thread.
	if err := unix.SetNonblock(epfd, true); err != nil {
		return fail(os.NewSyscallError("fcntl", err))
	}
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err == nil {
		err = f.SetReadDeadline(time.Time{}) // fails if not in the poller
	}
	if err != nil {
		f.Close()
		unix.Close(evfd)
		return nil, err
	}
	return &reactor{epoll: f, rc: rc, epfd: epfd, evfd: evfd, done: done,
		events: make([]unix.EpollEvent, eventsPerPoll)}, nil
}

// close abandons the connects under way (their sockets are closed, with
// no result) and releases the epoll instance.
func (r *reactor) close() {
	r.wmu.Lock()
	if r.closed {
		r.wmu.Unlock()
		return
	}
	r.closed = true
	r.wmu.Unlock()
	for fd, p := range r.byFD {
		if p != nil {
			unix.Close(fd)
			r.byFD[fd] = nil
		}
	}
	r.inflight.Store(0)
	r.deadlines = nil
	r.epoll.Close()
	unix.Close(r.evfd)
}

// pending is the number of connects under way; any goroutine may ask.
func (r *reactor) pending() int { return int(r.inflight.Load()) }

// wake ends the current or next wait early; it may be called from any
// goroutine, even after close.
func (r *reactor) wake() {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if !r.closed {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		unix.Write(r.evfd, one[:]) // EAGAIN: it is awake already
	}
}

// start begins p's connect to p.conn; p.deadline (if not zero) bounds
// it. Its result comes to done: at once if the connect ended at once
// (refused, or no socket), else from a later wait.
func (r *reactor) start(p *connecting) {
	c := p.conn
	if r.closed {
		return
	}
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
		res := failed(c.dialError(os.NewSyscallError("connect", err)))
		res.AtOnce = true
		r.done(p, res, time.Now())
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: int32(fd)}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		r.done(p, failed(c.dialError(os.NewSyscallError("epoll_ctl", err))), time.Now())
		return
	}
	for fd >= len(r.byFD) {
		r.byFD = append(r.byFD, nil)
	}
	p.fd, p.index = fd, -1
	r.byFD[fd] = p
	r.inflight.Add(1)
	if !p.deadline.IsZero() {
		heap.Push(&r.deadlines, p)
	}
}

// ended is a connect taken off the books, its socket still open.
type ended struct {
	p       *connecting
	events  uint32 // what epoll said of it
	expired bool
}

// wait sleeps until a connect ends or passes its deadline, wake is
// called, or until (if not zero); then it reports the connects that
// ended.
func (r *reactor) wait(until time.Time) {
	if r.closed {
		return
	}
	if len(r.deadlines) > 0 && (until.IsZero() || r.deadlines[0].deadline.Before(until)) {
		until = r.deadlines[0].deadline
	}
	if !until.IsZero() && !time.Now().Before(until) {
		r.catchUp() // due already: look, do not sleep
		return
	}
	r.epoll.SetReadDeadline(until)
	// Read calls poll until it finds something, and sleeps in Go's
	// poller in between: until the instance is readable or until.
	r.rc.Read(func(uintptr) bool { return r.poll() })
	r.expire()
}

// catchUp reports the connects that ended or expired, without sleeping:
// between the starts of a burst of due jobs, the connects that those
// already started are finished too, so that their results (and the
// sockets) do not wait for the end of the burst.
func (r *reactor) catchUp() {
	if r.closed {
		return
	}
	for i := 0; i < 4 && r.poll(); i++ {
	}
	r.expire()
}

// poll reports the connects that ended, without sleeping; it tells
// whether it found anything.
func (r *reactor) poll() bool {
	n, err := unix.EpollWait(r.epfd, r.events, 0)
	for err == unix.EINTR {
		n, err = unix.EpollWait(r.epfd, r.events, 0)
	}
	if err != nil || n <= 0 {
		return false
	}
	now := time.Now()
	batch := r.ended[:0]
	for _, ev := range r.events[:n] {
		fd := int(ev.Fd)
		if fd == r.evfd {
			var b [8]byte
			unix.Read(r.evfd, b[:])
			continue
		}
		if fd < len(r.byFD) && r.byFD[fd] != nil {
			batch = append(batch, ended{p: r.forget(fd), events: ev.Events})
		}
	}
	r.finish(batch, now)
	return true
}

// expire reports the connects past their deadline.
func (r *reactor) expire() {
	now := time.Now()
	batch := r.ended[:0]
	for len(r.deadlines) > 0 && !r.deadlines[0].deadline.After(now) {
		batch = append(batch, ended{p: r.forget(r.deadlines[0].fd), expired: true})
	}
	r.finish(batch, now)
}

// forget takes the connect on fd off the books.
func (r *reactor) forget(fd int) *connecting {
	p := r.byFD[fd]
	r.byFD[fd] = nil
	r.inflight.Add(-1)
	if p.index >= 0 {
		heap.Remove(&r.deadlines, p.index)
	}
	return p
}

// finish reads the ended connects' outcomes, closes their sockets and
// reports them.
func (r *reactor) finish(batch []ended, now time.Time) {
	for i, e := range batch {
		if i%yieldEvery == yieldEvery-1 {
			runtime.Gosched()
		}
		batch[i] = ended{}
		p := e.p
		if e.expired {
			// Out of epoll first: the socket may outlive its close in a
			// child forked meanwhile, and must then send no event for its
			// number.
			unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, p.fd, nil)
			unix.Close(p.fd)
			r.done(p, failed(p.conn.dialError(os.ErrDeadlineExceeded)), now)
			continue
		}
		if e.events&(unix.EPOLLERR|unix.EPOLLHUP) == 0 && e.events&unix.EPOLLOUT != 0 {
			// Writable and no error: connected (tcp_poll says EPOLLOUT of
			// an established socket only, and EPOLLERR with any error).
			unix.Close(p.fd)
			r.done(p, Result{OK: true}, now)
			continue
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
	r.ended = batch[:0]
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

// A connect is due at its deadline.
func (p *connecting) due() time.Time  { return p.deadline }
func (p *connecting) heapIndex() *int { return &p.index }
