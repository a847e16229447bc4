// Command checkscale runs keepalived-go's health checks against many real
// servers and reports what they cost and how well they keep time:
//
//   - a "servers" namespace answers TCP on -servers ports (one process,
//     one listener per port), plus one victim server of its own;
//   - a "director" namespace runs keepalived-go with one virtual server
//     of all of them, TCP_CHECK at delay_loop 1 (warmup spreads the
//     starts over the first second), and, with -vrrp, a VRRP instance at
//     advert_int 0.1 as master over a keepalived-go backup in a "peer"
//     namespace;
//   - after -settle, for -duration: the director's CPU time and resident
//     memory, how late the checks started after their time (p50, p99 from
//     keepalived_check_lateness_seconds), and with -vrrp the VRRP timers'
//     lateness and the state changes (which must be none);
//   - last, the victim is killed and the time until the director logs it
//     down is compared with delay_loop + retry × delay_before_retry +
//     connect_timeout.
//
// Usage (root): go run ./test/checkscale [-servers 1000] [-duration 1m] [-vrrp]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

const (
	basePort   = 10000
	victimPort = 9999
	apiAddr    = "127.0.0.1:9165"
	// The checks' timing: detection is bounded by delayLoop + retry ×
	// delayBeforeRetry + connectTimeout.
	delayLoop, retry, delayBeforeRetry, connectTimeout = 1, 1, 1, 3
)

func main() {
	serve := flag.Int("serve", 0, "internal: answer TCP on this many ports from -base")
	base := flag.Int("base", basePort, "internal: the first port to serve")
	scrape := flag.String("scrape", "", "internal: print the metrics at this address")
	servers := flag.Int("servers", 1000, "real servers")
	duration := flag.Duration("duration", time.Minute, "how long to measure")
	settle := flag.Duration("settle", 15*time.Second, "how long to wait before measuring")
	withVRRP := flag.Bool("vrrp", false, "run a VRRP instance at advert_int 0.1 in the same daemon")
	bin := flag.String("bin", "", "keepalived-go binary (default: build it)")
	flag.StringVar(&globalDefs, "global", "", "lines for the director's global_defs, e.g. 'vrrp_rt_priority 10'")
	flag.Parse()
	switch {
	case *serve > 0:
		serveTCP(*base, *serve)
		return
	case *scrape != "":
		resp, err := http.Get("http://" + *scrape + "/metrics")
		check(err)
		io.Copy(os.Stdout, resp.Body)
		resp.Body.Close()
		return
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintln(os.Stderr, "checkscale:", r)
			os.Exit(1)
		}
	}()
	if *bin == "" {
		b, err := lab.BuildKeepalivedGo()
		check(err)
		*bin = b
	}
	run(*bin, *servers, *duration, *settle, *withVRRP)
}

// serveTCP accepts and closes connections on n ports, until killed.
func serveTCP(base, n int) {
	for p := base; p < base+n; p++ {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		check(err)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	select {}
}

func run(bin string, n int, duration, settle time.Duration, withVRRP bool) {
	hosts := []string{"director", "servers"}
	if withVRRP {
		hosts = append(hosts, "peer")
	}
	l, err := lab.New(fmt.Sprintf("kgc%d", os.Getpid()%10000), hosts...)
	check(err)
	defer l.Close()
	director, servers := l.Host("director"), l.Host("servers")
	self, err := os.Executable()
	check(err)
	farm, err := servers.Start(self, "-serve", strconv.Itoa(n))
	check(err)
	defer farm.Stop()
	victim, err := servers.Start(self, "-serve", "1", "-base", strconv.Itoa(victimPort))
	check(err)
	defer victim.Stop()
	time.Sleep(2 * time.Second) // the listeners
	if withVRRP {
		peer, err := l.Host("peer").StartKeepalivedGo(bin, vrrpConf(100))
		check(err)
		defer peer.Stop()
	}
	conf := checkConf(servers.IPv4.String(), n, withVRRP)
	path, err := l.WriteFile("director-kg.conf", conf)
	check(err)
	d, err := director.Start(bin, append([]string{"-n", "-l", "-f", path, "--api-listen=" + apiAddr}, director.PidArgs("kg")...)...)
	check(err)
	defer d.Stop()
	time.Sleep(settle)
	pid := d.Pid()
	cpu0, err := lab.CPUSeconds(pid)
	if err != nil {
		log.Fatalf("the director is not running (%v, %v); its log:\n%s", err, d.Wait(time.Second), d.Log())
	}
	farm0, err := lab.CPUSeconds(farm.Pid())
	check(err)
	wait0 := runqueueWait(pid)
	load0 := loadavg()
	m0 := metrics(director, self)
	log0 := len(d.Log())
	time.Sleep(duration)
	cpu1, err := lab.CPUSeconds(pid)
	check(err)
	farm1, err := lab.CPUSeconds(farm.Pid())
	check(err)
	wait1 := runqueueWait(pid)
	rss, err := lab.RSSKiB(pid)
	check(err)
	m1 := metrics(director, self)
	fmt.Printf("%d real servers, TCP_CHECK at delay_loop %d, measured %v after %v\n", n, delayLoop, duration, settle)
	fmt.Printf("CPU: %.2f s (%.1f%% of one core)   RSS: %.1f MiB\n", cpu1-cpu0, 100*(cpu1-cpu0)/duration.Seconds(), float64(rss)/1024)
	fmt.Printf("machine: load average %s at the start, %s at the end; the director's threads waited %.2f s for a CPU; the server farm used %.1f%% of one core\n",
		load0, loadavg(), wait1-wait0, 100*(farm1-farm0)/duration.Seconds())
	p50, p99, count := quantiles(m0, m1, "keepalived_check_lateness_seconds")
	fmt.Printf("checks started: %d (%.0f/s); lateness p50 <= %s, p99 <= %s\n", count, float64(count)/duration.Seconds(), p50, p99)
	if withVRRP {
		p50, p99, _ := quantiles(m0, m1, "keepalived_vrrp_timer_lateness_seconds")
		transitions := strings.Count(d.Log()[log0:], "Entering ")
		fmt.Printf("VRRP advert_int 0.1: timer lateness p50 <= %s, p99 <= %s; state changes while measured: %d\n", p50, p99, transitions)
	}
	detect(d, victim, servers.IPv4.String())
}

// detect kills the victim and reports how long the director took to log
// its server down.
func detect(d, victim *lab.Proc, addr string) {
	bound := time.Duration(delayLoop+retry*delayBeforeRetry+connectTimeout) * time.Second
	mark := len(d.Log())
	start := time.Now()
	victim.Signal(syscall.SIGKILL)
	line := fmt.Sprintf("Removing service [%s]:tcp:%d", addr, victimPort)
	for time.Since(start) < 2*bound {
		if strings.Contains(d.Log()[mark:], line) {
			fmt.Printf("detection after the victim died: %v (bound delay_loop + retry × delay_before_retry + connect_timeout = %v)\n",
				time.Since(start).Round(10*time.Millisecond), bound)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("detection: not within %v\n", 2*bound)
}

// globalDefs are -global's lines for the director's global_defs.
var globalDefs string

func checkConf(addr string, n int, withVRRP bool) string {
	var b strings.Builder
	if globalDefs != "" {
		fmt.Fprintf(&b, "global_defs {\n    %s\n}\n", globalDefs)
	}
	if withVRRP {
		b.WriteString(vrrpConf(150))
	}
	fmt.Fprintf(&b, "virtual_server 198.18.0.1 80 {\n    protocol TCP\n    delay_loop %d\n", delayLoop)
	write := func(port int) {
		fmt.Fprintf(&b, "    real_server %s %d {\n        TCP_CHECK {\n            connect_timeout %d\n            retry %d\n            delay_before_retry %d\n        }\n    }\n",
			addr, port, connectTimeout, retry, delayBeforeRetry)
	}
	for p := basePort; p < basePort+n; p++ {
		write(p)
	}
	write(victimPort)
	b.WriteString("}\n")
	return b.String()
}

func vrrpConf(prio int) string {
	return fmt.Sprintf("vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority %d\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {\n        198.51.100.200/24\n    }\n}\n", prio)
}

// metrics scrapes the director's API from inside its namespace.
func metrics(h *lab.Host, self string) map[string]*dto.MetricFamily {
	out, err := h.Command(self, "-scrape", apiAddr).Output()
	check(err)
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mf, err := parser.TextToMetricFamilies(bufio.NewReader(strings.NewReader(string(out))))
	check(err)
	return mf
}

// quantiles are the upper bounds of the buckets holding the median and
// the 99th percentile of what a histogram counted between two scrapes
// (summed over its series).
func quantiles(before, after map[string]*dto.MetricFamily, name string) (p50, p99 string, count uint64) {
	cum := func(m map[string]*dto.MetricFamily) (map[float64]uint64, uint64) {
		out, total := map[float64]uint64{}, uint64(0)
		f := m[name]
		if f == nil {
			return out, 0
		}
		for _, s := range f.Metric {
			h := s.GetHistogram()
			total += h.GetSampleCount()
			for _, b := range h.Bucket {
				out[b.GetUpperBound()] += b.GetCumulativeCount()
			}
		}
		return out, total
	}
	b0, n0 := cum(before)
	b1, n1 := cum(after)
	count = n1 - n0
	var bounds []float64
	for ub := range b1 {
		bounds = append(bounds, ub)
	}
	sort.Float64s(bounds)
	at := func(q float64) string {
		for _, ub := range bounds {
			if float64(b1[ub]-b0[ub]) >= q*float64(count) {
				return (time.Duration(ub * float64(time.Second))).String()
			}
		}
		return "beyond " + time.Duration(bounds[len(bounds)-1]*float64(time.Second)).String()
	}
	if math.IsInf(bounds[len(bounds)-1], 1) { // the unbounded bucket
		bounds = bounds[:len(bounds)-1]
	}
	if count == 0 || len(bounds) == 0 {
		return "-", "-", 0
	}
	return at(0.5), at(0.99), count
}

// runqueueWait is how long, in seconds, the threads of a process waited
// for a CPU while runnable (/proc/PID/task/*/schedstat, second field):
// what the machine's other load cost it.
func runqueueWait(pid int) float64 {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if f := strings.Fields(string(b)); err == nil && len(f) >= 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			ns += n
		}
	}
	return float64(ns) / 1e9
}

// loadavg is the machine's 1-minute load average.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
