package vrrp

// Tests named after the sections of RFC 5798 (VRRPv3) that they check,
// with RFC 3768 (VRRPv2) where it differs and RFC 9568 (which obsoletes
// 5798) where it changed the behaviour. Times are microseconds on a fake
// clock; deadlines are asserted exactly.

import (
	"testing"
	"time"
)

// RFC 5798 §6.1 (RFC 3768 §6.1 for v2): Skew_Time and Master_Down_Interval.
func TestSection6_1_SkewTimeAndMasterDownInterval(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name     string
		version  int
		prio     int
		intvl    time.Duration
		adverts  int
		skew     time.Duration
		downIntv time.Duration
	}{
		// v2: (256-p)/256 s, not scaled by the interval (RFC 3768).
		{"v2 prio 100", 2, 100, time.Second, 3, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{"v2 owner", 2, 255, time.Second, 3, 3906250 * time.Nanosecond, 3003906250 * time.Nanosecond},
		{"v2 prio 1", 2, 1, time.Second, 3, 996093750 * time.Nanosecond, 3996093750 * time.Nanosecond},
		{"v2 prio 100, 3 s", 2, 100, 3 * time.Second, 3, 609375 * time.Microsecond, 9609375 * time.Microsecond},
		{"v2 down_timer_adverts 5", 2, 100, time.Second, 5, 609375 * time.Microsecond, 5609375 * time.Microsecond},
		{"v2 down_timer_adverts 0 = 3", 2, 100, time.Second, 0, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		// v3: ((256-p) * Master_Adver_Interval)/256 in integer centiseconds.
		// FRR shows 210 ms / 3210 ms here; keepalived computes 218.75 ms.
		{"v3 prio 200, 1 s (FRR)", 3, 200, time.Second, 3, 210 * ms, 3210 * ms},
		{"v3 prio 150, 1 s", 3, 150, time.Second, 3, 410 * ms, 3410 * ms},
		{"v3 prio 100, 1 s", 3, 100, time.Second, 3, 600 * ms, 3600 * ms},
		{"v3 prio 100, 100 ms", 3, 100, 100 * ms, 3, 60 * ms, 360 * ms},
		{"v3 prio 100, 20 ms", 3, 100, 20 * ms, 3, 10 * ms, 70 * ms},
		{"v3 prio 254, 10 ms (skew truncates to 0)", 3, 254, 10 * ms, 3, 0, 30 * ms},
		{"v3 prio 1, 40.95 s", 3, 1, MaxIntervalV3, 3, 40790 * ms, 163640 * ms},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := SkewTime(c.version, c.prio, c.intvl); got != c.skew {
				t.Errorf("SkewTime = %v, want %v", got, c.skew)
			}
			if got := MasterDownInterval(c.version, c.prio, c.intvl, c.adverts); got != c.downIntv {
				t.Errorf("MasterDownInterval = %v, want %v", got, c.downIntv)
			}
			cfg := v2cfg(c.prio)
			cfg.Version, cfg.AdvertInt, cfg.DownTimerAdverts = c.version, c.intvl, c.adverts
			if c.prio == PriorityOwner {
				return // an owner has no down timer
			}
			m := NewMachine(cfg)
			if got := m.MasterDownInterval(); got != c.downIntv {
				t.Errorf("Machine.MasterDownInterval = %v, want %v", got, c.downIntv)
			}
			m.Step(at(0), Start{})
			if got := m.Deadline().Sub(at(0)); got != c.downIntv {
				t.Errorf("backup deadline after Start = %v, want %v", got, c.downIntv)
			}
		})
	}
}

// RFC 5798 §6.4.1 Initialize: the owner becomes master at once; everyone
// else becomes a backup with Master_Down_Timer = Master_Down_Interval.
func TestSection6_4_1_Initialize(t *testing.T) {
	stateMaster := func(c MachineConfig) MachineConfig { c.InitialState = Master; return c }
	for _, tc := range []struct {
		name  string
		cfg   MachineConfig
		steps []step
	}{
		{"owner goes master: advert, addresses, announcement", v2cfg(255), []step{
			{0, Start{}, toMaster(255, Init), Master, sec},
			{sec, Timeout{}, []Action{SendAdvert{255}}, Master, 2 * sec},
		}},
		{"owner with state BACKUP still goes master", v2cfg(255), []step{
			{5, Start{}, toMaster(255, Init), Master, sec + 5},
		}},
		{"backup v2", v2cfg(100), []step{
			{0, Start{}, tr(Init, Backup), Backup, 3_609_375},
		}},
		{"backup v3 100 ms", v3cfg(100, 100*time.Millisecond), []step{
			{0, Start{}, tr(Init, Backup), Backup, 360_000},
		}},
		{"backup v3 20 ms", v3cfg(100, 20*time.Millisecond), []step{
			{0, Start{}, tr(Init, Backup), Backup, 70_000},
		}},
		// keepalived: a non-owner with "state MASTER" waits
		// Master_Adver_Interval + the minimum skew (0 cs at 1 s) as a backup.
		{"state MASTER non-owner", stateMaster(v3cfg(100, time.Second)), []step{
			{0, Start{}, tr(Init, Backup), Backup, sec},
			{sec, Timeout{}, toMaster(100, Backup), Master, 2 * sec},
		}},
		{"state MASTER non-owner hears a master", stateMaster(v3cfg(100, time.Second)), []step{
			{0, Start{}, tr(Init, Backup), Backup, sec},
			{500_000, adv(ipHigh, 150), nil, Backup, 500_000 + 3_600_000},
		}},
		{"nothing before Start", v2cfg(100), []step{
			{0, adv(ipHigh, 200), nil, Init, none},
			{0, Timeout{}, nil, Init, none},
			{0, PriorityChanged{52}, nil, Init, none}, // tracking may report before Start
			{sec, Start{}, tr(Init, Backup), Backup, sec + 3_796_875},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, NewMachine(tc.cfg), tc.steps)
		})
	}
}

// keepalived's vrrp_startup_delay: no MASTER before it expires; the
// instance is a backup meanwhile (it hears and follows a master).
func TestSection6_4_1_StartupDelay(t *testing.T) {
	delayed := func(c MachineConfig, d time.Duration) MachineConfig { c.StartupDelay = d; return c }
	for _, tc := range []struct {
		name  string
		cfg   MachineConfig
		steps []step
	}{
		{"owner waits", delayed(v2cfg(255), 5*time.Second), []step{
			{0, Start{}, tr(Init, Backup), Backup, 5 * sec},
			{sec, adv(ipLow, 100), nil, Backup, 5 * sec},
			{4 * sec, Timeout{}, nil, Backup, 5 * sec},
			{5 * sec, Timeout{}, toMaster(255, Backup), Master, 6 * sec},
		}},
		{"backup longer than the down timer", delayed(v2cfg(100), 10*time.Second), []step{
			{0, Start{}, tr(Init, Backup), Backup, 10 * sec},
			{sec, adv(ipHigh, 200), nil, Backup, 10 * sec},
			{10 * sec, Timeout{}, toMaster(100, Backup), Master, 11 * sec},
		}},
		{"backup following a master past the delay", delayed(v2cfg(100), 5*time.Second), []step{
			{0, Start{}, tr(Init, Backup), Backup, 5 * sec},
			{4 * sec, adv(ipHigh, 200), nil, Backup, 4*sec + 3_609_375},
			{7 * sec, adv(ipHigh, 200), nil, Backup, 7*sec + 3_609_375},
		}},
		{"shorter than the down timer changes nothing", delayed(v2cfg(100), time.Second), []step{
			{0, Start{}, tr(Init, Backup), Backup, 3_609_375},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, NewMachine(tc.cfg), tc.steps)
		})
	}
}

// RFC 5798 §6.4.2 Backup.
func TestSection6_4_2_Backup(t *testing.T) {
	const D = 3_609_375 // v2, priority 100, 1 s
	noPreempt := v2cfg(100)
	noPreempt.Preempt = false
	for _, tc := range []struct {
		name  string
		cfg   MachineConfig
		steps []step
	}{
		{"Master_Down_Timer fires: advert, addresses, announcement, Adver_Timer", v2cfg(100), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{D - 1, Timeout{}, nil, Backup, D}, // early: ignored
			{D, Timeout{}, toMaster(100, Backup), Master, D + sec},
		}},
		{"priority 0: Master_Down_Timer = Skew_Time", v2cfg(100), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{sec, adv(ipHigh, 0), nil, Backup, sec + 609_375},
			{sec + 609_375, Timeout{}, toMaster(100, Backup), Master, 2*sec + 609_375},
		}},
		{"priority 0 never pushes the takeover back", v2cfg(100), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{sec, adv(ipHigh, 0), nil, Backup, sec + 609_375},
			{sec + 500_000, adv(ipHigh, 0), nil, Backup, sec + 609_375},
		}},
		{"priority 0 keeps an earlier Master_Down_Timer", v2cfg(100), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{D - 100_000, adv(ipHigh, 0), nil, Backup, D},
		}},
		{"higher priority resets Master_Down_Timer", v2cfg(100), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{2 * sec, adv(ipHigh, 200), nil, Backup, 2*sec + D},
			{3 * sec, adv(ipLow, 200), nil, Backup, 3*sec + D},
		}},
		{"equal priority resets, whatever the address", v2cfg(100), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{2 * sec, adv(ipLow, 100), nil, Backup, 2*sec + D},
			{3 * sec, adv(ipHigh, 100), nil, Backup, 3*sec + D},
		}},
		{"lower priority with preempt is discarded", v2cfg(100), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{2 * sec, adv(ipHigh, 52), nil, Backup, D},
			{3 * sec, adv(ipHigh, 99), nil, Backup, D},
			{D, Timeout{}, toMaster(100, Backup), Master, D + sec},
		}},
		{"nopreempt: lower priority resets too", noPreempt, []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{2 * sec, adv(ipHigh, 52), nil, Backup, 2*sec + D},
			{3 * sec, adv(ipHigh, 1), nil, Backup, 3*sec + D},
			{3*sec + D, Timeout{}, toMaster(100, Backup), Master, 4*sec + D},
		}},
		{"v3 adopts the master's interval", v3cfg(100, time.Second), []step{
			{0, Start{}, tr(Init, Backup), Backup, 3_600_000},
			// 3×2 s + (156×200 cs)/256 = 121 cs
			{sec, AdvertReceived{Src: ipHigh, Priority: 200, MaxAdverInt: 2 * time.Second}, nil, Backup, sec + 7_210_000},
			// and advertises with its own once master
			{sec + 7_210_000, Timeout{}, toMaster(100, Backup), Master, 2*sec + 7_210_000},
		}},
		{"v2 uses its own interval", v2cfg(100), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{sec, AdvertReceived{Src: ipHigh, Priority: 200, MaxAdverInt: 2 * time.Second}, nil, Backup, sec + D},
		}},
		{"shutdown: no advert", v2cfg(100), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{sec, Shutdown{}, tr(Backup, Stop), Stop, none},
			{D, Timeout{}, nil, Stop, none},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, NewMachine(tc.cfg), tc.steps)
		})
	}
}

// keepalived's preempt_delay (RFC 5798 has none). Our reading of
// keepalived's vrrp.c: the delay starts at startup, on leaving FAULT, or
// when a lower-priority master is first seen with no delay running; an
// advert of equal or higher priority cancels it; until it expires, a live
// lower-priority master is tolerated. So the takeover comes at
// max(remaining Master_Down_Timer, preempt time) while the lower master
// keeps advertising, and one Master_Down_Interval after its last advert if
// it dies first. (keepalived resets the down timer on each tolerated
// advert, so it takes over up to one Master_Down_Interval after the delay;
// we take over when the delay ends.)
func TestSection6_4_2_PreemptDelay(t *testing.T) {
	const D = 3_609_375
	cfg := func(d time.Duration) MachineConfig { c := v2cfg(100); c.PreemptDelay = d; return c }
	lowerEverySecond := func(from, to int64, deadline func(int64) int64) []step {
		var s []step
		for x := from; x <= to; x += sec {
			s = append(s, step{x, adv(ipLow, 52), nil, Backup, deadline(x)})
		}
		return s
	}
	t.Run("lower master seen at startup waits for the delay", func(t *testing.T) {
		steps := []step{{0, Start{}, tr(Init, Backup), Backup, D}}
		steps = append(steps, lowerEverySecond(sec, 9*sec, func(x int64) int64 { return min(x+D, 10*sec) })...)
		steps = append(steps, step{10 * sec, Timeout{}, toMaster(100, Backup), Master, 11 * sec})
		runSteps(t, NewMachine(cfg(10*time.Second)), steps)
	})
	t.Run("delay runs from first seeing the lower master", func(t *testing.T) {
		steps := []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{sec, adv(ipHigh, 200), nil, Backup, sec + D}, // cancels the startup delay
		}
		steps = append(steps, lowerEverySecond(2*sec, 11*sec, func(x int64) int64 { return max(sec+D, min(x+D, 12*sec)) })...)
		steps = append(steps, step{12 * sec, Timeout{}, toMaster(100, Backup), Master, 13 * sec})
		runSteps(t, NewMachine(cfg(10*time.Second)), steps)
	})
	t.Run("lower master dies during the delay", func(t *testing.T) {
		runSteps(t, NewMachine(cfg(10*time.Second)), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{sec, adv(ipLow, 52), nil, Backup, sec + D},
			{2 * sec, adv(ipLow, 52), nil, Backup, 2*sec + D},
			{2*sec + D, Timeout{}, toMaster(100, Backup), Master, 3*sec + D},
		})
	})
	t.Run("remaining down timer longer than the delay", func(t *testing.T) {
		runSteps(t, NewMachine(cfg(time.Second)), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{500_000, adv(ipHigh, 200), nil, Backup, 500_000 + D},
			{sec, adv(ipLow, 52), nil, Backup, 500_000 + D},
			{500_000 + D, Timeout{}, toMaster(100, Backup), Master, 1_500_000 + D},
		})
	})
	t.Run("priority 0 from the tolerated master: Skew_Time", func(t *testing.T) {
		runSteps(t, NewMachine(cfg(10*time.Second)), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{sec, adv(ipLow, 52), nil, Backup, sec + D},
			{2 * sec, adv(ipLow, 0), nil, Backup, 2*sec + 609_375},
		})
	})
	t.Run("priority 0 from a tolerated master past the down timer", func(t *testing.T) {
		runSteps(t, NewMachine(cfg(10*time.Second)), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{sec, adv(ipLow, 52), nil, Backup, sec + D},
			{2 * sec, adv(ipLow, 52), nil, Backup, 2*sec + D},
			{4 * sec, adv(ipLow, 0), nil, Backup, 4 * sec}, // down timer had expired: at once
			{4 * sec, Timeout{}, toMaster(100, Backup), Master, 5 * sec},
		})
	})
	t.Run("tracking does not move a tolerated master's timer", func(t *testing.T) {
		runSteps(t, NewMachine(cfg(10*time.Second)), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{sec, adv(ipLow, 52), nil, Backup, sec + D},
			{2 * sec, PriorityChanged{252}, nil, Backup, sec + D},
		})
	})
	t.Run("nopreempt ignores it", func(t *testing.T) {
		c := cfg(10 * time.Second)
		c.Preempt = false
		runSteps(t, NewMachine(c), []step{
			{0, Start{}, tr(Init, Backup), Backup, D},
			{sec, adv(ipLow, 52), nil, Backup, sec + D},
			{sec + D, Timeout{}, toMaster(100, Backup), Master, 2*sec + D},
		})
	})
}

// RFC 5798 §6.4.3 Master (RFC 9568: Active).
func TestSection6_4_3_Master(t *testing.T) {
	const T = 3_609_375 // becomes master here (v2, priority 100)
	const D = 3_609_375 // its Master_Down_Interval once backup again
	ownerIgnoring := v2cfg(255)
	ownerIgnoring.OwnerIgnoreAdverts = true
	sendFirst := v2cfg(100)
	sendFirst.HigherPrioSendAdvert = true
	for _, tc := range []struct {
		name  string
		cfg   MachineConfig
		steps []step
	}{
		{"Adver_Timer: send and re-arm", v2cfg(100), []step{
			{T + sec - 1, Timeout{}, nil, Master, T + sec},
			{T + sec, Timeout{}, []Action{SendAdvert{100}}, Master, T + 2*sec},
			// a late timer keeps the cadence...
			{T + 2*sec + 300_000, Timeout{}, []Action{SendAdvert{100}}, Master, T + 3*sec},
			// ...unless it is later than a whole interval
			{T + 5*sec, Timeout{}, []Action{SendAdvert{100}}, Master, T + 6*sec},
		}},
		{"priority 0: send an advert and reset Adver_Timer", v2cfg(100), []step{
			{T + 400_000, adv(ipHigh, 0), []Action{SendAdvert{100}}, Master, T + 1_400_000},
		}},
		{"higher priority: become backup", v2cfg(100), []step{
			{T + 400_000, adv(ipLow, 101), []Action{RemoveVIPs{}, Transition{Master, Backup}}, Backup, T + 400_000 + D},
			{T + 400_000 + D, Timeout{}, toMaster(100, Backup), Master, T + 1_400_000 + D},
		}},
		{"higher priority with higher_prio_send_advert: tell the winner first", sendFirst, []step{
			{T + 400_000, adv(ipLow, 101), []Action{SendAdvert{100}, RemoveVIPs{}, Transition{Master, Backup}}, Backup, T + 400_000 + D},
		}},
		{"equal priority, higher address wins", v2cfg(100), []step{
			{T + 400_000, adv(ipHigh, 100), []Action{RemoveVIPs{}, Transition{Master, Backup}}, Backup, T + 400_000 + D},
		}},
		{"equal priority, lower address loses", v2cfg(100), []step{
			{T + 400_000, adv(ipLow, 100), []Action{LowerPriorityAdvert{ipLow, 100}, SendAdvert{100}}, Master, T + sec},
		}},
		{"shutdown: priority 0 advert", v2cfg(100), []step{
			{T + 400_000, Shutdown{}, []Action{SendAdvert{0}, RemoveVIPs{}, Transition{Master, Stop}}, Stop, none},
			{T + sec, Timeout{}, nil, Stop, none},
			{T + sec, adv(ipLow, 1), nil, Stop, none},
		}},
		{"owner steps down only for a higher-addressed owner", v3cfg(255, time.Second), []step{
			{T + 1, adv(ipHigh, 254), []Action{LowerPriorityAdvert{ipHigh, 254}, SendAdvert{255}}, Master, T + sec},
			{T + 2, adv(ipHigh, 255), []Action{RemoveVIPs{}, Transition{Master, Backup}}, Backup, T + 2 + 3_000_000},
		}},
		{"owner ignoring adverts", ownerIgnoring, []step{
			{T + 1, adv(ipHigh, 255), nil, Master, T + sec},
			{T + 2, adv(ipHigh, 0), nil, Master, T + sec},
			{T + 3, adv(ipHigh, 1), nil, Master, T + sec},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMachine(tc.cfg)
			if tc.cfg.Priority == PriorityOwner {
				// Owners start as master at once: start them at T.
				m.Step(at(T), Start{})
			} else {
				m.Step(at(0), Start{})
				m.Step(at(T), Timeout{})
			}
			if m.State() != Master || !m.Deadline().Equal(at(T+sec)) {
				t.Fatalf("setup: %v, deadline %v", m.State(), m.Deadline())
			}
			runSteps(t, m, tc.steps)
		})
	}
}

// RFC 5798 §6.4.3 "Shutdown" and §6.4.2 priority 0: a resigning master's
// priority-0 advert makes the backup take over after Skew_Time, not
// Master_Down_Interval.
func TestSection6_4_3_ShutdownPriorityZero_BackupTakesOverAfterSkewTime(t *testing.T) {
	master, T := startedMaster(t, v2cfg(200))
	backup := NewMachine(v2cfg(100))
	backup.Step(at(0), Start{})
	backup.Step(at(T), &AdvertReceived{Src: ipHigh, Priority: 200})
	acts := master.Step(at(T+500_000), Shutdown{})
	if len(acts) == 0 || acts[0] != (SendAdvert{0}) {
		t.Fatalf("master shutdown: %s", fmtActs(acts))
	}
	runSteps(t, backup, []step{
		{T + 500_100, adv(ipHigh, 0), nil, Backup, T + 500_100 + 609_375},
		{T + 500_100 + 609_375, Timeout{}, toMaster(100, Backup), Master, T + 1_500_100 + 609_375},
	})
	// The same with a fault instead of a shutdown.
	master, T = startedMaster(t, v2cfg(200))
	if acts := master.Step(at(T+1), FaultRaised{}); len(acts) == 0 || acts[0] != (SendAdvert{0}) {
		t.Fatalf("master fault: %s", fmtActs(acts))
	}
}

// RFC 9568 §6.4.3: an Active router receiving a lower-priority advert
// sends an advert at once (RFC 5798 said discard). We also report it
// (LowerPriorityAdvert: notify_master_rx_lower_pri, and the driver's
// garp_lower_prio_repeat announcements), but at most once per
// Advertisement_Interval; nothing but our own scheduled sending moves the
// Adver_Timer.
func TestRFC9568_Section6_4_3_ActiveAnswersLowerPriority(t *testing.T) {
	const T = 3_609_375
	answer := func(prio int) []Action {
		return []Action{LowerPriorityAdvert{ipLow, prio}, SendAdvert{100}}
	}
	t.Run("answer, rate-limited, timer untouched", func(t *testing.T) {
		m, _ := startedMaster(t, v2cfg(100))
		runSteps(t, m, []step{
			{T + 100_000, adv(ipLow, 50), answer(50), Master, T + sec},
			{T + 200_000, adv(ipLow, 50), nil, Master, T + sec},
			{T + 1_099_999, adv(ipLow, 99), nil, Master, T + sec},
			{T + sec, Timeout{}, []Action{SendAdvert{100}}, Master, T + 2*sec},
			{T + 1_100_000, adv(ipLow, 99), answer(99), Master, T + 2*sec},
			{T + 1_200_000, adv(ipLow, 1), nil, Master, T + 2*sec},
		})
	})
	t.Run("vrrp_lower_prio_no_advert restores RFC 5798", func(t *testing.T) {
		c := v2cfg(100)
		c.LowerPrioNoAdvert = true
		m, _ := startedMaster(t, c)
		runSteps(t, m, []step{
			{T + 100_000, adv(ipLow, 50), []Action{LowerPriorityAdvert{ipLow, 50}}, Master, T + sec},
			{T + 200_000, adv(ipLow, 50), nil, Master, T + sec},
		})
	})
}

// user-demand §6: keepalived answers every lower-priority advert with an
// advert and 5 GARPs (and 5 more later), so 20,000 priority-1 adverts
// become a storm. Here they produce one answer per Advertisement_Interval,
// and the Adver_Timer keeps its exact cadence.
func TestRFC9568_LowerPriorityFloodIsBounded(t *testing.T) {
	m, T := startedMaster(t, v2cfg(100))
	ev := &AdvertReceived{Src: ipLow, Priority: 1, MaxAdverInt: time.Second}
	var timeouts, answers, reports, total int
	for k := range int64(20_000) {
		now := at(T + 250 + k*500) // 20,000 adverts over 10 s, off the timer's phase
		for !now.Before(m.Deadline()) {
			want := m.Deadline().Add(time.Second)
			acts := m.Step(now, Timeout{})
			timeouts++
			total += len(acts)
			if !m.Deadline().Equal(want) {
				t.Fatalf("Adver_Timer moved to %v, want %v", m.Deadline(), want)
			}
		}
		for _, a := range m.Step(now, ev) {
			total++
			switch a.(type) {
			case SendAdvert:
				answers++
			case LowerPriorityAdvert:
				reports++ // the driver announces on it
			default:
				t.Fatalf("unexpected %T", a)
			}
		}
	}
	if timeouts != 9 || answers != 10 || reports != 10 || total != 29 {
		t.Errorf("timeouts %d, answers %d, reports %d, total actions %d; want 9, 10, 10, 29",
			timeouts, answers, reports, total)
	}
	if !m.Deadline().Equal(at(T + 10*sec)) {
		t.Errorf("Adver_Timer at %dµs, want %dµs", us(m.Deadline()), T+10*sec)
	}
}
