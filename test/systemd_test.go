package test

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotifyAndWatchdog runs keepalived-go as a Type=notify unit
// would, with a notify socket the test owns and WatchdogSec=1: READY=1
// with its pid once the configuration is applied, WATCHDOG=1 every half second while VRRP runs, RELOADING=1 then READY=1
// around a HUP, STOPPING=1 at TERM; and the notify script does not see
// NOTIFY_SOCKET (systemd would log its messages as not from the main pid).
func TestSystemdNotifyAndWatchdog(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	sock := filepath.Join(l.Dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	env := filepath.Join(l.Dir, "script.env")
	script := filepath.Join(l.Dir, "env.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nenv > "+env+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := instance{version: 3, priority: 150, advertInt: "0.1", vip: vip4}.conf()
	conf = strings.Replace(conf, "    priority 150\n", "    priority 150\n    notify_master "+script+"\n", 1)
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "1000000")
	kg := startKGConf(t, r1, conf)

	read := func(want string, within time.Duration) []string {
		t.Helper()
		var got []string
		deadline := time.Now().Add(within)
		buf := make([]byte, 4096)
		for {
			conn.SetReadDeadline(deadline)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("no %q within %v; got %q", want, within, got)
			}
			got = append(got, string(buf[:n]))
			if strings.HasPrefix(got[len(got)-1], want) {
				return got
			}
		}
	}
	ready := read("READY=1", 10*time.Second)
	if last := ready[len(ready)-1]; last != "READY=1\nMAINPID="+strconv.Itoa(kg.Pid()) {
		t.Errorf("ready message %q, want the daemon's pid", last)
	}
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	start := time.Now()
	for range 3 {
		read("WATCHDOG=1", 2*time.Second)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("3 watchdog feeds took %v, want one every 0.5 s", d)
	}

	if err := kg.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	got := read("READY=1", 10*time.Second)
	if !slices.Contains(got, "RELOADING=1") || slices.Index(got, "RELOADING=1") > len(got)-2 {
		t.Errorf("around the reload: %q, want RELOADING=1 then READY=1", got)
	}
	var b []byte
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err = os.ReadFile(env); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal("the notify script did not run: ", err)
	}
	for _, v := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC"} {
		if strings.Contains(string(b), v+"=") {
			t.Errorf("the notify script inherited %s", v)
		}
	}
	if err := kg.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	read("STOPPING=1", 10*time.Second)
}
