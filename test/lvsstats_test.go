package test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/api"
	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// metricValue is the value of the series of metric name whose labels
// are exactly labels (as the exposition prints them, sorted), or -1.
func metricValue(body, name, labels string) float64 {
	prefix := name + "{" + labels + "} "
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return -1
}

// lvsStatus reads /status/lvs into a map by service, then real server.
func lvsStatus(t *testing.T, c interface{ Get(string) (string, error) }, url string) map[string]map[string]api.LVSRealServerJSON {
	t.Helper()
	body, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	var st []api.LVSServiceJSON
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("%v in\n%s", err, body)
	}
	out := map[string]map[string]api.LVSRealServerJSON{}
	for _, s := range st {
		out[s.Address] = map[string]api.LVSRealServerJSON{}
		for _, rs := range s.RealServers {
			out[s.Address][rs.Address] = rs
		}
	}
	return out
}

type nsGetter struct {
	t  *testing.T
	ns string
}

func (g nsGetter) Get(url string) (string, error) { return httpGet(nsClient(g.t, g.ns), url) }

// TestLVSNftablesCountsTheTraffic: with the nftables data plane, the
// client's TCP connections through each VIP show in /status/lvs and in
// /metrics (keepalived_lvs_rs_conn and the others, gen2brain's names) as
// the connections, packets and bytes of the real server that answered:
// as many connections as the requests it answered, growing with each
// new batch; the health checks, which go to the real servers directly,
// are not counted.
func TestLVSNftablesCountsTheTraffic(t *testing.T) {
	l, director, web1, web2, client := lvsLab(t)
	newWebServer(t, web1)
	newWebServer(t, web2)
	path, err := l.WriteFile("director-stats.conf", lvsConf(web1, web2))
	if err != nil {
		t.Fatal(err)
	}
	p, err := director.Start(binary, append(append([]string{"-n", "-l", "-D", "--lvs-backend=nftables", "-f", path},
		director.PidArgs("stats")...), "--api-listen="+apiAddr)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(); dumpLogOnFailure(t, director, p) })
	w1v4, w1v6, w2v4, w2v6 := web1.IPv4.String(), web1.IPv6.String(), web2.IPv4.String(), web2.IPv6.String()
	waitTable(t, 10*time.Second, director, "the table holds both servers of both services", shows(w1v4, w2v4, w1v6, w2v6))

	get := nsGetter{t, director.NS}
	base := "http://" + apiAddr
	vip4, vip6 := netip.AddrPortFrom(lvsVIP4, 80).String(), netip.AddrPortFrom(lvsVIP6, 80).String()
	rs := func(h *lab.Host, v6 bool) string {
		if v6 {
			return netip.AddrPortFrom(h.IPv6, 80).String()
		}
		return netip.AddrPortFrom(h.IPv4, 80).String()
	}

	// The counters of the services' real servers, before any traffic:
	// zero (the health checks go to the real servers, not the VIP).
	st := lvsStatus(t, get, base+"/status/lvs")
	for _, vip := range []string{vip4, vip6} {
		for _, h := range []*lab.Host{web1, web2} {
			if got := st[vip][rs(h, vip == vip6)].Stats; got.Connections != 0 || got.InPackets != 0 || got.OutBytes != 0 {
				t.Errorf("%s %s before any request: %+v, want nothing counted", vip, h.Name, got)
			}
		}
	}

	for round, n := range []int{10, 6} {
		for _, vip := range []netip.Addr{lvsVIP4, lvsVIP6} {
			want := map[string]int{"web1": n / 2, "web2": n / 2}
			if got := askMany(client, vip, n); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("client to %s: %v, want %v", vip, got, want)
			}
		}
		// Each real server had n/2 connections more per service.
		conns := uint64(0)
		for _, r := range []int{10, 6}[:round+1] {
			conns += uint64(r / 2)
		}
		st := lvsStatus(t, get, base+"/status/lvs")
		metrics, err := get.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		for _, vip := range []string{vip4, vip6} {
			total := uint64(0)
			for _, h := range []*lab.Host{web1, web2} {
				addr := rs(h, vip == vip6)
				got := st[vip][addr]
				c := got.Stats
				// Per connection at least SYN, ACK and FIN in; SYN-ACK,
				// the name and FIN out; each with IP and TCP headers
				// (40 bytes over IPv4, 60 over IPv6).
				hdr := uint64(40)
				if vip == vip6 {
					hdr = 60
				}
				if c.Connections != conns || c.InPackets < 3*conns || c.OutPackets < 3*conns ||
					c.InBytes < conns*3*hdr || c.OutBytes < conns*(3*hdr+uint64(len(h.Name)+1)) {
					t.Errorf("round %d: %s %s: %+v, want %d connections and their packets and bytes", round, vip, h.Name, c, conns)
				}
				total += c.Connections
				// The exporter's addr is address:port, IPv6 without
				// brackets; virtual_server keepalived's name.
				va := netip.MustParseAddrPort(vip).Addr()
				labels := fmt.Sprintf(`addr="%s:80",proto="6",vip="%s:80",virtual_server="[%s]:tcp:80"`,
					netip.MustParseAddrPort(addr).Addr(), va, va)
				if v := metricValue(metrics, "keepalived_lvs_rs_conn", labels); v != float64(c.Connections) {
					t.Errorf("keepalived_lvs_rs_conn{%s} = %v, want %d (as /status/lvs)\n%s", labels, v, c.Connections, grepLines(metrics, "keepalived_lvs_rs_conn"))
				}
				if v := metricValue(metrics, "keepalived_lvs_rs_out_bytes", labels); v != float64(c.OutBytes) {
					t.Errorf("keepalived_lvs_rs_out_bytes{%s} = %v, want %d", labels, v, c.OutBytes)
				}
			}
			if total != 2*conns {
				t.Errorf("%s: %d connections in all, want %d", vip, total, 2*conns)
			}
		}
	}
	p.Signal(syscall.SIGTERM)
	if err := p.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func grepLines(body, substr string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
