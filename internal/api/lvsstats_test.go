package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// withLVS is a source whose backend counts: an IPVS-like one (rates,
// active connections) with an address and a fwmark service, one real
// server in both.
type withLVS struct {
	withPools
	err error
}

func u32(n uint32) *uint32 { return &n }

func (w withLVS) LVSStats(context.Context) ([]lvs.ServiceStats, bool, error) {
	if w.err != nil {
		return nil, true, w.err
	}
	rs := netip.MustParseAddrPort("10.0.0.2:80")
	return []lvs.ServiceStats{
		{ServiceKey: lvs.AddrKey("tcp", netip.MustParseAddrPort("10.0.0.1:80")), Name: "[10.0.0.1]:tcp:80",
			Counters: lvs.Counters{Connections: 7, InPackets: 70, OutPackets: 60, InBytes: 7000, OutBytes: 60000},
			Rates:    &lvs.Rates{Connections: 1, InPackets: 10, OutPackets: 9, InBytes: 1000, OutBytes: 9000},
			Dests: []lvs.DestStats{
				{Addr: rs, Counters: lvs.Counters{Connections: 4, InPackets: 40, OutPackets: 35, InBytes: 4000, OutBytes: 35000},
					Active: u32(2), Inactive: u32(1)},
				{Addr: netip.MustParseAddrPort("10.0.0.3:8080"), Counters: lvs.Counters{Connections: 3, InPackets: 30, OutPackets: 25, InBytes: 3000, OutBytes: 25000},
					Active: u32(0), Inactive: u32(3)},
			}},
		{ServiceKey: lvs.FwmarkKey(4, 5), Name: "FWM 5",
			Counters: lvs.Counters{Connections: 1, InPackets: 3, OutPackets: 2, InBytes: 180, OutBytes: 120},
			Dests:    []lvs.DestStats{{Addr: rs, Counters: lvs.Counters{Connections: 1, InPackets: 3, OutPackets: 2, InBytes: 180, OutBytes: 120}}}},
	}, true, nil
}

// The counters have gen2brain/keepalived_exporter's names and its addr
// and proto labels, and a real server in two services makes two series.
func TestLVSMetricsHaveTheExportersNames(t *testing.T) {
	want := `# HELP keepalived_lvs_vip_conn VIP connections
# TYPE keepalived_lvs_vip_conn counter
keepalived_lvs_vip_conn{addr="10.0.0.1:80",proto="6",virtual_server="[10.0.0.1]:tcp:80"} 7
keepalived_lvs_vip_conn{addr="FWM 5",proto="0",virtual_server="FWM 5"} 1
# HELP keepalived_lvs_vip_in_bytes VIP in bytes
# TYPE keepalived_lvs_vip_in_bytes counter
keepalived_lvs_vip_in_bytes{addr="10.0.0.1:80",proto="6",virtual_server="[10.0.0.1]:tcp:80"} 7000
keepalived_lvs_vip_in_bytes{addr="FWM 5",proto="0",virtual_server="FWM 5"} 180
# HELP keepalived_lvs_rs_out_packets RS out packets
# TYPE keepalived_lvs_rs_out_packets counter
keepalived_lvs_rs_out_packets{addr="10.0.0.2:80",proto="0",vip="FWM 5",virtual_server="FWM 5"} 2
keepalived_lvs_rs_out_packets{addr="10.0.0.2:80",proto="6",vip="10.0.0.1:80",virtual_server="[10.0.0.1]:tcp:80"} 35
keepalived_lvs_rs_out_packets{addr="10.0.0.3:8080",proto="6",vip="10.0.0.1:80",virtual_server="[10.0.0.1]:tcp:80"} 25
# HELP keepalived_lvs_rs_conn RS connections
# TYPE keepalived_lvs_rs_conn counter
keepalived_lvs_rs_conn{addr="10.0.0.2:80",proto="0",vip="FWM 5",virtual_server="FWM 5"} 1
keepalived_lvs_rs_conn{addr="10.0.0.2:80",proto="6",vip="10.0.0.1:80",virtual_server="[10.0.0.1]:tcp:80"} 4
keepalived_lvs_rs_conn{addr="10.0.0.3:8080",proto="6",vip="10.0.0.1:80",virtual_server="[10.0.0.1]:tcp:80"} 3
# HELP node_ipvs_backend_connections_active The current active connections by local and remote address.
# TYPE node_ipvs_backend_connections_active gauge
node_ipvs_backend_connections_active{local_address="10.0.0.1",local_mark="",local_port="80",proto="TCP",remote_address="10.0.0.2",remote_port="80"} 2
node_ipvs_backend_connections_active{local_address="10.0.0.1",local_mark="",local_port="80",proto="TCP",remote_address="10.0.0.3",remote_port="8080"} 0
# HELP keepalived_lvs_stats_up 1 if the kernel's LVS counters could be read at this scrape, else 0.
# TYPE keepalived_lvs_stats_up gauge
keepalived_lvs_stats_up 1
`
	c := NewCollector(withLVS{})
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "keepalived_lvs_vip_conn", "keepalived_lvs_vip_in_bytes",
		"keepalived_lvs_rs_out_packets", "keepalived_lvs_rs_conn", "node_ipvs_backend_connections_active", "keepalived_lvs_stats_up"); err != nil {
		t.Error(err)
	}
	// Every counter of the exporter is there, for each service and
	// real server.
	for _, name := range []string{"in_packets", "out_packets", "in_bytes", "out_bytes", "conn"} {
		if n := testutil.CollectAndCount(c, "keepalived_lvs_vip_"+name); n != 2 {
			t.Errorf("keepalived_lvs_vip_%s: %d series, want 2", name, n)
		}
		if n := testutil.CollectAndCount(c, "keepalived_lvs_rs_"+name); n != 3 {
			t.Errorf("keepalived_lvs_rs_%s: %d series, want 3", name, n)
		}
	}
	if n := testutil.CollectAndCount(c, "node_ipvs_backend_connections_inactive"); n != 2 {
		t.Errorf("node_ipvs_backend_connections_inactive: %d series, want 2 (none without IPVS's counts)", n)
	}
}

// A failed read says so in keepalived_lvs_stats_up and /status/lvs;
// without a counting backend there is neither.
func TestLVSMetricsWhenTheKernelCannotBeRead(t *testing.T) {
	c := NewCollector(withLVS{err: errors.New("netlink: EPERM")})
	if err := testutil.CollectAndCompare(c, strings.NewReader(`# HELP keepalived_lvs_stats_up 1 if the kernel's LVS counters could be read at this scrape, else 0.
# TYPE keepalived_lvs_stats_up gauge
keepalived_lvs_stats_up 0
`), "keepalived_lvs_stats_up"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "keepalived_lvs_vip_conn"); n != 0 {
		t.Errorf("%d keepalived_lvs_vip_conn series after a failed read, want 0", n)
	}
	if n := testutil.CollectAndCount(NewCollector(withPools{}), "keepalived_lvs_stats_up", "keepalived_lvs_vip_conn"); n != 0 {
		t.Errorf("%d LVS series without a counting backend, want 0", n)
	}

	srv := httptest.NewServer(NewHandler(withLVS{err: errors.New("netlink: EPERM")}))
	defer srv.Close()
	if code, _, body := get(t, srv, "/status/lvs"); code != http.StatusServiceUnavailable || !strings.Contains(body, "EPERM") {
		t.Errorf("/status/lvs after a failed read: %d %s", code, body)
	}
}

func TestStatusOfTheLVSCounters(t *testing.T) {
	srv := httptest.NewServer(NewHandler(withLVS{}))
	defer srv.Close()
	code, _, body := get(t, srv, "/status/lvs")
	var got []LVSServiceJSON
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK {
		t.Fatalf("%d %v in %s", code, err, body)
	}
	if len(got) != 2 || got[0].Service != "[10.0.0.1]:tcp:80" || got[0].Address != "10.0.0.1:80" || got[0].Protocol != "tcp" ||
		got[0].Stats.Connections != 7 || got[0].Rates == nil || got[0].Rates.InBytes != 1000 ||
		len(got[0].RealServers) != 2 || got[0].RealServers[1].Address != "10.0.0.3:8080" || got[0].RealServers[1].Stats.OutBytes != 25000 ||
		got[0].RealServers[1].InactiveConnections == nil || *got[0].RealServers[1].InactiveConnections != 3 {
		t.Errorf("address service: %+v", got)
	}
	if got[1].Service != "FWM 5" || got[1].Fwmark != 5 || got[1].Address != "" || got[1].Rates != nil ||
		len(got[1].RealServers) != 1 || got[1].RealServers[0].ActiveConnections != nil {
		t.Errorf("fwmark service (no rates, no connection counts, as nftables): %+v", got[1])
	}
	for _, key := range []string{`"virtual_server"`, `"in_packets"`, `"out_bytes"`, `"connections"`, `"real_servers"`} {
		if !strings.Contains(body, key) {
			t.Errorf("no %s in\n%s", key, body)
		}
	}

	empty := httptest.NewServer(NewHandler(withPools{}))
	defer empty.Close()
	if _, _, body := get(t, empty, "/status/lvs"); strings.TrimSpace(body) != "[]" {
		t.Fatalf("without a counting backend: %q, want []", body)
	}
}
