package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/api"
	"github.com/keepalived-go/keepalived-go/internal/cli"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// sigJSON is keepalived's SIGJSON, SIGRTMIN+2 with glibc (whose SIGRTMIN
// is 34): the number `keepalived --signum=JSON` prints.
var sigJSON = func() syscall.Signal {
	n, _ := cli.Signum("JSON")
	return syscall.Signal(n)
}()

// apiView is what the API and keepalived.json show: the running VRRP
// instances (none without VRRP), with the configuration they run. A
// reload swaps both while the HTTP server reads them, hence the lock.
type apiView struct {
	mu     sync.RWMutex
	rt     *vrrpRuntime
	extras map[string]api.KeepalivedExtra
}

func newAPIView(cfg *config.Config, rt *vrrpRuntime) *apiView {
	return &apiView{rt: rt, extras: keepalivedExtras(cfg)}
}

// update shows the runtime a reload (or the stop, with nil) left.
func (v *apiView) update(cfg *config.Config, rt *vrrpRuntime) {
	extras := keepalivedExtras(cfg)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.rt, v.extras = rt, extras
}

// Instances implements api.Source. A runtime's instances never change
// once it runs, so the slice may be read without the lock.
func (v *apiView) Instances() []*vrrp.Instance {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.rt == nil {
		return nil
	}
	return v.rt.instances
}

func (v *apiView) extra(name string) api.KeepalivedExtra {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.extras[name]
}

// startAPI serves the HTTP API (--api-listen=ADDR) until the returned
// function is called. Without the option it does nothing. If it cannot
// listen it logs why and the daemon runs on without the API: VRRP
// matters more than its metrics.
func startAPI(log *slog.Logger, f *cli.Flags, src api.Source) (stop func()) {
	addr, ok := f.Values["api-listen"]
	if !ok {
		return func() {}
	}
	if addr == "" {
		log.Error("--api-listen needs an address such as 127.0.0.1:9165; the API is off")
		return func() {}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("cannot serve the API; running without it", "addr", addr, "err", err)
		return func() {}
	}
	srv := &http.Server{Handler: api.NewHandler(src), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server stopped", "err", err)
		}
	}()
	log.Info("API listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		<-done
	}
}

// dumpKeepalivedJSON writes keepalived's JSON state dump (SIGRTMIN+2) to
// $TMPDIR/keepalived.json (default /tmp). Like keepalived it writes
// nothing when no instance runs.
func dumpKeepalivedJSON(log *slog.Logger, v *apiView) {
	if len(v.Instances()) == 0 {
		return
	}
	dir := os.Getenv("TMPDIR")
	if dir == "" {
		dir = "/tmp"
	}
	file := filepath.Join(dir, "keepalived.json")
	if err := writePrivate(file, func(fh *os.File) error { return api.WriteKeepalivedJSON(fh, v, v.extra) }); err != nil {
		log.Error("cannot write dump", "file", file, "err", err)
	}
}

// writePrivate writes a new file readable by its owner only, as
// keepalived's fopen_safe does: the dump holds PASS passwords, and /tmp is
// shared. Removing the old file first and creating exclusively means a
// symbolic link planted there is not followed.
func writePrivate(file string, write func(*os.File) error) error {
	if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fh, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = write(fh)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// keepalivedExtras is, per instance name, what keepalived.json shows
// beyond the instance's own status. A keyword the daemon does not act on
// shows keepalived's default, not the configured value: the dump says
// what runs.
func keepalivedExtras(cfg *config.Config) map[string]api.KeepalivedExtra {
	out := map[string]api.KeepalivedExtra{}
	scripts := usableScripts(cfg)
	strict := cfg.GlobalDefs != nil && cfg.GlobalDefs.VRRPStrict
	for _, ci := range cfg.Instances {
		on := func(kw string, v bool) bool { return implemented[kw] && v }
		x := api.KeepalivedExtra{
			DontTrackPrimary:   on("dont_track_primary", ci.DontTrackPrimary),
			SkipCheckAdvAddr:   on("skip_check_adv_addr", ci.SkipCheckAdvAddr),
			StrictMode:         ci.StrictMode || strict,
			UseVMAC:            on("use_vmac", ci.IsSet("use_vmac")),
			Parent:             ci.Interface,
			NoAccept:           blocksVIPs(cfg, ci),
			PromoteSecondaries: on("promote_secondaries", ci.PromoteSecondaries),
			SMTPAlert:          on("smtp_alert", ci.SMTPAlert),
			NotifyDeleted:      on("notify_deleted", ci.IsSet("notify_deleted")),
			AuthPass:           authPass(ci),
		}
		notifyScripts(&x, ci)
		if implemented["virtual_routes"] {
			x.VRoutes = lines(ci.VirtualRoutes, func(r config.Route) []string { return r.Words })
		}
		if implemented["virtual_rules"] {
			x.VRules = lines(ci.VirtualRules, func(r config.Rule) []string { return r.Words })
		}
		x.TrackInterfaces, x.TrackScripts = tracked(ci, scripts)
		out[ci.Name()] = x
	}
	return out
}

// notifyScripts fills the notify scripts the daemon runs.
func notifyScripts(x *api.KeepalivedExtra, ci *config.VRRPInstance) {
	for _, s := range []struct {
		kw  string
		s   config.Script
		dst *string
	}{
		{"notify_backup", ci.NotifyBackup, &x.ScriptBackup},
		{"notify_master", ci.NotifyMaster, &x.ScriptMaster},
		{"notify_fault", ci.NotifyFault, &x.ScriptFault},
		{"notify_stop", ci.NotifyStop, &x.ScriptStop},
		{"notify_deleted", ci.NotifyDeleted, &x.ScriptDeleted},
		{"notify", ci.Notify, &x.Script},
		{"notify_master_rx_lower_pri", ci.NotifyMasterRxLowerPri, &x.ScriptMasterRxLowerPri},
	} {
		if implemented[s.kw] && !s.s.IsZero() {
			*s.dst = api.ScriptString(s.s.Args)
		}
	}
}

// tracked lists the tracked interfaces, and the commands of the tracked
// scripts that run (keepalived prints commands, not script names).
func tracked(ci *config.VRRPInstance, scripts map[string]*config.VRRPScript) (ifs, cmds []string) {
	if implemented["track_interface"] {
		for _, t := range ci.TrackInterface {
			ifs = append(ifs, t.Name)
		}
	}
	if implemented["track_script"] {
		for _, t := range ci.TrackScript {
			if s, ok := scripts[t.Name]; ok {
				cmds = append(cmds, api.ScriptString(s.Script.Args))
			}
		}
	}
	return ifs, cmds
}

// authPass is the VRRPv2 PASS password as keepalived keeps it: at most 8
// bytes.
func authPass(ci *config.VRRPInstance) string {
	a := ci.Authentication
	if a == nil || a.AuthType != "PASS" || ci.Version != 2 {
		return ""
	}
	return a.AuthPass[:min(len(a.AuthPass), vrrp.AuthDataLen)]
}

// lines joins each item's words into one line.
func lines[T any](items []T, words func(T) []string) []string {
	var out []string
	for _, it := range items {
		out = append(out, strings.Join(words(it), " "))
	}
	return out
}
