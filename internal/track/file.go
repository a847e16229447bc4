package track

// track_file: a file holding an integer that weighs on the priority of the
// instances tracking it, as keepalived 2.2.7's trackers/track_file.c and
// vrrp/vrrp_track.c do it.

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// fileValue is a new value read from a tracked file.
type fileValue struct {
	name  string
	value int64
}

// initTrackFile writes init_file's value at start: if the file does not
// exist, or with overwrite if it is a regular file, but never over an
// existing file at a reload (track_file_end_handler). Like keepalived's
// fopen_safe it writes a temporary file and renames it into place, so
// that a reader never sees it half-written. It returns keepalived's
// message when it cannot ("" when all is well).
func initTrackFile(s *config.TrackFileSpec, reload bool) string {
	if s.Init == config.TrackFileNoInit {
		return ""
	}
	if st, err := os.Stat(s.Path); err == nil {
		switch {
		case s.Init == config.TrackFileCreate:
			return ""
		case !st.Mode().IsRegular():
			return fmt.Sprintf("Cannot initialise track file %s - it is not a regular file", s.Name)
		case reload:
			return ""
		}
	}
	if err := writeFileAtomic(s.Path, fmt.Sprintf("%d\n", s.InitValue)); err != nil {
		return fmt.Sprintf("Unable to initialise track file %s: %v", s.Name, err)
	}
	return ""
}

// writeFileAtomic writes text to a temporary file next to path, mode
// 0644 (keepalived's 0666 under its default umask), and renames it over
// path.
func writeFileAtomic(path, text string) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	err = errors.Join(err, f.Chmod(0o644), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// readTrackFile reads a tracked file's value as process_track_file does:
// at most 127 bytes, read without blocking (the file may be a FIFO), as
// C's strtol(buf, NULL, 0) reads them. A missing, unreadable or empty
// file is 0. ok is false for a number out of [INT32_MIN, INT32_MAX+1],
// which keepalived ignores (the last value stays).
func readTrackFile(src FileSource, path string) (value int64, ok bool) {
	b, err := src.ReadFile(path, 127)
	if err != nil || len(b) == 0 {
		return 0, true
	}
	v, ok := cStrtol(string(b))
	if !ok || v < math.MinInt32 || v > math.MaxInt32+1 {
		return v, false
	}
	return v, true
}

// cStrtol is C's strtol(s, NULL, 0): leading white space, a sign, then a
// hexadecimal (0x), octal (0) or decimal number, up to the first other
// character; no digits give 0. On overflow (ERANGE) it gives the limit
// and ok is false.
func cStrtol(s string) (int64, bool) {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && digitValue(s[i+2]) < 16:
		base, i = 16, i+2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var n uint64
	for ; i < len(s); i++ {
		d := digitValue(s[i])
		if d >= base {
			break
		}
		if n > (limit-d)/base {
			if neg {
				return math.MinInt64, false
			}
			return math.MaxInt64, false
		}
		n = n*base + d
	}
	if neg {
		if n == limit {
			return math.MinInt64, true
		}
		return -int64(n), true
	}
	return int64(n), true
}

// digitValue is c's value as a digit of any base up to 36, else 36.
func digitValue(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 10
	}
	return 36
}

// fileStatus is what a file's value means to one instance tracking it
// with weight and reverse (vrrp_track.c initialise_vrrp_file_tracking_priorities,
// track_file.c update_track_file_status): with weight 0 a non-zero value
// is FAULT (reverse: a zero value is); otherwise value × weight, negated
// by reverse, is added to the priority, at most 253, and a result of -254
// or less is FAULT.
func fileStatus(value int64, weight int, reverse bool) (fault bool, delta int) {
	if weight == 0 {
		return (value != 0) != reverse, 0
	}
	if s := weighted(value, weight, reverse); s > -254 {
		return false, int(min(s, 253))
	}
	return true, 0
}

// weighted is value × weight, negated by reverse, within the int range
// (keepalived's weight_range).
func weighted(value int64, weight int, reverse bool) int64 {
	if reverse {
		weight = -weight
	}
	return max(math.MinInt32, min(value*int64(weight), math.MaxInt32))
}

// fileFaultStatus is the status keepalived reports for a file that means
// FAULT: -254 with weight 0, else the weighted value.
func fileFaultStatus(value int64, weight int, reverse bool) int64 {
	if weight == 0 {
		return -254
	}
	return weighted(value, weight, reverse)
}

// watchedFile is one tracked file and the last value read from it.
type watchedFile struct {
	spec  *config.TrackFileSpec
	path  string // resolved, as keepalived's realpath
	base  string // its name in the watched directory
	value int64
}

// fileWatcher follows tracked files by watching their directories, so
// that it sees them written, created, deleted and renamed.
type fileWatcher struct {
	log   *slog.Logger
	src   FileSource
	watch DirWatch
	byWD  map[int][]*watchedFile
	files []*watchedFile
	out   chan<- fileValue
	done  <-chan struct{}
}

// watchFiles reads the tracked files and follows them on a goroutine
// counted in wg until done is closed, sending each change of value to
// out. It returns the values read at start; a file whose directory does
// not exist or cannot be resolved is left out (keepalived removes it, and
// the instances tracking it ignore it).
func watchFiles(log *slog.Logger, src FileSource, specs []*config.TrackFileSpec, out chan<- fileValue, done <-chan struct{}, wg *sync.WaitGroup) map[string]int64 {
	w := &fileWatcher{log: log, src: src, byWD: map[int][]*watchedFile{}, out: out, done: done}
	initial := map[string]int64{}
	for _, s := range specs {
		wf, problem := resolveTrackFile(src, s)
		if wf == nil {
			log.Error(problem)
			continue
		}
		w.files = append(w.files, wf)
		initial[s.Name] = wf.value
	}
	if len(w.files) == 0 {
		return initial
	}
	if err := w.open(); err != nil {
		log.Error("Unable to monitor track files: their values stay as read at start", "err", err)
		return initial
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.run()
	}()
	return initial
}

// resolveTrackFile resolves a tracked file's path as init_track_files
// does (symbolic links followed; for a missing file, its directory) and
// reads its value. When it cannot, it returns nil and keepalived's message.
func resolveTrackFile(src FileSource, s *config.TrackFileSpec) (*watchedFile, string) {
	abs, err := filepath.Abs(s.Path)
	if err != nil {
		return nil, fmt.Sprintf("track file %s is not accessible - ignoring (%v)", s.Name, err)
	}
	path, err := filepath.EvalSymlinks(abs)
	exists := err == nil
	switch {
	case errors.Is(err, os.ErrNotExist):
		dir, derr := filepath.EvalSymlinks(filepath.Dir(abs))
		if st, serr := os.Stat(dir); derr != nil || serr != nil || !st.IsDir() {
			return nil, fmt.Sprintf("Track file directory for %s does not exist - removing", s.Name)
		}
		path = filepath.Join(dir, filepath.Base(abs))
	case err != nil:
		return nil, fmt.Sprintf("track file %s is not accessible - ignoring (%v)", s.Name, err)
	}
	wf := &watchedFile{spec: s, path: path, base: filepath.Base(path)}
	if exists {
		if v, ok := readTrackFile(src, path); ok {
			wf.value = v
		}
	}
	return wf, ""
}

// open starts the watch and watches each file's directory.
func (w *fileWatcher) open() error {
	watch, err := w.src.WatchDirs()
	if err != nil {
		return err
	}
	w.watch = watch
	for _, wf := range w.files {
		wd, err := watch.Add(filepath.Dir(wf.path))
		if err != nil {
			w.log.Error("cannot watch track file "+wf.spec.Name+": its value stays as read at start", "err", err)
			continue
		}
		w.byWD[wd] = append(w.byWD[wd], wf)
	}
	return nil
}

// run applies the watch's events until done is closed, and closes the
// watch.
func (w *fileWatcher) run() {
	defer w.watch.Close()
	for {
		select {
		case ev, ok := <-w.watch.Events():
			if !ok {
				w.log.Error("inotify read error: track files are no longer followed", "err", w.watch.Err())
				return
			}
			if !w.handle(ev) {
				return
			}
		case <-w.done:
			return
		}
	}
}

// handle applies one event; it returns false once done is closed.
func (w *fileWatcher) handle(ev kernel.FileEvent) bool {
	switch ev.Op {
	case kernel.EventsLost:
		// Events were lost: read every file again.
		for _, wf := range w.files {
			if !w.reread(wf) {
				return false
			}
		}
		return true
	case kernel.DirGone:
		for _, wf := range w.byWD[ev.Watch] {
			w.log.Warn("the directory of track file " + wf.spec.Name + " is gone: its value stays " + strconv.FormatInt(wf.value, 10))
		}
		delete(w.byWD, ev.Watch)
		return true
	}
	for _, wf := range w.byWD[ev.Watch] {
		if wf.base != ev.Name {
			continue
		}
		if ev.Op == kernel.FileRemoved {
			// Gone: it reads as 0, as in keepalived's process_inotify.
			if !w.set(wf, 0) {
				return false
			}
		} else if !w.reread(wf) {
			return false
		}
	}
	return true
}

// reread reads a file again and sends its value if it changed.
func (w *fileWatcher) reread(wf *watchedFile) bool {
	v, ok := readTrackFile(w.src, wf.path)
	if !ok {
		w.log.Warn(fmt.Sprintf("Invalid number %d read from %s - ignoring", v, wf.path))
		return true
	}
	return w.set(wf, v)
}

// set records a file's value and sends it when it changed.
func (w *fileWatcher) set(wf *watchedFile, v int64) bool {
	if v == wf.value {
		return true
	}
	wf.value = v
	select {
	case w.out <- fileValue{name: wf.spec.Name, value: v}:
		return true
	case <-w.done:
		return false
	}
}
