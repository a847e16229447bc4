package vrrp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/latency"
)

// Net is what an Instance needs from the kernel. The daemon adapts the
// kernel package to it; tests use an in-memory network. SendAdvert comes
// from the goroutine that steps the machine, with the instance's lock
// held; AddVIPs and RemoveVIPs come one at a time, in order, from the
// instance's effects goroutine; Announce may run beside them.
type Net interface {
	// SendAdvert sends one VRRP message (the IP payload) to dst.
	SendAdvert(payload []byte, dst netip.Addr) error
	// AddVIPs installs the addresses; an address already there is fine.
	AddVIPs(vips []VIP) error
	// RemoveVIPs removes the addresses; an address already gone is fine.
	RemoveVIPs(vips []VIP) error
	// Announce sends one gratuitous ARP (IPv4) or unsolicited neighbour
	// advertisement (IPv6) for each address.
	Announce(vips []VIP) error
}

// VIP is a virtual address with the options of its virtual_ipaddress line.
type VIP struct {
	Prefix netip.Prefix
	Dev    string // "" means the instance's interface
	Label  string
	Brd    string
	Scope  string
}

// Peer is a unicast peer (unicast_peer) with its accepted TTL range.
type Peer struct {
	Addr           netip.Addr
	MinTTL, MaxTTL int // 0 means no bound
}

// AnnounceConfig is keepalived's gratuitous ARP / NA schedule on becoming
// master: Repeat packets per address, then the same again after Delay;
// then every Refresh (if set), RefreshRepeat packets each time. A
// master that hears a lower priority sends LowerPrioRepeat per address,
// and again after LowerPrioDelay (garp_lower_prio_repeat and _delay).
//
// The packets of a burst are handed to Net.Announce back to back, as
// keepalived's vrrp_send_link_update does; spacing them
// (vrrp_garp_interval, garp_group) is the Net's business, since
// keepalived throttles per interface, across instances.
type AnnounceConfig struct {
	Repeat          int
	Delay           time.Duration
	Refresh         time.Duration
	RefreshRepeat   int
	LowerPrioRepeat int // 0: no announcement on a lower-priority advert
	LowerPrioDelay  time.Duration
	// ExtraInterval, if set, announces ExtraVIPs (one address per extra
	// interface, as keepalived's vrrp_send_vmac_update picks them) with
	// the first scheduled advert after each ExtraInterval while master:
	// garp_extra_if.
	ExtraInterval time.Duration
	ExtraVIPs     []VIP
}

// InstanceConfig is one vrrp_instance, as the daemon builds it from the
// configuration.
type InstanceConfig struct {
	Name string
	// Interface is the interface the instance runs on (its VMAC with
	// use_vmac, as keepalived's ifp): reported, not used to send.
	Interface string
	Machine   MachineConfig
	Source    netip.Addr // the address adverts are sent from
	Group     netip.Addr // multicast destination; unused with Peers
	Peers     []Peer     // unicast peers; none means multicast
	// SourceInterface is the interface adverts leave from: a unicast
	// instance announces Source there when it leaves FAULT.
	SourceInterface string
	// CheckUnicastSrc drops unicast adverts whose source is not one of
	// Peers (keepalived's check_unicast_src).
	CheckUnicastSrc bool
	AuthType        uint8 // v2: AuthNone, AuthPass or AuthAH (IPv4 only)
	AuthPass        []byte
	// TTL is the TTL of the adverts of an AuthAH instance, which builds
	// their IPv4 header itself (the other instances' TTL is the socket's);
	// 0 means 255.
	TTL      uint8
	Checksum ChecksumMode
	VIPs     []VIP // advertised (virtual_ipaddress)
	Excluded []VIP // installed but not advertised (virtual_ipaddress_excluded)
	Announce AnnounceConfig
	Log      *slog.Logger

	// OldUnicastChecksum is keepalived's old_unicast_checksum for a
	// unicast VRRPv3 instance over IPv4: see OldChecksumMode.
	OldUnicastChecksum OldChecksumMode
	// ChecksumGroup is the group keepalived 1.3.6 and earlier put in the
	// checksum's pseudo-header of unicast adverts: global_defs'
	// vrrp_mcast_group4 (224.0.0.18).
	ChecksumGroup netip.Addr
	// SkipCheckAdvAddr: a backup does not compare the address list of an
	// advert from the master it last heard (keepalived's
	// skip_check_adv_addr / vrrp_skip_check_adv_addr). The number of
	// addresses is still compared.
	SkipCheckAdvAddr bool
	// OnLowerPriority, if set, is called (in order with the instance's
	// other effects, without its lock) when the master hears a lower-priority master (rate-limited to one
	// per advert interval), with its own priority: keepalived's
	// notify_master_rx_lower_pri and MASTER_RX_LOWER_PRI FIFO line.
	OnLowerPriority func(priority int)
	// SyncGroup is the instance's vrrp_sync_group, or nil.
	SyncGroup *SyncGroup
	// Timers runs the instance's timer with others' on one goroutine,
	// which its owner runs; nil gives the instance its own, which Run
	// runs.
	Timers *Timers
	// Queue, if set, is the socket the instance's adverts arrive on: the
	// timers deliver what waits there before a backup's timer takes it
	// to MASTER (see Timers).
	Queue Queue
	// OnTransition, if set, is called after every state change (in order,
	// after the VIP changes the state made, without the instance's lock,
	// so it may read Status), with the priority at that moment: notify scripts,
	// FIFO and metrics hang here.
	OnTransition func(from, to State, priority int)
}

// Stats are an instance's counters, with keepalived's names where it has
// them. They are updated atomically and may be read at any time.
type Stats struct {
	AdvertRcvd, AdvertSent      atomic.Uint64
	BecomeMaster, ReleaseMaster atomic.Uint64
	Transitions                 atomic.Uint64 // every state change, INIT → BACKUP included
	PriZeroRcvd, PriZeroSent    atomic.Uint64
	// AddrListErr is keepalived's addr_list_err: adverts whose address
	// list differs (accepted anyway, as keepalived ≥ 2.3.3 does), and
	// unicast adverts to a multicast instance or the reverse (dropped, and
	// also counted in Dropped[DropAddrList]).
	AddrListErr atomic.Uint64
	SendErrors  atomic.Uint64
	Dropped     [len(dropReasonNames)]atomic.Uint64 // by DropReason
	// TimerLateness is how late each expired timer fired: scheduling
	// jitter, keepalived's first cause of false failovers.
	TimerLateness   latency.Histogram
	lastAddrListLog atomic.Int64 // unix nanoseconds, to rate-limit the log
	// oldChecksum: unicast adverts are checksummed with ChecksumGroup as
	// the pseudo-header's destination (old_unicast_checksum, or learnt).
	oldChecksum atomic.Bool
	// lastMaster is the source of the last advert a backup heard from a
	// master (keepalived's master_saddr), or of the one that made a master
	// step down; nil before any. SkipCheckAdvAddr reads it.
	lastMaster atomic.Pointer[netip.Addr]
	// loggedCastErr: "Expected multicast packet but received unicast
	// packet" was logged since the last state change (keepalived's
	// VRRP_RLFLAG_UNI_MULTICAST_ERR, cleared as its rlflags are).
	loggedCastErr atomic.Bool
}

// Instance runs one VRRP instance: its Machine, its timer, the adverts it
// sends and receives, its VIPs and announcements.
//
// Events are handled on the goroutine that produces them: a received
// advert on the socket reader's, a timer on Timers.Run's (or on Run's
// when the lock was busy then). mu serialises them. A
// backup thus handles an advert without waking a second goroutine, which
// is most of its CPU time with hundreds of instances. What is slow or
// calls out (netlink, announcements, hooks) runs on the effects queue,
// never with mu held (effects.go).
type Instance struct {
	cfg   InstanceConfig
	net   Net
	stats Stats
	state atomic.Int32
	// handingOver: Run's end hands the VIPs to a reloaded instance.
	handingOver atomic.Bool
	// wantMaster mirrors the machine's WantsMaster for the sync group.
	wantMaster atomic.Bool
	// lastTransition is when the state last changed, in unix nanoseconds
	// (0: never), for the status API and keepalived.json.
	lastTransition atomic.Int64

	mu      sync.Mutex // guards everything below
	m       *Machine
	buf     []byte // advert encoding buffer, reused
	started bool
	resumed State // the state Resume carried over from a reload (Init: none)
	// resumeAnnounce, set by Resume, is what the first announcement
	// covers instead of every VIP.
	resumeAnnounce *[]VIP
	deadline       time.Time // the machine's deadline
	extraAt        time.Time // when garp_extra_if announces next; zero: not master, or none

	// The timer: due is the deadline in monoNanos (0: none), written
	// with mu held and read by Timers.Run; tkey and tindex are the
	// instance's place in the Timers heap, guarded by Timers.mu.
	timers    *Timers
	ownTimers bool          // made by NewInstance: Run runs it
	fireC     chan struct{} // Timers.Run's "the deadline has come" to Run
	due       atomic.Int64
	tkey      int64
	tindex    int
	// early is how long before its deadline the timer may be handled
	// (ns): a master's advert rides with an earlier one's wake-up, see
	// advertEarliness.
	early atomic.Int64

	// Computed once, so that sending an advert allocates nothing.
	addrs []netip.Addr // the advertised addresses
	dsts  []netip.Addr // the group, or the unicast peers
	vips  []VIP        // VIPs and excluded VIPs, installed together

	ah *ahState // auth_type AH; nil otherwise

	effects *effects // VIP changes, announcements and hooks, in order
	// held: the VIPs are installed (keepalived's vipset); read and
	// written only by the effects goroutine.
	held bool
	// pings are Alive's questions, which Run answers between timers.
	pings chan chan struct{}

	announceMu   sync.Mutex
	stopAnnounce context.CancelFunc
	// stopLower cancels the announcements answering lower-priority
	// adverts; each runs on, independently of the others and of the
	// master's schedule, until the VIPs go (keepalived's
	// vrrp_lower_prio_gratuitous_arp_thread timers). lowerDue are their
	// bursts' times, in order, which one goroutine (lowerRunning) sends,
	// woken by lowerWake when an earlier one comes: a goroutine per answer
	// waiting out garp_lower_prio_delay made tens of thousands when
	// masters fought at advert_int 0.1 with 1,000 instances.
	stopLower    context.CancelFunc
	lowerCtx     context.Context
	lowerDue     []time.Time
	lowerRunning bool
	lowerWake    chan struct{}
	announcing   sync.WaitGroup
}

// NewInstance checks cfg and prepares an instance; Run starts it.
func NewInstance(cfg InstanceConfig, net Net) (*Instance, error) {
	if err := cfg.Machine.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.Log = cfg.Log.With("instance", cfg.Name)
	cfg.Machine.Synced = cfg.SyncGroup != nil
	in := &Instance{cfg: cfg, net: net, m: NewMachine(cfg.Machine),
		timers: cfg.Timers, tindex: -1, fireC: make(chan struct{}, 1), effects: newEffects(), pings: make(chan chan struct{}),
		vips: slices.Concat(cfg.VIPs, cfg.Excluded), dsts: []netip.Addr{cfg.Group}}
	if in.timers == nil {
		in.timers, in.ownTimers = NewTimers(), true
	}
	for _, v := range cfg.VIPs {
		in.addrs = append(in.addrs, v.Prefix.Addr())
	}
	if len(cfg.Peers) > 0 {
		in.dsts = in.dsts[:0]
		for _, p := range cfg.Peers {
			in.dsts = append(in.dsts, p.Addr)
		}
	}
	if cfg.AuthType == AuthAH {
		if cfg.Machine.Version != 2 || !cfg.Source.Unmap().Is4() {
			return nil, errors.New("vrrp: AH authentication needs VRRPv2 over IPv4")
		}
		in.ah = newAHState(&cfg)
	}
	if g := cfg.SyncGroup; g != nil {
		g.members = append(g.members, in)
	}
	if cfg.OldUnicastChecksum == OldChecksumAlways && in.oldChecksumApplies() {
		in.stats.oldChecksum.Store(true)
	}
	return in, nil
}

// Name is the instance's name.
func (in *Instance) Name() string { return in.cfg.Name }

// VRID is the instance's virtual router ID.
func (in *Instance) VRID() int { return in.cfg.Machine.VRID }

// State is the instance's current state; safe from any goroutine.
func (in *Instance) State() State { return State(in.state.Load()) }

// Stats are the instance's counters.
func (in *Instance) Stats() *Stats { return &in.stats }

// SetPriority delivers a new effective priority (tracking changed it).
func (in *Instance) SetPriority(p int) { in.step(PriorityChanged{Priority: p}) }

// SetFault raises or clears the instance's fault.
//
// In a sync group the fault is the group's: every member goes to FAULT
// with this one, and this one leaves FAULT only when the group's last
// fault clears (the group then steps it).
func (in *Instance) SetFault(fault bool) {
	g := in.cfg.SyncGroup
	switch {
	case fault:
		in.step(FaultRaised{})
		if g != nil {
			g.post(syncEvent{from: in, kind: memberFaultRaised})
		}
	case g != nil:
		g.post(syncEvent{from: in, kind: memberFaultCleared})
	default:
		in.step(FaultCleared{})
	}
}

// step feeds one event to the machine, executes its actions and re-arms
// the timer.
func (in *Instance) step(ev Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := time.Now()
	acts := in.m.Step(now, ev)
	if in.m.Overtook() {
		in.logOvertaken(now.Sub(in.deadline))
	}
	in.do(now, acts)
	in.arm()
}

// logOvertaken logs, in keepalived's words (scheduler.c), that the last
// Step made a master step down for timer_expired_backup because its timer
// ran late by late.
func (in *Instance) logOvertaken(late time.Duration) {
	if in.m.Overtook() {
		in.cfg.Log.Info(fmt.Sprintf("VRRP thread timer expired %d.%06d seconds ago", late/time.Second, late%time.Second/time.Microsecond))
	}
}

// arm publishes the machine's deadline to the timers, and touches their
// heap only when the deadline moves earlier (or appears or goes): a
// backup's deadline moves later with every advert, and Timers.Run moves
// its entry on only when it reaches it, instead of every advert received
// costing a timer reset. Called with mu held.
func (in *Instance) arm() {
	in.wantMaster.Store(in.m.WantsMaster())
	in.early.Store(int64(advertEarliness(in.m.State(), in.cfg.Machine.AdvertInt)))
	in.deadline = in.m.Deadline()
	var d int64
	if !in.deadline.IsZero() {
		d = monoNanos(in.deadline)
	}
	if old := in.due.Swap(d); d != 0 && old != 0 && d >= old {
		return
	}
	in.timers.schedule(in)
}

// fire handles the timer, on Run's goroutine, once Timers.Run took the
// instance out of its heap and found its lock held (fireUnlessBusy).
func (in *Instance) fire() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.fireLocked()
}

// fireUnlessBusy handles the timer on the caller's goroutine (Timers.Run)
// if the instance's lock is free, and says whether it did.
func (in *Instance) fireUnlessBusy() bool {
	if !in.mu.TryLock() {
		return false
	}
	defer in.mu.Unlock()
	in.fireLocked()
	return true
}

// fireLocked handles the timer, with mu held: a Timeout if the deadline
// has come, and the instance back in the heap for its next deadline.
func (in *Instance) fireLocked() {
	if now := time.Now(); !in.deadline.IsZero() && !now.Add(time.Duration(in.early.Load())).Before(in.deadline) {
		late := now.Sub(in.deadline)
		if late < 0 {
			// A master's advert, sent in an earlier deadline's pass: as
			// at its deadline, so that the cadence stays its own.
			now, late = in.deadline, 0
		}
		in.recordLateness(late)
		acts := in.m.Step(now, Timeout{})
		in.logOvertaken(late)
		in.do(now, acts)
		in.announceExtra(now)
	}
	in.arm()
	in.timers.schedule(in)
}

// advertEarliness is how early a master's advert may go out, with the
// wake-up of an earlier deadline, instead of waking the timers again:
// a hundredth of advert_int (10 ms at 1 s, 0.1 ms at 0.01 s), far inside
// what a backup allows (Master_Down_Interval is three intervals and
// more). keepalived's masters share wake-ups in another way: each next
// advert is timed from the pass's clock (time_now), so instances sent in
// one pass stay together. Ours keep their own cadence; only the sending
// moves, at most this much. A backup's timer is never early.
func advertEarliness(state State, advertInt time.Duration) time.Duration {
	if state != Master {
		return 0
	}
	return advertInt / 100
}

// Start takes the instance out of INIT (Run does it if it has not been
// done): call it before delivering tracking events that must come after.
func (in *Instance) Start() { in.startWith(Start{}) }

// Resume is Start for an instance that replaces one of the same name at
// a reload, which was in state prev: a master goes on as master at once,
// holding its VIPs, and announces only fresh, the addresses the instance
// it replaces did not hold. Resuming the previous state runs no notify
// hook and counts no election.
func (in *Instance) Resume(prev State, fresh []VIP) {
	in.mu.Lock()
	in.resumed = prev
	fresh = slices.Clone(fresh)
	in.resumeAnnounce = &fresh
	in.mu.Unlock()
	in.startWith(Resume{State: prev})
}

func (in *Instance) startWith(ev Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.started {
		in.started = true
		now := time.Now()
		in.do(now, in.m.Step(now, ev))
		in.arm()
	}
}

// HandOver makes Run stop the instance without resigning or releasing
// its VIPs, and without running notify hooks: call it before cancelling
// Run's context when a reload replaces the instance with one that will
// Resume.
func (in *Instance) HandOver() { in.handingOver.Store(true) }

// Run drives the instance's timer until ctx is done, then shuts it down
// (a master resigns with a priority-0 advert and removes its VIPs) and
// returns once its effects have run. Adverts reach it through Deliver
// meanwhile.
func (in *Instance) Run(ctx context.Context) {
	var own sync.WaitGroup
	defer own.Wait()
	if in.ownTimers {
		own.Add(1)
		go func() { defer own.Done(); in.timers.Run(ctx) }()
	}
	in.Start()
	for {
		select {
		case <-in.fireC:
			in.fire()
		case answer := <-in.pings:
			in.mu.Lock() // a deadlock on mu is a stall too
			in.mu.Unlock()
			close(answer)
		case <-ctx.Done():
			if in.handingOver.Load() {
				in.step(Suspend{})
			} else {
				in.step(Shutdown{})
			}
			in.effects.wait()
			in.cancelAnnounce()
			in.announcing.Wait()
			return
		}
	}
}

// Alive says whether the instance's loop and its timers' answer before
// ctx ends: false when Run is stuck (in a timer's work or on the
// instance's lock), or when either is not running.
// systemd's watchdog is fed only while they answer.
func (in *Instance) Alive(ctx context.Context) bool {
	answer := make(chan struct{})
	select {
	case in.pings <- answer:
	case <-ctx.Done():
		return false
	}
	select {
	case <-answer:
	case <-ctx.Done():
		return false
	}
	return in.timers.alive(ctx)
}

// recordLateness keeps the timer-lateness histogram that shows scheduling
// jitter, keepalived's first cause of false failovers.
func (in *Instance) recordLateness(late time.Duration) {
	in.stats.TimerLateness.Observe(late)
	if late > 100*time.Millisecond {
		// keepalived's "A thread timer expired ... ago": the process was
		// not scheduled in time, the first cause of false failovers.
		in.cfg.Log.Warn("timer fired late: the process was not scheduled in time", "late", late)
	}
}

// do executes the machine's actions in order, with mu held: adverts are
// sent at once; VIP changes, announcements and hooks go to the effects
// queue, in the same order.
func (in *Instance) do(now time.Time, acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case SendAdvert:
			in.sendAdvert(a.Priority)
		case AddVIPs:
			in.effects.push(in.addVIPs)
		case RemoveVIPs:
			// Stop announcing now; the queued cancel also stops an
			// announcement queued before it but not started yet.
			in.cancelAnnounce()
			in.extraAt = time.Time{}
			in.effects.push(in.removeVIPs)
		case Announce:
			if in.cfg.Announce.ExtraInterval > 0 && len(in.cfg.Announce.ExtraVIPs) > 0 {
				in.extraAt = now.Add(in.cfg.Announce.ExtraInterval) // on the adverts' clock
			}
			first := in.vips
			if in.resumeAnnounce != nil {
				// A master resumed by a reload announces only the
				// addresses it did not hold before; the refreshes cover
				// them all.
				first, in.resumeAnnounce = *in.resumeAnnounce, nil
			}
			in.effects.push(func() { in.startAnnounce(first) })
		case LowerPriorityAdvert:
			// keepalived's wording (vrrp.c vrrp_receive_advert).
			election := ""
			if !in.cfg.Machine.LowerPrioNoAdvert {
				election = ", forcing new election"
			}
			in.cfg.Log.Info(fmt.Sprintf("(%s) Received advert from %v with lower priority %d, ours %d%s",
				in.cfg.Name, a.Src, a.Priority, in.m.Priority(), election))
			if in.ah != nil {
				in.ahSyncLowerPriority()
			}
			in.announceLowerPrio()
			if hook := in.cfg.OnLowerPriority; hook != nil {
				priority := in.m.Priority()
				in.effects.push(func() { hook(priority) })
			}
		case WantMaster:
			// Published before the group looks at it (arm would be later).
			in.wantMaster.Store(true)
			in.cfg.SyncGroup.post(syncEvent{from: in, kind: memberWantsMaster})
		case Transition:
			if a.To == Master && in.ah != nil {
				in.ahBecomeMaster()
			}
			in.wantMaster.Store(false)
			in.transition(a)
			if a.From == Fault && a.To == Backup && len(in.cfg.Peers) > 0 {
				in.effects.push(in.announceSource)
			}
			if g := in.cfg.SyncGroup; g != nil && !in.isReloadTransition(a) {
				g.post(syncEvent{from: in, kind: memberTransition, t: a})
			}
		}
	}
}

func (in *Instance) addVIPs() {
	in.held = true
	if err := in.net.AddVIPs(in.vips); err != nil {
		in.cfg.Log.Error("cannot add virtual addresses", "err", err)
	}
}

func (in *Instance) removeVIPs() {
	in.held = false
	in.cancelAnnounce()
	if err := in.net.RemoveVIPs(in.vips); err != nil {
		in.cfg.Log.Error("cannot remove virtual addresses", "err", err)
	}
}

func (in *Instance) transition(t Transition) {
	in.state.Store(int32(t.To))
	in.lastTransition.Store(time.Now().UnixNano())
	in.stats.loggedCastErr.Store(false) // keepalived clears its rlflags on becoming master or backup
	if in.isReloadTransition(t) {
		if t.To != Stop {
			in.cfg.Log.Info("(" + in.cfg.Name + ") " + t.To.String() + " STATE kept across the reload")
		}
		return
	}
	in.stats.Transitions.Add(1)
	switch {
	case t.To == Master:
		in.stats.BecomeMaster.Add(1)
	case t.From == Master:
		in.stats.ReleaseMaster.Add(1)
	}
	// keepalived's wording, which log watchers match.
	in.cfg.Log.Info("(" + in.cfg.Name + ") Entering " + t.To.String() + " STATE")
	if hook := in.cfg.OnTransition; hook != nil {
		priority := in.m.Priority()
		in.effects.push(func() { hook(t.From, t.To, priority) })
	}
}

// announceSource sends one gratuitous ARP or unsolicited NA for a unicast
// instance's own address as it leaves FAULT, as keepalived's
// try_up_instance does: while it was down the master may have dropped it
// from its neighbour cache, and would then resolve it again before its
// adverts get through, late enough for our down timer to run out.
func (in *Instance) announceSource() {
	if !in.cfg.Source.IsValid() || in.cfg.SourceInterface == "" {
		return
	}
	p := netip.PrefixFrom(in.cfg.Source, in.cfg.Source.BitLen())
	announce := in.net.Announce
	if now, ok := in.net.(interface{ AnnounceNow([]VIP) error }); ok {
		announce = now.AnnounceNow // not spaced with the VIPs' (send_gratuitous_arp_immediate)
	}
	if err := announce([]VIP{{Prefix: p, Dev: in.cfg.SourceInterface}}); err != nil {
		in.cfg.Log.Warn("cannot announce the unicast source address", "addr", in.cfg.Source, "err", err)
	}
}

// isReloadTransition tells the state changes that a reload makes without
// a change users would see: resuming the previous state, and the replaced
// instance stopping.
func (in *Instance) isReloadTransition(t Transition) bool {
	return (t.From == Init && t.To == in.resumed) || (t.To == Stop && in.handingOver.Load())
}

// sendAdvert encodes one advert and sends it to the group or to each peer
// (the checksum depends on the destination).
func (in *Instance) sendAdvert(priority int) {
	adv := Advert{Version: uint8(in.cfg.Machine.Version), Type: TypeAdvertisement, VRID: uint8(in.cfg.Machine.VRID),
		Priority: uint8(priority), AuthType: in.cfg.AuthType, Interval: in.cfg.Machine.AdvertInt, Addrs: in.addrs}
	if in.ah != nil {
		in.sendAdvertAH(&adv, priority)
		return
	}
	if in.cfg.Machine.Version == 2 && in.cfg.AuthType == AuthPass {
		copy(adv.AuthData[:], in.cfg.AuthPass)
	}
	old := in.stats.oldChecksum.Load()
	for _, dst := range in.dsts {
		var err error
		sumDst := dst
		if old {
			sumDst = in.cfg.ChecksumGroup
		}
		in.buf, err = adv.AppendMarshal(in.buf[:0], in.cfg.Source, sumDst, in.cfg.Checksum)
		if err == nil {
			err = in.net.SendAdvert(in.buf, dst)
		}
		in.countSent(dst, priority, err)
	}
}

// countSent counts one advert sent to dst, or logs why it could not be.
func (in *Instance) countSent(dst netip.Addr, priority int, err error) {
	if err != nil {
		in.stats.SendErrors.Add(1)
		in.cfg.Log.Error("cannot send advert", "dst", dst, "err", err)
		return
	}
	in.stats.AdvertSent.Add(1)
	if priority == 0 {
		in.stats.PriZeroSent.Add(1)
	}
}

// startAnnounce runs the announcement schedule in the background, first
// for the addresses first, then refreshing them all; a new one, or losing
// the VIPs, cancels the previous one.
func (in *Instance) startAnnounce(first []VIP) {
	in.cancelAnnounce()
	ctx, cancel := context.WithCancel(context.Background())
	in.announceMu.Lock()
	in.stopAnnounce = cancel
	in.announceMu.Unlock()
	vips, cfg := in.vips, in.cfg.Announce
	in.announcing.Add(1)
	go func() {
		defer in.announcing.Done()
		if len(first) > 0 {
			in.announceBurst(ctx, first, max(1, cfg.Repeat))
			if cfg.Delay > 0 && sleep(ctx, cfg.Delay) {
				in.announceBurst(ctx, first, max(1, cfg.Repeat))
			}
		}
		for cfg.Refresh > 0 && sleep(ctx, cfg.Refresh) {
			in.announceBurst(ctx, vips, max(1, cfg.RefreshRepeat))
		}
	}()
}

// announceExtra is garp_extra_if's announcement, due at extraAt: keepalived
// checks its vmac_garp_timer as it sends each scheduled advert (vrrp.c
// vrrp_state_master_tx), so it goes with the first advert after each
// interval, and the next interval counts from there. Called with mu held,
// after a Timeout.
func (in *Instance) announceExtra(now time.Time) {
	cfg := in.cfg.Announce
	if in.extraAt.IsZero() || !now.After(in.extraAt) || in.m.State() != Master {
		return
	}
	in.extraAt = now.Add(cfg.ExtraInterval)
	in.effects.push(func() {
		if !in.held {
			return
		}
		if err := in.net.Announce(cfg.ExtraVIPs); err != nil {
			in.cfg.Log.Error("cannot announce virtual addresses", "err", err)
		}
	})
}

// announceLowerPrio answers a lower-priority advert as keepalived's
// vrrp_receive_advert does (vrrp.c): garp_lower_prio_repeat
// announcements now, and again after garp_lower_prio_delay; in a sync
// group every other member with garp_lower_prio_repeat set does the same,
// since the loser's other members stop sending adverts we could answer.
// Called with mu held.
func (in *Instance) announceLowerPrio() {
	in.effects.push(in.startLowerPrio)
	g := in.cfg.SyncGroup
	if g == nil {
		return
	}
	for _, m := range g.members {
		if m != in && m.cfg.Announce.LowerPrioRepeat > 0 {
			m.effects.push(m.startLowerPrio)
		}
	}
}

// startLowerPrio runs one lower-priority answer in the background, if the
// instance holds its VIPs (keepalived's VRRP_VIP_ISSET). It runs on the
// effects goroutine, after the VIP changes queued before it.
func (in *Instance) startLowerPrio() {
	cfg := in.cfg.Announce
	if cfg.LowerPrioRepeat <= 0 || !in.held {
		return
	}
	now := time.Now()
	in.announceMu.Lock()
	defer in.announceMu.Unlock()
	if in.lowerCtx == nil {
		in.lowerCtx, in.stopLower = context.WithCancel(context.Background())
	}
	// Queued: delayed bursts, all later than now (one delay after their
	// own answer), and perhaps immediate ones not sent yet.
	i, _ := slices.BinarySearchFunc(in.lowerDue, now, func(t, now time.Time) int { return t.Compare(now) })
	in.lowerDue = slices.Insert(in.lowerDue, i, now)
	if cfg.LowerPrioDelay > 0 {
		in.lowerDue = append(in.lowerDue, now.Add(cfg.LowerPrioDelay))
	}
	if in.lowerWake == nil {
		in.lowerWake = make(chan struct{}, 1)
	}
	select {
	case in.lowerWake <- struct{}{}:
	default:
	}
	if !in.lowerRunning {
		in.lowerRunning = true
		in.announcing.Add(1)
		go in.runLowerPrio(in.lowerCtx, in.lowerWake)
	}
}

// runLowerPrio sends the lower-priority answers' bursts at their times
// until none is left or ctx (the VIPs going) ends them.
func (in *Instance) runLowerPrio(ctx context.Context, wake chan struct{}) {
	defer in.announcing.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		in.announceMu.Lock()
		if ctx.Err() != nil { // cancelAnnounce reset the queue
			in.announceMu.Unlock()
			return
		}
		if len(in.lowerDue) == 0 {
			in.lowerRunning = false
			in.announceMu.Unlock()
			return
		}
		if wait := time.Until(in.lowerDue[0]); wait > 0 {
			in.announceMu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-wake:
				timer.Stop()
			case <-ctx.Done():
				return
			}
			continue
		}
		in.lowerDue = in.lowerDue[1:]
		in.announceMu.Unlock()
		in.announceBurst(ctx, in.vips, in.cfg.Announce.LowerPrioRepeat)
	}
}

// announceBurst hands n announcements of vips to the Net, back to back.
func (in *Instance) announceBurst(ctx context.Context, vips []VIP, n int) {
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			return
		}
		if err := in.net.Announce(vips); err != nil {
			in.cfg.Log.Error("cannot announce virtual addresses", "err", err)
		}
	}
}

// cancelAnnounce stops every announcement: the instance is losing its
// VIPs, or starting a new schedule (the lower-priority answers then go
// too: keepalived's timers would find the VIPs gone or would repeat the
// new schedule's own burst).
func (in *Instance) cancelAnnounce() {
	in.announceMu.Lock()
	defer in.announceMu.Unlock()
	if in.stopAnnounce != nil {
		in.stopAnnounce()
		in.stopAnnounce = nil
	}
	if in.stopLower != nil {
		in.stopLower()
		in.stopLower, in.lowerCtx = nil, nil
	}
	// The cancelled goroutine leaves the queue alone: the next answer
	// starts afresh.
	in.lowerDue, in.lowerRunning = nil, false
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Queue is a socket adverts wait in until they are read.
type Queue interface {
	// DeliverQueued hands the adverts waiting, as many as are there when
	// it looks and no more, to their instances (Deliver), in order, on
	// the caller's goroutine, without waiting for more.
	DeliverQueued()
}

// Received is one VRRP packet as the socket delivered it.
type Received struct {
	// Payload is the VRRP message; for an AuthAH instance, the whole IPv4
	// packet (its socket is an IP protocol 51 one, which delivers the
	// header the ICV covers).
	Payload  []byte
	Src, Dst netip.Addr
	TTL      uint8
}

// Deliver checks a packet for this instance (RFC 5798 §7.1, RFC 3768 §7.1,
// and keepalived's rules) and hands it to the state machine, on the
// caller's goroutine (the socket reader's). An invalid packet is counted
// and dropped: it changes nothing, timers included. Before Run has started
// the instance, the machine ignores adverts.
func (in *Instance) Deliver(p Received) {
	msg := p.Payload
	var ahp *AHPacket
	if in.ah != nil {
		pkt, err := ParseAH(p.Payload)
		if err != nil {
			if r, ok := Reason(err); ok {
				in.stats.Dropped[r].Add(1)
			}
			return
		}
		ahp, msg = &pkt, pkt.Message
	}
	dst := p.Dst
	if in.stats.oldChecksum.Load() {
		dst = in.cfg.ChecksumGroup
	}
	// Room for a few addresses on the stack: most adverts carry one.
	var addrs [4]netip.Addr
	adv, err := ParseInto(msg, p.Src, dst, in.cfg.Checksum, addrs[:0])
	if err != nil && in.learnsOldChecksum() && isChecksumDrop(err) {
		// keepalived's vrrp_check_packet (vrrp.c): a unicast advert whose
		// checksum is right with the group in the pseudo-header comes from
		// keepalived 1.3.6 or earlier; answer in kind from now on.
		if old, oerr := Parse(msg, p.Src, in.cfg.ChecksumGroup, in.cfg.Checksum); oerr == nil {
			in.stats.oldChecksum.Store(true)
			in.cfg.Log.Info(fmt.Sprintf("(%s) Setting unicast VRRPv3 checksum to old version", in.cfg.Name))
			adv, err = old, nil
		}
	}
	if err == nil {
		err = in.check(&adv, p, ahp)
	}
	if err != nil {
		if r, ok := Reason(err); ok {
			in.stats.Dropped[r].Add(1)
		}
		return
	}
	if p.Src == in.cfg.Source {
		return // our own advert, looped back
	}
	in.stats.AdvertRcvd.Add(1)
	if adv.Priority == 0 {
		in.stats.PriZeroRcvd.Add(1)
	}
	before := in.State()
	in.step(AdvertReceived{Src: p.Src, Priority: int(adv.Priority), MaxAdverInt: adv.Interval})
	in.noteMaster(p.Src, before, adv.Priority)
}

// noteMaster records src as the last master heard, where keepalived sets
// master_saddr (vrrp.c): a backup's non-zero-priority advert, whether it
// is accepted or discarded as lower (vrrp_state_backup), and the advert
// that makes a master step down (vrrp_state_master_rx).
func (in *Instance) noteMaster(src netip.Addr, before State, priority uint8) {
	if !((before == Backup && priority != 0) || (before == Master && in.State() == Backup)) {
		return
	}
	if last := in.stats.lastMaster.Load(); last == nil || *last != src {
		master := src // on the heap only when the master changes
		in.stats.lastMaster.Store(&master)
	}
}

// check applies the per-instance receive rules to a decoded advert; ahp
// is its AH header when the instance uses AH (p.Payload is then the IPv4
// packet).
func (in *Instance) check(adv *Advert, p Received, ahp *AHPacket) error {
	mc := &in.cfg.Machine
	switch {
	case int(adv.Version) != mc.Version:
		return drop(DropVersion, "version %d, expect %d", adv.Version, mc.Version)
	case int(adv.VRID) != mc.VRID:
		return drop(DropVRIDUnknown, "VRID %d", adv.VRID)
	}
	if err := in.checkTTL(p); err != nil {
		return err
	}
	if err := adv.CheckAuth(in.cfg.AuthType, in.cfg.AuthPass); err != nil {
		// Logged for each packet, in keepalived's words (vrrp.c
		// vrrp_check_packet). An AH advert never reaches a plain
		// instance, nor the reverse: each has its own socket, as in
		// keepalived, whose "Received AH header but auth type not AH"
		// cannot happen either.
		if r, _ := Reason(err); r == DropAuthFailure {
			in.cfg.Log.Info(fmt.Sprintf("(%s) received an invalid passwd!", in.cfg.Name))
		} else {
			in.cfg.Log.Info(fmt.Sprintf("(%s) received a %d auth, expecting %d!", in.cfg.Name, adv.AuthType, in.cfg.AuthType))
		}
		return err
	}
	if ahp != nil {
		if err := in.checkAH(p.Payload, ahp, adv); err != nil {
			return err
		}
	}
	if mc.Version == 2 && adv.Interval != mc.AdvertInt {
		return drop(DropAdvertInterval, "advert interval %v, expect %v", adv.Interval, mc.AdvertInt)
	}
	if err := in.checkCast(p); err != nil {
		return err
	}
	in.checkAddrs(adv.Addrs, p.Src)
	return nil
}

// OldChecksumMode is old_unicast_checksum: whether a unicast VRRPv3
// instance over IPv4 checksums its adverts as keepalived 1.3.6 and
// earlier did, with the multicast group in the pseudo-header.
type OldChecksumMode int

const (
	// OldChecksumLearn (keepalived's default): the new checksum, until an
	// advert arrives that only the old one makes right.
	OldChecksumLearn OldChecksumMode = iota
	// OldChecksumNever (old_unicast_checksum never): always the new one.
	OldChecksumNever
	// OldChecksumAlways (old_unicast_checksum): always the old one.
	OldChecksumAlways
)

// oldChecksumApplies tells whether the instance is one whose checksum
// old_unicast_checksum changes: unicast, VRRPv3, IPv4, with the
// pseudo-header.
func (in *Instance) oldChecksumApplies() bool {
	return len(in.cfg.Peers) > 0 && in.cfg.Machine.Version == 3 && in.cfg.Source.Is4() &&
		in.cfg.Checksum == ChecksumV3Pseudo && in.cfg.ChecksumGroup.IsValid()
}

// isChecksumDrop tells whether err is a checksum mismatch (Reason
// allocates: call it only for an error).
func isChecksumDrop(err error) bool {
	r, ok := Reason(err)
	return ok && r == DropChecksum
}

// learnsOldChecksum tells whether a bad checksum should be tried the old
// way.
func (in *Instance) learnsOldChecksum() bool {
	return in.cfg.OldUnicastChecksum == OldChecksumLearn && !in.stats.oldChecksum.Load() && in.oldChecksumApplies()
}

// checkAddrs compares the advert's address list with ours as current
// keepalived's vrrp_check_packet (vrrp.c, since 2.3.3) does: a different
// count or a missing address is counted in addr_list_err and logged, and
// the advert is accepted. A backup with SkipCheckAdvAddr compares only the
// count for an advert from the master it last heard
// (vrrp_state_backup: check_vip_addr is master_change ||
// !VRRP_FLAG_SKIP_CHECK_ADV_ADDR); a master always compares all.
// (keepalived 2.2.7 dropped such adverts, and skipped the count too.)
func (in *Instance) checkAddrs(addrs []netip.Addr, src netip.Addr) {
	if len(addrs) != len(in.cfg.VIPs) {
		in.stats.AddrListErr.Add(1)
		in.logAddrListMismatch(fmt.Sprintf("(%s) expected %d VIPs but received %d", in.cfg.Name, len(in.cfg.VIPs), len(addrs)))
		return
	}
	if in.cfg.SkipCheckAdvAddr && in.State() == Backup {
		if last := in.stats.lastMaster.Load(); last != nil && *last == src {
			return
		}
	}
	for _, v := range in.cfg.VIPs {
		if !slices.Contains(addrs, v.Prefix.Addr()) {
			in.stats.AddrListErr.Add(1)
			in.logAddrListMismatch(fmt.Sprintf("(%s) ip address associated with VRID %d not present in advert from %s: %s",
				in.cfg.Name, in.cfg.Machine.VRID, src, v.Prefix.Addr()))
			return
		}
	}
}

// checkTTL: multicast adverts must arrive with TTL 255; unicast ones
// within the peer's min_ttl/max_ttl, as keepalived does (routers in
// between lower the TTL).
func (in *Instance) checkTTL(p Received) error {
	if len(in.cfg.Peers) == 0 {
		return CheckTTL(p.TTL)
	}
	for _, peer := range in.cfg.Peers {
		if peer.Addr != p.Src {
			continue
		}
		if (peer.MinTTL > 0 && int(p.TTL) < peer.MinTTL) || (peer.MaxTTL > 0 && int(p.TTL) > peer.MaxTTL) {
			return drop(DropTTL, "TTL %d outside [%d, %d] for peer %s", p.TTL, peer.MinTTL, peer.MaxTTL, p.Src)
		}
		return nil
	}
	if in.cfg.CheckUnicastSrc {
		return drop(DropUnicastSrc, "unicast source address %s not a unicast peer", p.Src)
	}
	return nil
}

// checkCast drops a unicast advert to a multicast instance and a
// multicast one to a unicast instance, as keepalived's vrrp_check_packet
// (vrrp.c) does after its other checks: counted as an address list error
// (addr_list_err), logged once until the instance's state next changes
// (keepalived's log_rate_limited_error). Without the check, a unicast
// advert from anyone who knows our address could make a multicast master
// step down. A packet without a known destination passes.
//
// In practice keepalived never sees most of them: it binds a multicast
// socket to the group and a unicast one to unicast_src_ip (vrrp.c
// open_vrrp_read_socket), so the kernel drops them unseen, and IPv6 ones
// that get through are discarded silently (vrrp_scheduler.c
// vrrp_dispatcher_read). Our multicast socket receives unicast adverts
// too (kernel.VRRPConn filters only multicast ones), and we count and log
// them, so that an operator sees the attempt.
func (in *Instance) checkCast(p Received) error {
	unicast := len(in.cfg.Peers) > 0
	if !p.Dst.IsValid() || p.Dst.IsMulticast() != unicast {
		return nil
	}
	want, got := "mult", "un"
	if unicast {
		want, got = got, want
	}
	in.stats.AddrListErr.Add(1)
	if in.stats.loggedCastErr.CompareAndSwap(false, true) {
		in.cfg.Log.Info(fmt.Sprintf("(%s) Expected %sicast packet but received %sicast packet from %s", in.cfg.Name, want, got, p.Src))
	}
	return drop(DropAddrList, "%sicast packet to %s for a %sicast instance", got, p.Dst, want)
}

// logAddrListMismatch logs line, in keepalived's words, at most once a
// minute per instance (keepalived logs each kind once per master).
func (in *Instance) logAddrListMismatch(line string) {
	now := time.Now().UnixNano()
	last := in.stats.lastAddrListLog.Load()
	if now-last < int64(time.Minute) || !in.stats.lastAddrListLog.CompareAndSwap(last, now) {
		return
	}
	in.cfg.Log.Info(line + " (accepted, as keepalived does)")
}

// Demux hands received packets to the instance that owns their VRID on
// one interface and family. It is pure: the daemon's socket reader calls it.
type Demux struct {
	byVRID [256]*Instance
	// ah: the socket is an AH one (its instances use AH), whose packets
	// come with their IPv4 header and the AH header before the VRID.
	ah      bool
	Unknown atomic.Uint64 // packets for a VRID no instance has
	Short   atomic.Uint64 // packets too short to carry a VRID
}

// NewDemux indexes the instances by VRID.
func NewDemux(instances ...*Instance) *Demux {
	d := &Demux{}
	for _, in := range instances {
		d.byVRID[uint8(in.VRID())] = in
		d.ah = d.ah || in.ah != nil
	}
	return d
}

// Dispatch delivers p to the instance of its VRID.
func (d *Demux) Dispatch(p Received) {
	off := 0
	if d.ah {
		// The IPv4 header length, then the AH header.
		if len(p.Payload) > 0 {
			off = int(p.Payload[0]&0x0f)*4 + AHLen
		}
	}
	if len(p.Payload) < off+headerLen {
		d.Short.Add(1)
		return
	}
	in := d.byVRID[p.Payload[off+1]]
	if in == nil {
		d.Unknown.Add(1)
		return
	}
	in.Deliver(p)
}

// WriteStats writes the instance's counters in the format of keepalived's
// /tmp/keepalived.stats (SIGUSR2), which exporters parse.
func (in *Instance) WriteStats(w io.Writer) error {
	s := &in.stats
	d := func(r DropReason) uint64 { return s.Dropped[r].Load() }
	_, err := fmt.Fprintf(w, `VRRP Instance: %s
  Advertisements:
    Received: %d
    Sent: %d
  Became master: %d
  Released master: %d
  Packet Errors:
    Length: %d
    TTL: %d
    Invalid Type: %d
    Advertisement Interval: %d
    Address List: %d
  Authentication Errors:
    Invalid Type: %d
    Type Mismatch: %d
    Failure: %d
  Priority Zero:
    Received: %d
    Sent: %d
`, in.cfg.Name, s.AdvertRcvd.Load(), s.AdvertSent.Load(), s.BecomeMaster.Load(), s.ReleaseMaster.Load(),
		d(DropPacketLen), d(DropTTL), d(DropInvalidType), d(DropAdvertInterval), s.AddrListErr.Load(),
		d(DropInvalidAuthType), d(DropAuthTypeMismatch), d(DropAuthFailure), s.PriZeroRcvd.Load(), s.PriZeroSent.Load())
	return err
}
