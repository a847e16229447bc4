// Command failover measures VRRP failover after the master dies (SIGKILL
// and its link down, as a dead machine), with keepalived-go as the backup
// and with Debian's keepalived as the backup, in the same topology and the
// same run, and prints both and their ratio.
//
// The master is always Debian's keepalived (priority 150), so both backups
// face the same peer; the backup has priority 100. A client pings the VIP
// every 2 ms, and watches the wire with tshark:
//
//   - takeover: from the master's last advert to the backup's first
//     gratuitous ARP for the VIP (what the wire shows; independent of
//     either implementation's logs);
//   - outage: the longest gap between ping replies around the failure;
//   - the RFC's Master_Down_Interval at the backup's priority, to compare.
//
// With -load N, N processes spin on the CPU for the whole run (both cores
// busy), as a loaded machine. With -soak D, instead of failovers, a master
// and a backup of the same implementation run side by side with the other
// implementation's pair (two labs, same load, same time) for D at the
// first interval, and the command counts the state changes each router
// logs after the election: any is a false failover. A capture of the
// master's adverts at the backup's interface tells which side was late:
// a gap over Master_Down_Interval on the wire is the master's, a takeover
// without one the backup's. With -crossed each master faces the other
// implementation's backup: a gap in one master's capture that the other
// implementation's backup does not act on either is the capture's.
//
// Usage (root): go run ./test/failover [-runs N] [-intervals 1,0.1,0.02] [-load N] [-soak 10m [-crossed] [-ka-first]]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

var vip = netip.MustParseAddr("198.51.100.200")

const backupPriority = 100

// globalDefs are the -global lines, for every router of both
// implementations.
var globalDefs string

// crossed is -crossed: in a soak, each implementation's master faces the
// other's backup.
var crossed bool

// kaFirst is -ka-first: in a soak, keepalived's lab is built first.
var kaFirst bool

func main() {
	runs := flag.Int("runs", 5, "failovers per implementation and interval")
	intervals := flag.String("intervals", "1,0.1,0.02", "advert_int values (1 is VRRPv2, the others VRRPv3)")
	bin := flag.String("bin", "", "keepalived-go binary (default: build it)")
	load := flag.Int("load", 0, "CPU-spinning processes to run alongside")
	soakFor := flag.Duration("soak", 0, "instead of failovers: run both pairs this long and count false transitions")
	flag.BoolVar(&kaFirst, "ka-first", false, "with -soak: build keepalived's lab first (its capture then also sees the other lab being built)")
	flag.BoolVar(&crossed, "crossed", false, "with -soak: each master faces the other implementation's backup (whose backup hears a gap in whose master)")
	flag.StringVar(&globalDefs, "global", "", "lines added to global_defs of every router (e.g. 'vrrp_rt_priority 50')")
	flag.Parse()
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "failover: %v\n%s", r, debug.Stack())
			os.Exit(1)
		}
	}()
	if *bin == "" {
		*bin = build()
	}
	stop := spin(*load)
	defer stop()
	if *soakFor > 0 {
		soak(*bin, strings.Split(*intervals, ",")[0], *soakFor)
		return
	}
	fmt.Printf("%-9s %-13s %10s %10s %10s %10s\n", "interval", "backup", "MDI", "takeover", "outage", "runs")
	for _, iv := range strings.Split(*intervals, ",") {
		var kg, ka result
		for i := 0; i < *runs; i++ {
			// Alternate so that drift in the machine's load hits both alike.
			kg.add(measure(*bin, iv, true))
			ka.add(measure(*bin, iv, false))
		}
		mdi := masterDownInterval(iv)
		kg.print(iv, "keepalived-go", mdi)
		ka.print(iv, "keepalived", mdi)
		fmt.Printf("%-9s %-13s %10s %10.2f %10.2f\n", iv, "ratio go/ka", "", kg.median(kg.takeover)/ka.median(ka.takeover), kg.median(kg.outage)/ka.median(ka.outage))
	}
}

// spin starts n processes that keep a CPU busy, and returns what stops
// them.
func spin(n int) func() {
	var procs []*exec.Cmd
	for range n {
		c := exec.Command("sh", "-c", "while :; do :; done")
		check(c.Start())
		procs = append(procs, c)
	}
	return func() {
		for _, c := range procs {
			c.Process.Kill()
			c.Wait()
		}
	}
}

// soak runs a keepalived-go pair and a keepalived pair at interval iv,
// at the same time in two labs, for d after their election, and prints
// the state changes each router logged in that time.
func soak(bin, iv string, d time.Duration) {
	type pair struct {
		name               string
		master, backup     *lab.Proc
		atStartM, atStartB int
		tshark             *lab.Proc
		capture            string
		masterAddr         netip.Addr
	}
	var pairs []*pair
	for _, kg := range []bool{!kaFirst, kaFirst} {
		name := map[bool]string{true: "keepalived-go", false: "keepalived"}[kg]
		if crossed {
			name += "'s master"
		}
		l, err := lab.New(fmt.Sprintf("kgs%d%s", os.Getpid()%10000, map[bool]string{true: "g", false: "k"}[kg]), "master", "backup")
		check(err)
		defer l.Close()
		start := func(h *lab.Host, prio int) *lab.Proc {
			var p *lab.Proc
			if kg != (crossed && h.Name == "backup") {
				p, err = h.StartKeepalivedGo(bin, conf(iv, prio))
			} else {
				p, err = h.StartKeepalived(conf(iv, prio))
			}
			check(err)
			return p
		}
		master, backup := l.Host("master"), l.Host("backup")
		p := &pair{name: name, master: start(master, 150), backup: start(backup, backupPriority)}
		defer p.master.Stop()
		defer p.backup.Stop()
		waitFor(func() bool { return master.HasAddress(vip) && !backup.HasAddress(vip) }, 15*time.Second, name+": master holds the VIP")
		// The master's adverts as they reach the backup's interface (a
		// veth delivers as it sends: the time the master sent them), to
		// tell a master that advertised late from a backup that heard
		// in time and still took over.
		p.capture, p.masterAddr = filepath.Join(l.Dir, "soak.pcap"), master.IPv4
		p.tshark, err = backup.Start("chrt", "-f", "90", "tshark", "-i", "eth0", "-f", "vrrp and src host "+master.IPv4.String(), "-w", p.capture)
		check(err)
		defer p.tshark.Signal(syscall.SIGINT)
		waitFor(func() bool { return strings.Contains(p.tshark.Log(), "Capturing on") }, 30*time.Second, "tshark captures")
		pairs = append(pairs, p)
	}
	time.Sleep(2 * time.Second) // the election's last lines
	for _, p := range pairs {
		p.atStartM, p.atStartB = transitions(p.master.Log()), transitions(p.backup.Log())
	}
	fmt.Printf("soak: advert_int %s for %v, %s\n", iv, d, loadavg())
	began := time.Now()
	time.Sleep(d)
	for _, p := range pairs {
		m, b := transitions(p.master.Log())-p.atStartM, transitions(p.backup.Log())-p.atStartB
		p.tshark.Signal(syscall.SIGINT)
		p.tshark.Wait(10 * time.Second)
		// The soak's own gaps apart: a capture begins before the other
		// lab is built, and building it (namespaces, links, the
		// daemons' start) held the first lab's adverts up by up to
		// 116 ms, whichever implementation ran there: not what the
		// soak measures (nor are state changes counted then).
		mdi := masterDownInterval(iv)
		building, gaps := splitAt(advertGaps(p.capture), began)
		long, before := over(gaps, mdi), over(building, mdi)
		fmt.Printf("%-13s master: %d state changes, backup: %d state changes; the master's adverts on the wire in that time: %d, longest gap %.1f ms, %d gaps over Master_Down_Interval (%.1f ms): %s\n",
			p.name, m, b, len(gaps)+1, ms(longest(gaps)), len(long), ms(mdi), strings.Join(long, ", "))
		fmt.Printf("%-13s tshark: %s; gaps over Master_Down_Interval before the soak (while the labs were built): %s\n",
			p.name, captureSummary(p.tshark.Log()), strings.Join(before, ", "))
	}
	fmt.Printf("soak ended, %s\n", loadavg())
}

// captureSummary is what tshark said when it stopped: how many packets
// it captured, and how many the kernel dropped before it could (a hole in
// the capture is not a hole on the wire).
func captureSummary(log string) string {
	var said []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "captured") || strings.Contains(line, "dropped") {
			said = append(said, strings.TrimSpace(line))
		}
	}
	return strings.Join(said, "; ")
}

// gap is a time between two consecutive adverts in a capture, and when
// the second came.
type gap struct {
	length time.Duration
	end    time.Time
}

// splitAt parts gaps (in capture order) into those that began before t
// and the rest.
func splitAt(gaps []gap, t time.Time) (before, after []gap) {
	i := 0
	for i < len(gaps) && gaps[i].end.Add(-gaps[i].length).Before(t) {
		i++
	}
	return gaps[:i], gaps[i:]
}

// advertGaps reads a capture of one sender's adverts: the times between
// consecutive ones.
func advertGaps(pcap string) []gap {
	out, err := exec.Command("tshark", "-r", pcap, "-T", "fields", "-e", "frame.time_epoch").Output()
	check(err)
	var gaps []gap
	var prev float64
	for _, f := range strings.Fields(string(out)) {
		ts, err := strconv.ParseFloat(f, 64)
		if err != nil {
			continue
		}
		if prev > 0 {
			gaps = append(gaps, gap{time.Duration((ts - prev) * float64(time.Second)), time.Unix(0, int64(ts*1e9))})
		}
		prev = ts
	}
	return gaps
}

// over lists the gaps longer than limit, with when each ended: a stall of
// the whole machine shows in both labs' captures at the same moment.
func over(gaps []gap, limit time.Duration) []string {
	var said []string
	for _, g := range gaps {
		if g.length > limit {
			said = append(said, fmt.Sprintf("%.1f ms ending %s", ms(g.length), g.end.UTC().Format("15:04:05.000")))
		}
	}
	return said
}

func longest(gaps []gap) (d time.Duration) {
	for _, g := range gaps {
		d = max(d, g.length)
	}
	return d
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// transitions counts the state changes a VRRP log shows.
func transitions(log string) int {
	return strings.Count(log, "Entering MASTER STATE") + strings.Count(log, "Entering BACKUP STATE") +
		strings.Count(log, "Entering FAULT STATE")
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	check(err)
	return "load " + strings.Join(strings.Fields(string(b))[:3], " ")
}

func build() string {
	bin, err := lab.BuildKeepalivedGo()
	check(err)
	return bin
}

// masterDownInterval is the RFC's figure at the backup's priority.
func masterDownInterval(iv string) time.Duration {
	secs, err := strconv.ParseFloat(iv, 64)
	check(err)
	d := time.Duration(secs * float64(time.Second))
	version := 3
	if d >= time.Second && d%time.Second == 0 {
		version = 2
	}
	return vrrp.MasterDownInterval(version, backupPriority, d, 3)
}

type result struct{ takeover, outage []float64 } // milliseconds

func (r *result) add(takeover, outage time.Duration) {
	r.takeover = append(r.takeover, float64(takeover.Microseconds())/1000)
	r.outage = append(r.outage, float64(outage.Microseconds())/1000)
}

func (r *result) median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func (r *result) print(iv, name string, mdi time.Duration) {
	fmt.Printf("%-9s %-13s %8.1fms %8.1fms %8.1fms %10d   takeover %v outage %v\n", iv, name,
		float64(mdi.Microseconds())/1000, r.median(r.takeover), r.median(r.outage), len(r.takeover), r.takeover, r.outage)
}

// rtTimeLimit is added beside -global's vrrp_rt_priority. keepalived then
// sets RLIMIT_RTTIME to vrrp_rlimit_rttime, 10 ms of CPU between blocking
// system calls by default (vrrp_daemon.c start_vrrp, lib/process.c
// set_process_priorities),
// and on this emulated machine its VRRP child overruns that and the kernel
// kills it ("has rlimit_rttime been exceeded?" in its log, respawned 8 s
// later): the master fell silent before the kill, and the harness measured
// that instead of a failover. Its man page says to raise the limit on slow
// processors; both implementations get the same line, as a drop-in user's
// configuration would.
const rtTimeLimit = "vrrp_rlimit_rttime 100000"

func conf(iv string, prio int) string {
	defs := globalDefs
	if strings.Contains(defs, "rt_priority") && !strings.Contains(defs, "rlimit_rt") {
		defs += "\n    " + rtTimeLimit
	}
	version := 3
	if !strings.Contains(iv, ".") {
		version = 2
	}
	return fmt.Sprintf(`global_defs {
    vrrp_version %d
    %s
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int %s
    virtual_ipaddress {
        %s/24
    }
}
`, version, defs, prio, iv, vip)
}

// measure runs one failover and returns the takeover seen on the wire and
// the client's outage.
func measure(bin, iv string, kgBackup bool) (time.Duration, time.Duration) {
	l, err := lab.New(fmt.Sprintf("kgf%d", os.Getpid()%100000), "master", "backup", "client")
	check(err)
	defer l.Close()
	defer keepOnFailure(l.Dir)
	master, backup, client := l.Host("master"), l.Host("backup"), l.Host("client")
	pm, err := master.StartKeepalived(conf(iv, 150))
	check(err)
	defer pm.Stop()
	var pb *lab.Proc
	if kgBackup {
		pb, err = backup.StartKeepalivedGo(bin, conf(iv, backupPriority))
	} else {
		pb, err = backup.StartKeepalived(conf(iv, backupPriority))
	}
	check(err)
	defer pb.Stop()
	waitFor(func() bool { return master.HasAddress(vip) && !backup.HasAddress(vip) }, 15*time.Second, "master holds the VIP")
	waitFor(func() bool { return client.Ping(vip) }, 10*time.Second, "the client reaches the VIP")
	settle := masterDownInterval(iv) + 500*time.Millisecond
	capture := filepath.Join(l.Dir, "wire.pcap")
	// The measuring tools run at a real-time priority above the daemons'
	// (-global vrrp_rt_priority) so that a loaded machine (-load) delays
	// the daemons, not the measurement.
	tshark, err := client.Start("chrt", "-f", "90", "tshark", "-i", "eth0", "-f", "vrrp or arp", "-w", capture)
	check(err)
	// tshark takes seconds to start on a loaded machine: a capture begun
	// after the failure would have nothing to measure.
	waitFor(func() bool { return strings.Contains(tshark.Log(), "Capturing on") }, 30*time.Second, "tshark captures")
	ping, err := client.Start("chrt", "-f", "90", "ping", "-n", "-D", "-i", "0.002", "-W", "1", vip.String())
	check(err)
	time.Sleep(settle)
	// The machine dies: its link first (keepalived's VRRP child would
	// otherwise resign with a priority-0 advert when its parent is killed),
	// then its processes.
	check(master.SetLink(false))
	pm.Signal(syscall.SIGKILL)
	waitFor(func() bool { return backup.HasAddress(vip) }, 15*time.Second, "the backup takes the VIP")
	time.Sleep(settle)
	ping.Signal(syscall.SIGINT)
	ping.Wait(2 * time.Second)
	time.Sleep(200 * time.Millisecond) // let tshark write the last packets
	tshark.Signal(syscall.SIGINT)
	tshark.Wait(5 * time.Second)
	took := takeover(capture, master.IPv4)
	if took < masterDownInterval(iv)*9/10 {
		keep(l.Dir, fmt.Sprintf("a takeover of %v, before Master_Down_Interval", took))
	}
	return took, longestGap(ping.Log())
}

// takeover reads the capture: the master's last advert to the backup's
// first gratuitous ARP for the VIP after it. The master's own gratuitous
// ARPs do not count: keepalived's master repeats its set
// vrrp_garp_master_delay (5 s) after it became master, and a kill soon
// after that made a "takeover" of 0.9 s at advert_int 1.
func takeover(pcap string, masterAddr netip.Addr) time.Duration {
	out, err := exec.Command("tshark", "-r", pcap, "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src",
		"-e", "vrrp.type", "-e", "arp.src.proto_ipv4", "-e", "arp.dst.proto_ipv4", "-e", "eth.src").Output()
	check(err)
	var packets [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Split(line, "\t"); len(f) >= 6 {
			packets = append(packets, f)
		}
	}
	var lastAdvert, firstGARP float64
	var masterMAC string
	for _, f := range packets {
		if f[1] == masterAddr.String() && f[2] != "" {
			lastAdvert, _ = strconv.ParseFloat(f[0], 64)
			masterMAC = f[5]
		}
	}
	var backupGARPed bool
	for _, f := range packets {
		if f[3] != vip.String() || f[4] != vip.String() || f[5] == masterMAC {
			continue
		}
		backupGARPed = true
		// The first after the master's last advert: a backup that took
		// over early (a false failover under load) sent earlier ones.
		if ts, _ := strconv.ParseFloat(f[0], 64); lastAdvert > 0 && ts > lastAdvert {
			firstGARP = ts
			break
		}
	}
	if lastAdvert > 0 && firstGARP == 0 && backupGARPed {
		fail("capture %s: the backup sent gratuitous ARPs only while the master was still advertising (a false failover), or the capture lost the end", pcap)
	}
	if lastAdvert == 0 || firstGARP == 0 {
		fail("capture %s: no advert/GARP pair found\n%s", pcap, out)
	}
	return time.Duration((firstGARP - lastAdvert) * float64(time.Second))
}

// longestGap is the longest time between two ping replies (ping -D
// prints "[epoch] 64 bytes from ...").
func longestGap(out string) time.Duration {
	var prev, gap float64
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "bytes from") || !strings.HasPrefix(line, "[") {
			continue
		}
		ts, err := strconv.ParseFloat(line[1:strings.Index(line, "]")], 64)
		if err != nil {
			continue
		}
		if prev > 0 && ts-prev > gap {
			gap = ts - prev
		}
		prev = ts
	}
	return time.Duration(gap * float64(time.Second))
}

// keepOnFailure copies a failed run's lab directory (logs, capture)
// where it outlives the lab, and says where.
func keepOnFailure(dir string) {
	if r := recover(); r != nil {
		keep(dir, "a failed run")
		panic(r)
	}
}

// keep copies the lab directory of a run that needs a look.
func keep(dir, why string) {
	kept, err := os.MkdirTemp("", "kgf-kept-")
	if err == nil {
		err = exec.Command("cp", "-a", dir+"/.", kept).Run()
	}
	fmt.Fprintf(os.Stderr, "failover: %s: its logs and capture are in %s (%v)\n", why, kept, err)
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
