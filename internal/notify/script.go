package notify

import (
	"fmt"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/runner"
)

// Script is a notify script ready to run: the command line, with its
// arguments, and the user it runs as; or, when that user or group cannot
// be resolved, why it must not run.
type Script struct {
	runner.Script
	// Err says why the script must not run (its user or group does not
	// resolve); the notifier then logs it and runs nothing. A script
	// never runs as the daemon's user because its own could not be
	// found.
	Err error
}

// IsZero tells whether there is no script (the keyword was absent).
func (s Script) IsZero() bool { return s.Cmd == "" && s.Err == nil }

// WithArgs is s with more arguments after its own, as the generic notify
// script gets keepalived's four (see runner.Script.WithArgs).
func (s Script) WithArgs(extra ...string) Script {
	s.Script = s.Script.WithArgs(extra...)
	return s
}

// ScriptOf makes the notify script of a configuration keyword (notify,
// notify_master, notify_up...). It runs as keepalived runs it
// (core/notify.c set_script_uid_gid, get_default_script_user): as the
// keyword's own `user [group]`, else global_defs script_user (given as
// scriptUser), else keepalived_script if that user exists, else the
// daemon's own user. A user or group that does not resolve makes a
// script with Err set, which the notifier refuses to run.
//
// An absent keyword (cs.IsZero()) makes the zero Script, which runs
// nothing.
func ScriptOf(cs config.Script, scriptUser []string) Script {
	if cs.IsZero() {
		return Script{}
	}
	s := Script{Script: runner.Script{Cmd: cs.Cmd, Args: cs.Args}}
	names := userOf(cs, scriptUser)
	cred, err := runner.Credential(names)
	if err != nil {
		s.Err = fmt.Errorf("cannot run as %v: %w", names, err)
		return s
	}
	s.Cred = cred
	return s
}
