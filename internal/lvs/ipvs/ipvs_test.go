package ipvs

import (
	"bytes"
	"context"
	"log/slog"
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

// The backend against kernel.FakeIPVS, which answers as ip_vs_ctl.c: no
// root needed. The same backend meets the real kernel in the QEMU tests
// (kernel_guest_test.go).

var ctx = context.Background()

func newBackend(t *testing.T) (*Backend, *kernel.FakeIPVS, *bytes.Buffer) {
	t.Helper()
	k := &kernel.FakeIPVS{}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(k, log), k, &logs
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func tcp(addr string, dests ...lvs.Destination) lvs.Service {
	return lvs.Service{ServiceKey: lvs.AddrKey("tcp", ap(addr)), Scheduler: "rr", Method: "NAT", Dests: dests}
}

func dest(addr string, weight int) lvs.Destination {
	return lvs.Destination{Addr: ap(addr), Weight: weight, Method: "NAT"}
}

func kernelServices(t *testing.T, k *kernel.FakeIPVS) map[kernel.IPVSService][]kernel.IPVSDest {
	t.Helper()
	svcs, err := k.Services()
	if err != nil {
		t.Fatal(err)
	}
	out := map[kernel.IPVSService][]kernel.IPVSDest{}
	for _, s := range svcs {
		ds, err := k.Dests(s)
		if err != nil {
			t.Fatal(err)
		}
		out[s] = ds
	}
	return out
}

func TestExpressIsWhatKeepalivedProgrammes(t *testing.T) {
	b, _, _ := newBackend(t)
	in := lvs.Service{ServiceKey: lvs.AddrKey("udp", ap("10.0.0.1:53")), Method: "DR",
		Flags: lvs.FlagOnePacket | lvs.FlagSched2 | 0x0001 | 0x0002, Persistence: 300, Engine: "sip",
		Dests: []lvs.Destination{
			{Addr: ap("10.0.1.1:5353"), Weight: 3},               // DR: the service's port
			{Addr: ap("10.0.1.2:53"), Weight: -4, Method: "NAT"}, // weight within 0..
			{Addr: ap("10.0.1.1:5300"), Weight: 9},               // DR again on port 53: a duplicate
			{Addr: ap("10.0.1.3:53"), Weight: 1, Method: "TUN", UThreshold: 10, LThreshold: 2, Tunnel: lvs.Tunnel{Type: lvs.TunnelGUE, Port: 6080, Flags: lvs.TunnelChecksum}},
			{Addr: ap("10.0.1.4:53"), Weight: 1, Method: "NAT", Tunnel: lvs.Tunnel{Type: lvs.TunnelGRE}}, // tunnel settings only for TUN
			{Addr: ap("[::ffff:10.0.1.5]:53"), Weight: 1, Method: "NAT"},
		}}
	out, ok, notes := b.Express(in)
	if !ok {
		t.Fatal("not expressed")
	}
	want := lvs.Service{ServiceKey: in.ServiceKey, Scheduler: "wlc", Flags: lvs.FlagOnePacket | lvs.FlagSched2, Persistence: 300,
		Granularity: 0xffffffff, Engine: "sip", Dests: []lvs.Destination{
			{Addr: ap("10.0.1.1:53"), Weight: 3, Method: "DR"},
			{Addr: ap("10.0.1.2:53"), Weight: 0, Method: "NAT"},
			{Addr: ap("10.0.1.3:53"), Weight: 1, Method: "TUN", UThreshold: 10, LThreshold: 2, Tunnel: lvs.Tunnel{Type: lvs.TunnelGUE, Port: 6080, Flags: lvs.TunnelChecksum}},
			{Addr: ap("10.0.1.4:53"), Weight: 1, Method: "NAT"},
			{Addr: ap("10.0.1.5:53"), Weight: 1, Method: "NAT"},
		}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("Express:\n got %+v\nwant %+v", out, want)
	}
	if len(notes) != 0 {
		t.Errorf("notes %q, want none", notes)
	}

	fw := lvs.Service{ServiceKey: lvs.FwmarkKey(6, 7), Scheduler: "sh", Persistence: 60, Granularity: 64,
		Dests: []lvs.Destination{{Addr: ap("[2001:db8::2]:80"), Weight: 1, Method: "DR"}, {Addr: ap("[2001:db8::3]:8080"), Weight: 1, Method: "NAT"}}}
	out, _, _ = b.Express(fw)
	if out.Granularity != 64 || out.Dests[0].Addr != ap("[2001:db8::2]:0") || out.Dests[1].Addr != ap("[2001:db8::3]:8080") {
		t.Errorf("fwmark service: %+v (DR destinations of a fwmark service have no port, NAT ones keep theirs)", out)
	}
	if _, ok, _ := b.Express(lvs.Service{ServiceKey: lvs.AddrKey("icmp", ap("10.0.0.1:0"))}); ok {
		t.Error("a service of protocol icmp was expressed")
	}
}

func TestSyncProgrammesTheKernelAndReadsItBackEqual(t *testing.T) {
	b, k, _ := newBackend(t)
	s := lvs.NewSyncer(b, slog.New(slog.DiscardHandler))
	want := []lvs.Service{
		{ServiceKey: lvs.AddrKey("tcp", ap("10.0.0.1:80")), Scheduler: "wrr", Method: "NAT", Persistence: 360, Granularity: 0xffffff00,
			Dests: []lvs.Destination{dest("10.0.1.1:8080", 3), {Addr: ap("10.0.1.2:80"), Weight: 0, Method: "DR"}}},
		{ServiceKey: lvs.FwmarkKey(4, 5), Scheduler: "sh", Flags: lvs.FlagSched1 | lvs.FlagSched2,
			Dests: []lvs.Destination{{Addr: ap("10.0.1.3:0"), Weight: 1, Method: "TUN", Tunnel: lvs.Tunnel{Type: lvs.TunnelGRE, Flags: lvs.TunnelChecksum}}}},
		{ServiceKey: lvs.AddrKey("sctp", ap("[2001:db8::1]:9")), Scheduler: "mh", Method: "NAT", Persistence: 60,
			Dests: []lvs.Destination{{Addr: ap("[2001:db8::2]:9"), Weight: 2, Method: "NAT", UThreshold: 100, LThreshold: 50}}},
	}
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	got := kernelServices(t, k)
	v4 := kernel.IPVSService{Family: 4, Proto: 6, Addr: ap("10.0.0.1:80"), Sched: "wrr", Flags: kernel.IPVSFlagPersistent, Timeout: 360, Netmask: 0xffffff00}
	fwm := kernel.IPVSService{Family: 4, Fwmark: 5, Sched: "sh", Flags: kernel.IPVSFlagSched1 | kernel.IPVSFlagSched2, Netmask: 0xffffffff}
	v6 := kernel.IPVSService{Family: 6, Proto: 132, Addr: ap("[2001:db8::1]:9"), Sched: "mh", Flags: kernel.IPVSFlagPersistent, Timeout: 60, Netmask: 128}
	wantKernel := map[kernel.IPVSService][]kernel.IPVSDest{
		v4:  {{Addr: ap("10.0.1.1:8080"), Fwd: kernel.IPVSMasq, Weight: 3}, {Addr: ap("10.0.1.2:80"), Fwd: kernel.IPVSDRoute}},
		fwm: {{Addr: ap("10.0.1.3:0"), Fwd: kernel.IPVSTunnel, Weight: 1, TunType: 2, TunFlags: 1}},
		v6:  {{Addr: ap("[2001:db8::2]:9"), Fwd: kernel.IPVSMasq, Weight: 2, UThresh: 100, LThresh: 50}},
	}
	if !reflect.DeepEqual(got, wantKernel) {
		t.Errorf("kernel:\n got %+v\nwant %+v", got, wantKernel)
	}
	k.Calls()
	// A reload of the same configuration touches nothing.
	if err := s.Sync(ctx, want); err != nil {
		t.Fatal(err)
	}
	if calls := k.Calls(); len(calls) != 0 {
		t.Errorf("an unchanged sync changed the kernel: %q", calls)
	}
	// What Observe reads back is what Express says.
	observed, err := b.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range observed {
		i := slices.IndexFunc(want, func(w lvs.Service) bool { return w.ServiceKey == o.ServiceKey })
		e, _, _ := b.Express(want[i])
		e.Name, e.Pos = "", ""
		if len(lvs.Reconcile([]lvs.Service{e}, []lvs.Service{o})) != 0 {
			t.Errorf("observed %+v\n  expressed %+v", o, e)
		}
	}
}

func TestChangesAreTheFewestKernelOperations(t *testing.T) {
	b, k, _ := newBackend(t)
	s := lvs.NewSyncer(b, slog.New(slog.DiscardHandler))
	svc := tcp("10.0.0.1:80", dest("10.0.1.1:80", 1), dest("10.0.1.2:80", 1))
	if err := s.Sync(ctx, []lvs.Service{svc}); err != nil {
		t.Fatal(err)
	}
	k.Calls()
	steps := []struct {
		change func(*lvs.Service)
		calls  []string
	}{
		{func(s *lvs.Service) { s.Dests[1].Weight = 0 }, // inhibit_on_failure: weight 0
			[]string{"edit-dest tcp 10.0.0.1:80 -> 10.0.1.2:80 weight 0"}},
		{func(s *lvs.Service) { s.Dests = s.Dests[:1] }, // a failure without inhibit
			[]string{"del-dest tcp 10.0.0.1:80 -> 10.0.1.2:80 weight 0"}},
		{func(s *lvs.Service) { s.Scheduler = "wlc" },
			[]string{"edit-service tcp 10.0.0.1:80"}},
		{func(s *lvs.Service) { s.Dests[0].UThreshold = 5 },
			[]string{"edit-dest tcp 10.0.0.1:80 -> 10.0.1.1:80 weight 1"}},
	}
	for _, st := range steps {
		st.change(&svc)
		if err := s.Update(ctx, svc); err != nil {
			t.Fatal(err)
		}
		if got := k.Calls(); !slices.Equal(got, st.calls) {
			t.Errorf("calls %q, want %q", got, st.calls)
		}
	}
}

func TestOwnership(t *testing.T) {
	b, k, _ := newBackend(t)
	s := lvs.NewSyncer(b, slog.New(slog.DiscardHandler))
	// Made by hand (ipvsadm) before we start: a service of its own, and
	// one with the address of a configured one, with a destination of
	// its own.
	hand := kernel.IPVSService{Family: 4, Proto: 6, Addr: ap("10.9.9.9:80"), Sched: "rr", Netmask: 0xffffffff}
	handDest := kernel.IPVSDest{Addr: ap("10.9.9.10:80"), Weight: 1}
	shared := kernel.IPVSService{Family: 4, Proto: 6, Addr: ap("10.0.0.1:80"), Sched: "lc", Netmask: 0xffffffff}
	for _, err := range []error{k.AddService(hand), k.AddDest(hand, handDest), k.AddService(shared), k.AddDest(shared, handDest)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	k.Calls()
	svc := tcp("10.0.0.1:80", dest("10.0.1.1:80", 1))
	if err := s.Sync(ctx, []lvs.Service{svc, tcp("10.0.0.2:80", dest("10.0.1.1:80", 1))}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"edit-service tcp 10.0.0.1:80", // ours by configuration: scheduled as configured
		"add-dest tcp 10.0.0.1:80 -> 10.0.1.1:80 weight 1",
		"add-service tcp 10.0.0.2:80",
		"add-dest tcp 10.0.0.2:80 -> 10.0.1.1:80 weight 1",
	}
	if got := k.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q\nwant %q", got, want)
	}
	// A reload without 10.0.0.2 removes it, and leaves the rest alone.
	if err := s.Sync(ctx, []lvs.Service{svc}); err != nil {
		t.Fatal(err)
	}
	if got, want := k.Calls(), []string{"del-service tcp 10.0.0.2:80"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	// Made by hand while we run, with the key of a service we deleted:
	// not ours any more.
	again := kernel.IPVSService{Family: 4, Proto: 6, Addr: ap("10.0.0.2:80"), Sched: "rr", Netmask: 0xffffffff}
	if err := k.AddService(again); err != nil {
		t.Fatal(err)
	}
	k.Calls()
	if err := s.Sync(ctx, []lvs.Service{svc}); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"del-dest tcp 10.0.0.1:80 -> 10.0.1.1:80 weight 1",
		"del-service tcp 10.0.0.1:80",
	}
	if got := k.Calls(); !slices.Equal(got, want) {
		t.Errorf("release: calls %q\nwant %q", got, want)
	}
	left := kernelServices(t, k)
	_, hasAgain := left[again]
	if len(left) != 2 || len(left[hand]) != 1 || !hasAgain {
		t.Errorf("release left %+v, want the hand-made services only", left)
	}
}

func TestErrorsAsKeepalived(t *testing.T) {
	b, k, logs := newBackend(t)
	svc := tcp("10.0.0.1:80", dest("10.0.1.1:80", 1))
	e, _, _ := b.Express(svc)
	// The kernel already has what we add, has lost what we delete or
	// edit: as ipvs_talk, that is no error.
	ks := render(&e)
	if err := k.AddService(ks); err != nil {
		t.Fatal(err)
	}
	ops := []lvs.Op{
		{Kind: lvs.AddService, Service: &e},
		{Kind: lvs.EditDest, Service: &e, Dest: e.Dests[0]}, // gone: added
		{Kind: lvs.AddDest, Service: &e, Dest: e.Dests[0]},  // there: fine
		{Kind: lvs.DelDest, Service: &e, Dest: dest("10.0.1.9:80", 1)},
	}
	if err := b.Apply(ctx, ops); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	gone := tcp("10.0.0.7:80")
	if err := b.Apply(ctx, []lvs.Op{{Kind: lvs.DelService, Service: &gone}}); err != nil {
		t.Fatalf("deleting a service that is gone: %v", err)
	}
	for _, line := range []string{
		"IPVS cmd IP_VS_SO_SET_ADD(1154) error: Service already exists(17) (10.0.0.1:tcp:80)",
		"IPVS cmd IP_VS_SO_SET_ADDDEST(1159) error: Destination already exists(17) (10.0.0.1:tcp:80 -> 10.0.1.1:80)",
		"IPVS cmd IP_VS_SO_SET_DELDEST(1160) error: No such destination(2) (10.0.0.1:tcp:80 -> 10.0.1.9:80)",
		"IPVS cmd IP_VS_SO_SET_DEL(1156) error: No such file or directory(2) (10.0.0.7:tcp:80)",
	} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, logs)
		}
	}
	if strings.Contains(logs.String(), "EDITDEST") {
		t.Errorf("an edit that added logged an error:\n%s", logs)
	}
	if got := kernelServices(t, k)[ks]; len(got) != 1 {
		t.Errorf("destinations %+v", got)
	}
	// A real failure is an error, and the others still run.
	bad := tcp("10.0.0.8:80")
	bad.Scheduler = "nosuch"
	ebad, _, _ := b.Express(bad)
	other := tcp("10.0.0.9:80")
	eother, _, _ := b.Express(other)
	err := b.Apply(ctx, []lvs.Op{{Kind: lvs.AddService, Service: &ebad}, {Kind: lvs.AddService, Service: &eother}})
	if kernel.Errno(err) != syscall.ENOENT || !strings.Contains(logs.String(),
		"IPVS cmd IP_VS_SO_SET_ADD(1154) error: Scheduler or persistence engine not found(2) (10.0.0.8:tcp:80)") {
		t.Errorf("unknown scheduler: err %v\n%s", err, logs)
	}
	if _, ok := kernelServices(t, k)[render(&eother)]; !ok {
		t.Error("a failed operation stopped the next")
	}
	k.Fail = syscall.EPERM
	err = b.Apply(ctx, []lvs.Op{{Kind: lvs.DelService, Service: &eother}})
	if err == nil || !strings.Contains(logs.String(), "error: Permission denied (you must be root)(1) (10.0.0.9:tcp:80)") {
		t.Errorf("EPERM: %v\n%s", err, logs)
	}
}

func TestFwmarkAndIPv6Formats(t *testing.T) {
	for _, c := range []struct {
		s    kernel.IPVSService
		want string
	}{
		{kernel.IPVSService{Family: 4, Fwmark: 5}, "Fwm 5"},
		{kernel.IPVSService{Family: 6, Fwmark: 5}, "Fwm 5 inet6"},
		{kernel.IPVSService{Family: 6, Proto: 17, Addr: ap("[2001:db8::1]:53")}, "2001:db8::1:udp:53"},
	} {
		if got := formatService(c.s); got != c.want {
			t.Errorf("formatService(%v) = %q, want %q", c.s, got, c.want)
		}
	}
}

// Any sequence of desired states ends with the kernel holding the last
// one, read back equal to what Express says, whatever was made by hand
// beside it.
func TestRandomSequencesEndEqual(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 200 {
		b, k, _ := newBackend(t)
		s := lvs.NewSyncer(b, slog.New(slog.DiscardHandler))
		hand := kernel.IPVSService{Family: 4, Proto: 17, Addr: ap("10.9.9.9:53"), Sched: "rr", Netmask: 0xffffffff}
		if err := k.AddService(hand); err != nil {
			t.Fatal(err)
		}
		var last []lvs.Service
		for range 6 {
			last = randomServices(rng)
			var err error
			if rng.IntN(2) == 0 {
				err = s.Sync(ctx, last)
			} else {
				for _, x := range last {
					if err = s.Update(ctx, x); err != nil {
						break
					}
				}
				if err == nil {
					err = s.Sync(ctx, last)
				}
			}
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
		}
		observed, err := b.Observe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var want []lvs.Service
		for _, x := range last {
			e, _, _ := b.Express(x)
			e.Name, e.Pos = "", ""
			want = append(want, e)
		}
		if ops := lvs.Reconcile(want, observed); len(ops) != 0 {
			t.Fatalf("run %d: the kernel differs from the last state: %v", run, ops)
		}
		if _, ok := kernelServices(t, k)[hand]; !ok {
			t.Fatalf("run %d: the hand-made service went", run)
		}
	}
}

func randomServices(rng *rand.Rand) []lvs.Service {
	scheds := []string{"rr", "wrr", "wlc", "sh", "mh"}
	methods := []string{"NAT", "DR", "TUN"}
	var out []lvs.Service
	for i := range 4 {
		if rng.IntN(3) == 0 {
			continue
		}
		var s lvs.Service
		if i == 3 {
			s.ServiceKey = lvs.FwmarkKey(4, 7)
		} else {
			s.ServiceKey = lvs.AddrKey([]string{"tcp", "udp"}[rng.IntN(2)], netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + i)}), 80))
		}
		s.Scheduler = scheds[rng.IntN(len(scheds))]
		if rng.IntN(2) == 0 {
			s.Persistence = uint32(60 * (1 + rng.IntN(3)))
		}
		s.Flags = lvs.Flags(rng.IntN(4)) * lvs.FlagSched1
		for j := range rng.IntN(4) {
			d := lvs.Destination{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(1 + j)}), 80),
				Weight: rng.IntN(3), Method: methods[rng.IntN(3)]}
			if d.Method == "TUN" && rng.IntN(2) == 0 {
				d.Tunnel = lvs.Tunnel{Type: lvs.TunnelGUE, Port: 6080}
			}
			s.Dests = append(s.Dests, d)
		}
		out = append(out, s)
	}
	return out
}

// persistence_engine reaches the kernel with a persistent service only
// (ipvs_set_srule), is read back (an unchanged service is not edited)
// and an unknown engine is the kernel's ENOENT with keepalived's words.
func TestPersistenceEngine(t *testing.T) {
	b, k, logs := newBackend(t)
	s := lvs.NewSyncer(b, slog.New(slog.NewTextHandler(logs, nil)))
	sip := lvs.Service{ServiceKey: lvs.AddrKey("udp", ap("10.0.0.1:5060")), Scheduler: "rr", Persistence: 300, Engine: "sip",
		Dests: []lvs.Destination{dest("10.0.1.1:5060", 1)}}
	plain := lvs.Service{ServiceKey: lvs.AddrKey("udp", ap("10.0.0.2:5060")), Scheduler: "rr", Engine: "sip"}
	if err := s.Sync(ctx, []lvs.Service{sip, plain}); err != nil {
		t.Fatal(err)
	}
	for svc := range kernelServices(t, k) {
		want := ""
		if svc.Addr == ap("10.0.0.1:5060") {
			want = "sip"
		}
		if svc.PE != want {
			t.Errorf("%s: engine %q, want %q", svc, svc.PE, want)
		}
	}
	k.Calls()
	if err := s.Sync(ctx, []lvs.Service{sip, plain}); err != nil {
		t.Fatal(err)
	}
	if calls := k.Calls(); len(calls) != 0 {
		t.Errorf("the same services again: %q", calls)
	}
	sip.Engine = ""
	if err := s.Sync(ctx, []lvs.Service{sip, plain}); err != nil {
		t.Fatal(err)
	}
	if calls := k.Calls(); !reflect.DeepEqual(calls, []string{"edit-service udp 10.0.0.1:5060"}) {
		t.Errorf("engine removed: %q", calls)
	}
	sip.Engine = "nosuch"
	if err := s.Sync(ctx, []lvs.Service{sip, plain}); err == nil {
		t.Error("an unknown engine was accepted")
	}
	if want := "IPVS cmd IP_VS_SO_SET_EDIT(1155) error: Scheduler or persistence engine not found(2) (10.0.0.1:udp:5060)"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}

// batches counts the kernel's batches.
type batches struct {
	*kernel.FakeIPVS
	sizes []int
}

func (k *batches) Batch(ops []kernel.IPVSOp) []error {
	k.sizes = append(k.sizes, len(ops))
	return k.FakeIPVS.Batch(ops)
}

// Apply sends its operations together, up to each destination edit: an
// edit that finds the destination gone adds it before the next operation
// runs, as one call after another would.
func TestApplyBatches(t *testing.T) {
	k := &batches{FakeIPVS: &kernel.FakeIPVS{}}
	var logs bytes.Buffer
	b := New(k, slog.New(slog.NewTextHandler(&logs, nil)))
	svc, _, _ := b.Express(tcp("10.0.0.1:80", dest("10.0.1.1:80", 1), dest("10.0.1.2:80", 1), dest("10.0.1.3:80", 1)))
	ops := []lvs.Op{{Kind: lvs.AddService, Service: &svc}}
	for _, d := range svc.Dests {
		ops = append(ops, lvs.Op{Kind: lvs.AddDest, Service: &svc, Dest: d})
	}
	if err := b.Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(k.sizes, []int{4}) {
		t.Errorf("batches %v, want one of 4", k.sizes)
	}
	k.sizes = nil
	gone := dest("10.0.1.9:80", 2)
	edited := svc.Dests[0]
	edited.Weight = 5
	ops = []lvs.Op{
		{Kind: lvs.EditDest, Service: &svc, Dest: gone}, // gone: added...
		{Kind: lvs.DelDest, Service: &svc, Dest: gone},  // ...then deleted
		{Kind: lvs.EditDest, Service: &svc, Dest: edited},
		{Kind: lvs.DelDest, Service: &svc, Dest: svc.Dests[2]},
	}
	if err := b.Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
	// The edits end batches; the edit of the one gone is answered ENOENT,
	// then added alone.
	if !slices.Equal(k.sizes, []int{1, 1, 2, 1}) {
		t.Errorf("batches %v, want [1 1 2 1]", k.sizes)
	}
	got := kernelServices(t, k.FakeIPVS)[render(&svc)]
	want := []kernel.IPVSDest{renderDest(edited), renderDest(svc.Dests[1])}
	if !slices.Equal(got, want) {
		t.Errorf("destinations %+v\nwant %+v", got, want)
	}
	if logs.Len() != 0 {
		t.Errorf("logged:\n%s", &logs)
	}
}
