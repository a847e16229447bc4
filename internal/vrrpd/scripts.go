package vrrpd

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// scriptResult is one run of a vrrp_script.
type scriptResult struct {
	name string
	ok   bool
}

// scriptHealth applies rise and fall to a script's runs: it turns good
// after rise successes in a row, bad after fall failures in a row.
type scriptHealth struct {
	good          bool
	rise, fall    int
	okRun, badRun int
}

func newScriptHealth(s *config.VRRPScript) *scriptHealth {
	return &scriptHealth{good: !s.InitFail, rise: max(1, s.Rise), fall: max(1, s.Fall)}
}

// record counts one run and reports whether the verdict changed.
func (h *scriptHealth) record(ok bool) bool {
	if ok {
		h.okRun, h.badRun = h.okRun+1, 0
		if !h.good && h.okRun >= h.rise {
			h.good = true
			return true
		}
		return false
	}
	h.badRun, h.okRun = h.badRun+1, 0
	if h.good && h.badRun >= h.fall {
		h.good = false
		return true
	}
	return false
}

// usableScripts are the vrrp_scripts validation kept, by name.
func usableScripts(cfg *config.Config) map[string]*config.VRRPScript {
	out := map[string]*config.VRRPScript{}
	for _, s := range cfg.Scripts {
		if !s.Removed && !s.Disabled && !s.Script.IsZero() {
			out[s.Name()] = s
		}
	}
	return out
}

// scriptWeight is a vrrp_script's own weight and reverse flag.
func scriptWeight(s *config.VRRPScript) (int, bool) {
	if len(s.Weight) == 0 {
		return 0, false
	}
	w, _ := strconv.Atoi(s.Weight[0])
	return w, len(s.Weight) > 1 && s.Weight[1] == "reverse"
}

// runScript runs a vrrp_script every interval until ctx is done and sends
// each result. A run that outlives the timeout (the interval when none is
// set) is killed with its process group and counts as a failure.
func runScript(ctx context.Context, log *slog.Logger, s *config.VRRPScript, cred *syscall.Credential, results chan<- scriptResult) {
	interval := max(s.Interval.Duration(), 10*time.Millisecond)
	timeout := s.Timeout.Duration()
	if timeout <= 0 {
		timeout = interval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ok := runOnce(ctx, log, s, cred, timeout)
		select {
		case results <- scriptResult{name: s.Name(), ok: ok}:
		case <-ctx.Done():
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func runOnce(ctx context.Context, log *slog.Logger, s *config.VRRPScript, cred *syscall.Credential, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := scriptCommand(ctx, s.Script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM, Credential: cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		log.Warn("vrrp_script timed out", "script", s.Name(), "timeout", timeout)
		return false
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		log.Warn("vrrp_script cannot run", "script", s.Name(), "err", err)
	}
	return err == nil
}

// scriptCommand runs an executable directly, as keepalived does, and
// anything else through the shell.
func scriptCommand(ctx context.Context, s config.Script) *exec.Cmd {
	if len(s.Args) > 0 {
		if path, err := exec.LookPath(s.Args[0]); err == nil {
			return exec.CommandContext(ctx, path, s.Args[1:]...)
		}
	}
	return exec.CommandContext(ctx, "/bin/sh", "-c", s.Cmd)
}

// scriptCredential is the user a script runs as: its own `user`, else
// global_defs script_user, else keepalived_script if that user exists,
// else the daemon's own (nil).
func scriptCredential(cfg *config.Config, s *config.VRRPScript) (*syscall.Credential, error) {
	names := s.User
	if len(names) == 0 && cfg.GlobalDefs != nil {
		names = cfg.GlobalDefs.ScriptUser
	}
	if len(names) == 0 {
		if _, err := user.Lookup("keepalived_script"); err != nil {
			return nil, nil
		}
		names = []string{"keepalived_script"}
	}
	u, err := user.Lookup(names[0])
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if len(names) > 1 {
		g, err := user.LookupGroup(names[1])
		if err != nil {
			return nil, err
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
