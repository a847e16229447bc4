//go:build linux

package kernel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestParseProcEvent(t *testing.T) {
	msg := func(ack uint32, what uint32, fields ...uint32) syscall.NetlinkMessage {
		var b bytes.Buffer
		for _, v := range []uint32{netlink.CN_IDX_PROC, netlink.CN_VAL_PROC, 7, ack} {
			binary.Write(&b, binary.NativeEndian, v)
		}
		binary.Write(&b, binary.NativeEndian, uint16(0))
		binary.Write(&b, binary.NativeEndian, uint16(0))
		binary.Write(&b, binary.NativeEndian, what)
		binary.Write(&b, binary.NativeEndian, uint32(0))
		binary.Write(&b, binary.NativeEndian, uint64(0))
		for _, f := range fields {
			binary.Write(&b, binary.NativeEndian, f)
		}
		return syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: unix.NLMSG_DONE}, Data: b.Bytes()}
	}
	if ev, ok := parseProcEvent(msg(1, netlink.PROC_EVENT_NONE)); !ok || ev.Kind != ProcAck {
		t.Errorf("the acknowledgement: %+v %v", ev, ok)
	}
	if _, ok := parseProcEvent(msg(0, netlink.PROC_EVENT_NONE)); ok {
		t.Error("an event of type none without ack must be dropped")
	}
	if ev, ok := parseProcEvent(msg(0, netlink.PROC_EVENT_FORK, 1, 2, 3, 4)); !ok || ev.Kind != ProcFork || ev.ParentTgid != 2 || ev.Pid != 3 || ev.Tgid != 4 {
		t.Errorf("fork: %+v %v", ev, ok)
	}
	if ev, ok := parseProcEvent(msg(0, netlink.PROC_EVENT_EXIT, 5, 6, 0, 9, 0, 0)); !ok || ev.Kind != ProcExit || ev.Pid != 5 || ev.Tgid != 6 {
		t.Errorf("exit: %+v %v", ev, ok)
	}
	if ev, ok := parseProcEvent(msg(0, netlink.PROC_EVENT_EXEC, 7, 7)); !ok || ev.Kind != ProcExec || ev.Pid != 7 {
		t.Errorf("exec: %+v %v", ev, ok)
	}
	comm := msg(0, netlink.PROC_EVENT_COMM, 8, 8)
	comm.Data = append(comm.Data, append([]byte("worker"), make([]byte, 10)...)...)
	if ev, ok := parseProcEvent(comm); !ok || ev.Kind != ProcComm || ev.Pid != 8 || ev.Comm != "worker" {
		t.Errorf("comm: %+v %v", ev, ok)
	}
}

// FuzzParseProcStat: /proc/PID/stat lines, whatever a process names
// itself. Never panics; a name it returns lies between the parentheses.
func FuzzParseProcStat(f *testing.F) {
	for _, s := range []string{"1 (init) S 0 1", "42 (a) b) Z 1", "7 (x", ") (", "9 (sleep) R"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		comm, ok := parseProcStat(b)
		if ok && !strings.Contains(string(b), "("+comm+")") {
			t.Fatalf("parseProcStat(%q) = %q, not a parenthesised part of it", b, comm)
		}
	})
}

// FuzzParseProcEvent: messages from the kernel's proc connector, of any
// length and content. Never panics.
func FuzzParseProcEvent(f *testing.F) {
	hdr := make([]byte, cnMsgLen+procEventHdrLen)
	binary.NativeEndian.PutUint32(hdr[0:], netlink.CN_IDX_PROC)
	binary.NativeEndian.PutUint32(hdr[4:], netlink.CN_VAL_PROC)
	for _, what := range []uint32{netlink.PROC_EVENT_NONE, netlink.PROC_EVENT_FORK, netlink.PROC_EVENT_EXEC,
		netlink.PROC_EVENT_EXIT, netlink.PROC_EVENT_COMM} {
		m := append([]byte(nil), hdr...)
		binary.NativeEndian.PutUint32(m[cnMsgLen:], what)
		f.Add(uint16(unix.NLMSG_DONE), append(m, make([]byte, 24)...))
	}
	f.Fuzz(func(t *testing.T, typ uint16, data []byte) {
		parseProcEvent(syscall.NetlinkMessage{Header: syscall.NlMsghdr{Type: typ}, Data: data})
	})
}

// sleeper starts a copy of sleep under a name unique to the test (at most
// 15 characters, the kernel's limit for a process name); the test's end
// kills it.
func sleeper(t *testing.T, args ...string) (name string, cmd *exec.Cmd) {
	t.Helper()
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("needs sleep")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	name = fmt.Sprintf("kgkp%d", os.Getpid()%1000000)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(path, args...)
	return name, cmd
}

func TestPidsAndReadProcess(t *testing.T) {
	name, cmd := sleeper(t, "1000", "0.5") // sleep sums its arguments; a bad one would end it at once
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pids, err := Pids()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, pid := range pids {
		found = found || pid == cmd.Process.Pid
	}
	if !found {
		t.Fatalf("Pids lacks the running %d", cmd.Process.Pid)
	}
	// exec(2) has set the new name before it lays out the arguments, and
	// Start returns as soon as the exec is under way: the command line
	// may read empty for a moment.
	p, ok := ReadProcess(cmd.Process.Pid, true, true)
	for deadline := time.Now().Add(time.Second); ok && len(p.Cmdline) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		p, ok = ReadProcess(cmd.Process.Pid, true, true)
	}
	if !ok || p.Comm != name || string(p.Cmdline) != cmd.Path+"\x00"+"1000\x000.5\x00" {
		t.Fatalf("ReadProcess: %+v %v, want comm %s and its command line", p, ok, name)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, ok := ReadProcess(cmd.Process.Pid, true, false); ok {
		t.Fatal("a process that is gone must not read")
	}
}

// TestProcConnectorSeesAProcess: the connector acknowledges the
// subscription and reports a process's start and exit. The kernel may
// refuse it outside the initial network namespace or without root; as
// root in it, it must work.
func TestProcConnectorSeesAProcess(t *testing.T) {
	must := os.Geteuid() == 0 && inInitialNetNS()
	c, err := OpenProcConnector()
	if err != nil {
		if must {
			t.Fatal(err)
		}
		t.Skipf("the kernel refuses the proc connector here: %v", err)
	}
	defer c.Close()
	next := func(what string, within time.Duration, match func(ProcEvent) bool) bool {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case ev, ok := <-c.Events():
				if !ok {
					t.Fatalf("%s: the events ended: %v", what, c.Err())
				}
				if match(ev) {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	if !next("the acknowledgement", time.Second, func(ev ProcEvent) bool { return ev.Kind == ProcAck }) {
		if must {
			t.Fatal("no acknowledgement as root in the initial network namespace")
		}
		t.Skip("the kernel does not acknowledge the proc connector here")
	}
	_, cmd := sleeper(t, "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !next("the exec", 3*time.Second, func(ev ProcEvent) bool { return ev.Kind == ProcExec && ev.Pid == pid }) {
		t.Fatal("the exec was not seen")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !next("the exit", 3*time.Second, func(ev ProcEvent) bool { return ev.Kind == ProcExit && ev.Pid == pid && ev.Tgid == pid }) {
		t.Fatal("the exit was not seen")
	}
	c.Close()
	if _, ok := <-c.Events(); ok {
		// Events queued before Close may still be there; the channel
		// must end.
		for range c.Events() {
		}
	}
	if c.Err() != nil {
		t.Fatalf("Err after Close: %v", c.Err())
	}
}

// inInitialNetNS tells whether this process shares init's network
// namespace.
func inInitialNetNS() bool {
	self, err1 := os.Readlink("/proc/self/ns/net")
	initNS, err2 := os.Readlink("/proc/1/ns/net")
	return err1 == nil && err2 == nil && self == initNS
}

// TestProcConnectorReceiveBuffer: process_monitor_rcv_bufs sizes the
// connector's socket (the kernel reports twice the size set).
func TestProcConnectorReceiveBuffer(t *testing.T) {
	must := os.Geteuid() == 0 && inInitialNetNS()
	c, err := OpenProcConnectorWith(NetlinkBuffer{Size: 100000})
	if err != nil {
		if must {
			t.Fatal(err)
		}
		t.Skipf("the kernel refuses the proc connector here: %v", err)
	}
	defer c.Close()
	n, err := unix.GetsockoptInt(c.s.GetFd(), unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil || n != 200000 {
		t.Fatalf("SO_RCVBUF %d (%v), want 200000", n, err)
	}
}
