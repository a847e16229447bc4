// Command reload measures what a configuration reload (SIGHUP) costs a
// VRRP master, with keepalived-go as the master and with Debian's
// keepalived as the master, in the same topology and the same run, and
// prints both and their ratio.
//
// Three namespaces on a bridge: r1 is the master under test (priority 150),
// r2 is always Debian's keepalived as the backup (priority 100), so that the
// observer is the same for both, and a client pings the VIP of VI_1 every
// 2 ms and captures the wire with tshark. Both routers run N instances
// VI_1..VI_N (VRIDs 1..N, VIP 198.51.100.(100+i)/24 on eth0). Each reload
// rewrites r1's configuration, adding or removing one extra VIP
// (198.51.100.200, in VI_1's virtual_ipaddress_excluded, so that the
// adverts stay what r2 expects) so that the reload has a real change to
// apply, and sends SIGHUP to r1's daemon. Reloads are a fixed time apart,
// longer than r2's Master_Down_Interval, so that a takeover a reload
// provokes happens before the next one. Per reload, with t the time SIGHUP
// was sent and its window running from t to the next SIGHUP (or the end):
//
//   - outage: the longest gap between two ping replies (ping -D
//     timestamps) whose later reply falls in [t, t+500 ms). The reload
//     itself takes milliseconds; a wider window mostly collects the
//     pinger's own scheduling stalls;
//   - lost: echo requests left unanswered (icmp_seq numbers missing
//     between replies) in the whole window, over all reloads. A reply gap
//     without a lost request is the pinger not running, not the VIP gone;
//   - advert gap: the longest gap between two of r1's adverts for VI_1
//     whose later advert falls in the window, so the gap across the
//     SIGHUP counts. This is what the backup sees: it takes over if a
//     gap reaches its Master_Down_Interval. Normally it is advert_int;
//   - first advert: from t to r1's first advert for VI_1 on the wire in
//     the window. Where the advert timer stands at t is random, so this
//     says something only because both implementations send adverts at a
//     reload: keepalived-go as each instance restarts, keepalived once for
//     every instance about 1 ms after SIGHUP and again a few ms later,
//     after the reload's GARPs;
//   - new VIP: from t to r1's first gratuitous ARP for the extra VIP, on
//     the reloads that add it: when the change is in force, as seen from
//     outside;
//   - takeovers: "Entering MASTER STATE" lines r2 logged during the
//     reloads (any instance) / r2's adverts on the wire, which a backup
//     does not send;
//   - GARPs: gratuitous ARP frames on the wire per reload (any VIP). A
//     master that keeps its addresses has no need to send them, but may;
//   - applied: reloads after which r1 held exactly what its configuration
//     asked (the N VIPs, and the extra one or not) and r2 held none;
//   - CPU: r1's CPU time (keepalived's parent and VRRP child summed) in
//     the 200 ms after t, less what it used in the 200 ms before t;
//   - took: keepalived-go's own "VRRP reloaded took=" (keepalived logs no
//     duration).
//
// The rows "idle" give the outage over consecutive 500 ms windows and the
// advert gaps over the time before the first reload: the noise floor.
//
// Usage (root): go run ./test/reload [-instances 10] [-advert 1] [-reloads 10] [-bin path] [-logs dir]
package main

import (
	"bufio"
	"flag"
	"fmt"
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
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

const (
	backupPriority = 100
	outageWindow   = 500 * time.Millisecond
	cpuWindow      = 200 * time.Millisecond
)

var (
	extraVIP = netip.MustParseAddr("198.51.100.200")
	logDir   string
)

func vipOf(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + i)}) }

func main() {
	n := flag.Int("instances", 10, "VRRP instances per router (1-99)")
	advert := flag.String("advert", "1", "advert_int (a whole number is VRRPv2, a fraction VRRPv3)")
	reloads := flag.Int("reloads", 10, "reloads per implementation")
	bin := flag.String("bin", "", "keepalived-go binary (default: build it)")
	flag.StringVar(&logDir, "logs", "", "directory to keep the daemons' logs, the pings and the captures in")
	flag.Parse()
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintln(os.Stderr, "reload:", r)
			os.Exit(1)
		}
	}()
	if *n < 1 || *n > 99 || *reloads < 1 {
		fail("-instances must be 1-99 and -reloads at least 1")
	}
	if *bin == "" {
		*bin = build()
	}
	iv := interval(*advert)
	// Longer than r2's Master_Down_Interval (3 adverts + skew), with a
	// margin, so that a takeover shows before the next reload.
	spacing := 4*iv + 500*time.Millisecond
	fmt.Printf("advert_int %s (VRRPv%d), %d instances, %d reloads %v apart; r2 (keepalived) Master_Down_Interval %v\n",
		*advert, version(*advert), *n, *reloads, spacing, vrrp.MasterDownInterval(version(*advert), backupPriority, iv, 3))
	kg := measure(*bin, *advert, *n, *reloads, spacing, true)
	ka := measure(*bin, *advert, *n, *reloads, spacing, false)
	fmt.Printf("%-14s %-15s %5s %-17s %-13s %-13s %9s %6s %7s %-13s %s\n", "master (ms)", "outage med/max", "lost",
		"advert gap med/max", "first advert", "new VIP", "takeovers", "GARPs", "applied", "CPU med/max", "took med/max")
	kg.print("keepalived-go")
	ka.print("keepalived")
	fmt.Printf("%-14s %-15.2f %5s %-17.2f %-13.2f %-13.2f %9s %6.1f %7s %-13.2f\n", "ratio go/ka", median(kg.outage)/median(ka.outage), "",
		median(kg.gap)/median(ka.gap), median(kg.first)/median(ka.first), median(kg.newVIP)/median(ka.newVIP), "",
		float64(kg.garps)/float64(ka.garps), "", median(kg.cpu)/median(ka.cpu))
	for _, r := range []struct {
		name string
		res  result
	}{{"idle go", kg}, {"idle ka", ka}} {
		fmt.Printf("%-14s %-15s %5d %-17s\n", r.name, medMax(r.res.idleOutage), r.res.idleLost, medMax(r.res.idleGap))
	}
	fmt.Println("\nper reload (ms):")
	for _, r := range []struct {
		name string
		res  result
	}{{"keepalived-go", kg}, {"keepalived", ka}} {
		fmt.Printf("%-14s outage  %v\n%-14s gap     %v\n%-14s first   %v\n%-14s new VIP %v\n%-14s CPU     %v\n",
			r.name, r.res.outage, "", r.res.gap, "", r.res.first, "", r.res.newVIP, "", r.res.cpu)
	}
}

func build() string {
	bin, err := lab.BuildKeepalivedGo()
	check(err)
	return bin
}

func version(advert string) int {
	if strings.Contains(advert, ".") {
		return 3
	}
	return 2
}

func interval(advert string) time.Duration {
	secs, err := strconv.ParseFloat(advert, 64)
	check(err)
	return time.Duration(secs * float64(time.Second))
}

// conf is a router's configuration: n instances, and on r1 the extra VIP
// on VI_1 when extra is set. The extra VIP is excluded (not advertised):
// keepalived discards an advert whose address count differs from its own
// ("received an unexpected ip number count"), so an advertised extra VIP
// on r1 alone would make r2 take over whatever the reload did.
func conf(advert string, prio, n int, extra bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    vrrp_version %d\n}\n", version(advert))
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "vrrp_instance VI_%d {\n    state BACKUP\n    interface eth0\n    virtual_router_id %d\n    priority %d\n    advert_int %s\n    virtual_ipaddress {\n        %s/24\n    }\n",
			i, i, prio, advert, vipOf(i))
		if i == 1 && extra {
			fmt.Fprintf(&b, "    virtual_ipaddress_excluded {\n        %s/24\n    }\n", extraVIP)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// result holds one implementation's figures, times in milliseconds.
type result struct {
	outage, gap, first  []float64 // per reload
	newVIP              []float64 // per reload that adds the extra VIP
	took                []float64 // keepalived-go's own log
	idleOutage, idleGap []float64
	lost, idleLost      int
	cpu                 []float64 // per reload
	takeovers           int       // r2's log
	r2Adverts, garps    int       // the wire
	applied, reloads    int
}

func (r result) print(name string) {
	took := "-"
	if len(r.took) > 0 {
		took = medMax(r.took)
	}
	fmt.Printf("%-14s %-15s %5d %-17s %-13s %-13s %9s %6.1f %7s %-13s %s\n", name, medMax(r.outage), r.lost, medMax(r.gap), medMax(r.first),
		medMax(r.newVIP), fmt.Sprintf("%d/%d", r.takeovers, r.r2Adverts), float64(r.garps)/float64(r.reloads),
		fmt.Sprintf("%d/%d", r.applied, r.reloads), medMax(r.cpu), took)
}

// measure builds a lab, runs the reloads against one implementation on r1
// and reads the figures from the client's ping and capture.
func measure(bin, advert string, n, reloads int, spacing time.Duration, kg bool) result {
	prefix := fmt.Sprintf("kgr%dka", os.Getpid()%100000)
	if kg {
		prefix = fmt.Sprintf("kgr%dkg", os.Getpid()%100000)
	}
	l, err := lab.New(prefix, "r1", "r2", "client")
	check(err)
	defer l.Close()
	r1, r2, client := l.Host("r1"), l.Host("r2"), l.Host("client")
	var p1 *lab.Proc
	confName := "r1-ka.conf" // the file lab's Start* wrote, rewritten for each reload
	if kg {
		p1, err = r1.StartKeepalivedGo(bin, conf(advert, 150, n, false))
		confName = "r1-kg.conf"
	} else {
		p1, err = r1.StartKeepalived(conf(advert, 150, n, false))
	}
	check(err)
	defer p1.Stop()
	p2, err := r2.StartKeepalived(conf(advert, backupPriority, n, false))
	check(err)
	defer p2.Stop()
	for i := 1; i <= n; i++ {
		_, err := lab.WaitHolder(vipOf(i), r1, 20*time.Second, r1, r2)
		check(err)
	}
	waitFor(func() bool { return client.Ping(vipOf(1)) }, 10*time.Second, "the client reaches the VIP")

	capture := filepath.Join(l.Dir, "wire.pcap")
	tshark, err := client.Start("tshark", "-i", "eth0", "-f", "vrrp or arp", "-w", capture)
	check(err)
	defer tshark.Stop()
	waitFor(func() bool { return strings.Contains(tshark.Log(), "Capturing on") }, 10*time.Second, "tshark captures")
	ping, err := client.Start("ping", "-n", "-D", "-i", "0.002", "-W", "1", vipOf(1).String())
	check(err)
	defer ping.Stop()
	// The idle period: the noise floor, and r2's log up to here is the
	// election's, not the reloads'. It outlasts garp_master_delay (5 s),
	// whose second round of GARPs after the election would otherwise fall
	// in the first reload's window. The first reload's CPU baseline takes
	// its last 200 ms.
	start := time.Now()
	time.Sleep(max(spacing, 6*time.Second) - cpuWindow)
	r2Before := len(p2.Log())

	res := result{reloads: reloads}
	var sighup []time.Time
	for i := 1; i <= reloads; i++ {
		extra := i%2 == 1
		_, err := l.WriteFile(confName, conf(advert, 150, n, extra))
		check(err)
		before := cpuSeconds(l, kg)
		time.Sleep(cpuWindow)
		at := cpuSeconds(l, kg)
		sighup = append(sighup, time.Now())
		check(p1.Signal(syscall.SIGHUP))
		time.Sleep(cpuWindow)
		res.cpu = append(res.cpu, round(1000*((cpuSeconds(l, kg)-at)-(at-before))))
		time.Sleep(spacing - 2*cpuWindow)
		// Checked after the window, so that the polling does not load the
		// machine while the reload runs.
		if holdsExactly(r1, n, extra) && holdsExactly(r2, 0, false) {
			res.applied++
		}
	}
	end := time.Now()
	res.takeovers = strings.Count(p2.Log()[r2Before:], "Entering MASTER STATE")
	ping.Signal(syscall.SIGINT)
	ping.Wait(2 * time.Second)
	time.Sleep(200 * time.Millisecond) // let tshark write the last packets
	tshark.Signal(syscall.SIGINT)
	tshark.Wait(5 * time.Second)
	// Stop the routers as an operator would (r2 then takes over, after
	// the count above); the deferred Stops only kill what is left.
	for _, p := range []*lab.Proc{p1, p2} {
		p.Signal(syscall.SIGTERM)
		p.Wait(10 * time.Second)
	}
	if logDir != "" {
		keep(prefix, map[string]string{"r1.log": p1.Log(), "r2.log": p2.Log(), "ping.log": ping.Log()}, capture)
	}

	replies := pingReplies(ping.Log())
	w := readCapture(capture, r1.IPv4, r2.IPv4, sighup[0])
	res.r2Adverts, res.garps = w.r2Adverts, w.garps
	for t := start; !t.Add(outageWindow).After(sighup[0]); t = t.Add(outageWindow) {
		res.idleOutage = append(res.idleOutage, longestGap(replies.times, t, t.Add(outageWindow)))
	}
	res.idleLost = replies.lost(start, sighup[0])
	for i := 1; i < len(w.adverts) && w.adverts[i] < epoch(sighup[0]); i++ {
		if w.adverts[i-1] >= epoch(start) {
			res.idleGap = append(res.idleGap, round((w.adverts[i]-w.adverts[i-1])*1000))
		}
	}
	for i, t := range sighup {
		to := end
		if i+1 < len(sighup) {
			to = sighup[i+1]
		}
		res.outage = append(res.outage, longestGap(replies.times, t, t.Add(outageWindow)))
		res.lost += replies.lost(t, to)
		res.gap = append(res.gap, longestGap(w.adverts, t, to))
		res.first = append(res.first, firstIn(w.adverts, t, to))
		if i%2 == 0 { // reloads 1, 3, ... add it
			res.newVIP = append(res.newVIP, firstIn(w.extraGARPs, t, to))
		}
	}
	if kg {
		res.took = tookFromLog(p1.Log())
	}
	return res
}

// cpuSeconds is the CPU time r1's daemon used so far: keepalived-go's
// process, or keepalived's parent and VRRP child. It sums the first field
// of /proc/PID/task/*/schedstat (nanoseconds on a CPU), as /proc/PID/stat
// counts in ticks of 10 ms, too coarse for a reload. A thread that exited
// would be missing, but keepalived's processes have one thread each and
// keepalived-go locks no goroutine to a thread, so none of its exits.
func cpuSeconds(l *lab.Lab, kg bool) float64 {
	files := []string{"r1-kg-main.pid"}
	if !kg {
		files = []string{"r1-ka-main.pid", "r1-ka-vrrp.pid"}
	}
	var ns int64
	for _, f := range files {
		pid, err := os.ReadFile(filepath.Join(l.Dir, f))
		check(err)
		tasks, err := filepath.Glob("/proc/" + strings.TrimSpace(string(pid)) + "/task/*/schedstat")
		check(err)
		if len(tasks) == 0 {
			fail("%s: no such process", f)
		}
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			check(err)
			v, _ := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
			ns += v
		}
	}
	return float64(ns) / 1e9
}

// keep copies the logs and the capture to logDir, named after the lab.
func keep(prefix string, logs map[string]string, capture string) {
	check(os.MkdirAll(logDir, 0o755))
	for name, text := range logs {
		check(os.WriteFile(filepath.Join(logDir, prefix+"-"+name), []byte(text), 0o644))
	}
	pcap, err := os.ReadFile(capture)
	check(err)
	check(os.WriteFile(filepath.Join(logDir, prefix+"-wire.pcap"), pcap, 0o644))
}

// holdsExactly tells whether h's eth0 has the n instance VIPs (and the
// extra one when extra is set) and no other VIP.
func holdsExactly(h *lab.Host, n int, extra bool) bool {
	out, err := h.Command("ip", "-o", "-4", "addr", "show", "dev", "eth0").Output()
	check(err)
	var want, got []string
	for i := 1; i <= n; i++ {
		want = append(want, vipOf(i).String())
	}
	if extra {
		want = append(want, extraVIP.String())
	}
	for _, f := range strings.Fields(string(out)) {
		if a, err := netip.ParsePrefix(f); err == nil && a.Addr() != h.IPv4 {
			got = append(got, a.Addr().String())
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	return slices.Equal(want, got)
}

// replies are ping's replies: when (epoch seconds) and their icmp_seq.
type replies struct {
	times []float64
	seqs  []int
}

var replyRE = regexp.MustCompile(`^\[([0-9.]+)\] \d+ bytes from .* icmp_seq=(\d+)`)

// pingReplies reads ping -D's output ("[epoch] 64 bytes from ...:
// icmp_seq=N ...").
func pingReplies(out string) replies {
	var r replies
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := replyRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		t, err1 := strconv.ParseFloat(m[1], 64)
		seq, err2 := strconv.Atoi(m[2])
		if err1 == nil && err2 == nil {
			r.times, r.seqs = append(r.times, t), append(r.seqs, seq)
		}
	}
	return r
}

// lost counts the requests missing between consecutive replies whose later
// one falls in [from, to). icmp_seq wraps at 65536: a run is far shorter.
func (r replies) lost(from, to time.Time) int {
	a, b := epoch(from), epoch(to)
	n := 0
	for i := 1; i < len(r.times); i++ {
		if r.times[i] >= a && r.times[i] < b {
			n += (r.seqs[i]-r.seqs[i-1]+65536)%65536 - 1
		}
	}
	return n
}

type wire struct {
	adverts          []float64 // r1's for VI_1
	extraGARPs       []float64 // gratuitous ARPs for the extra VIP
	r2Adverts, garps int       // from the first reload on
}

// readCapture reads the client's capture; a gratuitous ARP is one whose
// sender and target addresses are the same (request or reply).
func readCapture(pcap string, r1, r2 netip.Addr, from time.Time) wire {
	out, err := exec.Command("tshark", "-r", pcap, "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src",
		"-e", "vrrp.virt_rtr_id", "-e", "arp.src.proto_ipv4", "-e", "arp.dst.proto_ipv4").Output()
	check(err)
	var w wire
	t0 := epoch(from)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 5 {
			continue
		}
		ts, _ := strconv.ParseFloat(f[0], 64)
		switch {
		case f[1] == r1.String() && f[2] == "1":
			w.adverts = append(w.adverts, ts)
		case f[1] == r2.String() && f[2] != "" && ts >= t0:
			w.r2Adverts++
		case f[3] != "" && f[3] == f[4] && ts >= t0:
			w.garps++
			if f[3] == extraVIP.String() {
				w.extraGARPs = append(w.extraGARPs, ts)
			}
		}
	}
	return w
}

// longestGap is the longest gap (ms) between consecutive times whose later
// one falls in [from, to).
func longestGap(ts []float64, from, to time.Time) float64 {
	a, b := epoch(from), epoch(to)
	var gap float64
	for i := 1; i < len(ts); i++ {
		if ts[i] >= a && ts[i] < b && ts[i]-ts[i-1] > gap {
			gap = ts[i] - ts[i-1]
		}
	}
	return round(gap * 1000)
}

// firstIn is the time (ms) from from to the first of ts in [from, to), or
// -1 if there is none.
func firstIn(ts []float64, from, to time.Time) float64 {
	for _, x := range ts {
		if x >= epoch(from) && x < epoch(to) {
			return round((x - epoch(from)) * 1000)
		}
	}
	return -1
}

var tookRE = regexp.MustCompile(`VRRP reloaded.*took=(\S+)`)

func tookFromLog(log string) []float64 {
	var out []float64
	for _, m := range tookRE.FindAllStringSubmatch(log, -1) {
		if d, err := time.ParseDuration(m[1]); err == nil {
			out = append(out, round(float64(d.Microseconds())/1000))
		}
	}
	return out
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func round(ms float64) float64 { return float64(int64(ms*10+0.5)) / 10 }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func medMax(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f / %.1f", median(xs), slices.Max(xs))
}

func waitFor(cond func() bool, d time.Duration, what string) { check(lab.WaitUntil(what, d, cond)) }

// check and fail panic, so that the deferred clean-ups (daemons,
// namespaces) run before main reports the error.
func check(err error) {
	if err != nil {
		panic(err)
	}
}

func fail(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
