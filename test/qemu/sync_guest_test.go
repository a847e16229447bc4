//go:build ipvsguest

package qemu

// lvs_sync_daemon in the guest (see qemu_test.go): keepalived-go (VRRP,
// -P) in the guest's root namespace and Debian's keepalived 2.2.7 in a
// namespace "dir2", one VRRP instance between them over a veth pair, each
// with lvs_sync_daemon on its end. `ipvsadm -Ln --daemon` on each side
// must show the master sync daemon where the instance is master and the
// backup one where it is not, following every failover.

import (
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// inNetns runs fn on a thread in the named network namespace.
func inNetns(name string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	ns, err := netns.GetFromName(name)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		return err
	}
	defer netns.Set(orig)
	return fn()
}

const syncConf = `global_defs {
    router_id %ROUTER%
    lvs_sync_daemon %IF% VI_1
}
vrrp_instance VI_1 {
    interface %IF%
    virtual_router_id 51
    priority %PRIO%
    advert_int 1
    virtual_ipaddress {
        10.20.0.100/24
    }
}
`

func syncConfFor(router, ifname, prio string) string {
	return strings.NewReplacer("%ROUTER%", router, "%IF%", ifname, "%PRIO%", prio).Replace(syncConf)
}

// daemonLine is `ipvsadm -Ln --daemon` in a namespace ("" for the
// guest's root), its lines joined.
func daemonLine(t *testing.T, ns string) string {
	t.Helper()
	args := []string{"ipvsadm", "-Ln", "--daemon"}
	if ns != "" {
		args = append([]string{"netns", "exec", ns}, args...)
		return strings.Join(strings.Fields(run(t, "/sbin/ip", args...)), " ")
	}
	return strings.Join(strings.Fields(run(t, args[0], args[1:]...)), " ")
}

// waitDaemon waits until a namespace's daemons are want.
func waitDaemon(t *testing.T, ns, what, want string, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := daemonLine(t, ns)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: ipvsadm -Ln --daemon%s shows %q, want %q\n%s", what, map[bool]string{true: " in " + ns}[ns != ""], got, want, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestGuestSyncDaemon(t *testing.T) {
	ip := func(args ...string) { run(t, "/sbin/ip", args...) }
	ip("netns", "add", "dir2")
	t.Cleanup(func() { exec.Command("/sbin/ip", "netns", "del", "dir2").Run() })
	ip("-n", "dir2", "link", "set", "lo", "up")
	ip("link", "add", "s0", "type", "veth", "peer", "name", "s1", "netns", "dir2")
	t.Cleanup(func() { exec.Command("/sbin/ip", "link", "del", "s0").Run() })
	ip("addr", "add", "10.20.0.1/24", "dev", "s0")
	ip("link", "set", "s0", "up")
	ip("-n", "dir2", "addr", "add", "10.20.0.2/24", "dev", "s1")
	ip("-n", "dir2", "link", "set", "s1", "up")

	// keepalived-go alone: its instance becomes master, and so its
	// daemon.
	if err := os.WriteFile("/tmp/kg-sync.conf", []byte(syncConfFor("kg", "s0", "150")), 0o644); err != nil {
		t.Fatal(err)
	}
	var ours syncWriter
	kg := exec.Command(os.Getenv("KG_BINARY"), "-n", "-l", "-D", "-P", "-f", "/tmp/kg-sync.conf", "-p", "/tmp/kg-sync.pid",
		"-r", "/tmp/kg-sync-vrrp.pid")
	kg.Stdout, kg.Stderr = &ours, &ours
	if err := kg.Start(); err != nil {
		t.Fatal(err)
	}
	kgDone := make(chan struct{})
	go func() { kg.Wait(); close(kgDone) }()
	t.Cleanup(func() {
		kg.Process.Kill()
		<-kgDone
		if t.Failed() {
			t.Logf("keepalived-go's log:\n%s", ours.String())
		}
	})
	logs := func() string { return "keepalived-go:\n" + ours.String() }
	const (
		defaults    = ", maxlen=1472, group=224.0.0.81, port=8848, ttl=1)" // the kernel's, on a veth
		ourMaster   = "master sync daemon (mcast=s0, syncid=51" + defaults
		ourBackup   = "backup sync daemon (mcast=s0, syncid=51" + defaults
		theirMaster = "master sync daemon (mcast=s1, syncid=51" + defaults
	)
	waitDaemon(t, "", "keepalived-go alone", ourMaster, logs)

	// Our master daemon sends the connections of this director's IPVS
	// to a backup daemon in dir2 (started by hand, syncid 51): a
	// connection made here shows in dir2's `ipvsadm -Lnc`.
	ip("netns", "exec", "dir2", "ipvsadm", "--start-daemon", "backup", "--mcast-interface", "s1", "--syncid", "51")
	run(t, "ipvsadm", "-A", "-u", "10.20.0.100:53", "-s", "rr")
	run(t, "ipvsadm", "-a", "-u", "10.20.0.100:53", "-r", "10.20.0.77:53", "-m")
	t.Cleanup(func() { exec.Command("ipvsadm", "-C").Run() })
	// The first packet of a UDP connection is synced (threshold 1; a TCP
	// one only once established: ip_vs_sync_conn_needed).
	if err := os.WriteFile("/proc/sys/net/ipv4/vs/sync_threshold", []byte("1 50"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A client namespace routed through this director sends a datagram
	// to the VIP, which IPVS forwards to a real server that is not there.
	ip("netns", "add", "sc")
	t.Cleanup(func() { exec.Command("/sbin/ip", "netns", "del", "sc").Run() })
	ip("link", "add", "sc0", "type", "veth", "peer", "name", "sc1", "netns", "sc")
	ip("addr", "add", "10.21.0.1/24", "dev", "sc0")
	ip("link", "set", "sc0", "up")
	ip("-n", "sc", "addr", "add", "10.21.0.2/24", "dev", "sc1")
	ip("-n", "sc", "link", "set", "sc1", "up")
	ip("-n", "sc", "route", "add", "default", "via", "10.21.0.1")
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	sendErr := inNetns("sc", func() error {
		c, err := net.Dial("udp4", "10.20.0.100:53")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		return err
	})
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		conns := run(t, "/sbin/ip", "netns", "exec", "dir2", "ipvsadm", "-Lnc")
		if strings.Contains(conns, "10.20.0.100:53") && strings.Contains(conns, "10.20.0.77:53") {
			t.Logf("synced to dir2:\n%s", conns)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection synced to dir2:\n%s\nhere:\n%s\n%s", conns, run(t, "ipvsadm", "-Lnc"), run(t, "ipvsadm", "-Ln", "--stats"))
		}
		time.Sleep(300 * time.Millisecond)
	}
	ip("netns", "exec", "dir2", "ipvsadm", "--stop-daemon", "backup")
	run(t, "ipvsadm", "-C")

	// Debian's keepalived, priority 200, takes over: its daemon is the
	// master, ours the backup.
	if err := os.WriteFile("/tmp/ka-sync.conf", []byte(syncConfFor("ka", "s1", "200")), 0o644); err != nil {
		t.Fatal(err)
	}
	var theirs syncWriter
	ka := exec.Command("/sbin/ip", "netns", "exec", "dir2", "/sbin/keepalived", "-n", "-l", "-D", "-P", "-f", "/tmp/ka-sync.conf",
		"-p", "/tmp/ka-sync.pid", "-r", "/tmp/ka-sync-vrrp.pid")
	ka.Stdout, ka.Stderr = &theirs, &theirs
	if err := ka.Start(); err != nil {
		t.Fatal(err)
	}
	kaDone := make(chan struct{})
	go func() { ka.Wait(); close(kaDone) }()
	t.Cleanup(func() {
		ka.Process.Kill()
		<-kaDone
		if t.Failed() {
			t.Logf("keepalived's log:\n%s", theirs.String())
		}
	})
	logs = func() string { return "keepalived-go:\n" + ours.String() + "\nkeepalived:\n" + theirs.String() }
	waitDaemon(t, "dir2", "keepalived took over", theirMaster, logs)
	waitDaemon(t, "", "keepalived took over", ourBackup, logs)

	// keepalived stops: it stops its daemon, and ours is the master again.
	ka.Process.Signal(syscall.SIGTERM)
	select {
	case <-kaDone:
	case <-time.After(20 * time.Second):
		t.Fatal("keepalived did not stop")
	}
	waitDaemon(t, "dir2", "keepalived stopped", "", logs)
	waitDaemon(t, "", "keepalived stopped", ourMaster, logs)

	// keepalived-go stops: no daemon left.
	kg.Process.Signal(syscall.SIGTERM)
	select {
	case <-kgDone:
	case <-time.After(20 * time.Second):
		t.Fatal("keepalived-go did not stop")
	}
	waitDaemon(t, "", "keepalived-go stopped", "", logs)
}
