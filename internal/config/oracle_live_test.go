package config

// TestOracleLive re-runs the real keepalived on every recorded case and
// checks that the verdict in testdata/oracle/verdicts.json (exit code, cited
// line numbers, unknown keywords) is still what it says, so the recording is
// proved real wherever keepalived is available. It does what
// scripts/oracle-record.sh does: one network namespace of its own holding lo
// (up) and the veth pairs eth0<->eth1 and eth2<->eth3, and
//   keepalived -t -f oracle/x.conf -l -n -i testhost
// run from testdata. The cases run in parallel in that one namespace
// (keepalived -t only reads the namespace).
//
// It needs root and keepalived. Without them it skips, except under CI=true,
// where it fails: CI must prove the recording.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	oracleCiteRe    = regexp.MustCompile(`\((?:([^()]*?): )?Line (\d+)\)`)
	oracleUnknownRe = regexp.MustCompile(`Unknown keyword '([^']*)'`)
	liveNSSeq       atomic.Int64
)

// parseKeepalivedOutput extracts what the recorder records: the cited line
// numbers (sorted, unique) and the keywords called unknown (in order, unique).
func parseKeepalivedOutput(out string) (lines []int, unknown []string) {
	for _, l := range strings.Split(out, "\n") {
		for _, m := range oracleCiteRe.FindAllStringSubmatch(l, -1) {
			n, _ := strconv.Atoi(m[2])
			if !slices.Contains(lines, n) {
				lines = append(lines, n)
			}
		}
		for _, m := range oracleUnknownRe.FindAllStringSubmatch(l, -1) {
			if !slices.Contains(unknown, m[1]) {
				unknown = append(unknown, m[1])
			}
		}
	}
	sort.Ints(lines)
	return lines, unknown
}

func liveUnavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("oracle live test cannot run under CI: %s", why)
	}
	t.Skipf("oracle live test skipped: %s", why)
}

func findKeepalived() (string, error) {
	if p := os.Getenv("KEEPALIVED"); p != "" {
		return exec.LookPath(p)
	}
	if p, err := exec.LookPath("keepalived"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/keepalived", "/sbin/keepalived", "/usr/local/sbin/keepalived"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("keepalived not found in PATH or /usr/sbin")
}

func runIP(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// makeOracleNetns creates a namespace with lo up and veth pairs
// eth0<->eth1, eth2<->eth3, removed when the test ends.
func makeOracleNetns(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("kaolive-%d-%d", os.Getpid(), liveNSSeq.Add(1))
	if err := runIP("netns", "add", ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := runIP("netns", "del", ns); err != nil {
			t.Errorf("removing namespace: %v", err)
		}
	})
	steps := [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"},
		{"-n", ns, "link", "add", "eth2", "type", "veth", "peer", "name", "eth3"},
	}
	for _, i := range []string{"eth0", "eth1", "eth2", "eth3"} {
		steps = append(steps, []string{"-n", ns, "link", "set", i, "up"})
	}
	for _, s := range steps {
		if err := runIP(s...); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// runKeepalivedTest runs keepalived -t on file (relative to testdata) in ns
// and returns its exit code (128+N when killed by signal N, as a shell
// reports it) and combined output.
func runKeepalivedTest(ka, ns, file string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns,
		"timeout", "20", ka, "-t", "-f", file, "-l", "-n", "-i", "testhost")
	cmd.Dir = "testdata"
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err == nil {
		return 0, string(out), nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return -1, string(out), err
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), string(out), nil
	}
	return ee.ExitCode(), string(out), nil
}

func TestOracleLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		liveUnavailable(t, "not Linux")
	}
	if os.Geteuid() != 0 {
		liveUnavailable(t, "not root (network namespaces need it)")
	}
	ka, err := findKeepalived()
	if err != nil {
		liveUnavailable(t, err.Error())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		liveUnavailable(t, "ip (iproute2) not found")
	}
	if _, err := exec.LookPath("timeout"); err != nil {
		liveUnavailable(t, "timeout (coreutils) not found")
	}
	if out, err := exec.Command(ka, "-v").CombinedOutput(); err == nil {
		first, _, _ := strings.Cut(string(out), "\n")
		if !strings.Contains(first, "v2.2.7") {
			t.Logf("warning: verdicts were recorded with keepalived v2.2.7, this is %q", first)
		}
	}
	// 2.2.7 segfaults on some cases: keep core files out of testdata.
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{Cur: 0, Max: 0})

	vs := loadVerdicts(t)
	ns := makeOracleNetns(t)
	sem := make(chan struct{}, 2*runtime.NumCPU()+2)

	// The group subtest returns only when all parallel cases are done, so
	// the namespace (removed by the parent's Cleanup) outlives them.
	t.Run("cases", func(t *testing.T) {
		for _, v := range vs {
			t.Run(v.subtestName(), func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				code, out, err := runKeepalivedTest(ka, ns, v.File)
				if err != nil {
					t.Fatalf("running keepalived: %v\n%s", err, out)
				}
				lines, unknown := parseKeepalivedOutput(out)
				var probs []string
				if code != v.Exit {
					probs = append(probs, fmt.Sprintf("exit: keepalived %d, recorded %d", code, v.Exit))
				}
				if !slices.Equal(lines, v.Lines) && !(len(lines) == 0 && len(v.Lines) == 0) {
					probs = append(probs, fmt.Sprintf("lines: keepalived %v, recorded %v", lines, v.Lines))
				}
				if !slices.Equal(unknown, v.Unknown) && !(len(unknown) == 0 && len(v.Unknown) == 0) {
					probs = append(probs, fmt.Sprintf("unknown keywords: keepalived %q, recorded %q", unknown, v.Unknown))
				}
				if len(probs) > 0 {
					t.Errorf("%s: recorded verdict no longer matches (re-record with scripts/oracle-record.sh %s):\n%s\noutput:\n%s",
						v.File, v.File, strings.Join(probs, "\n"), out)
				}
			})
		}
	})
}
