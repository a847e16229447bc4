package runner

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// lookupUser and lookupGroup are os/user's, replaced in tests.
var (
	lookupUser  = user.Lookup
	lookupGroup = user.LookupGroup
)

// DefaultUser is the user keepalived runs scripts as when neither the
// script nor global_defs names one.
const DefaultUser = "keepalived_script"

// Credential is the user (and group) a script runs as: names is
// "user [group]" as the script's `user` keyword or global_defs
// script_user gives it, else nil; without names, DefaultUser if that user
// exists, else the daemon's own (nil). A user or group that cannot be
// resolved, or whose id does not parse, is an error: the script must not
// run, rather than run as root.
func Credential(names []string) (*syscall.Credential, error) {
	if len(names) == 0 {
		if _, err := lookupUser(DefaultUser); err != nil {
			return nil, nil
		}
		names = []string{DefaultUser}
	}
	u, err := lookupUser(names[0])
	if err != nil {
		return nil, err
	}
	uid, err := parseID("uid", u.Uid)
	if err != nil {
		return nil, err
	}
	gid, err := parseID("gid", u.Gid)
	if err != nil {
		return nil, err
	}
	if len(names) > 1 {
		g, err := lookupGroup(names[1])
		if err != nil {
			return nil, err
		}
		if gid, err = parseID("gid", g.Gid); err != nil {
			return nil, err
		}
	}
	return &syscall.Credential{Uid: uid, Gid: gid}, nil
}

func parseID(what, s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a number", what, s)
	}
	return uint32(n), nil
}
