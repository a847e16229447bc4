package api

import (
	"net/netip"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keepalived-go/keepalived-go/internal/latency"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/notify"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// instanceLabels are mehdy/keepalived-exporter's labels of its counters:
// the instance name, its interface (keepalived's ifp_ifname) and VRID.
var instanceLabels = []string{"iname", "intf", "vrid"}

// vipLabels are its labels of keepalived_vrrp_state, one series per VIP:
// intf is the VIP's device and ip_address the address as keepalived
// prints it (the prefix length only when it is not a host address).
var vipLabels = []string{"iname", "intf", "vrid", "ip_address"}

// counter is one per-instance counter and where its value comes from.
type counter struct {
	desc  *prometheus.Desc
	value func(*vrrp.InstanceStatus) float64
}

func newCounter(name, help string, value func(*vrrp.InstanceStatus) float64) counter {
	return counter{prometheus.NewDesc(name, help, instanceLabels, nil), value}
}

// stat reads one uint64 counter of the snapshot.
func stat(f func(*vrrp.StatsSnapshot) uint64) func(*vrrp.InstanceStatus) float64 {
	return func(st *vrrp.InstanceStatus) float64 { return float64(f(&st.Stats)) }
}

// dropped reads the drop counter of one reason.
func dropped(r vrrp.DropReason) func(*vrrp.InstanceStatus) float64 {
	return stat(func(s *vrrp.StatsSnapshot) uint64 { return s.Dropped[r] })
}

// exporterCounters are mehdy/keepalived-exporter's counters, in its order,
// fed from keepalived's vrrp_stats equivalents.
var exporterCounters = []counter{
	newCounter("keepalived_advertisements_received_total", "Advertisements received",
		stat(func(s *vrrp.StatsSnapshot) uint64 { return s.AdvertRcvd })),
	newCounter("keepalived_advertisements_sent_total", "Advertisements sent",
		stat(func(s *vrrp.StatsSnapshot) uint64 { return s.AdvertSent })),
	newCounter("keepalived_become_master_total", "Became master",
		stat(func(s *vrrp.StatsSnapshot) uint64 { return s.BecomeMaster })),
	newCounter("keepalived_release_master_total", "Released master",
		stat(func(s *vrrp.StatsSnapshot) uint64 { return s.ReleaseMaster })),
	newCounter("keepalived_packet_length_errors_total", "Packet length errors", dropped(vrrp.DropPacketLen)),
	newCounter("keepalived_advertisements_interval_errors_total", "Advertisement interval errors", dropped(vrrp.DropAdvertInterval)),
	newCounter("keepalived_ip_ttl_errors_total", "TTL errors", dropped(vrrp.DropTTL)),
	newCounter("keepalived_invalid_type_received_total", "Invalid type errors", dropped(vrrp.DropInvalidType)),
	// Adverts with another address list are counted and accepted, as
	// keepalived ≥ 2.3.3 does: the count is AddrListErr, not a drop.
	newCounter("keepalived_address_list_errors_total", "Address list errors",
		stat(func(s *vrrp.StatsSnapshot) uint64 { return s.AddrListErr })),
	newCounter("keepalived_authentication_invalid_total", "Authentication invalid", dropped(vrrp.DropInvalidAuthType)),
	newCounter("keepalived_authentication_mismatch_total", "Authentication mismatch", dropped(vrrp.DropAuthTypeMismatch)),
	newCounter("keepalived_authentication_failure_total", "Authentication failure", dropped(vrrp.DropAuthFailure)),
	newCounter("keepalived_priority_zero_received_total", "Priority zero received",
		stat(func(s *vrrp.StatsSnapshot) uint64 { return s.PriZeroRcvd })),
	newCounter("keepalived_priority_zero_sent_total", "Priority zero sent",
		stat(func(s *vrrp.StatsSnapshot) uint64 { return s.PriZeroSent })),
	// Not a count but keepalived's garp_delay in seconds, exported as a
	// counter by mehdy/keepalived-exporter; kept for its dashboards.
	newCounter("keepalived_gratuitous_arp_delay_total", "Gratuitous ARP delay",
		func(st *vrrp.InstanceStatus) float64 { return st.Announce.Delay.Seconds() }),
}

// ourCounters are keepalived-go's own per-instance counters.
var ourCounters = []counter{
	newCounter("keepalived_vrrp_transitions_total", "State changes of the VRRP instance, INIT to BACKUP at start included.",
		stat(func(s *vrrp.StatsSnapshot) uint64 { return s.Transitions })),
	newCounter("keepalived_vrrp_send_errors_total", "Adverts that could not be sent.",
		stat(func(s *vrrp.StatsSnapshot) uint64 { return s.SendErrors })),
}

var (
	upDesc = prometheus.NewDesc("keepalived_up", "Status", nil, nil)

	stateDesc = prometheus.NewDesc("keepalived_vrrp_state",
		"State of vrrp", vipLabels, nil)
	excludedStateDesc = prometheus.NewDesc("keepalived_vrrp_excluded_state",
		"State of vrrp with excluded VIP", vipLabels, nil)

	priorityDesc = prometheus.NewDesc("keepalived_vrrp_priority",
		"Effective priority of the VRRP instance: the configured priority plus tracking weights.", instanceLabels, nil)
	sinceDesc = prometheus.NewDesc("keepalived_vrrp_state_since_seconds",
		"Unix time of the instance's last state change (0 before its start).", instanceLabels, nil)
	latenessDesc = prometheus.NewDesc("keepalived_vrrp_timer_lateness_seconds",
		"How late the instance's VRRP timers fired: scheduling jitter, the first cause of false failovers.", instanceLabels, nil)
	droppedDesc = prometheus.NewDesc("keepalived_vrrp_dropped_total",
		"Received adverts dropped, by reason (keepalived's counter name where it has one).",
		append(append([]string(nil), instanceLabels...), "reason"), nil)

	rsUpDesc = prometheus.NewDesc("keepalived_lvs_real_server_up",
		"1 while the real server is alive (all its checkers up), else 0.", []string{"virtual_server", "real_server"}, nil)
	rsWeightDesc = prometheus.NewDesc("keepalived_lvs_real_server_weight",
		"The real server's effective weight (configured plus misc_dynamic and FILE_CHECK adjustments).",
		[]string{"virtual_server", "real_server"}, nil)
	rsChecksDesc = prometheus.NewDesc("keepalived_lvs_real_server_checks_total",
		"The probes of the real server's checkers since the daemon (or the reload that made the server) started.",
		[]string{"virtual_server", "real_server"}, nil)
	rsCheckFailuresDesc = prometheus.NewDesc("keepalived_lvs_real_server_check_failures_total",
		"The failed probes among them (retries included).", []string{"virtual_server", "real_server"}, nil)
	rsCheckSecondsDesc = prometheus.NewDesc("keepalived_lvs_real_server_check_duration_seconds_total",
		"The time the probes took; divided by checks_total, the mean duration of a check.",
		[]string{"virtual_server", "real_server"}, nil)
	checkLatenessDesc = prometheus.NewDesc("keepalived_check_lateness_seconds",
		"How late the health checks started after their time: their drift from delay_loop.", nil, nil)
	quorumUpDesc = prometheus.NewDesc("keepalived_lvs_quorum_up",
		"1 while the virtual server has its quorum, else 0.", []string{"virtual_server"}, nil)

	notifyLostDesc = prometheus.NewDesc("keepalived_notify_lost_total",
		"Notifications not delivered, by what was lost: event (its scripts did not run, the queue was full), "+
			"fifo_line (a FIFO line did not fit in its pipe), smtp_alert (an SMTP alert was dropped: the queue was full "+
			"or the daemon stopped), smtp_undelivered (the SMTP server could not be reached or refused the alert).",
		[]string{"what"}, nil)
	notifyOverrunDesc = prometheus.NewDesc("keepalived_notify_script_overruns_total",
		"Notify scripts still running when the queue stopped waiting for them (10 s) and went on.", nil, nil)
)

// Collector is a prometheus.Collector of the instances of a Source. It
// builds every metric from a fresh snapshot at each scrape.
type Collector struct {
	src Source
}

// NewCollector returns a collector of src's instances.
func NewCollector(src Source) *Collector { return &Collector{src: src} }

// Describe sends every descriptor the collector may emit.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{upDesc, stateDesc, excludedStateDesc, priorityDesc, sinceDesc, latenessDesc, droppedDesc,
		notifyLostDesc, notifyOverrunDesc, rsUpDesc, rsWeightDesc, rsChecksDesc, rsCheckFailuresDesc, rsCheckSecondsDesc, quorumUpDesc, checkLatenessDesc} {
		ch <- d
	}
	for _, cs := range [][]counter{exporterCounters, ourCounters} {
		for _, c := range cs {
			ch <- c.desc
		}
	}
	for _, d := range lvsDescs() {
		ch <- d
	}
}

// Collect sends the metrics of every instance. keepalived_up is always 1:
// the exporter is the daemon, so answering means it runs.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	for _, st := range statuses(c.src) {
		collectInstance(ch, &st)
	}
	for _, p := range pools(c.src) {
		collectPool(ch, &p)
	}
	collectLVS(ch, c.src)
	if ps, ok := c.src.(PoolSource); ok {
		if h, running := ps.CheckLateness(); running {
			ch <- histogram(checkLatenessDesc, h)
		}
	}
	lost := notify.Totals()
	ch <- prometheus.MustNewConstMetric(notifyLostDesc, prometheus.CounterValue, float64(lost.DroppedEvents), "event")
	ch <- prometheus.MustNewConstMetric(notifyLostDesc, prometheus.CounterValue, float64(lost.DroppedLines), "fifo_line")
	mail := notify.AlertTotals()
	ch <- prometheus.MustNewConstMetric(notifyLostDesc, prometheus.CounterValue, float64(mail.Dropped), "smtp_alert")
	ch <- prometheus.MustNewConstMetric(notifyLostDesc, prometheus.CounterValue, float64(mail.Failed), "smtp_undelivered")
	ch <- prometheus.MustNewConstMetric(notifyOverrunDesc, prometheus.CounterValue, float64(lost.OverrunScripts))
}

func collectPool(ch chan<- prometheus.Metric, p *lvs.PoolStatus) {
	ch <- prometheus.MustNewConstMetric(quorumUpDesc, prometheus.GaugeValue, boolValue(p.QuorumUp), p.Name)
	for _, s := range p.Servers {
		ch <- prometheus.MustNewConstMetric(rsUpDesc, prometheus.GaugeValue, boolValue(s.Alive), p.Name, s.Name)
		ch <- prometheus.MustNewConstMetric(rsWeightDesc, prometheus.GaugeValue, float64(s.Weight), p.Name, s.Name)
		ch <- prometheus.MustNewConstMetric(rsChecksDesc, prometheus.CounterValue, float64(s.Checks), p.Name, s.Name)
		ch <- prometheus.MustNewConstMetric(rsCheckFailuresDesc, prometheus.CounterValue, float64(s.CheckFailures), p.Name, s.Name)
		ch <- prometheus.MustNewConstMetric(rsCheckSecondsDesc, prometheus.CounterValue, s.CheckSeconds, p.Name, s.Name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func collectInstance(ch chan<- prometheus.Metric, st *vrrp.InstanceStatus) {
	labels := []string{st.Name, st.Interface, strconv.Itoa(st.VRID)}
	for _, cs := range [][]counter{exporterCounters, ourCounters} {
		for _, c := range cs {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, c.value(st), labels...)
		}
	}
	collectStates(ch, st)
	ch <- prometheus.MustNewConstMetric(priorityDesc, prometheus.GaugeValue, float64(st.Priority), labels...)
	ch <- prometheus.MustNewConstMetric(sinceDesc, prometheus.GaugeValue, unixSeconds(st), labels...)
	ch <- lateness(st, labels)
	for _, r := range vrrp.DropReasons() {
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(st.Stats.Dropped[r]),
			append(labels, r.String())...)
	}
}

// collectStates emits keepalived_vrrp_state once per VIP, as the exporter
// does, and once with an empty ip_address for an instance without VIPs
// (the exporter's rule too); keepalived_vrrp_excluded_state once per
// excluded VIP.
func collectStates(ch chan<- prometheus.Metric, st *vrrp.InstanceStatus) {
	state := float64(keepalivedState(st.State))
	vrid := strconv.Itoa(st.VRID)
	for _, v := range st.VIPs {
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, state, st.Name, vipDev(v, st), vrid, vipAddress(v.Prefix))
	}
	if len(st.VIPs) == 0 {
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, state, st.Name, st.Interface, vrid, "")
	}
	for _, v := range st.Excluded {
		ch <- prometheus.MustNewConstMetric(excludedStateDesc, prometheus.GaugeValue, state, st.Name, vipDev(v, st), vrid, vipAddress(v.Prefix))
	}
}

// lateness is the timer-lateness histogram, in seconds.
func lateness(st *vrrp.InstanceStatus, labels []string) prometheus.Metric {
	return histogram(latenessDesc, st.Stats.TimerLateness, labels...)
}

// histogram is a lateness histogram as a Prometheus one, in seconds.
func histogram(desc *prometheus.Desc, h latency.Snapshot, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, n := range h.Cumulative() {
		buckets[h.Bounds[i].Seconds()] = n
	}
	return prometheus.MustNewConstHistogram(desc, h.Count, h.Sum.Seconds(), buckets, labels...)
}

func unixSeconds(st *vrrp.InstanceStatus) float64 {
	if st.LastTransition.IsZero() {
		return 0
	}
	return float64(st.LastTransition.UnixNano()) / 1e9
}

// vipDev is the device a VIP goes on ("" in a VIP means the instance's).
func vipDev(v vrrp.VIP, st *vrrp.InstanceStatus) string {
	if v.Dev != "" {
		return v.Dev
	}
	return st.Interface
}

// vipAddress prints an address as keepalived does (ipaddresstos): with
// its prefix length unless that is the full length.
func vipAddress(p netip.Prefix) string {
	if p.Bits() == p.Addr().BitLen() || p.Bits() < 0 {
		return p.Addr().String()
	}
	return p.String()
}
