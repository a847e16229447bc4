//go:build linux

package kernel

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// ipvsSock is a generic netlink socket of our own for the table's
// changes and dumps (ipvs_batch.go's messages): plain system calls on
// buffers it keeps, so that a change costs no allocation. Used with
// linuxIPVS.mu held.
type ipvsSock struct {
	fd     int
	family uint16
	seq    uint32
	out    []byte // the messages being sent
	in     []byte // the receive buffer
}

// The most changes sent at once, and the most bytes: the send must fit
// the socket's send buffer (netlink_sendmsg: EMSGSIZE beyond it), their
// acknowledgements its receive buffer (an acknowledgement that does not
// fit is lost: ENOBUFS).
const (
	ipvsBatchMax   = 128
	ipvsBatchBytes = 48 << 10
	ipvsRcvBuf     = 4 << 20
	// ipvsRecvWait bounds a wait for an answer that should already be
	// there (the kernel acknowledges within the send).
	ipvsRecvWait = 30 * time.Second
)

// openIPVSSock opens the socket in the calling thread's network
// namespace.
func openIPVSSock(family uint16) (*ipvsSock, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, err
	}
	s := &ipvsSock{fd: fd, family: family, in: make([]byte, 64<<10)}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Errors' acknowledgements without the request copied back.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, ipvsRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, ipvsRcvBuf)
	}
	tv := unix.NsecToTimeval(ipvsRecvWait.Nanoseconds())
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return s, nil
}

func (s *ipvsSock) close() error { return unix.Close(s.fd) }

func (s *ipvsSock) send(b []byte) error {
	for {
		err := unix.Sendto(s.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err != unix.EINTR {
			return err
		}
	}
}

func (s *ipvsSock) recv() ([]byte, error) {
	for {
		n, _, flags, _, err := unix.Recvmsg(s.fd, s.in, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if flags&unix.MSG_TRUNC != 0 {
			return nil, fmt.Errorf("kernel: IPVS: message truncated")
		}
		return s.in[:n], nil
	}
}

// batch sends the changes, ipvsBatchMax at a time in one send each, and
// reads their acknowledgements.
func (s *ipvsSock) batch(ops []IPVSOp) []error {
	errs := make([]error, len(ops))
	for i := 0; i < len(ops); {
		first := s.seq + 1
		s.out = s.out[:0]
		j := i
		for j < len(ops) && j-i < ipvsBatchMax && len(s.out) < ipvsBatchBytes {
			s.seq++
			s.out = appendOpMessage(s.out, s.family, s.seq, ops[j])
			j++
		}
		if err := s.send(s.out); err != nil {
			for k := i; k < j; k++ {
				errs[k] = err
			}
			i = j
			continue
		}
		answered := make([]bool, j-i)
		left := j - i
		for left > 0 {
			b, err := s.recv()
			if err != nil {
				for k := range answered {
					if !answered[k] {
						errs[i+k] = fmt.Errorf("kernel: IPVS: no answer: %w", err)
					}
				}
				break
			}
			left -= matchAcks(b, first, errs[i:j], answered)
		}
		i = j
	}
	return errs
}

// dump sends a dump request (cmd, with attrs after the generic netlink
// header) and calls fn with each reply's attributes.
func (s *ipvsSock) dump(cmd uint8, attrs []byte, fn func([]byte) error) error {
	s.seq++
	seq := s.seq
	s.out = appendMessageHeader(s.out[:0], s.family, nlmFRequest|nlmFDump, seq, cmd)
	s.out = append(s.out, attrs...)
	putLen(s.out)
	if err := s.send(s.out); err != nil {
		return err
	}
	var ferr error
	for {
		b, err := s.recv()
		if err != nil {
			return err
		}
		for {
			typ, mseq, payload, rest, ok := nextMessage(b)
			if !ok {
				break
			}
			b = rest
			if mseq != seq {
				continue
			}
			switch typ {
			case nlmsgDone:
				return ferr
			case nlmsgError:
				errno, ok := errnoOfAck(payload)
				if !ok {
					return errIPVSMessage
				}
				if errno != 0 {
					return errno
				}
				return ferr
			default:
				if len(payload) < genlHdrLen {
					return errIPVSMessage
				}
				if ferr == nil {
					ferr = fn(payload[genlHdrLen:])
				}
			}
		}
	}
}

// putLen sets the length of the one message in b.
func putLen(b []byte) {
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
}
