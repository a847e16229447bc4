// Command keepalived-go is a drop-in replacement for keepalived: the same
// configuration file, command line, exit codes and signals.
package main

import (
	"os"

	"github.com/keepalived-go/keepalived-go/internal/daemon"
)

func main() {
	os.Exit(daemon.Main(os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
}
