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
// test corpora, on a large configuration, and on blocks longer than the
// lexer's word chunks whose opening line is needed after their body.
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
		"nested.conf":         long("virtual_server 192.0.2.1 80 {\n    protocol TCP\n", "    real_server 192.0.2.2 80 {\n        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n", "    real_server 192.0.2.3 80 {\n        weight 1\n", 1000),
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
		cfg, diags := LoadBytes(name, []byte(text), testOpts)

		opts := testOpts
		opts.fill()
		lines, want := PreprocessBytes(name, []byte(text), LexOptions{ConfigID: opts.ConfigID, Instance: opts.Instance})
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
}

func dumpJSON(t *testing.T, cfg *Config) string {
	t.Helper()
	var b bytes.Buffer
	if err := cfg.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
