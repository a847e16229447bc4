package test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// TestSkipCheckAdvAddrStopsCountingTheMastersList: r2 is master for a
// different VIP than r1's backup is configured with. r1 accepts its
// adverts and stays backup either way (keepalived ≥ 2.3.3; 2.2.7 dropped
// them). Without skip_check_adv_addr every advert counts as an "Address
// List" error in keepalived.stats; with it (or the global
// vrrp_skip_check_adv_addr) only the first from that master does.
func TestSkipCheckAdvAddrStopsCountingTheMastersList(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name, global, inst string
	}{
		{"without", "", ""},
		{"skip_check_adv_addr", "", "    skip_check_adv_addr\n"},
		{"vrrp_skip_check_adv_addr", "    vrrp_skip_check_adv_addr\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, "r1", "r2")
			r1, r2 := l.Host("r1"), l.Host("r2")
			master, backup := masterAndBackup(vip4b)
			backup.vip = vip4
			conf := backup.conf()
			conf = strings.Replace(conf, "global_defs {\n", "global_defs {\n"+tc.global, 1)
			conf = strings.Replace(conf, "    priority 100\n", "    priority 100\n"+tc.inst, 1)
			p1 := startKGConf(t, r1, conf)
			startKG(t, r2, master)
			waitHolder(t, 5*time.Second, vip4b, r2, r1, r2)
			time.Sleep(time.Second) // about ten adverts
			stats := readStats(t, r1, p1)
			received, errs := advertsReceived(t, stats), addressListErrors(t, stats)
			if received < 5 {
				t.Fatalf("r1 received %d adverts, want at least 5:\n%s", received, stats)
			}
			if r1.HasAddress(vip4) || r1.HasAddress(vip4b) {
				t.Fatalf("r1 took a VIP: it did not accept r2's adverts")
			}
			if tc.inst == "" && tc.global == "" {
				if errs < received-1 {
					t.Errorf("%d Address List errors for %d adverts, want one each", errs, received)
				}
				waitLog(t, time.Second, p1, "(VI_1) ip address associated with VRID 51 not present in advert from "+r2.IPv4.String()+": "+vip4.String())
			} else if errs != 1 {
				t.Errorf("%d Address List errors for %d adverts, want 1 (the new master's first):\n%s", errs, received, stats)
			}
		})
	}
}

var receivedRE = regexp.MustCompile(`Advertisements:\n    Received: (\d+)`)

func advertsReceived(t *testing.T, stats string) int {
	t.Helper()
	m := receivedRE.FindStringSubmatch(stats)
	if m == nil {
		t.Fatalf("no Received line in:\n%s", stats)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestVRRPSocketReceiveBufferAsKeepalived: the SO_RCVBUF of the VRRP
// socket, as `ss` shows it (rb, twice the size asked, as Linux doubles
// it), is the one keepalived sets for the same configuration: two
// instances share the socket, VI_1 adds its kernel_rx_buf_size and VI_2
// what vrrp_rx_bufs_policy gives it (vrrp_scheduler.c
// vrrp_create_sockpool).
func TestVRRPSocketReceiveBufferAsKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	for _, tc := range []struct {
		name, global string
		want         int // SO_RCVBUF as set: 50000 plus VI_2's share
	}{
		{"MTU", "    vrrp_rx_bufs_policy MTU\n    vrrp_rx_bufs_multiplier 4\n", 50000 + 4*1500},
		{"ADVERT", "    vrrp_rx_bufs_policy ADVERT\n", 50000 + 3*(8+8+4+20)}, // VRRPv2: 8 bytes of authentication data
		{"size", "    vrrp_rx_bufs_policy 7000\n", 50000 + 7000},
		{"no policy", "", 50000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := "global_defs {\n" + tc.global + "}\n" +
				rxInstance("VI_1", 51, "198.51.100.201", "    kernel_rx_buf_size 50000\n") +
				rxInstance("VI_2", 52, "198.51.100.202", "")
			l := newLab(t, "r1")
			r1 := l.Host("r1")
			for _, impl := range []string{"keepalived-go", "keepalived"} {
				p, pid := startImpl(t, l, r1, impl, conf)
				waitLog(t, 5*time.Second, p, "Entering BACKUP STATE")
				got := vrrpReceiveBuffers(t, pid)
				p.Stop()
				if !slices.Contains(got, 2*tc.want) {
					t.Errorf("%s: its VRRP sockets' SO_RCVBUF read %v, want one of %d (set %d):\n%s", impl, got, 2*tc.want, tc.want, p.Log())
				}
			}
		})
	}
}

func rxInstance(name string, vrid int, vip, extra string) string {
	return fmt.Sprintf("vrrp_instance %s {\n    state BACKUP\n    interface eth0\n    virtual_router_id %d\n    priority 100\n"+
		"    advert_int 1\n%s    virtual_ipaddress {\n        %s/24\n    }\n}\n", name, vrid, extra, vip)
}

// vrrpReceiveBuffers are the SO_RCVBUF values (as Linux reports them:
// twice what was set) of process pid's raw sockets for protocol 112.
func vrrpReceiveBuffers(t *testing.T, pid int) []int {
	t.Helper()
	return socketBuffers(t, pid, "raw", func(f []string) bool {
		return strings.HasSuffix(f[1], ":0070") // local "address:protocol", 112
	})
}

// socketBuffers are the SO_RCVBUF values of process pid's sockets listed
// in /proc/PID/net/FILE (raw, netlink: the inode is the tenth column)
// whose line's fields match, read from the process's own descriptors
// with pidfd_getfd (ss shows no memory figures for raw sockets without
// the raw_diag module).
func socketBuffers(t *testing.T, pid int, file string, match func(fields []string) bool) []int {
	t.Helper()
	list, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, file))
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, line := range strings.Split(string(list), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && match(f) {
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rbs []int
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || !inodes[link] {
			continue
		}
		target, _ := strconv.Atoi(e.Name())
		fd, err := unix.PidfdGetfd(pidfd, target, 0)
		if err != nil {
			t.Fatal(err)
		}
		n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		rbs = append(rbs, n)
	}
	return rbs
}

// TestNetlinkMonitorReceiveBufferAsKeepalived: the rtnetlink socket that
// follows the interfaces (subscribed to groups) has the receive buffer
// vrrp_netlink_monitor_rcv_bufs asks, in keepalived-go as in keepalived's
// VRRP process (its nl_kernel); with _force beyond net.core.rmem_max.
func TestNetlinkMonitorReceiveBufferAsKeepalived(t *testing.T) {
	netlinkBufferAsKeepalived(t, "vrrp_netlink_monitor_rcv_bufs", "198.51.100.201", true)
}

// netlinkBufferAsKeepalived starts keepalived-go, then keepalived, with
// keyword set to a size and to a forced size beyond net.core.rmem_max,
// and reads the receive buffer of their NETLINK_ROUTE sockets subscribed
// to groups (the monitor) or to none (the command sockets): one of them
// must read twice the size (the kernel doubles it).
func netlinkBufferAsKeepalived(t *testing.T, keyword, vip string, subscribed bool) {
	needRoot(t, "keepalived")
	for _, tc := range []struct {
		name, global string
		want         int
	}{
		{"size", "    " + keyword + " 100000\n", 100000},
		{"force", "    " + keyword + " 9000000\n    " + keyword + "_force\n", 9000000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := "global_defs {\n" + tc.global + "}\n" + rxInstance("VI_1", 51, vip, "")
			l := newLab(t, "r1")
			r1 := l.Host("r1")
			for _, impl := range []string{"keepalived-go", "keepalived"} {
				p, pid := startImpl(t, l, r1, impl, conf)
				waitLog(t, 5*time.Second, p, "Entering BACKUP STATE")
				var got []int
				// The daemon subscribes once its instances have started;
				// the command sockets open with the first command.
				lab.WaitUntil("the socket is open", 3*time.Second, func() bool {
					got = socketBuffers(t, pid, "netlink", func(f []string) bool {
						// NETLINK_ROUTE, subscribed to groups or to none
						return f[1] == "0" && (strings.Trim(f[3], "0") != "") == subscribed
					})
					return slices.Contains(got, 2*tc.want)
				})
				p.Stop()
				if !slices.Contains(got, 2*tc.want) {
					t.Errorf("%s: its rtnetlink sockets (subscribed: %v) read SO_RCVBUF %v, want one of %d (set %d):\n%s",
						impl, subscribed, got, 2*tc.want, tc.want, p.Log())
				}
			}
		})
	}
}

// startImpl runs keepalived-go or keepalived (VRRP only) in h and returns
// it and the pid of the process that runs VRRP (keepalived's child).
func startImpl(t *testing.T, l *lab.Lab, h *lab.Host, impl, conf string) (*lab.Proc, int) {
	t.Helper()
	var p *lab.Proc
	var err error
	if impl == "keepalived" {
		p, err = h.StartKeepalived(conf)
	} else {
		p, err = h.StartKeepalivedGo(binary, conf)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	if impl == "keepalived-go" {
		return p, p.Pid()
	}
	var pid int
	err = lab.WaitUntil("keepalived's VRRP process has written its pid", 5*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(l.Dir, h.Name+"-ka-vrrp.pid"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, pid
}

// TestTimerExpiredBackupYieldsAfterAStall: r1 (priority 150, nopreempt)
// is master over r2 (100, nopreempt); r1 stalls (SIGSTOP) for a second,
// far beyond 3 × 0.1 s plus a priority-254 router's skew, and r2 takes
// over. When r1 runs again, with timer_expired_backup it steps down
// without an advert ("VRRP thread timer expired") and r2 keeps the VIP,
// as keepalived 2.3 does (vrrp.c vrrp_thread_timeout_handler); without
// it r1's next advert takes the VIP back: a second move.
func TestTimerExpiredBackupYieldsAfterAStall(t *testing.T) {
	needRoot(t)
	for _, keyword := range []bool{true, false} {
		t.Run(fmt.Sprintf("timer_expired_backup=%v", keyword), func(t *testing.T) {
			l := newLab(t, "r1", "r2")
			r1, r2 := l.Host("r1"), l.Host("r2")
			in1, in2 := masterAndBackup(vip4)
			in1.nopreempt, in2.nopreempt = true, true
			conf1 := in1.conf()
			if keyword {
				conf1 = strings.Replace(conf1, "    nopreempt\n", "    nopreempt\n    timer_expired_backup\n", 1)
			}
			p1 := startKGConf(t, r1, conf1)
			waitHolder(t, 5*time.Second, vip4, r1, r1)
			startKG(t, r2, in2)
			time.Sleep(500 * time.Millisecond)
			waitHolder(t, time.Second, vip4, r1, r1, r2)

			p1.Signal(syscall.SIGSTOP)
			stopped := true
			defer func() {
				if stopped {
					p1.Signal(syscall.SIGCONT)
				}
			}()
			if err := lab.WaitUntil("r2 takes over", 3*time.Second, func() bool { return r2.HasAddress(vip4) }); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			p1.Signal(syscall.SIGCONT)
			stopped = false
			if keyword {
				waitHolder(t, 2*time.Second, vip4, r2, r1, r2)
				waitLog(t, time.Second, p1, "VRRP thread timer expired")
				time.Sleep(time.Second)
				waitHolder(t, 0, vip4, r2, r1, r2) // and stays there
			} else {
				waitHolder(t, 2*time.Second, vip4, r1, r1, r2)
				if strings.Contains(p1.Log(), "VRRP thread timer expired") {
					t.Error("r1 logged a timer_expired_backup step down without the keyword")
				}
			}
		})
	}
}

// TestPromoteSecondariesWhileRunning: with promote_secondaries the
// interface's net.ipv4.conf.eth0.promote_secondaries is 1 while the daemon
// runs and 0 again once it has stopped, in keepalived-go as in keepalived
// (vrrp_if_config.c set_promote_secondaries, reset_promote_secondaries).
func TestPromoteSecondariesWhileRunning(t *testing.T) {
	needRoot(t, "keepalived")
	conf := rxInstance("VI_1", 51, "198.51.100.201", "    promote_secondaries\n")
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	const path = "/proc/sys/net/ipv4/conf/eth0/promote_secondaries" // r1's, read in its namespace
	read := func() string {
		out, err := r1.Command("cat", path).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	for _, impl := range []string{"keepalived-go", "keepalived"} {
		if out, err := r1.Command("sh", "-c", "echo 0 >"+path).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		p, _ := startImpl(t, l, r1, impl, conf)
		waitLog(t, 5*time.Second, p, "Entering BACKUP STATE")
		if v := read(); v != "1" {
			t.Errorf("%s: promote_secondaries %s while running, want 1", impl, v)
		}
		p.Signal(syscall.SIGTERM)
		if err := p.Wait(5 * time.Second); err != nil && !strings.Contains(err.Error(), "exit") {
			t.Logf("%s: %v", impl, err)
		}
		if v := read(); v != "0" {
			t.Errorf("%s: promote_secondaries %s after the stop, want 0 as before", impl, v)
		}
	}
}

// TestOldUnicastChecksumIsLearnt: r3 sends r1's unicast VRRPv3 instance
// (priority 150, master) priority-254 adverts checksummed as keepalived
// 1.3.6 and earlier did, with the group in the pseudo-header. By default
// r1 accepts them, says so and yields, as keepalived does (vrrp.c
// vrrp_check_packet); with old_unicast_checksum never it drops them and
// stays master.
func TestOldUnicastChecksumIsLearnt(t *testing.T) {
	needRoot(t, "keepalived")
	for _, never := range []bool{false, true} {
		for _, impl := range []string{"keepalived-go", "keepalived"} {
			t.Run(fmt.Sprintf("%s/never=%v", impl, never), func(t *testing.T) {
				l := newLab(t, "r1", "r3")
				r1, r3 := l.Host("r1"), l.Host("r3")
				in := instance{version: 3, advertInt: "0.1", vip: vip4, priority: 150, unicast: []netip.Addr{r3.IPv4}, src: r1.IPv4}
				conf := in.conf()
				if never {
					conf = strings.Replace(conf, "    priority 150\n", "    priority 150\n    old_unicast_checksum never\n", 1)
				}
				p, _ := startImpl(t, l, r1, impl, conf)
				waitHolder(t, 5*time.Second, vip4, r1, r1)
				sendOldChecksumAdverts(t, r3, r1.IPv4, 10, 50*time.Millisecond)
				const line = "(VI_1) Setting unicast VRRPv3 checksum to old version"
				if never {
					time.Sleep(300 * time.Millisecond)
					if !r1.HasAddress(vip4) || strings.Contains(p.Log(), line) {
						t.Errorf("%s yielded to, or learnt from, old checksums with old_unicast_checksum never:\n%s", impl, p.Log())
					}
					return
				}
				waitLog(t, 2*time.Second, p, line)
				waitLog(t, 2*time.Second, p, "Entering BACKUP STATE")
			})
		}
	}
}

// sendOldChecksumAdverts sends n VRRPv3 adverts (VRID 51, priority 254,
// 0.1 s, vip4) from h to dst, checksummed with 224.0.0.18 as the
// pseudo-header's destination.
func sendOldChecksumAdverts(t *testing.T, h *lab.Host, dst netip.Addr, n int, gap time.Duration) {
	t.Helper()
	var c net.PacketConn
	if err := inNamespace(h.NS, func() error {
		var err error
		c, err = net.ListenPacket("ip4:112", h.IPv4.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := ipv4.NewPacketConn(c).SetTTL(255); err != nil {
		t.Fatal(err)
	}
	adv := vrrp.Advert{Version: 3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 254,
		Interval: 100 * time.Millisecond, Addrs: []netip.Addr{vip4}}
	b, err := adv.Marshal(h.IPv4, netip.MustParseAddr("224.0.0.18"), vrrp.ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(gap)
	}
}
