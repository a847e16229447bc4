// Package daemon is keepalived-go's process shell: the command line, -t
// and the dumps of the configuration, logging, detaching, pid files, and
// the signals (HUP reload, TERM stop, USR1/USR2/JSON dumps). It holds no
// keepalived behaviour of its own: each half of keepalived (VRRP in
// internal/vrrpd; the checkers and the data plane next) plugs in as a
// Subsystem that applies a configuration and stops.
package daemon

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/keepalived-go/keepalived-go/internal/cli"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/genhash"
	"github.com/keepalived-go/keepalived-go/internal/statuscmd"
)

// Version is printed by -v; keepalived prints "Keepalived vX.Y.Z".
const Version = "0.1.0"

// DefaultConfigFile is keepalived's default -f.
const DefaultConfigFile = "/etc/keepalived/keepalived.conf"

// Main runs the command line args and returns the process exit code.
func Main(prog string, args []string, stdout, stderr io.Writer) int {
	if filepath.Base(prog) == "genhash" { // Debian's genhash is a link to keepalived
		return genhash.Run(prog, args, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "status" { // keepalived refuses a non-option argument
		return statuscmd.Run(args[1:], stdout, stderr)
	}
	f, err := cli.Parse(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	switch {
	case f.Has("help"):
		fmt.Fprint(stderr, cli.Usage(prog))
		return 0
	case f.Has("version"):
		fmt.Fprintf(stderr, "Keepalived-go v%s (drop-in for Keepalived v2.2.7)\n", Version)
		return 0
	case f.Has("signum"):
		return signum(f.Get("signum", ""), stdout, stderr)
	case f.Has("genhash"):
		if f.GenhashLate {
			fmt.Fprintf(stderr, "Warning -- `%s` not used as first option, previous options ignored\n", f.GenhashAs)
		}
		return genhash.RunFromKeepalived(prog, len(args)+1, f.Genhash, stdout, stderr)
	}
	if _, err := f.LVSBackend(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	path := f.Get("use-file", DefaultConfigFile)
	opts := config.Options{ConfigID: f.Get("config-id", "")}
	switch {
	case f.Has("config-test"):
		return configTest(path, opts, f.Get("config-test", ""), f.Has("dump-conf"), stdout, stderr)
	case f.Has("dump-json"):
		return dumpJSON(path, opts, f.Get("dump-json", ""), stdout, stderr)
	}
	return Run(f, path, opts, stderr)
}

func signum(name string, stdout, stderr io.Writer) int {
	n, ok := cli.Signum(name)
	if !ok {
		fmt.Fprintf(stderr, "Unknown sigfunc %s\n", name)
		return 1
	}
	fmt.Fprintln(stdout, strconv.Itoa(n))
	return 0
}

// configTest is -t: check the configuration, report to stderr (or to the
// file given as -t's argument) and exit with keepalived's codes.
func configTest(path string, opts config.Options, logFile string, dump bool, stdout, stderr io.Writer) int {
	out := stderr
	if logFile != "" {
		fh, err := os.Create(logFile)
		if err != nil {
			fmt.Fprintf(stderr, "cannot open %s: %v\n", logFile, err)
			return config.ExitFatal
		}
		defer fh.Close()
		out = fh
	}
	cfg, diags := config.Load(path, opts)
	for _, d := range diags.Sorted() {
		fmt.Fprintln(out, formatDiagnostic(d))
	}
	if dump {
		cfg.Format(stdout)
	}
	return diags.ExitCode()
}

// formatDiagnostic prints a finding the way keepalived does, "(FILE: Line N)
// message", with our hint after it.
func formatDiagnostic(d config.Diagnostic) string {
	s := d.Msg
	if d.Line > 0 {
		s = fmt.Sprintf("(%s: Line %d) %s", d.File, d.Line, d.Msg)
	}
	if d.Extra {
		s = "hint: " + s
	}
	if d.Hint != "" {
		s += " - " + d.Hint
	}
	return s
}

func dumpJSON(path string, opts config.Options, file string, stdout, stderr io.Writer) int {
	cfg, diags := config.Load(path, opts)
	for _, d := range diags {
		fmt.Fprintln(stderr, formatDiagnostic(d))
	}
	out := stdout
	if file != "" && file != "-" {
		fh, err := os.Create(file)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer fh.Close()
		out = fh
	}
	if err := cfg.WriteJSON(out); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return diags.ExitCode()
}
