//go:build linux

package kernel

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDirWatcherReportsWhatHappensToFiles: written in place, replaced by
// a rename, deleted, renamed away, a subdirectory (not reported), the
// directory itself removed; and Close ends the events.
func TestDirWatcherReportsWhatHappensToFiles(t *testing.T) {
	dir := t.TempDir()
	w, err := WatchDirs()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wd, err := w.Add(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := w.Add(dir); err != nil || again != wd {
		t.Fatalf("a directory added twice: %d %v, want %d", again, err, wd)
	}
	expect := func(step string, want FileEvent) {
		t.Helper()
		deadline := time.After(3 * time.Second)
		for {
			select {
			case ev, ok := <-w.Events():
				if !ok {
					t.Fatalf("%s: the events ended: %v", step, w.Err())
				}
				if ev == want {
					return
				}
			case <-deadline:
				t.Fatalf("%s: no %+v", step, want)
			}
		}
	}
	path := filepath.Join(dir, "state")
	os.WriteFile(path, []byte("1\n"), 0o644)
	expect("written", FileEvent{Watch: wd, Name: "state", Op: FileChanged})
	tmp := filepath.Join(dir, "tmp")
	os.WriteFile(tmp, []byte("2\n"), 0o644)
	os.Rename(tmp, path)
	expect("renamed over", FileEvent{Watch: wd, Name: "state", Op: FileChanged})
	os.Rename(path, tmp)
	expect("renamed away", FileEvent{Watch: wd, Name: "state", Op: FileRemoved})
	os.Remove(tmp)
	expect("deleted", FileEvent{Watch: wd, Name: "tmp", Op: FileRemoved})
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Remove(filepath.Join(dir, "sub"))
	os.WriteFile(path, []byte("3\n"), 0o644)
	// The subdirectory's events are skipped: the next one is the file's.
	select {
	case ev := <-w.Events():
		if ev != (FileEvent{Watch: wd, Name: "state", Op: FileChanged}) {
			t.Fatalf("after a subdirectory came and went: %+v, want the file's change", ev)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no event")
	}
	os.Remove(path)
	expect("deleted", FileEvent{Watch: wd, Name: "state", Op: FileRemoved})
	os.Remove(dir)
	expect("directory gone", FileEvent{Watch: wd, Op: DirGone})
	w.Close()
	for range w.Events() {
	}
	if w.Err() != nil {
		t.Fatalf("Err after Close: %v", w.Err())
	}
	w.Close() // twice is fine
}

func TestParseInotifyOverflowAndShortBuffers(t *testing.T) {
	ev := make([]byte, 16)
	binary.NativeEndian.PutUint32(ev[4:], syscall.IN_Q_OVERFLOW) // struct inotify_event: wd, mask, cookie, len
	if got := parseInotify(ev); len(got) != 1 || got[0].Op != EventsLost {
		t.Fatalf("overflow: %+v", got)
	}
	// A name length past the end is not read.
	binary.NativeEndian.PutUint32(ev[12:], 64)
	if got := parseInotify(ev); len(got) != 0 {
		t.Fatalf("truncated: %+v", got)
	}
	parseInotify(ev[:5])
}

// TestReadNonblockingFIFO: a FIFO with nothing in it reads empty at once.
func TestReadNonblockingFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if b, err := ReadNonblocking(path, 127); err != nil || len(b) != 0 {
			t.Errorf("empty FIFO: %q %v", b, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("reading an empty FIFO blocks")
	}
	if _, err := ReadNonblocking(filepath.Join(t.TempDir(), "missing"), 127); !os.IsNotExist(err) {
		t.Fatalf("a missing file: %v", err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("12345"), 0o644)
	if b, err := ReadNonblocking(file, 3); err != nil || string(b) != "123" {
		t.Fatalf("limit 3: %q %v", b, err)
	}
}
