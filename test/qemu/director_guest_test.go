//go:build ipvsguest

package qemu

// Runs inside the QEMU guest (see qemu_test.go): the guest's root
// namespace is the director, with the VIP on lo; a client and two real
// servers (busybox httpd answering with their name) are namespaces on
// veth pairs of their own subnets, routed through the director, as
// IPVS's NAT needs.

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	vip    = "10.0.0.1"
	rs1    = "10.2.0.2"
	rs2    = "10.3.0.2"
	manual = "10.9.9.9:80" // a service made by hand with ipvsadm
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// network builds the namespaces and routes.
func network(t *testing.T) {
	ip := func(args ...string) { run(t, "/sbin/ip", args...) }
	for _, ns := range []string{"client", "rs1", "rs2"} {
		ip("netns", "add", ns)
		ip("-n", ns, "link", "set", "lo", "up")
	}
	for _, l := range []struct{ host, peer, ns, subnet string }{{"c1", "c0", "client", "10.1.0"}, {"r1", "e0", "rs1", "10.2.0"}, {"r2", "e0", "rs2", "10.3.0"}} {
		ip("link", "add", l.host, "type", "veth", "peer", "name", l.peer, "netns", l.ns)
		ip("addr", "add", l.subnet+".1/24", "dev", l.host)
		ip("link", "set", l.host, "up")
		ip("-n", l.ns, "addr", "add", l.subnet+".2/24", "dev", l.peer)
		ip("-n", l.ns, "link", "set", l.peer, "up")
		ip("-n", l.ns, "route", "add", "default", "via", l.subnet+".1")
	}
	ip("addr", "add", vip+"/32", "dev", "lo")
	for file, v := range map[string]string{"/proc/sys/net/ipv4/ip_forward": "1", "/proc/sys/net/ipv4/vs/conntrack": "1"} {
		if err := os.WriteFile(file, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// webServer is busybox httpd in a namespace, answering with its name.
type webServer struct {
	ns  string
	cmd *exec.Cmd
}

func (w *webServer) start(t *testing.T) {
	t.Helper()
	dir := "/tmp/www-" + w.ns
	os.MkdirAll(dir, 0o755)
	os.WriteFile(dir+"/index.html", []byte(w.ns+"\n"), 0o644)
	w.cmd = exec.Command("/sbin/ip", "netns", "exec", w.ns, "/bin/busybox", "httpd", "-f", "-p", "80", "-h", dir)
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.stop)
}

func (w *webServer) stop() {
	if w.cmd != nil && w.cmd.Process != nil {
		w.cmd.Process.Kill()
		w.cmd.Wait()
		w.cmd = nil
	}
}

// fetch asks the VIP from the client namespace: which server answered
// ("" if none did).
func fetch() string {
	out, _ := exec.Command("/sbin/ip", "netns", "exec", "client", "sh", "-c",
		"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 "+vip+" 80").CombinedOutput()
	for _, who := range []string{"rs1", "rs2"} {
		if bytes.Contains(out, []byte("\r\n\r\n"+who+"\n")) || bytes.HasSuffix(bytes.TrimSpace(out), []byte(who)) {
			return who
		}
	}
	return ""
}

// fetchMany counts the answers of n requests.
func fetchMany(n int) map[string]int {
	got := map[string]int{}
	for range n {
		got[fetch()]++
	}
	return got
}

// director is keepalived-go running in the guest's root namespace.
type director struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
}

func (d *director) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.Write(p)
}

func (d *director) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

func startDirector(t *testing.T, conf string, args ...string) *director {
	t.Helper()
	if err := os.WriteFile("/tmp/kg.conf", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &director{done: make(chan struct{})}
	args = append([]string{"-n", "-l", "-D", "-C", "-f", "/tmp/kg.conf", "-p", "/tmp/kg.pid", "-c", "/tmp/kg-checkers.pid"}, args...)
	d.cmd = exec.Command(os.Getenv("KG_BINARY"), args...)
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("keepalived-go's log:\n%s", d.log())
		}
	})
	return d
}

// stop ends the director with TERM and waits for it.
func (d *director) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		t.Fatal("keepalived-go did not stop after TERM")
	}
}

func ipvsTable(t *testing.T) string { return run(t, "ipvsadm", "-Ln") }

// waitTable waits until ipvsadm -Ln satisfies cond.
func waitTable(t *testing.T, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		table := ipvsTable(t)
		if cond(table) {
			return table
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting until %s:\n%s", what, table)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func has(lines ...string) func(string) bool {
	return func(table string) bool {
		for _, l := range lines {
			if !strings.Contains(table, l) {
				return false
			}
		}
		return true
	}
}

func lacks(s string) func(string) bool {
	return func(table string) bool { return !strings.Contains(table, s) }
}

const directorConf = `global_defs {
    router_id director
}
virtual_server 10.0.0.1 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 10.2.0.2 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
    real_server 10.3.0.2 80 {
        weight 2
        inhibit_on_failure
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
}
`

func TestGuestDirector(t *testing.T) {
	began := time.Now()
	network(t)
	w1, w2 := &webServer{ns: "rs1"}, &webServer{ns: "rs2"}
	w1.start(t)
	w2.start(t)
	run(t, "ipvsadm", "-A", "-t", manual, "-s", "rr")
	run(t, "ipvsadm", "-a", "-t", manual, "-r", "10.9.9.10:80", "-m")
	t.Cleanup(func() { exec.Command("ipvsadm", "-C").Run() })

	d := startDirector(t, directorConf)
	rs1Line, rs2Line := "-> 10.2.0.2:80                  Masq    1", "-> 10.3.0.2:80                  Masq    2"
	table := waitTable(t, "both real servers are in", has("TCP  10.0.0.1:80 wrr", rs1Line, rs2Line))
	t.Logf("ipvsadm -Ln (%v into the test):\n%s", time.Since(began).Round(time.Millisecond), table)
	if !strings.Contains(d.log(), "LVS: the kernel has IPVS; programming the virtual servers with IPVS") {
		t.Errorf("auto did not say it picked IPVS:\n%s", d.log())
	}
	if got := fetchMany(6); got["rs1"] != 2 || got["rs2"] != 4 {
		t.Errorf("6 requests through the VIP (wrr 1:2): %v", got)
	}

	// rs1 fails its TCP_CHECK: out of the table, traffic to rs2 only;
	// back when it answers again.
	w1.stop()
	waitTable(t, "rs1 is taken out", lacks("10.2.0.2"))
	if got := fetchMany(3); got["rs2"] != 3 {
		t.Errorf("with rs1 down: %v", got)
	}
	w1.start(t)
	waitTable(t, "rs1 is back", has(rs1Line, rs2Line))
	// rs2, inhibit_on_failure: weight 0, then its weight back.
	w2.stop()
	waitTable(t, "rs2 is inhibited (weight 0)", has("-> 10.3.0.2:80                  Masq    0"))
	if got := fetchMany(3); got["rs1"] != 3 {
		t.Errorf("with rs2 inhibited: %v", got)
	}
	w2.start(t)
	waitTable(t, "rs2 is back at weight 2", has(rs1Line, rs2Line))
	for _, line := range []string{
		"Removing service [10.2.0.2]:tcp:80 from VS [10.0.0.1]:tcp:80",
		"Adding service [10.2.0.2]:tcp:80 to VS [10.0.0.1]:tcp:80",
		"Disabling service [10.3.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80",
		"Enabling service [10.3.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80",
	} {
		if !strings.Contains(d.log(), line) {
			t.Errorf("keepalived-go's log lacks %q", line)
		}
	}

	// A reload of the same configuration changes nothing in the kernel.
	before := ipvsTable(t)
	mark := len(d.log())
	d.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.log()[mark:], "Reloading") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	after := d.log()[mark:]
	if !strings.Contains(after, "Reloading") || strings.Contains(after, `msg="IPVS: `) || strings.Contains(after, "IPVS cmd") {
		t.Errorf("the reload changed the kernel (or did not happen):\n%s", after)
	}
	if now := ipvsTable(t); now != before {
		t.Errorf("the table changed over a reload:\n%s\nthen\n%s", before, now)
	}
	// A reload with one weight changed: that one edit, nothing else.
	if err := os.WriteFile("/tmp/kg.conf", []byte(strings.Replace(directorConf, "weight 1", "weight 3", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	mark = len(d.log())
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitTable(t, "rs1 at weight 3", has("-> 10.2.0.2:80                  Masq    3", rs2Line))
	time.Sleep(500 * time.Millisecond)
	var ops []string
	for _, l := range strings.Split(d.log()[mark:], "\n") {
		if strings.Contains(l, `msg="IPVS: `) || strings.Contains(l, "IPVS cmd") {
			ops = append(ops, l)
		}
	}
	if len(ops) != 1 || !strings.Contains(ops[0], `msg="IPVS: edit destination 10.2.0.2:80 weight 3 to [10.0.0.1]:tcp:80"`) {
		t.Errorf("a reload changing one weight took %q", ops)
	}

	// Stop: ours removed, each server then the service; the hand-made
	// service stays.
	d.stop(t)
	table = ipvsTable(t)
	if strings.Contains(table, vip) || !has("TCP  "+manual+" rr", "-> 10.9.9.10:80")(table) {
		t.Errorf("after stop:\n%s", table)
	}
	for _, line := range []string{
		"Shutting down service [10.2.0.2]:tcp:80 from VS [10.0.0.1]:tcp:80",
		"Shutting down service [10.3.0.2]:tcp:80 from VS [10.0.0.1]:tcp:80",
	} {
		if !strings.Contains(d.log(), line) {
			t.Errorf("keepalived-go's log lacks %q", line)
		}
	}

	// -I keeps the virtual server at stop.
	d = startDirector(t, directorConf, "-I")
	waitTable(t, "-I: both real servers are in", has(rs1Line, rs2Line))
	d.stop(t)
	if table := ipvsTable(t); !has("TCP  10.0.0.1:80 wrr", rs1Line, rs2Line)(table) {
		t.Errorf("-I: after stop:\n%s", table)
	}
	t.Logf("the director test took %v", time.Since(began).Round(time.Millisecond))
}

// sameConf exercises what keepalived programs into IPVS without a
// running checker: schedulers and their flags, persistence, NAT, DR and
// TUN with tunnel options, thresholds, IPv6, a virtual_server_group
// (its range kept within one octet: keepalived's loop never ends on one
// that crosses), and a sorry server standing in for real servers that
// start down (alpha), one of them inhibited.
const sameConf = `global_defs {
    router_id same
}
virtual_server 10.0.0.1 80 {
    delay_loop 60
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    persistence_timeout 600
    persistence_granularity 255.255.255.0
    real_server 10.2.0.2 8080 {
        weight 3
        uthreshold 100
        lthreshold 10
    }
    real_server 10.3.0.2 80 {
        weight 0
        lvs_method DR
    }
}
virtual_server 10.0.0.2 53 {
    delay_loop 60
    lb_algo sh
    sh-port
    sh-fallback
    ops
    lb_kind DR
    protocol UDP
    real_server 10.2.0.2 5353 {
    }
    real_server 10.3.0.2 53 {
        weight 2
    }
}
virtual_server fwmark 5 {
    delay_loop 60
    lb_algo rr
    lb_kind TUN type gue port 6080 csum
    real_server 10.2.0.2 80 {
    }
    real_server 10.3.0.2 80 {
        lvs_method TUN type gre
    }
}
virtual_server 2001:db8::1 443 {
    delay_loop 60
    lb_algo mh
    mh-port
    protocol TCP
    real_server 2001:db8:2::2 443 {
        weight 5
    }
}
virtual_server 10.0.0.4 5060 {
    delay_loop 60
    lb_algo rr
    lb_kind DR
    protocol UDP
    persistence_timeout 120
    persistence_engine sip
    real_server 10.2.0.2 5060 {
    }
}
virtual_server_group G {
    10.0.1.1-3 80
    fwmark 7
}
virtual_server group G {
    delay_loop 60
    lb_algo lc
    lb_kind DR
    protocol TCP
    real_server 10.2.0.2 80 {
    }
}
virtual_server 10.0.0.3 80 {
    delay_loop 60
    lb_algo rr
    protocol TCP
    sorry_server 10.3.0.2 8080
    real_server 10.2.0.2 81 {
        TCP_CHECK {
            alpha
        }
    }
    real_server 10.2.0.3 81 {
        inhibit_on_failure
        TCP_CHECK {
            alpha
        }
    }
}
`

// savedTable is `ipvsadm -Sn`, then the destinations' lines of
// `ipvsadm -Ln --thresholds` (which -S does not save), each sorted (the
// kernel lists in hash order).
func savedTable(t *testing.T) []string {
	lines := strings.Split(strings.TrimSpace(run(t, "ipvsadm", "-Sn")), "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return l == "" })
	slices.Sort(lines)
	var th []string
	for _, l := range strings.Split(run(t, "ipvsadm", "-Ln", "--thresholds"), "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" {
			th = append(th, "thresholds "+strings.Join(f[1:4], " ")) // not the connection counts
		}
	}
	slices.Sort(th)
	return append(lines, th...)
}

// settledTable waits until the table has services services and stays
// the same for a second.
func settledTable(t *testing.T, who string, services int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last []string
	for {
		cur := savedTable(t)
		n := 0
		for _, l := range cur {
			if strings.HasPrefix(l, "-A ") {
				n++
			}
		}
		if n == services && slices.Equal(cur, last) {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the table did not settle with %d services:\n%s", who, services, strings.Join(cur, "\n"))
		}
		last = cur
		time.Sleep(time.Second)
	}
}

// The same configuration gives the same IPVS table under Debian's
// keepalived 2.2.7 and under keepalived-go.
func TestGuestSameTableAsKeepalived(t *testing.T) {
	exec.Command("ipvsadm", "-C").Run()
	t.Cleanup(func() { exec.Command("ipvsadm", "-C").Run() })
	if err := os.WriteFile("/tmp/same.conf", []byte(sameConf), 0o644); err != nil {
		t.Fatal(err)
	}
	const services = 10
	var ka bytes.Buffer
	cmd := exec.Command("/sbin/keepalived", "-n", "-l", "-G", "-D", "-C", "-f", "/tmp/same.conf", "-p", "/tmp/ka.pid", "-c", "/tmp/ka-checkers.pid")
	cmd.Stdout, cmd.Stderr = &ka, &ka
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs := settledTable(t, "keepalived", services)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if left := savedTable(t); len(left) != 0 {
		t.Fatalf("keepalived left:\n%s", strings.Join(left, "\n"))
	}
	d := startDirector(t, sameConf)
	ours := settledTable(t, "keepalived-go", services)
	d.stop(t)
	t.Logf("ipvsadm -Sn under keepalived 2.2.7:\n%s", strings.Join(theirs, "\n"))
	if !slices.Equal(ours, theirs) {
		t.Errorf("ipvsadm -Sn under keepalived-go:\n%s", strings.Join(ours, "\n"))
		for _, l := range theirs {
			if !slices.Contains(ours, l) {
				t.Errorf("only keepalived: %s", l)
			}
		}
		for _, l := range ours {
			if !slices.Contains(theirs, l) {
				t.Errorf("only keepalived-go: %s", l)
			}
		}
		t.Logf("keepalived's log:\n%s", ka.String())
	}
	if left := savedTable(t); len(left) != 0 {
		t.Errorf("keepalived-go left:\n%s", strings.Join(left, "\n"))
	}
}
