package vrrpd

// The vrrp_scripts run in internal/track, with internal/runner. What is
// left here serves the notify scripts (notify.go).

import (
	"context"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

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
