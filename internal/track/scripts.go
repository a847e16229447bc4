package track

import (
	"context"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/runner"
)

// scriptResult is one run of a vrrp_script.
type scriptResult struct {
	name string
	ok   bool
}

// Verdicts are the current verdicts of the vrrp_scripts (good or not),
// kept by the Tracker so that a reload carries them over. They are safe
// for concurrent use.
type Verdicts struct {
	mu   sync.Mutex
	good map[string]bool
}

// NewVerdicts starts the verdicts of objs's scripts: as carried (from the
// runtime a reload replaces; nil at start-up) for a script of the same
// name, else as the script starts (good unless init_fail).
func NewVerdicts(objs *Objects, carried map[string]bool) *Verdicts {
	v := &Verdicts{good: map[string]bool{}}
	for name, s := range objs.scripts {
		v.good[name] = !s.InitFail
		if good, ok := carried[name]; ok {
			v.good[name] = good
		}
	}
	return v
}

func (v *Verdicts) set(name string, good bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.good[name] = good
}

// Snapshot is a copy of the verdicts, by script name.
func (v *Verdicts) Snapshot() map[string]bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]bool, len(v.good))
	for k, g := range v.good {
		out[k] = g
	}
	return out
}

// scriptCredential is the user a script runs as: its own `user`, else
// global_defs script_user, else keepalived_script if that user exists,
// else the daemon's own (nil).
func scriptCredential(s *config.VRRPScript, scriptUser []string) (*syscall.Credential, error) {
	names := s.User
	if len(names) == 0 {
		names = scriptUser
	}
	return runner.Credential(names)
}

// runScript runs a vrrp_script every interval until ctx is done and sends
// each result. A run that outlives the timeout (the interval when none is
// set, as keepalived) is ended with its process group and counts as a
// failure; a run ended because ctx is done counts for nothing.
func runScript(ctx context.Context, log *slog.Logger, run ScriptRunner, s *config.VRRPScript, cred *syscall.Credential, results chan<- scriptResult) {
	interval := max(s.Interval.Duration(), 10*time.Millisecond)
	timeout := s.Timeout.Duration()
	if timeout <= 0 {
		timeout = interval
	}
	script := runner.Script{Cmd: s.Script.Cmd, Args: s.Script.Args, Cred: cred}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		r := run(ctx, script, timeout)
		if ctx.Err() != nil {
			return
		}
		switch {
		case r.TimedOut:
			log.Warn("vrrp_script timed out", "script", s.Name(), "timeout", timeout)
		case r.Err != nil:
			log.Warn("vrrp_script cannot run", "script", s.Name(), "err", r.Err)
		}
		if len(r.Output) > 0 {
			log.Debug("vrrp_script output", "script", s.Name(), "output", string(r.Output))
		}
		select {
		case results <- scriptResult{name: s.Name(), ok: r.OK()}:
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
