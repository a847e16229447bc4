package lvs

import "fmt"

// Server is a real server (or the sorry server) of a pool.
type Server struct {
	// Name is the server as keepalived's logs and FIFO lines print it:
	// "[10.0.0.2]:tcp:80".
	Name string
	// Weight is the effective weight: the configured one plus what
	// misc_dynamic and FILE_CHECK add.
	Weight int
	// Inhibit (inhibit_on_failure, sorry_server_inhibit) keeps a failed
	// server in the kernel at weight 0 instead of deleting it.
	Inhibit bool
	// failed counts its checkers that are down: a server is alive only
	// when none is (keepalived's num_failed_checkers).
	failed int
	alive  bool
}

// Alive tells whether the server counts as alive.
func (s *Server) Alive() bool { return s.alive }

// EventKind is what happened to a pool.
type EventKind int

const (
	ServerUp      EventKind = iota // a real server came alive: notify_up, FIFO RS ... UP
	ServerDown                     // a real server failed: notify_down, FIFO RS ... DOWN
	QuorumUp                       // quorum_up, FIFO VS ... UP
	QuorumDown                     // quorum_down, FIFO VS ... DOWN
	WeightChanged                  // a server's effective weight moved: a log line only
)

// Event is one notification a pool change asks for, with the lines
// keepalived logs for it.
type Event struct {
	Kind   EventKind
	Server int  // the real server's index, for ServerUp and ServerDown
	Init   bool // at start (rs_init_notifies, "Starting with quorum")
	Log    []string
	// Threshold and Weight are, for QuorumUp and QuorumDown, the
	// threshold crossed and the alive weight (the SMTP alert's body).
	Threshold, Weight int
}

// Pool is a virtual server's real servers, quorum and sorry server, as
// keepalived's ipwrapper.c keeps them. It is pure: checker results come
// in, notifications and the desired kernel state go out.
type Pool struct {
	Name       string // the virtual server as keepalived prints it
	Quorum     int    // minimum alive weight (1 by default)
	Hysteresis int
	Servers    []*Server
	Sorry      *Server // sorry_server, or nil
	quorumUp   bool
	sorryIn    bool
}

// Dest is a destination the kernel should have for the pool.
type Dest struct {
	Server *Server
	Weight int
}

// AddChecker counts one more checker of server i; down checkers (alpha)
// keep the server out until they succeed. Call before Start.
func (p *Pool) AddChecker(i int, up bool) {
	if !up {
		p.Servers[i].failed++
	}
}

// Start puts the servers whose checkers are all up in the pool and
// decides the quorum, as keepalived's init_service_vs does. With
// initNotifies (rs_init_notifies) the servers' UP notifications go out.
func (p *Pool) Start(initNotifies bool) []Event {
	var out []Event
	p.quorumUp = true // keepalived's initial quorum_state_up
	for i, s := range p.Servers {
		if s.failed == 0 {
			s.alive = true
			if initNotifies {
				out = append(out, Event{Kind: ServerUp, Server: i, Init: true})
			}
		}
	}
	return append(out, p.updateQuorum(true)...)
}

// Resume is Start for a pool carried over a reload whose quorum was up
// or not: the servers whose checkers are up are in, nothing is notified
// for them, and the quorum moves (and notifies) only if the new
// configuration moves it.
func (p *Pool) Resume(quorumUp bool) []Event {
	for _, s := range p.Servers {
		s.alive = s.failed == 0
	}
	p.quorumUp = quorumUp
	p.sorryIn = !quorumUp && p.Sorry != nil
	return p.updateQuorum(false)
}

// CheckerChanged records that one checker of server i went up or down,
// and returns what that did.
func (p *Pool) CheckerChanged(i int, up bool) []Event {
	s := p.Servers[i]
	if up {
		s.failed = max(0, s.failed-1)
	} else {
		s.failed++
	}
	alive := s.failed == 0
	if alive == s.alive {
		return nil
	}
	s.alive = alive
	ev := Event{Kind: ServerDown, Server: i, Log: []string{p.serverLog(s, alive)}}
	if alive {
		ev.Kind = ServerUp
	}
	return append([]Event{ev}, p.updateQuorum(false)...)
}

// SetWeight changes server i's effective weight (misc_dynamic,
// FILE_CHECK) and returns what that did to the quorum.
func (p *Pool) SetWeight(i, weight int) []Event {
	s := p.Servers[i]
	if s.Weight == weight {
		return nil
	}
	log := fmt.Sprintf("Changing weight from %d to %d for %sactive service %s of VS %s", s.Weight, weight,
		map[bool]string{true: "", false: "in"}[s.alive], s.Name, p.Name)
	s.Weight = weight
	return append([]Event{{Kind: WeightChanged, Server: i, Log: []string{log}}}, p.updateQuorum(false)...)
}

// QuorumIsUp tells whether the pool has its quorum.
func (p *Pool) QuorumIsUp() bool { return p.quorumUp }

// SorryIn tells whether the sorry server has replaced the real servers.
func (p *Pool) SorryIn() bool { return p.sorryIn }

// Destinations is what the kernel should hold for the pool: the alive
// servers at their weight and the inhibited failed ones at weight 0, or,
// while the sorry server stands in, the sorry server alone (inhibited
// servers at 0).
func (p *Pool) Destinations() []Dest {
	var out []Dest
	for _, s := range p.Servers {
		switch {
		case s.alive && !p.sorryIn:
			out = append(out, Dest{Server: s, Weight: max(0, s.Weight)})
		case s.Inhibit:
			out = append(out, Dest{Server: s})
		}
	}
	if p.Sorry != nil {
		switch {
		case p.sorryIn:
			out = append(out, Dest{Server: p.Sorry, Weight: max(0, p.Sorry.Weight)})
		case p.Sorry.Inhibit:
			out = append(out, Dest{Server: p.Sorry})
		}
	}
	return out
}

// aliveWeight is the weight of the alive servers (weigh_live_realservers).
func (p *Pool) aliveWeight() int {
	sum := 0
	for _, s := range p.Servers {
		if s.alive {
			sum += max(0, s.Weight)
		}
	}
	return sum
}

// updateQuorum is keepalived's update_quorum_state: quorum is gained at
// a weight of at least quorum+hysteresis, lost below quorum-hysteresis
// (or at 0); the sorry server stands in while it is lost.
func (p *Pool) updateQuorum(init bool) []Event {
	sum := p.aliveWeight()
	threshold := p.Quorum + p.Hysteresis
	if p.quorumUp {
		threshold = p.Quorum - p.Hysteresis
	}
	switch {
	case !p.quorumUp && sum >= threshold:
		p.quorumUp = true
		log := []string{fmt.Sprintf("Gained quorum %d+%d=%d <= %d for VS %s", p.Quorum, p.Hysteresis, threshold, sum, p.Name)}
		if p.sorryIn {
			p.sorryIn = false
			log = append(log, fmt.Sprintf("%s sorry server %s from VS %s", map[bool]string{true: "Disabling", false: "Removing"}[p.Sorry.Inhibit], p.Sorry.Name, p.Name),
				"Adding alive servers to the pool for VS "+p.Name)
		}
		return []Event{{Kind: QuorumUp, Init: init, Log: log, Threshold: threshold, Weight: sum}}
	case (p.quorumUp && (sum == 0 || sum < threshold)) || (init && !p.quorumUp && p.Sorry != nil && !p.sorryIn):
		p.quorumUp = false
		what := "Lost quorum"
		if init {
			what = "Starting with quorum down"
		}
		log := []string{fmt.Sprintf("%s %d-%d=%d > %d for VS %s", what, p.Quorum, p.Hysteresis, threshold, sum, p.Name)}
		if p.Sorry != nil && !p.sorryIn {
			p.sorryIn = true
			log = append(log, fmt.Sprintf("%s sorry server %s to VS %s", map[bool]string{true: "Enabling", false: "Adding"}[p.Sorry.Inhibit], p.Sorry.Name, p.Name),
				"Removing alive servers from the pool for VS "+p.Name)
		}
		return []Event{{Kind: QuorumDown, Init: init, Log: log, Threshold: threshold, Weight: sum}}
	}
	return nil
}

// serverLog is perform_svr_state's line for a server changing state.
func (p *Pool) serverLog(s *Server, alive bool) string {
	verb, prep := "Remov", "from"
	switch {
	case alive && s.Inhibit:
		verb, prep = "Enabl", "of"
	case alive:
		verb, prep = "Add", "to"
	case s.Inhibit:
		verb, prep = "Disabl", "of"
	}
	return fmt.Sprintf("%sing service %s %s VS %s", verb, s.Name, prep, p.Name)
}

// PoolStatus is a snapshot of a pool, for the status API and metrics.
type PoolStatus struct {
	Name     string         `json:"name"`
	QuorumUp bool           `json:"quorum_up"`
	SorryIn  bool           `json:"sorry_server_in"`
	Servers  []ServerStatus `json:"real_servers"`
	Sorry    *ServerStatus  `json:"sorry_server,omitempty"`
}

// ServerStatus is a snapshot of one server of a pool.
type ServerStatus struct {
	Name   string `json:"name"`
	Alive  bool   `json:"alive"`
	Weight int    `json:"weight"`
	// FailedCheckers is how many of its checkers are down.
	FailedCheckers int `json:"failed_checkers"`
	// Checks, CheckFailures and CheckSeconds count its checkers' probes
	// since the daemon (or the reload that made the server) started:
	// all of them, the failed ones, and the time they took. The health
	// checks fill them in.
	Checks        uint64  `json:"checks"`
	CheckFailures uint64  `json:"check_failures"`
	CheckSeconds  float64 `json:"check_seconds"`
	// KeepalivedPort is the server's port as keepalived keeps it for its
	// data dump (validation resets a DR or TUN server's port to the
	// virtual server's, and clears it under a fwmark); "" when unknown.
	// The health checks fill it in.
	KeepalivedPort string `json:"-"`
}

// Status is a snapshot of the pool.
func (p *Pool) Status() PoolStatus {
	st := PoolStatus{Name: p.Name, QuorumUp: p.quorumUp, SorryIn: p.sorryIn}
	for _, s := range p.Servers {
		st.Servers = append(st.Servers, s.status())
	}
	if p.Sorry != nil {
		s := p.Sorry.status()
		s.Alive = p.sorryIn
		st.Sorry = &s
	}
	return st
}

func (s *Server) status() ServerStatus {
	return ServerStatus{Name: s.Name, Alive: s.alive, Weight: s.Weight, FailedCheckers: s.failed}
}
