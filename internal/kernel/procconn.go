package kernel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// ProcEventKind is what a process event says.
type ProcEventKind int

const (
	// ProcAck: the kernel acknowledged the subscription.
	ProcAck ProcEventKind = iota + 1
	// ProcFork: process ParentTgid forked Pid (a thread when Pid != Tgid).
	ProcFork
	// ProcExec: Pid ran a new program.
	ProcExec
	// ProcExit: Pid exited.
	ProcExit
	// ProcComm: Pid renamed itself Comm.
	ProcComm
	// ProcEventsLost: the socket's buffer overflowed (ENOBUFS) and
	// events were dropped; events go on after it.
	ProcEventsLost
)

// ProcEvent is one event of the kernel's proc connector.
type ProcEvent struct {
	Kind       ProcEventKind
	Pid, Tgid  int // the task (for a fork, the child) and its thread group
	ParentTgid int // for ProcFork
	Comm       string
}

// The proc connector's messages (linux/connector.h, linux/cn_proc.h).
const (
	cnMsgLen          = 20 // struct cn_msg: id.idx, id.val, seq, ack, len, flags
	procEventHdrLen   = 16 // struct proc_event: what, cpu, timestamp_ns
	procCnMcastIgnore = 2  // PROC_CN_MCAST_IGNORE
)

// ProcConnector is a subscription to the kernel's process events (the
// netlink proc connector, keepalived's track_process.c). The kernel
// refuses it outside the initial network namespace, or without root; it
// then acknowledges nothing, or Open fails.
type ProcConnector struct {
	s       *nl.NetlinkSocket
	events  chan ProcEvent
	closing chan struct{}
	ended   chan struct{}
	once    sync.Once
	mu      sync.Mutex
	err     error
}

// OpenProcConnector subscribes to the process events. The kernel's
// acknowledgement arrives as the first event (ProcAck) if it accepts.
func OpenProcConnector() (*ProcConnector, error) { return OpenProcConnectorWith(NetlinkBuffer{}) }

// OpenProcConnectorWith is OpenProcConnector with the socket's receive
// buffer set to buf (keepalived's process_monitor_rcv_bufs).
func OpenProcConnectorWith(buf NetlinkBuffer) (*ProcConnector, error) {
	s, err := nl.Subscribe(unix.NETLINK_CONNECTOR, netlink.CN_IDX_PROC)
	if err != nil {
		return nil, fmt.Errorf("kernel: proc connector: %w", err)
	}
	if buf = buf.usable(); buf.Size > 0 {
		if err := s.SetReceiveBufferSize(buf.Size, buf.Force); err != nil {
			s.Close()
			return nil, fmt.Errorf("kernel: proc connector: receive buffer: %w", err)
		}
	}
	if err := sendProcListen(s, netlink.PROC_CN_MCAST_LISTEN); err != nil {
		s.Close()
		return nil, fmt.Errorf("kernel: proc connector: %w", err)
	}
	c := &ProcConnector{s: s, events: make(chan ProcEvent, 1024), closing: make(chan struct{}), ended: make(chan struct{})}
	go c.read()
	return c, nil
}

func sendProcListen(s *nl.NetlinkSocket, op uint32) error {
	var req nl.NetlinkRequest
	req.Pid = uint32(os.Getpid())
	req.Type = unix.NLMSG_DONE
	req.Len = uint32(unix.SizeofNlMsghdr)
	req.AddData(nl.NewCnMsg(netlink.CN_IDX_PROC, netlink.CN_VAL_PROC, op))
	return s.Send(&req)
}

// Events are the process events; the channel is closed when reading
// fails (see Err) or after Close.
func (c *ProcConnector) Events() <-chan ProcEvent { return c.events }

// Err is why the events ended by themselves; nil while they run and after
// Close. It is set before Events is closed.
func (c *ProcConnector) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close unsubscribes, as keepalived's end_process_monitor does, so that
// the kernel stops producing events for nobody, closes the socket, and
// returns once its goroutine has ended. It may be called more than once.
func (c *ProcConnector) Close() {
	c.once.Do(func() {
		close(c.closing)
		sendProcListen(c.s, procCnMcastIgnore)
		c.s.Close() // wakes a waiting Receive
	})
	<-c.ended
}

// read passes the events on until the socket is closed or fails. Lost
// events (ENOBUFS) are passed as ProcEventsLost, and reading goes on.
func (c *ProcConnector) read() {
	defer close(c.ended)
	defer close(c.events)
	for {
		msgs, from, err := c.s.Receive()
		var evs []ProcEvent
		switch {
		case errors.Is(err, unix.ENOBUFS):
			evs = []ProcEvent{{Kind: ProcEventsLost}}
		case err != nil:
			select {
			case <-c.closing:
			default:
				c.mu.Lock()
				c.err = fmt.Errorf("kernel: proc connector: %w", err)
				c.mu.Unlock()
			}
			return
		case from.Pid != 0:
			continue // not from the kernel
		}
		for _, msg := range msgs {
			if ev, ok := parseProcEvent(msg); ok {
				evs = append(evs, ev)
			}
		}
		for _, ev := range evs {
			select {
			case c.events <- ev:
			case <-c.closing:
				return
			}
		}
	}
}

// parseProcEvent decodes one connector message; ok is false for anything
// but a process event or the subscription's acknowledgement.
func parseProcEvent(m syscall.NetlinkMessage) (ev ProcEvent, ok bool) {
	d := m.Data
	if m.Header.Type == unix.NLMSG_ERROR || m.Header.Type == unix.NLMSG_NOOP || len(d) < cnMsgLen+procEventHdrLen {
		return ev, false
	}
	u32 := func(off int) uint32 { return binary.NativeEndian.Uint32(d[off:]) }
	if u32(0) != netlink.CN_IDX_PROC || u32(4) != netlink.CN_VAL_PROC {
		return ev, false
	}
	ack, what := u32(12) != 0, u32(cnMsgLen)
	// Only the acknowledgement has no event (keepalived's handle_proc_ev).
	if (what == netlink.PROC_EVENT_NONE) != ack {
		return ev, false
	}
	body := d[cnMsgLen+procEventHdrLen:]
	field := func(i int) int { return int(binary.NativeEndian.Uint32(body[4*i:])) }
	switch what {
	case netlink.PROC_EVENT_NONE:
		ev.Kind = ProcAck
	case netlink.PROC_EVENT_FORK:
		if len(body) < 16 {
			return ev, false
		}
		ev.Kind, ev.ParentTgid, ev.Pid, ev.Tgid = ProcFork, field(1), field(2), field(3)
	case netlink.PROC_EVENT_EXEC, netlink.PROC_EVENT_EXIT:
		if len(body) < 8 {
			return ev, false
		}
		ev.Kind, ev.Pid, ev.Tgid = ProcExec, field(0), field(1)
		if what == netlink.PROC_EVENT_EXIT {
			ev.Kind = ProcExit
		}
	case netlink.PROC_EVENT_COMM:
		if len(body) < 24 {
			return ev, false
		}
		ev.Kind, ev.Pid, ev.Tgid = ProcComm, field(0), field(1)
		name, _, _ := bytes.Cut(body[8:24], []byte{0})
		ev.Comm = string(name)
	default:
		return ev, false
	}
	return ev, true
}
