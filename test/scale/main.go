// Command scale runs 255 VRRP instances on each of two routers (one master
// for all, one backup) for a while, once with keepalived-go on both and
// once with Debian's keepalived on both, one after the other in one run, and
// reports each daemon's CPU time and resident memory, and the state
// transitions after the initial election (which must be none).
//
// Usage (root): go run ./test/scale [-duration 5m] [-interval 1] [-instances 255]
package main

import (
	"flag"
	"fmt"
	"os"
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
	bin := flag.String("bin", "", "keepalived-go binary (default: build it)")
	only := flag.String("only", "", "run only keepalived-go (go) or keepalived (ka)")
	flag.Parse()
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
		results = append(results, run(*bin, kg, *interval, *instances, *duration))
	}
	fmt.Printf("%d instances per router, advert_int %s, watched %v after the election\n", *instances, *interval, *duration)
	fmt.Printf("%-14s %-7s %12s %10s %10s %12s\n", "daemon", "router", "CPU (s)", "CPU %", "RSS (MiB)", "transitions")
	for _, r := range results {
		fmt.Print(r)
	}
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
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "vrrp_instance VI_%d {\n    state BACKUP\n    interface eth0\n    virtual_router_id %d\n    priority %d\n    advert_int %s\n    virtual_ipaddress {\n        198.18.%d.%d/32\n    }\n}\n",
			i, i, prio, interval, i/256, i%256)
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
	l, err := lab.New(prefix, "master", "backup")
	check(err)
	defer l.Close()
	var procs []*lab.Proc
	for _, h := range l.Hosts {
		prio := 100
		if h.Name == "master" {
			prio = 150
		}
		var p *lab.Proc
		if kg {
			p, err = h.StartKeepalivedGo(bin, conf(interval, prio, n))
		} else {
			p, err = h.StartKeepalived(conf(interval, prio, n))
		}
		check(err)
		defer p.Stop()
		procs = append(procs, p)
	}
	masterCount := func(p *lab.Proc) int { return strings.Count(p.Log(), "Entering MASTER STATE") }
	deadline := time.Now().Add(60 * time.Second)
	for masterCount(procs[0]) < n {
		if time.Now().After(deadline) {
			panic(fmt.Sprintf("%s: only %d of %d instances became master", name, masterCount(procs[0]), n))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // let the election settle everywhere
	before := make([]string, len(procs))
	cpu0 := make([]float64, len(procs))
	for i, h := range l.Hosts {
		before[i] = procs[i].Log()
		cpu0[i] = cpuSeconds(pids(l, h, kg))
	}
	time.Sleep(duration)
	var out strings.Builder
	for i, h := range l.Hosts {
		ps := pids(l, h, kg)
		cpu := cpuSeconds(ps) - cpu0[i]
		after := procs[i].Log()[len(before[i]):]
		transitions := strings.Count(after, "Entering ")
		fmt.Fprintf(&out, "%-14s %-7s %12.2f %9.2f%% %10.1f %12d\n", name, h.Name, cpu,
			100*cpu/duration.Seconds(), float64(rssKiB(ps))/1024, transitions)
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

func check(err error) {
	if err != nil {
		panic(err)
	}
}
