package lvs

import (
	"reflect"
	"testing"
)

func newPool(quorum, hysteresis int, weights ...int) *Pool {
	p := &Pool{Name: "[10.0.0.1]:tcp:80", Quorum: quorum, Hysteresis: hysteresis}
	for i, w := range weights {
		p.Servers = append(p.Servers, &Server{Name: "[10.0.0." + string(rune('2'+i)) + "]:tcp:80", Weight: w})
	}
	return p
}

func kinds(evs []Event) []EventKind {
	var out []EventKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func weights(p *Pool) map[string]int {
	out := map[string]int{}
	for _, d := range p.Destinations() {
		out[d.Server.Name] = d.Weight
	}
	return out
}

func TestServersStartInThePoolWithoutAlpha(t *testing.T) {
	p := newPool(1, 0, 1, 2)
	if evs := p.Start(false); len(evs) != 0 {
		t.Fatalf("start: %+v, want no event (quorum up, no init notifies)", evs)
	}
	if got := weights(p); !reflect.DeepEqual(got, map[string]int{"[10.0.0.2]:tcp:80": 1, "[10.0.0.3]:tcp:80": 2}) {
		t.Fatalf("pool %v", got)
	}
	if evs := p.Start(true); !reflect.DeepEqual(kinds(evs), []EventKind{ServerUp, ServerUp}) {
		t.Fatalf("rs_init_notifies: %v", kinds(evs))
	}
}

// A server with several checkers is alive only while all are up.
func TestServerAliveOnlyWhenEveryCheckerIsUp(t *testing.T) {
	p := newPool(1, 0, 1, 1)
	p.Start(false)
	if evs := p.CheckerChanged(0, false); !reflect.DeepEqual(kinds(evs), []EventKind{ServerDown}) ||
		evs[0].Log[0] != "Removing service [10.0.0.2]:tcp:80 from VS [10.0.0.1]:tcp:80" {
		t.Fatalf("first checker down: %+v", evs)
	}
	if evs := p.CheckerChanged(0, false); len(evs) != 0 {
		t.Fatalf("second checker down: %+v", evs)
	}
	if evs := p.CheckerChanged(0, true); len(evs) != 0 {
		t.Fatalf("one of two checkers up: %+v", evs)
	}
	if evs := p.CheckerChanged(0, true); !reflect.DeepEqual(kinds(evs), []EventKind{ServerUp}) ||
		evs[0].Log[0] != "Adding service [10.0.0.2]:tcp:80 to VS [10.0.0.1]:tcp:80" {
		t.Fatalf("both up: %+v", evs)
	}
}

// Alpha: a server whose checker starts down stays out until it succeeds.
func TestAlphaServerStartsOut(t *testing.T) {
	p := newPool(1, 0, 1, 1)
	p.AddChecker(1, false)
	p.Start(false)
	if got := weights(p); len(got) != 1 {
		t.Fatalf("pool %v, want the first server only", got)
	}
}

func TestInhibitKeepsAFailedServerAtWeightZero(t *testing.T) {
	p := newPool(1, 0, 3, 1)
	p.Servers[0].Inhibit = true
	p.Start(false)
	evs := p.CheckerChanged(0, false)
	if evs[0].Log[0] != "Disabling service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80" {
		t.Fatalf("log %q", evs[0].Log)
	}
	if w, ok := weights(p)["[10.0.0.2]:tcp:80"]; !ok || w != 0 {
		t.Fatalf("inhibited server: present %v weight %d, want present at 0", ok, w)
	}
}

// Quorum 4 with hysteresis 1: lost below 3, gained again at 5.
func TestQuorumWithHysteresis(t *testing.T) {
	p := newPool(4, 1, 1, 1, 1, 1, 1)
	if evs := p.Start(false); len(evs) != 0 || !p.QuorumIsUp() {
		t.Fatalf("start with 5 >= 4: %+v", evs)
	}
	p.CheckerChanged(0, false)                                   // 4
	if evs := p.CheckerChanged(1, false); len(kinds(evs)) != 1 { // 3: still >= 4-1
		t.Fatalf("3 alive: %v", kinds(evs))
	}
	evs := p.CheckerChanged(2, false) // 2 < 3
	if !reflect.DeepEqual(kinds(evs), []EventKind{ServerDown, QuorumDown}) ||
		evs[1].Log[0] != "Lost quorum 4-1=3 > 2 for VS [10.0.0.1]:tcp:80" {
		t.Fatalf("2 alive: %+v", evs)
	}
	p.CheckerChanged(2, true)                                   // 3
	if evs := p.CheckerChanged(1, true); len(kinds(evs)) != 1 { // 4 < 4+1
		t.Fatalf("4 alive: %v, want no quorum yet", kinds(evs))
	}
	evs = p.CheckerChanged(0, true) // 5
	if !reflect.DeepEqual(kinds(evs), []EventKind{ServerUp, QuorumUp}) ||
		evs[1].Log[0] != "Gained quorum 4+1=5 <= 5 for VS [10.0.0.1]:tcp:80" {
		t.Fatalf("5 alive: %+v", evs)
	}
}

// Without a sorry server, losing quorum notifies but leaves the servers.
// With one, the sorry server replaces them until quorum returns.
func TestSorryServerStandsInWhileQuorumIsLost(t *testing.T) {
	p := newPool(2, 0, 1, 1)
	p.Sorry = &Server{Name: "[10.0.0.9]:tcp:80", Weight: 1}
	p.Start(false)
	evs := p.CheckerChanged(0, false)
	if !reflect.DeepEqual(kinds(evs), []EventKind{ServerDown, QuorumDown}) {
		t.Fatalf("%v", kinds(evs))
	}
	if got := weights(p); !reflect.DeepEqual(got, map[string]int{"[10.0.0.9]:tcp:80": 1}) {
		t.Fatalf("pool %v, want the sorry server alone", got)
	}
	p.CheckerChanged(0, true)
	if got := weights(p); !reflect.DeepEqual(got, map[string]int{"[10.0.0.2]:tcp:80": 1, "[10.0.0.3]:tcp:80": 1}) {
		t.Fatalf("pool %v, want the real servers back", got)
	}

	q := newPool(2, 0, 1, 1)
	q.Start(false)
	q.CheckerChanged(0, false)
	if got := weights(q); len(got) != 1 {
		t.Fatalf("without a sorry server: pool %v, want the alive server", got)
	}
}

// A sorry server is added at start when the quorum is not there.
func TestStartingWithQuorumDown(t *testing.T) {
	p := newPool(1, 0, 1)
	p.AddChecker(0, false)
	p.Sorry = &Server{Name: "[10.0.0.9]:tcp:80", Weight: 1, Inhibit: true}
	evs := p.Start(false)
	if !reflect.DeepEqual(kinds(evs), []EventKind{QuorumDown}) || !evs[0].Init ||
		evs[0].Log[0] != "Starting with quorum down 1-0=1 > 0 for VS [10.0.0.1]:tcp:80" ||
		evs[0].Log[1] != "Enabling sorry server [10.0.0.9]:tcp:80 to VS [10.0.0.1]:tcp:80" {
		t.Fatalf("%+v", evs)
	}
}

func TestWeightChangeMovesTheQuorum(t *testing.T) {
	p := newPool(2, 0, 2, 2)
	p.Start(false)
	evs := p.SetWeight(0, 0)
	if !reflect.DeepEqual(kinds(evs), []EventKind{WeightChanged}) ||
		evs[0].Log[0] != "Changing weight from 2 to 0 for active service [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80" {
		t.Fatalf("%+v", evs)
	}
	if evs := p.SetWeight(1, 0); !reflect.DeepEqual(kinds(evs), []EventKind{WeightChanged, QuorumDown}) {
		t.Fatalf("%v", kinds(evs))
	}
}

// A pool carried over a reload keeps its quorum state: no "Starting with
// quorum down" again, no sorry server re-added, no notification.
func TestResumeKeepsTheQuorumState(t *testing.T) {
	p := newPool(1, 0, 1)
	p.AddChecker(0, false)
	p.Sorry = &Server{Name: "[10.0.0.9]:tcp:80", Weight: 1}
	if evs := p.Resume(false); len(evs) != 0 || p.QuorumIsUp() || !p.SorryIn() {
		t.Fatalf("resume with quorum down: %+v quorum %v sorry %v", evs, p.QuorumIsUp(), p.SorryIn())
	}
	q := newPool(2, 0, 1)
	if evs := q.Resume(true); !reflect.DeepEqual(kinds(evs), []EventKind{QuorumDown}) {
		t.Fatalf("a reload that raised the quorum above the alive weight: %v", kinds(evs))
	}
}
