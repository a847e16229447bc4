package lvs

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// FakeBackend is an in-memory Backend for tests: it applies operations
// one by one as IPVS does (adding what exists or deleting what does not
// is an error) and records every Apply. The zero value is ready to use.
type FakeBackend struct {
	mu       sync.Mutex
	services map[ServiceKey]*Service
	applied  [][]Op
	released int
	// ExpressFunc, when set, is Express; otherwise Express holds every
	// service as it is.
	ExpressFunc func(Service) (Service, bool, []string)
	// Err, when set, fails Observe and Apply (which then changes nothing).
	Err error
	// gen counts the changes to what the backend holds, as nftables's
	// ruleset generation does; seen is gen after the last Observe and
	// the Applies that followed it, trusted while no other change came
	// in between (see FakeWatcher).
	gen, seen uint64
	trusted   bool
	observed  int
}

// FakeWatcher is a FakeBackend that is also a Watcher: Unchanged is true
// while nothing but the syncer's own Applies changed it since its last
// Observe (Set, Release, a failed Apply make it false).
type FakeWatcher struct{ *FakeBackend }

var _ Watcher = FakeWatcher{}

// Unchanged tells whether only the syncer's Applies changed the backend
// since its last Observe.
func (f FakeWatcher) Unchanged(context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.trusted && f.gen == f.seen, nil
}

var _ Backend = (*FakeBackend)(nil)

// Name is "fake".
func (f *FakeBackend) Name() string { return "fake" }

// Express is ExpressFunc, or the service unchanged.
func (f *FakeBackend) Express(s Service) (Service, bool, []string) {
	if f.ExpressFunc != nil {
		return f.ExpressFunc(s)
	}
	return s, true, nil
}

// Observe returns the services held, sorted by key.
func (f *FakeBackend) Observe(context.Context) ([]Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		f.trusted = false
		return nil, f.Err
	}
	f.observed++
	f.seen, f.trusted = f.gen, true
	return f.snapshot(), nil
}

// Observed is how many times Observe read the services.
func (f *FakeBackend) Observed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.observed
}

func (f *FakeBackend) snapshot() []Service {
	out := make([]Service, 0, len(f.services))
	for _, s := range f.services {
		c := s.Clone()
		c.Name, c.Pos = "", ""
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Service) int { return a.ServiceKey.compare(b.ServiceKey) })
	return out
}

// Apply performs the operations in order and records them.
func (f *FakeBackend) Apply(_ context.Context, ops []Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		f.trusted = false
		return f.Err
	}
	if f.services == nil {
		f.services = map[ServiceKey]*Service{}
	}
	f.applied = append(f.applied, slices.Clone(ops))
	f.trusted = f.trusted && f.gen == f.seen
	f.gen++
	f.seen = f.gen
	for _, op := range ops {
		if err := f.apply(op); err != nil {
			f.trusted = false
			return err
		}
	}
	return nil
}

func (f *FakeBackend) apply(op Op) error {
	key := op.Service.ServiceKey
	s := f.services[key]
	if s == nil && op.Kind != AddService {
		return fmt.Errorf("fake: %s: no such service", op)
	}
	i := -1
	if s != nil {
		i = slices.IndexFunc(s.Dests, func(d Destination) bool { return d.Addr == op.Dest.Addr })
	}
	switch op.Kind {
	case AddService:
		if s != nil {
			return fmt.Errorf("fake: %s: exists", op)
		}
		c := op.Service.Clone()
		c.Dests = nil
		f.services[key] = &c
	case EditService:
		c := op.Service.Clone()
		c.Dests = s.Dests
		f.services[key] = &c
	case DelService:
		delete(f.services, key)
	case AddDest:
		if i >= 0 {
			return fmt.Errorf("fake: %s: exists", op)
		}
		s.Dests = append(s.Dests, op.Dest)
	case EditDest:
		if i < 0 {
			return fmt.Errorf("fake: %s: no such destination", op)
		}
		s.Dests[i] = op.Dest
	case DelDest:
		if i < 0 {
			return fmt.Errorf("fake: %s: no such destination", op)
		}
		s.Dests = slices.Delete(s.Dests, i, i+1)
	}
	return nil
}

// Release removes every service.
func (f *FakeBackend) Release(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services = nil
	f.released++
	f.gen++
	return nil
}

// Services are the services held, sorted by key, without names.
func (f *FakeBackend) Services() []Service {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snapshot()
}

// Set replaces what the backend holds (a kernel changed behind our back).
func (f *FakeBackend) Set(services ...Service) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++ // a change behind the syncer's back
	f.services = map[ServiceKey]*Service{}
	for _, s := range services {
		c := s.Clone()
		f.services[s.ServiceKey] = &c
	}
}

// Applied returns the operations of every Apply so far, and forgets them.
func (f *FakeBackend) Applied() [][]Op {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.applied
	f.applied = nil
	return out
}

// SetErr sets Err while other goroutines use the backend.
func (f *FakeBackend) SetErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Err = err
}

// Released is how many times Release was called.
func (f *FakeBackend) Released() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.released
}
