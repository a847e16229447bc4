package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// KillDelay is how long a script has to exit after SIGTERM before it gets
// SIGKILL (vrrp_script_child_thread's 2 seconds).
const KillDelay = 2 * time.Second

// maxOutput bounds the output kept from one run, for the log.
const maxOutput = 4096

// Script is a command line as the configuration gives it.
type Script struct {
	Cmd  string   // the line as written, run with /bin/sh -c unless Args[0] is an executable
	Args []string // the line split into words as keepalived splits it
	// Cred is the user and group to run as; nil runs as the daemon.
	Cred  *syscall.Credential
	extra []string // WithArgs's
}

// WithArgs is s with more arguments after its own, as the generic notify
// script gets keepalived's four. Through the shell they follow as "$@".
func (s Script) WithArgs(extra ...string) Script {
	s.extra = append(append([]string(nil), s.extra...), extra...)
	return s
}

// Result is how a run ended.
type Result struct {
	// ExitCode is the script's exit status; -1 when it did not exit by
	// itself (killed, timed out, or never started).
	ExitCode int
	TimedOut bool
	// Err says why the script could not start or was killed; nil when it
	// exited, whatever its status.
	Err    error
	Output []byte // stdout and stderr, the first 4 KiB
}

// OK tells whether the script exited with status 0.
func (r Result) OK() bool { return r.ExitCode == 0 && r.Err == nil }

// switchTo is the credential a script's process must switch to: none
// when the daemon already runs as that user and group (a daemon run
// without root, whose script_user is itself, could not call setgroups),
// else cred.
func switchTo(cred *syscall.Credential) *syscall.Credential {
	if cred == nil || (os.Getuid() != 0 && uint32(os.Getuid()) == cred.Uid && uint32(os.Getgid()) == cred.Gid) {
		return nil
	}
	return cred
}

// Run runs s and waits for it, for at most timeout (none if 0): then its
// process group gets SIGTERM, and SIGKILL KillDelay later. Cancelling ctx
// ends it the same way.
func Run(ctx context.Context, s Script, timeout time.Duration) Result {
	cmd := command(s)
	out := &limitedBuffer{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig: if the daemon dies, its scripts get SIGTERM, as
	// keepalived's do; the forking thread lives until the script is
	// reaped (startOnNormalThread), so this fires with the daemon only.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: switchTo(s.Cred), Pdeathsig: syscall.SIGTERM}
	// A script that leaves a child holding its output open does not
	// hold the caller beyond this once it exits itself.
	cmd.WaitDelay = time.Second
	exited := make(chan error, 1)
	if err := startOnNormalThread(cmd, exited); err != nil {
		return Result{ExitCode: -1, Err: err}
	}
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	var err error
	timedOut := false
	select {
	case err = <-exited:
	case <-deadline:
		timedOut = true
		err = terminate(cmd.Process.Pid, exited)
	case <-ctx.Done():
		err = terminate(cmd.Process.Pid, exited)
	}
	return result(err, timedOut, out.Bytes())
}

func result(err error, timedOut bool, output []byte) Result {
	r := Result{ExitCode: -1, TimedOut: timedOut, Output: output}
	var exit *exec.ExitError
	switch {
	case timedOut:
		r.Err = errors.New("timed out")
	case err == nil:
		r.ExitCode = 0
	case errors.As(err, &exit) && exit.Exited():
		r.ExitCode = exit.ExitCode()
	default:
		r.Err = err
	}
	return r
}

// terminate sends the process group SIGTERM, then SIGKILL, and returns
// the script's end.
func terminate(pgid int, exited <-chan error) error {
	syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(KillDelay)
	defer t.Stop()
	select {
	case err := <-exited:
		return err
	case <-t.C:
		syscall.Kill(-pgid, syscall.SIGKILL)
		return <-exited
	}
}

// command runs an executable directly, as keepalived does, and anything
// else through the shell, with the arguments after the command as "$@".
func command(s Script) *exec.Cmd {
	if len(s.Args) > 0 {
		if path, err := exec.LookPath(s.Args[0]); err == nil {
			cmd := exec.Command(path, append(s.Args[1:len(s.Args):len(s.Args)], s.extra...)...)
			cmd.Args[0] = s.Args[0]
			return cmd
		}
	}
	line := s.Cmd
	if len(s.extra) > 0 {
		line += ` "$@"`
	}
	return exec.Command("/bin/sh", append([]string{"-c", line, "sh"}, s.extra...)...)
}

// startOnNormalThread starts cmd from an OS thread running with the
// normal scheduling policy, so that the child does not inherit
// vrrp_rt_priority's SCHED_RR or vrrp_priority's nice value; the child's
// end is sent to exited.
//
// A child inherits the policy of the thread that forks it. The forking
// thread is locked and reset; it then stays locked until the child is
// reaped, and exits with the goroutine if it was reset, so that no thread
// of the daemon runs without the daemon's settings.
func startOnNormalThread(cmd *exec.Cmd, exited chan<- error) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		reset, err := resetThreadScheduling()
		if !reset {
			// The thread was not changed: it may serve others again.
			defer runtime.UnlockOSThread()
		}
		if err != nil {
			started <- fmt.Errorf("cannot reset the scheduling for the script: %w", err)
			return
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	return <-started
}

// limitedBuffer keeps the first max bytes written to it. (It does not
// embed bytes.Buffer, whose ReadFrom io.Copy would use instead of Write.)
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte { return b.buf.Bytes() }
