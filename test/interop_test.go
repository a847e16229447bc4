package test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// TestInteropWithKeepalived puts keepalived-go and Debian's keepalived in
// one VRRP group, each side as master and as backup, v2 and v3, multicast
// and unicast: the master holds the VIP alone, the client reaches it, and
// when the master stops the other side takes over.
func TestInteropWithKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	for _, version := range []int{2, 3} {
		for _, unicast := range []bool{false, true} {
			for _, kgMaster := range []bool{true, false} {
				name := fmt.Sprintf("v%d/unicast=%v/keepalived-go-master=%v", version, unicast, kgMaster)
				t.Run(name, func(t *testing.T) { interop(t, version, vip4, unicast, kgMaster) })
			}
		}
	}
	for _, kgMaster := range []bool{true, false} {
		name := fmt.Sprintf("v3/IPv6/keepalived-go-master=%v", kgMaster)
		t.Run(name, func(t *testing.T) { interop(t, 3, vip6, false, kgMaster) })
	}
}

func interop(t *testing.T, version int, vip netip.Addr, unicast, kgMaster bool) {
	l := newLab(t, "kg", "ka", "client")
	kg, ka, client := l.Host("kg"), l.Host("ka"), l.Host("client")
	base := instance{version: version, advertInt: "1", vip: vip}
	if version == 2 {
		base.auth = "secret"
	}
	inKG, inKA := base, base
	inKG.priority, inKA.priority = 100, 150
	if kgMaster {
		inKG.priority, inKA.priority = 150, 100
	}
	if unicast {
		inKG.src, inKG.unicast = kg.IPv4, []netip.Addr{ka.IPv4}
		inKA.src, inKA.unicast = ka.IPv4, []netip.Addr{kg.IPv4}
	}
	master, backup := ka, kg
	if kgMaster {
		master, backup = kg, ka
	}
	// The backup starts first, so the master's arrival exercises preemption
	// across implementations too.
	var pMaster *lab.Proc
	if kgMaster {
		startKA(t, ka, inKA)
		pMaster = startKG(t, kg, inKG)
	} else {
		startKG(t, kg, inKG)
		pMaster = startKA(t, ka, inKA)
	}
	waitHolder(t, 10*time.Second, vip, master, kg, ka)
	waitPing(t, 3*time.Second, client, vip)

	pMaster.Signal(syscall.SIGTERM)
	if err := pMaster.Wait(8 * time.Second); err != nil {
		t.Fatalf("master did not stop: %v", err)
	}
	waitHolder(t, 5*time.Second, vip, backup, kg, ka)
	waitPing(t, 3*time.Second, client, vip)
}

// TestTsharkDecodesOurAdverts captures what keepalived-go sends and has
// tshark dissect it: valid VRRP, good checksum, the fields we configured.
func TestTsharkDecodesOurAdverts(t *testing.T) {
	needRoot(t, "tshark")
	for _, tc := range []struct {
		name string
		in   instance
		want []string
	}{
		{"v2 PASS", instance{version: 2, advertInt: "1", vip: vip4, priority: 150, auth: "secret"},
			[]string{"Version 2", "Virtual Rtr ID: 51", "Priority: 150", "Auth Type: Simple Text Authentication", "198.51.100.200"}},
		{"v3 IPv4", instance{version: 3, advertInt: "0.5", vip: vip4, priority: 150},
			[]string{"Version 3", "Virtual Rtr ID: 51", "Priority: 150", "Adver Int: 50", "198.51.100.200"}},
		{"v3 IPv4 v3_checksum_as_v2", instance{version: 3, advertInt: "0.5", vip: vip4, priority: 150, checksumV2: true},
			[]string{"Version 3", "Virtual Rtr ID: 51", "198.51.100.200"}},
		{"v3 IPv6", instance{version: 3, advertInt: "0.5", vip: vip6, priority: 150},
			[]string{"Version 3", "Virtual Rtr ID: 51", "Priority: 150", "2001:db8::200", "Hop Limit: 255", "Destination Address: ff02::12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, "kg", "watcher")
			kg, watcher := l.Host("kg"), l.Host("watcher")
			startKG(t, kg, tc.in)
			waitHolder(t, 8*time.Second, tc.in.vip, kg, kg)
			pcap := filepath.Join(l.Dir, "adverts.pcap")
			if out, err := watcher.Command("tshark", "-i", "eth0", "-f", "ip proto 112 or ip6 proto 112",
				"-a", "duration:3", "-c", "2", "-w", pcap).CombinedOutput(); err != nil {
				t.Fatalf("tshark capture: %v\n%s", err, out)
			}
			// tshark checks the RFC 9568 form (v3_checksum_as_v2) only
			// when told to.
			pref := "vrrp.v3_checksum_as_in_v2:" + strings.ToUpper(strconv.FormatBool(tc.in.checksumV2))
			out, err := exec.Command("tshark", "-r", pcap, "-V", "-o", pref).CombinedOutput()
			if err != nil {
				t.Fatalf("tshark: %v\n%s", err, out)
			}
			text := string(out)
			for _, want := range append(tc.want, "Virtual Router Redundancy Protocol", "[Checksum Status: Good]") {
				if !strings.Contains(text, want) {
					t.Errorf("tshark's dissection lacks %q:\n%s", want, text)
				}
			}
			if tc.in.vip.Is4() && !strings.Contains(text, "Time to Live: 255") {
				t.Errorf("adverts must go out with TTL 255:\n%s", text)
			}
		})
	}
}

// TestStatsDumpHasKeepalivedsLayout sends SIGUSR2 to keepalived-go and to
// keepalived in the same group: both write keepalived.stats with the same
// lines (the numbers differ), so exporters that parse it keep working.
func TestStatsDumpHasKeepalivedsLayout(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "kg", "ka")
	kg, ka := l.Host("kg"), l.Host("ka")
	in := instance{version: 2, advertInt: "1", vip: vip4, priority: 150}
	pkg := startKG(t, kg, in)
	in.priority = 100
	pka := startKA(t, ka, in)
	waitHolder(t, 8*time.Second, vip4, kg, kg, ka)
	layout := func(h *lab.Host, p *lab.Proc) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return -1
			}
			return r
		}, readStats(t, h, p))
	}
	got, want := layout(kg, pkg), layout(ka, pka)
	if got != want {
		t.Fatalf("keepalived-go's stats layout:\n%s\nkeepalived's:\n%s", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(kg.TmpDir(), "keepalived.stats")); !strings.Contains(string(b), "Became master: 1") {
		t.Errorf("the master's stats do not count its election:\n%s", b)
	}
}

// readStats has keepalived or keepalived-go in h write keepalived.stats
// (SIGUSR2) and returns it.
func readStats(t *testing.T, h *lab.Host, p *lab.Proc) string {
	t.Helper()
	file := filepath.Join(h.TmpDir(), "keepalived.stats")
	os.Remove(file)
	p.Signal(syscall.SIGUSR2)
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, err := os.ReadFile(file)
		if err == nil && len(b) > 0 && strings.HasSuffix(string(b), "\n") {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s wrote no keepalived.stats after SIGUSR2", p.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMasterFaultResignsToKeepalivedWithPriorityZero: keepalived-go is
// master over keepalived; its weight-0 tracked script fails, so it goes
// to FAULT and resigns with a priority-0 advert. keepalived counts it and
// takes over after Skew_Time (0.61 s at priority 100) instead of the
// Master_Down_Interval (3.61 s).
func TestMasterFaultResignsToKeepalivedWithPriorityZero(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "kg", "ka")
	kg, ka := l.Host("kg"), l.Host("ka")
	flag, err := l.WriteFile("healthy", "ok")
	if err != nil {
		t.Fatal(err)
	}
	in := instance{version: 2, advertInt: "1", vip: vip4, priority: 150}
	conf := strings.Replace(in.conf(), "vrrp_instance VI_1 {\n", fmt.Sprintf(`vrrp_script chk_file {
    script "/usr/bin/test -e %s"
    interval 1
}
vrrp_instance VI_1 {
    track_script {
        chk_file
    }
`, flag), 1)
	conf = strings.Replace(conf, "global_defs {\n", "global_defs {\n    enable_script_security\n    script_user root\n", 1)
	pkg := startKGConf(t, kg, conf)
	in.priority = 100
	pka := startKA(t, ka, in)
	waitHolder(t, 8*time.Second, vip4, kg, kg, ka)
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	waitLog(t, 5*time.Second, pkg, "Entering FAULT STATE")
	if took := waitHolder(t, 5*time.Second, vip4, ka, kg, ka); took > 2*time.Second {
		t.Errorf("keepalived took over %v after the FAULT; with a priority-0 advert it waits only Skew_Time (0.61 s)", took)
	}
	if stats := readStats(t, ka, pka); !strings.Contains(stats, "Priority Zero:\n    Received: 1") {
		t.Errorf("keepalived did not count one priority-0 advert:\n%s", stats)
	}
}
