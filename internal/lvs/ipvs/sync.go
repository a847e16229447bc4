package ipvs

// lvs_sync_daemon: IPVS's connection synchronisation daemons, run as
// keepalived 2.2.7 runs them (check/ipvswrapper.c ipvs_syncd_cmd,
// ipvs_syncd_master, ipvs_syncd_backup; vrrp/vrrp.c
// vrrp_state_become_master and vrrp_state_leave_master;
// vrrp/vrrp_scheduler.c vrrp_init_state; vrrp/vrrp_daemon.c
// vrrp_terminate_phase1; check/check_daemon.c start_check and
// checker_terminate_phase2):
//
//   - with a VRRP instance (`lvs_sync_daemon IF INSTANCE`, or the
//     deprecated lvs_sync_daemon_interface in a vrrp_instance), the
//     daemon is MASTER while the instance is master and BACKUP otherwise:
//     becoming master stops the backup daemon and starts the master one,
//     leaving master the reverse; the sync id defaults to the instance's
//     virtual_router_id. The VRRP subsystem tells SyncDaemon of every
//     state change (vrrpd.StateListener, wired by internal/daemon);
//   - without one, the checker process runs both daemons, from start to
//     stop, sync id 0;
//   - at stop the daemons started are stopped.
//
// keepalived-go differs in two details: at its first start the VRRP form
// stops both daemons first, as the checker form does (keepalived's VRRP
// process does not, and logs "Daemon has already run" if a crashed run
// left one); a reload that changes the daemon's settings stops it and
// starts it again with them in the same state (keepalived 2.2.7 restarts
// it without its settings).

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"syscall"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// SyncDaemon is the daemon's sync-daemon subsystem (Name, Keywords,
// Apply, Stop, as internal/daemon runs them) and the listener of the VRRP
// instances' states.
type SyncDaemon struct {
	log              *slog.Logger
	withVRRP, withCk bool // which halves of keepalived run (-P, -C)
	open             func() (kernel.IPVSControl, error)

	mu      sync.Mutex
	k       kernel.IPVSControl
	failed  bool               // the kernel could not be opened: said once
	states  map[string]bool    // each instance's last state: master or not
	cfg     *kernel.IPVSDaemon // the daemon's settings, nil when none runs
	follow  string             // the instance followed, "" for both daemons
	running map[uint32]bool    // the daemons we started, by state
	applied bool               // a configuration was applied
	stopped bool
}

// NewSyncDaemon makes the subsystem; vrrp and checker tell which halves
// of keepalived run (the instance form belongs to the VRRP process, the
// other to the checker). open connects to IPVS (nil: the kernel's).
func NewSyncDaemon(log *slog.Logger, vrrp, checker bool, open func() (kernel.IPVSControl, error)) *SyncDaemon {
	if open == nil {
		open = func() (kernel.IPVSControl, error) {
			k, err := kernel.OpenIPVS()
			if err != nil {
				return nil, err
			}
			c, ok := k.(kernel.IPVSControl)
			if !ok {
				k.Close()
				return nil, fmt.Errorf("kernel: IPVS: no sync daemon commands")
			}
			return c, nil
		}
	}
	return &SyncDaemon{log: log, withVRRP: vrrp, withCk: checker, open: open, states: map[string]bool{}, running: map[uint32]bool{}}
}

// Name is the subsystem's name in logs.
func (s *SyncDaemon) Name() string { return "IPVS sync daemon" }

// Keywords are the keywords it acts on.
func (s *SyncDaemon) Keywords() []string {
	return []string{"lvs_sync_daemon", "lvs_sync_daemon_interface"}
}

// InstanceState hears a VRRP instance's state change: master or not.
func (s *SyncDaemon) InstanceState(name string, master bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	was, known := s.states[name]
	s.states[name] = master
	if s.stopped || s.cfg == nil || s.follow != name || (known && was == master) {
		return
	}
	if master {
		s.cmd(false, kernel.IPVSSyncBackup, false) // ipvs_syncd_master
		s.cmd(true, kernel.IPVSSyncMaster, false)
	} else {
		s.cmd(false, kernel.IPVSSyncMaster, false) // ipvs_syncd_backup
		s.cmd(true, kernel.IPVSSyncBackup, false)
	}
}

// resolve is the configuration's sync daemon: its settings (the sync id
// resolved) and the instance it follows; nil when none runs here.
func (s *SyncDaemon) resolve(cfg *config.Config) (*kernel.IPVSDaemon, string) {
	var c config.LVSSyncDaemon
	g := cfg.GlobalDefs
	switch {
	case g != nil && g.IsSet("lvs_sync_daemon"):
		// What is wrong in it was reported when the file was read.
		var ok bool
		if c, _, ok = config.ParseLVSSyncDaemon(g.LVSSyncDaemon); !ok {
			return nil, ""
		}
	default:
		for _, in := range cfg.Instances {
			if in.LVSSyncDaemonInterface != "" {
				c = config.LVSSyncDaemon{Interface: in.LVSSyncDaemonInterface, Instance: in.Name()}
				break
			}
		}
		if c.Interface == "" {
			return nil, ""
		}
	}
	daemon := kernel.IPVSDaemon{Interface: c.Interface, SyncID: c.SyncID, MaxLen: c.MaxLen, Port: c.Port, TTL: c.TTL, Group: c.Group}
	if c.Instance == "" {
		if !s.withCk {
			return nil, "" // the checker's, not running (-P)
		}
		return &daemon, ""
	}
	if !s.withVRRP {
		return nil, "" // the VRRP process's, not running (-C)
	}
	for _, in := range cfg.Instances {
		if in.Name() == c.Instance {
			if !c.SyncIDSet {
				daemon.SyncID = uint32(in.VRID) // vrrp.c: the instance's vrid
			}
			return &daemon, c.Instance
		}
	}
	s.log.Error(fmt.Sprintf("Unable to find vrrp instance %s for lvs_syncd - clearing lvs_syncd config", c.Instance))
	return nil, ""
}

// Apply starts, changes or stops the sync daemons for cfg.
func (s *SyncDaemon) Apply(_ context.Context, cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want, follow := s.resolve(cfg)
	first := !s.applied
	s.applied = true
	if s.cfg != nil && want != nil && *s.cfg == *want && s.follow == follow {
		return nil // unchanged: nothing to do
	}
	if s.cfg != nil || (first && want != nil) {
		// A stale or changed daemon goes (check_daemon.c: stop both,
		// errors ignored).
		if s.control() == nil {
			return nil
		}
		s.cmd(false, kernel.IPVSSyncMaster, true)
		s.cmd(false, kernel.IPVSSyncBackup, true)
	}
	s.cfg, s.follow = want, follow
	if want == nil || s.control() == nil {
		return nil
	}
	switch {
	case follow == "":
		s.cmd(true, kernel.IPVSSyncMaster, false) // IPVS_MASTER_BACKUP
		s.cmd(true, kernel.IPVSSyncBackup, false)
	case s.states[follow]:
		s.cmd(true, kernel.IPVSSyncMaster, false)
	default:
		s.cmd(true, kernel.IPVSSyncBackup, false) // vrrp_init_state
	}
	return nil
}

// Stop stops the daemons started (vrrp_terminate_phase1,
// checker_terminate_phase2).
func (s *SyncDaemon) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.k == nil {
		return nil
	}
	for _, st := range []uint32{kernel.IPVSSyncMaster, kernel.IPVSSyncBackup} {
		if s.running[st] {
			s.cmd(false, st, s.follow == "")
		}
	}
	if c, ok := s.k.(interface{ Close() error }); ok {
		c.Close()
	}
	s.k = nil
	return nil
}

// control is the kernel connection, opened at first use; nil if IPVS
// cannot be had (said once, as ipvs_start says it). Called with s.mu held.
func (s *SyncDaemon) control() kernel.IPVSControl {
	if s.k == nil && !s.failed {
		k, err := s.open()
		if err != nil {
			s.failed = true
			s.log.Error("IPVS: Can't initialize ipvs: " + err.Error() + ": no lvs_sync_daemon")
			return nil
		}
		s.k = k
	}
	return s.k
}

// The sync daemons' commands, as ipvs_talk logs them.
const (
	cmdStartDaemon command = 1163
	cmdStopDaemon  command = 1164
)

// cmd starts or stops the daemon of a state, as ipvs_syncd_cmd: a
// failure is logged as ipvs_talk logs it ("IPVS cmd
// IP_VS_SO_SET_STARTDAEMON(1163) error: Daemon has already run(17)"),
// unless ignored. Called with s.mu held.
func (s *SyncDaemon) cmd(start bool, state uint32, ignore bool) {
	k := s.control()
	if k == nil || (start && s.cfg == nil) {
		return
	}
	var err error
	c := cmdStopDaemon
	if start {
		c = cmdStartDaemon
		d := *s.cfg
		d.State = state
		err = k.StartDaemon(d)
		if err == nil {
			s.running[state] = true
			s.log.Info(fmt.Sprintf("IPVS: started the %s sync daemon on %s, syncid %d", d.StateName(), d.Interface, d.SyncID))
		}
	} else {
		err = k.StopDaemon(state)
		if err == nil || kernel.Errno(err) == syscall.ESRCH {
			delete(s.running, state)
		}
	}
	if err == nil || ignore {
		return
	}
	errno := errnoOf(err)
	s.log.Info(fmt.Sprintf("IPVS cmd %s(%d) error: %s(%d)", c, int(c), strerror(c, errno, err), int(errno)))
}
