package daemon

import (
	"log/slog"
	"os"
	"runtime/pprof"
)

// CPUProfileEnv names the environment variable that, when set to a file
// name, makes the daemon write a Go CPU profile of its whole run (from
// before the configuration is read until it has stopped) to that file.
// It is keepalived-go's own, for measuring (keepalived has no such
// thing); an environment variable rather than a flag, so that no flag
// of keepalived's, present or future, can clash with it. A detaching
// daemon profiles its detached child only.
const CPUProfileEnv = "KEEPALIVED_GO_CPUPROFILE"

// startCPUProfile starts the profile CPUProfileEnv asks for, if any, and
// returns the function that stops it and closes the file.
func startCPUProfile(log *slog.Logger) (stop func()) {
	path := os.Getenv(CPUProfileEnv)
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
