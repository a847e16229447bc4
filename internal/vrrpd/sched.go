package vrrpd

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// processSettings are global_defs' scheduling settings for VRRP: what
// keepalived applies to its VRRP child, keepalived-go applies to the
// daemon, whose threads all serve VRRP. They keep a loaded machine from
// delaying adverts and timers: keepalived's first cause of false
// failovers.
type processSettings struct {
	nice       int   // vrrp_priority; 0 leaves it
	rtPriority int   // vrrp_rt_priority: SCHED_RR at this priority; 0 leaves the policy
	noSwap     bool  // vrrp_no_swap: lock the memory in RAM
	cpus       []int // vrrp_cpu_affinity
	rttime     int   // vrrp_rlimit_rttime, µs; 0 sets no limit
}

// maxCPUs is how many CPUs a unix.CPUSet holds (glibc's CPU_SETSIZE).
const maxCPUs = 1024

func processSettingsOf(g *config.GlobalDefs) (processSettings, error) {
	if g == nil {
		return processSettings{}, nil
	}
	s := processSettings{nice: int(g.VRRPPriority), rtPriority: g.VRRPRtPriority, noSwap: g.VRRPNoSwap, rttime: g.VRRPRlimitRttime}
	for _, w := range g.VRRPCPUAffinity {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n >= maxCPUs {
			return s, fmt.Errorf("vrrp_cpu_affinity: invalid CPU %q", w)
		}
		s.cpus = append(s.cpus, n)
	}
	return s, nil
}

// apply sets what s asks on every thread of the process. Go starts
// threads as it needs them, and a new thread inherits these from the
// thread that creates it, so applying them to all present threads covers
// the later ones; the daemon applies them again once VRRP runs.
//
// keepalived sets RLIMIT_RTTIME to 10 ms by default with a real-time
// priority. keepalived-go does not: its threads also parse the
// configuration at a reload, which can take longer without blocking, and
// the limit would kill the daemon. It is set when vrrp_rlimit_rttime is.
func (s processSettings) apply() error {
	if s.nice == 0 && s.rtPriority == 0 && !s.noSwap && len(s.cpus) == 0 && s.rttime == 0 {
		return nil // nothing asked: no need to walk the threads
	}
	var errs []error
	if s.noSwap {
		// MCL_ONFAULT: lock pages as they are used, not the address space
		// the Go runtime reserves ahead.
		errs = append(errs, wrap("vrrp_no_swap", unix.Mlockall(unix.MCL_CURRENT|unix.MCL_FUTURE|unix.MCL_ONFAULT)))
	}
	if s.rttime > 0 {
		lim := uint64(s.rttime)
		errs = append(errs, wrap("vrrp_rlimit_rttime", unix.Setrlimit(unix.RLIMIT_RTTIME, &unix.Rlimit{Cur: lim, Max: lim})))
	}
	errs = append(errs, forEachThread(s.applyToThread))
	return errors.Join(errs...)
}

func (s processSettings) applyToThread(tid int) error {
	var errs []error
	if s.nice != 0 {
		errs = append(errs, wrap("vrrp_priority", unix.Setpriority(unix.PRIO_PROCESS, tid, s.nice)))
	}
	if s.rtPriority > 0 {
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(s.rtPriority)}
		errs = append(errs, wrap("vrrp_rt_priority", unix.SchedSetAttr(tid, &attr, 0)))
	}
	if len(s.cpus) > 0 {
		var set unix.CPUSet
		for _, c := range s.cpus {
			set.Set(c)
		}
		errs = append(errs, wrap("vrrp_cpu_affinity", unix.SchedSetaffinity(tid, &set)))
	}
	return errors.Join(errs...)
}

// forEachThread calls fn with the id of every thread of the process,
// and joins the errors (a thread that exits meanwhile is not one).
func forEachThread(fn func(tid int) error) error {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := fn(tid); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func wrap(keyword string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", keyword, err)
}

// applyProcessSettings applies cfg's settings, logging what fails (the
// daemon runs on: a setting is a means to run better, not to run).
func applyProcessSettings(log *slog.Logger, cfg *config.Config) {
	s, err := processSettingsOf(cfg.GlobalDefs)
	if err == nil {
		err = s.apply()
	}
	if err != nil {
		log.Error("cannot apply the VRRP process settings", "err", err)
	}
}
