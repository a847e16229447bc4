package api

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// LVSSource is what a Source also implements when it programs the
// kernel's virtual services with a backend that counts: their counters,
// read from the kernel at each call.
type LVSSource interface {
	LVSStats(ctx context.Context) (st []lvs.ServiceStats, ok bool, err error)
}

// lvsStatsTimeout bounds one read of the kernel's counters.
const lvsStatsTimeout = 5 * time.Second

// lvsStats reads src's counters; ok is false when it has none.
func lvsStats(src Source) ([]lvs.ServiceStats, bool, error) {
	ls, ok := src.(LVSSource)
	if !ok {
		return nil, false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), lvsStatsTimeout)
	defer cancel()
	return ls.LVSStats(ctx)
}

// The counters' metrics. Their names and their addr and proto labels are
// gen2brain/keepalived_exporter's (collector/collector.go), the exporter
// that has LVS counters, so that its dashboards keep working: addr is
// the virtual service's or the real server's address and port (for a
// fwmark service "FWM n", keepalived's name for it), proto the protocol
// number (0 for a fwmark service). We add virtual_server (the virtual
// server's name, as keepalived_lvs_real_server_up has it) and, for the
// real servers, vip (the addr of their service): that exporter's real
// server series collide when a real server is in two services. The
// active and inactive connections, which that exporter has not, have
// node_exporter's IPVS collector names and labels
// (node_ipvs_backend_connections_active and _inactive), IPVS only.
var (
	vipLabelsLVS = []string{"addr", "proto", "virtual_server"}
	rsLabelsLVS  = []string{"addr", "proto", "vip", "virtual_server"}

	lvsVIPDescs = lvsCounterDescs("vip", "VIP", vipLabelsLVS)
	lvsRSDescs  = lvsCounterDescs("rs", "RS", rsLabelsLVS)

	nodeIPVSLabels         = []string{"local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"}
	nodeIPVSActiveDesc     = prometheus.NewDesc("node_ipvs_backend_connections_active", "The current active connections by local and remote address.", nodeIPVSLabels, nil)
	nodeIPVSInactiveDesc   = prometheus.NewDesc("node_ipvs_backend_connections_inactive", "The current inactive connections by local and remote address.", nodeIPVSLabels, nil)
	lvsStatsUpDesc         = prometheus.NewDesc("keepalived_lvs_stats_up", "1 if the kernel's LVS counters could be read at this scrape, else 0.", nil, nil)
	lvsCounterNames        = []string{"in_packets", "out_packets", "in_bytes", "out_bytes", "conn"}
	lvsCounterHelpSuffixes = []string{"in packets", "out packets", "in bytes", "out bytes", "connections"}
)

func lvsCounterDescs(kind, help string, labels []string) []*prometheus.Desc {
	out := make([]*prometheus.Desc, len(lvsCounterNames))
	for i, n := range lvsCounterNames {
		out[i] = prometheus.NewDesc("keepalived_lvs_"+kind+"_"+n, help+" "+lvsCounterHelpSuffixes[i], labels, nil)
	}
	return out
}

func lvsDescs() []*prometheus.Desc {
	out := append(append([]*prometheus.Desc(nil), lvsVIPDescs...), lvsRSDescs...)
	return append(out, nodeIPVSActiveDesc, nodeIPVSInactiveDesc, lvsStatsUpDesc)
}

// counterValues are c's counts in lvsCounterNames' order.
func counterValues(c lvs.Counters) []uint64 {
	return []uint64{c.InPackets, c.OutPackets, c.InBytes, c.OutBytes, c.Connections}
}

// lvsAddr is the exporter's addr of a service.
func lvsAddr(k lvs.ServiceKey) string {
	if k.Fwmark != 0 {
		return fmt.Sprintf("FWM %d", k.Fwmark)
	}
	return k.Addr.Addr().String() + ":" + strconv.Itoa(int(k.Addr.Port()))
}

// lvsProto is the protocol number, as the exporter labels it.
func lvsProto(k lvs.ServiceKey) string {
	switch k.Proto {
	case "tcp":
		return "6"
	case "udp":
		return "17"
	case "sctp":
		return "132"
	}
	return "0"
}

// collectLVS sends the counters of src's virtual services, read now.
func collectLVS(ch chan<- prometheus.Metric, src Source) {
	st, ok, err := lvsStats(src)
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(lvsStatsUpDesc, prometheus.GaugeValue, boolValue(err == nil))
	for _, s := range st {
		addr, proto := lvsAddr(s.ServiceKey), lvsProto(s.ServiceKey)
		for i, v := range counterValues(s.Counters) {
			ch <- prometheus.MustNewConstMetric(lvsVIPDescs[i], prometheus.CounterValue, float64(v), addr, proto, s.Name)
		}
		for _, d := range s.Dests {
			rs := d.Addr.Addr().String() + ":" + strconv.Itoa(int(d.Addr.Port()))
			for i, v := range counterValues(d.Counters) {
				ch <- prometheus.MustNewConstMetric(lvsRSDescs[i], prometheus.CounterValue, float64(v), rs, proto, addr, s.Name)
			}
			if d.Active != nil && d.Inactive != nil {
				labels := nodeIPVSBackendLabels(s.ServiceKey, d.Addr)
				ch <- prometheus.MustNewConstMetric(nodeIPVSActiveDesc, prometheus.GaugeValue, float64(*d.Active), labels...)
				ch <- prometheus.MustNewConstMetric(nodeIPVSInactiveDesc, prometheus.GaugeValue, float64(*d.Inactive), labels...)
			}
		}
	}
}

// nodeIPVSBackendLabels are node_exporter's labels of a backend (its
// ipvs collector, from /proc/net/ip_vs): the service's address and port
// (empty for a fwmark service), the real server's, the protocol as
// /proc/net/ip_vs prints it (TCP, UDP, SCTP, FWM) and the mark (empty for
// an address service).
func nodeIPVSBackendLabels(k lvs.ServiceKey, rs netip.AddrPort) []string {
	if k.Fwmark != 0 {
		return []string{"", "", rs.Addr().String(), strconv.Itoa(int(rs.Port())), "FWM", strconv.FormatUint(uint64(k.Fwmark), 10)}
	}
	return []string{k.Addr.Addr().String(), strconv.Itoa(int(k.Addr.Port())), rs.Addr().String(), strconv.Itoa(int(rs.Port())),
		strings.ToUpper(k.Proto), ""}
}

// LVSServiceJSON is one kernel virtual service in /status/lvs.
type LVSServiceJSON struct {
	// VirtualServer is its virtual server's name, as in
	// /status/virtual_servers.
	VirtualServer string `json:"virtual_server"`
	// Service is the service as keepalived's logs print it:
	// "[10.0.0.1]:tcp:80" or "FWM 5".
	Service  string       `json:"service"`
	Protocol string       `json:"protocol,omitempty"`
	Address  string       `json:"address,omitempty"` // address:port
	Fwmark   uint32       `json:"fwmark,omitempty"`
	Stats    lvs.Counters `json:"stats"`
	// Rates are IPVS's per-second estimates; absent with nftables.
	Rates       *lvs.Rates          `json:"rates,omitempty"`
	RealServers []LVSRealServerJSON `json:"real_servers"`
}

// LVSRealServerJSON is one real server of a service in /status/lvs.
type LVSRealServerJSON struct {
	Address string       `json:"address"` // address:port
	Stats   lvs.Counters `json:"stats"`
	Rates   *lvs.Rates   `json:"rates,omitempty"`
	// ActiveConnections and InactiveConnections are IPVS's ActiveConn
	// and InActConn; absent with nftables.
	ActiveConnections   *uint32 `json:"active_connections,omitempty"`
	InactiveConnections *uint32 `json:"inactive_connections,omitempty"`
}

// lvsJSON is the /status/lvs document: never nil.
func lvsJSON(st []lvs.ServiceStats) []LVSServiceJSON {
	out := make([]LVSServiceJSON, 0, len(st))
	for _, s := range st {
		j := LVSServiceJSON{VirtualServer: s.Name, Service: s.ServiceKey.String(), Fwmark: s.Fwmark,
			Stats: s.Counters, Rates: s.Rates, RealServers: make([]LVSRealServerJSON, 0, len(s.Dests))}
		if s.Fwmark == 0 {
			j.Protocol, j.Address = s.Proto, s.Addr.String()
		}
		for _, d := range s.Dests {
			j.RealServers = append(j.RealServers, LVSRealServerJSON{Address: d.Addr.String(), Stats: d.Counters,
				Rates: d.Rates, ActiveConnections: d.Active, InactiveConnections: d.Inactive})
		}
		out = append(out, j)
	}
	return out
}
