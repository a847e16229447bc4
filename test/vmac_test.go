package test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// vmacAddrConf: an IPv4 instance with use_vmac and use_vmac_addr, the
// global vmac_prefix and vmac_addr_prefix; its IPv6 eVIP (the other
// family) gets a VMAC of its own with the IPv6 virtual MAC; VI_2 names
// its VMAC and gives it a MAC of 5 octets (the VRID is the sixth).
func vmacAddrConf(prio int, vips ...string) string {
	return fmt.Sprintf(`global_defs {
    vmac_prefix kv
    vmac_addr_prefix ka
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    use_vmac
    use_vmac_addr
    virtual_router_id 51
    priority %[1]d
    advert_int 0.1
    version 3
    virtual_ipaddress {
        198.51.100.200/24
%[2]s    }
    virtual_ipaddress_excluded {
        2001:db8::200/64
    }
}
vrrp_instance VI_2 {
    state BACKUP
    interface eth0
    use_vmac vmx 02:11:22:33:44
    virtual_router_id 52
    priority %[1]d
    advert_int 0.1
    version 3
    virtual_ipaddress {
        198.51.100.201/24
    }
}
`, prio, strings.Join(vips, ""))
}

// linkView is what `ip -d -j addr` says of an interface keepalived made:
// its kind and mode, MAC and addresses.
type linkView struct {
	Name, Kind, Mode, MAC string
	Addrs                 []string
}

// madeLinks are the host's interfaces other than lo, eth0 and the veth
// pair dum0/dum1 (those the daemon made), by name.
func madeLinks(t *testing.T, h *lab.Host) map[string]linkView {
	t.Helper()
	out, err := exec.Command("ip", "-n", h.NS, "-d", "-j", "addr", "show").Output()
	if err != nil {
		t.Fatalf("ip addr: %v", err)
	}
	var links []struct {
		Ifname   string `json:"ifname"`
		Address  string `json:"address"`
		Linkinfo struct {
			InfoKind string `json:"info_kind"`
			InfoData struct {
				Mode string `json:"mode"`
			} `json:"info_data"`
		} `json:"linkinfo"`
		AddrInfo []struct {
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("ip -j addr: %v", err)
	}
	views := map[string]linkView{}
	for _, l := range links {
		if l.Ifname == "lo" || l.Ifname == "eth0" || l.Ifname == "dum0" || l.Ifname == "dum1" {
			continue
		}
		v := linkView{Name: l.Ifname, Kind: l.Linkinfo.InfoKind, Mode: l.Linkinfo.InfoData.Mode, MAC: l.Address}
		for _, a := range l.AddrInfo {
			v.Addrs = append(v.Addrs, fmt.Sprintf("%s/%d", a.Local, a.Prefixlen))
		}
		slices.Sort(v.Addrs)
		views[l.Ifname] = v
	}
	return views
}

// TestUseVMACAddrAndPrefixes: use_vmac_addr gives the eVIP of the other
// family a VMAC of its own (vmac_addr_prefix, the IPv6 virtual MAC) while
// the instance's VMAC is named with vmac_prefix; use_vmac's name and MAC
// are honoured. A client reaches every VIP through the master's virtual
// MACs, and after the master dies through the backup's, the same MACs.
func TestUseVMACAddrAndPrefixes(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2", "client")
	r1, r2, client := l.Host("r1"), l.Host("r2"), l.Host("client")
	p1 := startKGConf(t, r1, vmacAddrConf(150))
	startKGConf(t, r2, vmacAddrConf(100))
	vip4b := netip.MustParseAddr("198.51.100.201")
	want := map[string]linkView{
		"kv.51": {Name: "kv.51", Kind: "macvlan", Mode: "private", MAC: "00:00:5e:00:01:33", Addrs: []string{"198.51.100.200/24"}},
		"ka.51": {Name: "ka.51", Kind: "macvlan", Mode: "private", MAC: "00:00:5e:00:02:33", Addrs: []string{"2001:db8::200/64", "LL"}},
		"vmx":   {Name: "vmx", Kind: "macvlan", Mode: "private", MAC: "02:11:22:33:44:34", Addrs: []string{"198.51.100.201/24"}},
	}
	check := func(master, backup *lab.Host) {
		t.Helper()
		var got map[string]linkView
		err := lab.WaitUntil("the VIPs on the master's VMACs", 5*time.Second, func() bool {
			got = madeLinks(t, master)
			for name, w := range want {
				g := got[name]
				// The IPv6 VMAC's link-local address is the parent's.
				g.Addrs = slices.DeleteFunc(slices.Clone(g.Addrs), func(a string) bool { return strings.HasPrefix(a, "fe80::") })
				if name == "ka.51" && len(g.Addrs) == 1 {
					g.Addrs = append(g.Addrs, "LL")
				}
				if fmt.Sprint(g) != fmt.Sprint(w) {
					return false
				}
			}
			return len(got) == len(want)
		})
		if err != nil {
			t.Fatalf("%s: %v: got %+v, want %+v", master.Name, err, got, want)
		}
		for name, v := range madeLinks(t, backup) {
			for _, a := range v.Addrs {
				if !strings.HasPrefix(a, "fe80::") {
					t.Fatalf("the backup %s holds %s on %s", backup.Name, a, name)
				}
			}
		}
		for _, vip := range []netip.Addr{vip4, vip4b, vip6} {
			waitPing(t, 5*time.Second, client, vip)
		}
		// Only the IPv6 eVIP's: an IPv4 VIP can be answered from the parent
		// or from the IPv6 VMAC (whose arp_ignore keepalived leaves at 0),
		// and the kernel's own ARP requests carry the parent's MAC.
		neigh, _ := exec.Command("ip", "-n", client.NS, "neigh", "show", "2001:db8::200").Output()
		if !strings.Contains(string(neigh), "lladdr 00:00:5e:00:02:33") {
			t.Errorf("the client should reach 2001:db8::200 at 00:00:5e:00:02:33:\n%s", neigh)
		}
	}
	check(r1, r2)
	p1.Signal(syscall.SIGTERM)
	if err := p1.Wait(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := madeLinks(t, r1); len(got) != 0 {
		t.Fatalf("r1 left its VMACs behind: %+v", got)
	}
	check(r2, r1)
}

// TestUseVMACAddrLinksLikeKeepalived: with the same configuration,
// keepalived 2.2.7 and keepalived-go, each alone and master, make the
// same interfaces: names, kinds and modes, MACs and addresses.
func TestUseVMACAddrLinksLikeKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	// A VIP on another interface gets a VMAC there too (use_vmac_addr).
	for _, args := range [][]string{{"link", "add", "dum0", "type", "veth", "peer", "name", "dum1"}, {"link", "set", "dum0", "up"},
		{"link", "set", "dum1", "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", r1.NS}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	conf := vmacAddrConf(150, "        203.0.113.1/24 dev dum0\n")
	views := map[string]map[string]linkView{}
	for _, daemon := range []string{"keepalived", "keepalived-go"} {
		var p *lab.Proc
		var err error
		if daemon == "keepalived" {
			p, err = r1.StartKeepalived(conf)
		} else {
			p, err = r1.StartKeepalivedGo(binary, conf)
		}
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]linkView
		err = lab.WaitUntil(daemon+" master with its VIPs", 10*time.Second, func() bool {
			got = madeLinks(t, r1)
			// The VIPs' VMACs first: ka.51 on dum0, then the eVIP's,
			// ka6.51 (an IPv6 one tries prefix6 second).
			return slices.Contains(got["kv.51"].Addrs, "198.51.100.200/24") && slices.Contains(got["ka6.51"].Addrs, "2001:db8::200/64") &&
				slices.Contains(got["vmx"].Addrs, "198.51.100.201/24") && slices.Contains(got["ka.51"].Addrs, "203.0.113.1/24")
		})
		time.Sleep(300 * time.Millisecond) // nothing more comes
		got = madeLinks(t, r1)
		p.Signal(syscall.SIGTERM)
		werr := p.Wait(5 * time.Second)
		if err != nil || werr != nil {
			t.Fatalf("%s: %v %v: %+v\n%s", daemon, err, werr, got, p.Log())
		}
		views[daemon] = got
		if left := madeLinks(t, r1); len(left) != 0 {
			t.Fatalf("%s left interfaces behind: %+v", daemon, left)
		}
	}
	if a, b := fmt.Sprint(views["keepalived"]), fmt.Sprint(views["keepalived-go"]); a != b {
		t.Fatalf("keepalived made\n%s\nkeepalived-go made\n%s", a, b)
	}
	t.Logf("both made %+v", views["keepalived"])
}

// TestUnicastWithoutInterface: a unicast instance may go without an
// interface (keepalived 2.2.8 and later; with vrf its socket is bound to
// a VRF, tested in the QEMU guest): its VIP names its dev, the backup
// hears the master, and the VIP moves when the master stops.
func TestUnicastWithoutInterface(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2", "client")
	r1, r2, client := l.Host("r1"), l.Host("r2"), l.Host("client")
	conf := func(prio int, self, peer *lab.Host) string {
		return fmt.Sprintf(`vrrp_instance VI_1 {
    virtual_router_id 51
    priority %d
    advert_int 0.1
    version 3
    unicast_src_ip %s
    unicast_peer {
        %s
    }
    virtual_ipaddress {
        198.51.100.200/24 dev eth0
    }
}
`, prio, self.IPv4, peer.IPv4)
	}
	p1 := startKGConf(t, r1, conf(150, r1, r2))
	startKGConf(t, r2, conf(100, r2, r1))
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	time.Sleep(500 * time.Millisecond) // five adverts: r2 must stay backup
	waitHolder(t, time.Second, vip4, r1, r1, r2)
	waitPing(t, 3*time.Second, client, vip4)
	p1.Signal(syscall.SIGTERM)
	p1.Wait(5 * time.Second)
	waitHolder(t, 3*time.Second, vip4, r2, r1, r2)
	waitPing(t, 3*time.Second, client, vip4)
}

// TestReloadKeepsTheVMACsOfUseVMACAddr: a reload that changes nothing
// keeps every VMAC (the same links); one that drops the eVIP deletes its
// VMAC and keeps the others. (A changed vmac_addr_prefix keeps ka.51: as
// keepalived, the eVIP takes the VMAC with its MAC on eth0 whatever its
// name.)
func TestReloadKeepsTheVMACsOfUseVMACAddr(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	p := startKGConf(t, r1, vmacAddrConf(150))
	eVIPOn := func(dev string) func() bool {
		return func() bool { return slices.Contains(madeLinks(t, r1)[dev].Addrs, "2001:db8::200/64") }
	}
	if err := lab.WaitUntil("the eVIP on ka.51", 5*time.Second, eVIPOn("ka.51")); err != nil {
		t.Fatal(err)
	}
	indexes := func() map[string]string {
		out := map[string]string{}
		for name := range madeLinks(t, r1) {
			b, err := r1.Command("cat", "/sys/class/net/"+name+"/ifindex").Output()
			if err != nil {
				t.Fatal(err)
			}
			out[name] = strings.TrimSpace(string(b))
		}
		return out
	}
	before := indexes()
	// IPv6 stays on the IPv4 VMAC while the instance has an IPv6 eVIP
	// (keepalived's VRRP_FLAG_EVIP_OTHER_FAMILY), and goes without.
	ipv6Off := func() string {
		b, _ := r1.Command("cat", "/proc/sys/net/ipv6/conf/kv.51/disable_ipv6").Output()
		return strings.TrimSpace(string(b))
	}
	if v := ipv6Off(); v != "0" {
		t.Fatalf("kv.51 disable_ipv6 = %q with an IPv6 eVIP, want 0", v)
	}
	path := filepath.Join(l.Dir, "r1-kg.conf")
	reload(t, path, "", p, 1)
	time.Sleep(200 * time.Millisecond)
	if after := indexes(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("an unchanged reload made VMACs again: %v, then %v", before, after)
	}
	noEVIP := strings.Replace(vmacAddrConf(150), "    virtual_ipaddress_excluded {\n        2001:db8::200/64\n    }\n", "", 1)
	if noEVIP == vmacAddrConf(150) {
		t.Fatal("the configuration has no eVIP block to drop")
	}
	reload(t, path, noEVIP, p, 2)
	if err := lab.WaitUntil("ka.51 gone", 3*time.Second, func() bool { _, ok := madeLinks(t, r1)["ka.51"]; return !ok }); err != nil {
		t.Fatalf("%v: %+v", err, madeLinks(t, r1))
	}
	if v := ipv6Off(); v != "1" {
		t.Errorf("kv.51 disable_ipv6 = %q without IPv6 eVIPs, want 1", v)
	}
	after := indexes()
	if _, ok := after["ka.51"]; ok {
		t.Fatalf("ka.51 left behind: %v", after)
	}
	for _, name := range []string{"kv.51", "vmx"} {
		if after[name] != before[name] {
			t.Errorf("%s was made again: %s, then %s", name, before[name], after[name])
		}
	}
}
