package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A second daemon given the pid file of a running one must not run: at
// its stop it would remove the first one's VIPs. keepalived logs "daemon
// is already running", exits 0 and leaves the file alone.
func TestSecondDaemonRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, "global_defs {\n router_id t\n}\n")
	for _, which := range []string{"main", "vrrp", "checkers"} {
		t.Run(which, func(t *testing.T) {
			files := map[string]string{"main": filepath.Join(dir, which+"-main.pid"), "vrrp": filepath.Join(dir, which+"-vrrp.pid"),
				"checkers": filepath.Join(dir, which+"-checkers.pid")}
			live := strconv.Itoa(os.Getppid()) + "\n"
			if err := os.WriteFile(files[which], []byte(live), 0o644); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var code int
			var stderr string
			go func() {
				defer close(done)
				code, _, stderr = runMain(t, "-n", "-l", "-f", conf, "-p", files["main"], "-r", files["vrrp"], "-c", files["checkers"])
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the second daemon runs")
			}
			if code != 0 || !strings.Contains(stderr, "daemon is already running") {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if b, _ := os.ReadFile(files[which]); string(b) != live {
				t.Fatalf("pid file now %q, want it left naming the running daemon", b)
			}
			for name, f := range files {
				if _, err := os.Stat(f); name != which && err == nil {
					t.Errorf("the refused daemon left %s behind", f)
				}
			}
		})
	}
}

func TestPidFileLockedByAnotherHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pid")
	first, err := createPidFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	defer removePidFiles(first)
	if _, err := createPidFiles(path); !errors.Is(err, errAlreadyRunning) {
		t.Fatalf("second holder: %v, want %v", err, errAlreadyRunning)
	}
}

// A pid file left by a crash names a process that is gone: the daemon
// starts and writes its own pid.
func TestStalePidFileIsTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pid")
	os.WriteFile(path, []byte("2147483646\n"), 0o644)
	files, err := createPidFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("pid file %q", b)
	}
	removePidFiles(files)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("the pid file stays after the daemon stops")
	}
}
