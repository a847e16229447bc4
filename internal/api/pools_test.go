package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/keepalived-go/keepalived-go/internal/latency"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// withPools is a source with no instances and two pools' worth of
// health-check state.
type withPools struct{}

func (withPools) Instances() []*vrrp.Instance { return nil }

func (withPools) CheckLateness() (latency.Snapshot, bool) {
	var h latency.Histogram
	h.Observe(3 * time.Millisecond)
	return h.Snapshot(), true
}

func (withPools) VirtualServers() []lvs.PoolStatus {
	p := &lvs.Pool{Name: "[10.0.0.1]:tcp:80", Quorum: 1,
		Servers: []*lvs.Server{{Name: "[10.0.0.2]:tcp:80", Weight: 1}, {Name: "[10.0.0.3]:tcp:80", Weight: 3}}}
	p.Start(false)
	p.CheckerChanged(0, false)
	st := p.Status()
	st.Servers[0].Checks, st.Servers[0].CheckFailures, st.Servers[0].CheckSeconds = 12, 12, 36
	st.Servers[1].Checks, st.Servers[1].CheckSeconds = 10, 0.25
	return []lvs.PoolStatus{st}
}

func TestStatusOfTheVirtualServers(t *testing.T) {
	srv := httptest.NewServer(NewHandler(withPools{}))
	defer srv.Close()
	code, _, body := get(t, srv, "/status/virtual_servers")
	var got []lvs.PoolStatus
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK {
		t.Fatalf("%d %v in %s", code, err, body)
	}
	if len(got) != 1 || !got[0].QuorumUp || len(got[0].Servers) != 2 || got[0].Servers[0].Alive || !got[0].Servers[1].Alive {
		t.Fatalf("status %+v", got)
	}
	if !strings.Contains(body, `"failed_checkers": 1`) {
		t.Errorf("no failed checker count:\n%s", body)
	}

	empty := httptest.NewServer(NewHandler(SourceFunc(func() []*vrrp.Instance { return nil })))
	defer empty.Close()
	if _, _, body := get(t, empty, "/status/virtual_servers"); strings.TrimSpace(body) != "[]" {
		t.Fatalf("without health checks: %q, want []", body)
	}
}

func TestPoolMetrics(t *testing.T) {
	want := `# HELP keepalived_lvs_real_server_up 1 while the real server is alive (all its checkers up), else 0.
# TYPE keepalived_lvs_real_server_up gauge
keepalived_lvs_real_server_up{real_server="[10.0.0.2]:tcp:80",virtual_server="[10.0.0.1]:tcp:80"} 0
keepalived_lvs_real_server_up{real_server="[10.0.0.3]:tcp:80",virtual_server="[10.0.0.1]:tcp:80"} 1
# HELP keepalived_lvs_quorum_up 1 while the virtual server has its quorum, else 0.
# TYPE keepalived_lvs_quorum_up gauge
keepalived_lvs_quorum_up{virtual_server="[10.0.0.1]:tcp:80"} 1
`
	if err := testutil.CollectAndCompare(NewCollector(withPools{}), strings.NewReader(want),
		"keepalived_lvs_real_server_up", "keepalived_lvs_quorum_up"); err != nil {
		t.Error(err)
	}
	probes := `# HELP keepalived_lvs_real_server_check_failures_total The failed probes among them (retries included).
# TYPE keepalived_lvs_real_server_check_failures_total counter
keepalived_lvs_real_server_check_failures_total{real_server="[10.0.0.2]:tcp:80",virtual_server="[10.0.0.1]:tcp:80"} 12
keepalived_lvs_real_server_check_failures_total{real_server="[10.0.0.3]:tcp:80",virtual_server="[10.0.0.1]:tcp:80"} 0
# HELP keepalived_lvs_real_server_check_duration_seconds_total The time the probes took; divided by checks_total, the mean duration of a check.
# TYPE keepalived_lvs_real_server_check_duration_seconds_total counter
keepalived_lvs_real_server_check_duration_seconds_total{real_server="[10.0.0.2]:tcp:80",virtual_server="[10.0.0.1]:tcp:80"} 36
keepalived_lvs_real_server_check_duration_seconds_total{real_server="[10.0.0.3]:tcp:80",virtual_server="[10.0.0.1]:tcp:80"} 0.25
`
	if err := testutil.CollectAndCompare(NewCollector(withPools{}), strings.NewReader(probes),
		"keepalived_lvs_real_server_check_failures_total", "keepalived_lvs_real_server_check_duration_seconds_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(NewCollector(withPools{}), "keepalived_lvs_real_server_checks_total"); n != 2 {
		t.Errorf("%d checks_total series, want 2", n)
	}
	if n := testutil.CollectAndCount(NewCollector(withPools{}), "keepalived_check_lateness_seconds"); n != 1 {
		t.Errorf("%d check lateness histograms, want 1", n)
	}
}
