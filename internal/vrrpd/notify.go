package vrrpd

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/notify"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// notifier turns an instance's or a sync group's changes into keepalived's
// notifications (vrrp/vrrp_notify.c) for its notify.Notifier: on a state
// change, the state's own script, then the generic `notify` with
// keepalived's four arguments, and the FIFO line. The lines reach the
// FIFOs at once; the scripts run in order on the notifier's queue (see
// internal/notify).
type notifier struct {
	n       *notify.Notifier
	kind    notify.Kind // INSTANCE or GROUP, as keepalived's arguments and FIFO lines say
	name    string
	scripts notifyHooks
	mail    mailer // SMTP alerts (smtp.go)
	// deleted, set when a reload removes the instance, says what its
	// STOP becomes (see deleteAtStop).
	deleted atomic.Int32
}

// What a removed instance's STOP becomes (deleted).
const (
	stopAsStop    int32 = iota // not removed: STOP
	stopAsFault                // FAULT, keepalived's default
	stopAsDeleted              // DELETED, with notify_deleted
	stopAsNothing              // nothing: it was in FAULT already
)

// notifyHooks are the notify keywords of a vrrp_instance or a
// vrrp_sync_group, resolved to run (command and user).
type notifyHooks struct {
	master, backup, fault, stop, generic notify.Script
	rxLowerPri                           notify.Script // notify_master_rx_lower_pri
	deleted                              notify.Script // notify_deleted's script
	notifyDeleted                        bool          // notify_deleted is written
}

func newNotifier(log *slog.Logger, cfg *config.Config, vi *config.VRRPInstance, fifos *notify.FIFOs) *notifier {
	u := scriptUser(cfg)
	return startNotifier(log, notify.Instance, vi.Name(), notifyHooks{master: notify.ScriptOf(vi.NotifyMaster, u),
		backup: notify.ScriptOf(vi.NotifyBackup, u), fault: notify.ScriptOf(vi.NotifyFault, u),
		stop: notify.ScriptOf(vi.NotifyStop, u), generic: notify.ScriptOf(vi.Notify, u),
		rxLowerPri: notify.ScriptOf(vi.NotifyMasterRxLowerPri, u),
		deleted:    notify.ScriptOf(vi.NotifyDeleted, u), notifyDeleted: vi.IsSet("notify_deleted")}, fifos)
}

// newGroupNotifier notifies a sync group's changes; a group's priority
// is always 0 in keepalived's arguments and lines.
func newGroupNotifier(log *slog.Logger, cfg *config.Config, sg *config.SyncGroup, fifos *notify.FIFOs) *notifier {
	u := scriptUser(cfg)
	return startNotifier(log, notify.Group, firstWord(sg.Args), notifyHooks{master: notify.ScriptOf(sg.NotifyMaster, u),
		backup: notify.ScriptOf(sg.NotifyBackup, u), fault: notify.ScriptOf(sg.NotifyFault, u),
		stop: notify.ScriptOf(sg.NotifyStop, u), generic: notify.ScriptOf(sg.Notify, u)}, fifos)
}

// scriptUser is global_defs script_user, if given.
func scriptUser(cfg *config.Config) []string {
	if cfg.GlobalDefs == nil {
		return nil
	}
	return cfg.GlobalDefs.ScriptUser
}

func firstWord(words []string) string {
	if len(words) == 0 {
		return ""
	}
	return words[0]
}

// notifyScriptWait is how long a notifier waits for a notify script
// before it goes on with the next (keepalived's default script timeout);
// tests shorten it.
var notifyScriptWait = notify.DefaultScriptWait

func startNotifier(log *slog.Logger, kind notify.Kind, name string, scripts notifyHooks, fifos *notify.FIFOs) *notifier {
	n := notify.New(kind, name, notify.Options{Log: log, FIFOs: fifos, ScriptWait: notifyScriptWait})
	return &notifier{n: n, kind: kind, name: name, scripts: scripts}
}

// line is keepalived's FIFO line (vrrp_notify.c notify_fifo).
func (n *notifier) line(event string, priority int) string {
	return fmt.Sprintf("%s \"%s\" %s %d\n", n.kind, n.name, event, priority)
}

// transition is the instance's OnTransition hook (keepalived's
// send_instance_notifies, send_group_notifies).
func (n *notifier) transition(_, to vrrp.State, priority int) {
	state, script := to.String(), n.stateScript(to)
	if to == vrrp.Stop {
		switch n.deleted.Load() {
		case stopAsFault:
			to, state, script = vrrp.Fault, vrrp.Fault.String(), n.scripts.fault
		case stopAsDeleted:
			state, script = "DELETED", n.scripts.deleted
		case stopAsNothing:
			return
		}
	}
	generic := n.scripts.generic
	if !generic.IsZero() {
		generic = generic.WithArgs(string(n.kind), n.name, state, strconv.Itoa(priority))
	}
	n.n.Notify(notify.Event{What: state, Lines: []string{n.line(state, priority)},
		Scripts: []notify.Script{script, generic}})
	if state != "DELETED" {
		n.mail.alert(n.kind, n.name, to)
	}
}

// deleteAtStop makes the STOP of an instance that a reload removes
// notify what keepalived's clear_diff_vrrp (vrrp.c) does: DELETED (its
// notify_deleted script, the generic notify, the FIFO line) with
// notify_deleted; else FAULT as keepalived always did (notify_fault), or
// nothing if the instance is in FAULT already.
func (n *notifier) deleteAtStop(state vrrp.State) {
	switch {
	case n.scripts.notifyDeleted:
		n.deleted.Store(stopAsDeleted)
	case state == vrrp.Fault:
		n.deleted.Store(stopAsNothing)
	default:
		n.deleted.Store(stopAsFault)
	}
}

// writeState writes the FIFO line of a state without running scripts:
// keepalived's fifo_write_vrrp_states_on_reload for what a reload kept.
func (n *notifier) writeState(state vrrp.State, priority int) {
	n.n.Notify(notify.Event{What: state.String(), Lines: []string{n.line(state.String(), priority)}})
}

// lowerPriority is the instance's OnLowerPriority hook: keepalived's
// send_event_notify runs notify_master_rx_lower_pri without arguments and
// writes MASTER_RX_LOWER_PRI with the master's own priority.
func (n *notifier) lowerPriority(priority int) {
	const event = "MASTER_RX_LOWER_PRI"
	n.n.Notify(notify.Event{What: event, Lines: []string{n.line(event, priority)},
		Scripts: []notify.Script{n.scripts.rxLowerPri}})
}

// priorityChanged writes keepalived's notify_priority_changes FIFO line
// (send_instance_priority_notifies): MASTER_PRIORITY from a master,
// BACKUP_PRIORITY from any other state.
func (n *notifier) priorityChanged(state vrrp.State, priority int) {
	event := "BACKUP_PRIORITY"
	if state == vrrp.Master {
		event = "MASTER_PRIORITY"
	}
	n.n.Notify(notify.Event{What: event, Lines: []string{n.line(event, priority)}})
}

// notifiesPriorityChanges is notify_priority_changes for ci: its own if
// written, else its sync group's, else global_defs' (keepalived's
// vrrp_complete_instance).
func notifiesPriorityChanges(g *config.GlobalDefs, ci *config.VRRPInstance, sg *config.SyncGroup) bool {
	switch {
	case ci.IsSet("notify_priority_changes"):
		return ci.NotifyPriorityChanges
	case sg != nil && sg.IsSet("notify_priority_changes"):
		return sg.NotifyPriorityChanges
	}
	return g != nil && g.VRRPNotifyPriorityChanges
}

func (n *notifier) stateScript(s vrrp.State) notify.Script {
	switch s {
	case vrrp.Master:
		return n.scripts.master
	case vrrp.Backup:
		return n.scripts.backup
	case vrrp.Fault:
		return n.scripts.fault
	case vrrp.Stop:
		return n.scripts.stop
	}
	return notify.Script{}
}

// stopNotifiers runs what the notifiers have queued (the STOP
// notifications), all at once, then ends what their scripts left running
// and waits for it (see notify.Notifier.Stop).
func stopNotifiers(ns []*notify.Notifier) {
	for _, n := range ns {
		n.Close()
	}
	for _, n := range ns {
		n.Stop()
	}
}

// retireNotifiers closes the notifiers of a runtime that a reload
// replaces: their queued notifications (those of removed instances)
// run on in the background, and the next runtime stops them with its own.
// Of those retired by earlier reloads, the ones done are let go.
func retireNotifiers(ns []*notifier, earlier []*notify.Notifier) []*notify.Notifier {
	var out []*notify.Notifier
	for _, n := range earlier {
		if n.Busy() {
			out = append(out, n)
		} else {
			n.Stop() // returns at once
		}
	}
	for _, n := range ns {
		n.n.Close()
		out = append(out, n.n)
	}
	return out
}

// notifiersOf are the notify.Notifiers behind ns.
func notifiersOf(ns []*notifier) []*notify.Notifier {
	out := make([]*notify.Notifier, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.n)
	}
	return out
}
