package checkd

import (
	"log/slog"
	"os"
	goruntime "runtime"
	"sync"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// schedKeywords are the checker child's scheduling keywords, which
// keepalived-go applies to the health checks' thread.
var schedKeywords = []string{"checker_priority", "checker_rt_priority", "checker_cpu_affinity", "checker_no_swap"}

func init() { keywords = append(keywords, schedKeywords...) }

// checkerThread is what the engine runs on its own thread (Engine.OnThread):
// the checker child's settings of keepalived (checker_priority,
// checker_rt_priority, checker_cpu_affinity, checker_no_swap). keepalived's
// checker child never has VRRP's settings; keepalived-go applies those to
// all its other threads (vrrpd), and this thread, where TCP_CHECK probes
// run, gets the normal policy back unless checker_rt_priority says
// otherwise: a busy checker must not compete with VRRP at VRRP's
// real-time priority. nil when neither side asks for anything.
// checker_rlimit_rttime is not applied: the limit is the process's, and
// VRRP's threads would get it.
func checkerThread(log *slog.Logger, g *config.GlobalDefs) func() (done func()) {
	if g == nil || !asksScheduling(g) {
		return nil
	}
	s := kernel.ProcessSettings{Owner: "checker", Nice: int(g.CheckerPriority), RTPriority: g.CheckerRtPriority, NoSwap: g.CheckerNoSwap}
	cpus, err := kernel.ParseCPUs("checker_cpu_affinity", g.CheckerCPUAffinity)
	if err != nil {
		log.Error("cannot apply the checker's scheduling settings", "err", err)
	}
	s.CPUs = cpus
	return func() func() {
		oneMoreP.Do(addP)
		forget, err := s.ApplyToThisThread()
		if err != nil {
			log.Error("cannot apply the checker's scheduling settings", "err", err)
		}
		return forget
	}
}

// asksScheduling says whether the configuration sets a scheduling
// setting of either subsystem.
func asksScheduling(g *config.GlobalDefs) bool {
	return g.CheckerPriority != 0 || g.CheckerRtPriority > 0 || len(g.CheckerCPUAffinity) > 0 || g.CheckerNoSwap ||
		g.VRRPPriority != 0 || g.VRRPRtPriority > 0 || len(g.VRRPCPUAffinity) > 0
}

var oneMoreP sync.Once

// addP gives Go one more P than it would have: the checks' thread holds
// one while it runs, and when the kernel preempts it (it runs at the
// normal priority, below VRRP's) the timers and goroutines of that P wait
// with it. With VRRP's threads real-time, this P is what lets VRRP run at
// once: checkscale at 10,000 servers with vrrp_rt_priority on a loaded
// machine (load average 10-13) measured VRRP timer lateness p99 ≤ 50 ms
// with 2 Ps on 2 cores and ≤ 5 ms with 3. An explicit GOMAXPROCS is left
// alone.
func addP() {
	if os.Getenv("GOMAXPROCS") == "" {
		goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(0) + 1)
	}
}
