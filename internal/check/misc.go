package check

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/runner"
)

// Misc is MISC_CHECK (check_misc.c): a script whose exit status is the
// verdict. It runs through internal/runner as its user (the checker's
// `user`, else script_user, else keepalived_script), in a process group of
// its own, never with the daemon's real-time scheduling; at Timeout its
// group gets SIGTERM, and SIGKILL 2 s later (misc_check_child_thread).
//
// Exit 0 is success. With Dynamic (misc_dynamic) exit 2 to 255 is success
// too, and sets the real server's weight to status - 2 (DynamicAdjust); 1
// is a failure. Any other status is a failure, as is a script killed by a
// signal or ended at Timeout.
//
// The engine runs it with Job.FromStart: the next check is due delay_loop
// (or delay_before_retry) after the script started, not after it ended.
type Misc struct {
	Script runner.Script
	// Timeout is misc_timeout, else the virtual server's delay_loop
	// (misc_check_thread).
	Timeout time.Duration
	Dynamic bool
	// Name is the real server as the logs print it: "[10.0.0.2]:tcp:80".
	Name string
	// run is runner.Run; tests replace it.
	run func(context.Context, runner.Script, time.Duration) runner.Result
}

func (m *Misc) String() string { return m.Name }

// Path is the script as keepalived's log lines name it: its first word
// (script.args[0]).
func (m *Misc) Path() string {
	if len(m.Script.Args) > 0 {
		return m.Script.Args[0]
	}
	return m.Script.Cmd
}

// Check runs the script once and judges its end. ctx ends it early (the
// daemon stopping) as a timeout does.
func (m *Misc) Check(ctx context.Context) Result {
	run := m.run
	if run == nil {
		run = runner.Run
	}
	return m.judge(run(ctx, m.Script, m.Timeout))
}

// judge turns a script's end into a result, as misc_check_child_thread
// reads its wait status.
func (m *Misc) judge(r runner.Result) Result {
	switch {
	case r.TimedOut:
		return Result{Status: -1, TimedOut: true, Reason: "timed out"}
	case r.Err != nil:
		var exit *exec.ExitError
		if errors.As(r.Err, &exit) {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return Result{Status: -1, Reason: fmt.Sprintf("due to signal %d", ws.Signal())}
			}
		}
		return Result{Status: -1, Reason: "could not be run: " + r.Err.Error()}
	}
	s := r.ExitCode
	return Result{OK: MiscSuccess(s, m.Dynamic), Status: s, Reason: fmt.Sprintf("exited with status %d", s)}
}

// MiscSuccess tells whether a script's exit status is a success: 0, or
// with misc_dynamic 2 to 255 (check_misc.c misc_check_child_thread).
func MiscSuccess(status int, dynamic bool) bool {
	return status == 0 || (dynamic && status >= 2 && status <= 255)
}

// DynamicAdjust is what a successful exit status adds to the weight of a
// real server whose configured weight is base (keepalived's cur_weight =
// status - 2 - iweight, 0 for status 0): with no other adjustment the
// server's weight becomes status - 2, and exit 0 leaves it at base.
func DynamicAdjust(status, base int) int64 {
	if status == 0 {
		return 0
	}
	return int64(status) - 2 - int64(base)
}
