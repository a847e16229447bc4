package test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

var vip4b = netip.MustParseAddr("198.51.100.201")

// reloadConf is r1's configuration for the reload tests: a master at
// priority 150, at advert_int 0.1 so that a reload slower than the
// backup's Master_Down_Interval (0.36 s) would hand the VIP over.
func reloadConf(notify string, vips ...netip.Addr) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global_defs {
    enable_script_security
    script_user root
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    version 3
    notify %s
    virtual_ipaddress {
`, notify)
	for _, v := range vips {
		fmt.Fprintf(&b, "        %s/24\n", v)
	}
	b.WriteString("    }\n}\n")
	return b.String()
}

// watchAddress polls has every 2 ms until stop is closed, and counts the
// polls that did not find the address.
func watchAddress(has func() bool, stop <-chan struct{}) *atomic.Int64 {
	var missing atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				if !has() {
					missing.Add(1)
				}
			}
		}
	}()
	return &missing
}

// reload rewrites the daemon's configuration file, sends SIGHUP and
// waits for the reload to be logged (the n-th time).
func reload(t *testing.T, path, conf string, p *lab.Proc, n int) {
	t.Helper()
	if conf != "" {
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(p.Log(), "VRRP reloaded")+strings.Count(p.Log(), "reload refused") < n {
		if time.Now().After(deadline) {
			t.Fatalf("reload %d not done after 5 s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReloadKeepsTheMasterAndAppliesChanges: SIGHUP with a VIP added,
// then removed, then with an unreadable configuration. The master holds
// its VIP throughout (polled every 2 ms), the backup never takes over,
// the notify script is not run again, the added VIP comes and goes, and
// the unreadable configuration is refused.
func TestReloadKeepsTheMasterAndAppliesChanges(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	script, out := recordingScript(t, l, "notify", `"$*"`)
	p1 := startKGConf(t, r1, reloadConf(script, vip4))
	p2 := startKG(t, r2, instance{version: 3, advertInt: "0.1", vip: vip4, priority: 100})
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	path := filepath.Join(l.Dir, "r1-kg.conf")
	// Started together, both routers' down timers may run out before
	// either hears the other, and r2 may be master for a moment: that is
	// VRRP at start-up, not a reload's doing. Only what r2 logs from here
	// on counts.
	startLog := len(p2.Log())

	stop := make(chan struct{})
	missing := watchAddress(func() bool { return r1.HasAddress(vip4) }, stop)
	reload(t, path, reloadConf(script, vip4, vip4b), p1, 1)
	waitHolder(t, 2*time.Second, vip4b, r1, r1, r2)
	reload(t, path, reloadConf(script, vip4), p1, 2)
	if r1.HasAddress(vip4b) {
		t.Error("the VIP removed from the configuration is still on r1 after the reload")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	reload(t, "", "", p1, 3)
	waitLog(t, time.Second, p1, "reload refused")
	time.Sleep(500 * time.Millisecond) // longer than r2's Master_Down_Interval
	close(stop)

	if n := missing.Load(); n > 0 {
		t.Errorf("r1 lost %s during the reloads (%d polls of 2 ms)", vip4, n)
	}
	if !r1.HasAddress(vip4) || r2.HasAddress(vip4) {
		t.Errorf("after the reloads r1 holds the VIP: %v, r2: %v", r1.HasAddress(vip4), r2.HasAddress(vip4))
	}
	if strings.Contains(p2.Log()[startLog:], "Entering MASTER STATE") {
		t.Error("the backup became master during a reload")
	}
	if stats := readStats(t, r1, p1); !strings.Contains(stats, "Became master: 1\n") {
		t.Errorf("the counters did not survive the reloads:\n%s", stats)
	}
	if got, _ := os.ReadFile(out); string(got) != "INSTANCE VI_1 BACKUP 150\nINSTANCE VI_1 MASTER 150\n" {
		t.Errorf("notify ran with:\n%s\nwant only the start-up BACKUP and MASTER", got)
	}
}

// TestReloadKeepsTheVMACAndTheFirewall: a master with use_vmac and
// no_accept is reloaded with one more address. The VMAC is the same link
// after the reload (not deleted and made again, which would drop the
// VIP), the VIP never goes missing, and the new address is blocked by
// the no_accept rules too.
func TestReloadKeepsTheVMACAndTheFirewall(t *testing.T) {
	needRoot(t, "nft")
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	conf := func(vips ...netip.Addr) string {
		var b strings.Builder
		b.WriteString("vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    use_vmac\n    no_accept\n" +
			"    virtual_router_id 51\n    priority 150\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {\n")
		for _, v := range vips {
			fmt.Fprintf(&b, "        %s/24\n", v)
		}
		b.WriteString("    }\n}\n")
		return b.String()
	}
	p1 := startKGConf(t, r1, conf(vip4))
	onVMAC := func(v netip.Addr) func() bool { return func() bool { return r1.HasAddressOn("vrrp.51", v) } }
	if err := lab.WaitUntil("r1 holds the VIP on its VMAC", 5*time.Second, onVMAC(vip4)); err != nil {
		t.Fatal(err)
	}
	index := func() string {
		out, err := r1.Command("cat", "/sys/class/net/vrrp.51/ifindex").Output()
		if err != nil {
			t.Fatalf("no VMAC vrrp.51: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	before := index()
	stop := make(chan struct{})
	missing := watchAddress(onVMAC(vip4), stop)
	reload(t, filepath.Join(l.Dir, "r1-kg.conf"), conf(vip4, vip4b), p1, 1)
	if err := lab.WaitUntil("r1 holds the new address on its VMAC", 2*time.Second, onVMAC(vip4b)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	if n := missing.Load(); n > 0 {
		t.Errorf("the VIP went missing during the reload (%d polls of 2 ms)", n)
	}
	if after := index(); after != before {
		t.Errorf("the VMAC was made again: ifindex %s, then %s", before, after)
	}
	rules, err := r1.Command("nft", "list", "ruleset").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []netip.Addr{vip4, vip4b} {
		if !strings.Contains(string(rules), v.String()) {
			t.Errorf("%s is not in the no_accept rules:\n%s", v, rules)
		}
	}
}

// TestReloadWritesStatesToTheFIFO: with fifo_write_vrrp_states_on_reload
// a reload writes the state each instance kept to the FIFO (keepalived
// writes nothing by default, and neither do we).
func TestReloadWritesStatesToTheFIFO(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	fifo := newNotifyFIFO(t, l, "r1.fifo")
	globals := fmt.Sprintf("global_defs {\n    vrrp_notify_fifo %s\n    fifo_write_vrrp_states_on_reload\n}\n", fifo.path)
	p1 := startKGConf(t, r1, trackConf(150, globals, ""))
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	fifo.waitLine(t, 3*time.Second, "INSTANCE \"VI_1\" MASTER 150\n", 1)
	reload(t, "", "", p1, 1)
	fifo.waitLine(t, 3*time.Second, "INSTANCE \"VI_1\" MASTER 150\n", 2)
}
