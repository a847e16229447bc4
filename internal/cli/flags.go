// Package cli reads keepalived's command line: the same short and long
// options, with getopt_long's rules (combined short flags, "-fFILE",
// "-f FILE", "--opt=VAL", "--opt VAL", optional arguments only attached).
package cli

import (
	"fmt"
	"strings"
)

type argKind int

const (
	noArg argKind = iota
	requiredArg
	optionalArg
)

type option struct {
	short rune
	long  string
	arg   argKind
	help  string
}

// options is keepalived 2.2.7's option table (core/main.c), plus our own
// long-only options, which keepalived does not have.
var options = []option{
	{'f', "use-file", requiredArg, "Use the specified configuration file (default /etc/keepalived/keepalived.conf)"},
	{'P', "vrrp", noArg, "Only run with VRRP subsystem"},
	{'C', "check", noArg, "Only run with Health-checker subsystem"},
	{'B', "no_bfd", noArg, "Don't run BFD subsystem"},
	{0, "all", noArg, "Force all subsystems to run, even if they have no configuration"},
	{'l', "log-console", noArg, "Log messages to local console"},
	{'D', "log-detail", noArg, "Detailed log messages"},
	{'S', "log-facility", requiredArg, "Set syslog facility to LOG_LOCAL[0-7], user or daemon (default)"},
	{'g', "log-file", requiredArg, "Also log to FILE"},
	{0, "flush-log-file", noArg, "Flush the log file after each write"},
	{'G', "no-syslog", noArg, "Don't log via syslog"},
	{'u', "umask", requiredArg, "umask for file creation (in numeric form)"},
	{'X', "release-vips", noArg, "Drop VIP on transition from signal"},
	{'V', "dont-release-vrrp", noArg, "Don't remove VRRP VIPs and VROUTEs on daemon stop"},
	{'I', "dont-release-ipvs", noArg, "Don't remove IPVS topology on daemon stop"},
	{'R', "dont-respawn", noArg, "Don't respawn child processes"},
	{'n', "dont-fork", noArg, "Don't fork the daemon process"},
	{'d', "dump-conf", noArg, "Dump the configuration data"},
	{'p', "pid", requiredArg, "Use specified pidfile for parent process"},
	{'r', "vrrp_pid", requiredArg, "Use specified pidfile for VRRP child process"},
	{'T', "genhash", noArg, "Enter into genhash utility mode"},
	{'c', "checkers_pid", requiredArg, "Use specified pidfile for checkers child process"},
	{'a', "address-monitoring", noArg, "Report all address additions/deletions notified via netlink"},
	{'b', "bfd_pid", requiredArg, "Use specified pidfile for BFD child process"},
	{'x', "snmp", noArg, "Enable SNMP subsystem"},
	{'A', "snmp-agent-socket", requiredArg, "Use the specified socket for master agent"},
	{'s', "namespace", requiredArg, "Run in network namespace NAME (overrides config)"},
	{'m', "core-dump", noArg, "Produce core dump if terminate abnormally"},
	{'M', "core-dump-pattern", optionalArg, "Also set /proc/sys/kernel/core_pattern to PATN (default 'core')"},
	{'e', "all-config", noArg, "Error if any configuration file missing (same as includet)"},
	{'i', "config-id", requiredArg, "Skip configuration lines beginning '@' that don't match id"},
	{0, "signum", requiredArg, "Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON"},
	{'t', "config-test", optionalArg, "Check the configuration, output to stderr or LOG_FILE"},
	{0, "perf", optionalArg, "Record perf data (accepted for compatibility; no effect)"},
	{0, "debug", optionalArg, "Debug options (accepted for compatibility; no effect)"},
	{0, "no-mem-check", noArg, "Accepted for compatibility; no effect"},
	{'v', "version", noArg, "Display the version number"},
	{'h', "help", noArg, "Display this help message"},
	// keepalived-go's own.
	{0, "dump-json", optionalArg, "Write the parsed configuration as JSON to FILE (default stdout) and exit"},
	{0, "web.listen-address", requiredArg, "Serve Prometheus /metrics, JSON /status and /healthz on ADDR (e.g. 127.0.0.1:9165), as the keepalived exporters' flag"},
	{0, "api-listen", requiredArg, "The same as --web.listen-address"},
	{0, "lvs-backend", requiredArg, "Program virtual servers with auto (IPVS if the kernel has it, else nftables), ipvs or nftables"},
	{0, "lvs-nftables-approximate", noArg, "With nftables, hold what it cannot express (lb_algo wlc, keepalived's default, lc, sed, nq, ovf, lblc, lblcr, mh; DR, TUN; persistence_engine, ops, thresholds) by the nearest equivalent, with a warning, instead of refusing to start"},
}

// Flags is the parsed command line. Values holds every option given, by
// long name, with its argument ("" for flags); the fields are the ones the
// daemon reads.
type Flags struct {
	Values map[string]string
	Args   []string // non-option arguments (keepalived ignores them)
	// Genhash holds, after -T (--genhash), the arguments left for
	// genhash, which reads them with its own options; GenhashAs is how
	// -T was written, GenhashLate that options came before it.
	Genhash     []string
	GenhashAs   string
	GenhashLate bool
}

// Has tells whether the option (long name) was given.
func (f *Flags) Has(long string) bool { _, ok := f.Values[long]; return ok }

// Get returns the option's argument, or def if the option was absent.
func (f *Flags) Get(long, def string) string {
	if v, ok := f.Values[long]; ok && v != "" {
		return v
	}
	return def
}

// Parse reads args (without the program name). An unknown option is an
// error, as in keepalived, which then exits 1.
func Parse(args []string) (*Flags, error) {
	f := &Flags{Values: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		var err error
		switch {
		case a == "--":
			f.Args = append(f.Args, args[i+1:]...)
			return f, nil
		case strings.HasPrefix(a, "--"):
			i, err = f.parseLong(args, i)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			i, err = f.parseShort(args, i)
		default:
			f.Args = append(f.Args, a)
		}
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *Flags) parseLong(args []string, i int) (int, error) {
	name, val, hasVal := strings.Cut(args[i][2:], "=")
	o := findLong(name)
	if o == nil {
		//lint:ignore ST1005 keepalived's exact wording, which scripts may match
		return i, fmt.Errorf("Unknown option %s", args[i])
	}
	switch {
	case o.arg == noArg && hasVal:
		return i, fmt.Errorf("option '--%s' doesn't allow an argument", o.long)
	case o.arg == requiredArg && !hasVal:
		if i+1 >= len(args) {
			return i, fmt.Errorf("option '--%s' requires an argument", o.long)
		}
		i++
		val = args[i]
	}
	f.Values[o.long] = val
	if o.long == "genhash" {
		f.genhash("genhash", nil, args[i+1:])
		return len(args), nil
	}
	return i, nil
}

// genhash stops the parse at -T: what follows is genhash's (core/main.c
// hands getopt's state over to check_genhash).
func (f *Flags) genhash(as string, cluster, rest []string) {
	f.GenhashAs, f.GenhashLate = as, len(f.Values) > 1
	f.Genhash = append(cluster, rest...)
}

func (f *Flags) parseShort(args []string, i int) (int, error) {
	a := args[i]
	for j := 1; j < len(a); j++ {
		o := findShort(rune(a[j]))
		if o == nil {
			//lint:ignore ST1005 keepalived's exact wording, which scripts may match
			return i, fmt.Errorf("Unknown option -%c", a[j])
		}
		if o.arg == noArg {
			f.Values[o.long] = ""
			if o.long == "genhash" {
				var cluster []string
				if j+1 < len(a) {
					cluster = []string{"-" + a[j+1:]}
				}
				f.genhash("-T", cluster, args[i+1:])
				return len(args), nil
			}
			continue
		}
		val := a[j+1:]
		if val == "" && o.arg == requiredArg {
			if i+1 >= len(args) {
				return i, fmt.Errorf("option requires an argument -- '%c'", a[j])
			}
			i++
			val = args[i]
		}
		f.Values[o.long] = val
		return i, nil
	}
	return i, nil
}

func findLong(name string) *option {
	for i := range options {
		if options[i].long == name {
			return &options[i]
		}
	}
	return nil
}

func findShort(c rune) *option {
	for i := range options {
		if options[i].short == c {
			return &options[i]
		}
	}
	return nil
}

// LVSBackends are --lvs-backend's values; the first is the default.
var LVSBackends = []string{"auto", "ipvs", "nftables"}

// LVSBackend is --lvs-backend's value ("auto" if absent), or an error for
// a value it does not take.
func (f *Flags) LVSBackend() (string, error) {
	v := f.Get("lvs-backend", LVSBackends[0])
	for _, b := range LVSBackends {
		if v == b {
			return v, nil
		}
	}
	return "", fmt.Errorf("invalid --lvs-backend %q: auto, ipvs or nftables", v)
}

// Usage is the help text, in keepalived's layout.
func Usage(prog string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s [OPTION...]\n", prog)
	for _, o := range options {
		left := "    "
		if o.short != 0 {
			left = fmt.Sprintf("-%c, ", o.short)
		}
		left += "--" + o.long
		switch o.arg {
		case requiredArg:
			left += "=ARG"
		case optionalArg:
			left += "[=ARG]"
		}
		fmt.Fprintf(&b, "  %-29s %s\n", left, o.help)
	}
	return b.String()
}

// Signal numbers by keepalived's --signum names (Linux x86-64). TDATA and
// TDUMP exist only in keepalived's debug builds, which Debian does not ship.
var sigfuncs = map[string]int{"STOP": 15, "RELOAD": 1, "DATA": 10, "STATS": 12, "STATS_CLEAR": 63, "JSON": 36}

// Signum returns the signal number for a --signum name.
func Signum(name string) (int, bool) {
	n, ok := sigfuncs[name]
	return n, ok
}
