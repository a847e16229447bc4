package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/runner"
)

// A FIFO is one reference to an open notify FIFO (global_defs notify_fifo,
// vrrp_notify_fifo, lvs_notify_fifo).
//
// The open pipes are shared in the process by path: opening a path that
// is already open gives another reference to the same descriptor, and the
// pipe is closed (and removed, if the daemon created it) when the last
// reference is closed. So a reload hands a FIFO over by opening the new
// configuration's FIFOs before closing the old ones: the pipe stays open
// throughout and its reader never sees EOF. And the VRRP subsystem and
// the checkers, which both write the global notify_fifo, share one pipe,
// which goes when the last of them stops.
type FIFO struct {
	file   *fifoFile
	closed atomic.Bool
}

// fifoFile is an open pipe, shared by the FIFOs of its path.
type fifoFile struct {
	path    string
	created bool // by the daemon: removed when the last reference closes
	dev     uint64
	ino     uint64
	refs    int // guarded by openFIFOs.mu

	log     *slog.Logger
	mu      sync.Mutex // serialises writes against close
	fd      int        // -1 once closed
	dropped atomic.Uint64
	limit   limiter
}

// openFIFOs are the pipes open in the process, by path.
var openFIFOs = struct {
	mu     sync.Mutex
	byPath map[string]*fifoFile
}{byPath: map[string]*fifoFile{}}

// OpenFIFO opens the FIFO at path for writing, creating it if needed, as
// keepalived's core/notify.c fifo_open does: mkfifo with mode 0644 (then
// owned by owner when given, keepalived's chown to the FIFO's user), open
// O_RDWR|O_NONBLOCK|O_NOFOLLOW, so that the open does not wait for a
// reader and no write ever blocks; and refuse anything that is not a FIFO
// owned by the daemon or by owner, which an attacker could have planted
// at the path. If the path is open in the process already, the pipe is
// shared (see FIFO), whatever owner this call gives.
//
// log receives the FIFO's complaints (lines dropped, write errors).
func OpenFIFO(log *slog.Logger, path string, owner *syscall.Credential) (*FIFO, error) {
	if log == nil {
		log = slog.Default()
	}
	path = filepath.Clean(path)
	openFIFOs.mu.Lock()
	defer openFIFOs.mu.Unlock()
	if f := openFIFOs.byPath[path]; f != nil {
		if f.stillAt(path) {
			f.refs++
			return &FIFO{file: f}, nil
		}
		// Removed or replaced behind our back: the new one is opened,
		// the old pipe stays with the references it has.
		delete(openFIFOs.byPath, path)
	}
	f, err := openFIFOFile(log, path, owner)
	if err != nil {
		return nil, err
	}
	f.refs = 1
	openFIFOs.byPath[path] = f
	return &FIFO{file: f}, nil
}

func openFIFOFile(log *slog.Logger, path string, owner *syscall.Credential) (*fifoFile, error) {
	f := &fifoFile{path: path, log: log, fd: -1}
	switch err := unix.Mkfifo(path, 0o644); {
	case err == nil:
		f.created = true
	case !errors.Is(err, unix.EEXIST):
		return nil, fmt.Errorf("cannot create the notify FIFO %s: %w", path, err)
	}
	fail := func(err error) (*fifoFile, error) {
		if f.fd >= 0 {
			unix.Close(f.fd)
		}
		if f.created {
			os.Remove(path)
		}
		return nil, err
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fail(fmt.Errorf("cannot open the notify FIFO %s: %w", path, err))
	}
	f.fd = fd
	if f.created && owner != nil && (int(owner.Uid) != os.Geteuid() || int(owner.Gid) != os.Getegid()) {
		if err := unix.Fchown(fd, int(owner.Uid), int(owner.Gid)); err != nil {
			log.Warn("cannot give the notify FIFO to its user", "path", path, "uid", owner.Uid, "gid", owner.Gid, "err", err)
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(fmt.Errorf("cannot stat the notify FIFO %s: %w", path, err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO || (int(st.Uid) != os.Geteuid() && (owner == nil || st.Uid != owner.Uid)) {
		return fail(fmt.Errorf("%s is not a FIFO the daemon owns: not using it", path))
	}
	f.dev, f.ino = st.Dev, st.Ino
	return f, nil
}

// stillAt tells whether path still names the pipe f has open.
func (f *fifoFile) stillAt(path string) bool {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false
	}
	return st.Dev == f.dev && st.Ino == f.ino
}

// Path is the FIFO's path.
func (f *FIFO) Path() string { return f.file.path }

// Write writes line as it is (keepalived's lines end with "\n") without
// ever blocking: a line that does not fit in the pipe (its reader is slow
// or gone) is dropped, counted and logged, at most every 10 seconds; it
// tells whether it was. Lines up to PIPE_BUF (4096) bytes are written
// whole or not at all. A closed FIFO writes nothing.
func (f *FIFO) Write(line string) (dropped bool) {
	if f.closed.Load() {
		return false
	}
	return f.file.write(line)
}

func (f *fifoFile) write(line string) (dropped bool) {
	f.mu.Lock()
	if f.fd < 0 {
		f.mu.Unlock()
		return false
	}
	n, err := unix.Write(f.fd, []byte(line))
	f.mu.Unlock()
	if err == nil && n == len(line) {
		return false
	}
	f.dropped.Add(1)
	totals.droppedLines.Add(1)
	if ok, more := f.limit.allow(time.Now()); ok {
		why := "the pipe is full: its reader is slow or gone"
		if err != nil && !errors.Is(err, unix.EAGAIN) {
			why = err.Error()
		} else if err == nil {
			why = fmt.Sprintf("only %d of its %d bytes fit in the pipe", n, len(line))
		}
		f.log.Warn("notify FIFO line dropped: "+why, "path", f.path, "line", line, "dropped_before", more,
			"dropped_total", f.dropped.Load())
	}
	return true
}

// Dropped is how many lines this FIFO's pipe dropped, for all who write
// it.
func (f *FIFO) Dropped() uint64 { return f.file.dropped.Load() }

// Close drops this reference; the last one closes the pipe and removes
// the FIFO if the daemon created it (unlinked first, as keepalived's
// fifo_close does, so that a reader that reopens it in a loop cannot get
// it again). Close is idempotent.
func (f *FIFO) Close() {
	if f.closed.Swap(true) {
		return
	}
	openFIFOs.mu.Lock()
	defer openFIFOs.mu.Unlock()
	file := f.file
	if file.refs--; file.refs > 0 {
		return
	}
	if openFIFOs.byPath[file.path] == file {
		delete(openFIFOs.byPath, file.path)
	}
	if file.created && file.stillAt(file.path) {
		os.Remove(file.path)
	}
	file.mu.Lock()
	unix.Close(file.fd)
	file.fd = -1
	file.mu.Unlock()
	if n := file.limit.flush(); n > 0 {
		file.log.Warn("notify FIFO lines dropped and not logged", "path", file.path, "count", n)
	}
}

// FIFOs are the FIFOs a subsystem writes its lines to: the global
// notify_fifo and the subsystem's own (vrrp_notify_fifo, lvs_notify_fifo).
// A nil *FIFOs writes nothing.
type FIFOs struct {
	list []*FIFO
}

// OpenFIFOs opens the FIFOs that keywords name, in order (global_defs
// notify_fifo first, as keepalived's notify_fifo_open). An absent keyword
// is skipped; a path given twice is opened once, so that its lines are
// not written twice (keepalived's global_data.c: "notify FIFO %s has been
// specified for global and vrrp FIFO - ignoring vrrp FIFO"). A FIFO is
// owned by its keyword's `user [group]`, else script_user, else
// keepalived_script if it exists (keepalived's notify_fifo handler); a
// FIFO whose user does not resolve, or that cannot be opened, is logged
// and left out.
//
// At a reload, open the new configuration's FIFOs before closing the old
// ones: the paths that stay keep their pipes (see FIFO).
func OpenFIFOs(log *slog.Logger, scriptUser []string, keywords ...config.Script) *FIFOs {
	if log == nil {
		log = slog.Default()
	}
	s := &FIFOs{}
	seen := map[string]bool{}
	for _, kw := range keywords {
		if kw.IsZero() {
			continue
		}
		path := filepath.Clean(kw.Cmd)
		if seen[path] {
			log.Info("notify FIFO " + kw.Cmd + " is given twice: its lines are written once")
			continue
		}
		seen[path] = true
		owner, err := runner.Credential(userOf(kw, scriptUser))
		if err != nil {
			log.Error("notify FIFO not used: its user does not resolve", "path", kw.Cmd, "err", err)
			continue
		}
		f, err := OpenFIFO(log, path, owner)
		if err != nil {
			log.Error("notify FIFO not used", "path", kw.Cmd, "err", err)
			continue
		}
		s.list = append(s.list, f)
	}
	return s
}

// userOf is the user (and group) a keyword names, else scriptUser.
func userOf(kw config.Script, scriptUser []string) []string {
	switch {
	case kw.User != "" && kw.Group != "":
		return []string{kw.User, kw.Group}
	case kw.User != "":
		return []string{kw.User}
	}
	return scriptUser
}

// Write writes line to every FIFO of s, at once (see FIFO.Write), and
// tells how many dropped it.
func (s *FIFOs) Write(line string) (dropped int) {
	if s == nil {
		return 0
	}
	for _, f := range s.list {
		if f.Write(line) {
			dropped++
		}
	}
	return dropped
}

// Paths are the paths of the FIFOs of s.
func (s *FIFOs) Paths() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.list))
	for _, f := range s.list {
		out = append(out, f.Path())
	}
	return out
}

// Close closes every FIFO of s (see FIFO.Close).
func (s *FIFOs) Close() {
	if s == nil {
		return
	}
	for _, f := range s.list {
		f.Close()
	}
}
