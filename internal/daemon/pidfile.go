package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// errAlreadyRunning is keepalived's refusal to start beside itself.
var errAlreadyRunning = errors.New("daemon is already running")

// pidFile is one of keepalived's pid files, held while the daemon runs.
type pidFile struct {
	path string
	f    *os.File
}

// createPidFiles takes the pid files in order and writes the daemon's pid
// in each. If one names a live process, or another process holds its
// lock, it releases the ones it took and returns errAlreadyRunning, as
// keepalived's keepalived_running does: a second daemon must not run, or
// at its stop it would remove the VIPs of the first.
func createPidFiles(paths ...string) ([]*pidFile, error) {
	var taken []*pidFile
	for _, path := range paths {
		p, err := createPidFile(path)
		if err != nil {
			removePidFiles(taken)
			return nil, err
		}
		taken = append(taken, p)
	}
	return taken, nil
}

func createPidFile(path string) (*pidFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, err
	}
	// An open file description lock (keepalived ≥ 2.2.8 takes the same)
	// is released by the kernel when the process dies, however it dies.
	lock := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lock); err != nil {
		f.Close()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("%w: another process has pid file %s locked", errAlreadyRunning, path)
		}
		return nil, fmt.Errorf("lock pid file %s: %w", path, err)
	}
	// keepalived 2.2.7 takes no lock: it tells by the pid in the file.
	if pid, ok := livePid(f); ok {
		f.Close()
		return nil, fmt.Errorf("%w: pid file %s names running process %d", errAlreadyRunning, path, pid)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, err
	}
	return &pidFile{path: path, f: f}, nil
}

// livePid is the pid f names if that process exists and is not this one.
func livePid(f *os.File) (int, bool) {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return 0, false
	}
	err = syscall.Kill(pid, 0)
	return pid, err == nil || errors.Is(err, syscall.EPERM)
}

// removePidFiles removes the files and drops their locks.
func removePidFiles(files []*pidFile) {
	for _, p := range files {
		os.Remove(p.path)
		p.f.Close()
	}
}
