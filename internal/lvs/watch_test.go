package lvs

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
)

// Over a Watcher, an unchanged reload reads nothing back and applies
// nothing; one changed server is one Apply of one operation, without a
// read either.
func TestSyncOverAWatcherDoesNotReadBackAnUnchangedKernel(t *testing.T) {
	fb := &FakeBackend{}
	s := NewSyncer(FakeWatcher{fb}, slog.New(slog.DiscardHandler))
	want := []Service{svc("10.0.0.1:80", "10.0.1.1:80", "10.0.1.2:80"), svc("10.0.0.2:80", "10.0.1.1:80")}
	ctx := context.Background()
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	fb.Applied()
	reads := fb.Observed()
	for range 3 {
		if err := s.Sync(ctx, want); err != nil {
			t.Fatal(err)
		}
	}
	if n := fb.Observed() - reads; n != 0 {
		t.Fatalf("unchanged reloads read the kernel %d times", n)
	}
	if a := fb.Applied(); len(a) != 0 {
		t.Fatalf("unchanged reloads applied %v", a)
	}
	want[1].Dests[0].Weight = 5
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if a := fb.Applied(); len(a) != 1 || len(a[0]) != 1 || a[0][0].Kind != EditDest {
		t.Fatalf("one changed server applied %v", a)
	}
	if n := fb.Observed() - reads; n != 0 {
		t.Fatalf("one changed server read the kernel %d times", n)
	}
	if got := fb.Services(); !reflect.DeepEqual(canonical(got), canonical(want)) {
		t.Fatalf("kernel %+v, want %+v", got, want)
	}
}

// A change by hand (any change the syncer did not make) is still
// repaired at the next reload: the watcher says the kernel changed, the
// syncer reads it back.
func TestSyncOverAWatcherRepairsAHandEdit(t *testing.T) {
	fb := &FakeBackend{}
	s := NewSyncer(FakeWatcher{fb}, slog.New(slog.DiscardHandler))
	want := []Service{svc("10.0.0.1:80", "10.0.1.1:80", "10.0.1.2:80")}
	ctx := context.Background()
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	fb.Applied()
	fb.Set(svc("10.0.0.1:80", "10.0.1.1:80"), svc("10.0.0.9:80"))
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got := fb.Services(); !reflect.DeepEqual(canonical(got), canonical(want)) {
		t.Fatalf("after the repair: %+v", got)
	}
	if a := fb.Applied(); len(a) != 1 || len(a[0]) != 2 {
		t.Fatalf("repair applied %v, want the server added and the stray service removed", a)
	}
}

// Property: over a Watcher, whatever the sequence of reloads, pool
// updates, hand edits and failures, every successful Sync leaves the
// kernel exactly in the desired state, with the same operations a
// syncer that always reads back would apply; and the kernel is read
// back only after something other than the syncer changed it (or a
// failure).
func TestSyncOverAWatcherAnySequenceMatchesReadingBack(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 3))
		wb, rb := &FakeBackend{}, &FakeBackend{}
		ws := NewSyncer(FakeWatcher{wb}, slog.New(slog.DiscardHandler))
		rs := NewSyncer(rb, slog.New(slog.DiscardHandler)) // reads back every time
		both := func(f func(*FakeBackend)) { f(wb); f(rb) }
		mustRead := true // the first Sync reads
		var state []Service
		for step := range 30 {
			reads := wb.Observed()
			switch k := r.IntN(10); {
			case k < 5 || state == nil:
				state = randomState(r)
				errW, errR := ws.Sync(context.Background(), state), rs.Sync(context.Background(), state)
				if (errW == nil) != (errR == nil) {
					t.Fatalf("seed %d step %d: errors differ: %v, %v", seed, step, errW, errR)
				}
				if errW != nil {
					mustRead = true
					break
				}
				if got := wb.Services(); !reflect.DeepEqual(canonical(got), canonical(state)) {
					t.Fatalf("seed %d step %d:\n got %+v\nwant %+v", seed, step, canonical(got), canonical(state))
				}
				// The same operations (a service's destinations may come
				// in another order: the kernel's, or the last desired).
				if w, r := sortedOps(wb.Applied()), sortedOps(rb.Applied()); !slices.Equal(w, r) {
					t.Fatalf("seed %d step %d: applied\n%s\nreading back:\n%s", seed, step, w, r)
				}
				if !mustRead && wb.Observed() != reads {
					t.Fatalf("seed %d step %d: read back an unchanged kernel", seed, step)
				}
				if mustRead && wb.Observed() == reads {
					t.Fatalf("seed %d step %d: did not read back a changed kernel", seed, step)
				}
				mustRead = false
			case k < 7 && len(state) > 0:
				i := r.IntN(len(state))
				u := state[i].Clone()
				if len(u.Dests) > 0 {
					u.Dests[r.IntN(len(u.Dests))].Weight = r.IntN(4)
				} else {
					u.Dests = []Destination{{Addr: ap("10.0.9.9:80"), Weight: 1, Method: "NAT"}}
				}
				state[i] = u
				if err := ws.Update(context.Background(), u); err != nil {
					mustRead = true
				} else if wb.Observed() != reads {
					mustRead = false // the update read the kernel (after a failure)
				}
				rs.Update(context.Background(), u)
			case k < 9:
				hand := randomState(r)
				both(func(b *FakeBackend) { b.Set(hand...) })
				mustRead = true
			default:
				boom := errors.New("boom")
				both(func(b *FakeBackend) { b.SetErr(boom) })
				u := svc("10.0.0.1:80", "10.0.1.1:80")
				errW, errR := ws.Update(context.Background(), u), rs.Update(context.Background(), u)
				both(func(b *FakeBackend) { b.SetErr(nil) })
				if (errW == nil) != (errR == nil) {
					t.Fatalf("seed %d step %d: errors differ: %v, %v", seed, step, errW, errR)
				}
				if errW != nil {
					mustRead = true
				} else if i := slices.IndexFunc(state, func(s Service) bool { return s.ServiceKey == u.ServiceKey }); i >= 0 {
					state[i] = u
				}
			}
		}
	}
}

func sortedOps(applied [][]Op) []string {
	var out []string
	for _, ops := range applied {
		out = append(out, opStrings(ops)...)
	}
	slices.Sort(out)
	return out
}

// Expressing without copying first: the syncer keeps what it expressed,
// so a backend that returns the caller's destinations (the fake) must
// not let a later change of the caller's slice reach what it knows.
func TestSyncKeepsNoAliasOfTheCallersDestinations(t *testing.T) {
	fb := &FakeBackend{}
	s := NewSyncer(FakeWatcher{fb}, slog.New(slog.DiscardHandler))
	want := []Service{svc("10.0.0.1:80", "10.0.1.1:80")}
	if err := s.Sync(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	want[0].Dests[0].Addr = netip.MustParseAddrPort("10.0.1.7:80")
	if k := s.Known(); k[0].Dests[0].Addr != ap("10.0.1.1:80") {
		t.Fatalf("known changed with the caller's slice: %+v", k)
	}
}

// BenchmarkSyncNoop is an unchanged reload of 2,000 virtual servers of
// 20 real servers each over a Watcher: the CPU of the syncer alone.
func BenchmarkSyncNoop(b *testing.B) {
	want := make([]Service, 2000)
	for i := range want {
		want[i] = Service{ServiceKey: AddrKey("tcp", netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 80)),
			Scheduler: "wrr", Method: "NAT"}
		for j := range 20 {
			want[i].Dests = append(want[i].Dests, Destination{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 4), byte(i<<4 | j)}), 8080),
				Weight: 1 + j%3, Method: "NAT"})
		}
	}
	fb := &FakeBackend{}
	s := NewSyncer(FakeWatcher{fb}, slog.New(slog.DiscardHandler))
	if err := s.Sync(context.Background(), want); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Sync(context.Background(), want); err != nil {
			b.Fatal(err)
		}
	}
	if fb.Observed() != 1 {
		b.Fatalf("%d reads", fb.Observed())
	}
}
