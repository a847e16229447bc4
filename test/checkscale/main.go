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
// Usage (root): go run ./test/checkscale [-servers 1000] [-duration 1m] [-vrrp] [-check-http]
//
// With -qemu it compares instead the checkers' cost with keepalived's
// own in a QEMU guest (compare.go): go run ./test/checkscale -qemu
// [-servers 1000] [-delay-loop 1] [-check-http] [-rounds 3] [-settle 5s]
// [-duration 10s] [-cpus 1] [-icount shift=0,sleep=off] (-settle and
// -duration default to 5s and 10s of guest time there).
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
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
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
	serveHTTP := flag.Bool("http", false, "internal: with -serve, answer HTTP requests with 200")
	scrape := flag.String("scrape", "", "internal: print the metrics at this address")
	servers := flag.Int("servers", 1000, "real servers")
	duration := flag.Duration("duration", time.Minute, "how long to measure")
	settle := flag.Duration("settle", 15*time.Second, "how long to wait before measuring")
	withVRRP := flag.Bool("vrrp", false, "run a VRRP instance at advert_int 0.1 in the same daemon")
	bin := flag.String("bin", "", "keepalived-go binary (default: build it)")
	var o compareOptions
	qemu := flag.Bool("qemu", false, "compare with keepalived's checker in a QEMU guest (IPVS); see compare.go")
	guest := flag.Bool("guest", false, "internal: run the -qemu comparison (inside the guest)")
	flag.StringVar(&o.kg, "kg", "", "internal: keepalived-go's binary in the guest")
	flag.IntVar(&o.rounds, "rounds", 3, "-qemu: rounds (each measures both daemons)")
	flag.IntVar(&o.delayLoop, "delay-loop", delayLoop, "-qemu: delay_loop")
	flag.BoolVar(&o.http, "check-http", false, "HTTP_GET instead of TCP_CHECK")
	flag.IntVar(&o.cpus, "cpus", 1, "-qemu: the guest's vCPUs (more than one: with -icount \"\", see compare.go)")
	flag.IntVar(&o.memory, "memory", 1024, "-qemu: the guest's memory (MiB)")
	// Under TCG the guest's kernel picks the HPET as its clock: every
	// clock read is then a system call and an emulated device access,
	// where real machines (and KVM guests) read the TSC in the vDSO. Go's
	// runtime reads the clock far more often than keepalived does.
	kernelArgs := flag.String("kernel-args", "clocksource=tsc tsc=reliable", "-qemu: added to the guest kernel's command line")
	flag.StringVar(&o.icount, "icount", "shift=0,sleep=off", "-qemu: QEMU's -icount (guest time from executed instructions; \"\" for the host's time)")
	flag.StringVar(&globalDefs, "global", "", "lines for the director's global_defs, e.g. 'vrrp_rt_priority 10'")
	flag.Parse()
	o.kernelArgs = strings.Fields(*kernelArgs)
	o.servers, o.settle, o.duration = *servers, *settle, *duration
	if *qemu { // shorter defaults: a guest second takes 5-20 of the host's
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["settle"] {
			o.settle = 5 * time.Second
		}
		if !set["duration"] {
			o.duration = 10 * time.Second
		}
	}
	switch {
	case *serve > 0:
		serveTCP(*base, *serve, *serveHTTP)
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
	switch {
	case *guest:
		compare(o)
		return
	case *qemu:
		runQEMU(o)
		return
	}
	if *bin == "" {
		b, err := lab.BuildKeepalivedGo()
		check(err)
		*bin = b
	}
	run(*bin, *servers, *duration, *settle, *withVRRP, o.http)
}

// serveTCP accepts connections on n ports from base and closes them
// (after answering an HTTP request with 200 if http), until killed. It
// prints "listening" once every listener is open, and "accepted N"
// (connections so far) on each SIGUSR1: the checks that reached the
// servers, whichever daemon made them.
func serveTCP(base, n int, http bool) {
	var accepted atomic.Int64
	if http {
		for p := base; p < base+n; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
			check(err)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					accepted.Add(1)
					go answerHTTP(c)
				}
			}()
		}
	} else {
		go acceptAndClose(listenRaw(base, n), &accepted)
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	fmt.Println("listening")
	for range usr1 {
		fmt.Printf("accepted %d\n", accepted.Load())
	}
}

// listenRaw opens non-blocking TCP listeners (IPv4) on n ports from base,
// all in one epoll instance, which it returns.
func listenRaw(base, n int) int {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	check(err)
	for p := base; p < base+n; p++ {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		check(err)
		check(syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1))
		check(syscall.Bind(fd, &syscall.SockaddrInet4{Port: p}))
		check(syscall.Listen(fd, 4096))
		check(syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}))
	}
	return ep
}

// acceptAndClose accepts and closes every connection to the listeners
// of the epoll instance, counting them: one thread, two system calls a
// connection and an epoll_wait for all those ready, so that the
// servers take as little as can be of the CPUs they share with the
// director (in the QEMU guest, two vCPUs).
func acceptAndClose(ep int, accepted *atomic.Int64) {
	runtime.LockOSThread()
	events := make([]syscall.EpollEvent, 256)
	for {
		k, err := syscall.EpollWait(ep, events, -1)
		if err == syscall.EINTR {
			continue
		}
		check(err)
		for _, ev := range events[:k] {
			for {
				nfd, _, err := syscall.Accept4(int(ev.Fd), syscall.SOCK_CLOEXEC)
				if err != nil {
					break // EAGAIN: all accepted; ECONNABORTED and others: the next wake-up
				}
				accepted.Add(1)
				syscall.Close(nfd)
			}
		}
	}
}

// answerHTTP reads a request's head and answers 200 with a short body.
func answerHTTP(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n")
}

// farm is the process of serveTCP in a host.
type farm struct{ *lab.Proc }

// startFarm starts serveTCP in h and waits until it listens.
func startFarm(h *lab.Host, self string, base, n int, http bool) (*farm, error) {
	args := []string{"-serve", strconv.Itoa(n), "-base", strconv.Itoa(base)}
	if http {
		args = append(args, "-http")
	}
	p, err := h.Start(self, args...)
	if err != nil {
		return nil, err
	}
	f := &farm{p}
	if err := lab.WaitUntil("the servers listen", time.Minute, func() bool { return strings.Contains(p.Log(), "listening\n") }); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%w: %s", err, p.Log())
	}
	return f, nil
}

// accepted asks the farm how many connections it accepted so far.
func (f *farm) accepted() (int64, error) {
	before := strings.Count(f.Log(), "accepted ")
	if err := f.Signal(syscall.SIGUSR1); err != nil {
		return 0, err
	}
	if err := lab.WaitUntil("the farm's count", 10*time.Second, func() bool {
		log := f.Log()
		return strings.Count(log, "accepted ") > before && strings.HasSuffix(log, "\n")
	}); err != nil {
		return 0, err
	}
	log := f.Log()
	last := log[strings.LastIndex(log, "accepted ")+len("accepted "):]
	return strconv.ParseInt(strings.TrimSpace(last[:strings.IndexByte(last, '\n')]), 10, 64)
}

func run(bin string, n int, duration, settle time.Duration, withVRRP, http bool) {
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
	farm, err := startFarm(servers, self, basePort, n, http)
	check(err)
	defer farm.Stop()
	victim, err := startFarm(servers, self, victimPort, 1, http)
	check(err)
	defer victim.Stop()
	if withVRRP {
		peer, err := l.Host("peer").StartKeepalivedGo(bin, vrrpConf(100))
		check(err)
		defer peer.Stop()
	}
	conf := checkConfig{addr: servers.IPv4.String(), ports: append(portRange(basePort, n), victimPort), delayLoop: delayLoop, http: http, vrrp: withVRRP}.text()
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
	kind := "TCP_CHECK"
	if http {
		kind = "HTTP_GET"
	}
	fmt.Printf("%d real servers, %s at delay_loop %d, measured %v after %v\n", n, kind, delayLoop, duration, settle)
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
func detect(d *lab.Proc, victim *farm, addr string) {
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

// checkConfig is the configuration of a director: one virtual server
// of real servers on ports of one address, all checked alike.
type checkConfig struct {
	addr      string // the real servers' address
	ports     []int
	delayLoop int
	http      bool // HTTP_GET of / expecting 200 instead of TCP_CHECK
	vrrp      bool // with a VRRP instance at advert_int 0.1 (priority 150)
}

// globalDefs are -global's lines for the director's global_defs.
var globalDefs string

func (c checkConfig) text() string {
	var b strings.Builder
	if globalDefs != "" {
		fmt.Fprintf(&b, "global_defs {\n    %s\n}\n", globalDefs)
	}
	if c.vrrp {
		b.WriteString(vrrpConf(150))
	}
	fmt.Fprintf(&b, "virtual_server 198.18.0.1 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind NAT\n    delay_loop %d\n", c.delayLoop)
	checker := "TCP_CHECK {\n"
	if c.http {
		checker = "HTTP_GET {\n            url {\n                path /\n                status_code 200\n            }\n"
	}
	for _, port := range c.ports {
		fmt.Fprintf(&b, "    real_server %s %d {\n        %s            connect_timeout %d\n            retry %d\n            delay_before_retry %d\n        }\n    }\n",
			c.addr, port, checker, connectTimeout, retry, delayBeforeRetry)
	}
	b.WriteString("}\n")
	return b.String()
}

// portRange is n ports from base.
func portRange(base, n int) []int {
	ports := make([]int, n)
	for i := range ports {
		ports[i] = base + i
	}
	return ports
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
