package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/vrrp"

	"github.com/keepalived-go/keepalived-go/internal/latency"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

func TestStatusListsTheInstances(t *testing.T) {
	srv := httptest.NewServer(NewHandler(sourceOf(fixture(t))))
	defer srv.Close()
	code, ctype, body := get(t, srv, "/status")
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("GET /status: %d %q", code, ctype)
	}
	var got []InstanceJSON
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if len(got) != 2 {
		t.Fatalf("%d instances, want 2:\n%s", len(got), body)
	}
	m, b := got[0], got[1]
	if m.Name != "VI_1" || m.State != "MASTER" || m.VRID != 51 || m.Interface != "eth0" || m.Priority != 255 || m.Version != 3 {
		t.Errorf("VI_1: %+v", m)
	}
	if len(m.VIPs) != 1 || m.VIPs[0] != "192.0.2.100" || len(m.ExcludedVIPs) != 1 || m.ExcludedVIPs[0] != "192.0.2.101" {
		t.Errorf("VI_1 VIPs %v, excluded %v", m.VIPs, m.ExcludedVIPs)
	}
	if m.LastTransition == nil || time.Since(*m.LastTransition) > time.Minute || m.Stats.BecomeMaster != 1 || m.Stats.AdvertSent != 1 {
		t.Errorf("VI_1: last transition %v, stats %+v", m.LastTransition, m.Stats)
	}
	if b.Name != "VI_2" || b.State != "BACKUP" || b.BasePriority != 100 || b.AdvertInt != 1 {
		t.Errorf("VI_2: %+v", b)
	}
	if b.Stats.AdvertRcvd != 2 || b.Stats.PriZeroRcvd != 1 || b.Stats.Dropped["ip_ttl_err"] != 1 || b.Stats.Dropped["auth_failure"] != 0 {
		t.Errorf("VI_2 stats %+v", b.Stats)
	}
	if l := b.Stats.TimerLateness; l.Count != 2 || l.MaxSeconds != 0.2 || len(l.Buckets) != len(latency.Bounds()) ||
		l.Buckets[3].LeSeconds != 0.005 || l.Buckets[3].Count != 1 {
		t.Errorf("VI_2 timer lateness %+v", l)
	}
}

// TestStatusFieldNames pins the JSON keys: they are the API.
func TestStatusFieldNames(t *testing.T) {
	srv := httptest.NewServer(NewHandler(sourceOf(fixture(t))))
	defer srv.Close()
	_, _, body := get(t, srv, "/status")
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "vrid", "version", "interface", "state", "priority", "base_priority",
		"advert_int_seconds", "master_advert_int_seconds", "vips", "excluded_vips", "last_transition", "stats"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("/status lacks %q: %s", k, body)
		}
	}
	var stats map[string]json.RawMessage
	json.Unmarshal(raw[0]["stats"], &stats)
	for _, k := range []string{"advert_rcvd", "advert_sent", "become_master", "release_master", "transitions",
		"pri_zero_rcvd", "pri_zero_sent", "addr_list_err", "send_errors", "dropped", "timer_lateness"} {
		if _, ok := stats[k]; !ok {
			t.Errorf("/status stats lack %q: %s", k, raw[0]["stats"])
		}
	}
}

func TestStatusWithoutInstancesIsAnEmptyArray(t *testing.T) {
	for _, src := range []Source{nil, SourceFunc(func() []*vrrp.Instance { return nil })} {
		srv := httptest.NewServer(NewHandler(src))
		code, _, body := get(t, srv, "/status")
		srv.Close()
		if code != http.StatusOK || strings.TrimSpace(body) != "[]" {
			t.Errorf("GET /status without instances: %d %q, want 200 []", code, body)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	srv := httptest.NewServer(NewHandler(sourceOf(fixture(t))))
	defer srv.Close()
	code, ctype, body := get(t, srv, "/metrics")
	if code != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("GET /metrics: %d %q", code, ctype)
	}
	for _, want := range []string{
		"keepalived_up 1\n",
		`keepalived_vrrp_state{iname="VI_1",intf="eth0",ip_address="192.0.2.100",vrid="51"} 2` + "\n",
		`keepalived_advertisements_received_total{iname="VI_2",intf="eth1",vrid="52"} 2` + "\n",
		`keepalived_vrrp_timer_lateness_seconds_count{iname="VI_2",intf="eth1",vrid="52"} 2` + "\n",
		"go_goroutines ",            // the Go collector
		"process_cpu_seconds_total", // the process collector
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestHealthzAndMethods(t *testing.T) {
	srv := httptest.NewServer(NewHandler(nil))
	defer srv.Close()
	if code, _, body := get(t, srv, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz: %d %q", code, body)
	}
	if code, _, _ := get(t, srv, "/nope"); code != http.StatusNotFound {
		t.Errorf("GET /nope: %d, want 404", code)
	}
	resp, err := http.Post(srv.URL+"/status", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /status: %d, want 405", resp.StatusCode)
	}
}
