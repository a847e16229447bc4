package api

import (
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// TestKeepalivedDataLayout: keepalived.data starts with the global
// definitions and holds one block per instance in vrrp_data.c dump_vrrp's
// order, with a backup's master advert interval and a master's VIPs
// marked set.
func TestKeepalivedDataLayout(t *testing.T) {
	var b strings.Builder
	extra := func(name string) KeepalivedExtra {
		if name == "VI_1" {
			return KeepalivedExtra{TrackScriptWeights: []string{"chk weight 10"}, SyncGroup: "G1"}
		}
		return KeepalivedExtra{}
	}
	now := time.Unix(1796495501, 19714000)
	if err := WriteKeepalivedData(&b, sourceOf(fixture(t)), extra, nil, DataGlobals{RouterID: "lb1"}, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"------< Global definitions >------\n Network namespace = (default)\n Network namespace ipvs = (main namespace)\n Router ID = lb1\n------< VRRP Topology >------\n VRRP Instance = VI_1\n   VRRP Version = 3\n   Sync group = G1\n   State = MASTER\n   Flags: none\n   Wantstate = MASTER\n",
		"   Master down timer = 3003906 usecs\n   Interface = eth0\n",
		"   Virtual Router ID = 51\n   Priority = 255\n   Effective priority = 255\n   Total priority = 255\n   Advert interval = 1000 milli-sec\n   Accept = enabled\n   Preempt = enabled\n   Promote_secondaries = disabled\n" +
			"   Virtual IP (1):\n     192.0.2.100 dev eth0 scope global set\n   Virtual IP Excluded :\n     192.0.2.101 dev eth0 scope global set\n   Tracked scripts :\n     chk weight 10\n   Using smtp notification = no\n",
		" VRRP Instance = VI_2\n   VRRP Version = 3\n   State = BACKUP\n",
		"   Read timeout = 1796495504.629089 (",
		"   Gratuitous ARP delay = 5\n   Gratuitous ARP repeat = 5\n   Gratuitous ARP refresh = 0\n   Gratuitous ARP refresh repeat = 1\n",
		"   Advert interval = 1000 milli-sec\n   Master advert interval = 1000 milli-sec\n",
		"   Virtual IP (1):\n     192.0.2.200/24 dev eth1 scope global\n   Using smtp notification = no\n   Notify deleted = Fault\n   Notify priority changes = false\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no\n%s\nin\n%s", want, out)
		}
	}
	if strings.Contains(out, "Authentication type") {
		t.Errorf("VRRPv3 instances print no authentication:\n%s", out)
	}
}

// TestKeepalivedDataTimeFormat: times are printed as keepalived's
// "%ld.%6.6ld (%s)" with ctime_us_r.
func TestKeepalivedDataTimeFormat(t *testing.T) {
	got := timeval(time.Date(2026, 12, 5, 18, 31, 41, 19714000, time.UTC))
	if want := "1796495501.019714 (Sat Dec  5 18:31:41.019714 2026)"; got != want {
		t.Errorf("timeval = %q, want keepalived's %q", got, want)
	}
}

// TestKeepalivedCheckDataLayout: keepalived_check.data has the LVS
// topology with check_data.c dump_vs and dump_rs's lines for what the
// pools show.
func TestKeepalivedCheckDataLayout(t *testing.T) {
	pools := []lvs.PoolStatus{
		{Name: "[10.0.0.1]:tcp:80", QuorumUp: true, Servers: []lvs.ServerStatus{
			{Name: "[10.0.0.2]:tcp:80", Alive: true, Weight: 3},
			{Name: "[10.0.0.3]:tcp:8080", Alive: false, Weight: 0, FailedCheckers: 1, KeepalivedPort: "80"},
		}},
		{Name: "FWM 7", QuorumUp: false},
		{Name: "[2001:db8::1]:udp:53"},
	}
	var b strings.Builder
	if err := WriteKeepalivedCheckData(&b, pools, DataGlobals{RouterID: "lb1"}); err != nil {
		t.Fatal(err)
	}
	want := `------< Global definitions >------
 Network namespace = (default)
 Network namespace ipvs = (main namespace)
 Router ID = lb1
------< LVS Topology >------
 System is compiled with LVS v1.2.1
 ------< Virtual server >------
 VS VIP = 10.0.0.1, VPORT = 80
   Address family = inet
   protocol = TCP
   alive = 1
   quorum_state_up = 1
   ------< Real server >------
   RIP = 10.0.0.2, RPORT = 80, WEIGHT = 3 EFF WEIGHT = 3
   initial weight = 3
   effective weight = 3
   alive = 1
   num failed checkers = 0
   ------< Real server >------
   RIP = 10.0.0.3, RPORT = 80, WEIGHT = 0 EFF WEIGHT = 0
   initial weight = 0
   effective weight = 0
   alive = 0
   num failed checkers = 1
 ------< Virtual server >------
 VS FWMARK = 7
   alive = 1
   quorum_state_up = 0
 ------< Virtual server >------
 VS VIP = 2001:db8::1, VPORT = 53
   Address family = inet6
   protocol = UDP
   alive = 1
   quorum_state_up = 0
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
