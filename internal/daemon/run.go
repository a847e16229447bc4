package daemon

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/keepalived-go/keepalived-go/internal/cli"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// daemonizedEnv marks the re-executed child when keepalived-go detaches
// itself (Go cannot fork; keepalived forks unless -n is given).
const daemonizedEnv = "KEEPALIVED_GO_DETACHED"

// implemented lists the keywords the running daemon acts on. Every other
// keyword in the configuration is logged once as not supported yet, so
// nothing is silently dropped.
var implemented = map[string]bool{}

// Run is the daemon: it reads the configuration, reports what it cannot do
// yet, writes the pid file and serves signals until told to stop.
func Run(f *cli.Flags, path string, opts config.Options, stderr io.Writer) int {
	if !f.Has("dont-fork") && os.Getenv(daemonizedEnv) == "" {
		return detach(stderr)
	}
	// Catch signals before anything else, so that a TERM during start-up
	// still stops cleanly (VIPs released) instead of killing the process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	log := newLogger(f, stderr)
	pidFile := f.Get("pid", "/run/keepalived.pid")
	if err := writePidFile(pidFile); err != nil {
		log.Error("cannot write pid file", "file", pidFile, "err", err)
		return 1
	}
	defer os.Remove(pidFile)
	log.Info("Starting Keepalived-go v" + Version)
	cfg := load(log, path, opts, f.Has("dump-conf"))
	var rt *vrrpRuntime
	if hasVRRPConfig(cfg) && !f.Has("check") {
		k := &kernel.Linux{}
		defer k.Close()
		var err error
		if rt, err = startVRRP(cfg, k, log, f.Has("dont-release-vrrp")); err != nil {
			log.Error("VRRP not started", "err", err)
		}
	}
	reload := func() {
		next := load(log, path, opts, f.Has("dump-conf"))
		if rt != nil {
			// Restarting the instances would drop the VIPs they hold;
			// until reload can apply a difference without that, the
			// running instances keep their configuration.
			log.Warn("reload: VRRP instance changes take effect at the next restart")
		}
		cfg = next
	}
	handlers := map[os.Signal]func(){
		syscall.SIGHUP:  reload,
		syscall.SIGUSR1: func() { dumpData(log, cfg) },
		syscall.SIGUSR2: func() { dumpStats(log, rt) },
	}
	code := serveSignals(log, sigs, handlers)
	if rt != nil {
		rt.stop()
	}
	return code
}

// load reads the configuration and logs its findings and the keywords the
// daemon does not act on yet.
func load(log *slog.Logger, path string, opts config.Options, dump bool) *config.Config {
	cfg, diags := config.Load(path, opts)
	for _, d := range diags {
		if d.Severity == config.Error {
			log.Error(formatDiagnostic(d))
		} else {
			log.Warn(formatDiagnostic(d))
		}
	}
	for _, u := range cfg.KeywordUses() {
		if !implemented[u.Keyword] {
			log.Warn(fmt.Sprintf("(%s: Line %d) %s: not supported yet by keepalived-go, ignored", u.Pos.File, u.Pos.Line, u.Keyword))
		}
	}
	if dump {
		w := &logWriter{log: log}
		cfg.Format(w)
		w.flush()
	}
	return cfg
}

// serveSignals blocks until TERM or INT, running the handler of any other
// signal (HUP reload, USR1 data dump, USR2 stats dump).
func serveSignals(log *slog.Logger, sigs <-chan os.Signal, handlers map[os.Signal]func()) int {
	for s := range sigs {
		if h, ok := handlers[s]; ok {
			if s == syscall.SIGHUP {
				log.Info("Reloading")
			}
			h()
			continue
		}
		log.Info("Stopping")
		return 0
	}
	return 0
}

// dumpData writes the configuration as understood to keepalived's data
// file (SIGUSR1), $TMPDIR/keepalived.data.
func dumpData(log *slog.Logger, cfg *config.Config) {
	writeDump(log, "keepalived.data", func(w io.Writer) error { cfg.Format(w); return nil })
}

// dumpStats writes the VRRP counters to keepalived's stats file
// (SIGUSR2), $TMPDIR/keepalived.stats, in keepalived's format.
func dumpStats(log *slog.Logger, rt *vrrpRuntime) {
	writeDump(log, "keepalived.stats", func(w io.Writer) error {
		if rt == nil {
			return nil
		}
		for _, in := range rt.instances {
			if err := in.WriteStats(w); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeDump writes one of keepalived's dump files in $TMPDIR (default /tmp).
func writeDump(log *slog.Logger, name string, write func(io.Writer) error) {
	dir := os.Getenv("TMPDIR")
	if dir == "" {
		dir = "/tmp"
	}
	file := filepath.Join(dir, name)
	fh, err := os.Create(file)
	if err == nil {
		err = write(fh)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		log.Error("cannot write dump", "file", file, "err", err)
	}
}

func writePidFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// detach re-executes the program in a new session with its output closed,
// as keepalived's fork does, and returns at once.
func detach(stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), daemonizedEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// newLogger logs to the console with -l, else to syslog (unless -G), as
// keepalived does; the ident is keepalived's.
func newLogger(f *cli.Flags, stderr io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if f.Has("log-detail") {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	if !f.Has("log-console") && !f.Has("no-syslog") {
		if w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "Keepalived"); err == nil {
			return slog.New(slog.NewTextHandler(w, hopts))
		}
	}
	return slog.New(slog.NewTextHandler(stderr, hopts))
}

// logWriter turns written text into one log record per line.
type logWriter struct {
	log *slog.Logger
	buf []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.log.Info(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

func (w *logWriter) flush() {
	if len(w.buf) > 0 {
		w.log.Info(string(w.buf))
	}
}

// hasVRRPConfig tells whether keepalived would start its VRRP process:
// instances or static addresses, routes or rules.
func hasVRRPConfig(cfg *config.Config) bool {
	return len(cfg.Instances)+len(cfg.StaticIPAddresses)+len(cfg.StaticRoutes)+len(cfg.StaticRules) > 0
}
