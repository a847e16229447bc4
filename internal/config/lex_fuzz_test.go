package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzPreprocess checks that no input makes the preprocessor panic, loop or
// produce unbounded output, and that every line has a position.
func FuzzPreprocess(f *testing.F) {
	samples, _ := filepath.Glob("/work/shared/keepalived-samples/keepalived.conf.*")
	local, _ := filepath.Glob("testdata/lex/*/*.conf")
	for _, p := range append(samples, local...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"$A=$A\nx $A\n", "$M=a \\\n$M\n$M\n", "~SEQ(i,100) ~SEQ(j,100) ~SEQ(k,100) x\n",
		"~LST({a,b},{1,2},{3}) ${a}${b}\n", "include {a,{b,c}}*.conf\n", "a { b } \"c\n", "${_RANDOM 9 1}\n",
		"$X=${_HASH}\n$X kw\n", "@main a\n@^main b\n", "~SEQx(i,0x10,0x1) ${i}\n", "$A=${A}${A}\nx $A\n",
	} {
		f.Add([]byte(s))
	}
	const maxLines = 5000
	f.Fuzz(func(t *testing.T, data []byte) {
		// Includes resolve in testdata, a directory with nothing harmful.
		lines, _ := PreprocessBytes("testdata/lex/fuzz.conf", data, LexOptions{ConfigID: "main", MaxLines: maxLines})
		if len(lines) > maxLines {
			t.Fatalf("%d lines", len(lines))
		}
		for _, l := range lines {
			if l.Num <= 0 || len(l.Tokens) == 0 {
				t.Fatalf("bad line %+v", l)
			}
		}
	})
}
