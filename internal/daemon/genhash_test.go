package daemon

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// keepalived -T (--genhash) is genhash, with keepalived's usage line and
// its warning when -T comes after other options; a program named genhash
// (Debian's /usr/bin/genhash is a link to keepalived) is genhash too.
func TestGenhashModeAsKeepalived(t *testing.T) {
	const keepalived = "/usr/sbin/keepalived"
	if _, err := os.Stat(keepalived); err != nil {
		testenv.Unavailable(t, "this test needs keepalived at "+keepalived)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.Read(buf)
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nHello world\n")
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	usecs := regexp.MustCompile(`= [0-9]+ usecs`)
	for _, args := range [][]string{
		{"-T", "-s", "127.0.0.1", "-p", port, "-u", "/"},
		{"--genhash", "-s", "127.0.0.1", "-p", port, "-u", "/", "-v"},
		{"-D", "-T", "-s", "127.0.0.1", "-p", port, "-u", "/"},
		{"-T"},
		{"-T", "-x"},
		{"-T", "-h"},
	} {
		cmd := exec.Command(keepalived, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		code := 0
		if err := cmd.Run(); err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			code = ee.ExitCode()
		}
		var gotOut, gotErr bytes.Buffer
		gotCode := Main(keepalived, args, &gotOut, &gotErr)
		want := usecs.ReplaceAllString(out.String(), "")
		got := usecs.ReplaceAllString(gotOut.String(), "")
		if gotCode != code || got != want || gotErr.String() != errb.String() {
			t.Errorf("keepalived %q: exit %d, stdout %q, stderr %q; want %d, %q, %q",
				args, gotCode, got, gotErr.String(), code, want, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := Main("/usr/bin/genhash", []string{"-s", "127.0.0.1", "-p", port, "-u", "/"}, &out, &errb); code != 0 ||
		out.String() != "f0ef7081e1539ac00ef5b761b4fb01b3\n" {
		t.Errorf("as genhash: exit %d, %q %q", code, out.String(), errb.String())
	}
}
