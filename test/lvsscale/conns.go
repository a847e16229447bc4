package main

// The -conns mode: new TCP connections per second from a client
// namespace through the nftables VIP (the director's destination NAT
// to one real server) against the same real server directly, in the
// same run, rounds interleaved so that the machine's other load weighs
// on both alike:
//
//	client   198.51.100.12  VIP 198.51.100.100 on the director
//	director 198.51.100.10  forwards; its table holds -services virtual
//	                        servers, the VIP's one real server among them
//	real     198.51.100.11  answers each connection with one byte and
//	                        closes; routes the client via the director
//
// "direct" connects the client to the real server on the bridge (one
// hop each way: from a second address of the client's, which the real
// server does not route via the director); "routed" connects it to the real server through the director
// without NAT (the client routes the real server's address via the
// director): the same path as the VIP's but the DNAT, so that VIP/routed
// is what the nftables rules cost, and VIP/direct what the whole
// director costs.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/lvs/nftables"
)

var (
	connVIP = netip.MustParseAddr("198.51.100.100")
	// connDirectSrc is the client's address for the direct rounds.
	connDirectSrc = netip.MustParseAddr("198.51.100.60")
)

const connPort = 80

// serveOneByte accepts connections on :port, writes one byte to each and
// closes it, until killed.
func serveOneByte(port int) error {
	ln, err := net.Listen("tcp4", fmt.Sprintf(":%d", port))
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			c.Write([]byte{'k'})
			c.Close()
		}()
	}
}

// load connects to addr from workers goroutines for d, each connection
// reading the server's byte, and prints "COUNT ERRORS".
func load(addr, src string, workers int, d time.Duration) {
	dialer := net.Dialer{Timeout: time.Second}
	if src != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	var done, failed atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			buf := make([]byte, 8)
			for time.Now().Before(deadline) {
				c, err := dialer.Dial("tcp4", addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				c.SetDeadline(time.Now().Add(time.Second))
				_, err = io.ReadFull(c, buf[:1])
				// A reset, not a FIN: no TIME_WAIT on either side, whose
				// sockets would refuse the client's next SYN from the
				// same port (PAWS) once the ports wrap.
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				if err == nil {
					done.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	fmt.Println(done.Load(), failed.Load())
}

func runConns(services int, workers int, round time.Duration, rounds int) error {
	l, err := lab.New(fmt.Sprintf("kgcr%d", os.Getpid()%10000), "director", "real", "client")
	if err != nil {
		return err
	}
	defer l.Close()
	director, real, client := l.Host("director"), l.Host("real"), l.Host("client")
	sh := func(h *lab.Host, args ...string) error {
		if out, err := h.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s in %s: %v %s", strings.Join(args, " "), h.Name, err, out)
		}
		return nil
	}
	for _, c := range []struct {
		h    *lab.Host
		args []string
	}{
		{director, []string{"ip", "addr", "add", connVIP.String() + "/32", "dev", "eth0"}},
		{director, []string{"sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0"}},
		{real, []string{"ip", "route", "add", client.IPv4.String() + "/32", "via", director.IPv4.String()}},
		{real, []string{"sysctl", "-qw", "net.ipv4.conf.all.accept_redirects=0", "net.ipv4.conf.eth0.accept_redirects=0"}},
		{client, []string{"ip", "addr", "add", connDirectSrc.String() + "/24", "dev", "eth0"}},
		{client, []string{"sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000", "net.ipv4.tcp_tw_reuse=1",
			"net.ipv4.conf.all.accept_redirects=0", "net.ipv4.conf.eth0.accept_redirects=0"}},
	} {
		if err := sh(c.h, c.args...); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv, err := real.Start(self, "-serve", strconv.Itoa(connPort))
	if err != nil {
		return err
	}
	defer srv.Stop()
	// The director's table: the VIP's service and services-1 others.
	lb, err := lbIn(director.NS)
	if err != nil {
		return err
	}
	defer lb.Close()
	want := desired(services-1, 20)
	vs := lvs.Service{ServiceKey: lvs.AddrKey("tcp", netip.AddrPortFrom(connVIP, connPort)), Scheduler: "rr", Method: "NAT",
		Dests: []lvs.Destination{{Addr: netip.AddrPortFrom(real.IPv4, connPort), Weight: 1, Method: "NAT"}}}
	want = append(want, vs)
	if err := lvs.NewSyncer(nftables.New(lb), slog.New(slog.DiscardHandler)).Sync(context.Background(), want); err != nil {
		return err
	}
	direct := netip.AddrPortFrom(real.IPv4, connPort).String()
	through := netip.AddrPortFrom(connVIP, connPort).String()
	measure := func(addr, src string) (float64, int64, error) {
		out, err := client.Command(self, "-load", addr, "-src", src, "-workers", strconv.Itoa(workers), "-round", round.String()).Output()
		if err != nil {
			return 0, 0, fmt.Errorf("load %s: %v", addr, err)
		}
		f := strings.Fields(string(out))
		if len(f) != 2 {
			return 0, 0, fmt.Errorf("load %s: %q", addr, out)
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		bad, _ := strconv.ParseInt(f[1], 10, 64)
		return float64(n) / round.Seconds(), bad, nil
	}
	if err := lab.WaitUntil("the real server", 5*time.Second, func() bool {
		_, _, err := measure(direct, connDirectSrc.String())
		return err == nil
	}); err != nil {
		return err
	}
	fmt.Printf("new TCP connections per second, client -> director -> real server, %d workers, rounds of %v interleaved; the director's table: %d virtual servers; load average %s\n",
		workers, round, services, loadavg())
	var rDirect, rVIP, rRouted []float64
	var errs int64
	for range rounds {
		for _, step := range []struct {
			addr, src string
			routed    bool
			into      *[]float64
		}{{direct, connDirectSrc.String(), false, &rDirect}, {through, client.IPv4.String(), false, &rVIP},
			{direct, client.IPv4.String(), true, &rRouted}} {
			if step.routed {
				if err := sh(client, "ip", "route", "add", real.IPv4.String()+"/32", "via", director.IPv4.String()); err != nil {
					return err
				}
			}
			rate, bad, err := measure(step.addr, step.src)
			if step.routed {
				if err := sh(client, "ip", "route", "del", real.IPv4.String()+"/32"); err != nil {
					return err
				}
			}
			if err != nil {
				return err
			}
			*step.into = append(*step.into, rate)
			errs += bad
		}
	}
	med := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	show := func(xs []float64) string {
		var parts []string
		for _, x := range xs {
			parts = append(parts, fmt.Sprintf("%.0f", x))
		}
		return strings.Join(parts, " ")
	}
	fmt.Printf("direct to the real server:        median %7.0f/s   rounds %s\n", med(rDirect), show(rDirect))
	fmt.Printf("through the director, no NAT:     median %7.0f/s   rounds %s\n", med(rRouted), show(rRouted))
	fmt.Printf("through the nftables VIP:         median %7.0f/s   rounds %s\n", med(rVIP), show(rVIP))
	fmt.Printf("ratio VIP / direct: %.2f   VIP / routed: %.2f   failed connections: %d; load average at the end %s\n",
		med(rVIP)/med(rDirect), med(rVIP)/med(rRouted), errs, loadavg())
	return nil
}
