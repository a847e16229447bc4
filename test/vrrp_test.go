// Package test runs keepalived-go as users do: the real binary, in network
// namespaces joined by a bridge, next to Debian's keepalived. It needs
// root; outside CI it skips without it, in CI (CI=true) it fails instead.
package test

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

var binary string // the keepalived-go built for this test run

func TestMain(m *testing.M) {
	var err error
	if binary, err = lab.BuildKeepalivedGo(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(filepath.Dir(binary))
	os.Exit(code)
}

// needRoot skips a test that needs root and namespaces, except in CI.
func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root"
	}
	for _, tool := range append([]string{"ip", "ping"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing += " " + tool
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI must run this test, but it lacks: %s", missing)
	}
	t.Skipf("needs %s", missing)
}

// newLab builds a lab whose namespace names are unique to this process
// and test, removed when the test ends.
func newLab(t *testing.T, hosts ...string) *lab.Lab {
	t.Helper()
	prefix := fmt.Sprintf("kgt%d%s", os.Getpid()%100000, shortName(t.Name()))
	l, err := lab.New(prefix, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// shortName keeps namespace names short and unique per test.
func shortName(name string) string {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return fmt.Sprintf("%06x", h&0xffffff)
}

var (
	vip4 = netip.MustParseAddr("198.51.100.200")
	vip6 = netip.MustParseAddr("2001:db8::200")
)

// instance is the knobs the tests vary in one vrrp_instance.
type instance struct {
	version    int
	priority   int
	advertInt  string
	vip        netip.Addr
	auth       string // v2 PASS password, "" for none
	ah         bool   // auth_type AH instead of PASS (with auth)
	nopreempt  bool
	delay      string // preempt_delay, "" for none
	checksumV2 bool   // v3_checksum_as_v2
	unicast    []netip.Addr
	src        netip.Addr
}

func (in instance) conf() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    vrrp_version %d\n", in.version)
	if in.checksumV2 {
		b.WriteString("    v3_checksum_as_v2\n")
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n")
	fmt.Fprintf(&b, "    priority %d\n    advert_int %s\n", in.priority, in.advertInt)
	if in.nopreempt {
		b.WriteString("    nopreempt\n")
	}
	if in.delay != "" {
		fmt.Fprintf(&b, "    preempt_delay %s\n", in.delay)
	}
	if in.auth != "" {
		typ := "PASS"
		if in.ah {
			typ = "AH"
		}
		fmt.Fprintf(&b, "    authentication {\n        auth_type %s\n        auth_pass %s\n    }\n", typ, in.auth)
	}
	if len(in.unicast) > 0 {
		fmt.Fprintf(&b, "    unicast_src_ip %s\n    unicast_peer {\n", in.src)
		for _, p := range in.unicast {
			fmt.Fprintf(&b, "        %s\n", p)
		}
		b.WriteString("    }\n")
	}
	bits := 24
	if in.vip.Is6() {
		bits = 64
	}
	fmt.Fprintf(&b, "    virtual_ipaddress {\n        %s/%d\n    }\n}\n", in.vip, bits)
	return b.String()
}

// recordingScript writes a notify script into the lab that appends the
// line echo prints (echoArgs, e.g. `"$*"`) to a file; it returns the
// script's path and the file's.
func recordingScript(t *testing.T, l *lab.Lab, name, echoArgs string) (script, out string) {
	t.Helper()
	out = filepath.Join(l.Dir, name+".out")
	script = filepath.Join(l.Dir, name+".sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho "+echoArgs+" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, out
}

// notifyFIFO is a FIFO the test makes for a daemon's notify lines, and
// what it has read of it so far.
type notifyFIFO struct {
	path string
	f    *os.File
	got  string
}

// newNotifyFIFO makes the FIFO name in the lab and opens it read-write,
// so that the daemon's writes never block; it is closed with the test.
func newNotifyFIFO(t *testing.T, l *lab.Lab, name string) *notifyFIFO {
	t.Helper()
	path := filepath.Join(l.Dir, name)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &notifyFIFO{path: path, f: f}
}

// waitLine waits (at most d) until line has come n times.
func (n *notifyFIFO) waitLine(t *testing.T, d time.Duration, line string, times int) {
	t.Helper()
	err := lab.WaitUntil(fmt.Sprintf("the FIFO has %q %d times", line, times), d, func() bool {
		n.f.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		buf := make([]byte, 4096)
		k, _ := n.f.Read(buf)
		n.got += string(buf[:max(k, 0)])
		return strings.Count(n.got, line) >= times
	})
	if err != nil {
		t.Fatalf("%v; FIFO so far: %q", err, n.got)
	}
}

// masterAndBackup is the usual pair: VRRPv3 at 0.1 s for vip, the
// first at priority 150, the second at 100.
func masterAndBackup(vip netip.Addr) (instance, instance) {
	base := instance{version: 3, advertInt: "0.1", vip: vip}
	in1, in2 := base, base
	in1.priority, in2.priority = 150, 100
	return in1, in2
}

// startKG runs keepalived-go in host h and stops it at the end of the test.
func startKG(t *testing.T, h *lab.Host, in instance) *lab.Proc {
	t.Helper()
	return startKGConf(t, h, in.conf())
}

// startKGConf runs keepalived-go with configuration text in host h, and
// stops it (showing its log if the test failed) at the end of the test.
func startKGConf(t *testing.T, h *lab.Host, conf string) *lab.Proc {
	t.Helper()
	p, err := h.StartKeepalivedGo(binary, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(); dumpLogOnFailure(t, h, p) })
	return p
}

// startKA runs Debian's keepalived in host h.
func startKA(t *testing.T, h *lab.Host, in instance) *lab.Proc {
	t.Helper()
	p, err := h.StartKeepalived(in.conf())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(); dumpLogOnFailure(t, h, p) })
	return p
}

func dumpLogOnFailure(t *testing.T, h *lab.Host, p *lab.Proc) {
	if t.Failed() {
		t.Logf("--- %s (%s) log:\n%s", p.Name, h.Name, p.Log())
	}
}

// waitHolder waits (at most d) until exactly holder has the VIP among
// the routers, and returns how long that took.
func waitHolder(t *testing.T, d time.Duration, vip netip.Addr, holder *lab.Host, routers ...*lab.Host) time.Duration {
	t.Helper()
	took, err := lab.WaitHolder(vip, holder, d, routers...)
	if err != nil {
		t.Fatal(err)
	}
	return took
}

// waitPing waits (at most d) until client reaches addr.
func waitPing(t *testing.T, d time.Duration, client *lab.Host, addr netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !client.Ping(addr) {
		if time.Now().After(deadline) {
			t.Fatalf("%s cannot reach %s after %v", client.Name, addr, d)
		}
	}
}

// crash kills a daemon with SIGKILL and takes its host off the network,
// as when a machine dies (its VIP stays configured on a dead box).
func crash(t *testing.T, h *lab.Host, p *lab.Proc) {
	t.Helper()
	if err := h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	p.Signal(syscall.SIGKILL)
	p.Wait(5 * time.Second)
}

func TestElectionCrashFailoverAndPreemptBack(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2", "r3", "client")
	r1, r2, r3, client := l.Host("r1"), l.Host("r2"), l.Host("r3"), l.Host("client")
	base := instance{version: 2, advertInt: "1", vip: vip4, auth: "secret"}
	conf := func(prio int) instance { in := base; in.priority = prio; return in }
	p1 := startKG(t, r1, conf(150))
	startKG(t, r2, conf(100))
	startKG(t, r3, conf(50))

	waitHolder(t, 8*time.Second, vip4, r1, r1, r2, r3)
	waitPing(t, 3*time.Second, client, vip4)

	crash(t, r1, p1)
	took := waitHolder(t, 8*time.Second, vip4, r2, r2, r3)
	t.Logf("r2 took the VIP %v after r1 died (Master_Down_Interval at priority 100: 3.61 s)", took)
	waitPing(t, 3*time.Second, client, vip4)

	if err := r1.SetLink(true); err != nil {
		t.Fatal(err)
	}
	startKG(t, r1, conf(150)) // removes the stale VIP, then preempts
	waitHolder(t, 8*time.Second, vip4, r1, r1, r2, r3)
	waitPing(t, 3*time.Second, client, vip4)
}

func TestGracefulStopHandsOverAndReleasesTheVIP(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2", "client")
	r1, r2, client := l.Host("r1"), l.Host("r2"), l.Host("client")
	in1, in2 := masterAndBackup(vip4)
	p1 := startKG(t, r1, in1)
	startKG(t, r2, in2)
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)

	p1.Signal(syscall.SIGTERM)
	if err := p1.Wait(5 * time.Second); err != nil {
		t.Fatalf("keepalived-go after SIGTERM: %v (keepalived exits 0)", err)
	}
	if r1.HasAddress(vip4) {
		t.Fatal("the VIP is still on r1 after it stopped")
	}
	took := waitHolder(t, 3*time.Second, vip4, r2, r1, r2)
	t.Logf("r2 took over %v after r1 exited (Skew_Time at priority 100, 0.1 s: 60 ms)", took)
	waitPing(t, 3*time.Second, client, vip4)
}

func TestNopreemptKeepsTheRunningMaster(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	in1, in2 := masterAndBackup(vip4)
	in1.nopreempt = true
	startKG(t, r2, in2)
	waitHolder(t, 5*time.Second, vip4, r2, r1, r2)
	startKG(t, r1, in1)
	time.Sleep(2 * time.Second) // five times r1's Master_Down_Interval
	waitHolder(t, 0, vip4, r2, r1, r2)
}

// TestEqualPrioritiesHealToTheHigherAddress makes two equal-priority
// masters (a split brain: r2's VRRP traffic is cut while both start), then
// heals it: RFC 5798 §6.4.3 keeps the master with the higher address.
// (A backup never preempts an equal-priority master, so the tie-break is
// only visible between two masters.)
func TestPreemptDelayWaitsBeforeTakingOver(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	in1, in2 := masterAndBackup(vip4)
	in1.delay = "2"
	startKG(t, r2, in2)
	waitHolder(t, 5*time.Second, vip4, r2, r1, r2)
	started := time.Now()
	startKG(t, r1, in1)
	took := waitHolder(t, 6*time.Second, vip4, r1, r1, r2)
	if since := time.Since(started); since < 2*time.Second {
		t.Fatalf("r1 preempted %v after starting; preempt_delay is 2 s", since)
	}
	t.Logf("r1 preempted after %v (preempt_delay 2 s)", took)
}

func TestEqualPrioritiesHealToTheHigherAddress(t *testing.T) {
	needRoot(t, "nft")
	l := newLab(t, "r1", "r2", "client")
	r1, r2, client := l.Host("r1"), l.Host("r2"), l.Host("client") // r2 has the higher address
	in := instance{version: 3, advertInt: "0.1", vip: vip4, priority: 100}
	partitionVRRP(t, r2, true) // r2 neither hears nor is heard, its link stays up
	startKG(t, r1, in)
	p2 := startKG(t, r2, in)
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	waitLog(t, 5*time.Second, p2, "Entering MASTER STATE")
	partitionVRRP(t, r2, false)
	waitHolder(t, 5*time.Second, vip4, r2, r1, r2)
	waitPing(t, 3*time.Second, client, vip4)
}

// partitionVRRP cuts (or restores) a host's VRRP traffic with nftables in
// its namespace, leaving its link up: a split brain for VRRP only.
// TestSplitBrainHealingNotifiesTheRightfulMaster: r1 (150) and r2 (100)
// are both master while partitioned; when the partition heals, r1 hears
// r2's lower-priority adverts: r2 steps down, and r1 runs
// notify_master_rx_lower_pri and writes MASTER_RX_LOWER_PRI to its FIFO,
// as keepalived does (for cloud setups whose notify_master moved
// addresses away from r1).
func TestSplitBrainHealingNotifiesTheRightfulMaster(t *testing.T) {
	needRoot(t, "nft")
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	script, out := recordingScript(t, l, "lower", `"rx lower $#"`)
	fifo := newNotifyFIFO(t, l, "r1.fifo")
	globals := fmt.Sprintf("global_defs {\n    enable_script_security\n    script_user root\n    vrrp_notify_fifo %s\n}\n", fifo.path)
	partitionVRRP(t, r2, true)
	startKGConf(t, r1, trackConf(150, globals, fmt.Sprintf("    notify_master_rx_lower_pri %s\n", script)))
	p2 := startKG(t, r2, instance{version: 3, advertInt: "0.1", vip: vip4, priority: 100})
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	waitLog(t, 5*time.Second, p2, "Entering MASTER STATE")
	partitionVRRP(t, r2, false)
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	check := func() bool {
		got, _ := os.ReadFile(out)
		return strings.HasPrefix(string(got), "rx lower 0\n")
	}
	if err := lab.WaitUntil("notify_master_rx_lower_pri ran without arguments", 3*time.Second, check); err != nil {
		t.Fatal(err)
	}
	fifo.waitLine(t, 3*time.Second, "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150\n", 1)
}

func partitionVRRP(t *testing.T, h *lab.Host, cut bool) {
	t.Helper()
	script := "delete table inet kgpart\n"
	if cut {
		script = `table inet kgpart {
	chain in { type filter hook input priority 0; meta l4proto 112 drop; }
	chain out { type filter hook output priority 0; meta l4proto 112 drop; }
}
`
	}
	cmd := h.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
}

// waitLog waits (at most d) until the daemon has logged text.
func waitLog(t *testing.T, d time.Duration, p *lab.Proc, text string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.Log(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %v", p.Name, text, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIPv6VRRPv3(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2", "client")
	r1, r2, client := l.Host("r1"), l.Host("r2"), l.Host("client")
	in1, in2 := masterAndBackup(vip6)
	p1 := startKG(t, r1, in1)
	startKG(t, r2, in2)
	waitHolder(t, 5*time.Second, vip6, r1, r1, r2)
	waitPing(t, 5*time.Second, client, vip6)
	crash(t, r1, p1)
	waitHolder(t, 5*time.Second, vip6, r2, r2)
	waitPing(t, 5*time.Second, client, vip6)
}

func TestUnicastPeers(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	in1, in2 := masterAndBackup(vip4)
	in1.src, in1.unicast = r1.IPv4, []netip.Addr{r2.IPv4}
	in2.src, in2.unicast = r2.IPv4, []netip.Addr{r1.IPv4}
	p1 := startKG(t, r1, in1)
	startKG(t, r2, in2)
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	p1.Signal(syscall.SIGTERM)
	p1.Wait(5 * time.Second)
	waitHolder(t, 3*time.Second, vip4, r2, r1, r2)
}

// TestUnicastFaultNoPeerStaysInFault: r1 has the higher priority but its
// unicast instance has no peers and unicast_fault_no_peer, so it stays in
// FAULT instead of falling back to multicast; r2 holds the VIP throughout
// and never hears an advert from r1.
func TestUnicastFaultNoPeerStaysInFault(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	in1, in2 := masterAndBackup(vip4)
	conf1 := strings.Replace(in1.conf(), "    advert_int 0.1\n",
		fmt.Sprintf("    advert_int 0.1\n    unicast_src_ip %s\n    unicast_fault_no_peer\n", r1.IPv4), 1)
	p1 := startKGConf(t, r1, conf1)
	p2 := startKG(t, r2, in2)
	waitLog(t, 3*time.Second, p1, "Cannot use unicast without any peers - going to fault state")
	waitLog(t, time.Second, p1, "Entering FAULT STATE")
	waitHolder(t, 5*time.Second, vip4, r2, r1, r2)
	time.Sleep(time.Second) // ten of r1's advert intervals
	if r1.HasAddress(vip4) {
		t.Fatal("r1 took the VIP although its instance is in FAULT")
	}
	if stats := readStats(t, r2, p2); !strings.Contains(stats, "Advertisements:\n    Received: 0\n") {
		t.Errorf("r2 received adverts from the faulted r1:\n%s", stats)
	}
}

func TestAuthenticationMismatchIsIgnored(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	in1 := instance{version: 2, advertInt: "1", vip: vip4, priority: 150, auth: "secret"}
	in2 := in1
	in2.priority, in2.auth = 100, "other"
	startKG(t, r1, in1)
	startKG(t, r2, in2)
	// Each drops the other's adverts, so both become master.
	bothHold := func() bool { return r1.HasAddress(vip4) && r2.HasAddress(vip4) }
	if err := lab.WaitUntil("both hold the VIP (different passwords)", 8*time.Second, bothHold); err != nil {
		t.Fatalf("%v: r1 %v r2 %v", err, r1.HasAddress(vip4), r2.HasAddress(vip4))
	}
}

func TestVIPsRemovedAtExitAndStaleOnesAtStart(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	in := instance{version: 3, advertInt: "0.1", vip: vip4, priority: 100}
	p := startKG(t, r1, in)
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	p.Signal(syscall.SIGKILL) // leaves the VIP behind
	p.Wait(5 * time.Second)
	if !r1.HasAddress(vip4) {
		t.Fatal("test setup: SIGKILL should leave the VIP")
	}
	// A restarted daemon starts as backup and must not keep a VIP it does
	// not own: the stale one goes, then comes back when it is master.
	p2 := startKG(t, r1, in)
	waitLog(t, 5*time.Second, p2, "Entering BACKUP STATE")
	if r1.HasAddress(vip4) {
		t.Fatal("the restarted daemon kept the stale VIP while backup")
	}
	waitLog(t, 5*time.Second, p2, "Entering MASTER STATE")
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	p2.Signal(syscall.SIGTERM)
	p2.Wait(5 * time.Second)
	if r1.HasAddress(vip4) {
		t.Fatal("the VIP survived SIGTERM")
	}
}

// routeIn tells whether `ip route show table all` in the host lists dst.
func routeIn(h *lab.Host, dst string) bool {
	out, _ := exec.Command("ip", "-n", h.NS, "route", "show", "table", "all").Output()
	return strings.Contains(string(out), dst)
}

func TestVirtualAndStaticRoutesFollowTheirOwners(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	conf := func(prio int) string {
		return fmt.Sprintf(`static_routes {
    203.0.113.0/25 via 198.51.100.1 dev eth0
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.1
    version 3
    virtual_ipaddress {
        198.51.100.200/24
    }
    virtual_routes {
        203.0.113.128/25 via 198.51.100.254 dev eth0 table 100
    }
    virtual_rules {
        from 198.51.100.200/32 table 100 priority 100
    }
}
`, prio)
	}
	p1 := startKGConf(t, r1, conf(150))
	startKGConf(t, r2, conf(100))
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	if !routeIn(r1, "203.0.113.128/25") || routeIn(r2, "203.0.113.128/25") {
		t.Fatalf("the virtual route must be on the master only: r1 %v, r2 %v", routeIn(r1, "203.0.113.128/25"), routeIn(r2, "203.0.113.128/25"))
	}
	rules, _ := exec.Command("ip", "-n", r1.NS, "rule").Output()
	if !strings.Contains(string(rules), "from 198.51.100.200 lookup 100") {
		t.Fatalf("the virtual rule is missing on the master:\n%s", rules)
	}
	for _, h := range []*lab.Host{r1, r2} {
		if !routeIn(h, "203.0.113.0/25") {
			t.Fatalf("the static route is missing on %s", h.Name)
		}
	}
	p1.Signal(syscall.SIGTERM)
	p1.Wait(5 * time.Second)
	waitHolder(t, 3*time.Second, vip4, r2, r1, r2)
	if routeIn(r1, "203.0.113") {
		t.Fatal("r1 kept routes after stopping")
	}
	if !routeIn(r2, "203.0.113.128/25") {
		t.Fatal("the new master did not install the virtual route")
	}
}

func TestUseVMACCarriesTheVIPOnAVirtualMAC(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2", "client")
	r1, r2, client := l.Host("r1"), l.Host("r2"), l.Host("client")
	conf := func(prio int) string {
		return fmt.Sprintf(`vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    use_vmac
    virtual_router_id 51
    priority %d
    advert_int 0.1
    version 3
    virtual_ipaddress {
        198.51.100.200/24
    }
}
`, prio)
	}
	for _, h := range []struct {
		host *lab.Host
		prio int
	}{{r1, 150}, {r2, 100}} {
		startKGConf(t, h.host, conf(h.prio))
	}
	onVMAC := func(h *lab.Host) bool {
		out, _ := exec.Command("ip", "-n", h.NS, "-o", "addr", "show", "dev", "vrrp.51").Output()
		return strings.Contains(string(out), " 198.51.100.200/")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !onVMAC(r1) || onVMAC(r2) {
		if time.Now().After(deadline) {
			t.Fatalf("the VIP should be on r1's vrrp.51 only: r1 %v r2 %v", onVMAC(r1), onVMAC(r2))
		}
		time.Sleep(20 * time.Millisecond)
	}
	link, _ := exec.Command("ip", "-n", r1.NS, "-d", "link", "show", "vrrp.51").Output()
	for _, want := range []string{"00:00:5e:00:01:33", "macvlan mode private"} {
		if !strings.Contains(string(link), want) {
			t.Errorf("vrrp.51 lacks %q:\n%s", want, link)
		}
	}
	waitPing(t, 3*time.Second, client, vip4)
}

// TestNoAcceptDropsTrafficToTheVIP: with no_accept (RFC 5798 Accept_Mode
// off) the master holds the VIP but drops what is sent to it, through
// keepalived's nftables table; the table goes when the daemon stops.
func TestNoAcceptDropsTrafficToTheVIP(t *testing.T) {
	needRoot(t, "nft")
	l := newLab(t, "r1", "client")
	r1, client := l.Host("r1"), l.Host("client")
	conf := `vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 0.1
    version 3
    no_accept
    virtual_ipaddress {
        198.51.100.200/24
    }
}
`
	p := startKGConf(t, r1, conf)
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	if !client.Ping(r1.IPv4) {
		t.Fatal("the router's own address must still answer")
	}
	if client.Ping(vip4) {
		t.Fatal("with no_accept the master must drop traffic to the VIP")
	}
	rules, _ := exec.Command("ip", "netns", "exec", r1.NS, "nft", "list", "table", "ip", "keepalived").Output()
	if !strings.Contains(string(rules), "198.51.100.200") || !strings.Contains(string(rules), "ip daddr @vips drop") {
		t.Fatalf("keepalived's table should drop the VIP:\n%s", rules)
	}
	p.Signal(syscall.SIGTERM)
	p.Wait(5 * time.Second)
	if out, err := exec.Command("ip", "netns", "exec", r1.NS, "nft", "list", "tables").Output(); err != nil || strings.Contains(string(out), "keepalived") {
		t.Fatalf("the keepalived tables must go at exit: %s %v", out, err)
	}
}

// TestInterfaceDownMeansFault: the master's own interface going down puts
// it in FAULT (its VIP goes, the backup takes over); coming back, it
// leaves FAULT and preempts again.
func TestInterfaceDownMeansFault(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	in1, in2 := masterAndBackup(vip4)
	p1 := startKG(t, r1, in1)
	startKG(t, r2, in2)
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	if err := r1.SetLink(false); err != nil {
		t.Fatal(err)
	}
	waitLog(t, 3*time.Second, p1, "Entering FAULT STATE")
	waitHolder(t, 3*time.Second, vip4, r2, r1, r2)
	if err := r1.SetLink(true); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
}

// TestTrackInterfaceWeightLowersPriority: a tracked interface with weight
// -60 going down takes r1 from 150 to 90, below r2's 100, which takes over.
func TestTrackInterfaceWeightLowersPriority(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	addTrackedLink(t, r1)
	p1 := startKGConf(t, r1, trackConf(150, "", "    track_interface {\n        trk0 weight -60\n    }\n"))
	startKGConf(t, r2, trackConf(100, "", ""))
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	setLink(t, r1, "trk1", false)
	waitHolder(t, 5*time.Second, vip4, r2, r1, r2)
	if strings.Contains(p1.Log(), "Entering FAULT STATE") {
		t.Fatal("a weighted interface must change the priority, not cause FAULT")
	}
}

// addTrackedLink gives host h an interface to track, trk0, up; it goes
// down with its veth peer trk1 (setLink(h, "trk1", false)).
func addTrackedLink(t *testing.T, h *lab.Host) {
	t.Helper()
	for _, args := range [][]string{
		{"-n", h.NS, "link", "add", "trk0", "type", "veth", "peer", "name", "trk1"},
		{"-n", h.NS, "link", "set", "trk0", "up"},
		{"-n", h.NS, "link", "set", "trk1", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
}

// setLink sets interface name of host h up or down.
func setLink(t *testing.T, h *lab.Host, name string, up bool) {
	t.Helper()
	state := map[bool]string{true: "up", false: "down"}[up]
	if out, err := exec.Command("ip", "-n", h.NS, "link", "set", name, state).CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s %s: %v %s", name, state, err, out)
	}
}

// TestTrackScriptWeightMovesTheVIP: r1 tracks a vrrp_script (weight -60)
// that checks a file; removing the file makes the script fail, r1's
// priority drops from 150 to 90, below r2's 100, and r2 takes over;
// putting the file back brings the VIP back to r1.
func TestTrackScriptWeightMovesTheVIP(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	flag, err := l.WriteFile("healthy", "ok")
	if err != nil {
		t.Fatal(err)
	}
	conf := func(prio int, extra, track string) string {
		return trackConf(prio, "global_defs {\n    enable_script_security\n    script_user root\n}\n"+extra, track)
	}
	script := fmt.Sprintf("vrrp_script chk_file {\n    script \"/usr/bin/test -e %s\"\n    interval 1\n    weight -60\n}\n", flag)
	p1 := startKGConf(t, r1, conf(150, script, "    track_script {\n        chk_file\n    }\n"))
	startKGConf(t, r2, conf(100, "", ""))
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, 5*time.Second, vip4, r2, r1, r2)
	waitLog(t, time.Second, p1, "VRRP_Script(chk_file) failed")
	if _, err := l.WriteFile("healthy", "ok"); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
}

// TestNotifyScriptsAndFIFO: on each state change the instance's notify
// script gets keepalived's four arguments, notify_master runs on MASTER,
// and the FIFO gets keepalived's lines.
func TestNotifyScriptsAndFIFO(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	script, out := recordingScript(t, l, "notify", `"$*"`)
	fifoPath := filepath.Join(l.Dir, "notify.fifo")
	if err := syscall.Mkfifo(fifoPath, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo, err := os.OpenFile(fifoPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fifo.Close()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(fifo)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	conf := fmt.Sprintf(`global_defs {
    enable_script_security
    script_user root
    notify_fifo %s
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    version 3
    notify %s
    notify_master "%s master-only"
    virtual_ipaddress {
        198.51.100.200/24
    }
}
`, fifoPath, script, script)
	p := startKGConf(t, r1, conf)
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	p.Signal(syscall.SIGTERM)
	if err := p.Wait(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	want := "INSTANCE VI_1 BACKUP 150\nmaster-only\nINSTANCE VI_1 MASTER 150\nINSTANCE VI_1 STOP 150\n"
	if string(got) != want {
		t.Fatalf("notify scripts were called with:\n%s\nwant:\n%s", got, want)
	}
	var fifoLines []string
	for len(fifoLines) < 3 {
		select {
		case line := <-lines:
			fifoLines = append(fifoLines, line)
		case <-time.After(3 * time.Second):
			t.Fatalf("FIFO lines so far: %q", fifoLines)
		}
	}
	wantFIFO := []string{`INSTANCE "VI_1" BACKUP 150`, `INSTANCE "VI_1" MASTER 150`, `INSTANCE "VI_1" STOP 150`}
	if strings.Join(fifoLines, "\n") != strings.Join(wantFIFO, "\n") {
		t.Fatalf("FIFO lines %q, want %q", fifoLines, wantFIFO)
	}
}

// TestNoVirtualIPAddressElects: instances without addresses
// (no_virtual_ipaddress, keepalived 2.3's keyword for VRRP used only to
// elect a master for notify scripts) elect as any: r1 at 150 is master
// and r2 at 100 accepts its address-less adverts and stays backup.
func TestNoVirtualIPAddressElects(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	conf := func(prio int) string {
		return fmt.Sprintf("vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n"+
			"    priority %d\n    advert_int 0.1\n    version 3\n    no_virtual_ipaddress\n}\n", prio)
	}
	p1 := startKGConf(t, r1, conf(150))
	p2 := startKGConf(t, r2, conf(100))
	waitLog(t, 5*time.Second, p1, "(VI_1) Entering MASTER STATE")
	waitLog(t, 5*time.Second, p2, "(VI_1) Entering BACKUP STATE")
	// Started together, r2 may be master for a moment before it hears
	// r1: only what it logs once r1 is master counts.
	time.Sleep(200 * time.Millisecond)
	mark := len(p2.Log())
	time.Sleep(time.Second) // nearly three of r2's Master_Down_Intervals
	if strings.Contains(p2.Log()[mark:], "Entering MASTER STATE") {
		t.Fatal("r2 took over: it did not accept r1's address-less adverts")
	}
	if strings.Contains(p1.Log(), "not supported yet") {
		t.Errorf("a keyword was ignored:\n%s", p1.Log())
	}
}
