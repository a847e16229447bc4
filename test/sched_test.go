package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
