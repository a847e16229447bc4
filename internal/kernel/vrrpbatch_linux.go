//go:build linux

package kernel

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BatchConn is a Conn that can also read several adverts per call. The
// VRRP socket reader uses it when the Conn offers it (the Linux one does;
// the fake does not).
type BatchConn interface {
	Conn
	// RecvBatch waits until at least one advert is queued, as Recv
	// does, then reads those queued, up to len(bufs), into
	// bufs[i][:pkts[i].N] and returns how many it read (pkts must be as
	// long as bufs), with Recv's filtering and errors.
	RecvBatch(bufs [][]byte, pkts []Packet) (int, error)
	// RecvBatchLocked and TryRecvBatch: see VRRPConn's.
	RecvBatchLocked(l sync.Locker, bufs [][]byte, pkts []Packet) (int, error)
	TryRecvBatch(bufs [][]byte, pkts []Packet) (int, error)
}

var _ BatchConn = (*VRRPConn)(nil)

// batchReader is RecvBatch's state, made at its first call: one
// mmsghdr, iovec, address and control buffer per packet, reused, so that
// a batch allocates nothing.
type batchReader struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for sockaddr_in too
	oobs  []byte                  // batchOOB bytes each; 8-byte aligned (heap)
	want  int                     // how many to read
	n     int                     // recvmmsg's result
	errno unix.Errno
	got   bool             // read found something
	tryFn func(fd uintptr) // got = read(fd), made once: a closure per call would allocate
	// lock is RecvBatchLocked's, locked is whether read holds it.
	lock   sync.Locker
	locked bool
}

// mmsghdr is struct mmsghdr (recvmmsg(2)); Go's alignment gives it C's
// padding on 32- and 64-bit alike.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

const batchOOB = 128

// RecvBatch implements BatchConn: one recvmmsg(2) takes every advert
// queued, up to len(bufs), where Recv's recvmsg takes one. It waits, as
// Recv does, on the socket's epoll instance (vrrpwait_linux.go), which
// Close wakes.
func (c *VRRPConn) RecvBatch(bufs [][]byte, pkts []Packet) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.recvBatch(c.batchReader(&c.batch, len(bufs)), bufs, pkts, nil, true)
}

// RecvBatchLocked is RecvBatch for a reader that shares the socket with
// TryRecvBatch callers and must deliver the adverts in the order the
// kernel queued them: it locks l before each read and returns with l held,
// whatever it returns, so that nobody else reads between its read and the
// caller's delivery. l is not held while it waits.
func (c *VRRPConn) RecvBatchLocked(l sync.Locker, bufs [][]byte, pkts []Packet) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.recvBatch(c.batchReader(&c.batch, len(bufs)), bufs, pkts, l, true)
}

// TryRecvBatch is RecvBatch without the wait: it reads the adverts queued,
// up to len(bufs), and returns 0 and no error when none is. It may run
// beside a RecvBatch or RecvBatchLocked that waits.
func (c *VRRPConn) TryRecvBatch(bufs [][]byte, pkts []Packet) (int, error) {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	return c.recvBatch(c.batchReader(&c.tryBatch, len(bufs)), bufs, pkts, nil, false)
}

// recvBatch reads with br into bufs, waiting for the socket when wait is
// set; with l, l is locked before each read and held on return.
func (c *VRRPConn) recvBatch(br *batchReader, bufs [][]byte, pkts []Packet, l sync.Locker, wait bool) (int, error) {
	if len(bufs) == 0 || len(pkts) < len(bufs) {
		return 0, errors.New("kernel: vrrp recv batch: no buffers, or fewer packets than buffers")
	}
	br.lock, br.locked = l, false
	defer func() {
		if l != nil && !br.locked {
			l.Lock()
		}
		br.lock = nil
	}()
	if len(bufs) > len(br.hdrs) {
		bufs = bufs[:len(br.hdrs)]
	}
	truncated := 0
	for {
		if err := br.prepare(bufs); err != nil {
			return 0, err
		}
		var err error
		if wait {
			err = c.readOrWait(br.tryFn, &br.got)
		} else if err = c.waiter.closedOr(c.rc.Control(br.tryFn)); err == nil && !br.got {
			return 0, nil // nothing queued
		}
		for i := range bufs {
			br.iovs[i].Base = nil
		}
		if err != nil {
			return 0, fmt.Errorf("kernel: vrrp recv on %s: %w", c.cfg.Interface, err)
		}
		if br.errno != 0 {
			return 0, fmt.Errorf("kernel: vrrp recv on %s: %w", c.cfg.Interface, os.NewSyscallError("recvmmsg", br.errno))
		}
		n := c.keepAdverts(br, bufs, pkts, &truncated)
		if n > 0 {
			return n, nil
		}
		if truncated > 0 {
			return 0, fmt.Errorf("kernel: vrrp recv on %s: %d packet(s) larger than the buffers: %w", c.cfg.Interface, truncated, ErrTruncated)
		}
		br.unlock() // nothing kept: wait again without l
	}
}

// prepare points br's headers at bufs for the next read.
func (br *batchReader) prepare(bufs [][]byte) error {
	for i, b := range bufs {
		if len(b) == 0 {
			return errors.New("kernel: vrrp recv batch: empty buffer")
		}
		br.iovs[i].Base = &b[0]
		br.iovs[i].SetLen(len(b))
		h := &br.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&br.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &br.iovs[i]
		h.SetIovlen(1)
		h.Control = &br.oobs[i*batchOOB]
		h.SetControllen(batchOOB)
		h.Flags = 0
		br.hdrs[i].len = 0
	}
	br.want, br.n, br.errno = len(bufs), 0, 0
	return nil
}

// keepAdverts parses the packets br read, keeps those Recv would return
// in bufs[:n] and pkts[:n], in order, and counts the truncated ones.
func (c *VRRPConn) keepAdverts(br *batchReader, bufs [][]byte, pkts []Packet, truncated *int) int {
	n := 0
	for i := 0; i < br.n; i++ {
		h := &br.hdrs[i]
		rn := int(h.len)
		if h.hdr.Flags&unix.MSG_TRUNC != 0 || rn > len(bufs[i]) {
			*truncated++
			continue
		}
		p, ok := c.parseInto(bufs[i], rn, &br.names[i], br.oobs[i*batchOOB:i*batchOOB+int(h.hdr.Controllen)])
		if !ok || (p.Dst.IsMulticast() && (c.cfg.Unicast || p.Dst != c.cfg.Group)) {
			continue // as Recv does
		}
		if n != i {
			// Keep the packets in bufs[:n], in order.
			p.N = copy(bufs[n], bufs[i][:p.N])
		}
		pkts[n] = p
		n++
	}
	return n
}

// read is the batch's recvmmsg; false (EAGAIN) sends a waiting goroutine
// to wait for the socket. With a lock, the lock is taken before the read and
// given back when nothing was read, so that it is not held while waiting.
//
// noSysmonWake: the VRRP socket's system calls are raw (RawSyscall, not
// Syscall), since with MSG_DONTWAIT they never block. Syscall tells the
// Go runtime a system call begins (runtime.entersyscall), and that wakes
// the runtime's sysmon thread whenever it sleeps deeply, which it does
// whenever the process is idle: every advert that woke an idle backup cost a second thread
// wake-up, sysmon's, about as many as the reader's own (BENCHMARKS.md,
// "255 VRRP instances on two routers").
func (br *batchReader) read(fd uintptr) bool {
	if br.lock != nil && !br.locked {
		br.lock.Lock()
		br.locked = true
	}
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&br.hdrs[0])), uintptr(br.want),
			unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			br.unlock()
			return false
		case 0:
			br.n = int(r)
		default:
			br.errno = e
		}
		return true
	}
}

// unlock gives back the lock read took, if it holds it.
func (br *batchReader) unlock() {
	if br.locked {
		br.lock.Unlock()
		br.locked = false
	}
}

// batchReader makes a batch's state at its first call in *slot, sized
// for n packets (later calls read at most that many). Called with the
// mutex that guards *slot held.
func (c *VRRPConn) batchReader(slot **batchReader, n int) *batchReader {
	if *slot == nil {
		br := &batchReader{hdrs: make([]mmsghdr, n), iovs: make([]unix.Iovec, n),
			names: make([]unix.RawSockaddrInet6, n), oobs: make([]byte, n*batchOOB)}
		br.tryFn = func(fd uintptr) { br.got = br.read(fd) }
		*slot = br
	}
	return *slot
}
