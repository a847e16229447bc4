//go:build ipvsguest

package qemu

// global_defs's IPVS keywords in the guest (see qemu_test.go):
// lvs_timeouts, lvs_flush, lvs_flush_on_stop and lvs_sync_daemon without
// a VRRP instance, under Debian's
// keepalived 2.2.7 and keepalived-go on the same files; what `ipvsadm`
// shows at each step must be the same. It all happens in a network
// namespace of its own ("gl", its own IPVS), since flushing the table and
// changing the timeouts would reach the other tests' IPVS.

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const globalsVS = `
virtual_server 10.0.0.5 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.2.0.2 80 {
        weight 1
    }
}
`

// daemonRun is keepalived or keepalived-go running a configuration in
// the guest's root namespace; stop sends TERM and waits.
type daemonRun struct {
	stop func(t *testing.T)
	log  func() string
}

func runDaemon(t *testing.T, who, conf string) daemonRun {
	t.Helper()
	if err := os.WriteFile("/tmp/gl.conf", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out syncWriter
	// ip netns exec execs the daemon: the signals reach it.
	args := []string{"netns", "exec", "gl", "/sbin/keepalived", "-n", "-l", "-G", "-D", "-f", "/tmp/gl.conf", "-p", "/tmp/gl.pid",
		"-c", "/tmp/gl-checkers.pid", "-r", "/tmp/gl-vrrp.pid"}
	if who == "keepalived-go" {
		args = []string{"netns", "exec", "gl", os.Getenv("KG_BINARY"), "-n", "-l", "-D", "-C", "-f", "/tmp/gl.conf", "-p", "/tmp/gl.pid",
			"-c", "/tmp/gl-checkers.pid"}
	}
	cmd := exec.Command("/sbin/ip", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return daemonRun{log: out.String, stop: func(t *testing.T) {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal(who + " did not stop after TERM")
		}
	}}
}

// syncWriter is a log buffer safe for a process's two streams.
type syncWriter struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (w *syncWriter) lock() {
	if w.mu == nil {
		w.mu = make(chan struct{}, 1)
	}
	w.mu <- struct{}{}
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.lock()
	defer func() { <-w.mu }()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.lock()
	defer func() { <-w.mu }()
	return w.buf.String()
}

// gl runs a command in the namespace gl.
func gl(t *testing.T, name string, args ...string) string {
	t.Helper()
	return run(t, "/sbin/ip", append([]string{"netns", "exec", "gl", name}, args...)...)
}

// timeoutLine is `ipvsadm -Ln --timeout`: "Timeout (tcp tcpfin udp):
// 900 120 300".
func timeoutLine(t *testing.T) string {
	return strings.TrimSpace(gl(t, "ipvsadm", "-Ln", "--timeout"))
}

// services are the -A lines of `ipvsadm -Sn`, sorted.
func services(t *testing.T) []string {
	var out []string
	for _, l := range strings.Split(gl(t, "ipvsadm", "-Sn"), "\n") {
		if strings.HasPrefix(l, "-A ") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// globalsSteps runs the scenario under one daemon and returns what
// ipvsadm showed at each step.
func globalsSteps(t *testing.T, who string) []string {
	var seen []string
	note := func(step string, what ...string) {
		seen = append(seen, step+": "+strings.Join(what, " | "))
	}
	reset := func() {
		gl(t, "ipvsadm", "-C")
		gl(t, "ipvsadm", "--set", "900", "120", "300")
		gl(t, "ipvsadm", "-A", "-t", manual, "-s", "rr")
	}
	started := func(d daemonRun) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(gl(t, "ipvsadm", "-Ln"), "10.0.0.5:80") {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not program 10.0.0.5:80:\n%s\n%s", who, gl(t, "ipvsadm", "-Ln"), d.log())
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// lvs_timeouts: set at start (the kernel's value where none is
	// configured), restored at stop; without lvs_flush the service made
	// by hand stays.
	reset()
	d := runDaemon(t, who, "global_defs {\n    lvs_timeouts tcp 7200 udp 60\n}\n"+globalsVS)
	started(d)
	note("timeouts, running", append([]string{timeoutLine(t)}, services(t)...)...)
	d.stop(t)
	note("timeouts, stopped", append([]string{timeoutLine(t)}, services(t)...)...)

	// lvs_flush: the service made by hand is gone after start;
	// lvs_flush_on_stop: one made while running is gone after stop.
	reset()
	d = runDaemon(t, who, "global_defs {\n    lvs_flush\n    lvs_flush_on_stop\n}\n"+globalsVS)
	started(d)
	note("lvs_flush, running", services(t)...)
	gl(t, "ipvsadm", "-A", "-t", "10.9.9.8:80", "-s", "wlc")
	d.stop(t)
	note("lvs_flush_on_stop, stopped", services(t)...)

	// lvs_flush_on_stop VS: only the daemon's own services go.
	reset()
	d = runDaemon(t, who, "global_defs {\n    lvs_flush_on_stop VS\n}\n"+globalsVS)
	started(d)
	note("lvs_flush_on_stop VS, running", services(t)...)
	d.stop(t)
	note("lvs_flush_on_stop VS, stopped", services(t)...)

	// lvs_sync_daemon without a VRRP instance: the checkers run both
	// daemons from start to stop.
	reset()
	d = runDaemon(t, who, "global_defs {\n    lvs_sync_daemon g0 id 9\n}\n"+globalsVS)
	started(d)
	note("lvs_sync_daemon, running", daemonLine(t, "gl"))
	d.stop(t)
	note("lvs_sync_daemon, stopped", daemonLine(t, "gl"))
	return seen
}

func TestGuestLVSGlobals(t *testing.T) {
	run(t, "/sbin/ip", "netns", "add", "gl")
	t.Cleanup(func() { exec.Command("/sbin/ip", "netns", "del", "gl").Run() })
	run(t, "/sbin/ip", "-n", "gl", "link", "set", "lo", "up")
	run(t, "/sbin/ip", "-n", "gl", "link", "add", "g0", "type", "veth", "peer", "name", "g1")
	run(t, "/sbin/ip", "-n", "gl", "link", "set", "g0", "up")
	run(t, "/sbin/ip", "-n", "gl", "link", "set", "g1", "up")
	theirs := globalsSteps(t, "keepalived")
	ours := globalsSteps(t, "keepalived-go")
	t.Logf("under keepalived 2.2.7:\n%s", strings.Join(theirs, "\n"))
	if !slices.Equal(ours, theirs) {
		t.Errorf("under keepalived-go:\n%s", strings.Join(ours, "\n"))
	}
	// And what a user expects, whoever is right.
	for _, want := range []string{
		"timeouts, running: Timeout (tcp tcpfin udp): 7200 120 60 | -A -t 10.0.0.5:80 -s rr | -A -t 10.9.9.9:80 -s rr",
		"timeouts, stopped: Timeout (tcp tcpfin udp): 900 120 300 | -A -t 10.9.9.9:80 -s rr",
		"lvs_flush, running: -A -t 10.0.0.5:80 -s rr",
		"lvs_flush_on_stop, stopped: ",
		"lvs_flush_on_stop VS, stopped: -A -t 10.9.9.9:80 -s rr",
		"lvs_sync_daemon, running: master sync daemon (mcast=g0, syncid=9, maxlen=1472, group=224.0.0.81, port=8848, ttl=1) " +
			"backup sync daemon (mcast=g0, syncid=9, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)",
		"lvs_sync_daemon, stopped: ",
	} {
		if !slices.Contains(ours, want) {
			t.Errorf("keepalived-go: no step %q", want)
		}
	}
}
