package daemon

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/cli"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// fixedInstances is a VRRP subsystem that runs these instances.
type fixedInstances []*vrrp.Instance

func (f fixedInstances) Instances() []*vrrp.Instance { return f }

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type nopNet struct{}

func (nopNet) SendAdvert([]byte, netip.Addr) error { return nil }
func (nopNet) AddVIPs([]vrrp.VIP) error            { return nil }
func (nopNet) RemoveVIPs([]vrrp.VIP) error         { return nil }
func (nopNet) Announce([]vrrp.VIP) error           { return nil }

func startedInstance(t *testing.T) *vrrp.Instance {
	t.Helper()
	in, err := vrrp.NewInstance(vrrp.InstanceConfig{Name: "VI_1", Interface: "eth0", Log: discardLog(),
		Machine: vrrp.MachineConfig{Version: 2, VRID: 51, Priority: 255, AdvertInt: time.Second, InitialState: vrrp.Backup},
		VIPs:    []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.51.100.200/24")}}}, nopNet{})
	if err != nil {
		t.Fatal(err)
	}
	in.Start()
	return in
}

func TestDumpKeepalivedJSON(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	file := filepath.Join(dir, "keepalived.json")

	dumpKeepalivedJSON(discardLog(), &apiView{})
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("without instances keepalived writes no dump; stat: %v", err)
	}

	// A link planted where the dump goes is replaced, not followed.
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	if err := os.Symlink(victim, file); err != nil {
		t.Fatal(err)
	}
	dumpKeepalivedJSON(discardLog(), &apiView{vrrp: fixedInstances{startedInstance(t)}})
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(`[{"data":{"iname":"VI_1",`)) || !bytes.Contains(b, []byte(`"state":2,`)) {
		t.Errorf("dump: %s", b)
	}
	if info, _ := os.Lstat(file); info.Mode().Type() != 0 || info.Mode().Perm() != 0o600 {
		t.Errorf("dump mode %v, want a regular file 0600 (it holds passwords)", info.Mode())
	}
	if v, _ := os.ReadFile(victim); string(v) != "keep" {
		t.Errorf("the dump followed a symbolic link: victim now %q", v)
	}
}

// The exporters' flag and our older alias both serve the API.
func TestStartAPIServesUntilStopped(t *testing.T) {
	for _, flag := range []string{"web.listen-address", "api-listen"} {
		t.Run(flag, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			stop := startAPI(discardLog(), &cli.Flags{Values: map[string]string{flag: addr}}, &apiView{})
			resp, err := http.Get("http://" + addr + "/status")
			if err != nil {
				stop()
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
				t.Errorf("/status without VRRP: %d %q, want 200 []", resp.StatusCode, body)
			}
			stop()
			if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
				t.Error("the API still answers after stop")
			}
		})
	}
}

func TestStartAPICarriesOnWhenItCannotListen(t *testing.T) {
	for _, addr := range []string{"256.0.0.1:9165", ""} {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		stop := startAPI(log, &cli.Flags{Values: map[string]string{"api-listen": addr}}, &apiView{})
		stop() // a no-op, and no panic
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "API") {
			t.Errorf("--api-listen=%q: want an error logged, got %q", addr, logs.String())
		}
	}
	var logs bytes.Buffer
	startAPI(slog.New(slog.NewTextHandler(&logs, nil)), &cli.Flags{Values: map[string]string{}}, &apiView{})()
	if logs.Len() != 0 {
		t.Errorf("without --api-listen the API is off and silent; logged %q", logs.String())
	}
}
