package vrrpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/notify"
	"github.com/keepalived-go/keepalived-go/internal/track"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// vrrpRuntime is the running VRRP subsystem: the instances and the
// sockets that feed them.
type vrrpRuntime struct {
	log       *slog.Logger
	k         kernel.Kernel
	static    staticConfig
	cancel    context.CancelFunc
	instances []*vrrp.Instance
	adapters  []*kernelNet
	conns     []kernel.Conn
	links     map[string]ownedLink // VMACs and ipvlans, by their configuration (vmacKey)
	linkNames map[string]bool      // the names of links
	fw        kernel.Firewall      // the no_accept drop rules; nil when no instance needs them
	nft       kernel.NFTConfig     // what fw was made with
	byName    map[string]*runningInstance
	scripts   *track.Verdicts
	tracked   []*track.Tracking
	tracker   *track.Tracker
	notifiers []*notifier
	retired   []*notify.Notifier // of runtimes a reload replaced, still running their STOP scripts
	groups    []*vrrp.SyncGroup
	fifos     *notify.FIFOs
	alerts    *notify.Alerter // SMTP alerts, shared by the instances and groups
	running   sync.WaitGroup
	readers   sync.WaitGroup
	timers    *vrrp.Timers  // every instance's timer, on one goroutine
	listener  StateListener // hears the instances' states; nil for none
	pacer     *garpPacer    // spaces the instances' GARPs / NAs per interface

	promoted []func() error // releases promote_secondaries (promote.go)
}

// socketKey groups instances that share one advert socket.
type socketKey struct {
	ifname  string
	family  int
	source  netip.Addr
	group   netip.Addr
	unicast bool
	ttl     int
	vrf     string // the VRF to bind to, without an interface
	// proto is the socket's IP protocol: 112, or 51 for auth_type AH
	// (keepalived's sockpool is keyed by protocol too, vrrp.c
	// vrrp_open_sockpool: AH and plain instances never share a socket).
	proto int
}

// startVRRP builds and starts an Instance per vrrp_instance. Instances
// whose interface or addresses cannot be resolved are reported and left
// out; the others run.
//
// carry is nil at start-up; at a reload it holds what the previous
// runtime hands over (see reload.go): instances found in it resume their
// state instead of starting afresh.
func startVRRP(cfg *config.Config, k kernel.Kernel, log *slog.Logger, keepVIPs bool, carry *carryOver) (*vrrpRuntime, error) {
	return startVRRPWith(cfg, k, log, keepVIPs, carry, nil)
}

// startVRRPWith is startVRRP with a listener of the instances' states.
func startVRRPWith(cfg *config.Config, k kernel.Kernel, log *slog.Logger, keepVIPs bool, carry *carryOver,
	listener StateListener) (*vrrpRuntime, error) {
	ctx, cancel := context.WithCancel(context.Background())
	rt := &vrrpRuntime{log: log, cancel: cancel, k: k, static: newStatic(cfg, log),
		links: map[string]ownedLink{}, linkNames: map[string]bool{}, byName: map[string]*runningInstance{}, listener: listener,
		timers: vrrp.NewTimers()}
	rt.running.Add(1)
	go func() { defer rt.running.Done(); rt.timers.Run(ctx) }()
	rt.static.install(k, log)
	rt.pacer = newGARPPacer(cfg.GlobalDefs, cfg.GarpGroups, func(v vrrp.VIP) error { return announceNow(k, v) })
	groups := map[socketKey][]*vrrp.Instance{}
	sockets := map[socketKey]*socketReader{}
	objs := track.NewObjects(cfg)
	rt.scripts = carry.scriptVerdicts(objs)
	rt.adoptFirewall(cfg, carry)
	rt.openFIFOs(cfg)
	rt.openAlerts(cfg)
	rt.retired = carry.retiredNotifiers()
	syncGroupOf := rt.syncGroups(cfg, carry)
	syncConfigOf, groupHasOwner := syncGroupConfigs(cfg)
	beginAfter := rt.beginGroups(cfg, objs, syncGroupOf, carry, groupHasOwner)
	adapterOf := map[*vrrp.Instance]*kernelNet{}
	configOf := map[*vrrp.Instance]*config.VRRPInstance{}
	linkFault := map[*vrrp.Instance]string{}
	for _, ci := range cfg.Instances {
		ln, err := rt.linksFor(cfg, ci, carry)
		if err != nil {
			log.Error("("+ci.Name()+") cannot create its VMAC", "err", err)
			continue
		}
		ic, key, err := instanceConfig(cfg, ci, k, ln)
		if err != nil {
			log.Error("("+ci.Name()+") cannot start", "err", err)
			continue
		}
		ic.Log = log
		ic.VIPs = dropDevless(log, ci.Name(), "", ic.VIPs)
		ic.Excluded = dropDevless(log, ci.Name(), "e", ic.Excluded)
		ic.Timers = rt.timers
		if sockets[key] == nil {
			sockets[key] = &socketReader{}
		}
		ic.Queue = sockets[key]
		if carry != nil {
			// keepalived delays VRRP at start-up only, not at a reload.
			ic.Machine.StartupDelay = 0
		}
		n := newNotifier(log, cfg, ci, rt.fifos)
		n.useAlerts(rt.alerts, cfg.GlobalDefs, ci.IsSet("smtp_alert"), ci.SMTPAlert)
		rt.notifiers = append(rt.notifiers, n)
		ic.OnTransition = n.transition
		if listener != nil {
			name := ci.Name()
			ic.OnTransition = func(from, to vrrp.State, priority int) {
				n.transition(from, to, priority)
				if to != vrrp.Stop {
					listener.InstanceState(name, to == vrrp.Master)
				}
			}
		}
		ic.OnLowerPriority = n.lowerPriority
		ic.SyncGroup = syncGroupOf[syncConfigOf[ci.Name()]]
		netAdapter := &kernelNet{k: k, keepOnStop: keepVIPs, log: log, pacer: rt.pacer, order: len(rt.adapters),
			vips: slices.Concat(ic.VIPs, ic.Excluded), routing: newRouting(log, ci.VirtualRoutes, ci.VirtualRules)}
		ln.setPacerBases(rt.pacer, ci)
		if blocksVIPs(cfg, ci) {
			if netAdapter.fw, err = rt.firewall(cfg); err != nil {
				log.Error("("+ci.Name()+") cannot set up the no_accept firewall; its VIPs will accept traffic", "err", err)
			}
		}
		inst, err := vrrp.NewInstance(ic, netAdapter)
		if err != nil {
			log.Error("("+ci.Name()+") cannot start", "err", err)
			continue
		}
		if prev, ok := carry.state(ci.Name()); !ok || prev != vrrp.Master {
			netAdapter.releaseStale(ic)
		}
		groups[key] = append(groups[key], inst)
		if ln != nil && ln.fault != "" {
			linkFault[inst] = ln.fault
		}
		adapterOf[inst] = netAdapter
		configOf[inst] = ci
		rt.instances = append(rt.instances, inst)
		rt.adapters = append(rt.adapters, netAdapter)
		rt.byName[ci.Name()] = &runningInstance{ci: ci, ic: ic, inst: inst, net: netAdapter, notify: n}
		rt.promoteSecondaries(ci)
	}
	rx := readRxPolicy(cfg.GlobalDefs)
	for key, insts := range groups {
		var members []rxMember
		shortest := time.Duration(math.MaxInt64)
		for _, inst := range insts {
			ri := rt.byName[inst.Name()]
			shortest = min(shortest, ri.ic.Machine.AdvertInt)
			m := rxMember{kernelRxBufSize: ri.ci.KernelRxBufSize, advLen: advertLen(&ri.ic, key.family)}
			if ifc, err := k.InterfaceByName(ri.ic.Interface); err == nil {
				m.mtu = ifc.MTU
			}
			members = append(members, m)
		}
		conn, err := k.OpenVRRP(kernel.VRRPConnConfig{Interface: key.ifname, Family: key.family, Group: key.group,
			Unicast: key.unicast, Source: key.source, TTL: key.ttl, VRF: key.vrf, Protocol: key.proto,
			RecvBuffer: recvBuffer(rx, members)})
		if err != nil {
			log.Error("cannot open the VRRP socket", "interface", key.ifname, "err", err)
			continue
		}
		rt.conns = append(rt.conns, conn)
		for _, inst := range insts {
			adapterOf[inst].conn = conn
		}
		reader := sockets[key]
		reader.conn, reader.dispatch, reader.pace = conn, vrrp.NewDemux(insts...).Dispatch, readPace(shortest)
		rt.readers.Add(1)
		go rt.read(reader)
		for _, inst := range insts {
			t := track.NewTracking(inst, configOf[inst], objs)
			sg := syncConfigOf[inst.Name()]
			t.JoinSyncGroup(log, sg, objs, groupHasOwner[sg])
			if notifiesPriorityChanges(cfg.GlobalDefs, configOf[inst], sg) {
				n := rt.byName[inst.Name()].notify
				t.OnPriorityChange(func(p int) { n.priorityChanged(inst.State(), p) })
			}
			if why := linkFault[inst]; why != "" {
				log.Error("(" + inst.Name() + ") " + why)
				t.SetConfigFault()
				inst.SetFault(true)
			} else if t.ConfigFault() {
				// Before Start, so that the instance never runs as a backup
				// (or, for an owner, a master) on the multicast fallback.
				log.Info("(" + inst.Name() + ") Cannot use unicast without any peers - going to fault state")
				inst.SetFault(true)
			}
			if held := carry.heldInstance(inst.Name()); held != nil {
				inst.InheritStats(held)
			}
			if prev, ok := carry.state(inst.Name()); ok {
				// The priority the tracked objects gave it, until the
				// tracker has looked at them again.
				t.Resume(carry.priority[inst.Name()])
				inst.SetPriority(carry.priority[inst.Name()])
				inst.Resume(prev, carry.freshVIPs(rt.byName[inst.Name()].ic))
				if cfg.GlobalDefs != nil && cfg.GlobalDefs.FIFOWriteVRRPStatesOnReload {
					rt.byName[inst.Name()].notify.writeState(prev, t.Effective())
				}
			} else {
				inst.Start()
			}
			rt.tracked = append(rt.tracked, t)
			rt.running.Add(1)
			go func() { defer rt.running.Done(); inst.Run(ctx) }()
		}
	}
	for _, g := range beginAfter {
		g.Begin(true)
	}
	for _, g := range rt.groups {
		rt.running.Add(1)
		go func() { defer rt.running.Done(); g.Run(ctx) }()
	}
	rt.tracker = track.New(track.Config{Log: log, Objects: objs, Tracked: rt.tracked, Verdicts: rt.scripts,
		Reload: carry != nil, Sources: monitorBuffers(cfg.GlobalDefs, trackSources)})
	if err := rt.tracker.Start(); err != nil {
		log.Error("cannot watch interfaces: no FAULT state or tracking", "err", err)
	}
	rt.dropUnusedFirewall()
	if len(rt.instances) > 0 && len(rt.conns) == 0 {
		rt.stop()
		return nil, errors.New("no VRRP instance could start")
	}
	return rt, nil
}

// syncGroups makes a vrrp.SyncGroup for each vrrp_sync_group. A group
// whose members resume as masters after a reload starts as MASTER, so
// that the reload notifies nothing.
func (rt *vrrpRuntime) syncGroups(cfg *config.Config, carry *carryOver) map[*config.SyncGroup]*vrrp.SyncGroup {
	groups := map[*config.SyncGroup]*vrrp.SyncGroup{}
	for _, sg := range cfg.SyncGroups {
		initial := vrrp.Backup
		for _, member := range groupMembers(sg) {
			if st, ok := carry.state(member); ok && st == vrrp.Master {
				initial = vrrp.Master
			}
		}
		n := newGroupNotifier(rt.log, cfg, sg, rt.fifos)
		n.useAlerts(rt.alerts, cfg.GlobalDefs, sg.IsSet("smtp_alert"), sg.SMTPAlert)
		rt.notifiers = append(rt.notifiers, n)
		g := vrrp.NewSyncGroup(firstWord(sg.Args), initial, rt.log, func(from, to vrrp.State) { n.transition(from, to, 0) })
		if rt.carried(sg, carry) && cfg.GlobalDefs != nil && cfg.GlobalDefs.FIFOWriteVRRPStatesOnReload {
			n.writeState(initial, 0)
		}
		rt.groups = append(rt.groups, g)
		groups[sg] = g
	}
	return groups
}

// carried says whether a reload carries a member of sg over (keepalived's
// state_same_at_reload): then the group notifies nothing at start.
func (rt *vrrpRuntime) carried(sg *config.SyncGroup, carry *carryOver) bool {
	for _, member := range groupMembers(sg) {
		if _, ok := carry.state(member); ok {
			return true
		}
	}
	return false
}

// beginGroups notifies each new sync group's starting state (BACKUP), as
// keepalived's vrrp_init_state does: before its members' first
// notifications (call it before they start) unless a member waits for a
// script, then after them (call it again once they have started, before
// the groups run). It returns the groups left for after.
func (rt *vrrpRuntime) beginGroups(cfg *config.Config, objs *track.Objects, groups map[*config.SyncGroup]*vrrp.SyncGroup,
	carry *carryOver, hasOwner map[*config.SyncGroup]bool) (after []*vrrp.SyncGroup) {
	for _, sg := range cfg.SyncGroups {
		g := groups[sg]
		if g == nil || rt.carried(sg, carry) {
			continue
		}
		wait := false
		for _, ci := range cfg.Instances {
			if slices.Contains(groupMembers(sg), ci.Name()) && track.WaitsForScripts(ci, sg, objs, hasOwner[sg]) {
				wait = true
			}
		}
		if wait {
			after = append(after, g)
		} else {
			g.Begin(false)
		}
	}
	return after
}

// groupMembers are the instance names a sync group's group block lists.
func groupMembers(sg *config.SyncGroup) []string {
	var out []string
	for _, line := range sg.Group {
		out = append(out, line.Words...)
	}
	return out
}

// syncGroupConfigs says which vrrp_sync_group each instance is in (the
// first that names it) and which groups have an address owner as member.
func syncGroupConfigs(cfg *config.Config) (map[string]*config.SyncGroup, map[*config.SyncGroup]bool) {
	priority := map[string]int{}
	for _, ci := range cfg.Instances {
		priority[ci.Name()] = ci.Priority
	}
	of, hasOwner := map[string]*config.SyncGroup{}, map[*config.SyncGroup]bool{}
	for _, sg := range cfg.SyncGroups {
		for _, member := range groupMembers(sg) {
			if of[member] == nil {
				of[member] = sg
			}
			hasOwner[sg] = hasOwner[sg] || priority[member] == vrrp.PriorityOwner
		}
	}
	return of, hasOwner
}

// read feeds one socket's packets to the instances behind it until the
// socket is closed.
func (rt *vrrpRuntime) read(r *socketReader) {
	defer rt.readers.Done()
	r.run(rt.log)
}

// receiveErrorLogEvery is how often a receive error that persists is
// logged again, with the number of errors in between.
const receiveErrorLogEvery = 10 * time.Second

// readBatch is how many adverts the reader takes per system call at
// most.
const readBatch = 16

// queuedBatches bounds what DeliverQueued reads: 16 batches of 16, more
// than one advert for each of a socket's 255 VRIDs (keepalived's
// vrrp_dispatcher_read stops at a VRID's second advert), so that a flood
// cannot hold the timers.
const queuedBatches = 16

// batchBufSize holds the largest valid advert with its IP header: 255
// IPv6 addresses make a 4,088-byte VRRP message (RFC 5798, 5.1), plus a
// 40-byte header (IPv4: 1,020 bytes of addresses, a header of at most
// 60, AH's 24). A longer packet is no valid advert: it is read
// truncated and dropped. 16 buffers of 64 KiB on each of 4 sockets were
// a tenth of the live heap.
const batchBufSize = 8192

// socketReader reads one VRRP socket for the instances behind it: run,
// on its own goroutine, waits for adverts; the shared timers read what
// waits before a backup's timer takes it to MASTER (DeliverQueued, the
// instances' vrrp.Queue). Both read and deliver under order, so that
// the instances see the adverts in the order they came.
type socketReader struct {
	dispatch func(vrrp.Received)
	conn     kernel.Conn // set before any instance behind it starts
	// pace is how long after a read the next waits (readPace), so that
	// a busy socket's adverts come several per wake-up.
	pace time.Duration

	order sync.Mutex
	bufs  [][]byte // DeliverQueued's, made at its first call; guarded by order
	pkts  []kernel.Packet
}

// maxReadPace bounds readPace.
const maxReadPace = 5 * time.Millisecond

// readPace is how long a socket's reader lets adverts gather after a
// read before it reads again, for instances whose shortest advert_int is
// shortest: a twentieth of it, at most maxReadPace (5 ms at 0.1 s and
// above, 0.5 ms at 0.01 s). An advert that comes when the socket has not
// been read for that long is read at once; one that comes sooner waits
// at most that long, and wakes nobody (kernel.VRRPConn: the socket wakes
// a reader only when it waits). A backup of 1,000 instances at
// advert_int 0.1 receives 10,000 adverts a second: read as they came,
// they woke it 2,000-4,000 times a second, and the wake-ups, not the
// adverts, were most of its CPU (perf: the context switches' cost).
// Waiting cannot make a backup take over: its timer reads the socket
// first (vrrp.Queue). keepalived reads at once.
func readPace(shortestAdvertInt time.Duration) time.Duration {
	return min(shortestAdvertInt/20, maxReadPace)
}

// paceEpoch is the origin of the readers' pacing grid: every reader of
// the same pace wakes at the same instants, so that one timer wake-up
// serves them all.
var paceEpoch = time.Now()

// untilPaced is how long a reader that last read at last waits before it
// reads again: until the next point of the pace's grid, if last was less
// than pace ago; 0 otherwise.
func untilPaced(last, now time.Time, pace time.Duration) time.Duration {
	if pace <= 0 || now.Sub(last) >= pace {
		return 0
	}
	since := now.Sub(paceEpoch)
	return since.Truncate(pace) + pace - since
}

// batchBufs are readBatch buffers for a batch read, and their packets.
func batchBufs() ([][]byte, []kernel.Packet) {
	bufs := make([][]byte, readBatch)
	for i := range bufs {
		bufs[i] = make([]byte, batchBufSize)
	}
	return bufs, make([]kernel.Packet, readBatch)
}

// run hands each packet the socket receives to dispatch until it is
// closed. A receive error is logged at once, then at most once per
// receiveErrorLogEvery while errors go on, so that a persistent error
// cannot flood the log; the reader waits 10 ms after each.
//
// A kernel.BatchConn (the Linux socket) is read with RecvBatchLocked: the
// adverts that queued while the reader was busy or not scheduled (a
// master's instances often advertise together) come in one call and one
// wake-up.
func (r *socketReader) run(log *slog.Logger) {
	var lastLog time.Time
	suppressed := 0
	failed := func(err error) {
		if now := time.Now(); now.Sub(lastLog) >= receiveErrorLogEvery {
			log.Warn("VRRP receive error", "err", err, "errors since the last report", suppressed)
			lastLog, suppressed = now, 0
		} else {
			suppressed++
		}
		time.Sleep(10 * time.Millisecond)
	}
	if bc, ok := r.conn.(kernel.BatchConn); ok {
		bufs, pkts := batchBufs()
		var lastRead time.Time
		full := false // the last read filled bufs: more may wait
		for {
			if wait := untilPaced(lastRead, time.Now(), r.pace); wait > 0 && !full {
				time.Sleep(wait)
			}
			n, err := bc.RecvBatchLocked(&r.order, bufs, pkts)
			lastRead, full = time.Now(), n == len(bufs)
			r.deliver(bufs, pkts[:n])
			r.order.Unlock()
			switch {
			case err == nil:
			case errors.Is(err, net.ErrClosed):
				return
			case errors.Is(err, kernel.ErrTruncated):
			default:
				failed(err)
			}
		}
	}
	buf := make([]byte, 65536)
	for {
		p, err := r.conn.Recv(buf)
		switch {
		case err == nil:
			r.dispatch(vrrp.Received{Payload: buf[:p.N], Src: p.Src, Dst: p.Dst, TTL: p.TTL})
		case errors.Is(err, net.ErrClosed):
			return
		case errors.Is(err, kernel.ErrTruncated):
		default:
			failed(err)
		}
	}
}

// deliver dispatches a batch's packets, in order.
func (r *socketReader) deliver(bufs [][]byte, pkts []kernel.Packet) {
	for i, p := range pkts {
		r.dispatch(vrrp.Received{Payload: bufs[i][:p.N], Src: p.Src, Dst: p.Dst, TTL: p.TTL})
	}
}

// DeliverQueued implements vrrp.Queue: it delivers what waits in the
// socket now, without waiting, at most queuedBatches batches. Errors are
// left to run, which meets them too.
func (r *socketReader) DeliverQueued() {
	bc, ok := r.conn.(kernel.BatchConn)
	if !ok {
		return
	}
	r.order.Lock()
	defer r.order.Unlock()
	if r.bufs == nil {
		r.bufs, r.pkts = batchBufs()
	}
	for range queuedBatches {
		n, err := bc.TryRecvBatch(r.bufs, r.pkts)
		r.deliver(r.bufs, r.pkts[:n])
		if err != nil || n < len(r.bufs) {
			return
		}
	}
}

// stop shuts every instance down (masters resign and release their VIPs)
// and closes the sockets.
func (rt *vrrpRuntime) stop() {
	if rt.tracker != nil {
		rt.tracker.Stop() // before the notifiers its callbacks feed are finished
	}
	for _, a := range rt.adapters {
		a.stopping.Store(true)
	}
	rt.cancel()
	rt.running.Wait()
	rt.pacer.stop()
	for _, g := range rt.groups {
		g.Stop()
	}
	for _, c := range rt.conns {
		c.Close()
	}
	rt.readers.Wait()
	stopNotifiers(append(notifiersOf(rt.notifiers), rt.retired...))
	rt.alerts.Stop() // the last alerter of the process waits for the sender
	rt.fifos.Close()
	rt.static.remove(rt.k, rt.log)
	releasePromoted(rt.log, rt.promoted)
	if rt.fw != nil {
		if err := rt.fw.Close(); err != nil {
			rt.log.Error("cannot remove the nftables tables", "err", err)
		}
	}
	rt.deleteLinks(rt.links)
}

// deleteLinks deletes VMACs and ipvlans that no instance uses any more.
func (rt *vrrpRuntime) deleteLinks(links map[string]ownedLink) {
	for _, l := range links {
		if err := l.Delete(); err != nil {
			rt.log.Error("cannot delete VMAC", "name", l.Name(), "err", err)
		}
	}
}

// openFIFOs opens global_defs notify_fifo and vrrp_notify_fifo. At a
// reload the previous runtime's are still open: a path both name keeps
// its pipe, so that a reader never sees the FIFO close (see
// notify.FIFO).
func (rt *vrrpRuntime) openFIFOs(cfg *config.Config) {
	if g := cfg.GlobalDefs; g != nil {
		rt.fifos = notify.OpenFIFOs(rt.log, g.ScriptUser, g.NotifyFIFO, g.VRRPNotifyFIFO)
	}
}

// blocksVIPs tells whether a master must drop traffic to and from its
// VIPs (RFC 5798 Accept_Mode off), as keepalived decides it: never for
// the address owner; else `accept` or `no_accept` if written; else off in
// strict mode (vrrp_strict / strict_mode) and on otherwise.
func blocksVIPs(cfg *config.Config, ci *config.VRRPInstance) bool {
	switch {
	case ci.Priority == vrrp.PriorityOwner:
		return false
	case ci.IsSet("no_accept") && ci.NoAccept:
		return true
	case ci.IsSet("accept"):
		return !ci.Accept
	}
	return strictMode(cfg.GlobalDefs, ci)
}

// strictMode tells whether vrrp_strict or strict_mode applies to ci.
func strictMode(g *config.GlobalDefs, ci *config.VRRPInstance) bool {
	return ci.StrictMode || (g != nil && g.VRRPStrict)
}

// firewall creates the nftables tables on first need (creating them
// deletes an old table of the same name, which must not happen when no
// instance asks for it).
func (rt *vrrpRuntime) firewall(cfg *config.Config) (kernel.Firewall, error) {
	if rt.fw != nil {
		return rt.fw, nil
	}
	nc := nftConfig(cfg)
	fw, err := kernel.NewNFTFirewall(nc)
	if err != nil {
		return nil, err
	}
	rt.fw, rt.nft = fw, nc
	return fw, nil
}

// nftConfig is global_defs' nftables settings.
func nftConfig(cfg *config.Config) kernel.NFTConfig {
	var nc kernel.NFTConfig
	if g := cfg.GlobalDefs; g != nil {
		if len(g.Nftables) > 0 {
			nc.Table = g.Nftables[0]
		}
		if g.IsSet("nftables_priority") {
			p := int32(g.NftablesPriority)
			nc.Priority = &p
		}
		nc.Counters = g.NftablesCounters
	}
	return nc
}

// dropUnusedFirewall deletes the tables when no instance blocks its VIPs
// (after a reload that removed the last no_accept instance).
func (rt *vrrpRuntime) dropUnusedFirewall() {
	if rt.fw == nil {
		return
	}
	for _, a := range rt.adapters {
		if a.fw != nil {
			return
		}
	}
	if err := rt.fw.Close(); err != nil {
		rt.log.Error("cannot remove the nftables tables", "err", err)
	}
	rt.fw = nil
}

// vmacKey identifies a VMAC configuration: a reload keeps a VMAC whose
// configuration is unchanged but for KeepIPv6, which CreateVMAC sets again
// in place.
func vmacKey(c kernel.VMACConfig) string {
	c.KeepIPv6 = false
	return fmt.Sprintf("%+v", c)
}

// instanceConfig turns a validated vrrp_instance into the driver's
// configuration, and says which socket it needs.
//
// With a VMAC, the VIPs go on it and adverts leave from it (from the
// parent with vmac_xmit_base); an IPv6 instance then speaks from the
// VMAC's link-local address. With an ipvlan adverts leave from it, from
// its address. See links.go.
func instanceConfig(cfg *config.Config, ci *config.VRRPInstance, k kernel.Kernel, ln *instanceLinks) (vrrp.InstanceConfig, socketKey, error) {
	g := cfg.GlobalDefs
	if g == nil {
		g = &config.GlobalDefs{}
	}
	if ci.VRID == 0 {
		return vrrp.InstanceConfig{}, socketKey{}, errors.New("no virtual_router_id")
	}
	if ci.Interface == "" {
		// keepalived 2.2.8 and later (chk_min_cfg, vrrp_complete_instance):
		// a unicast instance may go without an interface, given its
		// source address; its socket is then bound to its vrf, if any.
		// keepalived 2.2.7 refuses it ("Unknown interface!", its issue
		// #2270).
		if len(ci.UnicastPeers) == 0 {
			return vrrp.InstanceConfig{}, socketKey{}, errors.New("no interface: an instance without one must be unicast (keepalived: Unknown interface!)")
		}
		if ci.McastSrcIP == "" {
			return vrrp.InstanceConfig{}, socketKey{}, errors.New("a unicast instance without an interface needs unicast_src_ip")
		}
	}
	family := instanceFamily(ci)
	if strictMode(cfg.GlobalDefs, ci) && len(ci.UnicastPeers) > 0 {
		if ifc, err := k.InterfaceByName(ci.Interface); err == nil && ifc.Flags&net.FlagMulticast != 0 {
			// keepalived refuses the instance at run time (-t cannot tell).
			return vrrp.InstanceConfig{}, socketKey{}, errors.New("unicast peers are not supported in strict mode on an interface that can multicast")
		}
	}
	vipIf, sockIf := ci.Interface, ci.Interface
	if ln != nil {
		if ln.vipIf != "" {
			vipIf = ln.vipIf
		}
		if ln.sockIf != "" {
			sockIf = ln.sockIf
		}
	}
	key := socketKey{ifname: sockIf, family: family, unicast: len(ci.UnicastPeers) > 0, ttl: ci.UnicastTTL}
	if sockIf == "" {
		key.vrf = ci.VRF
	}
	if !key.unicast {
		key.ttl = 0
	}
	var src netip.Addr
	if ln != nil && ln.source.IsValid() && ci.McastSrcIP == "" {
		src = ln.source
	} else {
		var err error
		if src, err = sourceAddress(ci, family, k); err != nil {
			return vrrp.InstanceConfig{}, socketKey{}, err
		}
	}
	key.source = src
	key.group = multicastGroup(g, ci, family)
	ic := vrrp.InstanceConfig{
		Name:     ci.Name(),
		Machine:  machineConfig(g, ci, src),
		Source:   src,
		Group:    key.group,
		Checksum: vrrp.ChecksumV3Pseudo,
		VIPs:     ln.vips(ci.VirtualIPAddresses, ci, family),
		Excluded: ln.vips(ci.VirtualIPAddressesExcl, ci, family),
		Announce: announceConfig(g, ci, ln, vipIf, family),
	}
	ic.Interface = vipIf // keepalived's ifp: the VMAC with use_vmac, for the API and keepalived.json
	if ci.V3ChecksumAsV2 || g.V3ChecksumAsV2 {
		ic.Checksum = vrrp.ChecksumV2Style
	}
	for _, p := range ci.UnicastPeers {
		ic.Peers = append(ic.Peers, vrrp.Peer{Addr: p.Addr, MinTTL: p.MinTTL, MaxTTL: p.MaxTTL})
	}
	ic.CheckUnicastSrc = len(ic.Peers) > 0 && (ci.CheckUnicastSrc || g.VRRPCheckUnicastSrc)
	ic.SkipCheckAdvAddr = skipCheckAdvAddr(g, ci)
	ic.OldUnicastChecksum, ic.ChecksumGroup = oldUnicastChecksum(ci), multicastGroup(g, &config.VRRPInstance{}, 4)
	ic.SourceInterface = sockIf
	if a := ci.Authentication; a != nil && ci.Version == 2 {
		switch a.AuthType {
		case "PASS":
			ic.AuthType, ic.AuthPass = vrrp.AuthPass, []byte(a.AuthPass)
		case "AH":
			// IPsec-AH as keepalived implements it (vrrp.c
			// vrrp_build_ipsecah, vrrp_in_chk_ipsecah): the instance builds
			// whole IPv4 packets, on an IP protocol 51 socket.
			if family != 4 {
				return vrrp.InstanceConfig{}, socketKey{}, errors.New("auth_type AH needs IPv4")
			}
			ic.AuthType, ic.AuthPass = vrrp.AuthAH, []byte(a.AuthPass)
			ic.TTL = 255
			if key.unicast && key.ttl > 0 {
				ic.TTL = uint8(key.ttl)
			}
			key.proto = kernel.ProtoAH
		}
	}
	return ic, key, nil
}

// oldUnicastChecksum is old_unicast_checksum as keepalived's
// vrrp_unicast_chksum_handler (vrrp_parser.c) reads it: bare, always the
// old checksum; "never", never learn it; another word is reported at -t
// and leaves the default (learn it from the peer).
func oldUnicastChecksum(ci *config.VRRPInstance) vrrp.OldChecksumMode {
	switch {
	case !ci.IsSet("old_unicast_checksum"):
		return vrrp.OldChecksumLearn
	case len(ci.OldUnicastChecksum) == 0:
		return vrrp.OldChecksumAlways
	case ci.OldUnicastChecksum[0] == "never":
		return vrrp.OldChecksumNever
	}
	return vrrp.OldChecksumLearn
}

// skipCheckAdvAddr resolves skip_check_adv_addr as keepalived does: the
// global vrrp_skip_check_adv_addr is each instance's default (vrrp_data.c
// alloc_vrrp), and the instance keyword sets it with any valid boolean,
// false included (vrrp_parser.c vrrp_skip_check_adv_addr_handler tests
// only that the word is one), so it can only turn it on.
func skipCheckAdvAddr(g *config.GlobalDefs, ci *config.VRRPInstance) bool {
	return g.VRRPSkipCheckAdvAddr || ci.IsSet("skip_check_adv_addr")
}

func machineConfig(g *config.GlobalDefs, ci *config.VRRPInstance, src netip.Addr) vrrp.MachineConfig {
	mc := vrrp.MachineConfig{
		Version:          ci.Version,
		VRID:             ci.VRID,
		Priority:         ci.Priority,
		AdvertInt:        ci.AdvertInt.Duration(),
		Preempt:          !ci.NoPreempt,
		PreemptDelay:     ci.PreemptDelay.Duration(),
		DownTimerAdverts: ci.DownTimerAdverts,
		InitialState:     vrrp.Backup,
		PrimaryAddr:      src,
		StartupDelay:     max(g.VRRPStartupDelay.Duration(), bootDelay(g)),
		// RFC 9568 answers a lower-priority advert; keepalived's
		// vrrp_lower_prio_no_advert (global or per instance) turns that off.
		LowerPrioNoAdvert: optBool(ci.LowerPrioNoAdvert, g.VRRPLowerPrioNoAdvert),
		// A master that loses sends one advert first so that the winner
		// learns of the split brain and announces again: keepalived's
		// vrrp_higher_prio_send_advert, on by default in keepalived-go.
		HigherPrioSendAdvert: optBool(ci.HigherPrioSendAdvert, true),
		OwnerIgnoreAdverts:   ci.OwnerIgnoreAdverts || g.VRRPOwnerIgnoreAdverts,
		// timer_expired_backup / thread_timer_expired, resolved by the
		// configuration layer (0 without nopreempt, as keepalived).
		TimerExpiredBackup: ci.HighestOtherPriority,
	}
	if strictMode(g, ci) {
		// RFC 5798 to the letter (validation already reset what the
		// configuration said otherwise): the owner never steps down, a
		// master does not answer lower priorities, and a master that
		// loses steps down without a last advert.
		mc.LowerPrioNoAdvert = true
		mc.HigherPrioSendAdvert = false
		mc.OwnerIgnoreAdverts = true
	}
	if ci.State == "MASTER" {
		mc.InitialState = vrrp.Master
	}
	return mc
}

// bootDelay is vrrp_delay_after_boot's remaining delay; /proc/uptime is
// read only when it is set.
func bootDelay(g *config.GlobalDefs) time.Duration {
	d := g.VRRPDelayAfterBoot.Duration()
	if d == 0 {
		return 0
	}
	return delayAfterBoot(d, systemUptime())
}

// delayAfterBoot is what remains of vrrp_delay_after_boot when the system
// has been up for uptime (keepalived reads /proc/uptime): nothing once
// the delay has passed, or when uptime is unknown (negative).
func delayAfterBoot(delay, uptime time.Duration) time.Duration {
	if uptime < 0 || uptime >= delay {
		return 0
	}
	return delay - uptime
}

// systemUptime is /proc/uptime's first figure, or -1 if unreadable.
func systemUptime() time.Duration {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return time.Duration(secs * float64(time.Second))
}

// optBool is an instance's optional boolean keyword, or def when unset.
func optBool(w config.OptWords, def bool) bool {
	if w == nil {
		return def
	}
	return w.True()
}

// instanceFamily is 6 when the instance's addresses are IPv6.
func instanceFamily(ci *config.VRRPInstance) int {
	if a, err := netip.ParseAddr(ci.McastSrcIP); err == nil && a.Is6() {
		return 6
	}
	if len(ci.VirtualIPAddresses) > 0 && ci.VirtualIPAddresses[0].Prefix.Addr().Is6() {
		return 6
	}
	return 4
}

// sourceAddress is mcast_src_ip / unicast_src_ip, else the interface's
// primary IPv4 address or IPv6 link-local address.
func sourceAddress(ci *config.VRRPInstance, family int, k kernel.Kernel) (netip.Addr, error) {
	if a, err := netip.ParseAddr(ci.McastSrcIP); err == nil {
		return a, nil
	}
	ifc, err := k.InterfaceByName(ci.Interface)
	if err != nil {
		return netip.Addr{}, err
	}
	if family == 6 {
		if !ifc.LinkLocal.IsValid() {
			return netip.Addr{}, fmt.Errorf("interface %s has no IPv6 link-local address", ci.Interface)
		}
		return ifc.LinkLocal, nil
	}
	if !ifc.IPv4.IsValid() {
		return netip.Addr{}, fmt.Errorf("interface %s has no IPv4 address", ci.Interface)
	}
	return ifc.IPv4, nil
}

func multicastGroup(g *config.GlobalDefs, ci *config.VRRPInstance, family int) netip.Addr {
	for _, s := range []string{ci.McastDstIP, map[int]string{4: g.VRRPMcastGroup4, 6: g.VRRPMcastGroup6}[family]} {
		if a, err := netip.ParseAddr(s); err == nil && a.IsMulticast() {
			return a
		}
	}
	if family == 6 {
		return vrrp.MulticastIPv6
	}
	return vrrp.MulticastIPv4
}

// vipOf is an address line as a VIP; without dev it goes on ifname.
func vipOf(a config.IPAddress, ifname string) vrrp.VIP {
	dev := a.Dev
	if dev == "" {
		dev = ifname
	}
	return vrrp.VIP{Prefix: a.Prefix, Dev: dev, Label: a.Label, Brd: a.Brd, Scope: a.Scope}
}

// announceConfig is keepalived's GARP schedule: garp_master_repeat
// packets, again after garp_master_delay, then every garp_master_refresh;
// garp_lower_prio_repeat packets (and again after garp_lower_prio_delay)
// when a lower priority is heard; garp_extra_if's periodic packets on the
// other interfaces. vrrp_garp_interval / vrrp_gna_interval / garp_group
// space them per interface (garpPacer). vipIf is the instance's interface
// (its VMAC with use_vmac).
func announceConfig(g *config.GlobalDefs, ci *config.VRRPInstance, ln *instanceLinks, vipIf string, family int) vrrp.AnnounceConfig {
	ac := vrrp.AnnounceConfig{
		Repeat:          ci.GarpMasterRepeat,
		Delay:           time.Duration(ci.GarpMasterDelay) * time.Second,
		Refresh:         time.Duration(ci.GarpMasterRefresh) * time.Second,
		RefreshRepeat:   max(1, ci.GarpMasterRefreshRepeat),
		LowerPrioRepeat: ci.GarpLowerPrioRepeat,
		LowerPrioDelay:  time.Duration(ci.GarpLowerPrioDelay) * time.Second,
	}
	ac.ExtraInterval, ac.ExtraVIPs = extraIf(g, ci, ln, vipIf, family)
	return ac
}

// extraIf is garp_extra_if (or the global vrrp_garp_extra_if): its
// interval, and the addresses announced each time, one per interface
// other than the instance's own (keepalived's vrrp_send_vmac_update:
// only VMACs unless "all"; the instance's own interface only with
// vmac_xmit_base). keepalived turns it off when no address is on another
// interface (vrrp.c, vrrp_complete_instance). Without "all", the other
// interfaces announced on are the VMACs of use_vmac_addr and of an
// address line's use_vmac.
func extraIf(g *config.GlobalDefs, ci *config.VRRPInstance, ln *instanceLinks, vipIf string, family int) (time.Duration, []vrrp.VIP) {
	secs, all, ok := parseExtraIf(ci.GarpExtraIf, 0)
	if !ok {
		secs, all, _ = parseExtraIf(g.VRRPGarpExtraIf, 1)
	}
	if secs <= 0 {
		return 0, nil
	}
	vs := slices.Concat(ln.vips(ci.VirtualIPAddresses, ci, family), ln.vips(ci.VirtualIPAddressesExcl, ci, family))
	other := slices.ContainsFunc(vs, func(v vrrp.VIP) bool { return v.Dev != vipIf })
	if !other || (!all && !ln.hasExtra()) {
		return 0, nil
	}
	vmac := ln != nil && ln.vmac != nil
	var out []vrrp.VIP
	seen := map[string]bool{}
	for _, v := range vs {
		ours := (vmac && v.Dev == vipIf) || ln.isExtra(v.Dev)
		if (!ours && !all) || (v.Dev == vipIf && !ci.VMACXmitBase) || seen[v.Dev] {
			continue
		}
		seen[v.Dev] = true
		out = append(out, v)
	}
	return time.Duration(secs) * time.Second, out
}

// parseExtraIf reads garp_extra_if's words as keepalived's handlers do
// ([all] SECONDS, SECONDS in [lo, 86400]); ok is false when the keyword
// is absent or ignored.
func parseExtraIf(w config.OptWords, lo int) (secs int, all, ok bool) {
	if w == nil {
		return 0, false, false
	}
	secs = -1
	for _, word := range w {
		if word == "all" {
			all = true
			continue
		}
		n, err := strconv.Atoi(word)
		if err != nil || n < lo || n > 86400 {
			return 0, false, false
		}
		secs = n
	}
	if secs < 0 {
		return 0, false, false
	}
	return secs, all, true
}

// kernelNet adapts the kernel to one instance.
type kernelNet struct {
	k          kernel.Kernel
	conn       kernel.Conn
	routing    routing         // virtual_routes and virtual_rules, installed with the VIPs
	fw         kernel.Firewall // set when the instance's VIPs are blocked (no_accept)
	keepOnStop bool            // -V: leave the VIPs in place when the daemon stops
	stopping   atomic.Bool
	log        *slog.Logger
	// pacer spaces announcements per interface (nil: none); order is the
	// instance's place in the configuration and vips its addresses, in
	// which order pending announcements go; held: the VIPs are installed.
	pacer *garpPacer
	order int
	vips  []vrrp.VIP
	held  atomic.Bool
}

// vipIndex is v's place among the instance's addresses (-1 if none).
func (n *kernelNet) vipIndex(v vrrp.VIP) int { return slices.Index(n.vips, v) }

func (n *kernelNet) SendAdvert(payload []byte, dst netip.Addr) error {
	if n.conn == nil {
		return errors.New("no VRRP socket")
	}
	return n.conn.Send(payload, dst)
}

func (n *kernelNet) AddVIPs(vs []vrrp.VIP) error {
	n.held.Store(true)
	var errs []error
	if n.fw != nil {
		// Drop first, as keepalived does, so no packet reaches a VIP
		// that must not accept traffic.
		errs = append(errs, n.fw.Block(firewallAddrs(vs)...))
	}
	for _, v := range vs {
		errs = append(errs, n.k.AddAddress(v.Dev, kernelAddress(v)))
	}
	errs = append(errs, n.routing.install(n.k))
	return errors.Join(errs...)
}

func (n *kernelNet) RemoveVIPs(vs []vrrp.VIP) error {
	n.held.Store(false)
	if n.keepOnStop && n.stopping.Load() {
		return nil
	}
	errs := []error{n.routing.remove(n.k)}
	for _, v := range vs {
		errs = append(errs, n.k.DelAddress(v.Dev, kernelAddress(v)))
	}
	if n.fw != nil {
		errs = append(errs, n.fw.Unblock(firewallAddrs(vs)...))
	}
	return errors.Join(errs...)
}

// firewallAddrs are the VIPs' addresses; a link-local one carries its
// interface as zone, since the same fe80:: address may be on several.
func firewallAddrs(vs []vrrp.VIP) []netip.Addr {
	out := make([]netip.Addr, 0, len(vs))
	for _, v := range vs {
		a := v.Prefix.Addr()
		if a.Is6() && a.IsLinkLocalUnicast() {
			a = a.WithZone(v.Dev)
		}
		out = append(out, a)
	}
	return out
}

// Announce sends a gratuitous ARP or unsolicited NA per address, spaced
// per interface by the pacer (vrrp_garp_interval, garp_group).
func (n *kernelNet) Announce(vs []vrrp.VIP) error {
	if n.pacer != nil {
		return n.pacer.announce(n, vs)
	}
	return n.AnnounceNow(vs)
}

// AnnounceNow sends at once, whatever the spacing: keepalived's
// try_up_instance announces a unicast instance's own address so
// (send_gratuitous_arp_immediate).
func (n *kernelNet) AnnounceNow(vs []vrrp.VIP) error {
	var errs []error
	for _, v := range vs {
		errs = append(errs, announceNow(n.k, v))
	}
	return errors.Join(errs...)
}

// announceNow sends one gratuitous ARP (IPv4) or unsolicited NA (IPv6)
// for v on its interface.
func announceNow(k kernel.Kernel, v vrrp.VIP) error {
	if v.Prefix.Addr().Is4() {
		return k.GratuitousARP(v.Dev, v.Prefix.Addr())
	}
	return k.UnsolicitedNA(v.Dev, v.Prefix.Addr())
}

// releaseStale removes the instance's VIPs at startup: an instance starts
// as a backup and owns none, and a daemon killed with SIGKILL left its
// addresses behind.
func (n *kernelNet) releaseStale(ic vrrp.InstanceConfig) {
	n.RemoveVIPs(append(append([]vrrp.VIP(nil), ic.VIPs...), ic.Excluded...))
}

func kernelAddress(v vrrp.VIP) kernel.Address {
	a := kernel.Address{Prefix: v.Prefix, Label: v.Label, Scope: scopeNumber(v.Scope)}
	if b, err := netip.ParseAddr(v.Brd); err == nil {
		a.Broadcast = b
	}
	return a
}

// scopeNumber maps `ip addr` scope names to rtnetlink's numbers.
func scopeNumber(s string) uint8 {
	switch s {
	case "site":
		return 200
	case "link":
		return 253
	case "host":
		return 254
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 255 {
		return uint8(n)
	}
	return 0
}
