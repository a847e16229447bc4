package kernel

import (
	"bytes"
	"os"
	"strconv"
)

// ProcInfo is what process tracking needs of a process.
type ProcInfo struct {
	Comm    string // its name, /proc/PID/stat's second field
	Cmdline []byte // /proc/PID/cmdline: the arguments, each NUL-terminated
}

// Pids lists the processes of the system (the numeric entries of /proc).
func Pids() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(names))
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	return out, nil
}

// ReadProcess reads what is asked of process pid: its name (comm) and its
// command line (cmdline). ok is false if it is gone or a zombie, which
// keepalived does not count.
func ReadProcess(pid int, comm, cmdline bool) (p ProcInfo, ok bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	if comm {
		b, err := os.ReadFile(dir + "/stat")
		if err != nil {
			return p, false
		}
		if p.Comm, ok = parseProcStat(b); !ok {
			return p, false
		}
	}
	if cmdline {
		b, err := os.ReadFile(dir + "/cmdline")
		if err != nil {
			return p, false
		}
		p.Cmdline = b
	}
	return p, true
}

// parseProcStat reads the name of a process from its /proc/PID/stat,
// "PID (COMM) STATE ...", where the name may hold spaces and parentheses;
// ok is false for a zombie or a line it cannot read.
func parseProcStat(b []byte) (comm string, ok bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 >= len(b) || b[end+2] == 'Z' {
		return "", false
	}
	return string(b[open+1 : end]), true
}
