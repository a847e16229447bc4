package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// TestVRRPProcessSettings: vrrp_rt_priority, vrrp_priority,
// vrrp_cpu_affinity and vrrp_no_swap reach every thread of the daemon,
// as keepalived applies them to its VRRP process: SCHED_RR at the
// priority, the nice value, the CPU set, locked memory.
func TestVRRPProcessSettings(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	settings := "global_defs {\n    vrrp_rt_priority 10\n    vrrp_priority -5\n    vrrp_cpu_affinity 0\n    vrrp_no_swap\n}\n"
	p := startKGConf(t, r1, trackConf(150, settings, ""))
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", p.Pid()))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of %d: %v", p.Pid(), err)
	}
	for _, task := range tasks {
		stat, err1 := os.ReadFile(task + "/stat")
		status, err2 := os.ReadFile(task + "/status")
		if err1 != nil || err2 != nil {
			continue // the thread exited
		}
		// The fields after "(comm)" start with the 3rd, state; nice is
		// the 19th, rt_priority the 40th and policy the 41st (proc(5)).
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		nice, rtprio, policy := f[19-3], f[40-3], f[41-3]
		if nice != "-5" || rtprio != "10" || policy != "2" {
			t.Errorf("thread %s: nice %s, rt_priority %s, policy %s; want -5, 10, 2 (SCHED_RR)", task, nice, rtprio, policy)
		}
		if !strings.Contains(string(status), "Cpus_allowed_list:\t0\n") {
			t.Errorf("thread %s may run on other CPUs than 0:\n%s", task, status)
		}
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if strings.Contains(string(status), "VmLck:\t       0 kB") {
		t.Errorf("vrrp_no_swap: no memory locked:\n%s", status)
	}
}

// threadSched is a thread's nice value, real-time priority and policy
// from /proc/PID/task/TID/stat (the 19th, 40th and 41st fields, proc(5));
// ok is false when the thread has exited.
func threadSched(task string) (nice, rtprio, policy string, ok bool) {
	stat, err := os.ReadFile(task + "/stat")
	if err != nil {
		return "", "", "", false
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	return f[19-3], f[40-3], f[41-3], true
}

// TestCheckerThreadHasTheCheckersSettings: with vrrp_rt_priority and a
// virtual server under TCP_CHECK, every thread runs SCHED_RR but the
// health checks' own, which has checker_priority under the normal policy,
// as keepalived's checker child has its own settings: a busy checker
// does not compete with VRRP at VRRP's priority.
func TestCheckerThreadHasTheCheckersSettings(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	settings := "global_defs {\n    vrrp_rt_priority 10\n    checker_priority 7\n}\n" +
		"virtual_server 198.51.100.200 80 {\n    delay_loop 1\n    lb_algo rr\n    protocol TCP\n" +
		"    real_server 198.51.100.9 80 {\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n}\n"
	path, err := l.WriteFile("sched.conf", trackConf(150, settings, ""))
	if err != nil {
		t.Fatal(err)
	}
	p, err := r1.Start(binary, append([]string{"-n", "-l", "-D", "--lvs-backend=nftables", "-f", path}, r1.PidArgs("kg")...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(); dumpLogOnFailure(t, r1, p) })
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	var normal, realTime []string
	err = lab.WaitUntil("one thread with the checker's settings", 5*time.Second, func() bool {
		normal, realTime = nil, nil
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", p.Pid()))
		for _, task := range tasks {
			nice, rtprio, policy, ok := threadSched(task)
			switch {
			case !ok:
			case nice == "7" && rtprio == "0" && policy == "0":
				normal = append(normal, task)
			case rtprio == "10" && policy == "2":
				realTime = append(realTime, task)
			default:
				t.Logf("thread %s: nice %s, rt_priority %s, policy %s", task, nice, rtprio, policy)
			}
		}
		return len(normal) == 1 && len(realTime) == len(tasks)-1
	})
	if err != nil {
		t.Fatalf("%v: checker-like threads %q, SCHED_RR threads %d", err, normal, len(realTime))
	}
}

// TestScriptsDoNotRunRealTime: with vrrp_rt_priority and vrrp_priority
// the daemon runs SCHED_RR at nice -5, but its scripts (a vrrp_script and
// a notify script) run with the normal policy at nice 0, as keepalived's
// reset_process_priorities makes them: a looping script must not starve
// the host.
func TestScriptsDoNotRunRealTime(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	dir := t.TempDir()
	// The probe writes its own policy and nice value: after "PID (comm) ",
	// field 1 is /proc/PID/stat's 3rd, so policy (41st) is $39 and nice
	// (19th) is $17 (proc(5)).
	probe := filepath.Join(dir, "probe.sh")
	err := os.WriteFile(probe, []byte("#!/bin/sh\nout=$1\nset -- $(sed 's/^.*) //' /proc/$$/stat)\neval \"echo \\${39} \\${17}\" >\"$out\"\n"), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	blocks := "global_defs {\n    vrrp_rt_priority 10\n    vrrp_priority -5\n}\n" +
		"vrrp_script probe {\n    script \"" + probe + " " + filepath.Join(dir, "script") + "\"\n    interval 1\n}\n"
	track := "    track_script {\n        probe\n    }\n    notify_master \"" + probe + " " + filepath.Join(dir, "notify") + "\"\n"
	startKGConf(t, r1, trackConf(150, blocks, track))
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	for _, name := range []string{"script", "notify"} {
		var got string
		err := lab.WaitUntil("the "+name+" ran", 5*time.Second, func() bool {
			b, err := os.ReadFile(filepath.Join(dir, name))
			got = strings.TrimSpace(string(b))
			return err == nil && got != ""
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != "0 0" {
			t.Errorf("the %s ran with policy and nice %q, want \"0 0\" (SCHED_NORMAL, nice 0)", name, got)
		}
	}
}
