package track

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// The checkers' FileWatch writes init_file, reads the values, and
// delivers each change with the kernel's inotify until Stop; no goroutine
// outlives Stop (TestMain's goleak).
func TestFileWatchForTheCheckers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "weight")
	spec := &config.TrackFileSpec{Name: "w", Path: path, Weight: 1, Init: config.TrackFileCreate, InitValue: 4}
	w := WatchFiles(slog.New(slog.NewTextHandler(io.Discard, nil)), []*config.TrackFileSpec{spec}, false, nil)
	defer w.Stop()
	if v, ok := w.Initial["w"]; !ok || v != 4 {
		t.Fatalf("initial %v, want init_file's 4", w.Initial)
	}
	got := make(chan int64, 16)
	w.Deliver(func(name string, v int64) {
		if name == "w" {
			got <- v
		}
	})
	for _, want := range []int64{7, -2, 0} {
		if want == 0 {
			os.Remove(path)
		} else if err := os.WriteFile(path, []byte(strconv.FormatInt(want, 10)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-got:
			if v != want {
				t.Fatalf("delivered %d, want %d", v, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d not delivered", want)
		}
	}
	w.Stop()
	w.Stop()
}
