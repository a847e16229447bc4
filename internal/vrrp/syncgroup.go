package vrrp

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// SyncGroup is a vrrp_sync_group: instances that change state together,
// so that a router is master of all of them or of none (keepalived's
// vrrp_sync.c):
//
//   - a member becomes master only when every other member wants to too
//     (its own down timer fired) or one already is; then all do;
//   - a master that loses an election takes the others down to backup;
//   - a member's own fault (tracking) puts every member in FAULT, and the
//     group comes back, as backups, when the last member's fault clears.
//
// Members report to the group from their own goroutines (a queue, never
// blocking); the group decides on its own goroutine (Run) and steps the
// other members, one lock at a time, so that no two instance locks are
// ever held together.
type SyncGroup struct {
	name         string
	log          *slog.Logger
	onTransition func(from, to State)
	members      []*Instance

	mu    sync.Mutex
	queue []syncEvent
	wake  chan struct{}

	// Owned by Run's goroutine.
	state  State
	faulty map[*Instance]bool
}

type syncEventKind int

const (
	memberTransition syncEventKind = iota
	memberWantsMaster
	memberFaultRaised
	memberFaultCleared
)

type syncEvent struct {
	from *Instance
	kind syncEventKind
	t    Transition
}

// NewSyncGroup makes an empty group in state initial: Backup, or Master
// when its members resume as masters after a reload, so that carrying
// them over notifies nothing. onTransition, if set, runs on the group's
// goroutine after each group state change (notify scripts, FIFO).
func NewSyncGroup(name string, initial State, log *slog.Logger, onTransition func(from, to State)) *SyncGroup {
	if log == nil {
		log = slog.Default()
	}
	return &SyncGroup{name: name, log: log, onTransition: onTransition, state: initial,
		faulty: map[*Instance]bool{}, wake: make(chan struct{}, 1)}
}

// Name is the group's name.
func (g *SyncGroup) Name() string { return g.name }

// State is the group's state as last decided. Only Run's goroutine may
// call it while Run runs.
func (g *SyncGroup) State() State { return g.state }

// post queues an event from a member; it never blocks, since members
// post with their own lock held.
func (g *SyncGroup) post(e syncEvent) {
	g.mu.Lock()
	g.queue = append(g.queue, e)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Run applies the members' events until ctx is done. It returns once
// the notifications it queued behind its members' effects have run.
func (g *SyncGroup) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			for _, m := range g.members {
				m.effects.wait()
			}
			return
		case <-g.wake:
		}
		for _, e := range g.take() {
			g.handle(e)
		}
	}
}

func (g *SyncGroup) take() []syncEvent {
	g.mu.Lock()
	defer g.mu.Unlock()
	q := g.queue
	g.queue = nil
	return q
}

func (g *SyncGroup) handle(e syncEvent) {
	switch e.kind {
	case memberFaultRaised:
		g.faulty[e.from] = true
		if g.state != Fault {
			g.syncTo(Fault, e.from, FaultRaised{}, func(s State) bool { return s != Fault })
		}
	case memberFaultCleared:
		delete(g.faulty, e.from)
		if len(g.faulty) == 0 {
			g.syncTo(Backup, nil, SyncBackup{}, func(s State) bool { return s == Fault })
		}
	case memberWantsMaster:
		if g.mayGoMaster(e.from) {
			g.syncTo(Master, nil, SyncMaster{}, func(s State) bool { return s == Backup })
		}
	case memberTransition:
		g.memberMoved(e.from, e.t)
	}
}

// memberMoved follows a member's own transitions (keepalived's VRRP_TSM):
// one that became master takes the others along, a master that stepped
// down takes the others down.
func (g *SyncGroup) memberMoved(from *Instance, t Transition) {
	switch {
	case t.To == Master && g.state != Master && len(g.faulty) == 0:
		g.syncTo(Master, from, SyncMaster{}, func(s State) bool { return s == Backup })
	case t.From == Master && t.To == Backup && g.state == Master:
		g.syncTo(Backup, from, SyncBackup{}, func(s State) bool { return s == Master })
	}
}

// mayGoMaster is keepalived's vrrp_sync_can_goto_master: the group is
// master already, or every other member is master or wants to be.
func (g *SyncGroup) mayGoMaster(from *Instance) bool {
	if len(g.faulty) > 0 {
		return false
	}
	if g.state == Master {
		return true
	}
	for _, m := range g.members {
		if m != from && m.State() != Master && !m.wantMaster.Load() {
			return false
		}
	}
	return true
}

// syncTo moves the group to state: ev is stepped into every member but
// skip whose state matches. Members' resulting transitions come back as
// events and change nothing more, the group being in state already.
func (g *SyncGroup) syncTo(state State, skip *Instance, ev Event, matches func(State) bool) {
	if state != g.state {
		g.log.Info("VRRP_Group(" + g.name + ") Syncing instances to " + state.String() + " state")
	}
	for _, m := range g.members {
		if m != skip && matches(m.State()) {
			m.step(ev)
		}
	}
	g.setState(state)
}

// setState moves the group to s. Its notification comes after those of
// the member transitions that made the change, as keepalived's
// vrrp_sync_master, vrrp_sync_backup and vrrp_sync_fault (vrrp_sync.c)
// move the members first and run send_group_notifies last: it waits for
// every member's effects queued so far (where their own notifications
// are), without blocking the group.
func (g *SyncGroup) setState(s State) {
	if s == g.state {
		return
	}
	from := g.state
	g.state = s
	g.notifyAfterMembers(from, s)
}

// notifyAfterMembers runs the group's hook for from → to once every
// member's effects queued so far have run.
func (g *SyncGroup) notifyAfterMembers(from, to State) {
	if g.onTransition == nil {
		return
	}
	if len(g.members) == 0 {
		g.onTransition(from, to)
		return
	}
	// The member that runs the last barrier calls the hook inside its
	// effect: a later group change waits behind it on that member's
	// queue, so the group's notifications keep their order.
	var left atomic.Int32
	left.Store(int32(len(g.members)))
	for _, m := range g.members {
		m.effects.push(func() {
			if left.Add(-1) == 0 {
				g.onTransition(from, to)
			}
		})
	}
}

// Begin notifies the group's starting state, BACKUP, as keepalived's
// vrrp_init_state (vrrp_scheduler.c) runs send_group_notifies for a
// group in BACKUP or FAULT before its instances enter their first state:
// call it before the members start, and not for a group whose members a
// reload carries over (keepalived's state_same_at_reload).
//
// With waitScripts (a member waits for a vrrp_script's first result:
// keepalived's num_member_init), keepalived's group starts in INIT and
// enters BACKUP only once its members have: the notification then comes
// after the members' first ones. Call it after they start, before Run.
func (g *SyncGroup) Begin(waitScripts bool) {
	if g.state != Backup && g.state != Fault {
		return
	}
	if waitScripts {
		g.notifyAfterMembers(Init, g.state)
	} else if g.onTransition != nil {
		g.onTransition(Init, g.state)
	}
}

// Stop records that the members have stopped (call it after their Run
// returned, not at a reload's hand-over): the group's STOP notification,
// after the members' own.
func (g *SyncGroup) Stop() {
	if g.state == Stop {
		return
	}
	from := g.state
	g.state = Stop
	if g.onTransition != nil {
		g.onTransition(from, Stop)
	}
}
