package vrrp

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fake clock counts microseconds from the Unix epoch.
func at(us int64) time.Time { return time.Unix(0, 0).Add(time.Duration(us) * time.Microsecond) }

func us(t time.Time) int64 { return int64(t.Sub(time.Unix(0, 0)) / time.Microsecond) }

const (
	sec  = int64(1_000_000) // one second in µs
	none = int64(-1)        // no deadline
)

var (
	ipLow  = netip.MustParseAddr("192.0.2.1")
	ipSelf = netip.MustParseAddr("192.0.2.2")
	ipHigh = netip.MustParseAddr("192.0.2.3")
)

// v2cfg: VRRPv2, 1 s, preempt, sent from ipSelf. Priorities used with it
// in exact-deadline tests are multiples of 4, so that the v2 skew
// ((256-p)/256 s) is a whole number of microseconds.
func v2cfg(prio int) MachineConfig {
	return MachineConfig{
		Version: 2, VRID: 51, Priority: prio, AdvertInt: time.Second,
		Preempt: true, InitialState: Backup, PrimaryAddr: ipSelf,
	}
}

func v3cfg(prio int, intvl time.Duration) MachineConfig {
	c := v2cfg(prio)
	c.Version, c.AdvertInt = 3, intvl
	return c
}

func adv(src netip.Addr, prio int) AdvertReceived {
	return AdvertReceived{Src: src, Priority: prio, MaxAdverInt: time.Second}
}

// Actions as the machine returns them.
var (
	toMaster = func(prio int, from State) []Action {
		return []Action{SendAdvert{prio}, AddVIPs{}, Announce{}, Transition{from, Master}}
	}
	tr = func(from, to State) []Action { return []Action{Transition{from, to}} }
)

// step is one row of a table test: deliver ev at time at (µs), expect the
// actions, the state and the deadline (µs, or none).
type step struct {
	at       int64
	ev       Event
	want     []Action
	state    State
	deadline int64
}

func runSteps(t *testing.T, m *Machine, steps []step) {
	t.Helper()
	for i, s := range steps {
		got := slices.Clone(m.Step(at(s.at), s.ev))
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, s.want) {
			t.Errorf("step %d (%T at %dµs): actions\n got %v\nwant %v", i, s.ev, s.at, fmtActs(got), fmtActs(s.want))
		}
		if m.State() != s.state {
			t.Errorf("step %d (%T at %dµs): state %v, want %v", i, s.ev, s.at, m.State(), s.state)
		}
		d := m.Deadline()
		switch {
		case s.deadline == none && !d.IsZero():
			t.Errorf("step %d (%T at %dµs): deadline %dµs, want none", i, s.ev, s.at, us(d))
		case s.deadline != none && !d.Equal(at(s.deadline)):
			if d.IsZero() {
				t.Errorf("step %d (%T at %dµs): deadline none, want %dµs", i, s.ev, s.at, s.deadline)
			} else {
				t.Errorf("step %d (%T at %dµs): deadline %v (%dµs), want %dµs", i, s.ev, s.at,
					d.Sub(time.Unix(0, 0)), us(d), s.deadline)
			}
		}
		if t.Failed() {
			return
		}
	}
}

func fmtActs(as []Action) string {
	var b strings.Builder
	b.WriteString("[")
	for i, a := range as {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%T%+v", a, a)
	}
	b.WriteString("]")
	return strings.ReplaceAll(b.String(), "vrrp.", "")
}

// startedMaster returns a v2 machine that became master through its down
// timer: Start at 0, master at its Master_Down_Interval (returned, µs).
func startedMaster(t *testing.T, cfg MachineConfig) (*Machine, int64) {
	t.Helper()
	m := NewMachine(cfg)
	m.Step(at(0), Start{})
	d := us(m.Deadline())
	acts := m.Step(at(d), Timeout{})
	if m.State() != Master || len(acts) != 4 {
		t.Fatalf("setup: state %v after %v", m.State(), fmtActs(acts))
	}
	return m, d
}

func TestStateString(t *testing.T) {
	want := map[State]string{Init: "INIT", Backup: "BACKUP", Master: "MASTER", Fault: "FAULT", Stop: "STOP", 9: "State(9)"}
	for s, w := range want {
		if s.String() != w {
			t.Errorf("%d: %q, want %q", int(s), s.String(), w)
		}
	}
}

func TestMachineConfigValidate(t *testing.T) {
	ok := []MachineConfig{v2cfg(100), v2cfg(255), v3cfg(1, 10*time.Millisecond), v3cfg(254, MaxIntervalV3)}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	bad := map[string]func(*MachineConfig){
		"version 4":        func(c *MachineConfig) { c.Version = 4 },
		"v2 half second":   func(c *MachineConfig) { c.AdvertInt = 1500 * time.Millisecond },
		"v2 zero":          func(c *MachineConfig) { c.AdvertInt = 0 },
		"v2 256 s":         func(c *MachineConfig) { c.AdvertInt = 256 * time.Second },
		"v3 5 ms":          func(c *MachineConfig) { c.Version, c.AdvertInt = 3, 5*time.Millisecond },
		"v3 15 ms":         func(c *MachineConfig) { c.Version, c.AdvertInt = 3, 15*time.Millisecond },
		"v3 41 s":          func(c *MachineConfig) { c.Version, c.AdvertInt = 3, 41*time.Second },
		"priority 0":       func(c *MachineConfig) { c.Priority = 0 },
		"priority 256":     func(c *MachineConfig) { c.Priority = 256 },
		"vrid 0":           func(c *MachineConfig) { c.VRID = 0 },
		"down adverts 256": func(c *MachineConfig) { c.DownTimerAdverts = 256 },
		"negative delay":   func(c *MachineConfig) { c.PreemptDelay = -time.Second },
		"negative startup": func(c *MachineConfig) { c.StartupDelay = -time.Second },
		"initial FAULT":    func(c *MachineConfig) { c.InitialState = Fault },
	}
	for name, f := range bad {
		c := v2cfg(100)
		f(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewMachine with an invalid config did not panic")
		}
	}()
	NewMachine(MachineConfig{})
}

func TestNewMachineNormalizes(t *testing.T) {
	c := v2cfg(255)
	c.Preempt, c.PreemptDelay = false, 10*time.Second
	got := NewMachine(c).Config()
	if !got.Preempt || got.PreemptDelay != 0 || got.DownTimerAdverts != 3 {
		t.Errorf("owner: %+v", got)
	}
	c = v2cfg(100)
	c.InitialState, c.PreemptDelay = Master, 10*time.Second
	if got := NewMachine(c).Config(); got.PreemptDelay != 0 {
		t.Errorf("state MASTER keeps preempt_delay %v", got.PreemptDelay)
	}
}

// Fault handling is keepalived's (RFC 5798 has no FAULT state): a master
// resigns with a priority-0 advert and drops its addresses; leaving FAULT
// is like starting again.
func TestFault(t *testing.T) {
	const T = 3_609_375 // v2 priority 100 Master_Down_Interval
	t.Run("master resigns with priority 0", func(t *testing.T) {
		m, T := startedMaster(t, v2cfg(100))
		runSteps(t, m, []step{
			{T + 100, FaultRaised{}, []Action{SendAdvert{0}, RemoveVIPs{}, Transition{Master, Fault}}, Fault, none},
			{T + 200, FaultRaised{}, nil, Fault, none},
			{T + 300, adv(ipHigh, 200), nil, Fault, none},
			{T + 400, adv(ipLow, 0), nil, Fault, none},
			{T + 500, Timeout{}, nil, Fault, none},
			{T + 600, PriorityChanged{120}, nil, Fault, none},
			{10 * sec, FaultCleared{}, tr(Fault, Backup), Backup, 10*sec + 3_531_250}, // skew at 120: 136/256 s
			{11 * sec, FaultCleared{}, nil, Backup, 10*sec + 3_531_250},
		})
	})
	t.Run("backup", func(t *testing.T) {
		m := NewMachine(v2cfg(100))
		runSteps(t, m, []step{
			{0, Start{}, tr(Init, Backup), Backup, T},
			{sec, FaultRaised{}, tr(Backup, Fault), Fault, none},
			{2 * sec, FaultCleared{}, tr(Fault, Backup), Backup, 2*sec + T},
			{2*sec + T, Timeout{}, toMaster(100, Backup), Master, 3*sec + T},
		})
	})
	t.Run("owner returns to master", func(t *testing.T) {
		m := NewMachine(v2cfg(255))
		runSteps(t, m, []step{
			{0, Start{}, toMaster(255, Init), Master, sec},
			{500_000, FaultRaised{}, []Action{SendAdvert{0}, RemoveVIPs{}, Transition{Master, Fault}}, Fault, none},
			{2 * sec, FaultCleared{}, toMaster(255, Fault), Master, 3 * sec},
		})
	})
	t.Run("fault before start", func(t *testing.T) {
		c := v2cfg(100)
		c.StartupDelay = 10 * time.Second
		m := NewMachine(c)
		runSteps(t, m, []step{
			{0, FaultRaised{}, tr(Init, Fault), Fault, none},
			{sec, Start{}, nil, Fault, none},
			{2 * sec, FaultCleared{}, tr(Fault, Backup), Backup, 10 * sec}, // startup delay still holds
			{10 * sec, Timeout{}, toMaster(100, Backup), Master, 11 * sec},
		})
	})
	t.Run("state MASTER non-owner leaves fault with the short timer", func(t *testing.T) {
		c := v3cfg(100, time.Second)
		c.InitialState = Master
		m := NewMachine(c)
		runSteps(t, m, []step{
			{0, FaultRaised{}, tr(Init, Fault), Fault, none},
			{sec, FaultCleared{}, tr(Fault, Backup), Backup, 2 * sec},
		})
	})
}

// PriorityChanged comes from tracking (keepalived's track_script,
// track_interface, ... weights).
func TestPriorityChanged(t *testing.T) {
	t.Run("clamped to 1..254", func(t *testing.T) {
		m := NewMachine(v2cfg(100))
		for _, c := range []struct{ in, want int }{{300, 254}, {255, 254}, {-5, 1}, {0, 1}, {42, 42}} {
			m.Step(at(0), PriorityChanged{c.in})
			if m.Priority() != c.want {
				t.Errorf("PriorityChanged{%d}: priority %d, want %d", c.in, m.Priority(), c.want)
			}
		}
	})
	t.Run("owner ignores tracking", func(t *testing.T) {
		m := NewMachine(v2cfg(255))
		runSteps(t, m, []step{
			{0, Start{}, toMaster(255, Init), Master, sec},
			{500_000, PriorityChanged{100}, nil, Master, sec},
			{sec, Timeout{}, []Action{SendAdvert{255}}, Master, 2 * sec},
		})
	})
	t.Run("master advertises the new priority", func(t *testing.T) {
		m, T := startedMaster(t, v2cfg(100))
		runSteps(t, m, []step{
			{T + 1, PriorityChanged{80}, nil, Master, T + sec},
			{T + sec, Timeout{}, []Action{SendAdvert{80}}, Master, T + 2*sec},
			// A backup at 90 now beats us.
			{T + sec + 5, adv(ipLow, 90), []Action{RemoveVIPs{}, Transition{Master, Backup}}, Backup, T + sec + 5 + 3_687_500},
		})
	})
	t.Run("backup rising above the master waits for its timer", func(t *testing.T) {
		m := NewMachine(v2cfg(100))
		runSteps(t, m, []step{
			{0, Start{}, tr(Init, Backup), Backup, 3_609_375},
			{sec, adv(ipHigh, 120), nil, Backup, sec + 3_609_375},
			{sec + 10, PriorityChanged{152}, nil, Backup, sec + 3_609_375},
			{2 * sec, adv(ipHigh, 120), nil, Backup, sec + 3_609_375}, // now lower: discarded
			{3 * sec, adv(ipHigh, 120), nil, Backup, sec + 3_609_375},
			{sec + 3_609_375, Timeout{}, toMaster(152, Backup), Master, 2*sec + 3_609_375},
		})
	})
}

// TestEventsOutsideTheirStates: what makes no sense in a state is ignored.
func TestEventsOutsideTheirStates(t *testing.T) {
	m := NewMachine(v2cfg(100))
	runSteps(t, m, []step{
		{0, adv(ipHigh, 200), nil, Init, none},
		{0, Timeout{}, nil, Init, none},
		{0, FaultCleared{}, nil, Init, none},
		{0, Start{}, tr(Init, Backup), Backup, 3_609_375},
		{1, Start{}, nil, Backup, 3_609_375},
		{2, &AdvertReceived{Src: ipHigh, Priority: 256}, nil, Backup, 3_609_375},
		{3, &AdvertReceived{Src: ipHigh, Priority: -1}, nil, Backup, 3_609_375},
		{4, (*AdvertReceived)(nil), nil, Backup, 3_609_375},
		{5, nil, nil, Backup, 3_609_375},
		{6, Shutdown{}, tr(Backup, Stop), Stop, none},
		{7, Start{}, nil, Stop, none},
		{8, FaultRaised{}, nil, Stop, none},
		{9, Shutdown{}, nil, Stop, none},
	})
	m = NewMachine(v2cfg(100))
	runSteps(t, m, []step{{0, Shutdown{}, tr(Init, Stop), Stop, none}})
}

// TestStepReusesItsSlice documents the ownership of Step's result.
func TestStepReusesItsSlice(t *testing.T) {
	m := NewMachine(v2cfg(255))
	a := m.Step(at(0), Start{})
	b := m.Step(at(sec), Timeout{})
	if &a[0] != &b[0] {
		t.Error("Step did not reuse its action slice")
	}
	if got := m.Step(at(sec+1), Timeout{}); got == nil || len(got) != 0 {
		t.Errorf("nothing to do: %#v, want an empty non-nil slice", got)
	}
}

// TestStepAllocs pins the zero-allocation paths.
func TestStepAllocs(t *testing.T) {
	m := NewMachine(v3cfg(100, time.Second))
	m.Step(at(0), Start{})
	ev := &AdvertReceived{Src: ipHigh, Priority: 200, MaxAdverInt: time.Second}
	now := int64(0)
	if n := testing.AllocsPerRun(1000, func() { now += sec; m.Step(at(now), ev) }); n != 0 {
		t.Errorf("backup advert: %v allocs", n)
	}
	src := ipHigh
	if n := testing.AllocsPerRun(1000, func() {
		now += sec
		m.Step(at(now), AdvertReceived{Src: src, Priority: 200, MaxAdverInt: time.Second})
	}); n != 0 {
		t.Errorf("backup advert by value: %v allocs", n)
	}
	// Whole master lifecycle: take over, advertise, step down, fault, back.
	n := testing.AllocsPerRun(100, func() {
		now += 10 * sec
		m.Step(at(now), Timeout{})
		now += sec
		m.Step(at(now), Timeout{})
		m.Step(at(now), ev)
		m.Step(at(now), FaultRaised{})
		m.Step(at(now), FaultCleared{})
		now += 10 * sec
	})
	if n != 0 {
		t.Errorf("state changes: %v allocs", n)
	}
}

// ---------------------------------------------------------------------
// A tiny network: machines exchange adverts with a fake clock.

type simNode struct {
	name  string
	cfg   MachineConfig
	m     *Machine
	alive bool
	vips  bool
	log   []simAct
}

type simAct struct {
	at  int64
	act Action
}

type simPacket struct {
	at       int64
	from, to int
	adv      AdvertReceived
}

type simNet struct {
	t       *testing.T
	now     int64
	latency int64
	nodes   []*simNode
	queue   []simPacket // in delivery order (constant latency)
	cut     map[[2]int]bool
}

func newSim(t *testing.T, latency int64, cfgs ...MachineConfig) *simNet {
	s := &simNet{t: t, latency: latency, cut: map[[2]int]bool{}}
	for i, c := range cfgs {
		s.nodes = append(s.nodes, &simNode{name: string(rune('A' + i)), cfg: c})
	}
	return s
}

func (s *simNet) start(i int) {
	n := s.nodes[i]
	n.m, n.alive, n.vips = NewMachine(n.cfg), true, false
	s.apply(i, n.m.Step(at(s.now), Start{}))
}

func (s *simNet) kill(i int) { s.nodes[i].alive = false }

func (s *simNet) partition(i int, on bool) {
	for j := range s.nodes {
		if j != i {
			s.cut[[2]int{i, j}], s.cut[[2]int{j, i}] = on, on
		}
	}
}

func (s *simNet) apply(i int, acts []Action) {
	n := s.nodes[i]
	for _, a := range acts {
		n.log = append(n.log, simAct{s.now, a})
		switch a := a.(type) {
		case SendAdvert:
			for j := range s.nodes {
				if j != i && !s.cut[[2]int{i, j}] {
					s.queue = append(s.queue, simPacket{s.now + s.latency, i, j,
						AdvertReceived{Src: n.cfg.PrimaryAddr, Priority: a.Priority, MaxAdverInt: n.cfg.AdvertInt}})
				}
			}
		case AddVIPs:
			if n.vips {
				s.t.Fatalf("%s: AddVIPs twice at %dµs", n.name, s.now)
			}
			n.vips = true
		case RemoveVIPs:
			if !n.vips {
				s.t.Fatalf("%s: RemoveVIPs without VIPs at %dµs", n.name, s.now)
			}
			n.vips = false
		}
	}
}

// runUntil advances the clock to end, delivering packets (first, on a tie)
// and timeouts in time order.
func (s *simNet) runUntil(end int64) {
	for {
		next, node := end+1, -1
		if len(s.queue) > 0 {
			next = s.queue[0].at
		}
		for i, n := range s.nodes {
			if !n.alive {
				continue
			}
			if d := n.m.Deadline(); !d.IsZero() && us(d) < next {
				next, node = us(d), i
			}
		}
		if next > end {
			s.now = end
			return
		}
		if next < s.now {
			s.t.Fatalf("deadline %dµs in the past at %dµs", next, s.now)
		}
		s.now = next
		if node < 0 {
			p := s.queue[0]
			s.queue = s.queue[1:]
			if n := s.nodes[p.to]; n.alive && !s.cut[[2]int{p.from, p.to}] {
				s.apply(p.to, n.m.Step(at(s.now), &p.adv))
			}
		} else {
			s.apply(node, s.nodes[node].m.Step(at(s.now), Timeout{}))
		}
	}
}

func (s *simNet) masters() []string {
	var ms []string
	for _, n := range s.nodes {
		if n.alive && n.m.State() == Master {
			ms = append(ms, n.name)
		}
	}
	return ms
}

// becameMaster returns when node i last became master after since (µs),
// or -1.
func (s *simNet) becameMaster(i int, since int64) int64 {
	t := int64(-1)
	for _, a := range s.nodes[i].log {
		if tr, ok := a.act.(Transition); ok && tr.To == Master && a.at >= since {
			t = a.at
		}
	}
	return t
}

func (s *simNet) count(i int, since int64, match func(Action) bool) int {
	c := 0
	for _, a := range s.nodes[i].log {
		if a.at >= since && match(a.act) {
			c++
		}
	}
	return c
}

// isAnnouncing: an action after which the driver sends GARPs / NAs (on
// becoming master, or answering a lower-priority advert with
// garp_lower_prio_repeat).
func isAnnouncing(a Action) bool {
	switch a.(type) {
	case Announce, LowerPriorityAdvert:
		return true
	}
	return false
}

func simCfgs(higherPrioSendAdvert bool) []MachineConfig {
	mk := func(prio int, ip string) MachineConfig {
		c := v3cfg(prio, time.Second)
		c.PrimaryAddr = netip.MustParseAddr(ip)
		c.HigherPrioSendAdvert = higherPrioSendAdvert
		return c
	}
	// v3, 1 s: Master_Down_Interval A 3.21 s, B 3.41 s, C 3.60 s.
	return []MachineConfig{mk(200, "10.0.0.1"), mk(150, "10.0.0.2"), mk(100, "10.0.0.3")}
}

// TestScenarioThreeRouters: election, failover, preemption back.
func TestScenarioThreeRouters(t *testing.T) {
	const lat = 100 // µs
	s := newSim(t, lat, simCfgs(true)...)
	for i := range s.nodes {
		s.start(i)
	}

	// Election: A (200) has the shortest Master_Down_Interval.
	s.runUntil(10 * sec)
	if got := s.becameMaster(0, 0); got != 3_210_000 {
		t.Fatalf("A became master at %dµs, want 3.21 s", got)
	}
	if m := s.masters(); !slices.Equal(m, []string{"A"}) {
		t.Fatalf("masters after election: %v", m)
	}

	// A dies (stops sending). Its last advert went out at 9.21 s; B (150)
	// takes over one Master_Down_Interval (3.41 s) after receiving it, and
	// C, hearing B, stays backup.
	s.kill(0)
	s.runUntil(20 * sec)
	lastA := int64(9_210_000 + lat)
	if got := s.becameMaster(1, 10*sec); got != lastA+3_410_000 {
		t.Fatalf("B became master at %dµs, want %dµs", got, lastA+3_410_000)
	}
	if got := s.nodes[1].m.MasterDownInterval(); got != 3410*time.Millisecond {
		t.Errorf("B's Master_Down_Interval %v", got)
	}
	if m := s.masters(); !slices.Equal(m, []string{"B"}) {
		t.Fatalf("masters after failover: %v", m)
	}

	// A returns with its higher priority: it ignores B's lower adverts,
	// times out 3.21 s after starting and preempts. B steps down, telling
	// A with one advert (vrrp_higher_prio_send_advert), and A answers with
	// an advert and a re-announcement.
	s.start(0)
	s.runUntil(30 * sec)
	if got := s.becameMaster(0, 20*sec); got != 23_210_000 {
		t.Fatalf("A preempted at %dµs, want 23.21 s", got)
	}
	if m := s.masters(); !slices.Equal(m, []string{"A"}) {
		t.Fatalf("masters after preemption: %v", m)
	}
	if s.nodes[1].vips || !s.nodes[0].vips || s.nodes[2].vips {
		t.Error("VIPs not only on A")
	}
	if got := s.count(0, 20*sec, isAnnouncing); got != 2 {
		t.Errorf("A announced %d times since returning, want 2 (taking over, answering B)", got)
	}
	if s.becameMaster(2, 0) != -1 {
		t.Error("C became master")
	}
}

// TestScenarioSplitBrainHeal: A is cut off from B and C for VRRP only; B
// takes over, so both are master. When the partition heals, B must step
// down and A must re-announce so that clients move back to its MAC,
// whichever advert crosses first. keepalived's silent heal (user-demand
// §6) is reproduced with HigherPrioSendAdvert off and the winner's advert
// first.
func TestScenarioSplitBrainHeal(t *testing.T) {
	for _, tc := range []struct {
		name         string
		sendAdvert   bool
		healAt       int64 // A's adverts leave at x.21 s, B's at x.6202 s
		wantAnnounce int   // A's announcements after the heal
	}{
		{"winner first, higher_prio_send_advert", true, 20 * sec, 1},
		{"winner first, keepalived default (silent)", false, 20 * sec, 0},
		{"loser first, higher_prio_send_advert", true, 20*sec + 500_000, 1},
		{"loser first, keepalived default", false, 20*sec + 500_000, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, 100, simCfgs(tc.sendAdvert)...)
			for i := range s.nodes {
				s.start(i)
			}
			s.runUntil(10 * sec)
			s.partition(0, true)
			s.runUntil(tc.healAt)
			if m := s.masters(); !slices.Equal(m, []string{"A", "B"}) {
				t.Fatalf("masters during the partition: %v", m)
			}
			s.partition(0, false)
			s.runUntil(tc.healAt + 5*sec)
			if m := s.masters(); !slices.Equal(m, []string{"A"}) {
				t.Fatalf("masters after the heal: %v", m)
			}
			if s.nodes[1].vips {
				t.Error("B kept the VIPs")
			}
			if got := s.count(0, tc.healAt, isAnnouncing); got != tc.wantAnnounce {
				t.Errorf("A announced %d times after the heal, want %d", got, tc.wantAnnounce)
			}
		})
	}
}

// ---------------------------------------------------------------------
// Fuzzing.

// FuzzMachine feeds a machine random event sequences, the way a correct
// driver would (Timeout whenever Deadline has passed, plus spurious early
// ones), and checks the invariants.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{0, 100, 0, 1, 0, 10, 0, 0, 40, 1, 200, 30, 3, 0, 100, 4, 50, 1, 5, 0, 0, 6, 200, 0})
	f.Add([]byte{1, 255, 5, 7, 0xff, 0, 10, 0, 1, 2, 0, 1, 0, 100, 1, 5, 0, 0, 7, 0, 0})
	f.Add([]byte{1, 100, 1, 3, 0x1e, 0, 1, 2, 40, 2, 1, 40, 2, 1, 40, 2, 1, 40, 1, 0, 0, 7, 0, 0})
	f.Add([]byte{0, 52, 0, 5, 0, 7, 1, 1, 1, 0, 1, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	// Found by the fuzzer: a priority-0 advert ending the tolerance of a
	// lower master (preempt_delay) left a deadline in the past.
	f.Add([]byte("000&0X007\a 77 7 \x00000000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 5 {
			return
		}
		c := MachineConfig{VRID: 1, PrimaryAddr: ipSelf, InitialState: Backup}
		c.Priority = max(int(data[1]), 1)
		if data[0]&1 == 0 {
			c.Version, c.AdvertInt = 2, time.Duration(1+data[2]%3)*time.Second
		} else {
			c.Version, c.AdvertInt = 3, time.Duration(1+int(data[2])%200)*10*time.Millisecond
		}
		c.Preempt = data[3]&1 == 0
		c.PreemptDelay = time.Duration(data[3]>>1&3) * c.AdvertInt * 2
		c.DownTimerAdverts = int(data[3] >> 3 & 3)
		if data[4]&1 != 0 {
			c.InitialState = Master
		}
		c.StartupDelay = time.Duration(data[4]>>1&3) * c.AdvertInt
		c.LowerPrioNoAdvert = data[4]&8 != 0
		c.HigherPrioSendAdvert = data[4]&16 != 0
		c.OwnerIgnoreAdverts = data[4]&32 != 0
		m := NewMachine(c)
		unit := c.AdvertInt / 16
		now := time.Unix(0, 0)
		state, vips := Init, false
		check := func(ev Event, acts []Action) {
			t.Helper()
			if len(acts) > 5 {
				t.Fatalf("%T: %d actions: %s", ev, len(acts), fmtActs(acts))
			}
			for i, a := range acts {
				switch a := a.(type) {
				case AddVIPs:
					if vips {
						t.Fatalf("%T: AddVIPs twice", ev)
					}
					vips = true
				case RemoveVIPs:
					if !vips {
						t.Fatalf("%T: RemoveVIPs without AddVIPs", ev)
					}
					vips = false
				case Transition:
					if a.From != state || a.From == a.To || i != len(acts)-1 {
						t.Fatalf("%T: bad transition %v in %s (state %v)", ev, a, fmtActs(acts), state)
					}
					state = a.To
				case SendAdvert:
					if a.Priority < 0 || a.Priority > 255 || a.Priority == 0 && state != Master {
						t.Fatalf("%T: SendAdvert{%d} in %v", ev, a.Priority, state)
					}
				}
			}
			if m.State() != state {
				t.Fatalf("%T: State() %v, transitions say %v", ev, m.State(), state)
			}
			if (state == Master) != vips {
				t.Fatalf("%T: state %v with VIPs %v", ev, state, vips)
			}
			d := m.Deadline()
			if d.Before(now) && !d.IsZero() {
				t.Fatalf("%T: deadline %v before now %v", ev, d, now)
			}
			if (state == Master || state == Backup) == d.IsZero() {
				t.Fatalf("%T: state %v with deadline %v", ev, state, d)
			}
			if state == Master && m.Priority() != c.Priority && c.Priority == PriorityOwner {
				t.Fatalf("owner priority %d", m.Priority())
			}
			if p := m.Priority(); p < 1 || p > 255 || p == 255 && c.Priority != 255 {
				t.Fatalf("priority %d", p)
			}
		}
		srcs := [...]netip.Addr{ipLow, ipHigh, netip.MustParseAddr("192.0.2.200")}
		for b := data[5:]; len(b) >= 3; b = b[3:] {
			op, dt, p := b[0], b[1], b[2]
			now = now.Add(time.Duration(dt) * unit)
			for range 1000 {
				d := m.Deadline()
				if d.IsZero() || now.Before(d) {
					break
				}
				check(Timeout{}, m.Step(now, Timeout{}))
				if d2 := m.Deadline(); !d2.IsZero() && !d2.After(now) {
					t.Fatalf("due Timeout did not move the deadline (%v)", m.State())
				}
			}
			var ev Event
			switch op % 9 {
			case 0, 1, 2:
				iv := c.AdvertInt
				if c.Version == 3 {
					iv = time.Duration(1+int(p)%300) * 10 * time.Millisecond
				}
				ev = &AdvertReceived{Src: srcs[op%3], Priority: int(p), MaxAdverInt: iv}
			case 3:
				ev = Timeout{}
			case 4:
				ev = PriorityChanged{int(p) - 10}
			case 5:
				ev = FaultRaised{}
			case 6:
				ev = FaultCleared{}
			case 7:
				ev = Start{}
			case 8:
				if p < 8 {
					ev = Shutdown{}
				} else {
					ev = AdvertReceived{Src: srcs[p%3], Priority: 0, MaxAdverInt: c.AdvertInt}
				}
			}
			check(ev, m.Step(now, ev))
		}
	})
}

// ---------------------------------------------------------------------
// Benchmarks.

// BenchmarkStepAdvert: the hot path, a backup receiving its master's
// advert (passed by pointer).
func BenchmarkStepAdvert(b *testing.B) {
	m := NewMachine(v3cfg(100, time.Second))
	m.Step(at(0), Start{})
	ev := &AdvertReceived{Src: ipHigh, Priority: 200, MaxAdverInt: time.Second}
	now := at(0)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		m.Step(now, ev)
	}
	if m.State() != Backup {
		b.Fatal(m.State())
	}
}

// BenchmarkStepAdvertByValue: the same, the event passed by value (the
// boxed value stays on the stack: Step does not retain it).
func BenchmarkStepAdvertByValue(b *testing.B) {
	m := NewMachine(v3cfg(100, time.Second))
	m.Step(at(0), Start{})
	ev := AdvertReceived{Src: ipHigh, Priority: 200, MaxAdverInt: time.Second}
	now := at(0)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		m.Step(now, ev)
	}
}

// BenchmarkStepMasterTimeout: a master's advert timer.
func BenchmarkStepMasterTimeout(b *testing.B) {
	m := NewMachine(v3cfg(255, time.Second))
	m.Step(at(0), Start{})
	b.ReportAllocs()
	for b.Loop() {
		if len(m.Step(m.Deadline(), Timeout{})) != 1 {
			b.Fatal("no advert")
		}
	}
}

// BenchmarkStepLowerFlood: a master under a flood of lower-priority
// adverts (1 per µs; one answer per second).
func BenchmarkStepLowerFlood(b *testing.B) {
	m := NewMachine(v3cfg(255, time.Second))
	m.Step(at(0), Start{})
	ev := &AdvertReceived{Src: ipLow, Priority: 1, MaxAdverInt: time.Second}
	now := at(0)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		if !now.Before(m.Deadline()) {
			m.Step(now, Timeout{})
		}
		m.Step(now, ev)
	}
}

// Resume and Suspend are a reload: the replaced machine stops without
// resigning or releasing anything, and its successor carries the state on.
func TestResumeAndSuspend(t *testing.T) {
	const T = 3_609_375 // v2 priority 100 Master_Down_Interval
	t.Run("a master resumes at once, despite the startup delay", func(t *testing.T) {
		c := v2cfg(100)
		c.StartupDelay = 10 * time.Second
		m := NewMachine(c)
		runSteps(t, m, []step{
			{0, Resume{Master}, toMaster(100, Init), Master, sec},
			{sec, Timeout{}, []Action{SendAdvert{100}}, Master, 2 * sec},
			{2 * sec, Resume{Master}, nil, Master, 2 * sec}, // only out of Init
		})
	})
	t.Run("a backup resumes with a fresh down timer", func(t *testing.T) {
		m := NewMachine(v2cfg(100))
		runSteps(t, m, []step{
			{0, Resume{Backup}, tr(Init, Backup), Backup, T},
		})
	})
	t.Run("a fault resumes as a start", func(t *testing.T) {
		m := NewMachine(v2cfg(255))
		runSteps(t, m, []step{
			{0, Resume{Fault}, toMaster(255, Init), Master, sec},
		})
	})
	t.Run("a suspended master neither resigns nor releases", func(t *testing.T) {
		m, T := startedMaster(t, v2cfg(100))
		runSteps(t, m, []step{
			{T + 100, Suspend{}, tr(Master, Stop), Stop, none},
			{T + 200, adv(ipHigh, 200), nil, Stop, none},
		})
	})
}

// A synced machine asks its group before becoming master, and obeys it.
func TestSyncedMachine(t *testing.T) {
	const T = 3_609_375 // v2 priority 100 Master_Down_Interval
	c := v2cfg(100)
	c.Synced = true
	m := NewMachine(c)
	runSteps(t, m, []step{
		{0, Start{}, tr(Init, Backup), Backup, T},
		{T, Timeout{}, []Action{WantMaster{}}, Backup, 2 * T},
	})
	if !m.WantsMaster() {
		t.Fatal("the down timer fired: the machine wants master")
	}
	runSteps(t, m, []step{
		{T + 100, adv(ipHigh, 200), nil, Backup, T + 100 + T},
	})
	if m.WantsMaster() {
		t.Fatal("a master was heard: the machine no longer wants master")
	}
	runSteps(t, m, []step{
		{2 * T, SyncMaster{}, toMaster(100, Backup), Master, 2*T + sec},
		{2*T + 10, SyncMaster{}, nil, Master, 2*T + sec},
		{2*T + 20, SyncBackup{}, []Action{RemoveVIPs{}, Transition{Master, Backup}}, Backup, 2*T + 20 + T},
		{2*T + 30, FaultRaised{}, tr(Backup, Fault), Fault, none},
		{2*T + 40, SyncMaster{}, nil, Fault, none},
		{2*T + 50, SyncBackup{}, tr(Fault, Backup), Backup, 2*T + 50 + T},
	})
}
