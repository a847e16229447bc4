package vrrpd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// notifier runs an instance's or a sync group's notify scripts and writes
// its FIFO lines on every state change, in order: the state's own script,
// then the generic `notify` with keepalived's four arguments, then the
// FIFOs. The scripts of one instance run one after the other, in the
// order of the changes (keepalived starts them all at once, so they can
// finish out of order).
type notifier struct {
	log     *slog.Logger
	cfg     *config.Config
	kind    string // INSTANCE or GROUP, as keepalived's arguments and FIFO lines say
	name    string
	scripts notifyHooks
	fifos   []*fifo
	queue   chan func()
	done    chan struct{}
}

// notifyHooks are the notify keywords of a vrrp_instance or a
// vrrp_sync_group.
type notifyHooks struct {
	master, backup, fault, stop, generic config.Script
	rxLowerPri                           config.Script // notify_master_rx_lower_pri
}

func newNotifier(log *slog.Logger, cfg *config.Config, vi *config.VRRPInstance, fifos []*fifo) *notifier {
	return startNotifier(log, cfg, "INSTANCE", vi.Name(), notifyHooks{master: vi.NotifyMaster, backup: vi.NotifyBackup,
		fault: vi.NotifyFault, stop: vi.NotifyStop, generic: vi.Notify, rxLowerPri: vi.NotifyMasterRxLowerPri}, fifos)
}

// newGroupNotifier notifies a sync group's changes; a group's priority
// is always 0 in keepalived's arguments and lines.
func newGroupNotifier(log *slog.Logger, cfg *config.Config, sg *config.SyncGroup, fifos []*fifo) *notifier {
	return startNotifier(log, cfg, "GROUP", firstWord(sg.Args), notifyHooks{master: sg.NotifyMaster, backup: sg.NotifyBackup,
		fault: sg.NotifyFault, stop: sg.NotifyStop, generic: sg.Notify}, fifos)
}

func firstWord(words []string) string {
	if len(words) == 0 {
		return ""
	}
	return words[0]
}

func startNotifier(log *slog.Logger, cfg *config.Config, kind, name string, scripts notifyHooks, fifos []*fifo) *notifier {
	n := &notifier{log: log, cfg: cfg, kind: kind, name: name, scripts: scripts, fifos: fifos,
		queue: make(chan func(), 64), done: make(chan struct{})}
	go func() {
		defer close(n.done)
		for job := range n.queue {
			job()
		}
	}()
	return n
}

// finish runs what is queued (the STOP notifications) and returns.
func (n *notifier) finish() {
	close(n.queue)
	<-n.done
}

// transition is the instance's OnTransition hook.
func (n *notifier) transition(_, to vrrp.State, priority int) {
	state := to.String()
	line := fmt.Sprintf("%s \"%s\" %s %d\n", n.kind, n.name, state, priority)
	scripts := []config.Script{n.stateScript(to)}
	generic := n.scripts.generic
	if !generic.IsZero() {
		generic.Args = append(append([]string(nil), generic.Args...), n.kind, n.name, state, strconv.Itoa(priority))
	}
	scripts = append(scripts, generic)
	n.enqueue(state, func() {
		for _, s := range scripts {
			n.run(s)
		}
		for _, f := range n.fifos {
			f.write(line)
		}
	})
}

// writeState writes the FIFO line of a state without running scripts:
// keepalived's fifo_write_vrrp_states_on_reload for what a reload kept.
func (n *notifier) writeState(state vrrp.State, priority int) {
	line := fmt.Sprintf("%s \"%s\" %s %d\n", n.kind, n.name, state, priority)
	n.enqueue(state.String(), func() {
		for _, f := range n.fifos {
			f.write(line)
		}
	})
}

// enqueue queues a notification without ever blocking the instance: a
// full queue (scripts that hang) loses it, and says so.
func (n *notifier) enqueue(what string, job func()) {
	select {
	case n.queue <- job:
	default:
		n.log.Error("("+n.name+") notify queue full: a notification is lost", "state", what)
	}
}

// lowerPriority is the instance's OnLowerPriority hook: keepalived runs
// notify_master_rx_lower_pri without arguments and writes
// MASTER_RX_LOWER_PRI with the master's own priority.
func (n *notifier) lowerPriority(priority int) {
	line := fmt.Sprintf("%s \"%s\" MASTER_RX_LOWER_PRI %d\n", n.kind, n.name, priority)
	n.enqueue("MASTER_RX_LOWER_PRI", func() {
		n.run(n.scripts.rxLowerPri)
		for _, f := range n.fifos {
			f.write(line)
		}
	})
}

// priorityChanged writes keepalived's notify_priority_changes FIFO line:
// MASTER_PRIORITY from a master, BACKUP_PRIORITY from any other state.
func (n *notifier) priorityChanged(state vrrp.State, priority int) {
	event := "BACKUP_PRIORITY"
	if state == vrrp.Master {
		event = "MASTER_PRIORITY"
	}
	line := fmt.Sprintf("%s \"%s\" %s %d\n", n.kind, n.name, event, priority)
	n.enqueue(event, func() {
		for _, f := range n.fifos {
			f.write(line)
		}
	})
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

func (n *notifier) stateScript(s vrrp.State) config.Script {
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
	return config.Script{}
}

// run runs one notify script to completion as the script user.
func (n *notifier) run(s config.Script) {
	if s.IsZero() {
		return
	}
	cmd := scriptCommand(context.Background(), s)
	if len(s.Args) > 1 && cmd.Path == "/bin/sh" {
		cmd = exec.Command("/bin/sh", "-c", s.Cmd+` "$@"`, "notify")
		cmd.Args = append(cmd.Args, s.Args[1:]...)
	}
	cred, err := scriptCredential(n.cfg, &config.VRRPScript{User: userOf(s)})
	if err != nil {
		n.log.Error("notify script cannot run: no such user", "script", s.Cmd, "err", err)
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		n.log.Warn("notify script failed", "script", s.Cmd, "err", err, "output", string(out))
	}
}

// userOf is a script line's own user and group, if given.
func userOf(s config.Script) []string {
	switch {
	case s.User == "":
		return nil
	case s.Group == "":
		return []string{s.User}
	}
	return []string{s.User, s.Group}
}

// fifo is a notify FIFO (notify_fifo, vrrp_notify_fifo): keepalived's
// lines, one per state change. A FIFO the daemon created is removed when
// it stops.
type fifo struct {
	path    string
	created bool
	mu      sync.Mutex
	f       *os.File
}

// openFIFO opens (creating if needed) a FIFO for writing without waiting
// for a reader: opened read-write, writes never block while the pipe has
// room.
func openFIFO(path string) (*fifo, error) {
	ff := &fifo{path: path}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := syscall.Mkfifo(path, 0o644); err != nil {
			return nil, err
		}
		ff.created = true
	case err != nil:
		return nil, err
	case st.Mode()&fs.ModeNamedPipe == 0:
		return nil, fmt.Errorf("%s exists and is not a FIFO", path)
	}
	if ff.f, err = os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK, 0); err != nil {
		return nil, err
	}
	return ff, nil
}

func (f *fifo) write(line string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.f.WriteString(line)
}

func (f *fifo) close() {
	f.f.Close()
	if f.created {
		os.Remove(f.path)
	}
}
