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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/cli"
	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

func TestKeepalivedExtrasShowWhatRuns(t *testing.T) {
	path := writeConf(t, `
vrrp_script chk {
    script "/bin/true"
    interval 1
}
vrrp_instance VI_1 {
    interface eth0
    use_vmac
    virtual_router_id 51
    priority 100
    advert_int 1
    no_accept
    smtp_alert
    promote_secondaries
    authentication {
        auth_type PASS
        auth_pass longpassword
    }
    notify_master "/bin/echo master"
    notify_backup /bin/true
    track_interface {
        eth9
    }
    track_script {
        chk
    }
    virtual_ipaddress {
        198.51.100.200/24
    }
    virtual_routes {
        198.51.100.128/25 via 198.51.100.2 dev eth0
    }
}
`)
	cfg, _ := config.Load(path, config.Options{})
	x, ok := keepalivedExtras(cfg)["VI_1"]
	if !ok {
		t.Fatal("no extras for VI_1")
	}
	if !x.UseVMAC || x.Parent != "eth0" || !x.NoAccept {
		t.Errorf("use_vmac %v parent %q no_accept %v, want true eth0 true", x.UseVMAC, x.Parent, x.NoAccept)
	}
	// keepalived-go sends no SMTP alerts and does not promote secondaries:
	// the dump shows keepalived's defaults, not the configured words.
	if x.SMTPAlert || x.PromoteSecondaries {
		t.Errorf("smtp_alert %v promote_secondaries %v for keywords not acted on", x.SMTPAlert, x.PromoteSecondaries)
	}
	if x.AuthPass != "longpass" {
		t.Errorf("auth_data %q, want the first 8 bytes, as keepalived keeps them", x.AuthPass)
	}
	if x.ScriptMaster != "'/bin/echo' 'master'" || x.ScriptBackup != "'/bin/true'" || x.ScriptFault != "" {
		t.Errorf("scripts master %q backup %q fault %q", x.ScriptMaster, x.ScriptBackup, x.ScriptFault)
	}
	if !slices.Equal(x.TrackInterfaces, []string{"eth9"}) || !slices.Equal(x.TrackScripts, []string{"'/bin/true'"}) {
		t.Errorf("track_ifp %v track_script %v", x.TrackInterfaces, x.TrackScripts)
	}
	if !slices.Equal(x.VRoutes, []string{"198.51.100.128/25 via 198.51.100.2 dev eth0"}) {
		t.Errorf("vroutes %v", x.VRoutes)
	}
}

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
	dumpKeepalivedJSON(discardLog(), &apiView{rt: &vrrpRuntime{instances: []*vrrp.Instance{startedInstance(t)}}})
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

func TestStartAPIServesUntilStopped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stop := startAPI(discardLog(), &cli.Flags{Values: map[string]string{"api-listen": addr}}, &apiView{})
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
