// Command kglab is the lab demo: two VRRP routers and a client in network
// namespaces on one bridge, keepalived-go on r1 and (when installed)
// Debian's keepalived on r2, in one VRRP group. It shows the election, a
// crash failover, the preemption back and a graceful stop, with the
// client's view of the VIP at each step, then removes everything. With
// -lb it shows load balancing instead (lb.go): two directors, three real
// servers under HTTP_GET, nftables, and what a client fetching all along
// saw. Ctrl-C stops it and removes everything.
//
// Usage (root): go run ./cmd/kglab [-lb] [-bin keepalived-go]
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

var vip = netip.MustParseAddr("198.51.100.200")

func main() {
	bin := flag.String("bin", "", "keepalived-go binary (default: build it)")
	lb := flag.Bool("lb", false, "the load-balancing demo")
	serveAs := flag.String("serve", "", "internal: be the real server NAME")
	fetchURL := flag.String("fetch", "", "internal: be the client fetching URL")
	flag.Parse()
	switch {
	case *serveAs != "":
		serve(*serveAs)
		return
	case *fetchURL != "":
		fetch(*fetchURL)
		return
	}
	var err error
	if *lb {
		err = lbMain(*bin)
	} else {
		err = run(*bin)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

func conf(prio int) string {
	return fmt.Sprintf(`vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass lab
    }
    virtual_ipaddress {
        %s/24
    }
}
`, prio, vip)
}

func run(bin string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the lab makes network namespaces: run it as root")
	}
	if bin == "" {
		var err error
		if bin, err = build(); err != nil {
			return err
		}
	}
	peer := "Debian's keepalived"
	if _, err := exec.LookPath("keepalived"); err != nil {
		peer = "keepalived-go (keepalived is not installed: scripts/install-test-deps.sh)"
	}
	l, err := lab.New(fmt.Sprintf("kglab%d", os.Getpid()%100000), "r1", "r2", "client")
	if err != nil {
		return err
	}
	defer l.Close()
	r1, r2, client := l.Host("r1"), l.Host("r2"), l.Host("client")
	say("a bridge with r1 %s, r2 %s and a client %s; VIP %s, VRRPv2, advert_int 1", r1.IPv4, r2.IPv4, client.IPv4, vip)
	say("r1 runs keepalived-go with priority 150; r2 runs %s with priority 100", peer)

	path, _ := l.WriteFile("r1.conf", conf(150))
	out, _ := r1.Command(bin, "-t", "-f", path).CombinedOutput()
	say("keepalived-go -t on r1's configuration: %s", orOK(out))

	p1, err := r1.StartKeepalivedGo(bin, conf(150))
	if err != nil {
		return err
	}
	defer p1.Stop()
	p2, err := startPeer(r2, bin, conf(100))
	if err != nil {
		return err
	}
	defer p2.Stop()

	took, err := waitHolder(r1, 10*time.Second, r1, r2)
	if err != nil {
		return err
	}
	say("election: r1 holds the VIP after %v; the client reaches it: %v", took.Round(time.Millisecond), client.Ping(vip))

	check(r1.SetLink(false))
	p1.Signal(syscall.SIGKILL)
	say("r1 dies (link down, SIGKILL)")
	if took, err = waitHolder(r2, 10*time.Second, r2); err != nil {
		return err
	}
	say("failover: r2 holds the VIP %v later (RFC Master_Down_Interval at priority 100: 3.61 s); the client reaches it: %v",
		took.Round(time.Millisecond), client.Ping(vip))

	check(r1.SetLink(true))
	if p1, err = r1.StartKeepalivedGo(bin, conf(150)); err != nil {
		return err
	}
	defer p1.Stop()
	if took, err = waitHolder(r1, 10*time.Second, r1, r2); err != nil {
		return err
	}
	say("r1 restarts: it removes the VIP its crash left behind, then preempts r2 after %v; the client reaches the VIP: %v",
		took.Round(time.Millisecond), client.Ping(vip))

	p1.Signal(syscall.SIGTERM)
	p1.Wait(5 * time.Second)
	if took, err = waitHolder(r2, 10*time.Second, r1, r2); err != nil {
		return err
	}
	say("r1 stops with SIGTERM: it resigns with a priority-0 advert, and r2 takes over %v later (Skew_Time: 0.61 s); the client reaches the VIP: %v",
		took.Round(time.Millisecond), client.Ping(vip))
	say("r1's log:\n%s", indent(p1.Log()))
	return nil
}

func startPeer(h *lab.Host, bin, conf string) (*lab.Proc, error) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		return h.StartKeepalivedGo(bin, conf)
	}
	return h.StartKeepalived(conf)
}

// waitHolder waits until holder alone (among routers) has the VIP.
func waitHolder(holder *lab.Host, d time.Duration, routers ...*lab.Host) (time.Duration, error) {
	return lab.WaitHolder(vip, holder, d, routers...)
}

func build() (string, error) { return lab.BuildKeepalivedGo() }

func say(format string, args ...any) {
	fmt.Printf("== "+format+"\n", args...)
}

func orOK(out []byte) string {
	if s := strings.TrimSpace(string(out)); s != "" {
		return s
	}
	return "no findings, exit 0"
}

func indent(s string) string {
	return "   " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n   ")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
	}
}

// lbMain runs the load-balancing demo until it ends or Ctrl-C.
func lbMain(bin string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the lab makes network namespaces: run it as root")
	}
	if bin == "" {
		var err error
		if bin, err = build(); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runLB(ctx, bin)
}
