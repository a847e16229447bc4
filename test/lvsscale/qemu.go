package main

// The -qemu mode: keepalived-go against Debian's keepalived 2.2.7
// programming IPVS, the same keepalived.conf, one after the other in the
// same QEMU guest (the host kernel has no IPVS; see internal/lab's
// Guest). For each daemon:
//
//   - cold start: from its exec until the last virtual server has all
//     its real servers (`ipvsadm -Ln -t VIP` of the last one), and its
//     CPU time (user+system of its processes, keepalived's parent and
//     checker child) until then;
//   - no-op reload (SIGHUP, the file unchanged): the CPU it spends and
//     the time until its CPU time stops growing (no kernel change to
//     wait for);
//   - one real server changed (one weight, SIGHUP): until ipvsadm shows
//     the new weight, and the CPU spent;
//
// then the whole table (`ipvsadm -Sn`) is compared with the other
// daemon's. The configuration has no checkers: both daemons take every
// real server as up at once, so that only parsing and programming are
// compared, not health checks (keepalived's own figure, 0.24 s for
// 2,277 services / 37,205 servers, is a reload's). keepalived runs
// with -C (checkers only), as keepalived-go does.
//
// QEMU is TCG (emulated): the absolute figures are slow, the ratio is
// what matters.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

const (
	guestConf     = "/tmp/lb.conf"
	guestKG       = "/bin/keepalived-go"
	guestSelf     = "/bin/lvsscale"
	guestSettle   = 10 * time.Minute // bound for any one wait in the guest
	guestCPUQuiet = time.Second      // no-op reload: done once the CPU time stays this long
)

// guestConfText is n virtual servers of m real servers each, without
// checker; change adds 7 to the weight of the middle server of the
// middle virtual server.
func guestConfText(n, m int, change bool) string {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id lvsscale\n}\n")
	vip, rip := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("172.16.0.1")
	for i := range n {
		fmt.Fprintf(&b, "virtual_server %s 80 {\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n", vip)
		for j := range m {
			w := 1 + j%3
			if change && i == n/2 && j == m/2 {
				w += 7
			}
			fmt.Fprintf(&b, "    real_server %s 8080 {\n        weight %d\n    }\n", rip, w)
			rip = rip.Next()
		}
		b.WriteString("}\n")
		vip = vip.Next()
	}
	return b.String()
}

// guestVIP is the i-th virtual server's address.
func guestVIP(i int) netip.Addr {
	a := netip.MustParseAddr("10.0.0.1")
	for range i {
		a = a.Next()
	}
	return a
}

// guestRIP is real server j of virtual server i.
func guestRIP(i, j, m int) netip.Addr {
	a := netip.MustParseAddr("172.16.0.1")
	for range i*m + j {
		a = a.Next()
	}
	return a
}

// runQEMU builds the binaries, boots the guest and prints its report.
func runQEMU(n, m int, timeout time.Duration, profile, daemonProfile string, sameNetns, kgFirst, trash bool, reloads int) error {
	if why := lab.QEMUAvailable(); why != "" {
		return fmt.Errorf("no QEMU guest: this host lacks %s", why)
	}
	dir, err := os.MkdirTemp("", "lvsscale-qemu-")
	if err != nil {
		return err
	}
	if profile == "" && daemonProfile == "" {
		defer os.RemoveAll(dir) // else the binary stays, for pprof
	}
	const module = "github.com/keepalived-go/keepalived-go"
	files := map[string]string{}
	for _, b := range []struct{ bin, pkg string }{{guestKG, module + "/cmd/keepalived-go"}, {guestSelf, module + "/test/lvsscale"}} {
		out := filepath.Join(dir, filepath.Base(b.bin))
		if err := lab.BuildStatic(b.pkg, out, false); err != nil {
			return err
		}
		files[b.bin] = out
	}
	g := &lab.Guest{
		Modules: []string{"ip_vs", "ip_vs_wrr"},
		Bins:    []string{"ip", "ipvsadm", "keepalived"},
		Files:   files,
		Script: fmt.Sprintf("cd /tmp\n%s -guest -services %d -servers %d -cpuprofile '%s' -daemonprofile '%s' -samenetns=%t -kgfirst=%t -trash=%t -reloads %d\n",
			guestSelf, n, m, profile, daemonProfile, sameNetns, kgFirst, trash, reloads),
		Memory: 1536,
	}
	fmt.Printf("QEMU (TCG) guest, Debian's cloud kernel; %d virtual servers x %d real servers, no checker; host load average %s\n", n, m, loadavg())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	began := time.Now()
	console, err := g.Run(ctx, dir)
	for _, l := range strings.Split(string(console), "\n") {
		if strings.HasPrefix(l, "lvsscale: ") || strings.HasPrefix(l, "=== guest") {
			fmt.Println(strings.TrimPrefix(strings.TrimRight(l, "\r"), "lvsscale: "))
		}
	}
	fmt.Printf("the guest ran %v; host load average at the end %s\n", time.Since(began).Round(time.Second), loadavg())
	if profile != "" && err == nil {
		if err := saveProfile(string(console), profile, files[guestSelf]); err != nil {
			return err
		}
	}
	if daemonProfile != "" && err == nil {
		if err := saveProfile(string(console), daemonProfile, files[guestKG]); err != nil {
			return err
		}
	}
	if err != nil || !strings.Contains(string(console), "lvsscale: DONE") {
		os.WriteFile("/tmp/lvsscale-qemu-console.txt", console, 0o644)
		return fmt.Errorf("the guest did not finish (%v); console in /tmp/lvsscale-qemu-console.txt", err)
	}
	return nil
}

// report prints a line the host shows (the guest's console; -daemon
// prints its progress to stderr).
func report(format string, args ...any) {
	fmt.Fprintf(reportTo, "lvsscale: "+format+"\n", args...)
}

var reportTo io.Writer = os.Stdout

// daemonRun is one daemon's figures.
type daemonRun struct {
	name                        string
	cold, noop, change          time.Duration // until settled
	coldCPU, noopCPU, changeCPU float64       // seconds
	table                       []string
}

// guestDaemons are the two daemons runGuest compares, in this order.
var guestDaemons = []struct {
	name string
	args []string
}{
	{"keepalived 2.2.7", []string{"/sbin/keepalived", "-n", "-l", "-C", "-f", guestConf, "-p", "/tmp/ka.pid", "-c", "/tmp/ka-checkers.pid"}},
	{"keepalived-go", []string{guestKG, "-n", "-l", "-C", "-f", guestConf, "-p", "/tmp/kg.pid", "-c", "/tmp/kg-checkers.pid", "--lvs-backend=ipvs"}},
}

// runGuest runs inside the guest: keepalived, then keepalived-go, each
// in a network namespace of its own unless sameNetns.
//
// Why a namespace each: when a service is deleted, the kernel keeps its
// destinations in the namespace's IPVS "trash" list for two to four
// minutes (net/netfilter/ipvs/ip_vs_ctl.c: __ip_vs_del_dest puts them
// there, ip_vs_dest_trash_expire frees them once idle for
// IP_VS_DEST_TRASH_PERIOD), and every destination added in that
// namespace meanwhile is first looked for in that list, one by one
// (ip_vs_trash_get_dest, from ip_vs_add_dest). The first daemon's stop
// (and ipvsadm -C) leaves its 40,000 destinations there: the second
// daemon's 40,000 adds then cost a walk of up to 40,000 entries each,
// inside its sendmsg calls, which made the second daemon's cold start
// up to twenty times slower than the same start in a fresh namespace.
// A namespace of its own gives each daemon an empty trash.
func runGuest(n, m int, sameNetns, kgFirst bool) error {
	if err := os.WriteFile(guestConf, []byte(guestConfText(n, m, false)), 0o644); err != nil {
		return err
	}
	where := "each daemon in a network namespace of its own"
	if sameNetns {
		where = "both daemons in the guest's namespace, one after the other"
	}
	if kgFirst {
		where += ", keepalived-go first"
	}
	report("guest: %d CPU(s); the configuration has %d virtual servers, %d real servers; %s", runtimeCPUs(), n, n*m, where)
	order := []int{0, 1}
	if kgFirst {
		order = []int{1, 0}
	}
	runs := make([]daemonRun, len(guestDaemons))
	for _, i := range order {
		d := guestDaemons[i]
		var r daemonRun
		var err error
		if sameNetns {
			r, err = measureDaemon(d.name, d.args, n, m)
		} else {
			r, err = measureInNewNetns(i, n, m)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		runs[i] = r
		// The next starts from the same configuration and an empty table.
		if err := os.WriteFile(guestConf, []byte(guestConfText(n, m, false)), 0o644); err != nil {
			return err
		}
	}
	ka, kg := runs[0], runs[1]
	row := func(what string, a, b time.Duration, ca, cb float64) {
		report("%-22s keepalived %8.2f s (CPU %7.2f s)   keepalived-go %8.2f s (CPU %7.2f s)   ratio keepalived-go/keepalived: time %.2f, CPU %.2f",
			what, a.Seconds(), ca, b.Seconds(), cb, b.Seconds()/a.Seconds(), cb/max(ca, 0.01))
	}
	row("cold start:", ka.cold, kg.cold, ka.coldCPU, kg.coldCPU)
	row("no-op reload (SIGHUP):", ka.noop, kg.noop, ka.noopCPU, kg.noopCPU)
	row("one server changed:", ka.change, kg.change, ka.changeCPU, kg.changeCPU)
	if slices.Equal(ka.table, kg.table) {
		report("ipvsadm -Sn after the change: the same under both (%d lines)", len(ka.table))
	} else {
		report("ipvsadm -Sn after the change DIFFERS: %d lines under keepalived, %d under keepalived-go", len(ka.table), len(kg.table))
		for _, l := range ka.table {
			if !slices.Contains(kg.table, l) {
				report("only keepalived: %s", l)
				break
			}
		}
		for _, l := range kg.table {
			if !slices.Contains(ka.table, l) {
				report("only keepalived-go: %s", l)
				break
			}
		}
	}
	report("DONE")
	return nil
}

// measureInNewNetns measures guestDaemons[i] from a child lvsscale in a
// network namespace of its own (its children, the daemon and ipvsadm,
// are in it too), which hands its figures back in a file.
func measureInNewNetns(i, n, m int) (daemonRun, error) {
	res := fmt.Sprintf("/tmp/lvsscale-run-%d.json", i)
	os.Remove(res)
	cmd := exec.Command(guestSelf, "-guest-daemon", strconv.Itoa(i), "-result", res,
		"-services", strconv.Itoa(n), "-servers", strconv.Itoa(m))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return daemonRun{}, fmt.Errorf("in a namespace of its own: %w", err)
	}
	b, err := os.ReadFile(res)
	if err != nil {
		return daemonRun{}, err
	}
	var r daemonRun
	return r, json.Unmarshal(b, &r)
}

// measureGuestDaemon is the child of measureInNewNetns. It brings the
// namespace's lo up first: the kernel refuses a NAT destination whose
// address type it cannot look up (ip_vs_new_dest: inet_addr_type says
// RTN_BROADCAST while the namespace has no local routing table yet).
func measureGuestDaemon(i, n, m int, result string) error {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set lo up: %v: %s", err, out)
	}
	d := guestDaemons[i]
	r, err := measureDaemon(d.name, d.args, n, m)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(result, b, 0o644)
}

// daemonRunJSON is daemonRun as measureGuestDaemon hands it over.
type daemonRunJSON struct {
	Name                        string
	Cold, Noop, Change          time.Duration
	ColdCPU, NoopCPU, ChangeCPU float64
	Table                       []string
}

func (r daemonRun) MarshalJSON() ([]byte, error) {
	return json.Marshal(daemonRunJSON{r.name, r.cold, r.noop, r.change, r.coldCPU, r.noopCPU, r.changeCPU, r.table})
}

func (r *daemonRun) UnmarshalJSON(b []byte) error {
	var j daemonRunJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = daemonRun{j.Name, j.Cold, j.Noop, j.Change, j.ColdCPU, j.NoopCPU, j.ChangeCPU, j.Table}
	return nil
}

func runtimeCPUs() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// procCPU is the CPU time of the daemon's processes: pid and what its
// pid files name (keepalived's checker child).
func procCPU(pid int, pidFiles ...string) float64 {
	pids := []int{pid}
	for _, f := range pidFiles {
		if b, err := os.ReadFile(f); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p != pid {
				pids = append(pids, p)
			}
		}
	}
	var total float64
	for _, p := range pids {
		if s, err := lab.CPUSeconds(p); err == nil {
			total += s
		}
	}
	return total
}

// destWeight is the weight ipvsadm shows for rip in the service at vip
// (-1 if it is not there).
func destWeight(vip, rip netip.Addr) int {
	out, _ := exec.Command("ipvsadm", "-Ln", "-t", vip.String()+":80").Output()
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 4 && f[0] == "->" && f[1] == rip.String()+":8080" {
			w, _ := strconv.Atoi(f[3])
			return w
		}
	}
	return -1
}

var destLine = regexp.MustCompile(`(?m)^\s+->\s+\d`)

// complete tells whether the service at vip has m destinations.
func complete(vip netip.Addr, m int) bool {
	out, _ := exec.Command("ipvsadm", "-Ln", "-t", vip.String()+":80").Output()
	return len(destLine.FindAll(out, -1)) == m
}

func waitFor(what string, cond func() bool) error {
	deadline := time.Now().Add(guestSettle)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v", what, guestSettle)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// quiet waits until the CPU time stays the same for guestCPUQuiet and
// returns when it last grew.
func quiet(cpu func() float64) (time.Time, float64) {
	last, at := cpu(), time.Now()
	for time.Since(at) < guestCPUQuiet {
		time.Sleep(50 * time.Millisecond)
		if c := cpu(); c != last {
			last, at = c, time.Now()
		}
	}
	return at, last
}

// probes tell when a daemon's kernel table is complete (the last
// virtual server has its real servers) and when the one change shows.
type probes struct {
	complete, changed func() bool
	conf              string // the configuration file the daemon reads
	log               string // where its output goes
}

// ipvsProbes look with ipvsadm.
func ipvsProbes(n, m int, name func() string) probes {
	last := guestVIP(n - 1)
	vip, rip := guestVIP(n/2), guestRIP(n/2, m/2, m)
	want := 1 + (m/2)%3 + 7
	return probes{
		complete: func() bool { return complete(last, m) },
		changed:  func() bool { return destWeight(vip, rip) == want },
		conf:     guestConf,
		log:      "/tmp/" + strings.ReplaceAll(name(), " ", "") + ".log",
	}
}

func measureDaemon(name string, args []string, n, m int) (daemonRun, error) {
	exec.Command("ipvsadm", "-C").Run()
	return measure(name, args, n, m, ipvsProbes(n, m, func() string { return filepath.Base(args[0]) }))
}

func measure(name string, args []string, n, m int, p probes) (daemonRun, error) {
	r := daemonRun{name: name}
	var pidFiles []string
	for i, a := range args {
		if (a == "-p" || a == "-c") && i+1 < len(args) {
			pidFiles = append(pidFiles, args[i+1])
			os.Remove(args[i+1])
		}
	}
	logf, err := os.Create(p.log)
	if err != nil {
		return r, err
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		cmd.Process.Kill() // if it still runs
		<-done
	}()
	cpu := func() float64 { return procCPU(cmd.Process.Pid, pidFiles...) }
	if err := waitFor("cold start", p.complete); err != nil {
		return r, err
	}
	r.cold = time.Since(start)
	_, r.coldCPU = quiet(cpu)
	report("%s: cold start settled after %.2f s", name, r.cold.Seconds())

	c0 := cpu()
	t0 := time.Now()
	cmd.Process.Signal(syscall.SIGHUP)
	at, c1 := quiet(cpu)
	r.noop, r.noopCPU = at.Sub(t0), c1-c0
	report("%s: no-op reload done after %.2f s", name, r.noop.Seconds())

	if err := os.WriteFile(p.conf, []byte(guestConfText(n, m, true)), 0o644); err != nil {
		return r, err
	}
	c0, t0 = cpu(), time.Now()
	cmd.Process.Signal(syscall.SIGHUP)
	if err := waitFor("the changed weight", p.changed); err != nil {
		return r, err
	}
	r.change = time.Since(t0)
	_, c1 = quiet(cpu)
	r.changeCPU = c1 - c0
	report("%s: one changed server settled after %.2f s", name, r.change.Seconds())

	if p.conf == guestConf {
		out, err := exec.Command("ipvsadm", "-Sn").Output()
		if err != nil {
			return r, fmt.Errorf("ipvsadm -Sn: %v", err)
		}
		r.table = slices.Sorted(slices.Values(strings.Split(strings.TrimSpace(string(out)), "\n")))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(guestSettle):
		return r, fmt.Errorf("did not stop within %v", guestSettle)
	}
	return r, nil
}
