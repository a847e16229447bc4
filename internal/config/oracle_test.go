package config

// The oracle test holds Load to the verdicts that the real keepalived 2.2.7
// gave for every config of testdata/oracle and testdata/samples, as recorded
// by scripts/oracle-record.sh into testdata/oracle/verdicts.json (and proved
// still true by TestOracleLive). For each case it compares the `-t` exit
// code and the set of line numbers cited by non-Extra diagnostics.
//
// Re-record (as root, keepalived installed): scripts/oracle-record.sh
// See testdata/oracle/FINDINGS.md for what keepalived says and where.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// verdict is one entry of testdata/oracle/verdicts.json.
type verdict struct {
	File     string   `json:"file"`     // relative to testdata, e.g. "oracle/x.conf"
	Exit     int      `json:"exit"`     // keepalived -t exit code as recorded
	Lines    []int    `json:"lines"`    // sorted unique line numbers keepalived cited
	Unknown  []string `json:"unknown"`  // keywords keepalived called "Unknown keyword"
	Messages []string `json:"messages"` // distinct output lines, in order

	// Hand-written overrides for cases where keepalived itself misbehaves
	// (a segfault, rc 139; a self-inflicted SIGTERM, rc 143): what we must
	// do instead. The live test still checks the recorded Exit/Lines.
	ExpectExit  *int   `json:"expect_exit,omitempty"`
	ExpectLines []int  `json:"expect_lines,omitempty"`
	Note        string `json:"note,omitempty"`
}

func (v verdict) wantExit() int {
	if v.ExpectExit != nil {
		return *v.ExpectExit
	}
	return v.Exit
}

func (v verdict) wantLines() []int {
	if v.ExpectLines != nil {
		return v.ExpectLines
	}
	return v.Lines
}

// subtestName is the case's file name without the "oracle/" directory and
// ".conf" suffix (samples keep their "samples/" prefix).
func (v verdict) subtestName() string {
	return strings.TrimSuffix(strings.TrimPrefix(v.File, "oracle/"), ".conf")
}

func loadVerdicts(t *testing.T) []verdict {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "oracle", "verdicts.json"))
	if err != nil {
		t.Fatalf("reading verdicts: %v", err)
	}
	var vs []verdict
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatalf("parsing verdicts.json: %v", err)
	}
	if len(vs) == 0 {
		t.Fatal("verdicts.json is empty")
	}
	return vs
}

// oracleInterfaces are the interfaces of the recording namespace.
func oracleInterfaceExists(n string) bool {
	return n == "lo" || n == "eth0" || n == "eth1" || n == "eth2" || n == "eth3"
}

// oracleUserExists: the recording machine had root and nobody, and not the
// keepalived_script user. Pinned so a developer machine with other users
// gets the same verdicts.
func oracleUserExists(n string) bool {
	return n == "root" || n == "nobody"
}

func TestOracle(t *testing.T) {
	for _, v := range loadVerdicts(t) {
		t.Run(v.subtestName(), func(t *testing.T) {
			_, diags := Load(filepath.Join("testdata", v.File), Options{
				ConfigID:        "testhost",
				InterfaceExists: oracleInterfaceExists,
				// The recording namespace's lo is its only loopback.
				LoopbackInterface: func(n string) bool { return n == "lo" },
				UserExists:        oracleUserExists,
			})

			var got []int
			for _, d := range diags {
				if d.Extra || d.Line <= 0 {
					continue
				}
				if !slices.Contains(got, d.Line) {
					got = append(got, d.Line)
				}
			}
			sort.Ints(got)

			wantExit, wantLines := v.wantExit(), v.wantLines()
			gotExit := diags.ExitCode()
			exitOK := gotExit == wantExit
			linesOK := slices.Equal(got, wantLines) || (len(got) == 0 && len(wantLines) == 0)
			if exitOK && linesOK {
				return
			}
			var b strings.Builder
			if !exitOK {
				fmt.Fprintf(&b, "exit code: got %d, want %d\n", gotExit, wantExit)
			}
			if !linesOK {
				fmt.Fprintf(&b, "cited lines: got %v, want %v\n", got, wantLines)
			}
			if v.Note != "" {
				fmt.Fprintf(&b, "note: %s\n", v.Note)
			}
			fmt.Fprintf(&b, "keepalived 2.2.7 said (exit %d):\n", v.Exit)
			for _, m := range v.Messages {
				fmt.Fprintf(&b, "    %s\n", m)
			}
			b.WriteString("we said:\n")
			for _, d := range diags {
				extra := ""
				if d.Extra {
					extra = " [extra]"
				}
				fmt.Fprintf(&b, "    code %d line %d%s: %s\n", d.Code, d.Line, extra, d.String())
			}
			t.Error(b.String())
		})
	}
}

// TestOracleCorpusComplete checks that every corpus file has a recorded
// verdict and every verdict a file, and that each oracle case says in its
// first line what it tests.
func TestOracleCorpusComplete(t *testing.T) {
	recorded := map[string]bool{}
	for _, v := range loadVerdicts(t) {
		if recorded[v.File] {
			t.Errorf("%s: recorded twice", v.File)
		}
		recorded[v.File] = true
		if _, err := os.Stat(filepath.Join("testdata", v.File)); err != nil {
			t.Errorf("%s: verdict without a file: %v", v.File, err)
		}
		if (v.Exit == 139 || v.Exit == 143 || v.Exit == 124) && v.ExpectExit == nil {
			t.Errorf("%s: keepalived crashed or timed out (exit %d) and the verdict has no expect_exit override", v.File, v.Exit)
		}
	}
	confs, _ := filepath.Glob(filepath.Join("testdata", "oracle", "*.conf"))
	samples, _ := filepath.Glob(filepath.Join("testdata", "samples", "*"))
	if len(confs) < 70 {
		t.Errorf("only %d oracle cases", len(confs))
	}
	for _, p := range append(confs, samples...) {
		rel, _ := filepath.Rel("testdata", p)
		rel = filepath.ToSlash(rel)
		if !recorded[rel] {
			t.Errorf("%s: no verdict recorded (run scripts/oracle-record.sh %s)", rel, rel)
		}
	}
	for _, p := range confs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "# "+strings.TrimSuffix(filepath.Base(p), ".conf")+": ") {
			t.Errorf("%s: first line should be '# NAME: what it tests'", p)
		}
	}
}

// oracleExactMessages are the cases whose every message we print as
// keepalived 2.2.7 does (same text, same line), not only the same lines
// and exit code.
var oracleExactMessages = []string{
	"oracle/err-track-file-weight.conf",
	"oracle/err-track-file-init.conf",
	"oracle/err-track-file-no-file.conf",
	"oracle/err-track-process-quorum.conf",
	"oracle/err-track-process-values.conf",
	"oracle/err-interface-loopback.conf",
	"oracle/syn-missing-open-brace.conf",
	"oracle/syn-missing-open-brace-nested.conf",
	"oracle/syn-missing-open-brace-global.conf",
	"oracle/syn-unterminated-quote-param.conf",
	"oracle/err-global-value-missing.conf",
	"oracle/err-vsg-range.conf",
	"oracle/warn-vsg-mixed-family.conf",
}

// TestOracleMessages holds the cases of oracleExactMessages to keepalived's
// recorded messages: the set of "(Line N) text" (or "text" without a line)
// must be the same, whatever the file name and however often keepalived's
// processes repeat them.
func TestOracleMessages(t *testing.T) {
	byFile := map[string]verdict{}
	for _, v := range loadVerdicts(t) {
		byFile[v.File] = v
	}
	for _, file := range oracleExactMessages {
		v, ok := byFile[file]
		if !ok {
			t.Errorf("%s: no recorded verdict", file)
			continue
		}
		t.Run(v.subtestName(), func(t *testing.T) {
			want := map[string]bool{}
			for _, m := range v.Messages {
				want[oracleCiteRe.ReplaceAllString(m, "(Line $2)")] = true
			}
			_, diags := Load(filepath.Join("testdata", v.File), Options{
				ConfigID:          "testhost",
				InterfaceExists:   oracleInterfaceExists,
				LoopbackInterface: func(n string) bool { return n == "lo" },
				UserExists:        oracleUserExists,
			})
			got := map[string]bool{}
			for _, d := range diags {
				if d.Extra {
					continue
				}
				m := d.Msg
				if d.Line > 0 {
					m = fmt.Sprintf("(Line %d) %s", d.Line, d.Msg)
				}
				got[m] = true
			}
			for m := range want {
				if !got[m] {
					t.Errorf("keepalived said %q, we did not", m)
				}
			}
			for m := range got {
				if !want[m] {
					t.Errorf("we said %q, keepalived did not", m)
				}
			}
		})
	}
}
