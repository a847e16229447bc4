// Command lvsscale measures what reconciling many virtual servers costs
// through the nftables backend, on this host, in a network namespace of
// its own (it has no interface but lo: nothing is sent):
//
//   - cold start: an empty table, -services virtual servers of -servers
//     real servers each;
//   - no-op reload: the same desired state synced again (-repeat times,
//     the median reported);
//   - one real server changed: one weight of one virtual server;
//   - a change by hand: `nft` flushes one service's chain in our table;
//     the next sync must repair it (and only it).
//
// For each: wall time, CPU time of the process (user+system, every
// thread), the kernel's nftables transactions (the ruleset generation,
// NFT_MSG_GETGEN, before and after) and the netlink requests the load
// balancer sent (dumps, gets and batches).
//
// With -conns, it measures new connections per second through an
// nftables VIP against directly to the real server instead (conns.go);
// with -qemu, keepalived-go against keepalived 2.2.7 programming IPVS
// from the same file in a QEMU guest (qemu.go); with -daemon, the whole
// daemon over nftables on this host (daemon.go). None runs in CI.
//
// Usage (root): go run ./test/lvsscale [-services 2000] [-servers 20] [-repeat 5] [-ipv6] [-persistent SECONDS] [-cpuprofile FILE]
//
//	go run ./test/lvsscale -conns [-services 2000] [-workers 8] [-round 3s] [-rounds 5]
//	go run ./test/lvsscale -qemu [-services 2000] [-servers 20] [-timeout 30m] [-samenetns] [-kgfirst] [-cpuprofile FILE | -daemonprofile FILE [-trash] [-reloads N]]
//	go run ./test/lvsscale -daemon [-services 2000] [-servers 20] [-bin KEEPALIVED-GO]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/lvs/nftables"
)

func main() {
	services := flag.Int("services", 2000, "virtual servers")
	servers := flag.Int("servers", 20, "real servers per virtual server")
	repeat := flag.Int("repeat", 5, "no-op reloads (the median is reported)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the no-op reloads to this file (with -qemu: of the syncer over IPVS in the guest, instead of the daemons)")
	ipv6 := flag.Bool("ipv6", false, "IPv6 virtual and real servers")
	flag.IntVar(&persistence, "persistent", 0, "persistence_timeout of every virtual server, in seconds (0: none)")
	flag.BoolVar(&readBack, "readback", false, "as before the generation check and batches: read the table back at every sync, one service per transaction")
	conns := flag.Bool("conns", false, "measure new connections per second through a VIP against directly (see conns.go)")
	workers := flag.Int("workers", 8, "with -conns: concurrent connecting goroutines")
	round := flag.Duration("round", 3*time.Second, "with -conns: one measurement")
	rounds := flag.Int("rounds", 5, "with -conns: rounds of each (the median is reported)")
	qemu := flag.Bool("qemu", false, "compare keepalived-go with keepalived programming IPVS in a QEMU guest (see qemu.go)")
	daemonProfile := flag.String("daemonprofile", "", "with -qemu: run keepalived-go alone in the guest under KEEPALIVED_GO_CPUPROFILE, cold start only, and write its CPU profile to this file")
	sameNetns := flag.Bool("samenetns", false, "with -qemu: run both daemons in the guest's network namespace, one after the other (as before; the second then pays for the first's deleted destinations, see runGuest)")
	reloads := flag.Int("reloads", 0, "with -qemu -daemonprofile: no-op reloads (SIGHUP) after the cold start, in the profile")
	kgFirst := flag.Bool("kgfirst", false, "with -qemu: keepalived-go first, then keepalived")
	trash := flag.Bool("trash", false, "with -qemu -daemonprofile: start and stop keepalived first, in the same namespace, leaving its deleted destinations in the kernel's trash")
	guestDaemon := flag.Int("guest-daemon", -1, "internal: measure this one of the guest's daemons (in a namespace of its own)")
	result := flag.String("result", "", "internal: with -guest-daemon, write the figures to this file")
	qemuTimeout := flag.Duration("timeout", 30*time.Minute, "with -qemu: bound for the guest's run")
	daemon := flag.Bool("daemon", false, "the whole daemon over nftables on this host, SIGHUP reloads (see daemon.go)")
	bin := flag.String("bin", "", "with -daemon: the keepalived-go binary (default: build it)")
	guest := flag.Bool("guest", false, "internal: the -qemu measurements, inside the guest")
	serve := flag.Int("serve", 0, "internal: answer TCP on this port")
	loadAddr := flag.String("load", "", "internal: connect to this address")
	loadSrc := flag.String("src", "", "internal: from this address")
	flag.Parse()
	switch {
	case *serve != 0:
		fmt.Fprintln(os.Stderr, serveOneByte(*serve))
		os.Exit(1)
	case *loadAddr != "":
		load(*loadAddr, *loadSrc, *workers, *round)
		return
	case *guestDaemon >= 0:
		if err := measureGuestDaemon(*guestDaemon, *services, *servers, *result); err != nil {
			fmt.Println("lvsscale: FAILED:", err)
			os.Exit(1)
		}
		return
	case *guest && *daemonProfile != "":
		if err := profileDaemonGuest(*services, *servers, *trash, *reloads); err != nil {
			fmt.Println("lvsscale: FAILED:", err)
		}
		return
	case *guest && *profile != "":
		if err := profileGuest(*services, *servers); err != nil {
			fmt.Println("lvsscale: FAILED:", err)
		}
		return
	case *guest:
		if err := runGuest(*services, *servers, *sameNetns, *kgFirst); err != nil {
			fmt.Println("lvsscale: FAILED:", err)
		}
		return
	case *qemu:
		if err := runQEMU(*services, *servers, *qemuTimeout, *profile, *daemonProfile, *sameNetns, *kgFirst, *trash, *reloads); err != nil {
			fmt.Fprintln(os.Stderr, "lvsscale:", err)
			os.Exit(1)
		}
		return
	case *daemon:
		if err := runDaemon(*services, *servers, *bin); err != nil {
			fmt.Fprintln(os.Stderr, "lvsscale:", err)
			os.Exit(1)
		}
		return
	case *conns:
		if err := runConns(*services, *workers, *round, *rounds); err != nil {
			fmt.Fprintln(os.Stderr, "lvsscale:", err)
			os.Exit(1)
		}
		return
	}
	if *ipv6 {
		vipBase, ripBase = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fd00::1")
	}
	if err := run(*services, *servers, *repeat, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "lvsscale:", err)
		os.Exit(1)
	}
}

var vipBase, ripBase = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("172.16.0.1")

// persistence is -persistent: every virtual server's persistence_timeout.
var persistence int

// desired are n virtual servers 10.x.y.z:80 of m real servers each
// (172.16.0.0/12 addresses, port 8080; with -ipv6, 2001:db8::/32 and
// fd00::/8), wrr with weights 1..3, persistent if -persistent.
func desired(n, m int) []lvs.Service {
	out := make([]lvs.Service, n)
	vip, rip := vipBase, ripBase
	for i := range out {
		s := lvs.Service{ServiceKey: lvs.AddrKey("tcp", netip.AddrPortFrom(vip, 80)), Scheduler: "wrr", Method: "NAT",
			Persistence: uint32(persistence)}
		s.Name = s.ServiceKey.String()
		for j := range m {
			s.Dests = append(s.Dests, lvs.Destination{Addr: netip.AddrPortFrom(rip, 8080), Weight: 1 + j%3, Method: "NAT"})
			rip = rip.Next()
		}
		out[i] = s
		vip = vip.Next()
	}
	return out
}

func clone(ss []lvs.Service) []lvs.Service {
	out := make([]lvs.Service, len(ss))
	for i, s := range ss {
		out[i] = s.Clone()
	}
	return out
}

// sample is one measured step.
type sample struct {
	wall, cpu time.Duration
	trans     uint32 // kernel transactions (generation delta)
	requests  uint64 // netlink requests sent by the load balancer
}

func (s sample) String() string {
	return fmt.Sprintf("wall %8.1f ms   CPU %8.1f ms   transactions %5d   netlink requests %5d",
		ms(s.wall), ms(s.cpu), s.trans, s.requests)
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run(n, m, repeat int, profile string) error {
	name := fmt.Sprintf("kglvsscale-%d", os.Getpid())
	lb, err := inNewNamespace(name)
	if err != nil {
		return err
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	defer lb.Close()
	var backend lvs.Backend = nftables.New(lb)
	if readBack {
		backend = oneByOne{backend}
	}
	syncer := lvs.NewSyncer(backend, slog.New(slog.DiscardHandler))
	want := desired(n, m)
	ctx := context.Background()
	measure := func(f func() error) (sample, error) {
		runtime.GC()
		g0, err := lb.Generation()
		if err != nil {
			return sample{}, err
		}
		r0 := lb.Requests()
		c0, t0 := cpuTime(), time.Now()
		err = f()
		s := sample{wall: time.Since(t0), cpu: cpuTime() - c0, requests: lb.Requests() - r0}
		g1, gerr := lb.Generation()
		s.trans = g1 - g0
		return s, cmpOr(err, gerr)
	}
	how := "the generation check, batches"
	if readBack {
		how = "-readback: reading back at every sync, one service per transaction"
	}
	fmt.Printf("%d virtual servers x %d real servers (wrr), nftables (%s), %s; GOMAXPROCS %d; load average %s\n",
		n, m, how, runtime.Version(), runtime.GOMAXPROCS(0), loadavg())
	cold, err := measure(func() error { return syncer.Sync(ctx, clone(want)) })
	if err != nil {
		return fmt.Errorf("cold start: %w", err)
	}
	fmt.Println("cold start:           ", cold)
	if err := verify(name, want); err != nil {
		return fmt.Errorf("after the cold start: %w", err)
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
	}
	var noops []sample
	for range repeat {
		s, err := measure(func() error { return syncer.Sync(ctx, clone(want)) })
		if err != nil {
			return fmt.Errorf("no-op reload: %w", err)
		}
		noops = append(noops, s)
	}
	if profile != "" {
		pprof.StopCPUProfile()
	}
	slices.SortFunc(noops, func(a, b sample) int { return int(a.cpu - b.cpu) })
	fmt.Println("no-op reload (median):", noops[len(noops)/2])
	want[n/2].Dests[m/2].Weight += 7
	one, err := measure(func() error { return syncer.Sync(ctx, clone(want)) })
	if err != nil {
		return fmt.Errorf("one real server changed: %w", err)
	}
	fmt.Println("one server changed:   ", one)
	if err := verify(name, want); err != nil {
		return fmt.Errorf("after one change: %w", err)
	}
	// A change by hand in our table: the next sync repairs it.
	victim := want[n/3]
	chain := fmt.Sprintf("vs-tcp-%s-%d", strings.ReplaceAll(victim.Addr.Addr().String(), ":", "_"), victim.Addr.Port())
	if out, err := exec.Command("ip", "netns", "exec", name, "nft", "flush", "chain", "inet", kernel.DefaultLBTable, chain).CombinedOutput(); err != nil {
		return fmt.Errorf("nft flush chain %s: %v %s", chain, err, out)
	}
	repair, err := measure(func() error { return syncer.Sync(ctx, clone(want)) })
	if err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	fmt.Println("repair of a hand edit:", repair)
	if err := verify(name, want); err != nil {
		return fmt.Errorf("after the repair: %w", err)
	}
	after, err := measure(func() error { return syncer.Sync(ctx, clone(want)) })
	if err != nil {
		return fmt.Errorf("no-op reload: %w", err)
	}
	fmt.Println("no-op after repair:   ", after)
	fmt.Printf("load average at the end: %s\n", loadavg())
	return nil
}

var readBack bool

// oneByOne is a backend as the nftables one was before the generation
// check and batches: not a Watcher (every sync reads the table back),
// one service per transaction.
type oneByOne struct{ lvs.Backend }

func (b oneByOne) Apply(ctx context.Context, ops []lvs.Op) error {
	var errs []error
	for i := 0; i < len(ops); {
		j := i + 1
		for j < len(ops) && ops[j].Service.ServiceKey == ops[i].Service.ServiceKey {
			j++
		}
		if err := b.Backend.Apply(ctx, ops[i:j]); err != nil {
			errs = append(errs, err)
		}
		i = j
	}
	return errors.Join(errs...)
}

// verify reads the table afresh (a new load balancer in the same
// namespace, without anything remembered) and compares it with want.
func verify(ns string, want []lvs.Service) error {
	fresh, err := lbIn(ns)
	if err != nil {
		return err
	}
	defer fresh.Close()
	b := nftables.New(fresh)
	got, err := b.Observe(context.Background())
	if err != nil {
		return err
	}
	var exp []lvs.Service
	for _, w := range want {
		e, ok, _ := b.Express(w.Clone())
		if !ok {
			return fmt.Errorf("%s: not expressed", w.Label())
		}
		e.Name, e.Pos = "", ""
		exp = append(exp, e)
	}
	if ops := lvs.Reconcile(exp, got); len(ops) != 0 {
		return fmt.Errorf("the table differs from the desired state: %d operations, first %s", len(ops), ops[0])
	}
	return nil
}

// lbIn makes a load balancer in the named namespace.
func lbIn(name string) (lb *kernel.NFTLoadBalancer, err error) {
	err = lab.InNamespace(name, func() (err error) {
		lb, err = kernel.NewNFTLoadBalancer("")
		return err
	})
	return lb, err
}

// inNewNamespace makes a named network namespace and a load balancer in
// it, from a locked thread that returns to this namespace after.
func inNewNamespace(name string) (*kernel.NFTLoadBalancer, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	defer h.Close()
	lb, lerr := kernel.NewNFTLoadBalancer("")
	if err := netns.Set(orig); err != nil {
		panic(err) // this thread must not run anything else in the namespace
	}
	if lerr != nil {
		exec.Command("ip", "netns", "del", name).Run()
	}
	return lb, lerr
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil || len(b) < 14 {
		return "?"
	}
	return string(b[:14])
}

func cmpOr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
