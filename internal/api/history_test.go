package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

func pool(quorum bool, alive ...bool) []lvs.PoolStatus {
	p := lvs.PoolStatus{Name: "[10.0.0.1]:tcp:80", QuorumUp: quorum}
	for i, a := range alive {
		p.Servers = append(p.Servers, lvs.ServerStatus{Name: []string{"[10.0.0.2]:tcp:80", "[10.0.0.3]:tcp:80"}[i], Alive: a})
	}
	return []lvs.PoolStatus{p}
}

// The history records changes only: an instance's with its own time, a
// real server's and a quorum's with the snapshot's; and forgets what is
// older than an hour.
func TestHistoryRecordsChanges(t *testing.T) {
	h := NewHistory()
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	backup := []InstanceJSON{{Name: "VI_1", State: "BACKUP"}}
	h.Observe(t0, backup, pool(true, true, true))
	h.Observe(t0.Add(time.Second), backup, pool(true, true, true))
	if ev := h.Events(t0.Add(time.Second)); len(ev) != 0 {
		t.Fatalf("no change, events %+v", ev)
	}
	became := t0.Add(1500 * time.Millisecond)
	h.Observe(t0.Add(2*time.Second), []InstanceJSON{{Name: "VI_1", State: "MASTER", LastTransition: &became}}, pool(false, false, true))
	ev := h.Events(t0.Add(2 * time.Second))
	want := []Event{
		{Time: became, Kind: "vrrp_instance", Name: "VI_1", From: "BACKUP", To: "MASTER"},
		{Time: t0.Add(2 * time.Second), Kind: "virtual_server", Name: "[10.0.0.1]:tcp:80", From: "QUORUM UP", To: "QUORUM LOST"},
		{Time: t0.Add(2 * time.Second), Kind: "real_server", Name: "[10.0.0.2]:tcp:80", Of: "[10.0.0.1]:tcp:80", From: "UP", To: "DOWN"},
	}
	if len(ev) != len(want) {
		t.Fatalf("events %+v, want %+v", ev, want)
	}
	for i := range want {
		if ev[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, ev[i], want[i])
		}
	}
	if ev := h.Events(t0.Add(time.Hour + 3*time.Second)); len(ev) != 0 {
		t.Errorf("an hour later: %+v", ev)
	}
}

// A real server that a reload removes and brings back starts afresh.
func TestHistoryForgetsRemovedObjects(t *testing.T) {
	h := NewHistory()
	t0 := time.Now()
	h.Observe(t0, nil, pool(true, true, false))
	h.Observe(t0.Add(time.Second), nil, pool(true, true))
	h.Observe(t0.Add(2*time.Second), nil, pool(true, true, true))
	if ev := h.Events(t0.Add(2 * time.Second)); len(ev) != 0 {
		t.Errorf("events %+v, want none", ev)
	}
}

func TestPageAndHistoryAreServed(t *testing.T) {
	h := NewHistory()
	h.Observe(time.Now(), []InstanceJSON{{Name: "VI_1", State: "BACKUP"}}, nil)
	h.Observe(time.Now(), []InstanceJSON{{Name: "VI_1", State: "MASTER"}}, nil)
	srv := httptest.NewServer(WithPage(NewHandler(nil), h))
	defer srv.Close()
	for path, want := range map[string]string{"/": "<h1>keepalived-go</h1>", "/history": `"to": "MASTER"`, "/healthz": "ok"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d, no %q in %.200s", path, resp.StatusCode, want, body)
		}
	}
	if resp, err := http.Get(srv.URL + "/nothing"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("/nothing: %v %v, want 404", resp, err)
	}
}
