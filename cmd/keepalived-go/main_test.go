package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "keepalived-go")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// waitFor polls cond every 20 ms for at most 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDaemonServesKeepalivedSignals runs the daemon in the foreground and
// checks what an operator sees: the pid file, every keyword it does not
// act on logged as not supported, HUP reloading, USR1 dumping, TERM
// stopping with exit 0 and the pid file removed.
func TestDaemonServesKeepalivedSignals(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	pidFile := filepath.Join(dir, "keepalived.pid")
	// No vrrp_instance, and -P: this test runs in the machine's own
	// namespace, where the daemon must neither add addresses nor program
	// virtual servers (nftables). Without the checkers the
	// virtual_server's keywords are read and reported as not acted on.
	os.WriteFile(conf, []byte("global_defs {\n    router_id demo\n}\nvirtual_server 203.0.113.1 80 {\n    delay_loop 6\n    lb_algo rr\n    protocol TCP\n    real_server 203.0.113.2 80 {\n        weight 1\n    }\n}\n"), 0o644)

	cmd := exec.Command(bin, "-n", "-l", "-P", "-f", conf, "-p", pidFile, "-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid"))
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	var logs lab.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	waitFor(t, "the pid file", func() bool { b, _ := os.ReadFile(pidFile); return len(b) > 0 })
	waitFor(t, "the not-supported log", func() bool {
		return strings.Contains(logs.String(), "lb_algo: not supported yet")
	})
	if !strings.Contains(logs.String(), "Line 6) lb_algo: not supported yet") {
		t.Errorf("the not-supported line does not cite the keyword's line:\n%s", logs.String())
	}

	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(logs.String(), "Reloading") })

	cmd.Process.Signal(syscall.SIGUSR1)
	dataFile := filepath.Join(dir, "keepalived.data")
	// keepalived's layout (internal/api/kadata.go): with -P, the VRRP
	// process's file and the parent's.
	waitFor(t, "the data dump", func() bool {
		b, _ := os.ReadFile(dataFile)
		return bytes.Contains(b, []byte("------< Global definitions >------")) && bytes.Contains(b, []byte(" Router ID = demo"))
	})
	if _, err := os.Stat(filepath.Join(dir, "keepalived_parent.data")); err != nil {
		t.Errorf("no parent data dump: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keepalived_check.data")); err == nil {
		t.Error("a checker data dump with -P (keepalived's checker process does not run)")
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon exited with %v after SIGTERM; keepalived exits 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("daemon did not stop within 5 s of SIGTERM")
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file still there after stop: %v", err)
	}
}

// TestCPUProfileEnvWritesAProfile: with KEEPALIVED_GO_CPUPROFILE set,
// the daemon writes a CPU profile of its run that `go tool pprof` reads,
// once it has stopped, and with KEEPALIVED_GO_HEAPPROFILE a heap profile
// named with its pid (%p); without them, no such file appears.
func TestCPUProfileEnvWritesAProfile(t *testing.T) {
	bin := buildBinary(t)
	for _, set := range []bool{true, false} {
		dir := t.TempDir()
		conf := filepath.Join(dir, "keepalived.conf")
		pidFile := filepath.Join(dir, "keepalived.pid")
		prof := filepath.Join(dir, "cpu.pprof")
		// -P and no vrrp_instance: nothing is programmed in this namespace.
		os.WriteFile(conf, []byte("global_defs {\n    router_id demo\n}\n"), 0o644)
		cmd := exec.Command(bin, "-n", "-l", "-P", "-f", conf, "-p", pidFile, "-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid"))
		cmd.Env = append(os.Environ(), "TMPDIR="+dir)
		if set {
			cmd.Env = append(cmd.Env, "KEEPALIVED_GO_CPUPROFILE="+prof, "KEEPALIVED_GO_HEAPPROFILE="+filepath.Join(dir, "heap-%p.pprof"))
		}
		var logs lab.SyncBuffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		waitFor(t, "the pid file", func() bool { b, _ := os.ReadFile(pidFile); return len(b) > 0 })
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("daemon exited with %v after SIGTERM\n%s", err, logs.String())
			}
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatal("daemon did not stop within 5 s of SIGTERM")
		}
		heap := filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", cmd.Process.Pid))
		if !set {
			for _, p := range []string{prof, heap} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("a profile without KEEPALIVED_GO_CPUPROFILE or _HEAPPROFILE: %v", err)
				}
			}
			continue
		}
		for p, want := range map[string]string{prof: "Type: cpu", heap: "Type: inuse_space"} {
			out, err := exec.Command("go", "tool", "pprof", "-top", bin, p).CombinedOutput()
			if err != nil || !strings.Contains(string(out), want) {
				t.Errorf("go tool pprof does not read %s (%v):\n%s\nlogs:\n%s", p, err, out, logs.String())
			}
		}
	}
}
