package track

import (
	"context"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/runner"
)

// Sources are where the tracker learns what the tracked objects do. Each
// is a small interface over what internal/kernel does with system calls
// (rtnetlink, inotify, the proc connector, /proc) or, for scripts,
// internal/runner; tests give fakes. A nil field is the real one.
type Sources struct {
	Links LinkSource
	Files FileSource
	Procs ProcSource
	Run   ScriptRunner
	// LinkBuffer and ProcBuffer size the real sources' netlink sockets
	// (vrrp_netlink_monitor_rcv_bufs, process_monitor_rcv_bufs).
	LinkBuffer, ProcBuffer kernel.NetlinkBuffer
}

// LinkSource is where interface states come from (kernel.LinkStates and
// kernel.WatchLinks).
type LinkSource interface {
	// LinkStates lists every interface now.
	LinkStates() ([]kernel.LinkState, error)
	// WatchLinks subscribes to the interfaces: their states now, then at
	// every change.
	WatchLinks() (LinkWatch, error)
}

// LinkWatch is a subscription to interface states (*kernel.LinkWatch).
// It may end by itself: Updates is closed and Err says why (events were
// lost).
type LinkWatch interface {
	Updates() <-chan kernel.LinkState
	Err() error
	// Close ends the subscription and returns once it is done with
	// Updates.
	Close()
}

// FileSource is how tracked files are watched and read
// (kernel.WatchDirs, kernel.ReadNonblocking).
type FileSource interface {
	WatchDirs() (DirWatch, error)
	// ReadFile reads at most limit bytes of a file without waiting (a
	// FIFO with nothing in it reads empty).
	ReadFile(path string, limit int) ([]byte, error)
}

// DirWatch follows the files of directories (*kernel.DirWatcher).
type DirWatch interface {
	// Add watches a directory; its events carry the number returned.
	Add(dir string) (int, error)
	// Events are the changes; closed when the watch fails (see Err).
	Events() <-chan kernel.FileEvent
	Err() error
	// Close ends the watch and returns once it is done with Events.
	Close()
}

// ProcSource is how tracked processes are listed, read and followed
// (kernel.Pids, kernel.ReadProcess, kernel.OpenProcConnector).
type ProcSource interface {
	Pids() ([]int, error)
	// ReadProcess reads process pid's name and command line, as asked;
	// ok is false if it is gone or a zombie.
	ReadProcess(pid int, comm, cmdline bool) (p kernel.ProcInfo, ok bool)
	// WatchProcesses subscribes to process events.
	WatchProcesses() (ProcWatch, error)
}

// ProcWatch is a subscription to process events (*kernel.ProcConnector).
// The first event is the kernel's acknowledgement (kernel.ProcAck).
type ProcWatch interface {
	// Events are the process events; closed when they fail (see Err).
	Events() <-chan kernel.ProcEvent
	Err() error
	// Close unsubscribes and returns once it is done with Events.
	Close()
}

// ScriptRunner runs a script once, as runner.Run does: for at most
// timeout, and ended early when ctx is cancelled.
type ScriptRunner func(ctx context.Context, s runner.Script, timeout time.Duration) runner.Result

// withDefaults is s with the real sources where it has none.
func (s Sources) withDefaults() Sources {
	if s.Links == nil {
		s.Links = kernelLinks{buf: s.LinkBuffer}
	}
	if s.Files == nil {
		s.Files = kernelFiles{}
	}
	if s.Procs == nil {
		s.Procs = kernelProcs{buf: s.ProcBuffer}
	}
	if s.Run == nil {
		s.Run = runner.Run
	}
	return s
}

type kernelLinks struct{ buf kernel.NetlinkBuffer }

func (kernelLinks) LinkStates() ([]kernel.LinkState, error) { return kernel.LinkStates() }

func (l kernelLinks) WatchLinks() (LinkWatch, error) {
	w, err := kernel.WatchLinksWith(l.buf)
	if err != nil {
		return nil, err
	}
	return w, nil
}

type kernelFiles struct{}

func (kernelFiles) WatchDirs() (DirWatch, error) {
	w, err := kernel.WatchDirs()
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (kernelFiles) ReadFile(path string, limit int) ([]byte, error) {
	return kernel.ReadNonblocking(path, limit)
}

type kernelProcs struct{ buf kernel.NetlinkBuffer }

func (kernelProcs) Pids() ([]int, error) { return kernel.Pids() }

func (kernelProcs) ReadProcess(pid int, comm, cmdline bool) (kernel.ProcInfo, bool) {
	return kernel.ReadProcess(pid, comm, cmdline)
}

func (p kernelProcs) WatchProcesses() (ProcWatch, error) {
	c, err := kernel.OpenProcConnectorWith(p.buf)
	if err != nil {
		return nil, err
	}
	return c, nil
}
