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
