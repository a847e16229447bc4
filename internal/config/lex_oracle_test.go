package config

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const keepalivedBin = "/usr/sbin/keepalived"

// oracleCases use only words that are not keepalived keywords, so that at
// the top level every line makes keepalived print either "Unknown keyword
// 'FIRST'" or "Unexpected '{' - ignoring" with its position. That lets us
// compare our lines with what keepalived read. Extra files are written
// beside main.conf.
var oracleCases = []struct {
	name  string
	main  string
	files map[string]string
}{
	{"substitution", "$FOO=bar\n${FOO }x\n$FOO,y\na$FOO\n$FOO)\n$X=${_HASH}\n$X kw\nq \"a b\"c d\n~foo\na{b}c\n\"x{\" y\n", nil},
	{"conditionals", "@main m1\n@^main m2\n@other m3\n@^other m4\n@main\n$IF_MAIN=@main\n$IF_MAIN m5\n", nil},
	{"sequences", "~SEQ(i,3) k$i ${i}\n~LST({a,b},{1,2},3) l_${a}_${b}\n~SEQ(i,2) ~SEQx(j,10,11) s_${i}_${j}\n~SEQ(i, 3, 1) r${i}\n~SEQ(i, 010, 9) o${i}\n~SEQ(i,2) v${i} { x }\n", nil},
	{"multi-line", "$R= \\\nr ${N} \\\nr2\n$V= \\\nv1 \\\n\n$N=1 \\\n# comment\n$R \\\n$N=2 \\\n$R \\\nv2\n$V\nafter\n$M=\\\nsingle\nx $M y\n", nil},
	{"comments and quotes", "a # c\nb ! c\nc \"d # e\" f\ng \\#h \\!i\nj \"\\#k\"\nl 'm # n'\no \"p q\nr\n}\n", nil},
	{"includes", "top1\ninclude sub/a.conf\ntop3\ninclude sub2/*.conf\ninclude {sub2/c,sub/a}.conf\ntop6\n",
		map[string]string{
			"sub/a.conf":  "a1\ninclude ../sub2/b.conf\na3\n",
			"sub2/b.conf": "b1\n",
			"sub2/c.conf": "c1 {\n$D=d\n}\n",
		}},
	{"include checks", "include missing.conf\nincluder nomatch*.conf\nx\nincludem nodir/*.conf\n", nil},
}

var oracleLine = regexp.MustCompile(`^\((?:(.*): )?Line (\d+)\) (.*)$`)

// runKeepalived returns the messages of keepalived's first parse of dir/main.conf.
func runKeepalived(t *testing.T, ns, dir string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "ip", "netns", "exec", ns, keepalivedBin, "-t", "-f", filepath.Join(dir, "main.conf"), "-l", "-n", "-i", "main").CombinedOutput()
	var msgs []string
	for _, s := range strings.Split(string(out), "\n") {
		if strings.Contains(s, "Unknown keyword 'zzend_sentinel'") {
			break
		}
		if m := oracleLine.FindStringSubmatch(s); m != nil {
			msgs = append(msgs, fmt.Sprintf("%s|%s|%s", m[1], m[2], m[3]))
		}
	}
	return msgs
}

// ourMessages predicts keepalived's messages from our lines and diagnostics.
func ourMessages(main string, lines []Line, diags Diagnostics) (kw []string, other map[string]bool) {
	file := func(f string) string {
		if f == main {
			return ""
		}
		return f
	}
	for _, l := range lines {
		msg := "Unknown keyword '" + l.Tokens[0].Text + "'"
		if l.Tokens[0].Text == "{" {
			msg = "Unexpected '{' - ignoring"
		}
		kw = append(kw, fmt.Sprintf("%s|%d|%s", file(l.File), l.Num, msg))
	}
	other = map[string]bool{}
	for _, d := range diags {
		other[fmt.Sprintf("%s|%d|%s", file(d.File), d.Line, d.Msg)] = true
	}
	return kw, other
}

func TestLexOracle(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	if _, err := os.Stat(keepalivedBin); err != nil || os.Geteuid() != 0 {
		if ci {
			t.Fatalf("CI=true but %s is missing or we are not root", keepalivedBin)
		}
		t.Skip("needs keepalived and root")
	}
	ns := fmt.Sprintf("lextest-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	for _, c := range oracleCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range c.files {
				write(t, dir, name, text)
			}
			main := write(t, dir, "main.conf", c.main+"zzend_sentinel\n")
			want := runKeepalived(t, ns, dir)
			lines, diags := Preprocess(main, LexOptions{ConfigID: "main"})
			kw, other := ourMessages(main, lines[:len(lines)-1], diags)
			var wantKw []string
			for _, w := range want {
				if strings.Contains(w, "|Unknown keyword '") || strings.Contains(w, "|Unexpected '{'") {
					wantKw = append(wantKw, w)
				} else if !other[w] {
					t.Errorf("keepalived said %q; we did not", w)
				}
			}
			if !eq(kw, wantKw) {
				t.Errorf("lines differ:\n ours %q\n keepalived %q", kw, wantKw)
			}
		})
	}
}
