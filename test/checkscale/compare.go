package main

// -qemu: the checkers' cost against keepalived's own, for the same
// configuration in the same run. keepalived's checker programs IPVS,
// which our hosts' kernels lack, so both daemons run in a QEMU guest
// (internal/lab's Guest: Debian's cloud kernel under TCG), where this
// same program runs again with -guest:
//
//   - a lab of two namespaces on a bridge, as on the host: "servers"
//     answers on -servers ports (serveTCP: one listener each, counting
//     the connections it accepts), "director" runs the daemon under
//     test with one virtual server of all of them;
//   - rounds of Debian's keepalived 2.2.7 (`keepalived -n -l -G -C`:
//     its parent and its checker child) and keepalived-go (`-n -l -G -C
//     --lvs-backend=ipvs`), one at a time, in alternating order (ABBA),
//     each started afresh: once IPVS holds every real server, -settle,
//     then for -duration the CPU time of all the daemon's processes
//     (utime+stime from /proc), their RSS and PSS at the end
//     (smaps_rollup), and the connections the servers accepted (the
//     checks actually done); then the daemon is stopped with TERM and
//     IPVS emptied.
//
// The guest prints a line per measurement and a summary with the ratios
// keepalived-go/keepalived; the host streams its console.
//
// Time in the guest. By default the guest runs with -icount
// shift=0,sleep=off on one vCPU: its clocks advance by 1 ns for each
// instruction it executes (and jump over idle time), so delay_loop,
// the CPU times and the rates are in that virtual time, whatever share
// of the host QEMU gets. Without it (-icount "", where -cpus 2 gives
// TCG a host thread per vCPU) the guest's clocks follow the host's, and
// on a busy host a vCPU that QEMU does not get to run still sees time
// pass, charged to whichever process it was running: the CPU figures
// then measure the host's load as much as the daemons. With icount, a
// second vCPU would be as bad (one thread runs the vCPUs in turn, and
// each sees the other's instructions as its own time), hence one.
// Either way instructions are not cycles: cache misses, system call
// entry and the like cost what they cost in emulation, not on hardware.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

const module = "github.com/keepalived-go/keepalived-go"

// compareOptions are the -qemu run's flags.
type compareOptions struct {
	servers, rounds, delayLoop int
	http                       bool
	settle, duration           time.Duration
	cpus, memory               int
	kg                         string // keepalived-go's binary (in the guest)
	kernelArgs                 []string
	icount                     string
}

// guestArgs are the flags that pass the options on to the guest.
func (o compareOptions) guestArgs() []string {
	return []string{"-guest", "-kg", o.kg, "-servers", strconv.Itoa(o.servers), "-rounds", strconv.Itoa(o.rounds),
		"-delay-loop", strconv.Itoa(o.delayLoop), "-check-http=" + strconv.FormatBool(o.http),
		"-settle", o.settle.String(), "-duration", o.duration.String()}
}

// runQEMU builds static binaries of this program and keepalived-go,
// boots a guest that runs the comparison and streams its console. It
// fails unless the guest says the comparison finished.
func runQEMU(o compareOptions) {
	if why := lab.QEMUAvailable(); why != "" {
		panic("this host lacks " + why)
	}
	dir, err := os.MkdirTemp("", "checkscale-qemu-")
	check(err)
	defer os.RemoveAll(dir)
	self, kg := filepath.Join(dir, "checkscale"), filepath.Join(dir, "keepalived-go")
	check(lab.BuildStatic(module+"/test/checkscale", self, false))
	check(lab.BuildStatic(module+"/cmd/keepalived-go", kg, false))
	o.kg = "/bin/keepalived-go"
	script := "cd /tmp\n/bin/checkscale " + strings.Join(o.guestArgs(), " ") + "\necho \"=== RC $?\"\n"
	g := &lab.Guest{
		Modules:    []string{"ip_vs", "ip_vs_rr", "veth", "bridge"},
		Bins:       []string{"ip", "ipvsadm", "keepalived"},
		Files:      map[string]string{"/bin/checkscale": self, "/bin/keepalived-go": kg},
		Script:     script,
		Memory:     o.memory,
		CPUs:       o.cpus,
		Console:    os.Stdout,
		KernelArgs: o.kernelArgs,
		ICount:     o.icount,
	}
	// Each measurement: start and IPVS programming (bounded by
	// waitDestinations), settle, window, stop (bounded by stopDaemon), in
	// guest time; with -icount a guest second took up to 20 s of the
	// host's on a loaded machine (QEMU getting a third of a core).
	slowdown := time.Duration(3)
	if o.icount != "" {
		slowdown = 30
	}
	bound := 10*time.Minute + time.Duration(2*o.rounds)*(slowdown*(o.settle+o.duration)+5*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	fmt.Printf("checkscale: booting a guest with %d vCPU(s), -icount %q, kernel arguments %q\n", max(o.cpus, 1), o.icount, strings.Join(o.kernelArgs, " "))
	began, load0 := time.Now(), loadavg()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru0) // the builds, done
	console, err := g.Run(ctx, dir)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru1)
	took := time.Since(began)
	qemuCPU := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	fmt.Printf("checkscale: the guest ran %v; QEMU used %v of the host's CPU (%.2f cores on average); the host's load average %s at the start, %s at the end\n",
		took.Round(time.Second), qemuCPU.Round(time.Second), qemuCPU.Seconds()/took.Seconds(), load0, loadavg())
	check(err)
	if !strings.Contains(string(console), "=== RC 0") {
		panic("the comparison did not finish in the guest")
	}
}

// daemonUnderTest is one of the two daemons compared.
type daemonUnderTest struct {
	name string
	bin  string
	args []string // before -f FILE and the pid files
}

// measurement is what one run of a daemon cost.
type measurement struct {
	round              int
	daemon             string
	programmed         time.Duration // from start to every real server in IPVS
	window             time.Duration
	cpu                float64 // seconds, all the daemon's processes
	procs              int
	rssKiB, pssKiB     int64
	checks             int64 // connections the servers accepted in the window
	destinations       int   // real servers in IPVS at the end
	farmCPU            float64
	guestBusy          float64 // share of the guest's CPUs not idle, 0-1
	loadStart, loadEnd string
}

func (m measurement) cpuPercent() float64 { return 100 * m.cpu / m.window.Seconds() }
func (m measurement) checksPerSecond() float64 {
	return float64(m.checks) / m.window.Seconds()
}

// cpuPerCheck is in microseconds.
func (m measurement) cpuPerCheck() float64 { return 1e6 * m.cpu / float64(m.checks) }

// compare runs in the guest.
func compare(o compareOptions) {
	l, err := lab.New("kq", "director", "servers")
	check(err)
	defer l.Close()
	director, servers := l.Host("director"), l.Host("servers")
	self, err := os.Executable()
	check(err)
	f, err := startFarm(servers, self, basePort, o.servers, o.http)
	check(err)
	defer f.Stop()
	conf := checkConfig{addr: servers.IPv4.String(), ports: portRange(basePort, o.servers), delayLoop: o.delayLoop, http: o.http}
	path, err := l.WriteFile("check.conf", "global_defs {\n    router_id checkcpu\n}\n"+conf.text())
	check(err)
	kind := "TCP_CHECK"
	if o.http {
		kind = "HTTP_GET"
	}
	cpus, _ := os.ReadFile("/sys/devices/system/cpu/online")
	clock, _ := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource")
	fmt.Printf("=== CHECKCPU %d real servers, %s at delay_loop %d (connect_timeout %d, retry %d, delay_before_retry %d); %d rounds, settle %v, window %v; guest CPUs %s, clock source %s\n",
		o.servers, kind, o.delayLoop, connectTimeout, retry, delayBeforeRetry, o.rounds, o.settle, o.duration,
		strings.TrimSpace(string(cpus)), strings.TrimSpace(string(clock)))
	ka := daemonUnderTest{"keepalived", "keepalived", []string{"-n", "-l", "-G", "-C"}}
	kg := daemonUnderTest{"keepalived-go", o.kg, []string{"-n", "-l", "-G", "-C", "--lvs-backend=ipvs"}}
	if out, err := exec.Command("keepalived", "--version").CombinedOutput(); err == nil {
		fmt.Printf("=== CHECKCPU %s", strings.SplitN(string(out), "\n", 2)[0]+"\n")
	}
	var all []measurement
	for r := 1; r <= o.rounds; r++ {
		order := []daemonUnderTest{ka, kg}
		if r%2 == 0 {
			order = []daemonUnderTest{kg, ka}
		}
		for _, d := range order {
			m, err := measure(director, f, d, path, o)
			if err != nil {
				panic(fmt.Sprintf("round %d, %s: %v", r, d.name, err))
			}
			m.round = r
			all = append(all, m)
			fmt.Printf("=== CHECKCPU round %d %-13s CPU %6.2f s in %v (%5.1f%% of one CPU, %d processes, %.1f µs a check)  RSS %6.1f MiB  PSS %6.1f MiB  checks %6.0f/s  in IPVS %d/%d after %v  servers' CPU %.1f%%  guest busy %.0f%%  load %s→%s\n",
				r, d.name, m.cpu, m.window.Round(time.Millisecond), m.cpuPercent(), m.procs, m.cpuPerCheck(),
				float64(m.rssKiB)/1024, float64(m.pssKiB)/1024, m.checksPerSecond(), m.destinations, o.servers,
				m.programmed.Round(100*time.Millisecond), 100*m.farmCPU/m.window.Seconds(), 100*m.guestBusy, m.loadStart, m.loadEnd)
		}
	}
	summarize(all)
}

// summarize prints each daemon's medians and the ratios
// keepalived-go/keepalived of the medians and, per round, of the pair.
func summarize(all []measurement) {
	median := func(daemon string, v func(measurement) float64) float64 {
		var xs []float64
		for _, m := range all {
			if m.daemon == daemon {
				xs = append(xs, v(m))
			}
		}
		slices.Sort(xs)
		if n := len(xs); n%2 == 1 {
			return xs[n/2]
		} else {
			return (xs[n/2-1] + xs[n/2]) / 2
		}
	}
	figures := []struct {
		name, unit string
		v          func(measurement) float64
	}{
		{"CPU", "% of one CPU", measurement.cpuPercent},
		{"CPU a check", "µs", measurement.cpuPerCheck},
		{"RSS", "MiB", func(m measurement) float64 { return float64(m.rssKiB) / 1024 }},
		{"PSS", "MiB", func(m measurement) float64 { return float64(m.pssKiB) / 1024 }},
		{"checks", "/s", measurement.checksPerSecond},
	}
	fmt.Println("=== CHECKCPU medians: figure | keepalived | keepalived-go | keepalived-go/keepalived")
	for _, fig := range figures {
		a, b := median("keepalived", fig.v), median("keepalived-go", fig.v)
		fmt.Printf("=== CHECKCPU %s (%s) | %.2f | %.2f | %.2f\n", fig.name, fig.unit, a, b, b/a)
	}
	var ratios []string
	for _, m := range all {
		if m.daemon != "keepalived-go" {
			continue
		}
		for _, k := range all {
			if k.daemon == "keepalived" && k.round == m.round {
				ratios = append(ratios, fmt.Sprintf("%.2f", m.cpu/m.window.Seconds()/(k.cpu/k.window.Seconds())))
			}
		}
	}
	fmt.Printf("=== CHECKCPU CPU ratio keepalived-go/keepalived per round: %s\n", strings.Join(ratios, " "))
}

// measure starts a daemon in the director with the configuration,
// measures it and stops it.
func measure(director *lab.Host, f *farm, d daemonUnderTest, conf string, o compareOptions) (measurement, error) {
	m := measurement{daemon: d.name}
	args := append(append(slices.Clone(d.args), "-f", conf), director.PidArgs(d.name)...)
	began := time.Now()
	p, err := director.Start(d.bin, args...)
	if err != nil {
		return m, err
	}
	defer stopDaemon(director, p)
	if err := waitDestinations(director, p, o.servers); err != nil {
		return m, err
	}
	m.programmed = time.Since(began)
	time.Sleep(o.settle)
	pids := lab.Tree(p.Pid())
	m.procs = len(pids)
	m.loadStart = loadavg()
	cpu0, err := lab.CPUSeconds(pids...)
	if err != nil {
		return m, err
	}
	farm0, err := lab.CPUSeconds(f.Pid())
	if err != nil {
		return m, err
	}
	busy0, total0 := cpuStat()
	acc0, err := f.accepted()
	if err != nil {
		return m, err
	}
	t0 := time.Now()
	time.Sleep(o.duration)
	acc1, err := f.accepted()
	if err != nil {
		return m, err
	}
	m.window = time.Since(t0)
	cpu1, err := lab.CPUSeconds(pids...)
	if err != nil {
		return m, fmt.Errorf("a process of the daemon ended while measured: %w", err)
	}
	farm1, err := lab.CPUSeconds(f.Pid())
	if err != nil {
		return m, err
	}
	m.loadEnd = loadavg()
	busy1, total1 := cpuStat()
	m.guestBusy = float64(busy1-busy0) / float64(total1-total0)
	if now := lab.Tree(p.Pid()); !slices.Equal(now, pids) {
		return m, fmt.Errorf("the daemon's processes changed while measured: %v then %v", pids, now)
	}
	m.cpu, m.farmCPU, m.checks = cpu1-cpu0, farm1-farm0, acc1-acc0
	if m.rssKiB, err = lab.SmapsKiB("Rss", pids...); err != nil {
		return m, err
	}
	if m.pssKiB, err = lab.SmapsKiB("Pss", pids...); err != nil {
		return m, err
	}
	m.destinations, err = destinations(director)
	return m, err
}

// destinations counts the real servers in the director's IPVS table.
func destinations(h *lab.Host) (int, error) {
	out, err := h.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ipvsadm -Ln: %v: %s", err, out)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "->" && f[1] != "RemoteAddress:Port" {
			n++
		}
	}
	return n, nil
}

// waitDestinations waits (at most 3 minutes) until IPVS holds all n real
// servers, every check having passed or the servers started up.
func waitDestinations(h *lab.Host, p *lab.Proc, n int) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := destinations(h)
		if err != nil {
			return err
		}
		if got == n {
			return nil
		}
		if p.Exited() || time.Now().After(deadline) {
			return fmt.Errorf("%d of %d real servers in IPVS; the daemon's log:\n%s", got, n, tail(p.Log(), 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// stopDaemon stops a daemon with TERM (KILL after 2 minutes) and
// empties IPVS for the next one.
func stopDaemon(h *lab.Host, p *lab.Proc) {
	p.Signal(syscall.SIGTERM)
	if p.Wait(2 * time.Minute); !p.Exited() {
		fmt.Printf("=== CHECKCPU %s did not stop after TERM; killed\n", p.Name)
	}
	p.Stop()
	h.Command("ipvsadm", "-C").Run()
}

// cpuStat is the ticks the machine's CPUs were busy, and all ticks
// (/proc/stat's first line; idle and iowait are not busy).
func cpuStat() (busy, total int64) {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		if i >= 8 { // guest and guest_nice are in user already
			break
		}
		total += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
