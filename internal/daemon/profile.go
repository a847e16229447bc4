package daemon

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
)

// CPUProfileEnv names the environment variable that, when set to a file
// name, makes the daemon write a Go CPU profile of its whole run (from
// before the configuration is read until it has stopped) to that file.
// It is keepalived-go's own, for measuring (keepalived has no such
// thing); an environment variable rather than a flag, so that no flag
// of keepalived's, present or future, can clash with it. A detaching
// daemon profiles its detached child only. A %p in the name is replaced
// by the process id, for several daemons started with one environment.
const CPUProfileEnv = "KEEPALIVED_GO_CPUPROFILE"

// startCPUProfile starts the profile CPUProfileEnv asks for, if any, and
// returns the function that stops it and closes the file.
func startCPUProfile(log *slog.Logger) (stop func()) {
	path := profilePath(CPUProfileEnv)
	if path == "" {
		return func() {}
	}
	fh, err := os.Create(path)
	if err != nil {
		log.Error("cannot write the CPU profile "+CPUProfileEnv+" asks for", "err", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		log.Error("cannot start the CPU profile "+CPUProfileEnv+" asks for", "err", err)
		return func() {}
	}
	log.Info("writing a CPU profile", "file", path)
	return func() {
		pprof.StopCPUProfile()
		if err := fh.Close(); err != nil {
			log.Error("cannot write the CPU profile", "file", path, "err", err)
		}
	}
}

// HeapProfileEnv names the environment variable that, when set to a file
// name, makes the daemon write a Go heap profile to that file when it is
// told to stop, before it releases anything: what the running daemon
// holds (inuse_space) and what it allocated since it started
// (alloc_space). Like CPUProfileEnv, keepalived-go's own, for measuring.
const HeapProfileEnv = "KEEPALIVED_GO_HEAPPROFILE"

// writeHeapProfile writes the profile HeapProfileEnv asks for, if any,
// after a collection, so that inuse_space is what is live.
func writeHeapProfile(log *slog.Logger) {
	path := profilePath(HeapProfileEnv)
	if path == "" {
		return
	}
	runtime.GC()
	fh, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("heap").WriteTo(fh, 0)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		log.Error("cannot write the heap profile "+HeapProfileEnv+" asks for", "file", path, "err", err)
		return
	}
	log.Info("wrote a heap profile", "file", path)
}

// profilePath is the file the environment variable env names, with %p
// replaced by the process id.
func profilePath(env string) string {
	return strings.ReplaceAll(os.Getenv(env), "%p", strconv.Itoa(os.Getpid()))
}
