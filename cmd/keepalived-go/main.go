// Command keepalived-go is a drop-in replacement for keepalived: the same
// configuration file, command line, exit codes and signals.
package main

import (
	"os"
	"runtime/debug"

	"github.com/keepalived-go/keepalived-go/internal/cli"
	"github.com/keepalived-go/keepalived-go/internal/daemon"
)

func main() {
	if f, err := cli.Parse(os.Args[1:]); err == nil && f.Has("config-test") {
		gcForConfigTest()
	}
	os.Exit(daemon.Main(os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
}

// checkMemoryLimit is the heap size at which -t starts collecting.
const checkMemoryLimit = 256 << 20

// gcForConfigTest turns the garbage collector off below checkMemoryLimit
// for -t, unless GOGC or GOMEMLIMIT say otherwise. -t builds the
// configuration's model, which is nearly all it allocates and stays live
// until the process exits: a collection would free little (about 1 MB of
// the 19 MB that reading the 80,000-line benchmark allocates) and costs
// marking and write barriers. The limit bounds what a configuration that
// makes much garbage can take.
func gcForConfigTest() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(checkMemoryLimit)
}
