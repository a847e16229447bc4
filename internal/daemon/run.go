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
	"time"

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
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, sigJSON)
	defer signal.Stop(sigs)
	log := newLogger(f, stderr)
	pidFile := f.Get("pid", "/run/keepalived.pid")
	if err := writePidFile(pidFile); err != nil {
		log.Error("cannot write pid file", "file", pidFile, "err", err)
		return 1
	}
	defer os.Remove(pidFile)
	log.Info("Starting Keepalived-go v" + Version)
	cfg, _ := load(log, path, opts, f.Has("dump-conf"))
	k := &kernel.Linux{}
	defer k.Close()
	v := vrrpSubsystem{log: log, k: k, on: !f.Has("check"), keepVIPs: f.Has("dont-release-vrrp")}
	v.apply(cfg)
	view := newAPIView(cfg, v.rt)
	stopAPI := startAPI(log, f, view)
	defer stopAPI()
	reload := func() {
		next, diags := load(log, path, opts, f.Has("dump-conf"))
		if reason := refuseReload(path, next, diags); reason != "" {
			log.Error("reload refused, the running configuration stays: " + reason)
			return
		}
		cfg = next
		v.apply(cfg)
		view.update(cfg, v.rt)
	}
	handlers := map[os.Signal]func(){
		syscall.SIGHUP:  reload,
		syscall.SIGUSR1: func() { dumpData(log, cfg) },
		syscall.SIGUSR2: func() { dumpStats(log, v.rt) },
		sigJSON:         func() { dumpKeepalivedJSON(log, view) },
	}
	code := serveSignals(log, sigs, handlers)
	view.update(cfg, nil)
	v.stop()
	return code
}

// vrrpSubsystem starts, reloads and stops the VRRP runtime.
type vrrpSubsystem struct {
	log      *slog.Logger
	k        kernel.Kernel
	on       bool // false with --check (health checks only)
	keepVIPs bool // -V
	rt       *vrrpRuntime
}

// apply runs cfg's VRRP instances: starts them, reloads the running ones
// (carrying their states over) or stops them if cfg has none.
func (v *vrrpSubsystem) apply(cfg *config.Config) {
	if v.on && hasVRRPConfig(cfg) {
		applyProcessSettings(v.log, cfg)
		// Again once VRRP runs: its start made threads, which inherited
		// the settings only from threads that had them.
		defer applyProcessSettings(v.log, cfg)
	}
	var err error
	switch {
	case !v.on:
	case v.rt == nil && hasVRRPConfig(cfg):
		v.rt, err = startVRRP(cfg, v.k, v.log, v.keepVIPs, nil)
	case v.rt != nil && !hasVRRPConfig(cfg):
		v.stop()
	case v.rt != nil:
		start := time.Now()
		v.rt, err = v.rt.reload(cfg, v.keepVIPs)
		v.log.Info("VRRP reloaded", "took", time.Since(start))
	}
	if err != nil {
		v.log.Error("VRRP not started", "err", err)
	}
}

func (v *vrrpSubsystem) stop() {
	if v.rt != nil {
		v.rt.stop()
		v.rt = nil
	}
}

// refuseReload says why a reload must not apply the new configuration, or
// "". A missing or unreadable file (which keepalived reads as an empty
// configuration), a missing parameter or a fatal error (keepalived's exit
// codes 2 and 4) would leave keepalived without its instances, dropping
// every VIP: keepalived-go keeps the running configuration instead. With
// reload_check_config, as in keepalived 2.3, any error refuses it.
func refuseReload(path string, cfg *config.Config, diags config.Diagnostics) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	f.Close()
	code := diags.ExitCode()
	switch {
	case code == config.ExitFatal || code == config.ExitMissingParam:
		return fmt.Sprintf("the new configuration cannot be read (keepalived -t would exit %d)", code)
	case code != config.ExitOK && cfg.GlobalDefs != nil && cfg.GlobalDefs.ReloadCheckConfig != nil:
		return fmt.Sprintf("reload_check_config: the new configuration has errors (keepalived -t would exit %d)", code)
	}
	return ""
}

// load reads the configuration and logs its findings and the keywords the
// daemon does not act on yet.
func load(log *slog.Logger, path string, opts config.Options, dump bool) (*config.Config, config.Diagnostics) {
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
	return cfg, diags
}

// serveSignals blocks until TERM or INT, running the handler of any other
// signal (HUP reload, USR1 data dump, USR2 stats dump, SIGRTMIN+2 JSON
// dump).
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
