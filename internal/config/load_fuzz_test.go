package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad drives the whole front end (preprocess, parse, validate) with
// arbitrary text: it must never panic, and its verdict must be one of
// keepalived's -t exit codes.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"testdata/samples", "testdata/oracle"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("vrrp_instance X {\n virtual_ipaddress {\n 1.2.3.4/33 dev\n }\n unicast_peer {\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, diags := LoadBytes(filepath.Join(t.TempDir(), "fuzz.conf"), data, testOpts)
		if cfg == nil {
			t.Fatal("Load returned no model")
		}
		switch code := diags.ExitCode(); code {
		case ExitOK, ExitMissingParam, ExitFatal, ExitConfigErrors, ExitScriptSecurity:
		default:
			t.Fatalf("exit code %d is not one of keepalived's", code)
		}
		for _, d := range diags {
			if d.Line < 0 {
				t.Fatalf("negative line in %v", d)
			}
		}
	})
}
