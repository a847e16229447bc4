package kernel

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// ProcessSettings are scheduling settings for every thread of the
// process: keepalived's vrrp_priority, vrrp_rt_priority, vrrp_no_swap,
// vrrp_cpu_affinity and vrrp_rlimit_rttime, which keepalived applies to
// its VRRP child. They keep a loaded machine from delaying adverts and
// timers: keepalived's first cause of false failovers.
type ProcessSettings struct {
	Nice       int   // vrrp_priority; 0 leaves it
	RTPriority int   // vrrp_rt_priority: SCHED_RR at this priority; 0 leaves the policy
	NoSwap     bool  // vrrp_no_swap: lock the memory in RAM
	CPUs       []int // vrrp_cpu_affinity
	RTTime     int   // vrrp_rlimit_rttime, µs; 0 sets no limit
	// Owner names the keywords in errors: "vrrp" (the default) or
	// "checker" (checker_priority, checker_rt_priority...).
	Owner string
}

// ownThreads are the threads that hold settings of their own (the health
// checks' thread, ApplyToThisThread): Apply leaves them alone.
var ownThreads sync.Map // tid → struct{}

// startCPUs are the CPUs the process could run on when it started: a
// thread of its own that asks for no CPU set gets these back (it may have
// been made from a thread that VRRP's vrrp_cpu_affinity pinned).
var startCPUs = func() (set unix.CPUSet) {
	if unix.SchedGetaffinity(0, &set) != nil {
		set.Zero()
	}
	return set
}()

// MaxCPUs is how many CPUs a unix.CPUSet holds (glibc's CPU_SETSIZE).
const MaxCPUs = 1024

// ParseCPUs reads a CPU list (vrrp_cpu_affinity, checker_cpu_affinity).
func ParseCPUs(keyword string, words []string) ([]int, error) {
	var cpus []int
	for _, w := range words {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n >= MaxCPUs {
			return nil, fmt.Errorf("%s: invalid CPU %q", keyword, w)
		}
		cpus = append(cpus, n)
	}
	return cpus, nil
}

// Apply sets what s asks on every thread of the process. Go starts
// threads as it needs them, and a new thread inherits these from the
// thread that creates it, so applying them to all present threads covers
// the later ones; the daemon applies them again once VRRP runs. Scripts do not inherit
// them: internal/runner forks from a thread reset to the normal policy.
//
// keepalived sets RLIMIT_RTTIME to 10 ms by default with a real-time
// priority. keepalived-go does not: its threads also parse the
// configuration at a reload, which can take longer without blocking, and
// the limit would kill the daemon. It is set when vrrp_rlimit_rttime is.
func (s ProcessSettings) Apply() error {
	if s.Nice == 0 && s.RTPriority == 0 && !s.NoSwap && len(s.CPUs) == 0 && s.RTTime == 0 {
		return nil // nothing asked: no need to walk the threads
	}
	var errs []error
	if s.NoSwap {
		// MCL_ONFAULT: lock pages as they are used, not the address space
		// the Go runtime reserves ahead.
		errs = append(errs, wrap(s.keyword("no_swap"), unix.Mlockall(unix.MCL_CURRENT|unix.MCL_FUTURE|unix.MCL_ONFAULT)))
	}
	if s.RTTime > 0 {
		lim := uint64(s.RTTime)
		errs = append(errs, wrap(s.keyword("rlimit_rttime"), unix.Setrlimit(unix.RLIMIT_RTTIME, &unix.Rlimit{Cur: lim, Max: lim})))
	}
	errs = append(errs, forEachThread(s.applyToThread))
	return errors.Join(errs...)
}

// ApplyToThisThread gives the calling thread s as settings of its own,
// as keepalived's checker child has its own (checker_priority,
// checker_rt_priority, checker_cpu_affinity, checker_no_swap), and keeps
// Apply off the thread until forget is called. Unlike Apply it sets the
// normal policy and nice value when s asks for no real-time priority: the
// thread may have been made from one running VRRP's SCHED_RR. The caller
// locks its goroutine to the thread (runtime.LockOSThread) and never
// unlocks it, so that the thread ends with the goroutine and its
// settings with it; forget is called on the way out.
func (s ProcessSettings) ApplyToThisThread() (forget func(), err error) {
	tid := unix.Gettid()
	ownThreads.Store(tid, struct{}{})
	forget = func() { ownThreads.Delete(tid) }
	var errs []error
	if s.NoSwap {
		errs = append(errs, wrap(s.keyword("no_swap"), unix.Mlockall(unix.MCL_CURRENT|unix.MCL_FUTURE|unix.MCL_ONFAULT)))
	}
	if s.RTPriority == 0 {
		normal := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL, Nice: int32(s.Nice)}
		errs = append(errs, wrap(s.keyword("priority"), unix.SchedSetAttr(tid, &normal, 0)))
		s.Nice = 0 // set with the policy
	}
	if len(s.CPUs) == 0 && startCPUs.Count() > 0 {
		all := startCPUs
		errs = append(errs, wrap(s.keyword("cpu_affinity"), unix.SchedSetaffinity(tid, &all)))
	}
	errs = append(errs, s.applyToThread(tid))
	return forget, errors.Join(errs...)
}

// keyword is the configuration keyword of a setting, for errors.
func (s ProcessSettings) keyword(setting string) string {
	if s.Owner == "" {
		return "vrrp_" + setting
	}
	return s.Owner + "_" + setting
}

func (s ProcessSettings) applyToThread(tid int) error {
	var errs []error
	if s.Nice != 0 {
		errs = append(errs, wrap(s.keyword("priority"), unix.Setpriority(unix.PRIO_PROCESS, tid, s.Nice)))
	}
	if s.RTPriority > 0 {
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(s.RTPriority)}
		errs = append(errs, wrap(s.keyword("rt_priority"), unix.SchedSetAttr(tid, &attr, 0)))
	}
	if len(s.CPUs) > 0 {
		var set unix.CPUSet
		for _, c := range s.CPUs {
			set.Set(c)
		}
		errs = append(errs, wrap(s.keyword("cpu_affinity"), unix.SchedSetaffinity(tid, &set)))
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
		if _, own := ownThreads.Load(tid); own {
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
