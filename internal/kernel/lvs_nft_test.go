//go:build linux

package kernel

// NFTLoadBalancer tests: they need root and nft. Each runs in a network
// namespace of its own (no interface but lo: nothing is sent), deleted by
// t.Cleanup; the load balancer is created on a thread switched into it.

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// newLBNamespace makes a namespace and a load balancer in it.
func newLBNamespace(t *testing.T) (*NFTLoadBalancer, string) {
	t.Helper()
	nftNeedRoot(t)
	name := fmt.Sprintf("kglb-%d-%d", os.Getpid(), nftSeq.Add(1))
	nftCmd(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", name, err, out)
		}
	})
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var lb *NFTLoadBalancer
	inNamespace(t, h, func() {
		if lb, err = NewNFTLoadBalancer(""); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { lb.Close() })
	return lb, name
}

func nftIn(t *testing.T, ns string, args ...string) string {
	t.Helper()
	return nftCmd(t, append([]string{"ip", "netns", "exec", ns, "nft"}, args...)...)
}

func lbAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

var lbTestServices = []LBService{
	{LBKey: LBKey{Family: 4, Proto: 6, Addr: lbAP("198.51.100.100:80")}, Pick: LBRoundRobin,
		Slots: []netip.AddrPort{lbAP("10.0.0.2:8080"), lbAP("10.0.0.2:8080"), lbAP("10.0.0.3:80")}},
	{LBKey: LBKey{Family: 4, Proto: 17, Addr: lbAP("198.51.100.100:53")}, Pick: LBRoundRobin},
	{LBKey: LBKey{Family: 6, Proto: 6, Addr: lbAP("[2001:db8::100]:443")}, Pick: LBSourceHash,
		Slots: []netip.AddrPort{lbAP("[2001:db8::2]:443"), lbAP("[2001:db8::3]:443")}},
	{LBKey: LBKey{Family: 4, Fwmark: 5}, Pick: LBDestHash,
		Slots: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), 0)}},
	{LBKey: LBKey{Family: 6, Fwmark: 5}, Pick: LBRoundRobin,
		Slots: []netip.AddrPort{lbAP("[2001:db8::2]:25"), lbAP("[2001:db8::3]:25")}},
}

// What `nft list table` shows of them, one line each.
var lbTestLines = []string{
	"type nat hook prerouting priority dstnat; policy accept;",
	"type nat hook output priority -100; policy accept;",
	"meta nfproto ipv4 meta mark vmap @fwmarks_ip comment \"keepalived-go: IPv4 fwmark services\"",
	"meta l4proto . ip daddr . th dport vmap @services_ip comment \"keepalived-go: IPv4 services\"",
	"tcp . 198.51.100.100 . 80 : jump vs-tcp-198.51.100.100-80",
	"tcp . 2001:db8::100 . 443 : jump vs-tcp-2001_db8__100-443",
	"map vs-tcp-198.51.100.100-80 { type mark : ipv4_addr . inet_service elements = { 0x00000000 : 10.0.0.2 . 8080, 0x00000001 : 10.0.0.2 . 8080, 0x00000002 : 10.0.0.3 . 80 }",
	"chain vs-tcp-198.51.100.100-80 { meta l4proto tcp dnat ip to numgen inc mod 3 map @vs-tcp-198.51.100.100-80 }",
	"map vs-tcp-2001_db8__100-443 { type mark : ipv6_addr . inet_service elements = { 0x00000000 : 2001:db8::2 . 443, 0x00000001 : 2001:db8::3 . 443 }",
	"chain vs-tcp-2001_db8__100-443 { meta l4proto tcp dnat ip6 to jhash ip6 saddr mod 2 seed 0x6b656570 map @vs-tcp-2001_db8__100-443 }",
	"map vs-fwm-5-ip { type mark : ipv4_addr elements = { 0x00000000 : 10.0.0.2 }",
	"chain vs-fwm-5-ip { meta l4proto { tcp, udp, sctp } dnat ip to jhash ip daddr mod 1 seed 0x6b656570 map @vs-fwm-5-ip }",
	"chain vs-fwm-5-ip6 { meta l4proto { tcp, udp, sctp } dnat ip6 to numgen inc mod 2 map @vs-fwm-5-ip6 }",
	"chain vs-udp-198.51.100.100-53 { reject }",
}

// normalizeNFT collapses whitespace, so that lines compare whatever nft's
// indentation.
func normalizeNFT(s string) string {
	return regexp.MustCompile(`\s+`).ReplaceAllString(s, " ")
}

func TestNFTLoadBalancerWritesReadableRulesAndReadsThemBack(t *testing.T) {
	lb, ns := newLBNamespace(t)
	if got, err := lb.Services(); err != nil || len(got) != 0 {
		t.Fatalf("empty namespace: %v, %v", got, err)
	}
	if err := lb.Apply(lbTestServices, nil); err != nil {
		t.Fatal(err)
	}
	listing := nftIn(t, ns, "list", "table", "inet", DefaultLBTable)
	flat := normalizeNFT(listing)
	for _, l := range lbTestLines {
		if !strings.Contains(flat, normalizeNFT(l)) {
			t.Errorf("nft list lacks %q", l)
		}
	}
	if t.Failed() {
		t.Fatal(listing)
	}
	got, err := lb.Services()
	if err != nil {
		t.Fatal(err)
	}
	if want := sortedLB(lbTestServices); !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n got %+v\nwant %+v", got, want)
	}
}

// The same layout written by nft itself (with typeof maps: nft will not
// load a `type mark` map behind numgen, which is why `nft list` output
// of our table does not load back) reads as the same services: the
// decoder reads what the kernel holds, not what we meant. (The jhash map
// is declared with numgen's typeof: nft 1.x crashes listing a `typeof
// jhash` map.)
func TestNFTLoadBalancerReadsWhatNftWrites(t *testing.T) {
	lb, ns := newLBNamespace(t)
	script := `table inet keepalived-lvs {
	map services_ip { type inet_proto . ipv4_addr . inet_service : verdict; elements = { tcp . 198.51.100.100 . 80 : jump vs-tcp-198.51.100.100-80 } }
	map services_ip6 { type inet_proto . ipv6_addr . inet_service : verdict; elements = { tcp . 2001:db8::100 . 443 : jump vs-tcp-2001_db8__100-443 } }
	map fwmarks_ip { type mark : verdict; }
	map fwmarks_ip6 { type mark : verdict; }
	map vs-tcp-198.51.100.100-80 { typeof numgen inc mod 3 : ip daddr . tcp dport; elements = { 0 : 10.0.0.2 . 8080, 1 : 10.0.0.2 . 8080, 2 : 10.0.0.3 . 80 } }
	map vs-tcp-2001_db8__100-443 { typeof numgen inc mod 2 : ip6 daddr . tcp dport; elements = { 0 : 2001:db8::2 . 443, 1 : 2001:db8::3 . 443 } }
	chain vs-tcp-198.51.100.100-80 { meta l4proto tcp dnat ip to numgen inc mod 3 map @vs-tcp-198.51.100.100-80; }
	chain vs-tcp-2001_db8__100-443 { meta l4proto tcp dnat ip6 to jhash ip6 saddr mod 2 seed 0x6b656570 map @vs-tcp-2001_db8__100-443; }
}
`
	path := t.TempDir() + "/lvs.nft"
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	nftIn(t, ns, "-f", path)
	want := sortedLB([]LBService{lbTestServices[0], lbTestServices[2]})
	if got, err := lb.Services(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read %+v, %v\nwant %+v", got, err, want)
	}
	// Without our dispatch rules the base is not ours: the next change
	// rebuilds it, and keeps the services.
	if err := lb.Apply(lbTestServices[1:2], nil); err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(ruleHandles(t, ns)["prerouting"])); n != 4 {
		t.Fatalf("prerouting has %d rules", n)
	}
	want = sortedLB(lbTestServices[:3])
	if got, err := lb.Services(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read %+v, %v\nwant %+v", got, err, want)
	}
}

func sortedLB(in []LBService) []LBService {
	out := append([]LBService(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if lbKeyLess(out[j].LBKey, out[i].LBKey) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// ruleHandles maps each chain to its rules' handles, from nft -a.
func ruleHandles(t *testing.T, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	chain := ""
	for _, l := range strings.Split(nftIn(t, ns, "-a", "list", "table", "inet", DefaultLBTable), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "chain ") {
			chain = strings.Fields(l)[1]
		} else if i := strings.Index(l, "# handle "); i >= 0 && chain != "" && !strings.HasPrefix(l, "type ") {
			out[chain] += l[i+len("# handle "):] + " "
		}
	}
	return out
}

// A change rewrites its service's chain only; a deletion removes the
// element and the chain; other services keep their rules (and their
// round-robin counters).
func TestNFTLoadBalancerChangesOnlyTheServiceItIsGiven(t *testing.T) {
	lb, ns := newLBNamespace(t)
	if err := lb.Apply(lbTestServices, nil); err != nil {
		t.Fatal(err)
	}
	before := ruleHandles(t, ns)
	changed := lbTestServices[0]
	changed.Slots = changed.Slots[2:]
	if err := lb.Apply([]LBService{changed}, []LBKey{lbTestServices[1].LBKey}); err != nil {
		t.Fatal(err)
	}
	after := ruleHandles(t, ns)
	for chain, h := range before {
		switch chain {
		case "vs-tcp-198.51.100.100-80":
			if after[chain] == h {
				t.Errorf("%s not rewritten", chain)
			}
		case "vs-udp-198.51.100.100-53":
			if _, ok := after[chain]; ok {
				t.Errorf("%s not deleted", chain)
			}
		default:
			if after[chain] != h {
				t.Errorf("%s touched: handles %s -> %s", chain, h, after[chain])
			}
		}
	}
	listing := normalizeNFT(nftIn(t, ns, "list", "table", "inet", DefaultLBTable))
	if !strings.Contains(listing, "elements = { 0x00000000 : 10.0.0.3 . 80 }") || !strings.Contains(listing, "numgen inc mod 1 map") || strings.Contains(listing, "udp . 198.51.100.100 . 53") {
		t.Fatalf("after the change:\n%s", listing)
	}
	want := sortedLB(append([]LBService{changed}, lbTestServices[2:]...))
	if got, err := lb.Services(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, %v", got, err)
	}
}

// Hand-made damage is seen and repaired by the next change: a missing
// dispatch rule, a service chain changed by hand, a table deleted behind
// our back.
func TestNFTLoadBalancerRepairsDamage(t *testing.T) {
	lb, ns := newLBNamespace(t)
	if err := lb.Apply(lbTestServices[:1], nil); err != nil {
		t.Fatal(err)
	}
	handles := strings.Fields(ruleHandles(t, ns)["prerouting"])
	nftIn(t, ns, "delete", "rule", "inet", DefaultLBTable, "prerouting", "handle", handles[0])
	nftIn(t, ns, "add", "rule", "inet", DefaultLBTable, "vs-tcp-198.51.100.100-80", "counter")
	got, err := lb.Services()
	if err != nil || len(got) != 1 || got[0].Pick != LBUnknown {
		t.Fatalf("damaged service read as %+v, %v", got, err)
	}
	if err := lb.Apply(lbTestServices[:1], nil); err != nil {
		t.Fatal(err)
	}
	if got, err := lb.Services(); err != nil || !reflect.DeepEqual(got, lbTestServices[:1]) {
		t.Fatalf("after repair %+v, %v", got, err)
	}
	if n := len(strings.Fields(ruleHandles(t, ns)["prerouting"])); n != 4 {
		t.Fatalf("prerouting has %d rules after repair", n)
	}
	// The load balancer believes the table is there: the change fails,
	// and is retried at once on what the kernel holds.
	nftIn(t, ns, "delete", "table", "inet", DefaultLBTable)
	if err := lb.Apply(lbTestServices[1:2], nil); err != nil {
		t.Fatal(err)
	}
	if got, err := lb.Services(); err != nil || !reflect.DeepEqual(got, lbTestServices[1:2]) {
		t.Fatalf("after the table was deleted: %+v, %v", got, err)
	}
}

// Entries of other tables, and chains of our table that are not
// services, are left alone; Delete removes our table only.
func TestNFTLoadBalancerLeavesOthersAlone(t *testing.T) {
	lb, ns := newLBNamespace(t)
	nftIn(t, ns, "add", "table", "inet", "other")
	nftIn(t, ns, "add", "chain", "inet", "other", "c")
	nftIn(t, ns, "add", "rule", "inet", "other", "c", "counter")
	if err := lb.Apply(lbTestServices, nil); err != nil {
		t.Fatal(err)
	}
	nftIn(t, ns, "add", "chain", "inet", DefaultLBTable, "mine")
	if err := lb.Apply(nil, []LBKey{lbTestServices[0].LBKey}); err != nil {
		t.Fatal(err)
	}
	listing := nftIn(t, ns, "list", "table", "inet", DefaultLBTable)
	if !strings.Contains(listing, "chain mine") {
		t.Fatalf("an administrator's chain went:\n%s", listing)
	}
	if err := lb.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := lb.Delete(); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	all := nftIn(t, ns, "list", "ruleset")
	if strings.Contains(all, DefaultLBTable) || !strings.Contains(all, "table inet other") {
		t.Fatalf("after Delete:\n%s", all)
	}
}

func TestNFTLoadBalancerRefusesBadServices(t *testing.T) {
	bad := []LBService{
		{LBKey: LBKey{Family: 4, Proto: 1, Addr: lbAP("198.51.100.1:80")}},
		{LBKey: LBKey{Family: 6, Proto: 6, Addr: lbAP("198.51.100.1:80")}},
		{LBKey: LBKey{Family: 4, Fwmark: 1, Proto: 6}},
		{LBKey: LBKey{Family: 4, Proto: 6, Addr: lbAP("198.51.100.1:80")}, Slots: []netip.AddrPort{lbAP("[2001:db8::1]:80")}},
		{LBKey: LBKey{Family: 4, Fwmark: 1}, Slots: []netip.AddrPort{lbAP("10.0.0.1:80"), netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), 0)}},
	}
	for _, s := range bad {
		if err := lbCheck(s); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}

// Unchanged follows the ruleset generation: true after a whole read and
// through the load balancer's own writes (each one transaction, the
// generation one more), false after any other change in the namespace
// (a hand edit of our table, another table), until the next whole read.
func TestNFTLoadBalancerUnchangedFollowsTheGeneration(t *testing.T) {
	lb, ns := newLBNamespace(t)
	unchanged := func(want bool, when string) {
		t.Helper()
		if got, err := lb.Unchanged(); err != nil || got != want {
			t.Fatalf("%s: Unchanged %v, %v; want %v", when, got, err, want)
		}
	}
	unchanged(false, "never read")
	if _, err := lb.Services(); err != nil {
		t.Fatal(err)
	}
	unchanged(true, "after a read")
	g0, err := lb.Generation()
	if err != nil {
		t.Fatal(err)
	}
	if err := lb.Apply(lbTestServices, nil); err != nil {
		t.Fatal(err)
	}
	changed := lbTestServices[0]
	changed.Slots = changed.Slots[2:]
	if err := lb.Apply([]LBService{changed}, nil); err != nil {
		t.Fatal(err)
	}
	if g1, err := lb.Generation(); err != nil || g1 != g0+2 {
		t.Fatalf("generation %d after two writes from %d (%v)", g1, g0, err)
	}
	unchanged(true, "after our own writes")
	nftIn(t, ns, "add", "table", "inet", "someone-else")
	unchanged(false, "after another table was added")
	if err := lb.Apply([]LBService{lbTestServices[0]}, nil); err != nil {
		t.Fatal(err)
	}
	unchanged(false, "after our write that followed another's")
	if _, err := lb.Services(); err != nil {
		t.Fatal(err)
	}
	unchanged(true, "after a new read")
	nftIn(t, ns, "flush", "chain", "inet", DefaultLBTable, "vs-tcp-198.51.100.100-80")
	unchanged(false, "after a hand edit of our table")
	if got, err := lb.Services(); err != nil || got[slices.IndexFunc(got, func(s LBService) bool { return s.LBKey == lbTestServices[0].LBKey })].Pick != LBUnknown {
		t.Fatalf("the hand edit is not seen: %+v, %v", got, err)
	}
	unchanged(true, "after reading the hand edit")
}

// Persistent services: the pins map (dynamic, with the timeout) and the
// destinations set are written, nft reads the rules, and the services
// read back as written, idle destinations and masks included. A
// rewrite that keeps the timeout, mask and kind of destination keeps
// the pins (a client pinned to a server that stays does not move);
// changing the timeout starts them afresh.
func TestNFTLoadBalancerPersistence(t *testing.T) {
	lb, ns := newLBNamespace(t)
	v4 := LBService{LBKey: LBKey{Family: 4, Proto: 6, Addr: lbAP("198.51.100.100:80")}, Pick: LBRoundRobin,
		Slots:   []netip.AddrPort{lbAP("10.0.0.2:80"), lbAP("10.0.0.3:80")},
		Idle:    []netip.AddrPort{lbAP("10.0.0.4:80")},
		Persist: LBPersist{Timeout: 300, Mask: netip.MustParseAddr("255.255.255.0")}}
	v6 := LBService{LBKey: LBKey{Family: 6, Proto: 17, Addr: lbAP("[2001:db8::100]:53")}, Pick: LBRoundRobin,
		Idle:    []netip.AddrPort{lbAP("[2001:db8::2]:53")},
		Persist: LBPersist{Timeout: 60, Mask: netip.MustParseAddr("ffff:ffff:ffff:ffff::")}}
	fw := LBService{LBKey: LBKey{Family: 4, Fwmark: 7}, Pick: LBSourceHash,
		Slots:   []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), 0)},
		Persist: LBPersist{Timeout: 3600, Mask: netip.MustParseAddr("255.255.255.255")}}
	if err := lb.Apply([]LBService{v4, v6, fw}, nil); err != nil {
		t.Fatal(err)
	}
	listing := nftIn(t, ns, "list", "table", "inet", DefaultLBTable)
	flat := normalizeNFT(listing)
	for _, l := range []string{
		"meta l4proto tcp ip saddr & 255.255.255.0 == @vs-tcp-198.51.100.100-80-10.0.0.4-80 jump vs-tcp-198.51.100.100-80-10.0.0.4-80",
		"meta l4proto tcp numgen inc mod 2 vmap @vs-tcp-198.51.100.100-80 }",
		"chain vs-tcp-198.51.100.100-80-10.0.0.2-80 { meta l4proto tcp update @vs-tcp-198.51.100.100-80-10.0.0.2-80 { ip saddr & 255.255.255.0 } meta l4proto tcp dnat ip to 10.0.0.2:80 }",
		"meta l4proto udp ip6 saddr & ffff:ffff:ffff:ffff:: == @vs-udp-2001_db8__100-53-2001_db8__2-53 jump vs-udp-2001_db8__100-53-2001_db8__2-53 reject }",
		"meta l4proto { tcp, udp, sctp } jhash ip saddr mod 1 seed 0x6b656570 vmap @vs-fwm-7-ip",
		"chain vs-fwm-7-ip-10.0.0.2 { meta l4proto { tcp, udp, sctp } update @vs-fwm-7-ip-10.0.0.2 { ip saddr } meta l4proto { tcp, udp, sctp } dnat ip to 10.0.0.2 }",
		"set vs-tcp-198.51.100.100-80-10.0.0.4-80 { type ipv4_addr size 1048576 flags dynamic,timeout timeout 5m }",
		"set vs-udp-2001_db8__100-53-2001_db8__2-53 { type ipv6_addr size 1048576 flags dynamic,timeout timeout 1m }",
	} {
		if !strings.Contains(flat, normalizeNFT(l)) {
			t.Errorf("nft list lacks %q", l)
		}
	}
	if t.Failed() {
		t.Fatal(listing)
	}
	got, err := lb.Services()
	if err != nil {
		t.Fatal(err)
	}
	if want := sortedLB([]LBService{v4, v6, fw}); !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n got %+v\nwant %+v", got, want)
	}

	// A client pinned by hand (as the destination's chain pins it); the
	// service rewritten with other servers: the pins of a server that
	// stays stay, a server removed goes with its pins.
	const pins3 = "vs-tcp-198.51.100.100-80-10.0.0.3-80"
	hasPin := func() bool {
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "set", "inet", DefaultLBTable, pins3).CombinedOutput()
		return err == nil && strings.Contains(string(out), "192.0.2.0")
	}
	nftIn(t, ns, "add", "element", "inet", DefaultLBTable, pins3, "{ 192.0.2.0 }")
	v4.Slots = []netip.AddrPort{lbAP("10.0.0.3:80")}
	v4.Idle = []netip.AddrPort{lbAP("10.0.0.2:80")}
	for _, fresh := range []bool{false, true} { // the view as written, then as read back
		if fresh {
			if _, err := lb.Services(); err != nil {
				t.Fatal(err)
			}
			v4.Idle = nil
		}
		if err := lb.Apply([]LBService{v4}, nil); err != nil {
			t.Fatal(err)
		}
		if !hasPin() {
			t.Fatalf("a rewrite (fresh view %v) lost the pins:\n%s", fresh, nftIn(t, ns, "list", "table", "inet", DefaultLBTable))
		}
		if l := nftIn(t, ns, "list", "table", "inet", DefaultLBTable); strings.Contains(l, "10.0.0.4-80") || fresh && strings.Contains(l, "10.0.0.2-80") {
			t.Fatalf("a removed server's chain or pins stay:\n%s", l)
		}
		got, err := lb.Services()
		if err != nil {
			t.Fatal(err)
		}
		if want := sortedLB([]LBService{v4, v6, fw}); !reflect.DeepEqual(got, want) {
			t.Fatalf("read back\n got %+v\nwant %+v", got, want)
		}
	}
	v4.Persist.Timeout = 30
	if err := lb.Apply([]LBService{v4}, nil); err != nil {
		t.Fatal(err)
	}
	if hasPin() || !strings.Contains(nftIn(t, ns, "list", "set", "inet", DefaultLBTable, pins3), "timeout 30s") {
		t.Fatalf("a new timeout kept the old pins:\n%s", nftIn(t, ns, "list", "table", "inet", DefaultLBTable))
	}
	// Without persistence the chains and sets go.
	v4.Persist, v4.Idle = LBPersist{}, nil
	if err := lb.Apply([]LBService{v4}, []LBKey{v6.LBKey}); err != nil {
		t.Fatal(err)
	}
	if l := nftIn(t, ns, "list", "table", "inet", DefaultLBTable); strings.Contains(l, "198.51.100.100-80-") || strings.Contains(l, "2001_db8__100-53") ||
		!strings.Contains(l, "vs-fwm-7-ip-10.0.0.2") {
		t.Fatalf("persistence chains left behind, or taken from another service:\n%s", l)
	}
	got, err = lb.Services()
	if err != nil {
		t.Fatal(err)
	}
	if want := sortedLB([]LBService{v4, fw}); !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n got %+v\nwant %+v", got, want)
	}
}
