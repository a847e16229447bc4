//go:build ipvsguest

package qemu

// use_ipvlan and VRFs in the guest (see qemu_test.go): our hosts' kernels
// have neither ipvlan nor vrf, Debian's cloud kernel has both as modules.
// Two routers and a client are namespaces on a bridge in the guest's root
// namespace. Each test runs Debian's keepalived 2.2.7 alone on r1 first,
// then keepalived-go with the same configuration: the interfaces they
// make must be the same (kind, mode and flags, MAC, VRF, addresses).
// Then keepalived-go on r1 (master) and r2 (backup): the client reaches
// the VIPs, and again through r2 once r1 stops.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lanGuest builds namespaces on a bridge: eth0 of the i-th has
// 198.51.100.(10+i)/24.
func lanGuest(t *testing.T, names ...string) {
	t.Helper()
	ip := func(args ...string) { run(t, "/sbin/ip", args...) }
	ip("link", "add", "lanbr", "type", "bridge")
	t.Cleanup(func() { exec.Command("/sbin/ip", "link", "del", "lanbr").Run() })
	ip("link", "set", "lanbr", "up")
	for i, ns := range names {
		ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command("/sbin/ip", "netns", "del", ns).Run() })
		ip("-n", ns, "link", "set", "lo", "up")
		port := fmt.Sprintf("lan%d", i)
		ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ip("link", "set", port, "master", "lanbr", "up")
		ip("-n", ns, "addr", "add", fmt.Sprintf("198.51.100.%d/24", 10+i), "dev", "eth0")
		ip("-n", ns, "link", "set", "eth0", "up")
	}
}

// guestDaemon is keepalived-go or keepalived running in a namespace.
type guestDaemon struct {
	who  string
	cmd  *exec.Cmd
	out  syncWriter
	done chan struct{}
}

// startGuestDaemon runs who ("keepalived-go" or "keepalived", VRRP only)
// in namespace ns with the configuration text; it is killed at the end
// of the test, and its log shown if the test failed.
func startGuestDaemon(t *testing.T, ns, who, conf string) *guestDaemon {
	t.Helper()
	base := fmt.Sprintf("/tmp/%s-%s", ns, who)
	if err := os.WriteFile(base+".conf", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := os.Getenv("KG_BINARY")
	if who == "keepalived" {
		bin = "/sbin/keepalived"
	}
	d := &guestDaemon{who: who, done: make(chan struct{})}
	d.cmd = exec.Command("/sbin/ip", "netns", "exec", ns, bin, "-n", "-l", "-D", "-P", "-f", base+".conf",
		"-p", base+".pid", "-r", base+"-vrrp.pid", "-c", base+"-check.pid")
	d.cmd.Stdout, d.cmd.Stderr = &d.out, &d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("%s in %s:\n%s", who, ns, d.out.String())
		}
	})
	return d
}

// stop sends SIGTERM and waits (at most 10 s) for the daemon to exit.
func (d *guestDaemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not stop", d.who)
	}
}

// guestLinks describes the interfaces of namespace ns (all but lo), by
// name: kind, its data (mode, flags), MAC, VRF master and addresses
// (link-local ones left out).
func guestLinks(t *testing.T, ns string) map[string]string {
	t.Helper()
	out := listAddrsJSON(t, ns)
	var links []struct {
		Ifname   string `json:"ifname"`
		Address  string `json:"address"`
		Master   string `json:"master"`
		Linkinfo struct {
			InfoKind string         `json:"info_kind"`
			InfoData map[string]any `json:"info_data"`
		} `json:"linkinfo"`
		AddrInfo []struct {
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		t.Fatalf("ip -j addr: %v\n%s", err, out)
	}
	views := map[string]string{}
	for _, l := range links {
		if l.Ifname == "lo" {
			continue
		}
		var addrs []string
		for _, a := range l.AddrInfo {
			if !strings.HasPrefix(a.Local, "fe80:") {
				addrs = append(addrs, fmt.Sprintf("%s/%d", a.Local, a.Prefixlen))
			}
		}
		slices.Sort(addrs)
		data := l.Linkinfo.InfoData
		if l.Linkinfo.InfoKind == "veth" || l.Linkinfo.InfoKind == "vrf" {
			data = nil
		}
		views[l.Ifname] = fmt.Sprintf("%s %v %s master=%s %v", l.Linkinfo.InfoKind, data, l.Address, l.Master, addrs)
	}
	return views
}

// listAddrsJSON runs `ip -d -j addr show` in ns. A daemon creating or
// deleting a VMAC while ip walks the links makes ip print "Device ...
// does not exist" on stderr and exit non-zero: that listing is retried
// (at most 20 times, 50 ms apart), and stderr never reaches the JSON.
func listAddrsJSON(t *testing.T, ns string) string {
	t.Helper()
	var err error
	var stderr strings.Builder
	for try := 0; try < 20; try++ {
		stderr.Reset()
		cmd := exec.Command("/sbin/ip", "-n", ns, "-d", "-j", "addr", "show")
		cmd.Stderr = &stderr
		var out []byte
		if out, err = cmd.Output(); err == nil && json.Valid(out) {
			return string(out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("ip -n %s -d -j addr show: %v\n%s", ns, err, stderr.String())
	return ""
}

// waitGuest polls cond every 100 ms for at most d.
func waitGuest(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// holds tells whether namespace ns has addr (ADDR/LEN) on dev.
func holds(t *testing.T, ns, dev, addr string) bool {
	return strings.Contains(guestLinks(t, ns)[dev], addr)
}

func pingFrom(ns, addr string) bool {
	return exec.Command("/sbin/ip", "netns", "exec", ns, "/bin/busybox", "ping", "-c", "1", "-W", "1", addr).Run() == nil
}

// sameLinksAsKeepalived runs keepalived, then keepalived-go, alone in r1
// with conf, waits in each case until ready says r1 is master, and
// compares the interfaces each made while master. It leaves
// keepalived-go running.
func sameLinksAsKeepalived(t *testing.T, conf string, ready func() bool) *guestDaemon {
	t.Helper()
	before := guestLinks(t, "r1")
	views := map[string]map[string]string{}
	var ours *guestDaemon
	for _, who := range []string{"keepalived", "keepalived-go"} {
		d := startGuestDaemon(t, "r1", who, conf)
		waitGuest(t, who+" master on r1", 30*time.Second, ready)
		time.Sleep(300 * time.Millisecond) // nothing more comes
		views[who] = guestLinks(t, "r1")
		if who == "keepalived" {
			d.stop(t)
			if after := guestLinks(t, "r1"); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("keepalived left\n%v\nwhere there was\n%v", after, before)
			}
		} else {
			ours = d
		}
	}
	if a, b := fmt.Sprint(views["keepalived"]), fmt.Sprint(views["keepalived-go"]); a != b {
		t.Fatalf("keepalived 2.2.7 made\n%s\nkeepalived-go made\n%s", a, b)
	}
	t.Logf("keepalived and keepalived-go made %v", views["keepalived"])
	return ours
}

const ipvlanConf = `vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    use_ipvlan ipv1 %s private
    virtual_router_id 51
    priority %d
    advert_int 0.5
    version 3
    virtual_ipaddress {
        198.51.100.200/24
    }
}
`

// TestGuestIPvlan: use_ipvlan makes an L2 ipvlan (flag private) holding
// the given address, from which adverts leave; the VIP goes on the
// interface itself, as keepalived 2.2.7 puts it.
func TestGuestIPvlan(t *testing.T) {
	lanGuest(t, "r1", "r2", "lanc")
	r1 := sameLinksAsKeepalived(t, fmt.Sprintf(ipvlanConf, "198.51.100.21/24", 150), func() bool {
		return holds(t, "r1", "eth0", "198.51.100.200/24")
	})
	if got := guestLinks(t, "r1")["ipv1"]; !strings.HasPrefix(got, "ipvlan ") || !strings.Contains(got, "l2") ||
		!strings.Contains(got, "private") || !strings.Contains(got, "[198.51.100.21/24]") {
		t.Fatalf("ipv1 should be an L2 private ipvlan with 198.51.100.21: %s", got)
	}
	startGuestDaemon(t, "r2", "keepalived-go", fmt.Sprintf(ipvlanConf, "198.51.100.22/24", 100))
	waitGuest(t, "r2's ipvlan", 10*time.Second, func() bool { return holds(t, "r2", "ipv1", "198.51.100.22/24") })
	waitGuest(t, "the client reaching the VIP", 10*time.Second, func() bool { return pingFrom("lanc", "198.51.100.200") })
	// r2 hears r1's adverts on its ipvlan: it stays backup (4 adverts).
	time.Sleep(2 * time.Second)
	if holds(t, "r2", "eth0", "198.51.100.200/24") {
		t.Fatal("r2 took the VIP from a live master")
	}
	r1.stop(t)
	if _, ok := guestLinks(t, "r1")["ipv1"]; ok {
		t.Fatal("keepalived-go left its ipvlan behind")
	}
	waitGuest(t, "r2 master", 10*time.Second, func() bool { return holds(t, "r2", "eth0", "198.51.100.200/24") })
	waitGuest(t, "the client reaching the VIP through r2", 10*time.Second, func() bool { return pingFrom("lanc", "198.51.100.200") })
}

const vrfConf = `vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    use_vmac
    virtual_router_id 51
    priority %[1]d
    advert_int 0.5
    version 3
    virtual_ipaddress {
        198.51.100.200/24
    }
}
vrrp_instance VI_2 {
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority %[1]d
    advert_int 0.5
    version 3
    unicast_src_ip %[2]s
    unicast_peer {
        %[3]s
    }
    virtual_ipaddress {
        198.51.100.201/24
    }
}
`

// TestGuestVRF: the routers' eth0 is enslaved to a VRF. The VMAC of
// use_vmac is enslaved to the same VRF, so that its VIP is in the VRF's
// table; a unicast instance speaks inside the VRF. The client reaches
// both VIPs, before and after the failover.
func TestGuestVRF(t *testing.T) {
	lanGuest(t, "r1", "r2", "lanc")
	for _, ns := range []string{"r1", "r2"} {
		run(t, "/sbin/ip", "-n", ns, "link", "add", "blue", "type", "vrf", "table", "10")
		run(t, "/sbin/ip", "-n", ns, "link", "set", "blue", "up")
		run(t, "/sbin/ip", "-n", ns, "link", "set", "eth0", "master", "blue")
	}
	r1 := sameLinksAsKeepalived(t, fmt.Sprintf(vrfConf, 150, "198.51.100.10", "198.51.100.11"), func() bool {
		return holds(t, "r1", "vrrp.51", "198.51.100.200/24") && holds(t, "r1", "eth0", "198.51.100.201/24")
	})
	if got := guestLinks(t, "r1")["vrrp.51"]; !strings.Contains(got, "master=blue") {
		t.Fatalf("vrrp.51 should be in VRF blue: %s", got)
	}
	if routes := run(t, "/sbin/ip", "-n", "r1", "route", "show", "table", "10"); !strings.Contains(routes, "198.51.100.200") {
		t.Fatalf("the VIP should be in VRF blue's table:\n%s", routes)
	}
	startGuestDaemon(t, "r2", "keepalived-go", fmt.Sprintf(vrfConf, 100, "198.51.100.11", "198.51.100.10"))
	for _, vip := range []string{"198.51.100.200", "198.51.100.201"} {
		waitGuest(t, "the client reaching "+vip, 10*time.Second, func() bool { return pingFrom("lanc", vip) })
	}
	time.Sleep(2 * time.Second)
	if holds(t, "r2", "vrrp.51", "198.51.100.200/24") || holds(t, "r2", "eth0", "198.51.100.201/24") {
		t.Fatalf("r2 took a VIP from a live master (the adverts do not reach it in the VRF): %v", guestLinks(t, "r2"))
	}
	r1.stop(t)
	waitGuest(t, "r2 master of both", 10*time.Second, func() bool {
		return holds(t, "r2", "vrrp.51", "198.51.100.200/24") && holds(t, "r2", "eth0", "198.51.100.201/24")
	})
	for _, vip := range []string{"198.51.100.200", "198.51.100.201"} {
		waitGuest(t, "the client reaching "+vip+" through r2", 10*time.Second, func() bool { return pingFrom("lanc", vip) })
	}
}

const vrfNoIfConf = `vrrp_instance VI_3 {
    vrf blue
    virtual_router_id 53
    priority %d
    advert_int 0.5
    version 3
    unicast_src_ip %s
    unicast_peer {
        %s
    }
    virtual_ipaddress {
        198.51.100.202/24 dev eth0
    }
}
`

// TestGuestVRFUnicastWithoutInterface: a unicast instance without an
// interface speaks in the VRF its vrf keyword names (keepalived 2.2.8 and
// later; 2.2.7 refuses any instance without an interface, its issue
// #2270): the backup hears the master, the client reaches the VIP, and
// again after the failover.
func TestGuestVRFUnicastWithoutInterface(t *testing.T) {
	lanGuest(t, "r1", "r2", "lanc")
	for _, ns := range []string{"r1", "r2"} {
		run(t, "/sbin/ip", "-n", ns, "link", "add", "blue", "type", "vrf", "table", "10")
		run(t, "/sbin/ip", "-n", ns, "link", "set", "blue", "up")
		run(t, "/sbin/ip", "-n", ns, "link", "set", "eth0", "master", "blue")
	}
	r1 := startGuestDaemon(t, "r1", "keepalived-go", fmt.Sprintf(vrfNoIfConf, 150, "198.51.100.10", "198.51.100.11"))
	waitGuest(t, "r1 master", 10*time.Second, func() bool { return holds(t, "r1", "eth0", "198.51.100.202/24") })
	startGuestDaemon(t, "r2", "keepalived-go", fmt.Sprintf(vrfNoIfConf, 100, "198.51.100.11", "198.51.100.10"))
	waitGuest(t, "the client reaching the VIP", 10*time.Second, func() bool { return pingFrom("lanc", "198.51.100.202") })
	time.Sleep(2 * time.Second) // 4 adverts
	if holds(t, "r2", "eth0", "198.51.100.202/24") {
		t.Fatal("r2 took the VIP from a live master: the adverts do not reach it in the VRF")
	}
	r1.stop(t)
	waitGuest(t, "r2 master", 10*time.Second, func() bool { return holds(t, "r2", "eth0", "198.51.100.202/24") })
	waitGuest(t, "the client reaching the VIP through r2", 10*time.Second, func() bool { return pingFrom("lanc", "198.51.100.202") })
}
