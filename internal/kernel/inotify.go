package kernel

import (
	"errors"
	"os"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FileOp is what happened in a watched directory.
type FileOp int

const (
	// FileChanged: a file was written and closed, created, or moved in.
	FileChanged FileOp = iota + 1
	// FileRemoved: a file was deleted or moved away.
	FileRemoved
	// DirGone: the watched directory itself is gone; its watch ended.
	DirGone
	// EventsLost: the kernel's queue overflowed and events were dropped;
	// every watched file may have changed.
	EventsLost
)

// FileEvent is one change in a watched directory. Changes to its
// subdirectories are not reported.
type FileEvent struct {
	Watch int    // what DirWatcher.Add returned for the directory; 0 for EventsLost
	Name  string // the file's name in the directory; "" for DirGone and EventsLost
	Op    FileOp
}

// The events keepalived watches for track_file (IN_CLOSE_WRITE |
// IN_DELETE | IN_MOVE), and IN_CREATE so that a file linked into place is
// read too.
const dirWatchMask = unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_MOVE | unix.IN_CREATE

// DirWatcher follows changes to the files of directories with inotify, as
// keepalived's track_file does: watching the directory rather than the
// file sees it replaced by a rename, deleted and created again.
type DirWatcher struct {
	f       *os.File // the inotify descriptor, non-blocking so that Go's poller serves it
	events  chan FileEvent
	closing chan struct{}
	ended   chan struct{}
	once    sync.Once
	mu      sync.Mutex
	err     error
}

// WatchDirs creates an inotify instance; Add gives it directories.
func WatchDirs() (*DirWatcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, &os.SyscallError{Syscall: "inotify_init1", Err: err}
	}
	w := &DirWatcher{f: os.NewFile(uintptr(fd), "inotify"), events: make(chan FileEvent, 64),
		closing: make(chan struct{}), ended: make(chan struct{})}
	go w.read()
	return w, nil
}

// Add watches a directory and returns the number its events carry. A
// directory added twice has one watch, and one number.
func (w *DirWatcher) Add(dir string) (int, error) {
	sc, err := w.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var wd int
	var werr error
	if err := sc.Control(func(fd uintptr) { wd, werr = unix.InotifyAddWatch(int(fd), dir, dirWatchMask) }); err != nil {
		return 0, err
	}
	if werr != nil {
		return 0, &os.PathError{Op: "inotify_add_watch", Path: dir, Err: werr}
	}
	return wd, nil
}

// Events are the changes; the channel is closed when reading fails (see
// Err) or after Close.
func (w *DirWatcher) Events() <-chan FileEvent { return w.events }

// Err is why the events ended by themselves; nil while they run and after
// Close. It is set before Events is closed.
func (w *DirWatcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close ends the watch and returns once its goroutine has ended. It may
// be called more than once.
func (w *DirWatcher) Close() {
	w.once.Do(func() {
		close(w.closing)
		w.f.Close() // wakes a waiting Read
	})
	<-w.ended
}

// read reads inotify events until the descriptor is closed or fails.
func (w *DirWatcher) read() {
	defer close(w.ended)
	defer close(w.events)
	buf := make([]byte, 64*1024)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			select {
			case <-w.closing:
			default:
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
			return
		}
		for _, ev := range parseInotify(buf[:n]) {
			select {
			case w.events <- ev:
			case <-w.closing:
				return
			}
		}
	}
}

// parseInotify decodes what one read of an inotify descriptor returned.
func parseInotify(b []byte) []FileEvent {
	var out []FileEvent
	for off := 0; off+unix.SizeofInotifyEvent <= len(b); {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[off]))
		end := off + unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			break
		}
		name := strings.TrimRight(string(b[off+unix.SizeofInotifyEvent:end]), "\x00")
		off = end
		fe := FileEvent{Watch: int(ev.Wd), Name: name}
		switch {
		case ev.Mask&unix.IN_Q_OVERFLOW != 0:
			fe = FileEvent{Op: EventsLost}
		case ev.Mask&unix.IN_IGNORED != 0:
			fe.Op, fe.Name = DirGone, ""
		case ev.Mask&unix.IN_ISDIR != 0:
			continue
		case ev.Mask&(unix.IN_MOVED_FROM|unix.IN_DELETE) != 0:
			fe.Op = FileRemoved
		default:
			fe.Op = FileChanged
		}
		out = append(out, fe)
	}
	return out
}

// ReadNonblocking reads at most limit bytes of a file in one read,
// without waiting: a FIFO with nothing written to it reads empty.
func ReadNonblocking(path string, limit int) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, limit)
	n, err := unix.Read(fd, buf)
	if errors.Is(err, unix.EAGAIN) {
		return nil, nil
	}
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	return buf[:max(n, 0)], nil
}
