// Package notify is the ordered notify path of the daemon: what tells the
// outside world that an object changed state. VRRP uses it for its
// instances and sync groups (notify_master, notify_backup, notify_fault,
// notify_stop, notify, notify_master_rx_lower_pri, and the INSTANCE and
// GROUP lines of notify_fifo and vrrp_notify_fifo); the health checkers
// are to use it for virtual and real servers (notify_up, notify_down,
// quorum_up, quorum_down, the VS and RS lines of notify_fifo and
// lvs_notify_fifo).
//
// A subsystem makes one Notifier per object and calls Notify with an
// Event on each change: the Event carries the FIFO lines, already
// formatted (the formats are the caller's: internal/vrrpd writes
// keepalived's `INSTANCE "VI_1" MASTER 100`), and the scripts, already
// resolved (ScriptOf: command, arguments, user). Then:
//
//   - the lines are written to the FIFOs at once, on the caller's
//     goroutine, in the order of the calls: no script, hung or slow,
//     ever holds a line back;
//   - the scripts are queued and run one after the other, in event order,
//     on the Notifier's goroutine, through internal/runner (own process
//     group, the script's user, normal scheduling);
//   - nothing blocks the caller: a FIFO is opened O_RDWR|O_NONBLOCK, and a
//     line that does not fit in the pipe is dropped; the scripts of an
//     event that finds the queue full are dropped. Both are counted
//     (Notifier.Stats, Totals for metrics) and logged, at most every 10
//     seconds with the count of what was not logged.
//
// # What keepalived does, and where this differs
//
// keepalived (vrrp/vrrp_notify.c send_instance_notifies,
// send_group_notifies, send_event_notify; check/ipwrapper.c
// do_vs_notifies, do_rs_notifies) forks each notify script with
// core/notify.c notify_exec, that is system_call_script without a timer:
// fire and forget. It then writes the FIFO line (vrrp_notify.c
// notify_fifo, ipwrapper.c notify_fifo_vs and notify_fifo_rs) with a
// plain write on the descriptor fifo_open opened O_RDWR|O_NONBLOCK, and
// ignores EAGAIN: a full pipe loses the line without a word.
//
// Followed here: the line formats (the caller's), the order script(s)
// then line within one event, the generic script's four arguments
// (runner.Script.WithArgs), the FIFO's creation (mode 0644, given to its
// user, refused unless it is a FIFO the daemon or that user owns,
// O_NOFOLLOW), that the global notify_fifo and a subsystem's FIFO given
// the same path are written once (core/global_data.c), that a FIFO the
// daemon created is unlinked and then closed at stop (fifo_close), and
// that a script whose user does not resolve does not run.
//
// Deliberate differences:
//
//   - Order. keepalived starts an object's scripts all at once, so a
//     quick BACKUP script can finish before the MASTER one started just
//     before it. Here an object's scripts run one after the other in
//     event order (the scripts of different objects still run side by
//     side), so a script that records states records them in order.
//   - A bound. Running them in order means a hung script would hold back
//     every later one, which keepalived's fire-and-forget never does. So
//     the queue waits for a script at most Options.ScriptWait, 10 seconds
//     by default (keepalived's default startup and shutdown script
//     timeout), then logs that it still runs and goes on, leaving it
//     running as keepalived would (OverrunScripts counts these).
//   - Lines at once. keepalived writes the line after forking the
//     scripts, without waiting for them; so do we, which means a FIFO
//     reader may see a line before the script of the same event has
//     finished (or started), as with keepalived.
//   - Losses are counted and logged, where keepalived drops a line on
//     EAGAIN silently. The queue is bounded (Options.QueueLen, 64): past
//     it an event's scripts are dropped rather than the caller blocked.
//   - Stop. keepalived gives the STOP scripts it starts at shutdown
//     (system_call_script with child_killed_thread and a 1 second timer)
//     one second before SIGKILL, and leaves other notify scripts running.
//     Here Stop first lets the queued notifications (the STOP ones) run,
//     each script waited for ScriptWait at most, then ends every script
//     still running, SIGTERM to its process group then SIGKILL
//     runner.KillDelay later, and waits for them: nothing the notifier
//     started outlives it, and every goroutine has an owner that waits.
//   - Reload. keepalived closes its FIFOs at a reload and opens them again
//     (vrrp_daemon.c reload_vrrp_thread: "we don't know if it will be the
//     same after a reload"), so a reader sees EOF, and a FIFO it created
//     is removed and made anew. Here open pipes are shared by path within
//     the process (OpenFIFO): the new configuration's FIFOs are opened
//     before the old ones are closed, and a path that stays keeps its
//     pipe and its reader. The same sharing lets the VRRP subsystem and
//     the checkers write the global notify_fifo through one pipe.
//
// # SMTP alerts
//
// smtp.go sends keepalived's SMTP alerts (core/smtp.c). A subsystem's
// runtime opens an Alerter with global_defs' settings (SMTPSettingsOf)
// and calls Alert(subject, body) after the scripts and FIFO line of an
// event, with keepalived's texts (VRRPAlert, RealServerAlertSubject,
// VirtualServerAlert) when smtp_alert resolves on for the object
// (VRRPAlertOn, VirtualServerAlertOn, RealServerAlertOn). Alert never
// blocks: the alert goes to a bounded queue, and one sender goroutine per
// process, shared by every open Alerter (VRRP's, the checkers', and
// across a reload the old and the new runtime's), delivers the alerts one
// after the other with keepalived's dialogue and timeouts, logging what
// fails with keepalived's lines. A full queue drops the alert (logged,
// counted: Alerter.Stats, AlertTotals). The last Stop gives the queue
// DefaultAlertStopWait, keepalived's one second of shutdown, then ends
// what is in flight and waits for the goroutine.
//
// Where it differs from keepalived, which opens one connection per alert
// at once, without bound: the bounded queue and the single sender; the
// Date header is the event's time, not the sending's; a connection that
// fails at once is logged (keepalived's smtp_connect says nothing); a
// host name in smtp_server is resolved when a mail is sent, not when the
// configuration is read; a reply to QUIT other than 221 ends the session
// (keepalived sends QUIT again); a body line that starts with a dot is
// escaped; keepalived's 1024-byte send buffer, which can cut off a long
// message and its end, is not reproduced. Kept although odd: without a
// local host name the sender is "(null)", and a To header cut at 1023
// bytes ends with ", ".
//
// Not here yet: notify_fifo_script (keepalived starts a script that reads
// the FIFO), and SNMP traps and D-Bus signals.
package notify
