package check

import "fmt"

// Lines is implemented by a checker whose log lines, when it changes
// state, are its own (keepalived's epilogs differ from one checker to
// the next); the daemon uses TCP_CHECK's pattern for the others.
type Lines interface {
	// UpLine is what is logged when the checker goes up, "" for nothing;
	// rs is the real server as keepalived prints it ("[10.0.0.2]:udp:53").
	UpLine(rs string) string
	// DownLine is what is logged when the checker goes down (or an alpha
	// checker fails its first check): vs is the virtual server, retry
	// the checker's retry count, hasRun false at the checker's first
	// check, reason why the last probe failed.
	DownLine(rs, vs string, retry int, hasRun bool, reason string) string
}

// epilogLine is the failure line of keepalived's common epilog
// (check_tcp.c tcp_epilog and its siblings): "WHAT failed after N
// retries." once the checker has run and retries, else "WHAT failed.";
// keepalived-go adds the probe's reason.
func epilogLine(what string, retry int, hasRun bool, reason string) string {
	s := what + " failed"
	if retry > 0 && hasRun {
		s += fmt.Sprintf(" after %d retries", retry)
	}
	s += "."
	if reason != "" {
		s += " (" + reason + ")"
	}
	return s
}
