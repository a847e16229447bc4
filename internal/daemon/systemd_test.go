package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// notifySocket listens where the test tells the daemon NOTIFY_SOCKET is,
// and returns the messages as they arrive.
func notifySocket(t *testing.T) (path string, messages <-chan string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			ch <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return path, ch
}

func nextMessage(t *testing.T, messages <-chan string) string {
	t.Helper()
	select {
	case m := <-messages:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no notify message within 5 s")
		return ""
	}
}

func TestSystemdVariablesAreReadAndHiddenFromScripts(t *testing.T) {
	path, messages := notifySocket(t)
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	sd := newSystemd(discardLog())
	if sd.watchdog != 3*time.Second {
		t.Errorf("watchdog %v, want 3s", sd.watchdog)
	}
	for _, v := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		if _, set := os.LookupEnv(v); set {
			t.Errorf("%s is still in the environment scripts inherit", v)
		}
	}
	sd.ready()
	if m := nextMessage(t, messages); m != "READY=1\nMAINPID="+strconv.Itoa(os.Getpid()) {
		t.Errorf("ready sent %q", m)
	}
	sd.reloading()
	sd.stopping()
	if a, b := nextMessage(t, messages), nextMessage(t, messages); a != "RELOADING=1" || b != "STOPPING=1" {
		t.Errorf("sent %q then %q", a, b)
	}
}

func TestWatchdogOfAnotherProcessIsNotOurs(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/nonexistent")
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", "1")
	if sd := newSystemd(discardLog()); sd.watchdog != 0 {
		t.Errorf("watchdog %v for another pid", sd.watchdog)
	}
}

type fakeLoop struct{ stalled atomic.Bool }

func (f *fakeLoop) Alive(ctx context.Context) error {
	if f.stalled.Load() {
		<-ctx.Done()
		return errors.New("VRRP instance VI_1 does not answer")
	}
	return nil
}

// The watchdog is fed while the loops answer, not while one stalls, and
// again once it answers.
func TestWatchdogStopsWhenTheVRRPLoopStalls(t *testing.T) {
	path, messages := notifySocket(t)
	sd := &systemd{log: discardLog(), socket: path, watchdog: 100 * time.Millisecond}
	loop := &fakeLoop{}
	stop := sd.startWatchdog([]liveness{loop})
	defer stop()
	for range 3 {
		if m := nextMessage(t, messages); m != "WATCHDOG=1" {
			t.Fatalf("sent %q, want WATCHDOG=1", m)
		}
	}
	loop.stalled.Store(true)
	time.Sleep(60 * time.Millisecond) // a feed under way may still land
	for len(messages) > 0 {
		<-messages
	}
	select {
	case m := <-messages:
		t.Fatalf("sent %q while the loop stalls", m)
	case <-time.After(400 * time.Millisecond):
	}
	loop.stalled.Store(false)
	if m := nextMessage(t, messages); m != "WATCHDOG=1" {
		t.Fatalf("sent %q after the loop recovered", m)
	}
}

func TestAbstractNotifySocket(t *testing.T) {
	name := "kg-notify-test-" + strconv.Itoa(os.Getpid())
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "\x00" + name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := sendNotify("@"+name, "READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "READY=1") {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}
