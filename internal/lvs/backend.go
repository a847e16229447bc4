package lvs

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// Backend is one kernel data plane (IPVS, nftables): it holds services
// and their destinations, and says what it holds.
type Backend interface {
	// Name is the backend's name in logs: "IPVS", "nftables".
	Name() string
	// Express turns a desired service into what the backend can hold:
	// the nearest equivalent of what it cannot hold as such, with one
	// note for each approximation or omission; ok is false when it
	// cannot hold the service at all. What Observe returns is in
	// Express's terms, so that an unchanged service compares equal. A
	// backend without a table of its own (IPVS) also learns from it
	// which services are its own: the Syncer expresses every desired
	// service before it observes. Express does not change s (the
	// syncer does not copy it first: a no-op reload of thousands of
	// services is mostly Express).
	Express(s Service) (out Service, ok bool, notes []string)
	// Observe returns the services the backend owns in the kernel.
	Observe(ctx context.Context) ([]Service, error)
	// Apply performs operations from Reconcile. A failed operation does
	// not stop the others; the error says what failed.
	Apply(ctx context.Context, ops []Op) error
	// Release removes everything the backend owns from the kernel.
	Release(ctx context.Context) error
}

// Watcher is a Backend that can tell cheaply (without reading its
// services back) whether the kernel still holds exactly what it last
// observed or applied: nothing changed anything since, not by hand
// either. The nftables backend can, from the ruleset generation; IPVS
// cannot (it has no generation).
type Watcher interface {
	Backend
	// Unchanged is true only if nothing has changed the backend's part
	// of the kernel since its last Observe and the Applies that
	// followed it, all of which succeeded; false when it cannot tell.
	Unchanged(ctx context.Context) (bool, error)
}

// Syncer keeps a backend's services equal to the desired ones: Sync
// compares the whole desired set with what the backend observes, Update
// one service with what the syncer last knew of it. It logs each of the
// backend's notes once. It is safe for concurrent use; the kernel I/O is
// the backend's.
type Syncer struct {
	b   Backend
	log *slog.Logger

	mu sync.Mutex
	// known is what the kernel holds, after the last Observe and the
	// operations applied since; nil when unknown (at first, and after a
	// failure), so that the next change observes first.
	known map[ServiceKey]Service
	noted map[string]bool
}

// NewSyncer makes a syncer for backend b, logging to log.
func NewSyncer(b Backend, log *slog.Logger) *Syncer {
	return &Syncer{b: b, log: log, noted: map[string]bool{}}
}

// Backend is the syncer's backend.
func (s *Syncer) Backend() Backend { return s.b }

// Sync makes the backend hold exactly the desired services (at start and
// at every reload): it observes the kernel, removes what is no longer
// desired and changes only what differs; an unchanged set changes
// nothing. A Watcher that says the kernel is unchanged since the
// syncer last knew it is not read back: what the syncer knows is
// compared instead (any change in between, a hand edit included, makes
// it observe).
func (s *Syncer) Sync(ctx context.Context, desired []Service) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := make([]Service, 0, len(desired))
	for _, d := range desired {
		if e, ok := s.express(d); ok {
			want = append(want, e)
		}
	}
	observed, err := s.observe(ctx)
	if err != nil {
		s.known = nil
		return fmt.Errorf("%s: reading the kernel's services: %w", s.b.Name(), err)
	}
	ops := Reconcile(want, observed)
	for _, op := range ops {
		if op.Kind == DelService {
			s.log.Info("Removing Virtual Server " + op.Service.Label())
		}
	}
	known := make(map[ServiceKey]Service, len(want))
	for _, w := range want {
		if _, dup := known[w.ServiceKey]; !dup {
			known[w.ServiceKey] = w
		}
	}
	return s.apply(ctx, ops, known)
}

// observe is what the kernel holds: what the syncer knows if the backend
// is a Watcher that says nothing changed it, else what it observes.
// Called with s.mu held.
func (s *Syncer) observe(ctx context.Context) ([]Service, error) {
	if w, ok := s.b.(Watcher); ok && s.known != nil {
		if same, err := w.Unchanged(ctx); err == nil && same {
			out := make([]Service, 0, len(s.known))
			for _, k := range s.known {
				out = append(out, k)
			}
			// Deletions come in the observed order: keep it stable.
			slices.SortFunc(out, func(a, b Service) int { return a.ServiceKey.compare(b.ServiceKey) })
			return out, nil
		}
	}
	return s.b.Observe(ctx)
}

// Update makes the backend hold one desired service as it now is (after
// a checker changed its pool): only what differs from what the syncer
// knows of it is applied.
func (s *Syncer) Update(ctx context.Context, desired Service) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Express first: a backend may learn from it what it owns (IPVS).
	e, ok := s.express(desired)
	if s.known == nil {
		observed, err := s.b.Observe(ctx)
		if err != nil {
			return fmt.Errorf("%s: reading the kernel's services: %w", s.b.Name(), err)
		}
		s.known = map[ServiceKey]Service{}
		for _, o := range observed {
			s.known[o.ServiceKey] = o
		}
	}
	var want, have []Service
	if ok {
		want = []Service{e}
	}
	if k, found := s.known[desired.ServiceKey]; found {
		have = []Service{k}
	}
	ops := Reconcile(want, have)
	if len(ops) == 0 {
		return nil
	}
	known := s.known
	if ok {
		known[e.ServiceKey] = e
	} else {
		delete(known, desired.ServiceKey)
	}
	return s.apply(ctx, ops, known)
}

// apply runs ops; known is what the kernel holds once they succeed.
// Called with s.mu held.
func (s *Syncer) apply(ctx context.Context, ops []Op, known map[ServiceKey]Service) error {
	if s.log.Enabled(ctx, slog.LevelDebug) { // thousands of operations at a cold start
		for _, op := range ops {
			s.log.Debug(s.b.Name() + ": " + op.String())
		}
	}
	if len(ops) > 0 {
		if err := s.b.Apply(ctx, ops); err != nil {
			s.known = nil
			return fmt.Errorf("%s: %w", s.b.Name(), err)
		}
	}
	s.known = known
	return nil
}

// Release removes the backend's services from the kernel (at stop,
// unless told to keep them).
func (s *Syncer) Release(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.known = nil
	return s.b.Release(ctx)
}

// express is the backend's form of a service, its notes logged once.
func (s *Syncer) express(d Service) (Service, bool) {
	e, ok, notes := s.b.Express(d)
	if len(e.Dests) > 0 && len(d.Dests) > 0 && &e.Dests[0] == &d.Dests[0] {
		e = e.Clone() // the caller's slice: the syncer keeps what it expresses
	}
	for _, n := range notes {
		line := fmt.Sprintf("VS %s: %s", d.Label(), n)
		key := line
		if d.Pos != "" {
			line = d.Pos + " " + line
			key = d.Pos + " " + n // once for all the services of a virtual_server_group
		}
		if !s.noted[key] {
			s.noted[key] = true
			s.log.Warn(line)
		}
	}
	return e, ok
}

// Known is what the syncer believes the kernel holds, sorted by key (nil
// if it does not know).
func (s *Syncer) Known() []Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known == nil {
		return nil
	}
	out := make([]Service, 0, len(s.known))
	for _, k := range s.known {
		out = append(out, k.Clone())
	}
	slices.SortFunc(out, func(a, b Service) int { return a.ServiceKey.compare(b.ServiceKey) })
	return out
}
