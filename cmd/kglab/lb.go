package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// The load-balancing half of the lab: two keepalived-go directors share
// the VIP by VRRP, each with a virtual server on it whose three real
// servers (HTTP, answering with their name) are checked with HTTP_GET and
// programmed through nftables (this kernel has no IPVS; Debian's
// keepalived cannot balance here). A client fetches through the VIP every
// 20 ms all along. The real servers route the client back through the
// VIP, as LVS NAT needs, so whichever director holds it sees both ways.

const webs = 3

func lbConf(name string, prio int, web []*lab.Host) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global_defs {
    router_id %s
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority %d
    version 3
    advert_int 0.2
    virtual_ipaddress {
        %s/24
    }
}
virtual_server %s 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
`, name, prio, vip, vip)
	for _, w := range web {
		fmt.Fprintf(&b, `    real_server %s 80 {
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
`, w.IPv4)
	}
	b.WriteString("}\n")
	return b.String()
}

// fetch is the client: a GET through the VIP every 20 ms, one line each
// ("ok NAME" or "fail"), with a fresh connection each time.
func fetch(url string) {
	c := &http.Client{Timeout: 200 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	for range time.Tick(20 * time.Millisecond) {
		resp, err := c.Get(url)
		if err != nil {
			fmt.Println("fail")
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println("ok " + strings.TrimSpace(string(body)))
	}
}

// serve is a real server: it answers every request with its name.
func serve(name string) {
	http.ListenAndServe(":80", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, name) }))
}

// result is one of the client's requests.
type result struct {
	at     time.Time
	server string // "" for a failure
}

// client follows the client's lines.
type client struct {
	mu      sync.Mutex
	results []result
}

func (c *client) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		res := result{at: time.Now()}
		if name, ok := strings.CutPrefix(sc.Text(), "ok "); ok {
			res.server = name
		}
		c.mu.Lock()
		c.results = append(c.results, res)
		c.mu.Unlock()
	}
}

// since is what the client saw from t on.
func (c *client) since(t time.Time) []result {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, _ := slices.BinarySearchFunc(c.results, t, func(r result, t time.Time) int { return r.at.Compare(t) })
	return slices.Clone(c.results[i:])
}

// share is each server's share of the requests since t, and the failures.
func share(rs []result) string {
	count := map[string]int{}
	for _, r := range rs {
		count[r.server]++
	}
	var parts []string
	for i := 1; i <= webs; i++ {
		name := fmt.Sprintf("web%d", i)
		parts = append(parts, fmt.Sprintf("%s %d%%", name, percent(count[name], len(rs))))
	}
	return fmt.Sprintf("%s; %d of %d requests failed", strings.Join(parts, ", "), count[""], len(rs))
}

func percent(n, of int) int {
	if of == 0 {
		return 0
	}
	return (100*n + of/2) / of
}

// outages are the runs of two or more failed requests in a row: when
// each began (from start) and how long it lasted, from the last success
// before it to the first after it. A failure alone between successes is
// not an outage (the VIP answered the requests around it): lone counts
// those, and when the first and last were.
func outages(rs []result, start time.Time) (out []string, lone int, first, last time.Duration) {
	for i := 0; i < len(rs); i++ {
		if rs[i].server != "" {
			continue
		}
		j := i
		for j < len(rs) && rs[j].server == "" {
			j++
		}
		if j-i == 1 {
			if lone == 0 {
				first = rs[i].at.Sub(start)
			}
			lone, last = lone+1, rs[i].at.Sub(start)
			continue
		}
		from := start
		if i > 0 {
			from = rs[i-1].at
		}
		to := rs[len(rs)-1].at
		if j < len(rs) {
			to = rs[j].at
		}
		out = append(out, fmt.Sprintf("at %4.1f s: %d ms without an answer (%d requests failed)", rs[i].at.Sub(start).Seconds(), to.Sub(from).Milliseconds(), j-i))
		i = j
	}
	return out, lone, first, last
}

// runLB is the load-balancing demo.
func runLB(ctx context.Context, bin string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	names := []string{"d1", "d2", "client"}
	for i := 1; i <= webs; i++ {
		names = append(names, fmt.Sprintf("web%d", i))
	}
	l, err := lab.New(fmt.Sprintf("kglb%d", os.Getpid()%100000), names...)
	if err != nil {
		return err
	}
	defer l.Close()
	d1, d2, cl := l.Host("d1"), l.Host("d2"), l.Host("client")
	var web []*lab.Host
	for i := 1; i <= webs; i++ {
		web = append(web, l.Host(fmt.Sprintf("web%d", i)))
	}
	for _, d := range []*lab.Host{d1, d2} {
		// LVS NAT: the directors forward, and send no redirect that would
		// send the real servers' replies around them.
		if out, err := d.Command("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0",
			"net.ipv4.conf.eth0.send_redirects=0").CombinedOutput(); err != nil {
			return fmt.Errorf("sysctl: %v: %s", err, out)
		}
	}
	servers := map[*lab.Host]*lab.Proc{}
	startWeb := func(w *lab.Host) error {
		p, err := w.Start(self, "-serve", w.Name)
		servers[w] = p
		return err
	}
	for _, w := range web {
		if out, err := w.Command("ip", "route", "add", cl.IPv4.String()+"/32", "via", vip.String()).CombinedOutput(); err != nil {
			return fmt.Errorf("route: %v: %s", err, out)
		}
		if err := startWeb(w); err != nil {
			return err
		}
	}
	defer func() {
		for _, p := range servers {
			p.Stop()
		}
	}()
	say("two directors d1 %s and d2 %s share the VIP %s by VRRP (d1 priority 150, d2 100); real servers %s, %s, %s answer HTTP with their name; the client %s fetches http://%s/ every 20 ms",
		d1.IPv4, d2.IPv4, vip, web[0].IPv4, web[1].IPv4, web[2].IPv4, cl.IPv4, vip)
	say("d1's keepalived.conf (d2's differs in router_id and priority):\n%s", indent(lbConf("d1", 150, web)))
	director := func(h *lab.Host, prio int) (*lab.Proc, error) {
		path, err := l.WriteFile(h.Name+".conf", lbConf(h.Name, prio, web))
		if err != nil {
			return nil, err
		}
		return h.Start(bin, append([]string{"-n", "-l", "-f", path, "--lvs-backend=nftables", "--web.listen-address=127.0.0.1:9165"}, h.PidArgs("kg")...)...)
	}
	p1, err := director(d1, 150)
	if err != nil {
		return err
	}
	defer func() { p1.Stop() }()
	p2, err := director(d2, 100)
	if err != nil {
		return err
	}
	defer p2.Stop()
	if _, err := waitHolder(d1, 10*time.Second, d1, d2); err != nil {
		return err
	}

	fetcher := cl.Command(self, "-fetch", "http://"+vip.String()+"/")
	out, err := fetcher.StdoutPipe()
	if err != nil {
		return err
	}
	if err := fetcher.Start(); err != nil {
		return err
	}
	defer func() { fetcher.Process.Kill(); fetcher.Wait() }()
	c := &client{}
	go c.read(out)
	start := time.Now()

	view := func(title string, from time.Time) {
		say("%s\n%s\n%s", title, indent(statusOf(bin, d1, d2)), indent("client since the last step: "+share(c.since(from))))
	}
	step := func(what string, wait time.Duration) (time.Time, error) {
		if err := sleep(ctx, wait); err != nil {
			return time.Time{}, err
		}
		t := time.Now()
		say("%5.1f s: %s", t.Sub(start).Seconds(), what)
		return t, nil
	}
	if err := sleep(ctx, 4*time.Second); err != nil {
		return err
	}
	view("all up: d1 holds the VIP and balances round robin over the three", start)

	t, err := step("web2 dies", 0)
	if err != nil {
		return err
	}
	servers[web[1]].Stop()
	if err := waitLog(ctx, p1, "Removing service ["+web[1].IPv4.String()+"]:tcp:80", 10*time.Second); err != nil {
		return err
	}
	say("%5.1f s: d1's HTTP_GET took web2 out after %v", time.Since(start).Seconds(), time.Since(t).Round(time.Millisecond))
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	view("web2 out", t)

	if t, err = step("d1 dies (link down, SIGKILL)", 0); err != nil {
		return err
	}
	d1.SetLink(false)
	p1.Signal(syscall.SIGKILL)
	took, err := waitHolder(d2, 10*time.Second, d2)
	if err != nil {
		return err
	}
	say("%5.1f s: d2 holds the VIP %v later (VRRPv3 Master_Down_Interval at priority 100, advert_int 0.2: 0.72 s)", time.Since(start).Seconds(), took.Round(time.Millisecond))
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	view("d1 down, d2 master", t)

	if t, err = step("web2 comes back", 0); err != nil {
		return err
	}
	if err := startWeb(web[1]); err != nil {
		return err
	}
	if err := waitLog(ctx, p2, "Adding service ["+web[1].IPv4.String()+"]:tcp:80", 10*time.Second); err != nil {
		return err
	}
	say("%5.1f s: d2's HTTP_GET put web2 back after %v", time.Since(start).Seconds(), time.Since(t).Round(time.Millisecond))

	if t, err = step("d1 comes back", time.Second); err != nil {
		return err
	}
	d1.SetLink(true)
	if p1, err = director(d1, 150); err != nil {
		return err
	}
	if took, err = waitHolder(d1, 10*time.Second, d1, d2); err != nil {
		return err
	}
	say("%5.1f s: d1 preempts d2 %v after its start", time.Since(start).Seconds(), took.Round(time.Millisecond))
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	view("all back: d1 master, the three real servers in", t)

	all := c.since(start)
	gaps, lone, first, last := outages(all, start)
	say("the client made %d requests in %.1f s; outages it saw:", len(all), time.Since(start).Seconds())
	for _, o := range gaps {
		fmt.Println("   " + o)
	}
	if len(gaps) == 0 {
		fmt.Println("   none")
	}
	if lone > 0 {
		fmt.Printf("   and %d single failed requests between %.1f s and %.1f s (a dead server's turns before its checker took it out)\n",
			lone, first.Seconds(), last.Seconds())
	}
	return nil
}

// statusOf is `keepalived-go status` run on each director.
func statusOf(bin string, hosts ...*lab.Host) string {
	var b strings.Builder
	for _, h := range hosts {
		out, err := h.Command(bin, "status").Output()
		if code, ok := exitCode(err); !ok || code == 2 {
			fmt.Fprintf(&b, "%s: not running\n", h.Name)
			continue
		}
		fmt.Fprintf(&b, "%s (keepalived-go status):\n%s", h.Name, out)
	}
	return strings.TrimSpace(b.String())
}

// exitCode is a command's exit code; ok is false if it did not run.
func exitCode(err error) (int, bool) {
	if err == nil {
		return 0, true
	}
	if e, ok := err.(*exec.ExitError); ok {
		return e.ExitCode(), true
	}
	return 0, false
}

// waitLog waits until the daemon's log has text.
func waitLog(ctx context.Context, p *lab.Proc, text string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for !strings.Contains(p.Log(), text) {
		if time.Now().After(deadline) {
			return fmt.Errorf("no %q in the log after %v", text, d)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// sleep waits d, or less if ctx ends (Ctrl-C): then the demo cleans up.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
