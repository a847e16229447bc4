package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedSamples is where the project's shared folder keeps the configs
// keepalived ships (beside the repository, in CI and on developers' machines).
const sharedSamples = "../../../shared/keepalived-samples"

// TestSamplesAreTheShippedOnes checks that testdata/samples, which the
// oracle test holds to keepalived's verdicts, still equals the shipped
// samples, so that "every sample is accepted" is about the real files.
func TestSamplesAreTheShippedOnes(t *testing.T) {
	if _, err := os.Stat(sharedSamples); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared samples missing in CI: %v", err)
		}
		t.Skipf("no shared samples beside the repository: %v", err)
	}
	shipped, _ := filepath.Glob(filepath.Join(sharedSamples, "keepalived.conf.*"))
	others, _ := filepath.Glob(filepath.Join(sharedSamples, "other", "*"))
	if len(shipped) == 0 {
		t.Fatal("no samples found")
	}
	for _, src := range append(shipped, others...) {
		name := filepath.Base(src)
		if strings.Contains(src, "/other/") {
			name = "other." + name
		}
		want, _ := os.ReadFile(src)
		got, err := os.ReadFile(filepath.Join("testdata/samples", name))
		if err != nil {
			t.Errorf("%s is not in testdata/samples: %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/samples/%s differs from the shipped %s", name, src)
		}
	}
}

// TestDumpOfEverySampleReadsBack checks that -d's output is itself a
// configuration that parses to the same model (the dump is faithful).
func TestDumpOfEverySampleReadsBack(t *testing.T) {
	files, _ := filepath.Glob("testdata/samples/*")
	valid, _ := filepath.Glob("testdata/oracle/valid-*.conf")
	for _, file := range append(files, valid...) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			lines, _ := Preprocess(file, LexOptions{ConfigID: "testhost"})
			cfg, orig := Parse(lines)
			said := map[string]bool{}
			for _, d := range orig {
				said[d.Msg] = true
			}
			var first bytes.Buffer
			cfg.Format(&first)
			again, diags := Parse(mustPreprocessBytes(t, first.Bytes()))
			var second bytes.Buffer
			again.Format(&second)
			if first.String() != second.String() {
				t.Fatalf("dump does not read back the same:\n--- first\n%s\n--- second\n%s", first.String(), second.String())
			}
			for _, d := range diags {
				if !d.Extra && !said[d.Msg] {
					t.Errorf("the dump has a finding the original has not: %v", d)
				}
			}
		})
	}
}

func mustPreprocessBytes(t *testing.T, data []byte) []Line {
	t.Helper()
	lines, diags := PreprocessBytes("dump.conf", data, LexOptions{ConfigID: "testhost"})
	for _, d := range diags {
		if !d.Extra && d.Code != ExitOK {
			t.Fatalf("the dump does not preprocess cleanly: %v", d)
		}
	}
	return lines
}
