// Package vrrp implements VRRP for keepalived-go: the advertisement codec
// (packet.go: Parse, Marshal, DropReason) and the protocol state machine
// (machine.go: Machine, Step), both pure: no sockets, goroutines or clocks.
//
// # The state machine
//
// Machine follows RFC 5798 §6.4 (Initialize, Backup, Master) as amended by
// RFC 9568 (Master is "Active"; an Active router answers a lower-priority
// advert), with RFC 3768's VRRPv2 timers, plus keepalived's FAULT and STOP
// states and its knobs (preempt_delay, vrrp_startup_delay,
// down_timer_adverts, vrrp_lower_prio_no_advert,
// vrrp_higher_prio_send_advert, the owner ignoring adverts). The shape is
// etcd raft's: the machine is a value that consumes events and returns the
// actions to take; time is an argument; the caller owns sockets, timers
// and the kernel.
//
// Events: Start, AdvertReceived (already validated: an invalid packet
// never reaches Step), Timeout (when now >= Deadline()), PriorityChanged,
// FaultRaised, FaultCleared, Shutdown. A reload replaces a machine with
// Suspend (stop without resigning or releasing) and starts its successor
// with Resume{State} (a master goes on as master). A machine in a sync
// group (MachineConfig.Synced) emits WantMaster instead of taking over,
// and its SyncGroup answers with SyncMaster or SyncBackup.
//
// Actions, to execute in order: SendAdvert{Priority}, AddVIPs,
// RemoveVIPs, Announce (a gratuitous ARP / unsolicited NA sequence),
// LowerPriorityAdvert (notify_master_rx_lower_pri), WantMaster (synced
// machines), and Transition{From, To}, always last, for notify scripts,
// the FIFO and metrics.
//
// Instance (instance.go) is the driver the daemon uses: the loop below
// with a mutex instead of a select, so that an advert is handled on the
// socket reader's goroutine. Only the adverts are sent there; VIP changes
// (netlink), announcements and the hooks run in order on the instance's
// effects queue (effects.go), without its lock, so that a slow netlink
// call never delays the adverts of the other instances behind the same
// socket. SyncGroup (syncgroup.go) coordinates the instances of a
// vrrp_sync_group from a goroutine of its own. internal/vrrpd builds
// instances from the configuration and runs them.
//
// # Driving loop
//
// One goroutine per instance (or one for many instances, each with its own
// Machine) runs a loop like this:
//
//	m := vrrp.NewMachine(cfg)
//	do := func(acts []vrrp.Action) { // acts is valid until the next Step
//		for _, a := range acts {
//			switch a := a.(type) {
//			case vrrp.SendAdvert:
//				sendAdvert(a.Priority) // Marshal + write to the socket
//			case vrrp.AddVIPs:
//				addVIPs()
//			case vrrp.RemoveVIPs:
//				removeVIPs()
//			case vrrp.Announce:
//				startGARPs()
//			case vrrp.LowerPriorityAdvert:
//				notifyRxLowerPri(a.Src, a.Priority)
//			case vrrp.Transition:
//				notify(a.From, a.To)
//			}
//		}
//	}
//	timer := time.NewTimer(time.Hour)
//	arm := func() {
//		timer.Stop()
//		if d := m.Deadline(); !d.IsZero() {
//			timer.Reset(time.Until(d))
//		}
//	}
//	do(m.Step(time.Now(), vrrp.Start{}))
//	arm()
//	for {
//		select {
//		case p := <-packets: // parsed and validated (TTL, auth, VRID, ...)
//			do(m.Step(time.Now(), vrrp.AdvertReceived{
//				Src: p.Src, Priority: int(p.Priority), MaxAdverInt: p.Interval,
//			}))
//		case <-timer.C:
//			do(m.Step(time.Now(), vrrp.Timeout{}))
//		case prio := <-tracking:
//			do(m.Step(time.Now(), vrrp.PriorityChanged{Priority: prio}))
//		case up := <-faults:
//			if up {
//				do(m.Step(time.Now(), vrrp.FaultCleared{}))
//			} else {
//				do(m.Step(time.Now(), vrrp.FaultRaised{}))
//			}
//		case <-stop:
//			do(m.Step(time.Now(), vrrp.Shutdown{}))
//			return
//		}
//		arm()
//	}
//
// A Timeout delivered before Deadline (a stale timer) is ignored, so the
// loop need not be exact; it must only never deliver one late by more than
// it can afford (timer lateness is keepalived's first cause of flaps).
// When packets and a timer are both ready, reading the packets first is
// the better order: a queued advert from the master then keeps a late
// backup from taking over needlessly.
//
// # Timers
//
// Skew_Time and Master_Down_Interval are SkewTime and MasterDownInterval:
// v2 exact ((256-p)/256 s, 3.609375 s down at priority 100, 1 s), v3 in
// integer centiseconds like RFC 5798 and FRR (210 ms skew, 3.21 s down at
// priority 200, 1 s). A VRRPv3 backup adopts the master's advertised
// interval as Master_Adver_Interval; VRRPv2 uses its own.
package vrrp
