package api

import (
	"time"

	"github.com/keepalived-go/keepalived-go/internal/vrrp"

	"github.com/keepalived-go/keepalived-go/internal/latency"
)

// The /status document: one object per instance. Field names are part of
// the API: snake_case, counters with keepalived's names (vrrp_stats), and
// durations in seconds.

// InstanceJSON is one instance in /status.
type InstanceJSON struct {
	Name      string `json:"name"`
	VRID      int    `json:"vrid"`
	Version   int    `json:"version"`
	Interface string `json:"interface"`
	// State is keepalived's name: INIT, BACKUP, MASTER, FAULT or STOP.
	State string `json:"state"`
	// Priority is the effective priority; BasePriority the configured one.
	Priority     int `json:"priority"`
	BasePriority int `json:"base_priority"`
	// AdvertInt is ours; MasterAdvertInt the master's as last learned.
	AdvertInt       float64  `json:"advert_int_seconds"`
	MasterAdvertInt float64  `json:"master_advert_int_seconds"`
	VIPs            []string `json:"vips"`
	ExcludedVIPs    []string `json:"excluded_vips"`
	// LastTransition is the time of the last state change (RFC 3339), or
	// null before the instance started.
	LastTransition *time.Time `json:"last_transition"`
	Stats          StatsJSON  `json:"stats"`
}

// StatsJSON is an instance's counters.
type StatsJSON struct {
	AdvertRcvd    uint64 `json:"advert_rcvd"`
	AdvertSent    uint64 `json:"advert_sent"`
	BecomeMaster  uint64 `json:"become_master"`
	ReleaseMaster uint64 `json:"release_master"`
	Transitions   uint64 `json:"transitions"`
	PriZeroRcvd   uint64 `json:"pri_zero_rcvd"`
	PriZeroSent   uint64 `json:"pri_zero_sent"`
	AddrListErr   uint64 `json:"addr_list_err"`
	SendErrors    uint64 `json:"send_errors"`
	// Dropped counts dropped adverts by reason (packet_len_err, ip_ttl_err,
	// auth_failure, ...).
	Dropped       map[string]uint64 `json:"dropped"`
	TimerLateness LatencyJSON       `json:"timer_lateness"`
}

// LatencyJSON is the timer-lateness histogram.
type LatencyJSON struct {
	Count      uint64  `json:"count"`
	SumSeconds float64 `json:"sum_seconds"`
	MaxSeconds float64 `json:"max_seconds"`
	// Buckets are cumulative, as Prometheus': Count of the timers that
	// fired at most LeSeconds late. Timers later than the last bound are
	// in Count only.
	Buckets []BucketJSON `json:"buckets"`
}

// BucketJSON is one cumulative histogram bucket.
type BucketJSON struct {
	LeSeconds float64 `json:"le_seconds"`
	Count     uint64  `json:"count"`
}

// statusJSON converts a snapshot to its /status form.
func statusJSON(st *vrrp.InstanceStatus) InstanceJSON {
	out := InstanceJSON{
		Name: st.Name, VRID: st.VRID, Version: st.Version, Interface: st.Interface,
		State: st.State.String(), Priority: st.Priority, BasePriority: st.BasePriority,
		AdvertInt: st.AdvertInt.Seconds(), MasterAdvertInt: st.MasterAdverInt.Seconds(),
		VIPs: vipStrings(st.VIPs), ExcludedVIPs: vipStrings(st.Excluded),
		Stats: statsJSON(&st.Stats),
	}
	if !st.LastTransition.IsZero() {
		t := st.LastTransition.UTC()
		out.LastTransition = &t
	}
	return out
}

func statsJSON(s *vrrp.StatsSnapshot) StatsJSON {
	out := StatsJSON{
		AdvertRcvd: s.AdvertRcvd, AdvertSent: s.AdvertSent, BecomeMaster: s.BecomeMaster, ReleaseMaster: s.ReleaseMaster,
		Transitions: s.Transitions, PriZeroRcvd: s.PriZeroRcvd, PriZeroSent: s.PriZeroSent,
		AddrListErr: s.AddrListErr, SendErrors: s.SendErrors,
		Dropped:       map[string]uint64{},
		TimerLateness: latencyJSON(s.TimerLateness),
	}
	for _, r := range vrrp.DropReasons() {
		out.Dropped[r.String()] = s.Dropped[r]
	}
	return out
}

func latencyJSON(h latency.Snapshot) LatencyJSON {
	out := LatencyJSON{Count: h.Count, SumSeconds: h.Sum.Seconds(), MaxSeconds: h.Max.Seconds(),
		Buckets: make([]BucketJSON, 0, len(h.Bounds))}
	for i, n := range h.Cumulative() {
		out.Buckets = append(out.Buckets, BucketJSON{LeSeconds: h.Bounds[i].Seconds(), Count: n})
	}
	return out
}

// vipStrings prints addresses as keepalived does; never nil, so that
// JSON shows [] rather than null.
func vipStrings(vs []vrrp.VIP) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, vipAddress(v.Prefix))
	}
	return out
}
