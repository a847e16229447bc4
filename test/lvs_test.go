package test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// Load balancing through nftables, as a user sees it: a director
// namespace runs keepalived-go with a virtual server on a VIP, two web
// namespaces answer each connection with their name, a client namespace
// connects to the VIP. The real servers route the client back through
// the director, as LVS NAT needs.
//
//	director 198.51.100.10  2001:db8::a   VIPs 198.51.100.100, 2001:db8::100
//	web1     198.51.100.11  2001:db8::b
//	web2     198.51.100.12  2001:db8::c
//	client   198.51.100.13  2001:db8::d

var (
	lvsVIP4 = netip.MustParseAddr("198.51.100.100")
	lvsVIP6 = netip.MustParseAddr("2001:db8::100")
)

const lvsTable = "keepalived-lvs"

// webServer answers every connection with its name, in its namespace,
// until stopped; start opens it again.
type webServer struct {
	t    *testing.T
	host *lab.Host
	mu   sync.Mutex
	ln   net.Listener
}

func newWebServer(t *testing.T, h *lab.Host) *webServer {
	w := &webServer{t: t, host: h}
	w.start()
	t.Cleanup(w.stop)
	return w
}

func (w *webServer) start() {
	w.t.Helper()
	var ln net.Listener
	if err := inNamespace(w.host.NS, func() (err error) {
		ln, err = net.Listen("tcp", ":80") // IPv4 and IPv6
		return err
	}); err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	w.ln = ln
	w.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", w.host.Name)
			c.Close()
		}
	}()
}

func (w *webServer) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ln != nil {
		w.ln.Close()
		w.ln = nil
	}
}

// ask connects from host h to addr:80 and returns the name that answered
// ("" and the error if none did).
func ask(h *lab.Host, addr netip.Addr) (string, error) {
	var c net.Conn
	if err := inNamespace(h.NS, func() (err error) {
		c, err = net.DialTimeout("tcp", netip.AddrPortFrom(addr, 80).String(), time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	name, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(name), err
}

// askMany connects n times and counts the answers by name ("error: ..."
// for failures).
func askMany(h *lab.Host, addr netip.Addr, n int) map[string]int {
	out := map[string]int{}
	for range n {
		name, err := ask(h, addr)
		if err != nil {
			name = "error: " + err.Error()
		}
		out[name]++
	}
	return out
}

// nftTable is the director's table as `nft list table` shows it, less
// the counters' sets (rs_stats_ip, rs_conns_ip...), which keep a real
// server's counters after it left its service's slots.
func nftTable(h *lab.Host) string {
	out, err := h.Command("nft", "list", "table", "inet", lvsTable).CombinedOutput()
	if err != nil {
		return "(no table: " + strings.TrimSpace(string(out)) + ")"
	}
	var b strings.Builder
	skip := false
	for _, l := range strings.SplitAfter(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "\tset rs_"):
			skip = true
		case skip && l == "\t}\n":
			skip = false
		case !skip:
			b.WriteString(l)
		}
	}
	return b.String()
}

// waitTable waits (at most d) until the director's table satisfies cond.
func waitTable(t *testing.T, d time.Duration, director *lab.Host, what string, cond func(string) bool) {
	t.Helper()
	if err := lab.WaitUntil(what, d, func() bool { return cond(nftTable(director)) }); err != nil {
		t.Fatalf("%v\n%s", err, nftTable(director))
	}
}

func shows(addrs ...string) func(string) bool {
	return func(table string) bool {
		for _, a := range addrs {
			if !strings.Contains(table, a+" . 80") {
				return false
			}
		}
		return true
	}
}

// lvsConf is a virtual server on each VIP, port 80, round robin over the
// web hosts' addresses with a TCP_CHECK each.
func lvsConf(webs ...*lab.Host) string {
	rs := func(addr netip.Addr) string {
		return fmt.Sprintf(`    real_server %s 80 {
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
            warmup 0
        }
    }
`, addr)
	}
	var b strings.Builder
	for _, vip := range []netip.Addr{lvsVIP4, lvsVIP6} {
		fmt.Fprintf(&b, "virtual_server %s 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", vip)
		for _, w := range webs {
			if vip.Is4() {
				b.WriteString(rs(w.IPv4))
			} else {
				b.WriteString(rs(w.IPv6))
			}
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// run runs a command in a host, failing the test if it fails.
func run(t *testing.T, h *lab.Host, name string, args ...string) {
	t.Helper()
	if out, err := h.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), h.Name, err, out)
	}
}

func lvsLab(t *testing.T) (l *lab.Lab, director, web1, web2, client *lab.Host) {
	t.Helper()
	needRoot(t, "nft", "sysctl")
	l = newLab(t, "director", "web1", "web2", "client")
	director, web1, web2, client = l.Host("director"), l.Host("web1"), l.Host("web2"), l.Host("client")
	run(t, director, "ip", "addr", "add", lvsVIP4.String()+"/32", "dev", "eth0")
	run(t, director, "ip", "addr", "add", lvsVIP6.String()+"/128", "dev", "eth0", "nodad")
	// LVS NAT: the director forwards, and sends no redirect that would
	// send the real servers' replies around it.
	run(t, director, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
		"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0")
	for _, web := range []*lab.Host{web1, web2} {
		run(t, web, "ip", "route", "add", client.IPv4.String()+"/32", "via", director.IPv4.String())
		run(t, web, "ip", "-6", "route", "add", client.IPv6.String()+"/128", "via", director.IPv6.String())
		run(t, web, "sysctl", "-qw", "net.ipv4.conf.all.accept_redirects=0", "net.ipv4.conf.eth0.accept_redirects=0",
			"net.ipv6.conf.all.accept_redirects=0", "net.ipv6.conf.eth0.accept_redirects=0")
	}
	return l, director, web1, web2, client
}

// TestLVSNftablesBalancesAndFollowsTheCheckers: both web servers take the
// client's connections (IPv4 and IPv6, and the director's own); one that
// stops is taken out by its TCP_CHECK (after its retry) and takes no more
// traffic, and `nft list table` no longer shows it; started again, it
// comes back. At stop the table goes.
func TestLVSNftablesBalancesAndFollowsTheCheckers(t *testing.T) {
	_, director, web1, web2, client := lvsLab(t)
	newWebServer(t, web1)
	w2 := newWebServer(t, web2)
	p := startKGConf(t, director, lvsConf(web1, web2))
	w1v4, w1v6, w2v4, w2v6 := web1.IPv4.String(), web1.IPv6.String(), web2.IPv4.String(), web2.IPv6.String()
	all := []string{w1v4, w2v4, w1v6, w2v6}
	waitTable(t, 10*time.Second, director, "the table holds both servers of both services", shows(all...))
	if !strings.Contains(p.Log(), "programming the virtual servers with nftables") {
		t.Errorf("the backend chosen is not logged:\n%s", p.Log())
	}

	both := map[string]int{"web1": 5, "web2": 5}
	for _, vip := range []netip.Addr{lvsVIP4, lvsVIP6} {
		if got := askMany(client, vip, 10); fmt.Sprint(got) != fmt.Sprint(both) {
			t.Errorf("client to %s: %v, want round robin %v", vip, got, both)
		}
	}
	if got := askMany(director, lvsVIP4, 4); fmt.Sprint(got) != fmt.Sprint(map[string]int{"web1": 2, "web2": 2}) {
		t.Errorf("the director's own connections to %s: %v", lvsVIP4, got)
	}

	w2.stop()
	waitTable(t, 15*time.Second, director, "web2 leaves the table", func(table string) bool {
		return shows(w1v4, w1v6)(table) && !strings.Contains(table, w2v4+" ") && !strings.Contains(table, w2v6+" ")
	})
	for _, vip := range []netip.Addr{lvsVIP4, lvsVIP6} {
		if got := askMany(client, vip, 6); fmt.Sprint(got) != fmt.Sprint(map[string]int{"web1": 6}) {
			t.Errorf("client to %s with web2 down: %v, want web1 only", vip, got)
		}
	}
	for _, line := range []string{
		// "failed after 1 retries." once a check has run, "failed." when
		// the server went before its first check (keepalived's has_run).
		"TCP_CHECK on service [198.51.100.12]:tcp:80 failed",
		"Removing service [198.51.100.12]:tcp:80 from VS [198.51.100.100]:tcp:80",
	} {
		if !strings.Contains(p.Log(), line) {
			t.Errorf("log lacks %q", line)
		}
	}

	w2.start()
	waitTable(t, 15*time.Second, director, "web2 comes back", shows(all...))
	for _, vip := range []netip.Addr{lvsVIP4, lvsVIP6} {
		if got := askMany(client, vip, 10); fmt.Sprint(got) != fmt.Sprint(both) {
			t.Errorf("client to %s with web2 back: %v, want %v", vip, got, both)
		}
	}

	p.Signal(syscall.SIGTERM)
	if err := p.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if table := nftTable(director); !strings.HasPrefix(table, "(no table") {
		t.Fatalf("the table outlives the daemon:\n%s", table)
	}
}

// With every real server down the VIP answers as IPVS does: ICMP port
// unreachable, so the client is refused at once rather than left to time
// out. With -I (--dont-release-ipvs) the table outlives the daemon, and
// the next start takes it over without a gap.
func TestLVSNftablesRejectsWithoutServersAndKeepsWithDashI(t *testing.T) {
	_, director, web1, _, client := lvsLab(t)
	w1 := newWebServer(t, web1)
	conf := `virtual_server 198.51.100.100 80 {
    delay_loop 1
    lb_algo rr
    protocol TCP
    real_server 198.51.100.11 80 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
}
`
	path := director.TmpDir() + "-kg.conf"
	if err := writeFile(path, conf); err != nil {
		t.Fatal(err)
	}
	start := func() *lab.Proc {
		p, err := director.Start(binary, append([]string{"-n", "-l", "-D", "-I", "--lvs-backend=nftables", "-f", path}, director.PidArgs("kg")...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(); dumpLogOnFailure(t, director, p) })
		return p
	}
	p := start()
	waitTable(t, 10*time.Second, director, "web1 in the table", shows("198.51.100.11"))
	if got := askMany(client, lvsVIP4, 3); fmt.Sprint(got) != fmt.Sprint(map[string]int{"web1": 3}) {
		t.Fatalf("client: %v", got)
	}
	if !strings.Contains(p.Log(), "programming the virtual servers with nftables (--lvs-backend=nftables)") {
		t.Errorf("the backend chosen is not logged:\n%s", p.Log())
	}
	w1.stop()
	waitTable(t, 15*time.Second, director, "the service rejects", func(table string) bool {
		return strings.Contains(table, "reject") && !strings.Contains(table, "198.51.100.11")
	})
	began := time.Now()
	_, err := ask(client, lvsVIP4)
	if err == nil || !strings.Contains(err.Error(), "refused") || time.Since(began) > 900*time.Millisecond {
		t.Errorf("a connection without server: %v after %v, want refused at once (ICMP port unreachable)", err, time.Since(began))
	}
	w1.start()
	waitTable(t, 15*time.Second, director, "web1 back", shows("198.51.100.11"))

	p.Signal(syscall.SIGTERM)
	if err := p.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !shows("198.51.100.11")(nftTable(director)) {
		t.Fatalf("-I: the table went with the daemon:\n%s", nftTable(director))
	}
	if got := askMany(client, lvsVIP4, 2); fmt.Sprint(got) != fmt.Sprint(map[string]int{"web1": 2}) {
		t.Errorf("client with the daemon stopped under -I: %v", got)
	}
	before := handles(t, director)
	p = start()
	if err := lab.WaitUntil("the new daemon's checker", 5*time.Second, func() bool {
		return strings.Contains(p.Log(), "Activating healthchecker for service [198.51.100.11]:tcp:80")
	}); err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
	time.Sleep(1500 * time.Millisecond) // past its first check (1 s after start)
	if after := handles(t, director); after != before {
		t.Errorf("the restart rewrote the table it found as it wants it:\nbefore %s\nafter  %s", before, after)
	}
}

// handles lists the rule handles of the table: equal lists mean nothing
// was rewritten.
func handles(t *testing.T, h *lab.Host) string {
	t.Helper()
	out, err := h.Command("nft", "-a", "list", "table", "inet", lvsTable).CombinedOutput()
	if err != nil {
		t.Fatalf("nft -a list: %v\n%s", err, out)
	}
	var hs []string
	for _, l := range strings.Split(string(out), "\n") {
		if i := strings.Index(l, "# handle "); i >= 0 {
			hs = append(hs, l[i+len("# handle "):])
		}
	}
	return strings.Join(hs, " ")
}

func writeFile(path, text string) error {
	return exec.Command("sh", "-c", "cat > "+path+" <<'EOF'\n"+text+"EOF\n").Run()
}

// chainHandles are the rule handles of each chain of the director's
// table ("chain NAME" -> its rules' handles).
func chainHandles(t *testing.T, h *lab.Host) map[string]string {
	t.Helper()
	out, err := h.Command("nft", "-a", "list", "table", "inet", lvsTable).CombinedOutput()
	if err != nil {
		t.Fatalf("nft -a list: %v\n%s", err, out)
	}
	got, chain := map[string]string{}, ""
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "chain" {
			chain = f[1]
		}
		if i := strings.Index(l, "# handle "); i >= 0 && chain != "" && !strings.HasPrefix(strings.TrimSpace(l), "chain ") {
			got[chain] += l[i+len("# handle "):] + " "
		}
	}
	return got
}

// A reload of an unchanged configuration rewrites nothing; a change made
// by hand in our table (a service's chain flushed) is repaired by the
// next reload, and only that service is rewritten. (A reload reads the
// table back only when the ruleset generation says something else
// changed it: this is what must still see the hand edit.)
func TestLVSNftablesReloadRepairsAHandEdit(t *testing.T) {
	_, director, web1, web2, client := lvsLab(t)
	newWebServer(t, web1)
	newWebServer(t, web2)
	p := startKGConf(t, director, lvsConf(web1, web2))
	all := []string{web1.IPv4.String(), web2.IPv4.String(), web1.IPv6.String(), web2.IPv6.String()}
	waitTable(t, 10*time.Second, director, "the table holds both servers of both services", shows(all...))
	const chain4, chain6 = "vs-tcp-198.51.100.100-80", "vs-tcp-2001_db8__100-80"
	before := chainHandles(t, director)
	reload := func() {
		t.Helper()
		mark := strings.Count(p.Log(), "Reloading")
		p.Signal(syscall.SIGHUP)
		if err := lab.WaitUntil("the reload", 10*time.Second, func() bool {
			return strings.Count(p.Log(), "Reloading") > mark
		}); err != nil {
			t.Fatalf("%v\n%s", err, p.Log())
		}
	}
	reload()
	time.Sleep(2 * time.Second) // the reload syncs the data plane as it starts the new runtime
	if after := chainHandles(t, director); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("an unchanged reload rewrote rules: %v -> %v", before, after)
	}

	run(t, director, "nft", "flush", "chain", "inet", lvsTable, chain4)
	if _, err := ask(client, lvsVIP4); err == nil {
		t.Fatalf("the VIP still answers with its chain flushed:\n%s", nftTable(director))
	}
	reload()
	waitTable(t, 10*time.Second, director, "the flushed chain is repaired", func(table string) bool {
		i := strings.Index(table, "chain "+chain4+" {")
		if i < 0 {
			return false
		}
		body, _, _ := strings.Cut(table[i:], "}")
		return strings.Contains(body, "numgen inc mod 2")
	})
	both := map[string]int{"web1": 2, "web2": 2}
	if got := askMany(client, lvsVIP4, 4); fmt.Sprint(got) != fmt.Sprint(both) {
		t.Errorf("client to %s after the repair: %v, want %v", lvsVIP4, got, both)
	}
	if after := chainHandles(t, director); after[chain6] != before[chain6] || after[chain4] == before[chain4] {
		t.Errorf("the repair rewrote %v, want only %s (%v before)", after, chain4, before)
	}
}

// The nftables data plane refuses at start what it cannot express: a
// virtual server without lb_algo (keepalived's default, wlc, counts
// connections) stops the daemon with the file, line and what to do,
// and keepalived's exit code for a configuration its checker cannot run
// (2), its table never made; --lvs-nftables-approximate starts it with
// weighted round robin and a warning. A reload to such a configuration
// keeps the running one.
func TestLVSNftablesRefusesWhatItCannotExpress(t *testing.T) {
	l, director, web1, web2, client := lvsLab(t)
	newWebServer(t, web1)
	newWebServer(t, web2)
	wlc := strings.ReplaceAll(lvsConf(web1, web2), "    lb_algo rr\n", "")
	path, err := l.WriteFile("director-refuse.conf", wlc)
	if err != nil {
		t.Fatal(err)
	}
	start := func(extra ...string) *lab.Proc {
		t.Helper()
		p, err := director.Start(binary, append(append([]string{"-n", "-l", "-D", "-f", path}, director.PidArgs("kg")...), extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(); dumpLogOnFailure(t, director, p) })
		return p
	}
	for _, backend := range []string{"--lvs-backend=nftables", "--lvs-backend=auto"} {
		p := start(backend)
		err := p.Wait(10 * time.Second)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("%s: the daemon ended with %v, want exit code 2\n%s", backend, err, p.Log())
		}
		line := fmt.Sprintf("(%s: Line 1) virtual_server %s 80: no lb_algo (keepalived's default: wlc) is not available with nftables "+
			"(it counts connections): set lb_algo rr, wrr, sh, dh or fo (or start with --lvs-nftables-approximate: weighted round robin instead)", path, lvsVIP4)
		if !strings.Contains(p.Log(), line) || !strings.Contains(p.Log(), "not starting") {
			t.Errorf("%s: the refusal does not say where and what to do:\n%s", backend, p.Log())
		}
		if table := nftTable(director); !strings.HasPrefix(table, "(no table") {
			t.Errorf("%s: a refused configuration left a table:\n%s", backend, table)
		}
	}
	// `-t`: keepalived 2.2.7's verdict (the default scheduler is said,
	// nothing about nftables).
	if out, _ := director.Command(binary, "-t", "-f", path).CombinedOutput(); strings.Contains(string(out), "nftables") {
		t.Errorf("-t speaks of nftables:\n%s", out)
	}

	p := start("--lvs-backend=nftables", "--lvs-nftables-approximate")
	waitTable(t, 10*time.Second, director, "the approximated table", shows(web1.IPv4.String(), web2.IPv4.String()))
	if got := askMany(client, lvsVIP4, 4); fmt.Sprint(got) != fmt.Sprint(map[string]int{"web1": 2, "web2": 2}) {
		t.Errorf("approximated wlc: %v, want weighted round robin", got)
	}
	if !strings.Contains(p.Log(), "Line 1) VS [198.51.100.100]:tcp:80: lb_algo wlc is not available with nftables (it counts connections): weighted round robin instead") {
		t.Errorf("the approximation is not said:\n%s", p.Log())
	}
	p.Signal(syscall.SIGTERM)
	if err := p.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	// Running rr, a reload to wlc is refused: the table stays as it is.
	if err := os.WriteFile(path, []byte(lvsConf(web1, web2)), 0o644); err != nil {
		t.Fatal(err)
	}
	p = start("--lvs-backend=nftables")
	waitTable(t, 10*time.Second, director, "the rr table", shows(web1.IPv4.String(), web2.IPv4.String()))
	before := handles(t, director)
	if err := os.WriteFile(path, []byte(wlc), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Signal(syscall.SIGHUP)
	if err := lab.WaitUntil("the refused reload", 10*time.Second, func() bool {
		return strings.Contains(p.Log(), "reload refused, the running configuration stays: ("+path+": Line 1) virtual_server")
	}); err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
	time.Sleep(1500 * time.Millisecond)
	if p.Exited() || handles(t, director) != before {
		t.Errorf("a refused reload stopped the daemon (%v) or changed the table:\n%s", p.Exited(), nftTable(director))
	}
	if got := askMany(client, lvsVIP4, 4); fmt.Sprint(got) != fmt.Sprint(map[string]int{"web1": 2, "web2": 2}) {
		t.Errorf("after the refused reload: %v", got)
	}
}

// askFrom connects from address src of host h to addr:80 and returns
// the name that answered.
func askFrom(h *lab.Host, src, addr netip.Addr) (string, error) {
	var c net.Conn
	d := net.Dialer{Timeout: time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	if err := inNamespace(h.NS, func() (err error) {
		c, err = d.Dial("tcp", netip.AddrPortFrom(addr, 80).String())
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	name, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(name), err
}

// sticky connects n times from src and returns the one server that
// answered them all ("" and what answered if not one).
func sticky(t *testing.T, h *lab.Host, src netip.Addr, n int) string {
	t.Helper()
	vip := lvsVIP4
	if src.Is6() {
		vip = lvsVIP6
	}
	got := map[string]int{}
	for range n {
		name, err := askFrom(h, src, vip)
		if err != nil {
			name = "error: " + err.Error()
		}
		got[name]++
	}
	if len(got) != 1 {
		t.Errorf("client %s: %v, want one server for all %d connections", src, got, n)
		return ""
	}
	for name := range got {
		return name
	}
	return ""
}

// persistence_timeout with nftables, as IPVS does it: round robin picks
// a server for a new client, and the client keeps it over many
// connections; another client address gets the next server; a client
// whose server is taken out by its checker moves to another and stays
// there; persistence_granularity 255.255.255.0 makes the two addresses
// one client (and over IPv6 persistence_granularity 64 makes a /64 one
// client).
func TestLVSNftablesPersistence(t *testing.T) {
	l, director, client, clientB, webs, servers := persistLab(t, 3)
	conf := func(granularity string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "virtual_server %s 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n    persistence_timeout 120\n", lvsVIP4)
		if granularity != "" {
			fmt.Fprintf(&b, "    persistence_granularity %s\n", granularity)
		}
		for _, w := range webs {
			fmt.Fprintf(&b, "    real_server %s 80 {\n        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n            warmup 0\n        }\n    }\n", w.IPv4)
		}
		// IPv6, the /64 as one client.
		fmt.Fprintf(&b, "}\nvirtual_server %s 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n    persistence_timeout 120\n    persistence_granularity 64\n", lvsVIP6)
		for _, w := range webs {
			fmt.Fprintf(&b, "    real_server %s 80 {\n        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n            warmup 0\n        }\n    }\n", w.IPv6)
		}
		b.WriteString("}\n")
		return b.String()
	}
	path, err := l.WriteFile("director-persist.conf", conf(""))
	if err != nil {
		t.Fatal(err)
	}
	p, err := director.Start(binary, append([]string{"-n", "-l", "-D", "--lvs-backend=nftables", "-f", path}, director.PidArgs("kg")...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(); dumpLogOnFailure(t, director, p) })
	all := []string{webs[0].IPv4.String(), webs[1].IPv4.String(), webs[2].IPv4.String()}
	waitTable(t, 10*time.Second, director, "the three servers", func(table string) bool {
		for _, w := range webs {
			if !strings.Contains(table, "dnat ip6 to ["+w.IPv6.String()+"]:80") {
				return false
			}
		}
		return dnatTo(all...)(table) && strings.Contains(table, "flags dynamic,timeout") && strings.Contains(table, "timeout 2m") &&
			strings.Contains(table, "ip6 saddr & ffff:ffff:ffff:ffff::")
	})

	if a6, b6 := sticky(t, client, client.IPv6, 8), sticky(t, client, persistClientB6, 8); a6 == "" || b6 != a6 {
		t.Errorf("IPv6, granularity /64: %s went to %q, %s to %q, want one server", client.IPv6, a6, persistClientB6, b6)
	}
	a := sticky(t, client, client.IPv4, 12)
	b := sticky(t, client, clientB, 12)
	if a == "" || b == "" || a == b {
		t.Fatalf("two clients: %q and %q, want two servers (round robin picks the next for a new client)", a, b)
	}
	if again := sticky(t, client, client.IPv4, 6); again != a {
		t.Errorf("client %s moved from %s to %s", client.IPv4, a, again)
	}

	// The first client's server stops: its checker takes it out, and
	// the client moves to another server, and stays there.
	servers[a].stop()
	waitTable(t, 15*time.Second, director, a+" leaves the table", func(table string) bool {
		return !strings.Contains(table, l.Host(a).IPv4.String()+":80") && dnatTo(slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == l.Host(a).IPv4.String() })...)(table)
	})
	moved := sticky(t, client, client.IPv4, 12)
	if moved == "" || moved == a {
		t.Errorf("with %s out, client %s got %q", a, client.IPv4, moved)
	}
	if again := sticky(t, client, clientB, 6); again != b && b != a {
		t.Errorf("client %s moved from %s (still up) to %s", clientB, b, again)
	}

	// Back, and with a /24 granularity: both addresses are one client.
	servers[a].start()
	if err := os.WriteFile(path, []byte(conf("255.255.255.0")), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Signal(syscall.SIGHUP)
	waitTable(t, 15*time.Second, director, "the /24 granularity and the three servers", func(table string) bool {
		return dnatTo(all...)(table) && strings.Contains(table, "ip saddr & 255.255.255.0")
	})
	one := sticky(t, client, client.IPv4, 6)
	if other := sticky(t, client, clientB, 6); one == "" || other != one {
		t.Errorf("granularity /24: %s went to %q, %s to %q, want one server", client.IPv4, one, clientB, other)
	}
}

// dnatTo: a persistent service's table sends to each address's port 80.
func dnatTo(addrs ...string) func(string) bool {
	return func(table string) bool {
		for _, a := range addrs {
			if !strings.Contains(table, "dnat ip to "+a+":80") {
				return false
			}
		}
		return true
	}
}

// persistClientB6 is the persistence tests' client's second IPv6
// address, in the /64 of its first.
var persistClientB6 = netip.MustParseAddr("2001:db8::77")

// persistLab is a director with VIPs 198.51.100.100 and 2001:db8::100,
// n web servers answering with their names, and a client with two
// addresses of each family (its own, 198.51.100.77 and 2001:db8::77),
// all routed back through the director.
func persistLab(t *testing.T, n int) (l *lab.Lab, director, client *lab.Host, clientB netip.Addr, webs []*lab.Host, servers map[string]*webServer) {
	t.Helper()
	needRoot(t, "nft", "sysctl")
	names := []string{"director"}
	for i := range n {
		names = append(names, fmt.Sprintf("web%d", i+1))
	}
	l = newLab(t, append(names, "client")...)
	director, client = l.Host("director"), l.Host("client")
	for _, name := range names[1:] {
		webs = append(webs, l.Host(name))
	}
	clientB = netip.MustParseAddr("198.51.100.77")
	run(t, director, "ip", "addr", "add", lvsVIP4.String()+"/32", "dev", "eth0")
	run(t, director, "ip", "addr", "add", lvsVIP6.String()+"/128", "dev", "eth0", "nodad")
	run(t, client, "ip", "addr", "add", clientB.String()+"/24", "dev", "eth0")
	run(t, client, "ip", "addr", "add", persistClientB6.String()+"/64", "dev", "eth0", "nodad")
	run(t, director, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
		"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0")
	servers = map[string]*webServer{}
	for _, web := range webs {
		for _, c := range []netip.Addr{client.IPv4, clientB} {
			run(t, web, "ip", "route", "add", c.String()+"/32", "via", director.IPv4.String())
		}
		for _, c := range []netip.Addr{client.IPv6, persistClientB6} {
			run(t, web, "ip", "-6", "route", "add", c.String()+"/128", "via", director.IPv6.String())
		}
		run(t, web, "sysctl", "-qw", "net.ipv4.conf.all.accept_redirects=0", "net.ipv4.conf.eth0.accept_redirects=0",
			"net.ipv6.conf.all.accept_redirects=0", "net.ipv6.conf.eth0.accept_redirects=0")
		servers[web.Name] = newWebServer(t, web)
	}
	return l, director, client, clientB, webs, servers
}

// With inhibit_on_failure, a persistent service's server whose check
// fails goes to weight 0: it takes no new client, but the clients
// pinned to it keep going to it (it still answers), as IPVS's
// persistence templates keep going to a quiescent server.
func TestLVSNftablesPersistenceKeepsInhibitedServersClients(t *testing.T) {
	l, director, client, clientB, webs, _ := persistLab(t, 2)
	flag := func(w *lab.Host) string { return filepath.Join(l.Dir, w.Name+".up") }
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    script_user root\n}\nvirtual_server %s 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n    persistence_timeout 120\n", lvsVIP4)
	for _, w := range webs {
		if err := os.WriteFile(flag(w), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "    real_server %s 80 {\n        inhibit_on_failure\n        MISC_CHECK {\n            misc_path \"/bin/test -e %s\"\n            misc_timeout 1\n        }\n    }\n", w.IPv4, flag(w))
	}
	b.WriteString("}\n")
	path, err := l.WriteFile("director-inhibit.conf", b.String())
	if err != nil {
		t.Fatal(err)
	}
	p, err := director.Start(binary, append([]string{"-n", "-l", "-D", "--lvs-backend=nftables", "-f", path}, director.PidArgs("kg")...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(); dumpLogOnFailure(t, director, p) })
	waitTable(t, 10*time.Second, director, "both servers, two slots", func(table string) bool {
		return dnatTo(webs[0].IPv4.String(), webs[1].IPv4.String())(table) && strings.Contains(table, "numgen inc mod 2 vmap")
	})
	a := sticky(t, client, client.IPv4, 8)
	if a == "" {
		t.FailNow()
	}
	if err := os.Remove(flag(l.Host(a))); err != nil {
		t.Fatal(err)
	}
	waitTable(t, 15*time.Second, director, a+" inhibited: no slot", func(table string) bool {
		return strings.Contains(table, "numgen inc mod 1 vmap")
	})
	if again := sticky(t, client, client.IPv4, 8); again != a {
		t.Errorf("a client pinned to %s (inhibited, still answering) went to %q", a, again)
	}
	if other := sticky(t, client, clientB, 8); other == "" || other == a {
		t.Errorf("a new client went to %q, want not the inhibited %s", other, a)
	}
}
