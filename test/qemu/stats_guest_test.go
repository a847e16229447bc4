//go:build ipvsguest

package qemu

// The LVS counters with IPVS, in the guest (see qemu_test.go): traffic
// through the VIP, then keepalived-go's /metrics and /status/lvs say what
// `ipvsadm -Ln --stats --exact` says.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const guestAPI = "127.0.0.1:9165"

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", url, resp.Status)
	}
	return string(b), err
}

// ipvsStats reads `ipvsadm -Ln --stats --exact` of our VIP: conns,
// inpkts, outpkts, inbytes, outbytes by "10.0.0.1:80" (the service) and
// by real server address:port.
func ipvsStats(t *testing.T) map[string][5]uint64 {
	t.Helper()
	out := map[string][5]uint64{}
	inVIP := false
	for _, l := range strings.Split(run(t, "ipvsadm", "-Ln", "--stats", "--exact"), "\n") {
		f := strings.Fields(l)
		var key string
		var nums []string
		switch {
		case len(f) == 7 && (f[0] == "TCP" || f[0] == "UDP"):
			inVIP = f[1] == vip+":80"
			key, nums = f[1], f[2:]
		case len(f) == 7 && f[0] == "->" && inVIP:
			key, nums = f[1], f[2:]
		default:
			continue
		}
		if !inVIP {
			continue
		}
		var v [5]uint64
		for i, n := range nums {
			x, err := strconv.ParseUint(n, 10, 64)
			if err != nil {
				t.Fatalf("ipvsadm --stats: %q: %v", l, err)
			}
			v[i] = x
		}
		out[key] = v
	}
	return out
}

// metricStats reads the same from /metrics (gen2brain's names).
func metricStats(t *testing.T, body string) map[string][5]uint64 {
	t.Helper()
	out := map[string][5]uint64{}
	names := []string{"conn", "in_packets", "out_packets", "in_bytes", "out_bytes"}
	for _, l := range strings.Split(body, "\n") {
		for i, n := range names {
			for _, kind := range []string{"vip", "rs"} {
				rest, ok := strings.CutPrefix(l, "keepalived_lvs_"+kind+"_"+n+"{addr=\"")
				if !ok {
					continue
				}
				addr := rest[:strings.Index(rest, "\"")]
				x, err := strconv.ParseFloat(l[strings.LastIndex(l, " ")+1:], 64)
				if err != nil {
					t.Fatalf("%q: %v", l, err)
				}
				v := out[addr]
				v[i] = uint64(x)
				out[addr] = v
			}
		}
	}
	return out
}

func TestGuestStatsMatchIpvsadm(t *testing.T) {
	if err := exec.Command("/sbin/ip", "netns", "exec", "client", "true").Run(); err != nil {
		network(t) // not made yet by TestGuestDirector
	}
	w1, w2 := &webServer{ns: "rs1"}, &webServer{ns: "rs2"}
	w1.start(t)
	w2.start(t)
	t.Cleanup(func() { exec.Command("ipvsadm", "-C").Run() })
	d := startDirector(t, directorConf, "--api-listen="+guestAPI)
	waitTable(t, "both real servers are in", has("TCP  10.0.0.1:80 wrr", "-> 10.2.0.2:80", "-> 10.3.0.2:80"))
	if got := fetchMany(6); got["rs1"] != 2 || got["rs2"] != 4 {
		t.Errorf("6 requests through the VIP (wrr 1:2): %v", got)
	}
	// The kernel sums its per-CPU counters into what it reports every 2
	// s (6.1's estimation_timer, ip_vs_est.c): until then ipvsadm and
	// the metrics agree on 0.
	time.Sleep(2500 * time.Millisecond)
	// Read ipvsadm, the metrics, ipvsadm again: equal once no packet
	// of the requests is left on its way.
	var kernel, metrics map[string][5]uint64
	deadline := time.Now().Add(15 * time.Second)
	for {
		before := ipvsStats(t)
		body, err := httpGet("http://" + guestAPI + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics = metricStats(t, body)
		kernel = ipvsStats(t)
		if fmt.Sprint(before) == fmt.Sprint(kernel) && fmt.Sprint(kernel) == fmt.Sprint(metrics) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics says\n%v\nipvsadm --stats says\n%v\n%s", metrics, kernel, run(t, "ipvsadm", "-Ln", "--stats", "--exact"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("ipvsadm -Ln --stats --exact:\n%s", run(t, "ipvsadm", "-Ln", "--stats", "--exact"))
	// The counts are IPVS's: not exactly the requests, since a request
	// whose client port an entry of the director test still holds
	// (TIME_WAIT) reuses that entry uncounted, and a destination that
	// test left in IPVS's trash comes back with its counters.
	for _, addr := range []string{vip + ":80", rs1 + ":80", rs2 + ":80"} {
		if v := metrics[addr]; v[0] == 0 || v[1] < 3*v[0] || v[2] < 3*v[0] || v[3] == 0 || v[4] == 0 {
			t.Errorf("%s: conns, in and out packets, in and out bytes %v; want connections and their packets", addr, v)
		}
	}
	if s, a, b := metrics[vip+":80"], metrics[rs1+":80"], metrics[rs2+":80"]; s[0] != a[0]+b[0] || s[3] != a[3]+b[3] {
		t.Errorf("the service's counts %v are not its real servers' sums %v + %v", s, a, b)
	}
	// /status/lvs has the same counters, IPVS's rates and its
	// connection counts.
	body, err := httpGet("http://" + guestAPI + "/status/lvs")
	if err != nil {
		t.Fatal(err)
	}
	var st []struct {
		Address string `json:"address"`
		Stats   struct {
			Connections uint64 `json:"connections"`
		} `json:"stats"`
		Rates       map[string]uint64 `json:"rates"`
		RealServers []struct {
			Address  string  `json:"address"`
			Inactive *uint32 `json:"inactive_connections"`
		} `json:"real_servers"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if len(st) != 1 || st[0].Address != vip+":80" || st[0].Stats.Connections != metrics[vip+":80"][0] || st[0].Rates == nil ||
		len(st[0].RealServers) != 2 || st[0].RealServers[0].Inactive == nil {
		t.Errorf("/status/lvs:\n%s", body)
	}
	d.stop(t)
}
