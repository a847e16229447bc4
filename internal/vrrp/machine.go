package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// State is the state of a VRRP instance. RFC 5798 §6.4 has Initialize,
// Backup and Master (RFC 9568: Active); keepalived adds FAULT and STOP.
type State int

// States. String gives keepalived's names (INIT, BACKUP, MASTER, FAULT,
// STOP), as printed in logs, notify arguments and the FIFO.
const (
	// Init is RFC 5798 "Initialize": the machine waits for Start.
	Init State = iota
	// Backup monitors the master and takes over when Master_Down_Timer fires.
	Backup
	// Master (RFC 9568 "Active") owns the virtual addresses and advertises.
	Master
	// Fault is keepalived's FAULT: a tracked object failed (or the interface
	// is down); the instance neither advertises nor takes over.
	Fault
	// Stop is keepalived's STOP: the instance was shut down. It is final.
	Stop
	numStates
)

var stateNames = [numStates]string{"INIT", "BACKUP", "MASTER", "FAULT", "STOP"}

// String returns keepalived's name of the state.
func (s State) String() string {
	if s >= 0 && s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// PriorityOwner is the priority of the address owner (RFC 5798 §5.2.4).
const PriorityOwner = 255

// DefaultDownTimerAdverts is the number of missed adverts after which a
// backup declares the master down (RFC 5798's 3, keepalived's
// down_timer_adverts default).
const DefaultDownTimerAdverts = 3

// MachineConfig is the per-instance configuration of the state machine.
// The config layer is expected to have applied keepalived's validation;
// Validate checks what the machine itself relies on.
type MachineConfig struct {
	// Version is the VRRP version, 2 (RFC 3768) or 3 (RFC 5798/9568).
	Version int
	// VRID is the virtual router ID, 1..255. The machine only carries it
	// (for logs); the driver demultiplexes adverts by VRID.
	VRID int
	// Priority is the configured base priority, 1..255; 255 makes this
	// router the address owner.
	Priority int
	// AdvertInt is Advertisement_Interval: whole seconds (1..255 s) for v2,
	// whole centiseconds (10 ms..40.95 s) for v3.
	AdvertInt time.Duration
	// Preempt is RFC Preempt_Mode (keepalived: !nopreempt). Forced on for
	// the owner, as keepalived does.
	Preempt bool
	// PreemptDelay is keepalived's preempt_delay: how long a backup with
	// preempt tolerates a live lower-priority master after startup (or
	// leaving FAULT) or after first seeing it. Ignored for the owner and for
	// InitialState Master (keepalived clears it for both).
	PreemptDelay time.Duration
	// DownTimerAdverts is keepalived's down_timer_adverts: the multiplier of
	// Master_Adver_Interval in Master_Down_Interval. 0 means 3.
	DownTimerAdverts int
	// InitialState is Backup, or Master when the config says "state
	// MASTER". A non-owner with InitialState Master starts as a backup with
	// a short down timer (Master_Adver_Interval + the minimum skew), as
	// keepalived does; the owner always goes straight to Master.
	InitialState State
	// PrimaryAddr is the address our adverts are sent from: the tie-break
	// when priorities are equal (the higher address wins).
	PrimaryAddr netip.Addr
	// StartupDelay is keepalived's vrrp_startup_delay (or
	// vrrp_delay_after_boot, whichever is larger, computed by the caller):
	// the instance may not become master before StartupDelay has passed
	// since Start. It runs as a backup meanwhile.
	StartupDelay time.Duration
	// LowerPrioNoAdvert restores the pre-RFC 9568 behaviour: a master that
	// receives a lower-priority advert neither answers with an advert nor
	// re-announces (keepalived's vrrp_lower_prio_no_advert; on in strict
	// mode).
	LowerPrioNoAdvert bool
	// HigherPrioSendAdvert makes a master that loses an election (higher
	// priority, or equal priority and higher address) send one advert with
	// its own priority before stepping down, so that the winner learns of
	// the split brain and re-announces (keepalived's
	// vrrp_higher_prio_send_advert; keepalived-go turns it on by default in
	// the layer above).
	HigherPrioSendAdvert bool
	// OwnerIgnoreAdverts makes the owner ignore every advert (keepalived's
	// owner in strict mode): it never steps down.
	OwnerIgnoreAdverts bool
	// Synced puts the instance in a sync group (vrrp_sync_group): when its
	// Master_Down_Timer fires it does not become master but emits
	// WantMaster and waits, as a backup, for the group to decide
	// (SyncMaster); the group also moves it with SyncBackup and, through
	// the driver, FaultRaised/FaultCleared.
	Synced bool
}

// Validate reports whether the configuration can drive a Machine.
func (c MachineConfig) Validate() error {
	var errs []error
	switch c.Version {
	case 2:
		if c.AdvertInt < time.Second || c.AdvertInt > MaxIntervalV2 || c.AdvertInt%time.Second != 0 {
			errs = append(errs, fmt.Errorf("VRRPv2 advert interval %v: want whole seconds in 1s..255s", c.AdvertInt))
		}
	case 3:
		const cs = 10 * time.Millisecond
		if c.AdvertInt < cs || c.AdvertInt > MaxIntervalV3 || c.AdvertInt%cs != 0 {
			errs = append(errs, fmt.Errorf("VRRPv3 advert interval %v: want whole centiseconds in 10ms..40.95s", c.AdvertInt))
		}
	default:
		errs = append(errs, fmt.Errorf("version %d: want 2 or 3", c.Version))
	}
	if c.VRID < 1 || c.VRID > 255 {
		errs = append(errs, fmt.Errorf("VRID %d: want 1..255", c.VRID))
	}
	if c.Priority < 1 || c.Priority > PriorityOwner {
		errs = append(errs, fmt.Errorf("priority %d: want 1..255", c.Priority))
	}
	if c.DownTimerAdverts < 0 || c.DownTimerAdverts > 255 {
		errs = append(errs, fmt.Errorf("down_timer_adverts %d: want 1..255 (0 for the default 3)", c.DownTimerAdverts))
	}
	if c.PreemptDelay < 0 {
		errs = append(errs, fmt.Errorf("negative preempt delay %v", c.PreemptDelay))
	}
	if c.StartupDelay < 0 {
		errs = append(errs, fmt.Errorf("negative startup delay %v", c.StartupDelay))
	}
	if c.InitialState != Backup && c.InitialState != Master {
		errs = append(errs, fmt.Errorf("initial state %v: want BACKUP or MASTER", c.InitialState))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vrrp: machine config: %w", err)
	}
	return nil
}

// SkewTime returns RFC Skew_Time for a router of the given priority.
//
//   - VRRPv2 (RFC 3768 §6.1): (256 - Priority) / 256 seconds, exact to the
//     nanosecond (1 s / 256 = 3.90625 ms). keepalived computes it in
//     microseconds, truncating: it differs from ours by less than 1 µs.
//   - VRRPv3 (RFC 5798 §6.1): ((256 - Priority) * Master_Adver_Interval) /
//     256, computed as the RFC's integer arithmetic in centiseconds (the
//     unit of the Max Adver Int field), truncating, as FRR does: priority
//     200 at 1 s gives 21 cs = 210 ms. keepalived computes in microseconds
//     ((256-p) * centiseconds * 625 / 16 µs) and gets 218.75 ms there; the
//     difference is at most 10 ms and only shifts which router times out
//     first among routers whose skews already differ.
func SkewTime(version, priority int, masterAdverInt time.Duration) time.Duration {
	if version == 3 {
		cs := int64(masterAdverInt / (10 * time.Millisecond))
		return time.Duration(int64(256-priority)*cs/256) * 10 * time.Millisecond
	}
	return time.Duration(256-priority) * time.Second / 256
}

// MasterDownInterval returns RFC Master_Down_Interval: downAdverts ×
// Master_Adver_Interval + Skew_Time (RFC 3768 §6.1 and RFC 5798 §6.1 with
// downAdverts = 3; keepalived's down_timer_adverts makes it configurable).
// downAdverts <= 0 means 3.
func MasterDownInterval(version, priority int, masterAdverInt time.Duration, downAdverts int) time.Duration {
	if downAdverts <= 0 {
		downAdverts = DefaultDownTimerAdverts
	}
	return time.Duration(downAdverts)*masterAdverInt + SkewTime(version, priority, masterAdverInt)
}

// Event is an input to Machine.Step.
type Event interface{ isEvent() }

// Start moves the machine out of Init (RFC 5798 §6.4.1 "Startup event").
type Start struct{}

// AdvertReceived is a valid advert for this instance. The driver has
// already applied every check of RFC 5798 §7.1 (TTL, version, checksum,
// VRID, auth, v2 interval, address list) and dropped what failed: an
// invalid packet never reaches Step, and so changes nothing, timers
// included. It also drops our own adverts looped back to us.
//
// Step accepts it by value or as a *AdvertReceived. Neither allocates:
// Step does not retain the event, so the compiler keeps the boxed value on
// the caller's stack (TestStepAllocs and BenchmarkStepAdvertByValue pin
// this).
type AdvertReceived struct {
	// Src is the advert's IP source address (the sender's primary address).
	Src netip.Addr
	// Priority is the advertised priority, 0..255.
	Priority int
	// MaxAdverInt is the advert's interval field. VRRPv3 backups adopt it as
	// Master_Adver_Interval; VRRPv2 ignores it (the driver discards v2
	// adverts whose interval differs from ours, RFC 3768 §7.1).
	MaxAdverInt time.Duration
}

// Timeout tells the machine that Deadline has passed. The driver delivers
// it when now >= Deadline(); an early or stale Timeout is ignored.
type Timeout struct{}

// PriorityChanged gives the new effective priority (base priority plus
// tracking weights). Non-owners are clamped to 1..254, as keepalived does;
// the owner ignores it (keepalived drops weighted trackers of an owner).
// Nothing is sent at once: a master's next scheduled advert carries the new
// priority, and a backup whose priority now exceeds the master's (with
// preempt) lets its down timer run out, since it ignores the now
// lower-priority adverts.
type PriorityChanged struct{ Priority int }

// FaultRaised puts the instance into FAULT from any state but Stop. The
// layer above counts fault sources and sends FaultRaised once when the
// first appears.
type FaultRaised struct{}

// FaultCleared takes the instance out of FAULT, into Backup (or Master for
// the owner), as at startup.
type FaultCleared struct{}

// Shutdown stops the instance for good (state Stop). A master resigns
// first with a priority-0 advert (RFC 5798 §6.4.3 "Shutdown event").
type Shutdown struct{}

// Resume moves the machine out of Init into the state its instance had
// under the previous configuration, at a reload: Master takes the VIPs at
// once (an advert, the addresses, announcements) so that none is dropped;
// any other state starts as Start does. Neither applies the startup delay.
type Resume struct{ State State }

// Suspend stops the machine (state Stop) without resigning or releasing
// the VIPs: at a reload, the instance built from the new configuration
// takes them over.
type Suspend struct{}

// SyncMaster is the sync group's order to become master: every member
// wants it, or another member became master. Only a backup obeys.
type SyncMaster struct{}

// SyncBackup is the sync group's order to give up: another member lost
// the election (a master steps down, releasing its VIPs without a
// priority-0 advert, as keepalived does), or the group's last fault
// cleared (a member in FAULT leaves it as at startup).
type SyncBackup struct{}

func (SyncMaster) isEvent()      {}
func (SyncBackup) isEvent()      {}
func (Resume) isEvent()          {}
func (Suspend) isEvent()         {}
func (Start) isEvent()           {}
func (AdvertReceived) isEvent()  {}
func (Timeout) isEvent()         {}
func (PriorityChanged) isEvent() {}
func (FaultRaised) isEvent()     {}
func (FaultCleared) isEvent()    {}
func (Shutdown) isEvent()        {}

// Action is an output of Machine.Step, to be executed by the driver in
// order.
type Action interface{ isAction() }

// SendAdvert: send one advert with this priority (0 = resign).
type SendAdvert struct{ Priority int }

// AddVIPs: install the virtual addresses (and virtual routes and rules).
type AddVIPs struct{}

// RemoveVIPs: remove the virtual addresses (and virtual routes and rules).
type RemoveVIPs struct{}

// Announce: start the announcement sequence for the virtual addresses:
// gratuitous ARPs / unsolicited neighbour advertisements, with the repeats,
// delays and refreshes the configuration asks for (vrrp_garp_master_repeat,
// vrrp_garp_master_delay, ...). The driver owns that sequence; the machine
// only says when one is due.
type Announce struct{}

// WantMaster: a synced backup's Master_Down_Timer fired; it stays backup
// (its timer re-armed) until its sync group says SyncMaster.
type WantMaster struct{}

// Transition reports a state change, after the actions that made it. It
// drives notify scripts, the FIFO, metrics and logs.
type Transition struct{ From, To State }

// LowerPriorityAdvert: a master received an advert with a lower priority
// (or equal priority and a lower address): another router believes it is
// master. It drives keepalived's notify_master_rx_lower_pri and the FIFO's
// MASTER_RX_LOWER_PRI, and the driver's garp_lower_prio_repeat
// announcements. Rate-limited with the answer to it: at most one per
// Advertisement_Interval.
type LowerPriorityAdvert struct {
	Src      netip.Addr
	Priority int
}

func (SendAdvert) isAction()          {}
func (AddVIPs) isAction()             {}
func (RemoveVIPs) isAction()          {}
func (Announce) isAction()            {}
func (Transition) isAction()          {}
func (WantMaster) isAction()          {}
func (LowerPriorityAdvert) isAction() {}

// transitions holds every Transition pre-converted to an Action, so that
// emitting one does not allocate.
var transitions = func() (t [numStates][numStates]Action) {
	for f := range numStates {
		for to := range numStates {
			t[f][to] = Transition{From: f, To: to}
		}
	}
	return t
}()

// Machine is the VRRP state machine of one instance: RFC 5798 §6.4 (and
// RFC 3768, RFC 9568) plus keepalived's FAULT and STOP states,
// preempt_delay, vrrp_startup_delay and the knobs of MachineConfig.
//
// It is pure: no goroutines, sockets or clocks. The driver feeds it events
// with the current time and executes the actions it returns; see the
// package documentation for the loop. A Machine is not safe for concurrent
// use.
type Machine struct {
	cfg   MachineConfig
	state State
	prio  int // effective priority

	// masterAdverInt is Master_Adver_Interval: our own AdvertInt for v2,
	// learned from the master's adverts for v3.
	masterAdverInt time.Duration

	startUntil time.Time // end of StartupDelay: no MASTER before

	downAt  time.Time // Master_Down_Timer expiry (Backup)
	adverAt time.Time // Adver_Timer expiry (Master)

	// preempt_delay (Backup): preemptAt is when a lower-priority master
	// may be preempted (zero: no delay running); lowerUntil is when the
	// tolerated lower-priority master counts as dead: its last advert plus
	// Master_Down_Interval, fixed when the advert arrived (zero: none since
	// the last accepted advert).
	preemptAt  time.Time
	lowerUntil time.Time

	// lowerReplyAt (Master): no answer to a lower-priority advert before.
	lowerReplyAt time.Time

	// wantMaster (Synced Backup): the down timer fired and no master has
	// been heard since; keepalived's wantstate MASTER.
	wantMaster bool

	acts []Action
}

// NewMachine returns a machine in state Init. It panics if cfg does not
// pass Validate (like etcd's raft with an invalid Config): configurations
// come from the config layer, which reports errors to the user first.
//
// keepalived's normalizations are applied: DownTimerAdverts 0 becomes 3;
// the owner always preempts and has no preempt delay; InitialState Master
// clears the preempt delay.
func NewMachine(cfg MachineConfig) *Machine {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.DownTimerAdverts == 0 {
		cfg.DownTimerAdverts = DefaultDownTimerAdverts
	}
	if cfg.Priority == PriorityOwner {
		cfg.Preempt = true
		cfg.PreemptDelay = 0
	}
	if cfg.InitialState == Master {
		cfg.PreemptDelay = 0
	}
	return &Machine{
		cfg:            cfg,
		state:          Init,
		prio:           cfg.Priority,
		masterAdverInt: cfg.AdvertInt,
		acts:           make([]Action, 0, 8),
	}
}

// Config returns the configuration (after NewMachine's normalizations).
func (m *Machine) Config() MachineConfig { return m.cfg }

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority returns the effective priority (what our adverts carry).
func (m *Machine) Priority() int { return m.prio }

// MasterAdverInt returns Master_Adver_Interval: the interval of the
// current master as learned from its adverts (v3), else our own.
func (m *Machine) MasterAdverInt() time.Duration { return m.masterAdverInt }

// MasterDownInterval returns Master_Down_Interval for the current
// priority and Master_Adver_Interval.
func (m *Machine) MasterDownInterval() time.Duration {
	return MasterDownInterval(m.cfg.Version, m.prio, m.masterAdverInt, m.cfg.DownTimerAdverts)
}

func (m *Machine) skew() time.Duration {
	return SkewTime(m.cfg.Version, m.prio, m.masterAdverInt)
}

func (m *Machine) isOwner() bool { return m.cfg.Priority == PriorityOwner }

// Deadline returns when the driver must deliver Timeout; zero means no
// timer is running (Init, Fault, Stop).
//
// In Master it is the Adver_Timer. In Backup it is the Master_Down_Timer,
// held back by vrrp_startup_delay and by preempt_delay while a live
// lower-priority master is being tolerated: max(down timer,
// min(last lower advert + Master_Down_Interval, preempt time)).
//
// After a Step at now, Deadline is never before now, provided the driver
// delivered Timeout whenever it was due. A driver that handles a queued
// advert first (the better order) may see a past Deadline: it then
// delivers Timeout at once.
func (m *Machine) Deadline() time.Time {
	switch m.state {
	case Master:
		return m.adverAt
	case Backup:
		d := m.downAt
		if !m.lowerUntil.IsZero() && !m.preemptAt.IsZero() {
			hold := m.lowerUntil
			if m.preemptAt.Before(hold) {
				hold = m.preemptAt
			}
			if hold.After(d) {
				d = hold
			}
		}
		if m.startUntil.After(d) {
			d = m.startUntil
		}
		return d
	}
	return time.Time{}
}

// Step applies one event at time now and returns the actions to execute,
// in order. The returned slice is owned by the Machine and valid until the
// next call to Step: copy it to keep it. It is empty (not nil) when there
// is nothing to do. Step does not allocate for adverts, timeouts or state
// changes (Transition values are pre-boxed; SendAdvert's priority fits
// Go's small-integer interface cache); LowerPriorityAdvert, which carries
// an address, allocates, at most once per Advertisement_Interval.
//
// now must not go backwards between calls. Events that make no sense in
// the current state are ignored (adverts in Init, Fault and Stop, Start
// twice, FaultCleared outside Fault, anything after Stop).
func (m *Machine) Step(now time.Time, ev Event) []Action {
	m.acts = m.acts[:0]
	if m.state == Stop {
		return m.acts
	}
	switch e := ev.(type) {
	case *AdvertReceived:
		if e != nil {
			m.advert(now, e)
		}
	case AdvertReceived:
		m.advert(now, &e)
	case Timeout:
		m.timeout(now)
	case Start:
		if m.state == Init {
			m.start(now)
			m.enter(now, Init)
		}
	case Resume:
		if m.state == Init {
			m.resume(now, e.State)
		}
	case SyncMaster:
		if m.state == Backup {
			m.becomeMaster(now)
		}
	case SyncBackup:
		m.syncBackup(now)
	case Suspend:
		m.downAt, m.adverAt = time.Time{}, time.Time{}
		m.lowerUntil, m.preemptAt = time.Time{}, time.Time{}
		m.transition(Stop)
	case PriorityChanged:
		m.setPriority(e.Priority)
	case FaultRaised:
		m.fault(now)
	case FaultCleared:
		if m.state == Fault {
			m.enter(now, Fault)
		}
	case Shutdown:
		m.shutdown()
	}
	return m.acts
}

func (m *Machine) emit(a Action) { m.acts = append(m.acts, a) }

func (m *Machine) transition(to State) {
	from := m.state
	m.state = to
	m.wantMaster = false
	m.emit(transitions[from][to])
}

// start records the start time (for vrrp_startup_delay).
func (m *Machine) start(now time.Time) {
	if m.cfg.StartupDelay > 0 {
		m.startUntil = now.Add(m.cfg.StartupDelay)
	}
}

// syncBackup is SyncBackup: a master steps down without a last advert
// (the other routers' members are winning already), a member in FAULT
// comes up as at startup.
func (m *Machine) syncBackup(now time.Time) {
	switch m.state {
	case Master:
		m.emit(RemoveVIPs{})
		m.adverAt = time.Time{}
		m.downAt = now.Add(m.MasterDownInterval())
		m.transition(Backup)
	case Fault:
		m.enter(now, Fault)
	}
}

// WantsMaster tells whether a synced backup's down timer fired with no
// master heard since: it waits for its group to let it become master.
func (m *Machine) WantsMaster() bool { return m.wantMaster }

// resume is Resume: a master stays master, everything else starts afresh.
func (m *Machine) resume(now time.Time, prev State) {
	if prev == Master {
		m.becomeMaster(now)
		return
	}
	m.enter(now, Init)
}

// enter leaves Init or Fault (RFC 5798 §6.4.1 Initialize): the owner
// becomes master unless the startup delay holds it; everyone else becomes
// a backup with a fresh Master_Down_Timer.
func (m *Machine) enter(now time.Time, from State) {
	m.masterAdverInt = m.cfg.AdvertInt
	m.lowerUntil = time.Time{}
	m.preemptAt = time.Time{}
	if m.isOwner() {
		if now.Before(m.startUntil) {
			m.downAt = now // becomes master as soon as startUntil passes
			m.transition(Backup)
			return
		}
		m.becomeMaster(now)
		return
	}
	if m.cfg.InitialState == Master {
		// keepalived: a non-owner "state MASTER" waits one advert interval
		// plus the minimum skew, to hear an existing master first.
		m.downAt = now.Add(m.masterAdverInt + SkewTime(m.cfg.Version, PriorityOwner, m.masterAdverInt))
	} else {
		m.downAt = now.Add(m.MasterDownInterval())
	}
	if m.cfg.PreemptDelay > 0 && m.cfg.Preempt {
		// keepalived: preempt_delay runs from startup and from leaving FAULT.
		m.preemptAt = now.Add(m.cfg.PreemptDelay)
	}
	m.transition(Backup)
}

// becomeMaster: RFC 5798 §6.4.1 (owner) and §6.4.2 (Master_Down_Timer
// fired): send an advert, take the addresses, announce them, arm the
// Adver_Timer.
func (m *Machine) becomeMaster(now time.Time) {
	m.emit(SendAdvert{Priority: m.prio})
	m.emit(AddVIPs{})
	m.emit(Announce{})
	m.adverAt = now.Add(m.cfg.AdvertInt)
	m.downAt = time.Time{}
	m.lowerUntil = time.Time{}
	m.preemptAt = time.Time{}
	m.lowerReplyAt = time.Time{}
	m.transition(Master)
}

// becomeBackup: RFC 5798 §6.4.3, a master that lost the election.
func (m *Machine) becomeBackup(now time.Time, a *AdvertReceived) {
	if m.cfg.HigherPrioSendAdvert {
		m.emit(SendAdvert{Priority: m.prio})
	}
	m.emit(RemoveVIPs{})
	m.adverAt = time.Time{}
	m.learnInterval(a)
	m.downAt = now.Add(m.MasterDownInterval())
	m.transition(Backup)
}

func (m *Machine) learnInterval(a *AdvertReceived) {
	if m.cfg.Version == 3 && a.MaxAdverInt > 0 {
		m.masterAdverInt = a.MaxAdverInt
	}
}

func (m *Machine) timeout(now time.Time) {
	d := m.Deadline()
	if d.IsZero() || now.Before(d) {
		return // early or stale
	}
	switch m.state {
	case Backup:
		if m.cfg.Synced {
			// keepalived's vrrp_sync_can_goto_master: wait for the group,
			// re-arming the down timer ("the timer here doesn't really
			// matter, since we are waiting for other instances").
			m.wantMaster = true
			m.downAt = now.Add(m.MasterDownInterval())
			m.emit(WantMaster{})
			return
		}
		m.becomeMaster(now)
	case Master:
		// RFC 5798 §6.4.3: send an advert, reset the Adver_Timer. The next
		// expiry follows the previous one so that a late driver does not
		// drift the cadence, unless it is so late that it would be past.
		m.emit(SendAdvert{Priority: m.prio})
		next := m.adverAt.Add(m.cfg.AdvertInt)
		if !next.After(now) {
			next = now.Add(m.cfg.AdvertInt)
		}
		m.adverAt = next
	}
}

// wins reports whether an advert beats us in an election: a higher
// priority, or an equal priority from a higher primary address (RFC 5798
// §6.4.3, unsigned comparison in network byte order).
func (m *Machine) wins(a *AdvertReceived) bool {
	if a.Priority != m.prio {
		return a.Priority > m.prio
	}
	return a.Src.Compare(m.cfg.PrimaryAddr) > 0
}

func (m *Machine) advert(now time.Time, a *AdvertReceived) {
	if a.Priority < 0 || a.Priority > 255 {
		return
	}
	if m.isOwner() && m.cfg.OwnerIgnoreAdverts {
		return
	}
	switch m.state {
	case Backup:
		m.backupAdvert(now, a)
	case Master:
		m.masterAdvert(now, a)
	}
}

// backupAdvert is RFC 5798 §6.4.2 "If an ADVERTISEMENT is received" plus
// keepalived's preempt_delay.
func (m *Machine) backupAdvert(now time.Time, a *AdvertReceived) {
	switch {
	case a.Priority == 0:
		// The master resigns: take over after Skew_Time. A priority-0
		// advert only ever brings the takeover closer: a stream of them
		// cannot keep pushing it back.
		if d := now.Add(m.skew()); d.Before(m.downAt) {
			m.downAt = d
		}
		if m.downAt.Before(now) {
			m.downAt = now // was only held by a tolerated lower master
		}
		m.lowerUntil = time.Time{}
	case !m.cfg.Preempt || a.Priority >= m.prio:
		m.learnInterval(a)
		m.downAt = now.Add(m.MasterDownInterval())
		m.lowerUntil = time.Time{}
		m.wantMaster = false // a master is alive
		if a.Priority >= m.prio {
			m.preemptAt = time.Time{} // keepalived: "stop preempt delay"
		}
	default:
		// Lower priority with preempt: discard, let the down timer run
		// out. With preempt_delay, remember that a lower master is alive
		// and start the delay if none is running (Deadline holds the
		// takeover until it expires).
		if m.cfg.PreemptDelay > 0 {
			m.lowerUntil = now.Add(m.MasterDownInterval())
			if m.preemptAt.IsZero() {
				m.preemptAt = now.Add(m.cfg.PreemptDelay)
			}
		}
	}
}

// masterAdvert is RFC 5798 §6.4.3 / RFC 9568 §6.4.3 "If an ADVERTISEMENT
// is received". Nothing here restarts the Adver_Timer except sending our
// own advert in answer to a priority-0 one, as the RFC says.
func (m *Machine) masterAdvert(now time.Time, a *AdvertReceived) {
	switch {
	case a.Priority == 0:
		// Another master resigned: assert ourselves before the backups'
		// Skew_Time runs out.
		m.emit(SendAdvert{Priority: m.prio})
		m.adverAt = now.Add(m.cfg.AdvertInt)
	case m.wins(a):
		m.becomeBackup(now, a)
	default:
		// A lower-priority master: split brain, or a healing one. RFC 9568
		// sends an advert at once to assert ourselves (unless
		// lower_prio_no_advert); the driver re-announces the addresses
		// (garp_lower_prio_repeat, whatever lower_prio_no_advert says, as
		// keepalived's vrrp_receive_advert) so that clients and switches
		// move back to us. Rate-limited to one answer per
		// Advertisement_Interval so a flood cannot amplify (keepalived
		// answers every one).
		if now.Before(m.lowerReplyAt) {
			return
		}
		m.lowerReplyAt = now.Add(m.cfg.AdvertInt)
		m.emit(LowerPriorityAdvert{Src: a.Src, Priority: a.Priority})
		if !m.cfg.LowerPrioNoAdvert {
			m.emit(SendAdvert{Priority: m.prio})
		}
	}
}

func (m *Machine) setPriority(p int) {
	if m.isOwner() {
		return
	}
	m.prio = min(max(p, 1), PriorityOwner-1)
}

func (m *Machine) fault(now time.Time) {
	switch m.state {
	case Fault:
		return
	case Init:
		m.start(now)
	case Master:
		m.emit(SendAdvert{Priority: 0})
		m.emit(RemoveVIPs{})
	}
	m.downAt, m.adverAt = time.Time{}, time.Time{}
	m.lowerUntil, m.preemptAt = time.Time{}, time.Time{}
	m.transition(Fault)
}

func (m *Machine) shutdown() {
	if m.state == Master {
		m.emit(SendAdvert{Priority: 0})
		m.emit(RemoveVIPs{})
	}
	m.downAt, m.adverAt = time.Time{}, time.Time{}
	m.lowerUntil, m.preemptAt = time.Time{}, time.Time{}
	m.transition(Stop)
}
