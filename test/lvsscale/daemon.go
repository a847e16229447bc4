package main

// The -daemon mode: the whole keepalived-go daemon on this host, over
// nftables, in a namespace of its own, with the same configuration as
// -qemu (n virtual servers of m real servers, no checker): cold start,
// no-op reload (SIGHUP), one real server changed, each until the table
// shows it, and the daemon's CPU time. -bin runs another build (say,
// main's, for a before/after).

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/lvs/nftables"
)

var slotElem = regexp.MustCompile(`0x[0-9a-f]{8} :`)

// slotsOf is how many slots the nftables backend gives virtual server i
// of the configuration (changed or not).
func slotsOf(i, m int, change bool) int {
	s := lvs.Service{ServiceKey: lvs.AddrKey("tcp", netip.AddrPortFrom(guestVIP(i), 80)), Scheduler: "wrr", Method: "NAT"}
	for j := range m {
		w := 1 + j%3
		if change && j == m/2 {
			w += 7
		}
		s.Dests = append(s.Dests, lvs.Destination{Addr: netip.AddrPortFrom(guestRIP(i, j, m), 8080), Weight: w, Method: "NAT"})
	}
	e, _, _ := nftables.New(nil).Express(s)
	return len(nftables.Slots(&e))
}

func runDaemon(n, m int, bin string) error {
	if bin == "" {
		b, err := lab.BuildKeepalivedGo()
		if err != nil {
			return err
		}
		bin = b
	}
	l, err := lab.New(fmt.Sprintf("kgld%d", os.Getpid()%10000), "director")
	if err != nil {
		return err
	}
	defer l.Close()
	director := l.Host("director")
	conf, err := l.WriteFile("lb.conf", guestConfText(n, m, false))
	if err != nil {
		return err
	}
	slots := func(i int) int {
		out, _ := director.Command("nft", "list", "map", "inet", kernel.DefaultLBTable, fmt.Sprintf("vs-tcp-%s-80", guestVIP(i))).Output()
		return len(slotElem.FindAll(out, -1))
	}
	last, mid := slotsOf(n-1, m, false), slotsOf(n/2, m, true)
	p := probes{
		complete: func() bool { return slots(n-1) == last },
		changed:  func() bool { return slots(n/2) == mid },
		conf:     conf,
		log:      filepath.Join(l.Dir, "kg.log"),
	}
	args := []string{"ip", "netns", "exec", director.NS, bin, "-n", "-l", "-C", "-f", conf,
		"-p", filepath.Join(l.Dir, "kg.pid"), "-c", filepath.Join(l.Dir, "kg-checkers.pid"), "--lvs-backend=nftables"}
	fmt.Printf("keepalived-go (%s) on this host over nftables, in a namespace; %d virtual servers x %d real servers, no checker; load average %s\n",
		bin, n, m, loadavg())
	reportTo = os.Stderr
	r, err := measure("keepalived-go", args, n, m, p)
	if err != nil {
		fmt.Fprintln(os.Stderr, strings.TrimSpace(tail(p.log, 2000)))
		return err
	}
	row := func(what string, d interface{ Seconds() float64 }, cpu float64) {
		fmt.Printf("%-24s %7.2f s   CPU %6.2f s\n", what, d.Seconds(), cpu)
	}
	row("cold start:", r.cold, r.coldCPU)
	row("no-op reload (SIGHUP):", r.noop, r.noopCPU)
	row("one server changed:", r.change, r.changeCPU)
	fmt.Printf("load average at the end %s\n", loadavg())
	return nil
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
