package runner

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/testenv"
)

// shell is a line that is not an executable with arguments: it runs
// with /bin/sh -c.
func shell(line string) Script { return Script{Cmd: line} }

func TestRunReportsExitCodeAndOutput(t *testing.T) {
	r := Run(context.Background(), shell("echo hello; exit 3"), time.Second)
	if r.ExitCode != 3 || r.Err != nil || r.OK() {
		t.Fatalf("got %+v, want exit code 3", r)
	}
	if string(r.Output) != "hello\n" {
		t.Fatalf("output %q", r.Output)
	}
	if r := Run(context.Background(), Script{Cmd: "/bin/true", Args: []string{"/bin/true"}}, 0); !r.OK() {
		t.Fatalf("/bin/true: %+v", r)
	}
}

func TestExecutableRunsDirectlyWithItsArguments(t *testing.T) {
	r := Run(context.Background(), Script{Cmd: "echo a 'b c'", Args: []string{"echo", "a", "b c"}}, time.Second)
	if string(r.Output) != "a b c\n" {
		t.Fatalf("output %q", r.Output)
	}
}

// The generic notify script gets keepalived's four arguments after its
// own, through the shell too.
func TestWithArgsThroughTheShell(t *testing.T) {
	s := shell("echo x; echo").WithArgs("INSTANCE", "VI 1", "MASTER", "100")
	r := Run(context.Background(), s, time.Second)
	if string(r.Output) != "x\nINSTANCE VI 1 MASTER 100\n" {
		t.Fatalf("output %q", r.Output)
	}
	direct := Script{Cmd: "printf %s,", Args: []string{"printf", "%s,", "own"}}.WithArgs("GROUP", "G")
	if r := Run(context.Background(), direct, time.Second); string(r.Output) != "own,GROUP,G," {
		t.Fatalf("output %q", r.Output)
	}
}

func TestOutputIsBounded(t *testing.T) {
	r := Run(context.Background(), shell("head -c 100000 /dev/zero"), 5*time.Second)
	if len(r.Output) != maxOutput {
		t.Fatalf("kept %d bytes, want %d", len(r.Output), maxOutput)
	}
}

// A script past its timeout gets SIGTERM with what it started (its
// process group), and counts as timed out.
func TestTimeoutTerminatesTheProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	r := Run(context.Background(), shell("sleep 30 & echo $! >"+pidFile+"; wait"), 200*time.Millisecond)
	if !r.TimedOut || r.OK() {
		t.Fatalf("got %+v, want a timeout", r)
	}
	if took := time.Since(start); took > KillDelay {
		t.Fatalf("took %v: SIGTERM should have ended it at once", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitGone(t, pid)
}

// A script that ignores SIGTERM gets SIGKILL KillDelay later.
func TestTimeoutKillsAScriptIgnoringTerm(t *testing.T) {
	start := time.Now()
	r := Run(context.Background(), shell("trap '' TERM; sleep 30 & wait; sleep 30"), 100*time.Millisecond)
	took := time.Since(start)
	if !r.TimedOut {
		t.Fatalf("got %+v, want a timeout", r)
	}
	if took < KillDelay || took > KillDelay+3*time.Second {
		t.Fatalf("took %v, want about %v (SIGTERM ignored, then SIGKILL)", took, KillDelay)
	}
}

func TestCancelEndsTheScript(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	r := Run(ctx, shell("sleep 30"), 0)
	if r.OK() || time.Since(start) > KillDelay {
		t.Fatalf("got %+v after %v", r, time.Since(start))
	}
}

func TestMissingCommandIsAFailure(t *testing.T) {
	r := Run(context.Background(), Script{Cmd: "/nonexistent/script", Args: []string{"/nonexistent/script"}}, time.Second)
	if r.OK() {
		t.Fatalf("got %+v", r)
	}
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(b), ") Z ") {
			return // a zombie waiting for init: killed
		}
	}
	t.Fatalf("process %d of the script's group still runs", pid)
}

// With vrrp_rt_priority every thread of the daemon runs SCHED_RR; a
// script must not (keepalived's reset_process_priorities): a looping
// script would starve the host. Fails if Run forks from an RR thread.
func TestScriptDoesNotInheritRealTimeScheduling(t *testing.T) {
	testenv.RequireRoot(t)
	setAllThreads(t, unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: 1})
	t.Cleanup(func() { setAllThreads(t, unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}) })
	// Field 41 of /proc/PID/stat is the policy: 0 normal, 2 SCHED_RR; 19
	// is the nice value.
	r := Run(context.Background(), shell(`set -- $(sed 's/.*) //' /proc/$$/stat); eval echo \${39} \${17}`), 5*time.Second)
	if !r.OK() {
		t.Fatalf("%+v", r)
	}
	if got := strings.TrimSpace(string(r.Output)); got != "0 0" {
		t.Fatalf("script ran with policy and nice %q, want 0 0 (SCHED_NORMAL, nice 0)", got)
	}
}

func setAllThreads(t *testing.T, attr unix.SchedAttr) {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		tid, _ := strconv.Atoi(e.Name())
		if err := unix.SchedSetAttr(tid, &attr, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			t.Fatalf("sched_setattr %d: %v", tid, err)
		}
	}
}

// A uid that does not parse must not become uid 0 (root).
func TestCredentialRefusesAnUnparsableID(t *testing.T) {
	lookupUser = func(string) (*user.User, error) { return &user.User{Uid: "x1", Gid: "0"}, nil }
	t.Cleanup(func() { lookupUser = user.Lookup })
	if cred, err := Credential([]string{"nobody"}); err == nil {
		t.Fatalf("got %+v, want an error", cred)
	}
}

func TestCredentialOfUserAndGroup(t *testing.T) {
	cred, err := Credential([]string{"nobody", "nogroup"})
	if err != nil {
		t.Skip("no nobody/nogroup here:", err)
	}
	u, _ := user.Lookup("nobody")
	g, _ := user.LookupGroup("nogroup")
	if strconv.Itoa(int(cred.Uid)) != u.Uid || strconv.Itoa(int(cred.Gid)) != g.Gid {
		t.Fatalf("got %+v", cred)
	}
	if _, err := Credential([]string{"no-such-user-here"}); err == nil {
		t.Fatal("an unknown user must be an error")
	}
}
