package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// render shows lines compactly: "N: w1 w2", quoted words in "", and the
// file name when it is not the main one.
func render(main string, lines []Line) []string {
	var out []string
	for _, l := range lines {
		var b strings.Builder
		if l.File != main {
			b.WriteString(l.File + ":")
		}
		fmt.Fprintf(&b, "%d:", l.Num)
		for _, t := range l.Tokens {
			if t.Quoted {
				fmt.Fprintf(&b, " %q", t.Text)
			} else {
				b.WriteString(" " + t.Text)
			}
			if t.File != l.File || t.Line != l.Num {
				b.WriteString("(bad token position)")
			}
		}
		out = append(out, b.String())
	}
	return out
}

func renderDiags(ds Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%d %s", d.Code, d))
	}
	return out
}

func lexString(t *testing.T, text string, opts LexOptions) ([]string, []string) {
	t.Helper()
	lines, diags := PreprocessBytes("/etc/keepalived/t.conf", []byte(text), opts)
	for _, l := range lines {
		if l.Num <= 0 {
			t.Errorf("line with Num %d: %q", l.Num, l.Raw)
		}
	}
	return render("/etc/keepalived/t.conf", lines), renderDiags(diags)
}

func eq(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

type lexCase struct {
	name  string
	in    string
	want  []string
	diags []string // nil means none expected
}

func runLexCases(t *testing.T, cases []lexCase, opts LexOptions) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, diags := lexString(t, c.in, opts)
			if !eq(got, c.want) {
				t.Errorf("lines:\n got %q\nwant %q", got, c.want)
			}
			if !eq(diags, c.diags) {
				t.Errorf("diags:\n got %q\nwant %q", diags, c.diags)
			}
		})
	}
}

const tf = "/etc/keepalived/t.conf"

func TestLexBasics(t *testing.T) {
	runLexCases(t, []lexCase{
		{"blank and whitespace", "\n  a b  \n\t\n\tc\td\r\n", []string{"2: a b", "4: c d"}, nil},
		{"comments", "a # c\nb ! c\n# all\n! all\nc#x\n", []string{"1: a", "2: b", "5: c"}, nil},
		{"comment in quotes kept", `a "b # c" d # e` + "\n", []string{`1: a "b # c" d`}, nil},
		{"single quotes do not protect", "a 'b # c'\n", []string{"1: a 'b"}, nil},
		{"escaped comment chars", `a \#b \!c` + "\n", []string{"1: a #b !c"}, nil},
		{"escape kept inside quotes", `a "\#b"` + "\n", []string{`1: a "\\#b"`}, nil},
		{"quoted word ends word", `a abc"def" x` + "\n", []string{`1: a abc "def" x`}, nil},
		{"empty quoted", `a ""` + "\n", []string{`1: a ""`}, nil},
		{"unterminated quote", "a \"b c\nd\n", []string{"1: a", "2: d"}, []string{
			`5 error: (` + tf + `: Line 1) Unterminated quote 'a "b c'`,
			`5 error: (` + tf + `: Line 1) Unmatched quote: 'a "b c'`}},
		{"no trailing newline", "a\nb", []string{"1: a", "2: b"}, nil},
		{"CR only stripped at end, then white space", "a\rb\r\r\n", []string{"1: a b"}, nil},
		{"trailing backslash is not a continuation", "a \\\nb\n", []string{"1: a\\", "2: b"}, nil},
	}, LexOptions{})
}

func TestLexBraces(t *testing.T) {
	runLexCases(t, []lexCase{
		{"keyword brace", "a b{\n}\n", []string{"1: a b", "1: {", "2: }"}, nil},
		{"one line block", "a { b c }\n", []string{"1: a", "1: {", "1: b c", "1: }"}, nil},
		{"brace then text", "{ x\n}x\n", []string{"1: {", "1: x", "2: }", "2: x"}, nil},
		{"brace in quotes", "a \"x{\" y\n", []string{`1: a "x{" y`}, nil},
		{"brace after unterminated quote", "a \"x{ y\n", []string{"1: a"}, []string{
			`5 error: (` + tf + `: Line 1) Unterminated quote 'a "x{ y'`,
			`5 error: (` + tf + `: Line 1) Unmatched quote: 'a "x{ y'`}},
		{"extra close", "}\na\n", []string{"1: }", "2: a"}, []string{"5 error: (" + tf + ": Line 1) Extra '}' found"}},
		{"missing close", "a {\nb {\n}\n", []string{"1: a", "1: {", "2: b", "2: {", "3: }"}, []string{"5 error: There are 1 missing '}'s or extra '{'s"}},
		{"residue is processed again", "a { $X=1\nb $X\n", []string{"1: a", "1: {", "2: b 1"}, []string{"5 error: There are 1 missing '}'s or extra '{'s"}},
	}, LexOptions{})
}

func TestLexConditional(t *testing.T) {
	runLexCases(t, []lexCase{
		{"match", "@main a\n@^main b\n@other c\n@^other d\n@main\n@main   e f\n", []string{"1: a", "4: d", "6: e f"}, nil},
		{"conditional definition", "@main $P=240\n@backup $P=200\np $P\n", []string{"3: p 240"}, nil},
		{"conditional from substitution", "$IF_MAIN=@main\n$IF_MAIN priority 240\n$IF_B=@b\n$IF_B x\n", []string{"2: priority 240"}, nil},
	}, LexOptions{ConfigID: "main"})
}

func TestLexDefinitions(t *testing.T) {
	runLexCases(t, []lexCase{
		{"simple", "$A=1\nx $A\nx ${A}y\nx $A,y $A) ${A}\n", []string{"2: x 1", "3: x 1y", "4: x 1,y 1) 1"}, nil},
		{"not followed by separator", "$n=1\nx $n/24 ${n}/24\n", []string{"2: x $n/24 1/24"}, nil},
		{"undefined left alone", "x $NOPE $\n", []string{"1: x $NOPE $"}, nil},
		{"no space before =", "$A =1\n", []string{"1: $A =1"}, nil},
		{"bad name", "$1A=1\n", []string{"1: $1A=1"}, nil},
		{"empty value", "$A=\nx $A y\n", []string{"2: x y"}, nil},
		{"lazy and recursive", "$B=10.2.${S}\n$S=0\n${B}.100/32\n$S=10\n${B}.100/32\n",
			[]string{"3: 10.2.0.100/32", "5: 10.2.10.100/32"}, nil},
		{"redefinition", "$A=1\n$A=2\nx $A\n", []string{"3: x 2"}, nil},
		{"value comment is stripped", "$A=1 # c\nx $A\n", []string{"2: x 1"}, nil},
		{"hash recomments", "$X=${_HASH}\n$X kw\nk ${_HASH}x ${_BANG}\n", []string{"3: k"}, nil},
		{"override builtin", "$_HASH=h\nx ${_HASH}\n", []string{"2: x h"}, nil},
		{"brace trailing space quirk", "$F=bar\n${F }x\n", []string{"2: bar", "2: }", "2: x"}, []string{"5 error: (" + tf + ": Line 2) Extra '}' found"}},
		{"multi-line", "$M= \\\n a 1 \\\n b {\\\n }\n$M\nz\n", []string{"5: a 1", "5: b", "5: {", "5: }", "6: z"}, nil},
		{"multi-line only at end of line", "$M=a \\\nb\nx $M y\n$M\n", []string{"3: x $M y", "4: a", "4: b"}, nil},
		{"multi-line empty line ends", "$M=a \\\n\nb\n$M\n", []string{"3: b", "4: a"}, nil},
		{"multi-line comment line does not end", "$M=a \\\n# c\nb\n$M\n", []string{"4: a", "4: b"}, nil},
		{"multi-line single line becomes simple", "$M=\\\nb\nx $M y\n", []string{"3: x b y"}, nil},
		{"nested multi-line", "$R= \\\nr ${N} \\\nr2\n$V= \\\nv1 \\\n$N=1 \\\n$R \\\n$N=2 \\\n$R \\\nv2\n$V\n",
			[]string{"11: v1", "11: r 1", "11: r2", "11: r 2", "11: r2", "11: v2"}, nil},
	}, LexOptions{})
}

func TestLexSelfReference(t *testing.T) {
	got, diags := lexString(t, "$A=$A x\ny $A\n$B=$B\nz $B\n", LexOptions{})
	if len(got) != 2 || !strings.HasPrefix(got[0], "2: y $A x x") || len(strings.Join(got[:1], "")) > lexMaxBuf+10 {
		t.Errorf("got %q", got)
	}
	if len(diags) != 2 || !strings.Contains(diags[0], "would exceed maximum line length") || !strings.Contains(diags[1], "does not terminate") {
		t.Errorf("diags %q", diags)
	}
}

func TestLexBuiltins(t *testing.T) {
	opts := LexOptions{ConfigID: "main", Instance: "inst1", Env: func(k string) string { return "env_" + k }}
	runLexCases(t, []lexCase{
		{"pwd instance env", "${_PWD} ${_INSTANCE} ${_ENV FOO}\n", []string{"1: /etc/keepalived inst1 env_FOO"}, nil},
		{"random fixed", "x ${_RANDOM 5 5}y ${_RANDOM 7 7}\n", []string{"1: x 5y 7"}, nil},
		{"random bad params left", "x ${_RANDOM a}\n", []string{"1: x $", "1: {", "1: _RANDOM a", "1: }"}, nil},
		{"params on plain definition", "$A=1\nx ${A 2}\n", []string{"2: x $", "2: {", "2: A 2", "2: }"}, nil},
	}, opts)
	got, _ := lexString(t, "${_INSTANCE}\n", LexOptions{ConfigID: "cid"})
	if !eq(got, []string{"1: cid"}) {
		t.Errorf("_INSTANCE defaults to config id: %q", got)
	}
	for range 50 {
		got, _ := lexString(t, "${_RANDOM 3 4} ${_RANDOM}\n", LexOptions{})
		var a, b int
		if _, err := fmt.Sscanf(got[0], "1: %d %d", &a, &b); err != nil || a < 3 || a > 4 || b < 0 || b > 32767 {
			t.Fatalf("random out of range: %q", got)
		}
	}
}

func TestLexSequences(t *testing.T) {
	runLexCases(t, []lexCase{
		{"seq end only", "~SEQ(i,3) k$i ${i}\n", []string{"1: k1 1", "1: k2 2", "1: k3 3"}, nil},
		{"seq start end", "~SEQ(i, 3, 1) k${i}\n", []string{"1: k3", "1: k2", "1: k1"}, nil},
		{"seq step", "~SEQ(i, 0, 5, 12) k${i}\n", []string{"1: k0", "1: k5", "1: k10"}, nil},
		{"seq negative end", "~SEQ(i, -2) k${i}\n", []string{"1: k-1", "1: k-2"}, nil},
		{"seqx", "~SEQx(S, 0x90, 0x10, 0xc0) ip fe80::20:${S}:1\n", []string{"1: ip fe80::20:90:1", "1: ip fe80::20:a0:1", "1: ip fe80::20:b0:1", "1: ip fe80::20:c0:1"}, nil},
		{"seq octal like strtol", "~SEQ(i, 010, 9) k${i}\n", []string{"1: k8", "1: k9"}, nil},
		{"seq params from definitions", "$N=2\n~SEQ(i, $N) k${i}\n", []string{"2: k1", "2: k2"}, nil},
		{"nested seqs", "~SEQ(i,2) ~SEQx(j,10,11) s_${i}_${j}\n", []string{"1: s_1_a", "1: s_1_b", "1: s_2_a", "1: s_2_b"}, nil},
		{"seq with braces", "~SEQ(i,2) v${i} { x }\n", []string{"1: v1", "1: {", "1: x", "1: }", "1: v2", "1: {", "1: x", "1: }"}, nil},
		{"lst simple", "~LST(a, x, y) v_${a}\n", []string{"1: v_x", "1: v_y"}, nil},
		{"lst sets", "~LST({a,b},{1,2},3) l_${a}_${b}\n", []string{"1: l_1_2", "1: l_3_"}, nil},
		{"lst in seq", "~SEQ(i,2) ~LST(a,x,y) ${i}${a}\n", []string{"1: 1x", "1: 1y", "1: 2x", "1: 2y"}, nil},
		{"seq in multi-line", "$M=a${i} \\\nb${i}\n~SEQ(i,2) $M\n", []string{"3: a1", "3: b1", "3: a2", "3: b2"}, nil},
		{"invalid seq values", "~SEQ(i, 1, -1, 3) x\ny\n", []string{"2: y"}, []string{
			"5 error: (" + tf + ": Line 1) Invalid ~SEQ values '~SEQ(i, 1, -1, 3) x'",
			"5 error: (" + tf + ": Line 1) Invalid ~SEQ specification '~SEQ(i, 1, -1, 3) x'"}},
		{"invalid seq", "~SEQ(i) x\n~SEQ i,1\n", nil, []string{
			"5 error: (" + tf + ": Line 1) Invalid ~SEQ definition '~SEQ(i) x'",
			"5 error: (" + tf + ": Line 1) Invalid ~SEQ specification '~SEQ(i) x'",
			"5 error: (" + tf + ": Line 2) Invalid ~SEQ specification '~SEQ i,1'"}},
		{"seqx negative", "~SEQx(i, -1, 1) x\n", nil, []string{
			"5 error: (" + tf + ": Line 1) ~SEQx is only valid for positive numbers '~SEQx(i, -1, 1) x'",
			"5 error: (" + tf + ": Line 1) Invalid ~SEQ specification '~SEQx(i, -1, 1) x'"}},
		{"lst too many values", "~LST({a},{1,2}) x\n", nil, []string{
			"5 error: (" + tf + ": Line 1) ~LST specification has too many values '~LST({a},{1,2}) x'",
			"5 error: (" + tf + ": Line 1) Invalid ~LST specification '~LST({a},{1,2}) x'"}},
		{"other tilde kept", "~foo bar\n", []string{"1: ~foo bar"}, nil},
	}, LexOptions{})
}

func TestLexMaxLines(t *testing.T) {
	lines, diags := PreprocessBytes(tf, []byte("~SEQ(i, 1000000000) ~SEQ(j, 1000000000) x\n~SEQ(i,1000000000)\n"), LexOptions{MaxLines: 1000})
	if len(lines) > 1000 || diags.ExitCode() != ExitFatal {
		t.Errorf("lines %d diags %v", len(lines), diags)
	}
	// A sequence with no text produces no lines but must still stop.
	lines, diags = PreprocessBytes(tf, []byte("~SEQ(i,1000000000)\n"), LexOptions{MaxLines: 1000})
	if len(lines) != 0 || diags.ExitCode() != ExitFatal {
		t.Errorf("lines %d diags %v", len(lines), diags)
	}
}

func TestLexLongLinesAndNUL(t *testing.T) {
	long := "a " + strings.Repeat("x", 1100)
	got, diags := lexString(t, "first\n"+long+"\nlast\n", LexOptions{})
	want := []string{"1: first", "2: a " + strings.Repeat("x", 1021), "2: " + strings.Repeat("x", 79), "3: last"}
	if !eq(got, want) {
		t.Errorf("got %q", got)
	}
	if len(diags) != 1 || !strings.Contains(diags[0], "0 warning: (/etc/keepalived/t.conf: Line 2) Line is 1102 bytes long") {
		t.Errorf("diags %q", diags)
	}
	// Exactly 1023 bytes plus CRLF is not visibly split.
	got, diags = lexString(t, strings.Repeat("y", 1023)+"\r\nz\n", LexOptions{})
	if !eq(got, []string{"1: " + strings.Repeat("y", 1023), "2: z"}) || diags != nil {
		t.Errorf("got %q %q", got, diags)
	}
	got, diags = lexString(t, "a\n  bad\x00kw\nb\n", LexOptions{})
	if !eq(got, []string{"1: a", "2: bad", "3: b"}) || len(diags) != 1 || !strings.Contains(diags[0], "Line 2) Line contains a NUL") {
		t.Errorf("got %q %q", got, diags)
	}
}

func TestLexIncludes(t *testing.T) {
	main := filepath.Join("testdata", "lex", "inc", "main.conf")
	lines, diags := Preprocess(main, LexOptions{})
	abs, _ := filepath.Abs(filepath.Join("testdata", "lex", "inc", "sub"))
	abs = physicalDir(abs)
	want := []string{
		"1: top1",
		"sub/a.conf:1: a1",
		"../sub2/b.conf:1: b1",
		"sub/a.conf:3: a3 " + abs,
		"3: top3",
		"sub2/b.conf:1: b1",
		"sub2/c.conf:1: c1",
		"sub2/c.conf:2: c2",
		"sub2/c.conf:2: {",
		"5: top5",
	}
	if got := render(main, lines); !eq(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := renderDiags(diags); !eq(got, []string{"5 error: There are 1 missing '}'s or extra '{'s"}) {
		t.Errorf("diags %q", got)
	}
}

func TestLexIncludeLoop(t *testing.T) {
	main := filepath.Join("testdata", "lex", "loop", "a.conf")
	lines, diags := Preprocess(main, LexOptions{})
	want := []string{"1: loop_a1", "b.conf:1: loop_b1", "b.conf:3: loop_b3", "3: loop_a3"}
	if got := render(main, lines); !eq(got, want) {
		t.Errorf("got %q", got)
	}
	if got := renderDiags(diags); !eq(got, []string{"0 warning: (b.conf: Line 2) Configuration file 'a.conf' open problem (include loop) - skipping"}) {
		t.Errorf("diags %q", got)
	}
	// A file including itself through includer is an error that stops keepalived.
	dir := t.TempDir()
	write(t, dir, "s.conf", "includer s.conf\n")
	_, diags = Preprocess(filepath.Join(dir, "s.conf"), LexOptions{})
	if diags.ExitCode() != exitNoConfig {
		t.Errorf("diags %v", diags)
	}
}

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLexIncludeChecks covers the include variants; messages and exit codes
// were measured with keepalived 2.2.7 -t (see the oracle test).
func TestLexIncludeChecks(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.conf", "aa\n")
	write(t, dir, "b.conf", "bb\n")
	write(t, dir, "d/1.conf", "d1\n")
	write(t, dir, "d/2.conf", "d2\n")
	write(t, dir, "d/.hidden.conf", "hidden\n")
	write(t, dir, "x.conf", "xx\n")
	if err := os.Chmod(filepath.Join(dir, "x.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in    string
		lines []string
		diags []string
	}{
		{"include {b,a}.conf", []string{"b.conf:1: bb", "a.conf:1: aa"}, nil},
		{"include {d/*,a}.conf", []string{"d/1.conf:1: d1", "d/2.conf:1: d2", "a.conf:1: aa"}, nil},
		{"include d/*.conf  # comment", []string{"d/1.conf:1: d1", "d/2.conf:1: d2"}, nil},
		{"include {b,a}.conf d/*.conf", nil, []string{"0 warning: (M: Line 1) Config files missing '{b,a}.conf d/*.conf'."}},
		{"include missing.conf", nil, []string{"0 warning: (M: Line 1) Config files missing 'missing.conf'."}},
		{"includem missing.conf", nil, []string{"6 error: (M: Line 1) Config files missing 'missing.conf'."}},
		{"includem nodir/*.conf", nil, []string{"6 error: (M: Line 1) Config files missing 'nodir/*.conf'."}},
		{"includem empty/*.conf", nil, nil},
		{"includer empty/*.conf", nil, nil},
		{"includew empty/*.conf", nil, []string{"6 error: (M: Line 1) No config files matched 'empty/*.conf'."}},
		{"include {a,missing}.conf", []string{"a.conf:1: aa"}, []string{"0 warning: (M: Line 1) Some config files missing: \"{a,missing}.conf\"."}},
		{"includeb {a,missing}.conf", nil, []string{"6 error: (M: Line 1) Some config files missing: \"{a,missing}.conf\"."}},
		{"includem {a,missing}.conf", []string{"a.conf:1: aa"}, []string{"0 warning: (M: Line 1) Some config files missing: \"{a,missing}.conf\"."}},
		{"include d", nil, []string{"0 warning: (M: Line 1) Configuration file 'd/' is a directory - skipping"}},
		{"include d/", nil, []string{"0 warning: (M: Line 1) Configuration file 'd//' is a directory - skipping"}},
		{"includer d", nil, []string{"6 error: (M: Line 1) Configuration file 'd/' is a directory - skipping"}},
		{"include x.conf", nil, []string{"0 warning: (M: Line 1) Configuration file 'x.conf' is not a regular non-executable file - skipping"}},
		{"includea x.conf", nil, []string{"6 error: (M: Line 1) Configuration file 'x.conf' is not a regular non-executable file - skipping"}},
		{"include\ta.conf", []string{"a.conf:1: aa"}, nil},
		{"include", []string{"1: include"}, nil},
		{"includex a.conf", []string{"1: includex a.conf"}, nil},
		{"include_check match\ninclude missing.conf", []string{"1: include_check match"}, []string{"6 error: (M: Line 2) Config files missing 'missing.conf'."}},
		{"$F=a.conf\ninclude $F", []string{"a.conf:1: aa"}, nil},
		{"@main include a.conf\n@other include b.conf", []string{"a.conf:1: aa"}, nil},
	}
	for _, c := range cases {
		main := write(t, dir, "main.conf", c.in+"\n")
		lines, diags := Preprocess(main, LexOptions{ConfigID: "main"})
		got := render(main, lines)
		gd := renderDiags(diags)
		for i := range gd {
			gd[i] = strings.ReplaceAll(gd[i], main, "M")
		}
		if !eq(got, c.lines) || !eq(gd, c.diags) {
			t.Errorf("%q:\n got %q %q\nwant %q %q", c.in, got, gd, c.lines, c.diags)
		}
	}
}

func TestLexMainFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "b.conf", "bb\n")
	write(t, dir, "a.conf", "aa\n")
	lines, diags := Preprocess(filepath.Join(dir, "{b,a}.conf"), LexOptions{})
	if got := render("", lines); !eq(got, []string{dir + "/b.conf:1: bb", dir + "/a.conf:1: aa"}) {
		t.Errorf("got %q", got)
	}
	if diags.ExitCode() != ExitConfigErrors || !strings.Contains(diags[0].Msg, "WARNING, multiple configuration file matches of") {
		t.Errorf("diags %v", diags)
	}
	lines, diags = Preprocess(filepath.Join(dir, "none.conf"), LexOptions{})
	if lines != nil || diags.ExitCode() != ExitOK || diags[0].Msg != "Config files missing '"+dir+"/none.conf'." {
		t.Errorf("missing main: %v", diags)
	}
	lines, diags = Preprocess(dir, LexOptions{})
	if lines != nil || diags.ExitCode() != ExitOK || diags[0].Msg != "Configuration file '"+dir+"/' is a directory - skipping" {
		t.Errorf("directory main: %v", diags)
	}
}

func TestLexIncludeRelativeToBytesName(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("testdata", "lex", "brace"))
	lines, diags := PreprocessBytes(filepath.Join(dir, "virtual.conf"), []byte("include {c,a}.conf\ninclude [ab].conf\n"), LexOptions{})
	want := []string{"c.conf:1: cc", "a.conf:1: aa", "a.conf:1: aa", "b.conf:1: bb"}
	if got := render("", lines); !eq(got, want) || diags != nil {
		t.Errorf("got %q %v", got, diags)
	}
}

func TestLexSamples(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/keepalived-samples/keepalived.conf.*")
	if len(files) == 0 {
		t.Skip("samples not present")
	}
	for _, f := range files {
		lines, diags := Preprocess(f, LexOptions{ConfigID: "main"})
		if len(lines) == 0 || diags.ExitCode() != ExitOK {
			t.Errorf("%s: %d lines, %v", f, len(lines), diags)
		}
	}
}

func TestExpandBraces(t *testing.T) {
	for in, want := range map[string]string{
		"a":                    "a",
		"{a,b}":                "a b",
		"x{a,b{c,d}}y":         "xay xbcy xbdy",
		"{foo/{,cat,dog},bar}": "foo/ foo/cat foo/dog bar",
		"{a,b":                 "{a,b",
		`\{a,b}`:               `\{a,b}`,
		"{a}{1,2}":             "a1 a2",
	} {
		if got := strings.Join(expandBraces(in, 100), " "); got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
	if n := len(expandBraces(strings.Repeat("{a,b}", 30), 50)); n != 50 {
		t.Errorf("limit: %d", n)
	}
}

func TestStrtol(t *testing.T) {
	for in, want := range map[string][2]int64{
		"12)": {12, 2}, " -3,": {-3, 3}, "0x1f": {31, 4}, "010": {8, 3}, "0x": {0, 1}, "x": {0, 0},
		"99999999999999999999": {1<<63 - 1, 20}, "-99999999999999999999": {-1 << 63, 21}, "09": {0, 1},
	} {
		v, n := strtol(in, 0)
		if v != want[0] || int64(n) != want[1] {
			t.Errorf("%q: got %d,%d want %v", in, v, n, want)
		}
	}
}
