package statuscmd

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// daemon serves the two documents as the daemon's API does.
func daemon(t *testing.T, instances, pools string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(instances)) })
	mux.HandleFunc("GET /status/virtual_servers", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(pools)) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

const (
	master = `[{"name":"VI_1","vrid":51,"interface":"eth0","state":"MASTER","priority":150,"base_priority":150,"vips":["10.0.0.1/24"],"last_transition":null}]`
	fault  = `[{"name":"VI_1","vrid":51,"interface":"eth0","state":"FAULT","priority":0,"base_priority":150,"vips":["10.0.0.1/24"],"last_transition":null}]`
	pools  = `[{"name":"[10.0.0.1]:tcp:80","quorum_up":true,"sorry_server_in":false,"real_servers":[{"name":"[10.0.0.2]:tcp:80","alive":true,"weight":1,"failed_checkers":0},{"name":"[10.0.0.3]:tcp:80","alive":false,"weight":1,"failed_checkers":1}]}]`
	lost   = `[{"name":"[10.0.0.1]:tcp:80","quorum_up":false,"sorry_server_in":true,"real_servers":[{"name":"[10.0.0.2]:tcp:80","alive":false,"weight":1,"failed_checkers":1}],"sorry_server":{"name":"[10.0.0.9]:tcp:80","alive":true,"weight":1}}]`
)

func TestStatusExitCodes(t *testing.T) {
	for _, c := range []struct {
		name, instances, pools string
		code                   int
		shows                  []string
	}{
		{"master, quorum up", master, pools, OK, []string{"VI_1", "MASTER", "10.0.0.1/24", "[10.0.0.2]:tcp:80", "UP", "DOWN (1 checker(s) failing)"}},
		{"fault", fault, "[]", Degraded, []string{"FAULT", "0 (base 150)"}},
		{"quorum lost", "[]", lost, Degraded, []string{"LOST", "[10.0.0.9]:tcp:80 (sorry server)", "IN USE"}},
		{"nothing configured", "[]", "[]", OK, []string{"no VRRP instance and no virtual server"}},
	} {
		var out, errs bytes.Buffer
		code := Run([]string{"--web.listen-address=" + daemon(t, c.instances, c.pools)}, &out, &errs)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d (%s)", c.name, code, c.code, errs.String())
		}
		for _, s := range c.shows {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%s: no %q in:\n%s", c.name, s, out.String())
			}
		}
	}
}

func TestStatusUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out, errs bytes.Buffer
	if code := Run([]string{"--api-listen", addr}, &out, &errs); code != Unreachable || !strings.Contains(errs.String(), addr) {
		t.Errorf("exit %d, stderr %q; want %d naming the address", code, errs.String(), Unreachable)
	}
}

func TestStatusJSON(t *testing.T) {
	var out, errs bytes.Buffer
	if code := Run([]string{"--json", "--web.listen-address", daemon(t, master, pools)}, &out, &errs); code != OK {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, s := range []string{`"vrrp_instances"`, `"virtual_servers"`, `"state": "MASTER"`} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("no %s in %s", s, out.String())
		}
	}
}
