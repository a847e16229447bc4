package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/api"
	"github.com/keepalived-go/keepalived-go/internal/checkd"
	"github.com/keepalived-go/keepalived-go/internal/cli"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/latency"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
	"github.com/keepalived-go/keepalived-go/internal/vrrpd"
)

// sigJSON is keepalived's SIGJSON, SIGRTMIN+2 with glibc (whose SIGRTMIN
// is 34): the number `keepalived --signum=JSON` prints.
var sigJSON = func() syscall.Signal {
	n, _ := cli.Signum("JSON")
	return syscall.Signal(n)
}()

// instanceSource gives the running VRRP instances.
type instanceSource interface {
	Instances() []*vrrp.Instance
}

// apiView is what the API and keepalived.json show: the running VRRP
// instances (none without VRRP), with what keepalived.json shows of the
// configuration they run. A reload swaps the latter while the HTTP server
// reads it, hence the lock.
type apiView struct {
	vrrp   instanceSource // nil: no VRRP
	pools  api.PoolSource // nil: no health checks
	mu     sync.RWMutex
	extras map[string]api.KeepalivedExtra
}

func newAPIView(cfg *config.Config, vrrp instanceSource, pools api.PoolSource) *apiView {
	return &apiView{vrrp: vrrp, pools: pools, extras: vrrpd.KeepalivedExtras(cfg)}
}

// CheckLateness implements api.PoolSource.
func (v *apiView) CheckLateness() (latency.Snapshot, bool) {
	if v.pools == nil {
		return latency.Snapshot{}, false
	}
	return v.pools.CheckLateness()
}

// VirtualServers implements api.PoolSource.
func (v *apiView) VirtualServers() []lvs.PoolStatus {
	if v.pools == nil {
		return nil
	}
	return v.pools.VirtualServers()
}

// The health checks' subsystem gives the kernel's counters (apiView's
// LVSStats finds them through this interface).
var _ api.LVSSource = (*checkd.Subsystem)(nil)

// LVSStats implements api.LVSSource: the kernel's counters of the
// virtual services, where the health checks program a backend that
// counts.
func (v *apiView) LVSStats(ctx context.Context) ([]lvs.ServiceStats, bool, error) {
	ls, ok := v.pools.(api.LVSSource)
	if !ok {
		return nil, false, nil
	}
	return ls.LVSStats(ctx)
}

// update shows what a reload applied.
func (v *apiView) update(cfg *config.Config) {
	extras := vrrpd.KeepalivedExtras(cfg)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.extras = extras
}

// Instances implements api.Source.
func (v *apiView) Instances() []*vrrp.Instance {
	if v.vrrp == nil {
		return nil
	}
	return v.vrrp.Instances()
}

func (v *apiView) extra(name string) api.KeepalivedExtra {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.extras[name]
}

// startAPI serves the HTTP API (--web.listen-address=ADDR, the keepalived
// exporters' flag, or its alias --api-listen) until the returned function
// is called. Without the option it does nothing. If it cannot
// listen it logs why and the daemon runs on without the API: VRRP
// matters more than its metrics.
func startAPI(log *slog.Logger, f *cli.Flags, src api.Source) (stop func()) {
	flag := "web.listen-address"
	addr, ok := f.Values[flag]
	if !ok {
		flag = "api-listen"
		addr, ok = f.Values[flag]
	}
	if !ok {
		return func() {}
	}
	if addr == "" {
		log.Error("--" + flag + " needs an address such as 127.0.0.1:9165; the API is off")
		return func() {}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("cannot serve the API; running without it", "addr", addr, "err", err)
		return func() {}
	}
	history := api.NewHistory()
	srv := &http.Server{Handler: api.WithPage(api.NewHandler(src), history), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ctx, stopHistory := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		history.Run(ctx, src, time.Second)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
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
		stopHistory()
		<-done
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
