package api

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// TestCollectorUsesTheExportersNamesAndLabels pins the series that
// mehdy/keepalived-exporter's users query: keepalived_vrrp_state per VIP
// with keepalived's state numbers, and its counters with iname, intf and
// vrid.
func TestCollectorUsesTheExportersNamesAndLabels(t *testing.T) {
	c := NewCollector(sourceOf(fixture(t)))
	want := `
# HELP keepalived_up Status
# TYPE keepalived_up gauge
keepalived_up 1
# HELP keepalived_vrrp_state State of vrrp
# TYPE keepalived_vrrp_state gauge
keepalived_vrrp_state{iname="VI_1",intf="eth0",ip_address="192.0.2.100",vrid="51"} 2
keepalived_vrrp_state{iname="VI_2",intf="eth1",ip_address="192.0.2.200/24",vrid="52"} 1
# HELP keepalived_vrrp_excluded_state State of vrrp with excluded VIP
# TYPE keepalived_vrrp_excluded_state gauge
keepalived_vrrp_excluded_state{iname="VI_1",intf="eth0",ip_address="192.0.2.101",vrid="51"} 2
# HELP keepalived_advertisements_received_total Advertisements received
# TYPE keepalived_advertisements_received_total counter
keepalived_advertisements_received_total{iname="VI_1",intf="eth0",vrid="51"} 0
keepalived_advertisements_received_total{iname="VI_2",intf="eth1",vrid="52"} 2
# HELP keepalived_advertisements_sent_total Advertisements sent
# TYPE keepalived_advertisements_sent_total counter
keepalived_advertisements_sent_total{iname="VI_1",intf="eth0",vrid="51"} 1
keepalived_advertisements_sent_total{iname="VI_2",intf="eth1",vrid="52"} 0
# HELP keepalived_become_master_total Became master
# TYPE keepalived_become_master_total counter
keepalived_become_master_total{iname="VI_1",intf="eth0",vrid="51"} 1
keepalived_become_master_total{iname="VI_2",intf="eth1",vrid="52"} 0
# HELP keepalived_ip_ttl_errors_total TTL errors
# TYPE keepalived_ip_ttl_errors_total counter
keepalived_ip_ttl_errors_total{iname="VI_1",intf="eth0",vrid="51"} 0
keepalived_ip_ttl_errors_total{iname="VI_2",intf="eth1",vrid="52"} 1
# HELP keepalived_priority_zero_received_total Priority zero received
# TYPE keepalived_priority_zero_received_total counter
keepalived_priority_zero_received_total{iname="VI_1",intf="eth0",vrid="51"} 0
keepalived_priority_zero_received_total{iname="VI_2",intf="eth1",vrid="52"} 1
# HELP keepalived_gratuitous_arp_delay_total Gratuitous ARP delay
# TYPE keepalived_gratuitous_arp_delay_total counter
keepalived_gratuitous_arp_delay_total{iname="VI_1",intf="eth0",vrid="51"} 0
keepalived_gratuitous_arp_delay_total{iname="VI_2",intf="eth1",vrid="52"} 5
`
	names := []string{"keepalived_up", "keepalived_vrrp_state", "keepalived_vrrp_excluded_state",
		"keepalived_advertisements_received_total", "keepalived_advertisements_sent_total",
		"keepalived_become_master_total", "keepalived_ip_ttl_errors_total",
		"keepalived_priority_zero_received_total", "keepalived_gratuitous_arp_delay_total"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorOwnMetrics: priority, transitions, drops by reason and the
// timer-lateness histogram.
func TestCollectorOwnMetrics(t *testing.T) {
	c := NewCollector(sourceOf(fixture(t)))
	want := `
# HELP keepalived_vrrp_priority Effective priority of the VRRP instance: the configured priority plus tracking weights.
# TYPE keepalived_vrrp_priority gauge
keepalived_vrrp_priority{iname="VI_1",intf="eth0",vrid="51"} 255
keepalived_vrrp_priority{iname="VI_2",intf="eth1",vrid="52"} 100
# HELP keepalived_vrrp_transitions_total State changes of the VRRP instance, INIT to BACKUP at start included.
# TYPE keepalived_vrrp_transitions_total counter
keepalived_vrrp_transitions_total{iname="VI_1",intf="eth0",vrid="51"} 1
keepalived_vrrp_transitions_total{iname="VI_2",intf="eth1",vrid="52"} 1
# HELP keepalived_vrrp_timer_lateness_seconds How late the instance's VRRP timers fired: scheduling jitter, the first cause of false failovers.
# TYPE keepalived_vrrp_timer_lateness_seconds histogram
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_1",intf="eth0",vrid="51",le="0.0001"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_1",intf="eth0",vrid="51",le="0.0005"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_1",intf="eth0",vrid="51",le="0.001"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_1",intf="eth0",vrid="51",le="0.005"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_1",intf="eth0",vrid="51",le="0.01"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_1",intf="eth0",vrid="51",le="0.05"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_1",intf="eth0",vrid="51",le="0.1"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_1",intf="eth0",vrid="51",le="0.5"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_1",intf="eth0",vrid="51",le="1"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_1",intf="eth0",vrid="51",le="+Inf"} 0
keepalived_vrrp_timer_lateness_seconds_sum{iname="VI_1",intf="eth0",vrid="51"} 0
keepalived_vrrp_timer_lateness_seconds_count{iname="VI_1",intf="eth0",vrid="51"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_2",intf="eth1",vrid="52",le="0.0001"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_2",intf="eth1",vrid="52",le="0.0005"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_2",intf="eth1",vrid="52",le="0.001"} 0
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_2",intf="eth1",vrid="52",le="0.005"} 1
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_2",intf="eth1",vrid="52",le="0.01"} 1
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_2",intf="eth1",vrid="52",le="0.05"} 1
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_2",intf="eth1",vrid="52",le="0.1"} 1
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_2",intf="eth1",vrid="52",le="0.5"} 2
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_2",intf="eth1",vrid="52",le="1"} 2
keepalived_vrrp_timer_lateness_seconds_bucket{iname="VI_2",intf="eth1",vrid="52",le="+Inf"} 2
keepalived_vrrp_timer_lateness_seconds_sum{iname="VI_2",intf="eth1",vrid="52"} 0.203
keepalived_vrrp_timer_lateness_seconds_count{iname="VI_2",intf="eth1",vrid="52"} 2
`
	names := []string{"keepalived_vrrp_priority", "keepalived_vrrp_transitions_total", "keepalived_vrrp_timer_lateness_seconds"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// Every drop reason has a series, so a rate() never starts from nothing.
	if n := testutil.CollectAndCount(c, "keepalived_vrrp_dropped_total"); n != 2*len(vrrp.DropReasons()) {
		t.Errorf("%d keepalived_vrrp_dropped_total series, want %d", n, 2*len(vrrp.DropReasons()))
	}
	sendErrors := `
# HELP keepalived_vrrp_send_errors_total Adverts that could not be sent.
# TYPE keepalived_vrrp_send_errors_total counter
keepalived_vrrp_send_errors_total{iname="VI_1",intf="eth0",vrid="51"} 0
keepalived_vrrp_send_errors_total{iname="VI_2",intf="eth1",vrid="52"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(sendErrors), "keepalived_vrrp_send_errors_total"); err != nil {
		t.Fatal(err)
	}
}

func TestCollectorDroppedByReason(t *testing.T) {
	insts := fixture(t)
	for _, st := range statuses(sourceOf(insts)) {
		if st.Name != "VI_2" {
			continue
		}
		if st.Stats.Dropped[vrrp.DropTTL] != 1 {
			t.Fatalf("fixture: VI_2 dropped %d adverts for TTL, want 1", st.Stats.Dropped[vrrp.DropTTL])
		}
	}
	c := NewCollector(sourceOf(insts))
	var b strings.Builder
	for _, r := range vrrp.DropReasons() {
		n := 0
		if r == vrrp.DropTTL {
			n = 1
		}
		b.WriteString(`keepalived_vrrp_dropped_total{iname="VI_2",intf="eth1",reason="` + r.String() + `",vrid="52"} ` + strconv.Itoa(n) + "\n")
	}
	got, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, "keepalived_vrrp_dropped_total")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if !strings.Contains(string(got), line+"\n") {
			t.Errorf("missing %s in:\n%s", line, got)
		}
	}
}

// TestCollectorStateSinceIsTheLastTransition: state_since_seconds is the
// unix time of the last state change.
func TestCollectorStateSinceIsTheLastTransition(t *testing.T) {
	before := time.Now()
	insts := fixture(t)
	after := time.Now()
	c := NewCollector(sourceOf(insts))
	got, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, "keepalived_vrrp_state_since_seconds")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(got), "\n") {
		if !strings.HasPrefix(line, "keepalived_vrrp_state_since_seconds{") {
			continue
		}
		n++
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatal(err)
		}
		if v < float64(before.Unix())-1 || v > float64(after.Unix())+1 {
			t.Errorf("%s: want a time between %v and %v", line, before, after)
		}
	}
	if n != 2 {
		t.Fatalf("%d series, want 2:\n%s", n, got)
	}
}

// TestCollectorEmptySource: without instances only keepalived_up and
// the process's notify losses are left.
func TestCollectorEmptySource(t *testing.T) {
	c := NewCollector(SourceFunc(func() []*vrrp.Instance { return nil }))
	if n := testutil.CollectAndCount(c); n != 6 {
		t.Fatalf("%d metrics without instances, want 6 (keepalived_up, the notify losses)", n)
	}
	if n := testutil.CollectAndCount(NewCollector(nil), "keepalived_up"); n != 1 {
		t.Fatalf("%d keepalived_up with a nil source, want 1", n)
	}
	want := `# HELP keepalived_notify_lost_total Notifications not delivered, by what was lost: event (its scripts did not run, the queue was full), fifo_line (a FIFO line did not fit in its pipe), smtp_alert (an SMTP alert was dropped: the queue was full or the daemon stopped), smtp_undelivered (the SMTP server could not be reached or refused the alert).
# TYPE keepalived_notify_lost_total counter
keepalived_notify_lost_total{what="event"} 0
keepalived_notify_lost_total{what="fifo_line"} 0
keepalived_notify_lost_total{what="smtp_alert"} 0
keepalived_notify_lost_total{what="smtp_undelivered"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "keepalived_notify_lost_total"); err != nil {
		t.Error(err)
	}
}

// TestCollectorLint: our metrics follow Prometheus' conventions. The
// exporter's names are kept as they are even where lint would differ.
func TestCollectorLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(NewCollector(sourceOf(fixture(t))))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
