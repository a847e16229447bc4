package test

import (
	"bufio"
	"compress/gzip"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// The package's files, as README's Packaging paragraph names them.
const (
	debBinary  = "/usr/sbin/keepalived-go"
	debGenhash = "/usr/bin/keepalived-go-genhash"
	debUnit    = "/lib/systemd/system/keepalived-go.service"
	debConf    = "/etc/keepalived-go/keepalived.conf"
	debDefault = "/etc/default/keepalived-go"
	debMan     = "/usr/share/man/man8/keepalived-go.8.gz"
)

// TestDebPackage builds the Debian package with scripts/build-deb.sh,
// checks it with lintian, installs it with dpkg -i beside Debian's
// keepalived (no file of one is the other's), verifies the installed unit
// with systemd-analyze, checks `keepalived-go -t` on the shipped
// configuration, starts the installed binary as the installed unit's
// ExecStart would, under a notify socket the test owns and in a network
// namespace of its own, until READY=1 and back at TERM to STOPPING=1,
// fetches a page's digest with the installed genhash, then removes the
// package (its conffiles stay) and purges it. It installs a package on the
// machine: only under CI=true.
func TestDebPackage(t *testing.T) {
	testenv.RequireRoot(t, "dpkg", "dpkg-deb", "dpkg-query", "ip", "go", "lintian", "systemd-analyze")
	testenv.RequireThrowaway(t, "installs the keepalived-go package with dpkg -i")
	if st := debStatus("keepalived-go"); st != "" {
		testenv.Unavailable(t, "the keepalived-go package is on this machine already ("+st+"); the test would remove it")
	}
	// Beside Debian's keepalived: the install below fails on any shared file.
	if st := debStatus("keepalived"); !strings.HasSuffix(st, " installed") {
		testenv.Unavailable(t, "Debian's keepalived package is not installed ("+st+"): the test installs beside it")
	}

	dir := t.TempDir()
	build := exec.Command("../scripts/build-deb.sh", dir)
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build-deb.sh: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	deb := lines[len(lines)-1]
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("scripts/build-deb.sh printed %q, want the package's path last", out)
	}

	// Debian's checks: no error or warning (the package's overrides
	// stand; informational and experimental tags are not failures).
	if out, err := exec.Command("lintian", "--fail-on", "error,warning", deb).CombinedOutput(); err != nil {
		t.Errorf("lintian %s: %v\n%s", filepath.Base(deb), err, out)
	}

	t.Cleanup(func() {
		if debStatus("keepalived-go") != "" {
			if out, err := exec.Command("dpkg", "--purge", "keepalived-go").CombinedOutput(); err != nil {
				t.Errorf("dpkg --purge keepalived-go: %v\n%s", err, out)
			}
		}
	})
	if out, err := exec.Command("dpkg", "-i", deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i %s: %v\n%s", deb, err, out)
	}

	list, err := exec.Command("dpkg", "-L", "keepalived-go").Output()
	if err != nil {
		t.Fatal("dpkg -L keepalived-go: ", err)
	}
	files := strings.Split(string(list), "\n")
	for _, f := range []string{debBinary, debGenhash, debUnit, debConf, debDefault, debMan,
		"/usr/share/man/man1/keepalived-go-genhash.1.gz", "/usr/share/doc/keepalived-go/copyright",
		"/usr/share/doc/keepalived-go/changelog.gz"} {
		if !slices.Contains(files, f) {
			t.Errorf("the package has no %s", f)
		}
	}
	conffiles, _ := exec.Command("dpkg-query", "-W", "-f=${Conffiles}", "keepalived-go").Output()
	for _, f := range []string{debConf, debDefault} {
		if !strings.Contains(string(conffiles), " "+f+" ") {
			t.Errorf("%s is not a conffile: %q", f, conffiles)
		}
	}
	man := gunzip(t, debMan)
	for _, want := range []string{".BR keepalived.conf (5)", ".SH DIFFERENCES FROM KEEPALIVED"} {
		if !strings.Contains(man, want) {
			t.Errorf("keepalived-go(8) lacks %q", want)
		}
	}

	// systemd's own checks of the installed unit (its binary exists).
	if out, err := exec.Command("systemd-analyze", "verify", "--man=no", debUnit).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify %s: %v\n%s", debUnit, err, out)
	}

	// The unit's command line, with its Environment= and then the shipped
	// EnvironmentFile= (which overrides it), as systemd expands it.
	argv := unitExecStart(t, debUnit, debDefault)
	if len(argv) < 3 || argv[0] != debBinary || !slices.Contains(argv, "--dont-fork") {
		t.Fatalf("the unit's ExecStart is %q, want %s --dont-fork ...", argv, debBinary)
	}
	conf := argv[slices.Index(argv, "-f")+1]
	if conf != debConf {
		t.Errorf("the unit reads %s, want the shipped %s", conf, debConf)
	}

	ns := fmt.Sprintf("kgdeb-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}

	check := exec.Command("ip", "netns", "exec", ns, debBinary, "-t", "-f", conf)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("keepalived-go -t -f %s: %v, want exit 0\n%s", conf, err, out)
	}

	// Started as the unit would, with pid files of the test's own (another
	// test's daemon may hold keepalived's).
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	args := append([]string{"netns", "exec", ns}, argv...)
	args = append(args, "-l", "-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid"), "-c", filepath.Join(dir, "c.pid"))
	daemon := exec.Command("ip", args...)
	daemon.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	logPath := filepath.Join(dir, "daemon.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	daemon.Stdout, daemon.Stderr = logFile, logFile
	daemonLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			daemon.Process.Kill()
			<-exited
		}
	}()
	read := func(want string) []string {
		t.Helper()
		var got []string
		buf := make([]byte, 4096)
		for deadline := time.Now().Add(15 * time.Second); ; {
			conn.SetReadDeadline(deadline)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("no %q from the installed daemon within 15 s; got %q; its log:\n%s", want, got, daemonLog())
			}
			got = append(got, string(buf[:n]))
			if strings.HasPrefix(got[len(got)-1], want) {
				return got
			}
		}
	}
	ready := read("READY=1")
	if last := ready[len(ready)-1]; last != "READY=1\nMAINPID="+strconv.Itoa(daemon.Process.Pid) {
		t.Errorf("ready message %q, want the daemon's pid %d", last, daemon.Process.Pid)
	}
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", daemon.Process.Pid)); err != nil || exe != debBinary {
		t.Errorf("the daemon runs %q (%v), want %s", exe, err, debBinary)
	}
	daemon.Process.Signal(syscall.SIGTERM)
	read("STOPPING=1")
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("the daemon exited with %v at TERM, want 0; its log:\n%s", err, daemonLog())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the daemon did not exit within 10 s of TERM; its log:\n%s", daemonLog())
	}

	// The installed genhash, against a page served in the namespace.
	body := "keepalived-go package test\n"
	var ln net.Listener
	if err := inNamespace(ns, func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Serve(ln) }()
	defer func() { srv.Close(); wg.Wait() }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	gh, err := exec.Command("ip", "netns", "exec", ns, debGenhash, "-s", "127.0.0.1", "-p", port, "-u", "/", "-t", "5").CombinedOutput()
	if sum := fmt.Sprintf("%x", md5.Sum([]byte(body))); err != nil || !strings.Contains(string(gh), sum) {
		t.Errorf("keepalived-go-genhash: %v, output %q, want the digest %s", err, gh, sum)
	}

	// dpkg -r removes the package and keeps its conffiles; --purge removes them.
	if out, err := exec.Command("dpkg", "-r", "keepalived-go").CombinedOutput(); err != nil {
		t.Fatalf("dpkg -r keepalived-go: %v\n%s", err, out)
	}
	for _, f := range []string{debBinary, debGenhash, debUnit, debMan} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after dpkg -r, %s is still there (%v)", f, err)
		}
	}
	for _, f := range []string{debConf, debDefault} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after dpkg -r, conffile %s is gone: %v", f, err)
		}
	}
	if out, err := exec.Command("dpkg", "--purge", "keepalived-go").CombinedOutput(); err != nil {
		t.Fatalf("dpkg --purge keepalived-go: %v\n%s", err, out)
	}
	for _, f := range []string{debConf, debDefault, filepath.Dir(debConf)} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after dpkg --purge, %s is still there (%v)", f, err)
		}
	}
}

// debStatus is dpkg's status of a package ("install ok installed"), or ""
// if dpkg knows nothing of it.
func debStatus(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", pkg).Output()
	if err != nil || strings.HasSuffix(string(out), "not-installed") {
		return ""
	}
	return string(out)
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(path, ": ", err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(path, ": ", err)
	}
	return string(b)
}

// unitExecStart is the unit's ExecStart= as systemd would run it: its
// Environment= assignments, then the environment file's, expand ${VAR}
// to one word and $VAR to its whitespace-separated words.
func unitExecStart(t *testing.T, unit, envFile string) []string {
	t.Helper()
	env := map[string]string{}
	var exec string
	for _, l := range readLines(t, unit) {
		if v, ok := strings.CutPrefix(l, "Environment="); ok {
			k, val, _ := strings.Cut(v, "=")
			env[k] = val
		}
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			exec = v
		}
	}
	for _, l := range readLines(t, envFile) {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: line %q is not VAR=value", envFile, l)
		}
		env[k] = strings.Trim(v, `"`)
	}
	var argv []string
	for _, w := range strings.Fields(exec) {
		switch {
		case strings.HasPrefix(w, "${") && strings.HasSuffix(w, "}"):
			argv = append(argv, env[w[2:len(w)-1]])
		case strings.HasPrefix(w, "$"):
			argv = append(argv, strings.Fields(env[w[1:]])...)
		default:
			argv = append(argv, w)
		}
	}
	return argv
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, strings.TrimSpace(s.Text()))
	}
	return lines
}
