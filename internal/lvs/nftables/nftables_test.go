package nftables

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// fakeLB is an in-memory kernel.LoadBalancer that counts transactions.
type fakeLB struct {
	services map[kernel.LBKey]kernel.LBService
	applies  int
	deleted  bool
	// fail makes a transaction with this key fail (nothing applied);
	// largest is the most services one transaction carried.
	fail                  kernel.LBKey
	largest, largestBytes int
}

func (f *fakeLB) Services() ([]kernel.LBService, error) {
	out := slices.Collect(maps.Values(f.services))
	slices.SortFunc(out, func(a, b kernel.LBService) int { return strings.Compare(a.LBKey.String(), b.LBKey.String()) })
	return out, nil
}

func (f *fakeLB) Apply(set []kernel.LBService, del []kernel.LBKey) error {
	f.applies++
	f.largest = max(f.largest, len(set)+len(del))
	if len(set) > 1 {
		n := 0
		for _, s := range set {
			n += serviceBytes(s)
		}
		f.largestBytes = max(f.largestBytes, n)
	}
	for _, s := range set {
		if s.LBKey == f.fail {
			return errors.New("boom")
		}
	}
	if f.services == nil {
		f.services = map[kernel.LBKey]kernel.LBService{}
	}
	for _, k := range del {
		delete(f.services, k)
	}
	for _, s := range set {
		f.services[s.LBKey] = s
	}
	return nil
}

func (f *fakeLB) Delete() error { f.services, f.deleted = nil, true; return nil }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func service(sched string, dests ...lvs.Destination) lvs.Service {
	return lvs.Service{ServiceKey: lvs.AddrKey("tcp", ap("198.51.100.100:80")), Scheduler: sched, Method: "NAT", Dests: dests}
}

func dest(addr string, w int) lvs.Destination {
	return lvs.Destination{Addr: ap(addr), Weight: w, Method: "NAT"}
}

func TestExpressSchedulers(t *testing.T) {
	ds := []lvs.Destination{dest("10.0.0.3:80", 2), dest("10.0.0.2:80", 4), dest("10.0.0.4:80", 0)}
	for _, c := range []struct {
		algo    string
		sched   string
		weights []int // of 10.0.0.2, 10.0.0.3
		note    string
	}{
		{"rr", SchedWRR, []int{1, 1}, ""},
		{"wrr", SchedWRR, []int{2, 1}, ""},
		{"sh", SchedSH, []int{2, 1}, ""},
		{"dh", SchedDH, []int{2, 1}, ""},
		{"fo", SchedWRR, []int{1}, ""},
		{"wlc", SchedWRR, []int{2, 1}, "lb_algo wlc is not available with nftables (it counts connections): weighted round robin instead"},
		{"", SchedWRR, []int{2, 1}, "no lb_algo (keepalived's default: wlc) is not available with nftables (it counts connections): weighted round robin instead"},
		{"lc", SchedWRR, []int{1, 1}, "lb_algo lc is not available with nftables (it counts connections): round robin instead"},
		{"ovf", SchedWRR, []int{1}, "lb_algo ovf is not available with nftables (it counts connections): weighted failover (fo) instead"},
		{"lblcr", SchedDH, []int{2, 1}, "lb_algo lblcr is not available with nftables (it tracks the servers' load): destination hashing (dh) instead"},
		{"mh", SchedSH, []int{2, 1}, "lb_algo mh is not available with nftables: source hashing (sh, jhash) instead"},
	} {
		// Approximating: the nearest equivalent, and a note.
		got, ok, notes := New(&fakeLB{}, Approximate(true)).Express(service(c.algo, ds...))
		var w []int
		for _, d := range got.Dests {
			w = append(w, d.Weight)
		}
		if !ok || got.Scheduler != c.sched || !reflect.DeepEqual(w, c.weights) || got.Dests[0].Addr != ap("10.0.0.2:80") {
			t.Errorf("%s: %+v (ok %v)", c.algo, got, ok)
		}
		if want := []string{c.note}; (c.note == "" && len(notes) != 0) || (c.note != "" && !reflect.DeepEqual(notes, want)) {
			t.Errorf("%s: notes %q, want %q", c.algo, notes, c.note)
		}
		// By default: refused (not programmed), saying how to get going.
		strict, ok, notes := New(&fakeLB{}).Express(service(c.algo, ds...))
		refusals := Refusals(service(c.algo, ds...))
		if c.note == "" {
			if !ok || !reflect.DeepEqual(strict, got) || len(notes) != 0 || len(refusals) != 0 {
				t.Errorf("%s refused: %+v %v %q %v", c.algo, strict, ok, notes, refusals)
			}
			continue
		}
		why := c.note[:strings.LastIndex(c.note, ": ")]
		if ok || len(refusals) != 1 || refusals[0].Keyword != "lb_algo" || len(notes) != 1 ||
			!strings.HasPrefix(notes[0], why+": set lb_algo rr, wrr, sh, dh or fo (or start with --lvs-nftables-approximate: ") {
			t.Errorf("%s not refused: ok %v, %q, %+v", c.algo, ok, notes, refusals)
		}
	}
}

// What nftables cannot hold: DR and TUN (a virtual server is not
// programmed, a real server is left out), persistence engines, ops,
// sh-port, thresholds: refused, or approximated and noted.
func TestExpressRefusesAndNotes(t *testing.T) {
	b := New(&fakeLB{}, Approximate(true))
	dr := service("rr", dest("10.0.0.2:80", 1))
	dr.Method = "DR"
	if _, ok, notes := b.Express(dr); ok || len(notes) != 1 || !strings.Contains(notes[0], "lb_kind DR is not available with nftables") {
		t.Fatalf("DR service: ok %v, %q", ok, notes)
	}
	s := service("sh", dest("10.0.0.2:80", 1), lvs.Destination{Addr: ap("10.0.0.3:80"), Weight: 1, Method: "TUN"},
		lvs.Destination{Addr: ap("10.0.0.4:80"), Weight: 0, Method: "NAT", UThreshold: 10})
	s.Persistence, s.Flags, s.Engine = 300, lvs.FlagOnePacket|lvs.FlagSched2, "sip"
	got, ok, notes := b.Express(s)
	want := []string{
		"persistence_engine sip is not available with nftables: ignored",
		"ops is not available with nftables: UDP is balanced per flow (conntrack entry), not per datagram",
		"sh-port is not available with nftables: the source address alone is hashed",
		"real server 10.0.0.3:80: lb_kind TUN is not available with nftables (NAT only): left out",
		"real server 10.0.0.4:80: uthreshold is not available with nftables (it counts connections): ignored",
	}
	// (Persistent: the weight-0 server stays, idle.)
	if !ok || !reflect.DeepEqual(notes, want) || len(got.Dests) != 2 || got.Dests[1].Weight != 0 || got.Persistence != 300 ||
		got.Flags != 0 || got.Engine != "" {
		t.Fatalf("got %+v, %v\nnotes %q", got, ok, notes)
	}
	var kws []string
	for _, r := range Refusals(s) {
		kws = append(kws, r.Keyword+" "+r.Server.String())
	}
	if want := []string{"persistence_engine invalid AddrPort", "ops invalid AddrPort",
		"sh-port invalid AddrPort", "lvs_method 10.0.0.3:80", "uthreshold 10.0.0.4:80"}; !reflect.DeepEqual(kws, want) {
		t.Fatalf("refusals %q, want %q", kws, want)
	}
	if _, ok, notes := New(&fakeLB{}).Express(s); ok || len(notes) != len(want) {
		t.Fatalf("refused by default: ok %v, %q", ok, notes)
	}
	// Every real server down (or at weight 0): no scheduler, the rule
	// rejects.
	if got, _, _ := b.Express(service("sh", dest("10.0.0.2:80", 0))); got.Scheduler != SchedNone || len(got.Dests) != 0 {
		t.Fatalf("no destination: %+v", got)
	}
	// A real server without port takes the virtual port; a fwmark
	// service's keep theirs, unless mixed.
	if got, _, _ := b.Express(service("rr", lvs.Destination{Addr: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), 0), Weight: 1})); got.Dests[0].Addr != ap("10.0.0.2:80") {
		t.Fatalf("port 0: %+v", got.Dests)
	}
	fw := lvs.Service{ServiceKey: lvs.FwmarkKey(4, 3), Scheduler: "rr",
		Dests: []lvs.Destination{dest("10.0.0.2:80", 1), {Addr: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.3"), 0), Weight: 1}}}
	if got, _, notes := b.Express(fw); len(notes) != 1 || got.Dests[0].Addr.Port() != 0 || got.Dests[1].Addr.Port() != 0 {
		t.Fatalf("mixed ports: %+v %q", got.Dests, notes)
	}
	if rs := Refusals(fw); len(rs) != 1 || rs[0].Keyword != "real_server" {
		t.Fatalf("mixed ports: %+v", rs)
	}
}

func TestWeightsAreScaledToMaxSlots(t *testing.T) {
	ds := []lvs.Destination{dest("10.0.0.2:80", 1000), dest("10.0.0.3:80", 3000), dest("10.0.0.4:80", 1)}
	got, _, notes := New(&fakeLB{}).Express(service("wrr", ds...))
	sum := 0
	for _, d := range got.Dests {
		sum += d.Weight
	}
	if sum > MaxSlots || got.Dests[2].Weight < 1 || got.Dests[1].Weight < 2*got.Dests[0].Weight || len(notes) != 1 {
		t.Fatalf("scaled %+v (sum %d), notes %q", got.Dests, sum, notes)
	}
	// Common factors are divided out without a note.
	got, _, notes = New(&fakeLB{}).Express(service("wrr", dest("10.0.0.2:80", 100), dest("10.0.0.3:80", 300)))
	if got.Dests[0].Weight != 1 || got.Dests[1].Weight != 3 || len(notes) != 0 {
		t.Fatalf("reduced %+v, notes %q", got.Dests, notes)
	}
}

// IPVS's wrr order: each turn, from the highest weight down, the
// destinations with at least that weight.
func TestSlotsFollowIPVSOrder(t *testing.T) {
	a, b, c := ap("10.0.0.2:80"), ap("10.0.0.3:80"), ap("10.0.0.4:80")
	s := lvs.Service{Scheduler: SchedWRR, Dests: []lvs.Destination{{Addr: a, Weight: 3}, {Addr: b, Weight: 1}, {Addr: c, Weight: 2}}}
	if got, want := Slots(&s), []netip.AddrPort{a, a, c, a, b, c}; !reflect.DeepEqual(got, want) {
		t.Fatalf("wrr slots %v, want %v", got, want)
	}
	s.Scheduler = SchedSH
	if got, want := Slots(&s), []netip.AddrPort{a, a, a, b, c, c}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sh slots %v, want %v", got, want)
	}
}

// Property: an expressed service, written and read back, is itself, so an
// unchanged configuration compares equal and changes nothing.
func TestExpressedServicesReadBackEqual(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	algos := []string{"rr", "wrr", "sh", "dh", "fo", "wlc", "lc", "mh", "lblc", "bogus"}
	b := New(&fakeLB{}, Approximate(true))
	for i := range 2000 {
		var s lvs.Service
		switch r.IntN(3) {
		case 0:
			s.ServiceKey = lvs.FwmarkKey(4+2*r.IntN(2), uint32(1+r.IntN(9)))
		case 1:
			s.ServiceKey = lvs.AddrKey([]string{"tcp", "udp", "sctp"}[r.IntN(3)], ap("[2001:db8::100]:443"))
		default:
			s.ServiceKey = lvs.AddrKey("tcp", ap("198.51.100.100:80"))
		}
		s.Scheduler = algos[r.IntN(len(algos))]
		if r.IntN(3) == 0 {
			s.Persistence = uint32(1 + r.IntN(3600))
			s.Granularity = []uint32{0, 0xffffffff, 0xffffff00, 0xffff0000}[r.IntN(4)]
			if s.Family == 6 {
				s.Granularity = uint32(r.IntN(130))
			}
		}
		for range r.IntN(8) {
			addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(6))})
			if s.Family == 6 {
				addr = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(r.IntN(6))})
			}
			w := r.IntN(5)
			if r.IntN(10) == 0 {
				w = r.IntN(70000)
			}
			s.Dests = append(s.Dests, lvs.Destination{Addr: netip.AddrPortFrom(addr, uint16(80+r.IntN(2))), Weight: w})
		}
		e, ok, _ := b.Express(s)
		if !ok {
			t.Fatalf("%d: %+v not expressed", i, s)
		}
		got := decode(render(&e))
		e.Name, e.Pos = "", ""
		if len(e.Dests) == 0 {
			e.Dests = nil
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("%d: %+v\nexpressed %+v\nread back %+v", i, s, e, got)
		}
		if again, _, _ := b.Express(e); !reflect.DeepEqual(again, e) {
			t.Fatalf("%d: expressing twice changes %+v into %+v", i, e, again)
		}
	}
}

// Through a Syncer: one transaction for the services of a sync, one per
// changed service after, none for an unchanged configuration, a damaged
// service rewritten, the table removed at release.
func TestSyncerOverTheBackend(t *testing.T) {
	lb := &fakeLB{}
	s := lvs.NewSyncer(New(lb), slog.New(slog.DiscardHandler))
	ctx := context.Background()
	a := service("wrr", dest("10.0.0.2:80", 1), dest("10.0.0.3:80", 1))
	udp := service("rr", dest("10.0.0.2:53", 1))
	udp.ServiceKey = lvs.AddrKey("udp", ap("198.51.100.100:53"))
	if err := s.Sync(ctx, []lvs.Service{a, udp}); err != nil {
		t.Fatal(err)
	}
	if lb.applies != 1 {
		t.Fatalf("%d transactions for two services", lb.applies)
	}
	if err := s.Sync(ctx, []lvs.Service{a, udp}); err != nil || lb.applies != 1 {
		t.Fatalf("unchanged reload: %d transactions, %v", lb.applies, err)
	}
	a.Dests[1].Weight = 0 // inhibited
	if err := s.Update(ctx, a); err != nil || lb.applies != 2 {
		t.Fatalf("one server down: %d transactions, %v", lb.applies, err)
	}
	k := render(&lvs.Service{ServiceKey: a.ServiceKey}).LBKey
	if got := lb.services[k].Slots; !reflect.DeepEqual(got, []netip.AddrPort{ap("10.0.0.2:80")}) {
		t.Fatalf("slots %v", got)
	}
	lb.services[k] = kernel.LBService{LBKey: k, Pick: kernel.LBUnknown}
	if err := s.Sync(ctx, []lvs.Service{a, udp}); err != nil || lb.applies != 3 || len(lb.services[k].Slots) != 1 {
		t.Fatalf("damaged service: %d transactions, %+v, %v", lb.applies, lb.services[k], err)
	}
	if err := s.Sync(ctx, []lvs.Service{a}); err != nil || lb.applies != 4 || len(lb.services) != 1 {
		t.Fatalf("removed service: %d transactions, %v", lb.applies, err)
	}
	if err := s.Release(ctx); err != nil || !lb.deleted {
		t.Fatalf("release: %v", err)
	}
}

// Many services go out a batch at a time, each within the bounds of one
// netlink send; a batch that fails is applied again one service per
// transaction, so that only the failing service is left out, and said.
func TestApplyBatchesServicesAndIsolatesAFailure(t *testing.T) {
	var want []lvs.Service
	for i := range 1000 {
		s := service("wrr")
		s.ServiceKey = lvs.AddrKey("tcp", netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 80))
		for j := range 20 {
			s.Dests = append(s.Dests, lvs.Destination{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i), byte(j)}), 80),
				Weight: 1 + j%3, Method: "NAT"})
		}
		if i%2 == 0 {
			s.Dests[0].Weight = 1000 // 256 slots: a batch of such services is cut by size
		}
		want = append(want, s)
	}
	lb := &fakeLB{}
	lb.fail = render(&lvs.Service{ServiceKey: want[700].ServiceKey}).LBKey
	s := lvs.NewSyncer(New(lb), slog.New(slog.DiscardHandler))
	err := s.Sync(context.Background(), want)
	if err == nil || !strings.Contains(err.Error(), want[700].Label()+": boom") {
		t.Fatalf("error %v, want one for %s", err, want[700].Label())
	}
	if len(lb.services) != 999 {
		t.Fatalf("%d services applied, want all but the failing one", len(lb.services))
	}
	// Batches (one fails), then the failing batch's services one by one.
	if lb.applies > 1000*serviceBytes(kernel.LBService{Slots: make([]netip.AddrPort, 256)})/batchBytes+2+batchServices || lb.largest > batchServices {
		t.Fatalf("%d transactions, the largest of %d services", lb.applies, lb.largest)
	}
	if lb.largestBytes > batchBytes {
		t.Fatalf("a transaction of about %d bytes, more than %d", lb.largestBytes, batchBytes)
	}
}

// watchingLB is a fakeLB that says it is unchanged, as the kernel's does
// while only its own transactions changed the ruleset.
type watchingLB struct{ *fakeLB }

func (watchingLB) Unchanged() (bool, error) { return true, nil }

// BenchmarkSyncNoop2000x20 is a no-op reload of 2,000 virtual servers of
// 20 real servers through the backend's Express and the syncer, the
// kernel's part left out (one generation request in the real thing).
func BenchmarkSyncNoop2000x20(b *testing.B) {
	var want []lvs.Service
	for i := range 2000 {
		s := service("wrr")
		s.ServiceKey = lvs.AddrKey("tcp", netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 80))
		for j := range 20 {
			s.Dests = append(s.Dests, lvs.Destination{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 4), byte(i<<4) | byte(j)}), 8080),
				Weight: 1 + j%3, Method: "NAT"})
		}
		want = append(want, s)
	}
	lb := watchingLB{&fakeLB{}}
	s := lvs.NewSyncer(New(lb), slog.New(slog.DiscardHandler))
	if err := s.Sync(context.Background(), want); err != nil {
		b.Fatal(err)
	}
	applies := lb.applies
	b.ReportAllocs()
	var c0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &c0)
	for b.Loop() {
		if err := s.Sync(context.Background(), want); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time, which the machine's other work does not inflate as it
	// does the wall time (ns/op).
	var c1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &c1)
	cpu := c1.Utime.Nano() + c1.Stime.Nano() - c0.Utime.Nano() - c0.Stime.Nano()
	b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
	if lb.applies != applies {
		b.Fatalf("a no-op sync applied %d transactions", lb.applies-applies)
	}
}

// Persistence: the servers at weight 0 stay (idle: no new client, their
// pinned ones stay), fo's others too; the granularity in its normal
// form; a persistent service without any server is not persistent.
func TestExpressPersistence(t *testing.T) {
	b := New(&fakeLB{})
	s := service("fo", dest("10.0.0.3:80", 2), dest("10.0.0.2:80", 5), dest("10.0.0.4:80", 0))
	s.Persistence, s.Granularity = 600, 0xffffff00
	got, ok, notes := b.Express(s)
	want := []lvs.Destination{dest("10.0.0.2:80", 1), dest("10.0.0.3:80", 0), dest("10.0.0.4:80", 0)}
	if !ok || len(notes) != 0 || !reflect.DeepEqual(got.Dests, want) || got.Persistence != 600 || got.Granularity != 0xffffff00 {
		t.Fatalf("persistent fo: %+v %v %q", got, ok, notes)
	}
	k := render(&got)
	if k.Persist != (kernel.LBPersist{Timeout: 600, Mask: netip.MustParseAddr("255.255.255.0")}) ||
		!reflect.DeepEqual(k.Idle, []netip.AddrPort{ap("10.0.0.3:80"), ap("10.0.0.4:80")}) || !reflect.DeepEqual(k.Slots, []netip.AddrPort{ap("10.0.0.2:80")}) {
		t.Fatalf("rendered %+v", k)
	}
	if back := decode(k); !reflect.DeepEqual(back, got) {
		t.Fatalf("read back %+v, want %+v", back, got)
	}
	v6 := lvs.Service{ServiceKey: lvs.AddrKey("udp", ap("[2001:db8::100]:53")), Scheduler: "rr", Persistence: 60, Granularity: 64,
		Dests: []lvs.Destination{dest("[2001:db8::2]:53", 0)}}
	got, _, _ = b.Express(v6)
	if k := render(&got); got.Scheduler != SchedNone || k.Persist.Mask != netip.MustParseAddr("ffff:ffff:ffff:ffff::") || len(k.Idle) != 1 || len(k.Slots) != 0 {
		t.Fatalf("IPv6 /64, idle only: %+v -> %+v", got, k)
	}
	v6.Dests = nil
	if got, _, _ := b.Express(v6); got.Persistence != 0 || got.Granularity != 0 {
		t.Fatalf("no server: %+v", got)
	}
	// Without persistence a weight-0 server is left out.
	s.Persistence = 0
	if got, _, _ := New(&fakeLB{}).Express(service("rr", dest("10.0.0.2:80", 1), dest("10.0.0.4:80", 0))); len(got.Dests) != 1 || got.Granularity != 0 {
		t.Fatalf("not persistent: %+v", got)
	}
}
