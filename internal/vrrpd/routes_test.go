package vrrpd

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// routesOf parses a virtual_routes/virtual_rules block as the daemon gets it.
func routesOf(t *testing.T, block string) ([]config.Route, []config.Rule) {
	t.Helper()
	cfg, _ := config.LoadBytes("t.conf", []byte("vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n virtual_ipaddress {\n 198.51.100.1\n }\n"+block+"}\n"),
		config.Options{ConfigID: "t", InterfaceExists: func(string) bool { return true }, UserExists: func(string) bool { return true }})
	return cfg.Instances[0].VirtualRoutes, cfg.Instances[0].VirtualRules
}

func TestKernelRoutesFromKeepalivedSyntax(t *testing.T) {
	routes, _ := routesOf(t, ` virtual_routes {
  src 198.51.100.1 203.0.113.0/24 via 198.51.100.254 dev eth1
  blackhole 203.0.113.99/32
  default via 198.51.100.254 table 100 metric 7
  2001:db8:9::/48 dev eth2 table main
 }
`)
	want := []kernel.Route{
		{Dst: netip.MustParsePrefix("203.0.113.0/24"), Via: netip.MustParseAddr("198.51.100.254"), Dev: "eth1", Src: netip.MustParseAddr("198.51.100.1")},
		{Dst: netip.MustParsePrefix("203.0.113.99/32"), Type: unix.RTN_BLACKHOLE},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("198.51.100.254"), Table: 100, Metric: 7},
		{Dst: netip.MustParsePrefix("2001:db8:9::/48"), Dev: "eth2", Table: unix.RT_TABLE_MAIN},
	}
	if len(routes) != len(want) {
		t.Fatalf("parsed %d routes, want %d", len(routes), len(want))
	}
	for i, r := range routes {
		got, err := kernelRoute(r)
		if err != nil || got != want[i] {
			t.Errorf("route %q: got %+v (%v), want %+v", r.Words, got, err, want[i])
		}
	}
}

func TestKernelRulesFromKeepalivedSyntax(t *testing.T) {
	_, rules := routesOf(t, ` virtual_rules {
  from 198.51.100.0/24 table 100 priority 50
  to 2001:db8::/32 lookup 200 pref 60
 }
`)
	want := []kernel.Rule{
		{Family: 4, From: netip.MustParsePrefix("198.51.100.0/24"), Table: 100, Priority: 50},
		{Family: 6, To: netip.MustParsePrefix("2001:db8::/32"), Table: 200, Priority: 60},
	}
	for i, r := range rules {
		got, err := kernelRule(r)
		if err != nil || got != want[i] {
			t.Errorf("rule %q: got %+v (%v), want %+v", r.Words, got, err, want[i])
		}
	}
}

func TestUnknownRoutingTableNameIsAnError(t *testing.T) {
	if _, err := tableNumber("customers"); err == nil {
		t.Fatal("a table name from rt_tables is not supported yet and must be reported")
	}
}
