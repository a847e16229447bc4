// Package checkd is the health checkers as the daemon runs them:
// keepalived's checker child process. It turns a configuration's
// virtual_server and real_server blocks (as config resolved them: the
// servers keepalived keeps, with inherited checker settings) into checker
// jobs on one check.Engine and an lvs.Pool per virtual server, and sends
// what the pools decide through internal/notify: notify_up/notify_down,
// quorum_up/quorum_down and the FIFO lines `RS ...` / `VS ...`, with
// keepalived's log lines.
//
// With WithDataPlane, the kernel's virtual services follow the pools
// (dataplane.go): an lvs.Syncer over the backend --lvs-backend picks,
// synced at start and reload, updated after each pool change, released
// at stop unless -I.
//
// The daemon sees it through Subsystem (New, Apply, Stop, Keywords), as it
// sees VRRP.
package checkd
