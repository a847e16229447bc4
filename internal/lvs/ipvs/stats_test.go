package ipvs

import (
	"log/slog"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// Stats reports IPVS's counters and rates of the services the backend
// owns and of its own destinations only: what an administrator added
// beside them is not ours to report.
func TestStatsAreThoseOfOurServicesAndDestinations(t *testing.T) {
	b, k, _ := newBackend(t)
	s := lvs.NewSyncer(b, slog.New(slog.DiscardHandler))
	if err := s.Sync(ctx, []lvs.Service{tcp("10.0.0.1:80", dest("10.0.0.2:80", 1), dest("10.0.0.3:80", 2))}); err != nil {
		t.Fatal(err)
	}
	// Someone else's service, and someone else's destination in ours.
	other := kernel.IPVSService{Family: 4, Proto: 6, Addr: ap("10.0.0.9:80"), Sched: "rr"}
	if err := k.AddService(other); err != nil {
		t.Fatal(err)
	}
	ours := kernel.IPVSService{Family: 4, Proto: 6, Addr: ap("10.0.0.1:80")}
	if err := k.AddDest(ours, kernel.IPVSDest{Addr: ap("10.0.0.4:80"), Weight: 1}); err != nil {
		t.Fatal(err)
	}
	kernel.SetFakeIPVSStats(ours, kernel.IPVSDest{}, kernel.IPVSStats{Conns: 5, InPkts: 50, OutPkts: 40, InBytes: 5000, OutBytes: 40000, CPS: 1, InBPS: 100})
	kernel.SetFakeIPVSStats(ours, kernel.IPVSDest{Addr: ap("10.0.0.3:80")}, kernel.IPVSStats{Conns: 3, InPkts: 30, OutBytes: 9})
	t.Cleanup(func() {
		kernel.SetFakeIPVSStats(ours, kernel.IPVSDest{}, kernel.IPVSStats{})
		kernel.SetFakeIPVSStats(ours, kernel.IPVSDest{Addr: ap("10.0.0.3:80")}, kernel.IPVSStats{})
	})

	st, ok, err := s.Stats(ctx)
	if err != nil || !ok {
		t.Fatalf("Stats: %v %v", ok, err)
	}
	if len(st) != 1 || st[0].ServiceKey != lvs.AddrKey("tcp", ap("10.0.0.1:80")) {
		t.Fatalf("Stats = %+v, want our one service", st)
	}
	got := st[0]
	if got.Counters != (lvs.Counters{Connections: 5, InPackets: 50, OutPackets: 40, InBytes: 5000, OutBytes: 40000}) ||
		got.Rates == nil || got.Rates.Connections != 1 || got.Rates.InBytes != 100 {
		t.Errorf("service counters %+v rates %+v", got.Counters, got.Rates)
	}
	if len(got.Dests) != 2 || got.Dests[0].Addr != ap("10.0.0.2:80") || got.Dests[1].Addr != ap("10.0.0.3:80") {
		t.Fatalf("destinations %+v, want our two", got.Dests)
	}
	if d := got.Dests[1]; d.Connections != 3 || d.InPackets != 30 || d.OutBytes != 9 || d.Active == nil || d.Inactive == nil {
		t.Errorf("destination %+v", d)
	}
}
