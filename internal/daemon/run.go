package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/api"
	"github.com/keepalived-go/keepalived-go/internal/checkd"
	"github.com/keepalived-go/keepalived-go/internal/cli"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs/ipvs"
	"github.com/keepalived-go/keepalived-go/internal/vrrpd"
)

// daemonizedEnv marks the re-executed child when keepalived-go detaches
// itself (Go cannot fork; keepalived forks unless -n is given).
const daemonizedEnv = "KEEPALIVED_GO_DETACHED"

// Subsystem is one half of keepalived the daemon runs (VRRP now, the
// health checkers and the data plane next): it applies a configuration,
// at start and at every reload, and stops, releasing what it owns and
// waiting for its goroutines.
type Subsystem interface {
	Name() string
	// Keywords are the configuration keywords the subsystem acts on.
	Keywords() []string
	Apply(ctx context.Context, cfg *config.Config) error
	Stop(ctx context.Context) error
}

// Run is the daemon: it reads the configuration, reports what it cannot do
// yet, writes the pid files and serves signals until told to stop.
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
	log.Info("Starting Keepalived-go v" + Version)
	defer startCPUProfile(log)()
	sd := newSystemd(log)
	if backend, _ := f.LVSBackend(); backend == "ipvs" && !f.Has("vrrp") {
		// As keepalived's checker child when ipvs_start fails: no IPVS,
		// no start (auto would fall back to nftables).
		k, err := kernel.OpenIPVS()
		if err != nil {
			log.Error("IPVS: Can't initialize ipvs: " + err.Error() + " (--lvs-backend=ipvs; auto uses nftables on such a kernel): not starting")
			return 1
		}
		k.Close()
	}
	pids, err := createPidFiles(pidFilePaths(f)...)
	if errors.Is(err, errAlreadyRunning) {
		// keepalived logs this and exits 0, leaving the files alone.
		log.Info("daemon is already running", "why", err)
		return 0
	}
	if err != nil {
		log.Error("cannot write pid file", "err", err)
		return 1
	}
	defer removePidFiles(pids)
	k := &kernel.Linux{}
	defer k.Close()
	var subsystems []Subsystem
	// lvs_sync_daemon's daemons follow a VRRP instance's state: the VRRP
	// subsystem tells the sync daemon's of every change.
	syncd := ipvs.NewSyncDaemon(log, !f.Has("check"), !f.Has("vrrp"), nil)
	vrrpSub := vrrpd.New(log, k, f.Has("dont-release-vrrp"), syncd)
	if !f.Has("check") { // -C: health checks only
		subsystems = append(subsystems, vrrpSub)
	}
	var checks *checkd.Subsystem
	if !f.Has("vrrp") { // -P: VRRP only
		backend, _ := f.LVSBackend() // checked by Main
		checks = checkd.New(log, checkd.WithDataPlane(backend, f.Has("dont-release-ipvs")),
			checkd.WithApproximation(f.Has("lvs-nftables-approximate")))
		subsystems = append(subsystems, checks)
	}
	// Last: applied once the instances run, stopped first (keepalived
	// stops the sync daemon before releasing the VIPs).
	subsystems = append(subsystems, syncd)
	implemented := keywordsOf(subsystems)
	cfg, _ := load(log, path, opts, f.Has("dump-conf"), implemented)
	if checks != nil {
		// What the nftables data plane cannot express is refused here,
		// not at -t (the file is valid keepalived), with keepalived's
		// exit code for a configuration its checker cannot run
		// (validate_check_config failing: KEEPALIVED_EXIT_CONFIG, 2).
		if why := checks.Refusals(cfg); len(why) > 0 {
			for _, w := range why {
				log.Error(w)
			}
			log.Error(fmt.Sprintf("the nftables data plane cannot run %d of the configuration's settings (above): not starting "+
				"(--lvs-nftables-approximate runs them with the nearest equivalents, --lvs-backend=ipvs with IPVS)", len(why)))
			return exitConfig
		}
	}
	apply(log, subsystems, cfg)
	var memory memoryReturner
	defer memory.stop()
	memory.after(settleDelay)
	sd.ready()
	var loops []liveness
	if !f.Has("check") {
		loops = append(loops, vrrpSub)
	}
	stopWatchdog := sd.startWatchdog(loops)
	var pools api.PoolSource
	if checks != nil {
		pools = checks
	}
	view := newAPIView(cfg, vrrpSub, pools)
	stopAPI := startAPI(log, f, view)
	defer stopAPI()
	reload := func() {
		sd.reloading()
		defer sd.ready()
		next, diags := load(log, path, opts, f.Has("dump-conf"), implemented)
		if reason := refuseReload(path, next, diags); reason != "" {
			log.Error("reload refused, the running configuration stays: " + reason)
			return
		}
		if checks != nil {
			if why := checks.Refusals(next); len(why) > 0 {
				for _, w := range why {
					log.Error("reload refused, the running configuration stays: " + w)
				}
				return
			}
		}
		cfg = next
		apply(log, subsystems, cfg)
		view.update(cfg)
		memory.after(settleDelay)
	}
	var vrrpData *vrrpd.Subsystem // nil with -C: keepalived runs no VRRP process to write keepalived.data
	if !f.Has("check") {
		vrrpData = vrrpSub
	}
	handlers := map[os.Signal]func(){
		syscall.SIGHUP:  reload,
		syscall.SIGUSR1: func() { dumpData(log, cfg, view, vrrpData) },
		syscall.SIGUSR2: func() { writeDump(log, "keepalived.stats", vrrpSub.WriteStats) },
		sigJSON:         func() { dumpKeepalivedJSON(log, view) },
	}
	code := serveSignals(log, sigs, handlers)
	writeHeapProfile(log)
	sd.stopping()
	stopWatchdog()
	for i := len(subsystems) - 1; i >= 0; i-- {
		if err := subsystems[i].Stop(context.Background()); err != nil {
			log.Error(subsystems[i].Name()+" did not stop cleanly", "err", err)
		}
	}
	return code
}

// exitConfig is keepalived's KEEPALIVED_EXIT_CONFIG (lib/scheduler.h):
// its checker child exits so when validate_check_config fails
// (check/check_daemon.c, start_check), and the parent then terminates
// with it ("exited with permanent error CONFIG").
const exitConfig = 2

// pidFilePaths are the pid files the daemon holds: the main one, and the
// one of each keepalived child whose work it does (-P runs no checkers,
// -C no VRRP), as keepalived's keepalived_running checks them.
func pidFilePaths(f *cli.Flags) []string {
	paths := []string{f.Get("pid", "/run/keepalived.pid")}
	if !f.Has("check") {
		paths = append(paths, f.Get("vrrp_pid", "/run/vrrp.pid"))
	}
	if !f.Has("vrrp") {
		paths = append(paths, f.Get("checkers_pid", "/run/checkers.pid"))
	}
	return paths
}

// apply gives cfg to every subsystem; one that fails is logged and the
// others run on.
func apply(log *slog.Logger, subsystems []Subsystem, cfg *config.Config) {
	for _, s := range subsystems {
		if err := s.Apply(context.Background(), cfg); err != nil {
			log.Error(s.Name()+" not started", "err", err)
		}
	}
}

// keywordsOf is the set of keywords some subsystem acts on.
func keywordsOf(subsystems []Subsystem) map[string]bool {
	out := map[string]bool{}
	for _, s := range subsystems {
		for _, kw := range s.Keywords() {
			out[kw] = true
		}
	}
	return out
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
func load(log *slog.Logger, path string, opts config.Options, dump bool, implemented map[string]bool) (*config.Config, config.Diagnostics) {
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

// dumpData writes keepalived's data files (SIGUSR1) in $TMPDIR, as
// keepalived's processes each write theirs: keepalived.data (VRRP, unless
// -C), keepalived_check.data (health checks, unless -P) and
// keepalived_parent.data. See internal/api/kadata.go.
func dumpData(log *slog.Logger, cfg *config.Config, v *apiView, vrrpSub *vrrpd.Subsystem) {
	g := dataGlobals(cfg)
	now := time.Now()
	if vrrpSub != nil {
		scripts := vrrpd.DataScripts(cfg, vrrpSub.ScriptVerdicts())
		dumpPrivate(log, "keepalived.data", func(w io.Writer) error {
			return api.WriteKeepalivedData(w, v, v.extra, scripts, g, now)
		})
	}
	if v.pools != nil {
		dumpPrivate(log, "keepalived_check.data", func(w io.Writer) error {
			return api.WriteKeepalivedCheckData(w, v.pools.VirtualServers(), g)
		})
	}
	dumpPrivate(log, "keepalived_parent.data", func(w io.Writer) error { return api.WriteKeepalivedParentData(w, g) })
}

// dataGlobals is what the data files show of global_defs: keepalived's
// router ID defaults to the host name.
func dataGlobals(cfg *config.Config) api.DataGlobals {
	var g api.DataGlobals
	if cfg.GlobalDefs != nil {
		g.RouterID = cfg.GlobalDefs.RouterID
	}
	g.Namespace = cfg.NetNamespace
	if g.RouterID == "" {
		g.RouterID, _ = os.Hostname()
	}
	return g
}

// dumpPrivate writes a dump file in $TMPDIR (default /tmp) readable by
// its owner only, as keepalived's fopen_safe: keepalived.data holds PASS
// passwords.
func dumpPrivate(log *slog.Logger, name string, write func(io.Writer) error) {
	dir := os.Getenv("TMPDIR")
	if dir == "" {
		dir = "/tmp"
	}
	file := filepath.Join(dir, name)
	if err := writePrivate(file, func(fh *os.File) error { return write(fh) }); err != nil {
		log.Error("cannot write dump", "file", file, "err", err)
	}
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
