package track

import (
	"log/slog"
	"sync"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// FileWatch follows track files for the health checkers' FILE_CHECKs
// with the machinery VRRP's Tracker uses (watchFiles: the directory
// watched with inotify, keepalived's reading of the value, a deleted file
// reading 0).
//
// The checker subsystem has a FileWatch of its own rather than sharing the
// Tracker's: the two subsystems start, reload and stop independently
// (each reads the files again at its reload, as keepalived's VRRP and
// checker processes each have their own inotify descriptor), and a second
// watch of a directory costs one inotify descriptor and one watch.
type FileWatch struct {
	// Initial is each watched file's value when the watch started, by
	// track_file name. A file whose directory does not exist is absent.
	Initial map[string]int64

	values chan fileValue
	done   chan struct{}
	wg     sync.WaitGroup
	stop   sync.Once
}

// WatchFiles writes the files' init_file values (never over an existing
// file at a reload), reads them and watches them. Changes wait until
// Deliver; src nil is the kernel's inotify and file reading.
func WatchFiles(log *slog.Logger, specs []*config.TrackFileSpec, reload bool, src FileSource) *FileWatch {
	if src == nil {
		src = kernelFiles{}
	}
	for _, s := range specs {
		if problem := initTrackFile(s, reload); problem != "" {
			log.Error(problem)
		}
	}
	w := &FileWatch{values: make(chan fileValue, 16), done: make(chan struct{})}
	w.Initial = watchFiles(log, src, specs, w.values, w.done, &w.wg)
	return w
}

// Deliver calls fn with each new value of a file, in order, on a
// goroutine of the FileWatch, until Stop. Call it once.
func (w *FileWatch) Deliver(fn func(name string, value int64)) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case v := <-w.values:
				fn(v.name, v.value)
			case <-w.done:
				return
			}
		}
	}()
}

// Stop ends the watch and returns once fn is no longer called. It may be
// called more than once.
func (w *FileWatch) Stop() {
	if w == nil {
		return
	}
	w.stop.Do(func() {
		close(w.done)
		w.wg.Wait()
	})
}
