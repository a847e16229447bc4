package lvs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func svc(vip string, dests ...string) Service {
	s := Service{ServiceKey: AddrKey("tcp", ap(vip)), Scheduler: "wrr", Method: "NAT"}
	for _, d := range dests {
		addr, w, _ := strings.Cut(d, "/")
		weight := 1
		if w != "" {
			fmt.Sscan(w, &weight)
		}
		s.Dests = append(s.Dests, Destination{Addr: ap(addr), Weight: weight, Method: "NAT"})
	}
	return s
}

func opStrings(ops []Op) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.String())
	}
	return out
}

func TestReconcileEqualStatesGiveNoOperation(t *testing.T) {
	a := []Service{svc("10.0.0.1:80", "10.0.1.1:80", "10.0.1.2:80/3"), svc("10.0.0.2:443")}
	b := []Service{svc("10.0.0.2:443"), svc("10.0.0.1:80", "10.0.1.2:80/3", "10.0.1.1:80")}
	if ops := Reconcile(a, b); len(ops) != 0 {
		t.Fatalf("equal states (in another order): %v", opStrings(ops))
	}
	// Names and positions are not the kernel's business.
	a[0].Name, a[0].Pos = "[10.0.0.1]:tcp:80", "(f: Line 3)"
	if ops := Reconcile(a, b); len(ops) != 0 {
		t.Fatalf("names differ only: %v", opStrings(ops))
	}
}

func TestReconcileFromNothingAddsServicesThenDestinations(t *testing.T) {
	ops := Reconcile([]Service{svc("10.0.0.1:80", "10.0.1.1:80", "10.0.1.2:80/2")}, nil)
	want := []string{
		"add service [10.0.0.1]:tcp:80",
		"add destination 10.0.1.1:80 weight 1 to [10.0.0.1]:tcp:80",
		"add destination 10.0.1.2:80 weight 2 to [10.0.0.1]:tcp:80",
	}
	if got := opStrings(ops); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestReconcileTouchesOnlyWhatDiffers(t *testing.T) {
	observed := []Service{
		svc("10.0.0.1:80", "10.0.1.1:80", "10.0.1.2:80", "10.0.1.3:80"),
		svc("10.0.0.2:80", "10.0.1.1:80"),
		svc("10.0.0.3:80", "10.0.1.1:80"),
	}
	desired := []Service{
		svc("10.0.0.1:80", "10.0.1.1:80", "10.0.1.3:80/5", "10.0.1.4:80"), // .2 gone, .3 reweighted, .4 new
		svc("10.0.0.2:80", "10.0.1.1:80"),                                 // unchanged
		svc("10.0.0.4:80"),                                                // new, empty
	}
	desired[1].Scheduler = "sh"
	want := []string{
		"delete service [10.0.0.3]:tcp:80",
		"delete destination 10.0.1.2:80 weight 1 to [10.0.0.1]:tcp:80",
		"edit destination 10.0.1.3:80 weight 5 to [10.0.0.1]:tcp:80",
		"add destination 10.0.1.4:80 weight 1 to [10.0.0.1]:tcp:80",
		"edit service [10.0.0.2]:tcp:80",
		"add service [10.0.0.4]:tcp:80",
	}
	if got := opStrings(Reconcile(desired, observed)); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestReconcileKeysIncludeFamilyProtocolAndFwmark(t *testing.T) {
	tcp := svc("10.0.0.1:80")
	udp := tcp
	udp.ServiceKey = AddrKey("udp", ap("10.0.0.1:80"))
	fw4 := Service{ServiceKey: FwmarkKey(4, 5), Scheduler: "rr"}
	fw6 := Service{ServiceKey: FwmarkKey(6, 5), Scheduler: "rr"}
	ops := Reconcile([]Service{tcp, udp, fw4, fw6}, []Service{tcp, fw4})
	if got, want := opStrings(ops), []string{"add service [10.0.0.1]:udp:80", "add service FWM 5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if ops[1].Service.Family != 6 {
		t.Fatalf("the added fwmark service is %+v, want the IPv6 one", ops[1].Service.ServiceKey)
	}
	// An IPv4-mapped address is the IPv4 service.
	if k := AddrKey("tcp", ap("[::ffff:10.0.0.1]:80")); k != tcp.ServiceKey {
		t.Fatalf("mapped key %+v", k)
	}
}

func TestReconcileDuplicatesCountOnce(t *testing.T) {
	a := svc("10.0.0.1:80", "10.0.1.1:80", "10.0.1.1:80/4")
	b := svc("10.0.0.1:80", "10.0.1.9:80")
	ops := Reconcile([]Service{a, b}, nil)
	if got, want := opStrings(ops), []string{"add service [10.0.0.1]:tcp:80", "add destination 10.0.1.1:80 weight 1 to [10.0.0.1]:tcp:80"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A new service's destinations are added once per address, the first
// written, whether it has few (looked up without a map) or many.
func TestReconcileNewServiceDuplicateDestsBothSizes(t *testing.T) {
	for _, n := range []int{3, smallDests, smallDests + 1, 3 * smallDests} {
		var addrs []string
		var want []string
		for i := range n {
			a := fmt.Sprintf("10.0.%d.%d:80", i/200, 1+i%200)
			addrs = append(addrs, a)
			want = append(want, "add destination "+a+" weight 1 to [10.0.0.1]:tcp:80")
		}
		// Every other address again, with another weight: not added again.
		for i := 0; i < n; i += 2 {
			addrs = append(addrs, addrs[i]+"/4")
		}
		ops := Reconcile([]Service{svc("10.0.0.1:80", addrs...)}, nil)
		got := opStrings(ops)
		if len(got) == 0 || got[0] != "add service [10.0.0.1]:tcp:80" || !reflect.DeepEqual(got[1:], want) {
			t.Fatalf("%d destinations: got %q", n, got)
		}
	}
}

// randomState is a random desired state over a small universe of keys and
// addresses, so that successive states overlap.
func randomState(r *rand.Rand) []Service {
	var out []Service
	scheds := []string{"rr", "wrr", "sh"}
	for i := range 6 {
		if r.IntN(3) == 0 {
			continue
		}
		var s Service
		switch i {
		case 4:
			s.ServiceKey = FwmarkKey(4, 7)
		case 5:
			s.ServiceKey = FwmarkKey(6, 7)
		default:
			s.ServiceKey = AddrKey([]string{"tcp", "udp"}[i%2], netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i / 2)}), 80))
		}
		s.Scheduler = scheds[r.IntN(len(scheds))]
		s.Method = "NAT"
		if r.IntN(8) == 0 {
			s.Persistence = 300
		}
		for j := range 5 {
			if r.IntN(2) == 0 {
				s.Dests = append(s.Dests, Destination{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(j)}), 80),
					Weight: r.IntN(3), Method: "NAT"})
			}
		}
		r.Shuffle(len(s.Dests), func(a, b int) { s.Dests[a], s.Dests[b] = s.Dests[b], s.Dests[a] })
		out = append(out, s)
	}
	r.Shuffle(len(out), func(a, b int) { out[a], out[b] = out[b], out[a] })
	return out
}

// canonical sorts services and destinations, for comparing states.
func canonical(ss []Service) []Service {
	out := make([]Service, 0, len(ss))
	for _, s := range ss {
		c := s.Clone()
		c.Name, c.Pos = "", ""
		slices.SortFunc(c.Dests, func(a, b Destination) int { return a.Addr.Compare(b.Addr) })
		if len(c.Dests) == 0 {
			c.Dests = nil
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Service) int { return a.ServiceKey.compare(b.ServiceKey) })
	return out
}

// checkNecessary fails unless every operation changes something that
// differs between before and after, and no two do the same: with the
// final state equal to after, that makes the operations the fewest.
func checkNecessary(t *testing.T, before, after []Service, ops []Op) {
	t.Helper()
	find := func(ss []Service, k ServiceKey) *Service {
		for i := range ss {
			if ss[i].ServiceKey == k {
				return &ss[i]
			}
		}
		return nil
	}
	dest := func(s *Service, a netip.AddrPort) *Destination {
		if s == nil {
			return nil
		}
		for i := range s.Dests {
			if s.Dests[i].Addr == a {
				return &s.Dests[i]
			}
		}
		return nil
	}
	type opID struct {
		kind OpKind
		key  ServiceKey
		dest netip.AddrPort
	}
	seen := map[opID]bool{}
	for _, op := range ops {
		id := opID{op.Kind, op.Service.ServiceKey, op.Dest.Addr}
		if seen[id] {
			t.Fatalf("operation twice: %v", op)
		}
		seen[id] = true
		b, a := find(before, op.Service.ServiceKey), find(after, op.Service.ServiceKey)
		ok := false
		switch op.Kind {
		case AddService:
			ok = b == nil && a != nil
		case DelService:
			ok = b != nil && a == nil
		case EditService:
			ok = b != nil && a != nil && !a.sameAttrs(b)
		case AddDest:
			ok = a != nil && dest(a, op.Dest.Addr) != nil && (b == nil || dest(b, op.Dest.Addr) == nil)
		case DelDest:
			ok = a != nil && b != nil && dest(b, op.Dest.Addr) != nil && dest(a, op.Dest.Addr) == nil
		case EditDest:
			db, da := dest(b, op.Dest.Addr), dest(a, op.Dest.Addr)
			ok = db != nil && da != nil && *db != *da
		}
		if !ok {
			t.Fatalf("needless operation %v\nbefore %+v\nafter %+v", op, before, after)
		}
	}
}

// Property: whatever the sequence of desired states, the backend ends
// each step holding exactly that state, through necessary operations
// only, and a second Sync of the same state does nothing.
func TestSyncAnySequenceEndsInTheLastStateWithNecessaryOperations(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		fb := &FakeBackend{}
		s := NewSyncer(fb, slog.New(slog.DiscardHandler))
		for step := range 12 {
			before := fb.Services()
			want := randomState(r)
			if err := s.Sync(context.Background(), want); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			got := fb.Services()
			if !reflect.DeepEqual(canonical(got), canonical(want)) {
				t.Fatalf("seed %d step %d:\n got %+v\nwant %+v", seed, step, canonical(got), canonical(want))
			}
			var ops []Op
			for _, a := range fb.Applied() {
				ops = append(ops, a...)
			}
			checkNecessary(t, before, want, ops)
			if err := s.Sync(context.Background(), want); err != nil {
				t.Fatal(err)
			}
			if a := fb.Applied(); len(a) != 0 {
				t.Fatalf("seed %d step %d: a second Sync of the same state applied %v", seed, step, a)
			}
		}
	}
}

// Property: single-service Updates in any order also converge, and
// never touch another service.
func TestUpdateAnySequenceConverges(t *testing.T) {
	for seed := range uint64(100) {
		r := rand.New(rand.NewPCG(seed, 2))
		fb := &FakeBackend{}
		s := NewSyncer(fb, slog.New(slog.DiscardHandler))
		state := randomState(r)
		if err := s.Sync(context.Background(), state); err != nil {
			t.Fatal(err)
		}
		fb.Applied()
		for range 20 {
			next := randomState(r)
			if len(state) == 0 || len(next) == 0 {
				continue
			}
			// Change one service of the state to its version in next (if
			// next has it), keeping the others.
			i := r.IntN(len(state))
			for _, n := range next {
				if n.ServiceKey == state[i].ServiceKey {
					state[i] = n
				}
			}
			if err := s.Update(context.Background(), state[i]); err != nil {
				t.Fatal(err)
			}
			for _, ops := range fb.Applied() {
				for _, op := range ops {
					if op.Service.ServiceKey != state[i].ServiceKey {
						t.Fatalf("update of %v touched %v", state[i].ServiceKey, op)
					}
				}
			}
			if got := fb.Services(); !reflect.DeepEqual(canonical(got), canonical(state)) {
				t.Fatalf("seed %d:\n got %+v\nwant %+v", seed, canonical(got), canonical(state))
			}
		}
	}
}

// Entries the backend does not report as its own are not touched: the
// reconciler only works on what Observe returns.
func TestSyncLeavesAloneWhatItDoesNotObserve(t *testing.T) {
	foreign := svc("10.9.9.9:80", "10.9.9.10:80")
	fb := &FakeBackend{}
	fb.Set(foreign)
	hidden := &hidingBackend{FakeBackend: fb, hide: foreign.ServiceKey}
	s := NewSyncer(hidden, slog.New(slog.DiscardHandler))
	if err := s.Sync(context.Background(), []Service{svc("10.0.0.1:80", "10.0.1.1:80")}); err != nil {
		t.Fatal(err)
	}
	if got := fb.Services(); len(got) != 2 || got[1].ServiceKey != foreign.ServiceKey {
		t.Fatalf("services %+v, want ours and the foreign one", got)
	}
}

type hidingBackend struct {
	*FakeBackend
	hide ServiceKey
}

func (h *hidingBackend) Observe(ctx context.Context) ([]Service, error) {
	all, err := h.FakeBackend.Observe(ctx)
	return slices.DeleteFunc(all, func(s Service) bool { return s.ServiceKey == h.hide }), err
}

// A change made behind the syncer's back is repaired by the next Sync
// (keepalived's reload does not: #1877), and a failure makes the next
// Update observe the kernel again.
func TestSyncRepairsAndRecoversFromFailures(t *testing.T) {
	fb := &FakeBackend{}
	s := NewSyncer(fb, slog.New(slog.DiscardHandler))
	want := []Service{svc("10.0.0.1:80", "10.0.1.1:80", "10.0.1.2:80")}
	if err := s.Sync(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	fb.Set(svc("10.0.0.1:80", "10.0.1.1:80"))
	if err := s.Sync(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if got := fb.Applied(); len(got) != 2 || len(got[1]) != 1 || got[1][0].Kind != AddDest {
		t.Fatalf("repair applied %v", got)
	}
	fb.Err = errors.New("netlink: boom")
	if err := s.Update(context.Background(), svc("10.0.0.1:80", "10.0.1.1:80")); err == nil || s.Known() != nil {
		t.Fatalf("failed update: err %v, known %v", err, s.Known())
	}
	fb.Err = nil
	fb.Set(svc("10.0.0.1:80")) // the kernel lost both servers meanwhile
	if err := s.Update(context.Background(), svc("10.0.0.1:80", "10.0.1.1:80")); err != nil {
		t.Fatal(err)
	}
	if got := fb.Services(); !reflect.DeepEqual(canonical(got), canonical([]Service{svc("10.0.0.1:80", "10.0.1.1:80")})) {
		t.Fatalf("after recovery: %+v", got)
	}
}

// The backend's notes are logged once per service, at start and at every
// reload alike; a service the backend cannot hold is not applied, and is
// removed if the kernel has it.
func TestSyncLogsNotesOnceAndDropsWhatTheBackendCannotHold(t *testing.T) {
	var buf bytes.Buffer
	fb := &FakeBackend{ExpressFunc: func(s Service) (Service, bool, []string) {
		if s.Method == "DR" {
			return s, false, []string{"lb_kind DR is not available"}
		}
		if s.Scheduler == "wlc" {
			s.Scheduler = "wrr"
			return s, true, []string{"lb_algo wlc is not available: wrr instead"}
		}
		return s, true, nil
	}}
	s := NewSyncer(fb, slog.New(slog.NewTextHandler(&buf, nil)))
	a := svc("10.0.0.1:80", "10.0.1.1:80")
	a.Scheduler, a.Pos = "wlc", "(k.conf: Line 3)"
	b := svc("10.0.0.2:80", "10.0.1.1:80")
	fb.Set(b)
	b.Method = "DR"
	for range 2 {
		if err := s.Sync(context.Background(), []Service{a, b}); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "(k.conf: Line 3) VS [10.0.0.1]:tcp:80: lb_algo wlc is not available: wrr instead"); n != 1 {
		t.Fatalf("wlc note logged %d times:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "Removing Virtual Server [10.0.0.2]:tcp:80") {
		t.Fatalf("no removal line:\n%s", buf.String())
	}
	got := fb.Services()
	if len(got) != 1 || got[0].Scheduler != "wrr" {
		t.Fatalf("services %+v", got)
	}
}

func TestReleaseRemovesEverything(t *testing.T) {
	fb := &FakeBackend{}
	s := NewSyncer(fb, slog.New(slog.DiscardHandler))
	if err := s.Sync(context.Background(), []Service{svc("10.0.0.1:80", "10.0.1.1:80")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(fb.Services()) != 0 || fb.Released() != 1 {
		t.Fatalf("after release: %+v", fb.Services())
	}
}

// destOpsSmall (no map, up to smallDests destinations) gives exactly
// destOpsMap's operations, in the same order, duplicates, reorderings,
// edits, additions and removals included.
func TestDestOpsSmallIsDestOpsMap(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	pick := func(n int) []Destination {
		var out []Destination
		for range n {
			out = append(out, Destination{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(r.IntN(12))}), 80),
				Weight: r.IntN(3), Method: "NAT"})
		}
		return out
	}
	differed := 0
	for range 5000 {
		d, o := svc("10.0.0.1:80"), svc("10.0.0.1:80")
		d.Dests, o.Dests = pick(r.IntN(smallDests+1)), pick(r.IntN(smallDests+1))
		if r.IntN(4) == 0 { // the same destinations, the kernel's order
			o.Dests = slices.Clone(d.Dests)
			slices.Reverse(o.Dests)
		}
		small, big := destOpsSmall(&d, &o), destOpsMap(&d, &o)
		if !reflect.DeepEqual(opStrings(small), opStrings(big)) {
			t.Fatalf("d %v\no %v\nsmall %q\nmap   %q", d.Dests, o.Dests, opStrings(small), opStrings(big))
		}
		if len(big) > 0 {
			differed++
		}
	}
	if differed < 1000 {
		t.Fatalf("only %d of the cases had operations", differed)
	}
}

// BenchmarkReconcileKernelOrder2000x20 is a no-op reload's Reconcile over
// IPVS: 2,000 services of 20 destinations read back from the kernel,
// which lists each service's destinations newest first.
func BenchmarkReconcileKernelOrder2000x20(b *testing.B) {
	want := make([]Service, 2000)
	for i := range want {
		want[i] = Service{ServiceKey: AddrKey("tcp", netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 80)),
			Scheduler: "wrr", Method: "NAT"}
		for j := range 20 {
			want[i].Dests = append(want[i].Dests, Destination{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte((i*20 + j) >> 8), byte(i*20 + j)}), 8080),
				Weight: 1 + j%3, Method: "NAT"})
		}
	}
	have := make([]Service, len(want))
	for i := range want {
		have[i] = want[i]
		have[i].Dests = slices.Clone(want[i].Dests)
		slices.Reverse(have[i].Dests)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ops := Reconcile(want, have); len(ops) != 0 {
			b.Fatalf("%d operations", len(ops))
		}
	}
}
