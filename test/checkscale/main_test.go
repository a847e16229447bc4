package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// The configuration that -qemu gives both daemons passes both
// daemons' configuration test (-t) without a warning, TCP_CHECK and
// HTTP_GET alike: the comparison starts from the same, clean file.
func TestConfigurationAcceptedByBoth(t *testing.T) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		testenv.Unavailable(t, "this test needs Debian's keepalived")
	}
	kg, err := lab.BuildKeepalivedGo()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(kg))
	for _, http := range []bool{false, true} {
		conf := checkConfig{addr: "198.51.100.11", ports: portRange(basePort, 3), delayLoop: 1, http: http}.text()
		want := "TCP_CHECK {"
		if http {
			want = "HTTP_GET {"
		}
		if strings.Count(conf, want) != 3 || !strings.Contains(conf, "delay_loop 1\n") {
			t.Fatalf("the configuration lacks its checkers:\n%s", conf)
		}
		path := filepath.Join(t.TempDir(), "check.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, bin := range []string{"keepalived", kg} {
			if out, err := exec.Command(bin, "-t", "-f", path).CombinedOutput(); err != nil || len(out) != 0 {
				t.Errorf("%s -t (http %v): %v\n%s\n%s", filepath.Base(bin), http, err, out, conf)
			}
		}
	}
}
