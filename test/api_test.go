package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// apiAddr is where keepalived-go serves its API inside a router's
// namespace (the exporters' default port).
const apiAddr = "127.0.0.1:9165"

// sigJSON is SIGRTMIN+2, keepalived's JSON dump signal
// (`keepalived --signum=JSON`).
const sigJSON = syscall.Signal(36)

// startKGAPI runs keepalived-go with --api-listen in host h, and stops it
// at the end of the test.
func startKGAPI(t *testing.T, l *lab.Lab, h *lab.Host, conf string) *lab.Proc {
	t.Helper()
	path, err := l.WriteFile(h.Name+"-api.conf", conf)
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Start(binary, append(append([]string{"-n", "-l", "-D", "-f", path}, h.PidArgs("api")...), "--api-listen="+apiAddr)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(); dumpLogOnFailure(t, h, p) })
	return p
}

// nsClient is an HTTP client whose connections start in namespace ns, so
// that the test (in the root namespace) reaches a daemon's loopback.
func nsClient(t *testing.T, ns string) *http.Client {
	t.Helper()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := inNamespace(ns, func() error {
			var d net.Dialer
			var err error
			// One literal address: the socket is created on this
			// goroutine, hence in the namespace.
			conn, err = d.DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// inNamespace runs f on an OS thread switched to namespace ns.
func inNamespace(ns string, f func() error) error { return lab.InNamespace(ns, f) }

func httpGet(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), err
}

// waitAPI polls url (at most d) until check accepts its body.
func waitAPI(t *testing.T, d time.Duration, c *http.Client, url string, check func(string) error) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		body, err := httpGet(c, url)
		if err == nil {
			if err = check(body); err == nil {
				return body
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %v: %v\n%s", url, d, err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAPIReportsTheMaster: a keepalived-go router alone on its LAN becomes
// master; its /status says MASTER and its /metrics carry the exporter's
// keepalived_vrrp_state 2 for the instance's VIP.
func TestAPIReportsTheMaster(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	startKGAPI(t, l, r1, instance{version: 3, priority: 150, advertInt: "0.1", vip: vip4}.conf())
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	c := nsClient(t, r1.NS)
	base := "http://" + apiAddr

	waitAPI(t, 3*time.Second, c, base+"/status", func(body string) error {
		var st []struct {
			Name      string `json:"name"`
			State     string `json:"state"`
			VRID      int    `json:"vrid"`
			Interface string `json:"interface"`
			Priority  int    `json:"priority"`
			Stats     struct {
				BecomeMaster uint64 `json:"become_master"`
			} `json:"stats"`
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			return err
		}
		if len(st) != 1 || st[0].Name != "VI_1" || st[0].State != "MASTER" || st[0].VRID != 51 ||
			st[0].Interface != "eth0" || st[0].Priority != 150 || st[0].Stats.BecomeMaster != 1 {
			return fmt.Errorf("want VI_1 MASTER on eth0, VRID 51, priority 150, become_master 1: %+v", st)
		}
		return nil
	})
	want := `keepalived_vrrp_state{iname="VI_1",intf="eth0",ip_address="` + vip4.String() + `/24",vrid="51"} 2`
	waitAPI(t, 3*time.Second, c, base+"/metrics", func(body string) error {
		for _, w := range []string{want, "keepalived_up 1", `keepalived_vrrp_timer_lateness_seconds_count{iname="VI_1",intf="eth0",vrid="51"}`} {
			if !strings.Contains(body, w) {
				return fmt.Errorf("no %q", w)
			}
		}
		return nil
	})
	if body, err := httpGet(c, base+"/healthz"); err != nil || body != "ok\n" {
		t.Errorf("/healthz: %q, %v", body, err)
	}
	// keepalived-go status, run in the router's namespace, reads the same.
	out, err := r1.Command(binary, "status").CombinedOutput()
	if err != nil || !regexp.MustCompile(`VI_1\s+MASTER\s+eth0\s+51\s+150\s+`+regexp.QuoteMeta(vip4.String())).Match(out) {
		t.Errorf("keepalived-go status: %v\n%s", err, out)
	}
}

// TestAPIJSONDumpMatchesKeepalived: on SIGRTMIN+2 keepalived-go writes
// $TMPDIR/keepalived.json with the structure and keys keepalived 2.2.7
// writes for the same instance, next to it on the LAN.
func TestAPIJSONDumpMatchesKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	kgConf := instance{version: 2, priority: 150, advertInt: "1", vip: vip4, auth: "secret"}.conf()
	// keepalived runs its own instance (VRID 52, another VIP), so that
	// both are masters.
	vipKA := vip4.Next()
	kaConf := strings.Replace(instance{version: 2, priority: 150, advertInt: "1", vip: vipKA, auth: "secret"}.conf(),
		"virtual_router_id 51", "virtual_router_id 52", 1)
	kg := startKGAPI(t, l, r1, kgConf)
	ka, err := r2.StartKeepalived(kaConf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ka.Stop(); dumpLogOnFailure(t, r2, ka) })
	waitHolder(t, 8*time.Second, vip4, r1, r1, r2)
	waitHolder(t, 8*time.Second, vipKA, r2, r1, r2)

	ours := signalDump(t, r1, kg)
	theirs := signalDump(t, r2, ka)
	if !bytes.Contains(ours, []byte(`"state":2`)) || !bytes.Contains(ours, []byte(`"iname":"VI_1"`)) {
		t.Errorf("keepalived-go's dump does not show VI_1 as master: %s", ours)
	}
	for _, part := range []string{"data", "stats"} {
		if k, w := dumpKeys(t, ours, part), dumpKeys(t, theirs, part); !slices.Equal(k, w) {
			t.Errorf("%s keys differ from keepalived's:\n ours   %v\n theirs %v", part, k, w)
		}
	}
	if info, err := os.Stat(filepath.Join(r1.TmpDir(), "keepalived.json")); err == nil && info.Mode().Perm() != 0o600 {
		t.Errorf("keepalived.json has mode %v; keepalived writes 0600 (it holds passwords)", info.Mode().Perm())
	}
}

// signalDump sends SIGRTMIN+2 and returns the keepalived.json written in
// the host's TMPDIR.
func signalDump(t *testing.T, h *lab.Host, p *lab.Proc) []byte {
	t.Helper()
	file := filepath.Join(h.TmpDir(), "keepalived.json")
	os.Remove(file)
	if err := p.Signal(sigJSON); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// keepalived's VRRP child writes it after the parent forwards the
		// signal: wait for a complete document.
		if b, err := os.ReadFile(file); err == nil && json.Valid(b) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s wrote no %s after SIGRTMIN+2", p.Name, file)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dumpKeys returns the keys of part ("data" or "stats") of the dump's
// only instance, in the order written.
func dumpKeys(t *testing.T, dump []byte, part string) []string {
	t.Helper()
	var insts []map[string]json.RawMessage
	if err := json.Unmarshal(dump, &insts); err != nil || len(insts) != 1 {
		t.Fatalf("want an array of one instance (%v): %s", err, dump)
	}
	dec := json.NewDecoder(bytes.NewReader(insts[0][part]))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s is not an object: %s", part, insts[0][part])
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}
