package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main("keepalived-go", args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUnknownOptionExits1LikeKeepalived(t *testing.T) {
	code, _, stderr := runMain(t, "--bogus")
	if code != 1 || !strings.Contains(stderr, "Unknown option --bogus") {
		t.Fatalf("exit %d, stderr %q; keepalived exits 1 with 'Unknown option --bogus'", code, stderr)
	}
}

// --lvs-backend is ours: a value it does not take stops the daemon before
// anything runs.
func TestBadLVSBackendExits1(t *testing.T) {
	code, _, stderr := runMain(t, "--lvs-backend=iptables", "-t", "-f", "/nonexistent")
	if code != 1 || !strings.Contains(stderr, `invalid --lvs-backend "iptables": auto, ipvs or nftables`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// --lvs-backend=ipvs on a kernel without IPVS refuses to start, as
// keepalived's checker does when ipvs_start fails.
func TestIPVSBackendWithoutIPVSExits1(t *testing.T) {
	if kernel.HasIPVS() {
		t.Log("this kernel has IPVS: the refusal is for kernels without it (the QEMU tests run the IPVS backend)")
		return
	}
	path := writeConf(t, "virtual_server 192.0.2.1 80 {\n    protocol TCP\n    real_server 192.0.2.2 80 {\n    }\n}\n")
	code, _, stderr := runMain(t, "-n", "-l", "--lvs-backend=ipvs", "-f", path, "-p", filepath.Join(t.TempDir(), "kg.pid"))
	if code != 1 || !strings.Contains(stderr, "IPVS: Can't initialize ipvs") || !strings.Contains(stderr, "not starting") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestSignumPrintsKeepalivedNumbers(t *testing.T) {
	code, out, _ := runMain(t, "--signum=RELOAD")
	if code != 0 || out != "1\n" {
		t.Fatalf("--signum=RELOAD: exit %d, out %q", code, out)
	}
	if code, _, stderr := runMain(t, "--signum=TDATA"); code != 1 || !strings.Contains(stderr, "Unknown sigfunc TDATA") {
		t.Fatalf("--signum=TDATA: exit %d, stderr %q", code, stderr)
	}
}

func TestConfigTestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want int
		cite string
	}{
		{"valid", "global_defs {\n    router_id lb1\n}\n", 0, ""},
		{"missing parameter", "vrrp_instance VI_1 {\n    interface lo\n    priority\n}\n", 2, "Line 3"},
		{"bad priority", "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 1\n    priority 300\n    virtual_ipaddress {\n        192.0.2.1\n    }\n}\n", 5, "Line 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConf(t, tt.conf)
			code, _, stderr := runMain(t, "-t", "-f", path)
			if code != tt.want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.want, stderr)
			}
			if tt.cite != "" && !strings.Contains(stderr, "("+path+": "+tt.cite+")") {
				t.Fatalf("stderr does not cite (%s: %s):\n%s", path, tt.cite, stderr)
			}
		})
	}
}

func TestConfigTestWritesToTheGivenLogFile(t *testing.T) {
	path := writeConf(t, "vrrp_instance VI_1 {\n    interface lo\n    priorty 100\n}\n")
	logFile := filepath.Join(t.TempDir(), "check.log")
	code, _, stderr := runMain(t, "-t"+logFile, "-f", path)
	if code != 5 || stderr != "" {
		t.Fatalf("exit %d, stderr %q: want 5 and nothing on stderr", code, stderr)
	}
	got, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(got), "Unknown keyword 'priorty'") || !strings.Contains(string(got), "did you mean 'priority'?") {
		t.Fatalf("log file %q (%v) lacks the unknown keyword and its hint", got, err)
	}
}

func TestDumpJSONIsTheModel(t *testing.T) {
	path := writeConf(t, "vrrp_instance VI_7 {\n    interface lo\n    virtual_router_id 7\n    priority 90\n    virtual_ipaddress {\n        192.0.2.7/32\n    }\n}\n")
	code, out, stderr := runMain(t, "--dump-json", "-f", path)
	// keepalived refuses a VRRP instance on lo (exit 5); the model is
	// dumped all the same, with the findings on stderr.
	if code != 5 || !strings.Contains(stderr, "cannot use a loopback interface (lo)") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`"virtual_router_id": 7`, `"priority": 90`, `"prefix": "192.0.2.7/32"`, `"VI_7"`} {
		if !strings.Contains(out, want) {
			t.Errorf("JSON dump lacks %s:\n%s", want, out)
		}
	}
}
