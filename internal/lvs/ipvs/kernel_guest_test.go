//go:build ipvsguest

package ipvs

// These tests run inside a QEMU guest whose kernel has IPVS (the host's
// has not): test/qemu builds this package's test binary with the
// ipvsguest tag, boots Debian's cloud kernel with it and runs
// `ipvs.test -test.run ^TestGuest`. They need root, ipvsadm and IPVS.

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/vishvananda/netns"
)

func openKernel(t *testing.T) kernel.IPVS {
	t.Helper()
	k, err := kernel.OpenIPVS()
	if err != nil {
		t.Fatalf("IPVS: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	flush(t)
	t.Cleanup(func() { flush(t) })
	return k
}

func flush(t *testing.T) {
	if out, err := exec.Command("ipvsadm", "-C").CombinedOutput(); err != nil {
		t.Fatalf("ipvsadm -C: %v %s", err, out)
	}
}

func ipvsadm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ipvsadm", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// scenario drives an IPVS through services and destinations of every
// kind, with the errors the kernel gives, and returns what it saw: the
// errno of each step and the table at the end (sorted: the kernel lists
// in hash order).
func scenario(k kernel.IPVS) []string {
	var out []string
	step := func(what string, err error) {
		out = append(out, fmt.Sprintf("%s: %v", what, kernel.Errno(err)))
	}
	v4 := kernel.IPVSService{Family: 4, Proto: 6, Addr: ap("10.0.0.1:80"), Sched: "rr", Netmask: 0xffffffff}
	udp6 := kernel.IPVSService{Family: 6, Proto: 17, Addr: ap("[2001:db8::1]:53"), Sched: "mh", Flags: kernel.IPVSFlagSched1, Netmask: 128}
	sctp := kernel.IPVSService{Family: 4, Proto: 132, Addr: ap("10.0.0.2:9"), Sched: "wlc", Netmask: 0xffffffff}
	fw4 := kernel.IPVSService{Family: 4, Fwmark: 5, Sched: "sh", Flags: kernel.IPVSFlagSched1 | kernel.IPVSFlagSched2, Netmask: 0xffffffff}
	fw6 := kernel.IPVSService{Family: 6, Fwmark: 5, Sched: "wrr", Flags: kernel.IPVSFlagPersistent, Timeout: 60, Netmask: 64}
	missing := kernel.IPVSService{Family: 4, Proto: 6, Addr: ap("10.0.0.9:80"), Sched: "rr", Netmask: 0xffffffff}
	for _, s := range []kernel.IPVSService{v4, udp6, sctp, fw4, fw6} {
		step("add "+s.String(), k.AddService(s))
	}
	step("add again", k.AddService(v4))
	bad := missing
	bad.Sched = "nosuch"
	step("add unknown scheduler", k.AddService(bad))
	bad6 := udp6
	bad6.Addr, bad6.Netmask = ap("[2001:db8::2]:53"), 0
	step("add IPv6 prefix 0", k.AddService(bad6))
	edited := v4
	edited.Sched, edited.Flags, edited.Timeout, edited.Netmask = "wrr", kernel.IPVSFlagPersistent|kernel.IPVSFlagOnePacket, 300, 0xffffff00
	step("edit", k.EditService(edited))
	step("edit missing", k.EditService(missing))
	step("delete missing", k.DelService(missing))
	nat := kernel.IPVSDest{Addr: ap("10.0.1.1:8080"), Fwd: kernel.IPVSMasq, Weight: 2}
	for _, d := range []kernel.IPVSDest{
		nat,
		{Addr: ap("10.0.1.2:80"), Fwd: kernel.IPVSDRoute, Weight: 1, UThresh: 100, LThresh: 10},
		{Addr: ap("10.0.1.3:80"), Fwd: kernel.IPVSTunnel, Weight: 1, TunType: 1, TunPort: 6080, TunFlags: 1},
		{Addr: ap("10.0.1.4:80"), Fwd: kernel.IPVSTunnel, Weight: 0, TunType: 2, TunFlags: 1},
		{Addr: ap("10.0.1.5:80"), Fwd: kernel.IPVSTunnel, Weight: 1, TunType: 1},
		{Addr: ap("[2001:db8::9]:80"), Fwd: kernel.IPVSMasq, Weight: 1},
		{Addr: ap("[2001:db8::9]:80"), Fwd: kernel.IPVSTunnel, Weight: 1},
		{Addr: ap("10.0.1.6:80"), Fwd: kernel.IPVSMasq, Weight: 1, LThresh: 10},
		{Addr: ap("10.0.1.7:80"), Fwd: kernel.IPVSMasq, Weight: 1, UThresh: 5, LThresh: 10},
	} {
		step(fmt.Sprintf("add dest %s fwd %d", d.Addr, d.Fwd), k.AddDest(v4, d))
	}
	step("add dest again", k.AddDest(v4, nat))
	step("add dest to missing", k.AddDest(missing, nat))
	nat.Weight = 5
	step("edit dest", k.EditDest(v4, nat))
	step("edit missing dest", k.EditDest(v4, kernel.IPVSDest{Addr: ap("10.0.1.99:80"), Weight: 1}))
	step("edit dest of missing", k.EditDest(missing, nat))
	step("delete missing dest", k.DelDest(v4, kernel.IPVSDest{Addr: ap("10.0.1.99:80")}))
	step("delete dest", k.DelDest(v4, kernel.IPVSDest{Addr: ap("10.0.1.5:80")}))
	step("delete dest of missing", k.DelDest(missing, nat))
	step("add dest udp6", k.AddDest(udp6, kernel.IPVSDest{Addr: ap("[2001:db8::2]:53"), Weight: 3}))
	step("add dest fw4", k.AddDest(fw4, kernel.IPVSDest{Addr: ap("10.0.1.1:0"), Fwd: kernel.IPVSDRoute, Weight: 1}))
	step("delete sctp", k.DelService(sctp))
	svcs, err := k.Services()
	step("list", err)
	var table []string
	for _, s := range svcs {
		ds, err := k.Dests(s)
		step("list dests", err)
		line := fmt.Sprintf("%+v:", s)
		var dl []string
		for _, d := range ds {
			dl = append(dl, fmt.Sprintf(" %+v", d))
		}
		slices.Sort(dl)
		table = append(table, line+strings.Join(dl, ""))
	}
	slices.Sort(table)
	ds, err := k.Dests(missing)
	step(fmt.Sprintf("list dests of missing (%d)", len(ds)), err)
	return append(out, table...)
}

// The fake answers as the kernel does: the same errors for the same
// steps, the same table at the end.
func TestGuestFakeAnswersAsTheKernel(t *testing.T) {
	real := scenario(openKernel(t))
	fake := scenario(&kernel.FakeIPVS{})
	t.Logf("the kernel:\n%s\n%s", strings.Join(real, "\n"), ipvsadm(t, "-Ln"))
	if !slices.Equal(real, fake) {
		for i := range max(len(real), len(fake)) {
			var r, f string
			if i < len(real) {
				r = real[i]
			}
			if i < len(fake) {
				f = fake[i]
			}
			if r != f {
				t.Errorf("kernel %q\n   fake %q", r, f)
			}
		}
	}
}

// counting records the changes the backend asks of the kernel.
type counting struct {
	kernel.IPVS
	mu    sync.Mutex
	calls []string
}

func (c *counting) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}

func (c *counting) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *counting) AddService(s kernel.IPVSService) error {
	c.note("add " + s.String())
	return c.IPVS.AddService(s)
}

func (c *counting) EditService(s kernel.IPVSService) error {
	c.note("edit " + s.String())
	return c.IPVS.EditService(s)
}

func (c *counting) DelService(s kernel.IPVSService) error {
	c.note("del " + s.String())
	return c.IPVS.DelService(s)
}

func (c *counting) AddDest(s kernel.IPVSService, d kernel.IPVSDest) error {
	c.note(fmt.Sprintf("add-dest %s %s", s, d.Addr))
	return c.IPVS.AddDest(s, d)
}

func (c *counting) EditDest(s kernel.IPVSService, d kernel.IPVSDest) error {
	c.note(fmt.Sprintf("edit-dest %s %s", s, d.Addr))
	return c.IPVS.EditDest(s, d)
}

func (c *counting) DelDest(s kernel.IPVSService, d kernel.IPVSDest) error {
	c.note(fmt.Sprintf("del-dest %s %s", s, d.Addr))
	return c.IPVS.DelDest(s, d)
}

// Batch records each change, then sends them all at once: the backend
// takes this path with a kernel.IPVSBatcher.
func (c *counting) Batch(ops []kernel.IPVSOp) []error {
	names := map[kernel.IPVSOpKind]string{kernel.IPVSAddService: "add", kernel.IPVSEditService: "edit", kernel.IPVSDelService: "del",
		kernel.IPVSAddDest: "add-dest", kernel.IPVSEditDest: "edit-dest", kernel.IPVSDelDest: "del-dest"}
	for _, op := range ops {
		if op.Kind >= kernel.IPVSAddDest {
			c.note(fmt.Sprintf("%s %s %s", names[op.Kind], op.Service, op.Dest.Addr))
		} else {
			c.note(names[op.Kind] + " " + op.Service.String())
		}
	}
	return c.IPVS.(kernel.IPVSBatcher).Batch(ops)
}

// batchScenario sends many changes in one Batch, more than one send's
// worth, with errors among them (EEXIST, ESRCH, ENOENT, EINVAL), and
// returns each one's errno and the table.
func batchScenario(k kernel.IPVS) []string {
	v4 := kernel.IPVSService{Family: 4, Proto: 6, Addr: ap("10.0.0.1:80"), Sched: "rr", Netmask: 0xffffffff}
	fw6 := kernel.IPVSService{Family: 6, Fwmark: 5, Sched: "wrr", Flags: kernel.IPVSFlagPersistent, Timeout: 60, Netmask: 64}
	missing := kernel.IPVSService{Family: 4, Proto: 6, Addr: ap("10.0.0.9:80"), Sched: "rr", Netmask: 0xffffffff}
	ops := []kernel.IPVSOp{{Kind: kernel.IPVSAddService, Service: v4}, {Kind: kernel.IPVSAddService, Service: fw6},
		{Kind: kernel.IPVSAddService, Service: v4}, {Kind: kernel.IPVSDelService, Service: missing}}
	for i := range 300 {
		d := kernel.IPVSDest{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i / 200), byte(i % 200)}), 80), Weight: uint32(i)}
		ops = append(ops, kernel.IPVSOp{Kind: kernel.IPVSAddDest, Service: v4, Dest: d})
		switch i % 7 {
		case 0:
			ops = append(ops, kernel.IPVSOp{Kind: kernel.IPVSAddDest, Service: v4, Dest: d}) // EEXIST
		case 1:
			d.Weight = 99
			ops = append(ops, kernel.IPVSOp{Kind: kernel.IPVSEditDest, Service: v4, Dest: d})
		case 2:
			ops = append(ops, kernel.IPVSOp{Kind: kernel.IPVSDelDest, Service: v4, Dest: d})
			ops = append(ops, kernel.IPVSOp{Kind: kernel.IPVSDelDest, Service: v4, Dest: d}) // ENOENT
		case 3:
			ops = append(ops, kernel.IPVSOp{Kind: kernel.IPVSAddDest, Service: missing, Dest: d}) // ESRCH
		case 4:
			d.LThresh = 5 // above uthreshold 0: ERANGE
			ops = append(ops, kernel.IPVSOp{Kind: kernel.IPVSEditDest, Service: v4, Dest: d})
		case 5:
			d6 := kernel.IPVSDest{Addr: netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 15: byte(i)}), 0), Fwd: kernel.IPVSDRoute, Weight: 1}
			ops = append(ops, kernel.IPVSOp{Kind: kernel.IPVSAddDest, Service: fw6, Dest: d6})
		}
	}
	ops = append(ops, kernel.IPVSOp{Kind: kernel.IPVSEditService, Service: missing}, kernel.IPVSOp{Kind: kernel.IPVSDelService, Service: fw6})
	var out []string
	for i, err := range k.(kernel.IPVSBatcher).Batch(ops) {
		out = append(out, fmt.Sprintf("%d %d %s %s: %v", i, op(ops[i].Kind), ops[i].Service, ops[i].Dest.Addr, kernel.Errno(err)))
	}
	svcs, err := k.Services()
	out = append(out, fmt.Sprintf("list: %v", err))
	for _, s := range svcs {
		ds, err := k.Dests(s)
		out = append(out, fmt.Sprintf("%+v: %d destinations, %v", s, len(ds), err))
		slices.SortFunc(ds, func(a, b kernel.IPVSDest) int { return a.Addr.Compare(b.Addr) })
		for _, d := range ds {
			out = append(out, fmt.Sprintf(" %+v", d))
		}
	}
	return out
}

func op(k kernel.IPVSOpKind) int { return int(k) }

// Many changes sent at once are answered each as the fake answers them
// one by one.
func TestGuestBatchAnswersAsTheFake(t *testing.T) {
	real := batchScenario(openKernel(t))
	fake := batchScenario(&kernel.FakeIPVS{})
	if len(real) < 400 {
		t.Fatalf("only %d lines", len(real))
	}
	for i := range max(len(real), len(fake)) {
		var r, f string
		if i < len(real) {
			r = real[i]
		}
		if i < len(fake) {
			f = fake[i]
		}
		if r != f {
			t.Errorf("kernel %q\n   fake %q", r, f)
		}
	}
}

// The backend against the real kernel: what `ipvsadm -Ln` shows of
// keepalived's settings, an unchanged sync that changes nothing, the
// fewest operations for a change, what was made by hand left alone, and
// release.
func TestGuestBackendAgainstTheKernel(t *testing.T) {
	k := &counting{IPVS: openKernel(t)}
	var logs strings.Builder
	var mu sync.Mutex
	b := New(k, slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)))
	s := lvs.NewSyncer(b, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	// By hand, as an operator would: a service of its own, and one with
	// the address of a configured service, with a destination of its own.
	ipvsadm(t, "-A", "-t", "10.9.9.9:80", "-s", "rr")
	ipvsadm(t, "-a", "-t", "10.9.9.9:80", "-r", "10.9.9.10:80", "-m")
	ipvsadm(t, "-A", "-t", "10.0.0.1:80", "-s", "lc")
	ipvsadm(t, "-a", "-t", "10.0.0.1:80", "-r", "10.9.9.11:80", "-m")

	web := lvs.Service{ServiceKey: lvs.AddrKey("tcp", ap("10.0.0.1:80")), Scheduler: "sh", Method: "NAT",
		Flags: lvs.FlagSched2, Persistence: 600, Granularity: 0xffffff00,
		Dests: []lvs.Destination{
			{Addr: ap("10.0.1.1:8080"), Weight: 3, Method: "NAT", UThreshold: 100, LThreshold: 10},
			{Addr: ap("10.0.1.2:80"), Weight: 1, Method: "DR"},
			{Addr: ap("10.0.1.3:80"), Weight: 1, Method: "TUN", Tunnel: lvs.Tunnel{Type: lvs.TunnelGUE, Port: 6080, Flags: lvs.TunnelChecksum}},
		}}
	dns := lvs.Service{ServiceKey: lvs.AddrKey("udp", ap("[2001:db8::1]:53")), Scheduler: "mh", Method: "NAT",
		Flags: lvs.FlagSched1 | lvs.FlagOnePacket,
		Dests: []lvs.Destination{{Addr: ap("[2001:db8::2]:53"), Weight: 2, Method: "NAT"}}}
	mark := lvs.Service{ServiceKey: lvs.FwmarkKey(4, 5), Scheduler: "wlc", Method: "DR",
		Dests: []lvs.Destination{{Addr: ap("10.0.1.4:80"), Weight: 1}}}
	desired := []lvs.Service{web, dns, mark}
	if err := s.Sync(ctx, desired); err != nil {
		t.Fatal(err)
	}
	table := ipvsadm(t, "-Ln")
	t.Logf("after the first sync:\n%s", table)
	for _, want := range []string{
		"TCP  10.0.0.1:80 sh (sh-port) persistent 600 mask 255.255.255.0",
		"-> 10.0.1.1:8080                Masq    3",
		"-> 10.0.1.2:80                  Route   1",
		"-> 10.0.1.3:80                  Tunnel  1",
		"-> 10.9.9.11:80                 Masq    1", // the hand-made destination stays
		"UDP  [2001:db8::1]:53 mh (mh-fallback) ops",
		"-> [2001:db8::2]:53             Masq    2",
		"FWM  5 wlc",
		"-> 10.0.1.4:0                   Route   1",
		"TCP  10.9.9.9:80 rr",
		"-> 10.9.9.10:80                 Masq    1",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("ipvsadm -Ln lacks %q", want)
		}
	}
	if tun := ipvsadm(t, "-Ln", "--tun-info"); !strings.Contains(tun, "gue") || !strings.Contains(tun, "6080") {
		t.Logf("ipvsadm -Ln --tun-info:\n%s", tun)
	}
	k.take()
	if err := s.Sync(ctx, desired); err != nil {
		t.Fatal(err)
	}
	if calls := k.take(); len(calls) != 0 {
		t.Errorf("an unchanged sync changed the kernel: %q", calls)
	}
	// A fresh backend (a restart with -I before) adopts the same table
	// without a change.
	b2 := New(k, slog.New(slog.DiscardHandler))
	if err := lvs.NewSyncer(b2, slog.New(slog.DiscardHandler)).Sync(ctx, desired); err != nil {
		t.Fatal(err)
	}
	if calls := k.take(); len(calls) != 0 {
		t.Errorf("a restart on the same table changed it: %q", calls)
	}
	// inhibit_on_failure (weight 0), then a removal: one operation each.
	web.Dests[0].Weight = 0
	if err := s.Update(ctx, web); err != nil {
		t.Fatal(err)
	}
	web.Dests = web.Dests[1:]
	if err := s.Update(ctx, web); err != nil {
		t.Fatal(err)
	}
	if calls, want := k.take(), []string{"edit-dest tcp 10.0.0.1:80 10.0.1.1:8080", "del-dest tcp 10.0.0.1:80 10.0.1.1:8080"}; !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	// By hand behind our back: our destination deleted. A sync puts it
	// back (EDITDEST finds nothing: added).
	ipvsadm(t, "-d", "-t", "10.0.0.1:80", "-r", "10.0.1.2:80")
	if err := s.Sync(ctx, []lvs.Service{web, dns, mark}); err != nil {
		t.Fatal(err)
	}
	if table := ipvsadm(t, "-Ln"); !strings.Contains(table, "-> 10.0.1.2:80                  Route   1") {
		t.Errorf("the destination deleted by hand is not back:\n%s", table)
	}
	if err := s.Release(ctx); err != nil {
		t.Fatal(err)
	}
	table = ipvsadm(t, "-Ln")
	t.Logf("after release:\n%s", table)
	if strings.Contains(table, "10.0.0.1:80") || strings.Contains(table, "2001:db8::1") || strings.Contains(table, "FWM") ||
		!strings.Contains(table, "TCP  10.9.9.9:80 rr") || !strings.Contains(table, "-> 10.9.9.10:80") {
		t.Errorf("release did not remove exactly ours")
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("IPVS errors:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// peScenario sets, keeps and drops a persistence engine (ip_vs_pe_sip):
// kept by an edit that names it, dropped by one that does not; an
// unknown one is ENOENT. It returns the errnos and the table.
func peScenario(k kernel.IPVS) []string {
	var out []string
	step := func(what string, err error) {
		out = append(out, fmt.Sprintf("%s: %v", what, kernel.Errno(err)))
	}
	sip := kernel.IPVSService{Family: 4, Proto: 17, Addr: ap("10.0.0.3:5060"), Sched: "rr", Flags: kernel.IPVSFlagPersistent,
		Timeout: 120, Netmask: 0xffffffff, PE: "sip"}
	step("add with engine", k.AddService(sip))
	sip.Sched = "wrr"
	step("edit with engine", k.EditService(sip))
	noPE := sip
	noPE.Addr, noPE.PE = ap("10.0.0.4:5060"), ""
	step("add without engine", k.AddService(noPE))
	noPE.PE = "sip"
	step("edit to an engine", k.EditService(noPE))
	sip.Addr = ap("10.0.0.5:5060")
	step("add with engine 2", k.AddService(sip))
	sip.PE = ""
	step("edit without engine", k.EditService(sip))
	badPE := sip
	badPE.Addr, badPE.PE = ap("10.0.0.6:5060"), "nosuch"
	step("add unknown engine", k.AddService(badPE))
	svcs, err := k.Services()
	step("list", err)
	var table []string
	for _, s := range svcs {
		table = append(table, fmt.Sprintf("%+v", s))
	}
	slices.Sort(table)
	return append(out, table...)
}

// The persistence engine against the kernel, in a network namespace of
// its own, so that its services and engines never meet the other
// tests'. The fake answers as the kernel; ipvsadm -Sn shows the engines.
func TestGuestPersistenceEngine(t *testing.T) {
	if out, err := exec.Command("/sbin/ip", "netns", "add", "pe").CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("/sbin/ip", "netns", "del", "pe").Run() })
	var k kernel.IPVS
	err := func() error {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer orig.Close()
		ns, err := netns.GetFromName("pe")
		if err != nil {
			return err
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			return err
		}
		defer netns.Set(orig)
		k, err = kernel.OpenIPVS() // its sockets stay in pe
		return err
	}()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	real := peScenario(k)
	fake := peScenario(&kernel.FakeIPVS{})
	out, _ := exec.Command("/sbin/ip", "netns", "exec", "pe", "ipvsadm", "-Sn").CombinedOutput()
	saved := string(out)
	t.Logf("the kernel:\n%s\n%s", strings.Join(real, "\n"), saved)
	if !slices.Equal(real, fake) {
		t.Errorf("the fake:\n%s", strings.Join(fake, "\n"))
	}
	for _, want := range []string{"-A -u 10.0.0.3:5060 -s wrr -p 120 --pe sip", "-A -u 10.0.0.4:5060 -s wrr -p 120 --pe sip",
		"-A -u 10.0.0.5:5060 -s wrr -p 120\n"} {
		if !strings.Contains(saved, want) {
			t.Errorf("ipvsadm -Sn lacks %q:\n%s", want, saved)
		}
	}
}
