// Command scale runs 255 VRRP instances on each of two routers (one master
// for all, one backup) for a while, once with keepalived-go on both and
// once with Debian's keepalived on both, one after the other in one run, and
// reports each daemon's CPU time and resident memory, and the state
// transitions after the initial election (which must be none).
//
// Usage (root): go run ./test/scale [-duration 5m] [-interval 1] [-instances 255] [-interfaces 1]
// [-only go|ka] [-backup2 ka|BINARY] [-logs DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

func main() {
	duration := flag.Duration("duration", 5*time.Minute, "how long to watch after the election")
	interval := flag.String("interval", "1", "advert_int (1 is VRRPv2, fractions VRRPv3)")
	instances := flag.Int("instances", 255, "VRRP instances per router")
	interfaces = flag.Int("interfaces", 1, "interfaces per router (eth0, then VLANs eth0.101...; at most 255 instances each, VRIDs from 1 on each)")
	bin := flag.String("bin", "", "keepalived-go binary (default: build it)")
	only := flag.String("only", "", "run only keepalived-go (go) or keepalived (ka)")
	backup2 = flag.String("backup2", "", "a second backup beside the first, facing the same master in the same run: "+
		"ka for keepalived, or a keepalived-go binary (to compare two builds under the same load and adverts)")
	logDir = flag.String("logs", "", "write each daemon's log to this directory")
	electionWait = flag.Duration("election-wait", 2*time.Minute, "how long the master's instances may take to all become master")
	flag.Parse()
	if *interfaces < 1 || (*instances+*interfaces-1) / *interfaces > 255 {
		fmt.Fprintln(os.Stderr, "scale: -interfaces must be at least 1, with at most 255 instances on each")
		os.Exit(2)
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintln(os.Stderr, "scale:", r)
			os.Exit(1)
		}
	}()
	if *bin == "" {
		*bin = build()
	}
	// One implementation at a time: with both on two cores at once, each
	// measures the other's load as much as its own.
	var results []string
	for _, kg := range []bool{true, false} {
		if (*only == "go" && !kg) || (*only == "ka" && kg) {
			continue
		}
		r := run(*bin, kg, *interval, *instances, *duration)
		fmt.Fprint(os.Stderr, r) // at once: a long run's first half is not lost
		results = append(results, r)
	}
	fmt.Printf("%d instances per router on %d interface(s), advert_int %s, watched %v after the election\n", *instances, *interfaces, *interval, *duration)
	fmt.Printf("%-14s %-7s %12s %10s %10s %12s %10s\n", "daemon", "router", "CPU (s)", "CPU %", "RSS (MiB)", "transitions", "sleeps/s")
	for _, r := range results {
		fmt.Print(r)
	}
}

var (
	interfaces   *int
	backup2      *string
	electionWait *time.Duration
	logDir       *string
)

// ifname is the router's k-th interface: eth0, the lab's, then eth1...
func ifname(k int) string { return fmt.Sprintf("eth%d", k) }

// addInterfaces gives each host the interfaces beyond eth0: for each, a
// bridge in a namespace of its own (prefix-bK) and a veth from every host
// to it, with an address of its own subnet. It returns what removes them.
func addInterfaces(l *lab.Lab, prefix string) func() {
	var made []string
	remove := func() {
		for _, ns := range made {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	}
	ip := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			remove()
			panic(fmt.Sprintf("ip %s: %v %s", strings.Join(args, " "), err, out))
		}
	}
	for k := 1; k < *interfaces; k++ {
		ns := fmt.Sprintf("%s-b%d", prefix, k)
		ip("netns", "add", ns)
		made = append(made, ns)
		ip("-n", ns, "link", "add", "br0", "type", "bridge")
		ip("-n", ns, "link", "set", "br0", "up")
		for i, h := range l.Hosts {
			port := fmt.Sprintf("p%d", i)
			ip("link", "add", ifname(k), "netns", h.NS, "type", "veth", "peer", "name", port, "netns", ns)
			ip("-n", ns, "link", "set", port, "master", "br0", "up")
			ip("-n", h.NS, "addr", "add", fmt.Sprintf("10.%d.0.%d/24", 100+k, 10+i), "dev", ifname(k))
			ip("-n", h.NS, "link", "set", ifname(k), "up")
		}
	}
	return remove
}

func build() string {
	bin, err := lab.BuildKeepalivedGo()
	check(err)
	return bin
}

func conf(interval string, prio, n int) string {
	version := 3
	if !strings.Contains(interval, ".") {
		version = 2
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    vrrp_version %d\n}\n", version)
	per := (n + *interfaces - 1) / *interfaces // instances per interface
	for i := 1; i <= n; i++ {
		k := (i - 1) / per
		fmt.Fprintf(&b, "vrrp_instance VI_%d {\n    state BACKUP\n    interface %s\n    virtual_router_id %d\n    priority %d\n    advert_int %s\n    virtual_ipaddress {\n        198.18.%d.%d/32\n    }\n}\n",
			i, ifname(k), (i-1)%per+1, prio, interval, i/256, i%256)
	}
	return b.String()
}

// run starts the two routers with one implementation, waits for the
// election, watches for the duration, and returns its table rows.
func run(bin string, kg bool, interval string, n int, duration time.Duration) string {
	name := "keepalived"
	prefix := fmt.Sprintf("kgs%dka", os.Getpid()%10000)
	if kg {
		name, prefix = "keepalived-go", fmt.Sprintf("kgs%dkg", os.Getpid()%10000)
	}
	hosts := []string{"master", "backup"}
	if *backup2 != "" {
		hosts = append(hosts, "backup2")
	}
	l, err := lab.New(prefix, hosts...)
	check(err)
	defer l.Close()
	defer addInterfaces(l, prefix)()
	var procs []*lab.Proc
	kgOn := map[string]bool{}
	binOn := map[string]string{}
	for _, h := range l.Hosts {
		prio := 100
		if h.Name == "master" {
			prio = 150
		}
		kgOn[h.Name], binOn[h.Name] = kg, bin
		if h.Name == "backup2" {
			kgOn[h.Name], binOn[h.Name] = *backup2 != "ka", *backup2
		}
		var p *lab.Proc
		if kgOn[h.Name] {
			p, err = h.StartKeepalivedGo(binOn[h.Name], conf(interval, prio, n))
		} else {
			p, err = h.StartKeepalived(conf(interval, prio, n))
		}
		check(err)
		defer p.Stop()
		procs = append(procs, p)
	}
	masterCount := func(p *lab.Proc) int { return strings.Count(p.Log(), "Entering MASTER STATE") }
	deadline := time.Now().Add(*electionWait)
	for masterCount(procs[0]) < n {
		if time.Now().After(deadline) {
			// Reported, not fatal: the other implementation's run still
			// gives its figures.
			return fmt.Sprintf("%-14s only %d of %d instances became master in %v\n", name, masterCount(procs[0]), n, *electionWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // let the election settle everywhere
	before := make([]string, len(procs))
	cpu0 := make([]float64, len(procs))
	sw0 := make([]int64, len(procs))
	for i, h := range l.Hosts {
		before[i] = procs[i].Log()
		cpu0[i] = cpuSeconds(pids(l, h, kgOn[h.Name]))
		sw0[i] = sleeps(pids(l, h, kgOn[h.Name]))
	}
	time.Sleep(duration)
	var out strings.Builder
	for i, h := range l.Hosts {
		ps := pids(l, h, kgOn[h.Name])
		cpu := cpuSeconds(ps) - cpu0[i]
		sw := sleeps(ps) - sw0[i]
		log := procs[i].Log()
		after := log[len(before[i]):]
		if *logDir != "" {
			check(os.WriteFile(filepath.Join(*logDir, fmt.Sprintf("%s-%s.log", name, h.Name)), []byte(log), 0o644))
		}
		name := name
		switch {
		case h.Name == "backup2" && !kgOn[h.Name]:
			name = "keepalived"
		case h.Name == "backup2":
			name = filepath.Base(binOn[h.Name])
		}
		transitions := strings.Count(after, "Entering ")
		fmt.Fprintf(&out, "%-14s %-7s %12.2f %9.2f%% %10.1f %12d %10.0f\n", name, h.Name, cpu,
			100*cpu/duration.Seconds(), float64(rssKiB(ps))/1024, transitions, float64(sw)/duration.Seconds())
	}
	for _, p := range procs {
		p.Signal(syscall.SIGTERM)
		p.Wait(10 * time.Second)
	}
	return out.String()
}

// pids are the daemon's processes: keepalived-go's one, or keepalived's
// parent and VRRP child.
func pids(l *lab.Lab, h *lab.Host, kg bool) []int {
	files := []string{h.Name + "-kg-main.pid"}
	if !kg {
		files = []string{h.Name + "-ka-main.pid", h.Name + "-ka-vrrp.pid"}
	}
	var ps []int
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(l.Dir, f))
		check(err)
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		check(err)
		ps = append(ps, pid)
	}
	return ps
}

// cpuSeconds and rssKiB are lab's, failing the run on an error.
func cpuSeconds(ps []int) float64 {
	s, err := lab.CPUSeconds(ps...)
	check(err)
	return s
}

func rssKiB(ps []int) int64 {
	kb, err := lab.RSSKiB(ps...)
	check(err)
	return kb
}

// sleeps sums the voluntary context switches of the processes' threads:
// how often a thread went to sleep waiting for something, each a wake-up
// later. Unlike CPU time, the machine's other load hardly moves it.
func sleeps(ps []int) int64 {
	var n int64
	for _, pid := range ps {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
		check(err)
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue // the thread ended
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
					c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					n += c
				}
			}
		}
	}
	return n
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
