package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestLoadEqualsPreprocessThenParse checks that Load, which parses lines
// as the lexer makes them and reuses the memory of their words, finds what
// Preprocess then Parse then validation find, with the same model: on the
// test corpora, on a large configuration, on blocks longer than the
// lexer's word chunks whose opening line is needed after their body, and
// on a long root block holding a block without its '{'.
func TestLoadEqualsPreprocessThenParse(t *testing.T) {
	long := func(head, line, tail string, n int) string {
		return head + strings.Repeat(line, n) + tail
	}
	inputs := map[string]string{
		"generated.conf":      string(generatedConfig(100, 10)),
		"unclosed.conf":       long("vrrp_instance VI_1 {\n", "    priority 100\n", "", 3000),
		"unclosed-value.conf": long("vrrp_instance VI_1 {\n    virtual_ipaddress {\n", "        192.0.2.1/32 dev eth0\n", "", 3000),
		"unclosed-group.conf": long("virtual_server_group G1 {\n", "    192.0.2.1 80\n", "", 3000),
		"group-words.conf":    long("vrrp_sync_group G1 group VI_1 VI_2\n", "vrrp_instance VI_1 {\n    priority 100\n}\n", "", 1000),
		// A block without its '{' after and before more lines than the
		// word chunks hold: what the processes skipping the root block
		// report is followed as the lines go by.
		"missing-open.conf": long("vrrp_instance VI_1 {\n    state MASTER\n", "    priority 100\n",
			"    authentication\n        auth_type PASS\n    }\n"+strings.Repeat("    advert_int 1\n    track_script {\n        s\n    }\n", 1000)+"}\n", 3000),
		"nested.conf": long("virtual_server 192.0.2.1 80 {\n    protocol TCP\n", "    real_server 192.0.2.2 80 {\n        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n", "    real_server 192.0.2.3 80 {\n        weight 1\n", 1000),
	}
	for _, glob := range []string{"testdata/oracle/*.conf", "testdata/samples/*", "testdata/lex/*/*.conf"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inputs[f] = string(data)
		}
	}
	for name, text := range inputs {
		checkLoadEqualsParse(t, name, []byte(text))
	}
}

// FuzzLoadEqualsPreprocessThenParse is TestLoadEqualsPreprocessThenParse on
// arbitrary text.
func FuzzLoadEqualsPreprocessThenParse(f *testing.F) {
	for _, dir := range []string{"testdata/samples", "testdata/oracle"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte("_RANDOM")) {
			t.Skip("${_RANDOM} differs from one read to the next")
		}
		checkLoadEqualsParse(t, filepath.Join(t.TempDir(), "fuzz.conf"), data)
	})
}

func checkLoadEqualsParse(t *testing.T, name string, data []byte) {
	t.Helper()
	cfg, diags := LoadBytes(name, data, testOpts)

	opts := testOpts
	opts.fill()
	lines, want := PreprocessBytes(name, data, LexOptions{ConfigID: opts.ConfigID, Instance: opts.Instance})
	wantCfg, pdiags := Parse(lines)
	want = append(want, pdiags...)
	want = append(want, validate(wantCfg, &opts)...)

	if !reflect.DeepEqual(diags, want) {
		t.Errorf("%s: Load found\n%v\nPreprocess, Parse and validation found\n%v", name, diags, want)
	}
	if got, exp := dumpJSON(t, cfg), dumpJSON(t, wantCfg); got != exp {
		t.Errorf("%s: Load's model differs from Parse's", name)
	}
}

func dumpJSON(t *testing.T, cfg *Config) string {
	t.Helper()
	var b bytes.Buffer
	if err := cfg.WriteJSON(&b); err != nil {
		return "error: " + err.Error()
	}
	return b.String()
}

// TestKeywordSet checks where a block's keywords are recorded, also when
// some of them come from an included file, and the set's operations.
func TestKeywordSet(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "main.conf")
	files := map[string]string{
		main:                             "vrrp_instance VI_1 {\n    state MASTER\n    include inner.conf\n    priority 100\n    priority 101\n}\n",
		filepath.Join(dir, "inner.conf"): "    interface eth0\n    virtual_router_id 5\n",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lines, _ := Preprocess(main, LexOptions{ConfigID: "testhost"})
	want := map[string]Pos{}
	for _, l := range lines {
		want[l.Tokens[0].Text] = Pos{l.File, l.Num} // the last one counts
	}
	cfg, _ := Load(main, testOpts)
	vi := cfg.Instances[0]
	var order []string
	for kw, pos := range vi.Set.All() {
		order = append(order, kw)
		if pos != want[kw] {
			t.Errorf("%s written at %v, want %v", kw, pos, want[kw])
		}
		if vi.PosOf(kw) != pos || !vi.IsSet(kw) {
			t.Errorf("PosOf/IsSet(%s) disagree with All", kw)
		}
	}
	if got := strings.Join(order, " "); got != "state interface virtual_router_id priority" || vi.Set.Len() != 4 {
		t.Errorf("keywords %q (%d), want them in the order first written", got, vi.Set.Len())
	}
	if want["interface"].File == want["state"].File {
		t.Fatalf("the test needs keywords from two files: %v", want)
	}
	vi.Set.Delete("interface")
	if vi.IsSet("interface") || vi.Set.Len() != 3 || vi.PosOf("interface") != vi.Pos {
		t.Errorf("interface still set after Delete")
	}
	var empty KeywordSet
	if _, ok := empty.Lookup("state"); ok || empty.Len() != 0 {
		t.Errorf("the zero KeywordSet is not empty")
	}
	empty.Delete("state")
	for range empty.All() {
		t.Errorf("the zero KeywordSet yields keywords")
	}
}
