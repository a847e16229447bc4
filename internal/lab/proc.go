package lab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPUSeconds sums utime+stime of the processes (/proc/PID/stat fields 14
// and 15, in clock ticks of 1/100 s).
func CPUSeconds(pids ...int) (float64, error) {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndex(s, ")")+2:])
		u, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		ticks += u + st
	}
	return float64(ticks) / 100, nil
}

// RSSKiB sums VmRSS of the processes.
func RSSKiB(pids ...int) (int64, error) {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
				total += kb
			}
		}
	}
	return total, nil
}

// SmapsKiB sums a field of the processes' /proc/PID/smaps_rollup: "Rss"
// or "Pss" (the proportional set size: pages the processes share, a
// forked child's or libraries', counted once in all). Both are read
// from the page tables, exact where VmRSS is not (the kernel updates
// it from per-thread counters in batches).
func SmapsKiB(field string, pids ...int) (int64, error) {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, field+":") {
				kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
				total += kb
			}
		}
	}
	return total, nil
}

// Tree is pid and all its descendants (from the parent pids in
// /proc/*/stat): a daemon's processes, such as keepalived's checker
// child beside its parent.
func Tree(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndex(s, ")")+2:])
		if len(fields) > 1 {
			pp, _ := strconv.Atoi(fields[1])
			children[pp] = append(children[pp], p)
		}
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}
