// Package runner runs scripts as keepalived does, for every kind of
// script the daemon starts: vrrp_script and its notify scripts today,
// MISC_CHECK and the checkers' notify scripts next.
//
// keepalived's rules (core/notify.c system_call_script, and
// vrrp/vrrp_scheduler.c vrrp_script_child_thread for timeouts):
//   - a script runs as its own user and group (the script's `user`, else
//     global_defs script_user, else keepalived_script if that user exists,
//     else the daemon's own);
//   - in a process group of its own, so that a timeout kills what it
//     started too;
//   - with the scheduling the daemon had before vrrp_rt_priority and
//     vrrp_priority (keepalived's reset_process_priorities in the child):
//     a looping script must not run SCHED_RR and starve the host;
//   - an executable is run directly, anything else with /bin/sh -c;
//   - at its timeout the group gets SIGTERM, and SIGKILL 2 seconds later.
//
// Where keepalived sends a script's output nowhere (its stdout is
// /dev/null once daemonized), Run returns it so that the caller logs it.
package runner
