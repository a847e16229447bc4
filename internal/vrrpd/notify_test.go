package vrrpd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/testenv"
	"github.com/keepalived-go/keepalived-go/internal/track"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// notifyConf loads a configuration for the notifier tests.
func notifyConf(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, _ := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true }})
	if cfg == nil || len(cfg.Instances) == 0 {
		t.Fatal("the configuration has no instance")
	}
	return cfg
}

// recorder writes an executable script that appends its arguments to a
// file, and returns the script's path and the file's.
func recorder(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	script, out := filepath.Join(dir, name+".sh"), filepath.Join(dir, name+".out")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$*\" >>"+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, out
}

// fifoReader opens a FIFO for reading without blocking; read returns what
// the pipe holds.
func fifoReader(t *testing.T, path string) func() string {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return func() string {
		var out []byte
		buf := make([]byte, 65536)
		for {
			n, err := unix.Read(fd, buf)
			if errors.Is(err, unix.EAGAIN) || n <= 0 {
				return string(out)
			}
			out = append(out, buf[:n]...)
		}
	}
}

// The adapter writes keepalived's lines and arguments: the state's
// script, then the generic one with INSTANCE|GROUP NAME STATE PRIORITY,
// a group's priority 0, MASTER_RX_LOWER_PRI, MASTER_PRIORITY, and the
// state lines of fifo_write_vrrp_states_on_reload; notify_fifo and
// vrrp_notify_fifo naming one path get each line once.
func TestNotifierWritesKeepalivedLinesAndArguments(t *testing.T) {
	dir := t.TempDir()
	inst, instOut := recorder(t, dir, "inst")
	group, groupOut := recorder(t, dir, "group")
	fifo := filepath.Join(dir, "fifo")
	cfg := notifyConf(t, fmt.Sprintf(`global_defs {
    script_user root
    notify_fifo %[1]s
    vrrp_notify_fifo %[1]s
}
vrrp_sync_group G {
    group {
        VI_1
    }
    notify %[3]s
    notify_master "%[3]s group-master"
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    priority 100
    notify %[2]s
    notify_master "%[2]s master-only"
    notify_stop "%[2]s stop-only"
    notify_master_rx_lower_pri "%[2]s rx-lower"
    virtual_ipaddress {
        198.51.100.1
    }
}
`, fifo, inst, group))
	rt := &vrrpRuntime{log: slog.Default()}
	rt.openFIFOs(cfg)
	defer rt.fifos.Close()
	read := fifoReader(t, fifo)
	n := newNotifier(rt.log, cfg, cfg.Instances[0], rt.fifos)
	g := newGroupNotifier(rt.log, cfg, cfg.SyncGroups[0], rt.fifos)
	n.transition(vrrp.Init, vrrp.Backup, 100)
	n.transition(vrrp.Backup, vrrp.Master, 100)
	g.transition(vrrp.Backup, vrrp.Master, 0)
	n.lowerPriority(100)
	n.priorityChanged(vrrp.Master, 90)
	n.writeState(vrrp.Master, 90)
	n.priorityChanged(vrrp.Backup, 80)
	n.transition(vrrp.Master, vrrp.Stop, 80)
	stopNotifiers(notifiersOf([]*notifier{n, g}))
	wantLines := `INSTANCE "VI_1" BACKUP 100
INSTANCE "VI_1" MASTER 100
GROUP "G" MASTER 0
INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100
INSTANCE "VI_1" MASTER_PRIORITY 90
INSTANCE "VI_1" MASTER 90
INSTANCE "VI_1" BACKUP_PRIORITY 80
INSTANCE "VI_1" STOP 80
`
	if got := read(); got != wantLines {
		t.Errorf("FIFO lines:\n%s\nwant:\n%s", got, wantLines)
	}
	wantInst := "INSTANCE VI_1 BACKUP 100\nmaster-only\nINSTANCE VI_1 MASTER 100\nrx-lower\nstop-only\nINSTANCE VI_1 STOP 80\n"
	if got, _ := os.ReadFile(instOut); string(got) != wantInst {
		t.Errorf("instance scripts ran as:\n%s\nwant:\n%s", got, wantInst)
	}
	if got, _ := os.ReadFile(groupOut); string(got) != "group-master\nGROUP G MASTER 0\n" {
		t.Errorf("group scripts ran as:\n%s", got)
	}
}

// A hung notify_master holds back neither the FIFO lines nor, beyond the
// bound, notify_backup.
func TestHungNotifyMasterHoldsBackNeitherFIFONorBackup(t *testing.T) {
	defer func(d time.Duration) { notifyScriptWait = d }(notifyScriptWait)
	notifyScriptWait = 200 * time.Millisecond
	dir := t.TempDir()
	rec, out := recorder(t, dir, "rec")
	fifo := filepath.Join(dir, "fifo")
	cfg := notifyConf(t, fmt.Sprintf(`global_defs {
    script_user root
    vrrp_notify_fifo %s
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    priority 100
    notify_master "/bin/sleep 60"
    notify_backup "%s backup"
    virtual_ipaddress {
        198.51.100.1
    }
}
`, fifo, rec))
	rt := &vrrpRuntime{log: slog.Default()}
	rt.openFIFOs(cfg)
	defer rt.fifos.Close()
	read := fifoReader(t, fifo)
	n := newNotifier(rt.log, cfg, cfg.Instances[0], rt.fifos)
	defer stopNotifiers(notifiersOf([]*notifier{n}))
	n.transition(vrrp.Backup, vrrp.Master, 100)
	n.transition(vrrp.Master, vrrp.Backup, 100)
	if got := read(); got != "INSTANCE \"VI_1\" MASTER 100\nINSTANCE \"VI_1\" BACKUP 100\n" {
		t.Fatalf("FIFO lines right after the changes: %q; they must not wait for notify_master", got)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) == "backup" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("notify_backup did not run behind the hung notify_master")
		}
	}
}

// The generic notify script gets its own words, then keepalived's four
// arguments, each once (runner.Script.WithArgs).
func TestGenericNotifyGetsItsOwnWordsThenTheFour(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	cfg := notifyConf(t, fmt.Sprintf(`global_defs {
    script_user root
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    priority 100
    notify "/bin/sh -c 'echo $@ >>%s' sh own"
    virtual_ipaddress {
        198.51.100.1
    }
}
`, out))
	n := newNotifier(slog.Default(), cfg, cfg.Instances[0], nil)
	n.transition(vrrp.Backup, vrrp.Master, 100)
	stopNotifiers(notifiersOf([]*notifier{n}))
	if got, _ := os.ReadFile(out); string(got) != "own INSTANCE VI_1 MASTER 100\n" {
		t.Errorf("the generic script printed %q, want %q", got, "own INSTANCE VI_1 MASTER 100\n")
	}
}

// With vrrp_rt_priority the daemon's threads run SCHED_RR; a notify
// script must not (keepalived's reset_process_priorities in
// system_call_script): it runs through internal/runner.
func TestNotifyScriptDoesNotInheritRealTimeScheduling(t *testing.T) {
	testenv.RequireRoot(t)
	out := filepath.Join(t.TempDir(), "out")
	script := filepath.Join(t.TempDir(), "sched.sh")
	// Field 41 of /proc/PID/stat is the policy: 0 normal, 2 SCHED_RR.
	body := "#!/bin/sh\nset -- $(sed 's/.*) //' /proc/$$/stat)\neval echo \\${39} >" + out + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := notifyConf(t, fmt.Sprintf("global_defs {\n    script_user root\n}\nvrrp_instance VI_1 {\n    interface lo\n"+
		"    virtual_router_id 1\n    priority 100\n    notify_master %s\n    virtual_ipaddress {\n        198.51.100.1\n    }\n}\n", script))
	n := newNotifier(slog.Default(), cfg, cfg.Instances[0], nil)
	setThreadsScheduling(t, unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: 1})
	n.transition(vrrp.Backup, vrrp.Master, 100)
	stopNotifiers(notifiersOf([]*notifier{n}))
	setThreadsScheduling(t, unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL})
	if got, _ := os.ReadFile(out); strings.TrimSpace(string(got)) != "0" {
		t.Errorf("notify_master ran with scheduling policy %q, want 0 (SCHED_NORMAL)", got)
	}
}

// setThreadsScheduling gives every thread of the test process attr, as
// vrrp_rt_priority does to the daemon's.
func setThreadsScheduling(t *testing.T, attr unix.SchedAttr) {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		tid, _ := strconv.Atoi(e.Name())
		if err := unix.SchedSetAttr(tid, &attr, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			t.Fatalf("sched_setattr %d: %v", tid, err)
		}
	}
}

// TestReloadNotifiesARemovedInstanceAsKeepalived: an instance a reload
// removes notifies FAULT (notify_fault, the generic notify) as keepalived
// always has, or with notify_deleted DELETED (its script, the generic
// notify), never STOP (vrrp.c clear_diff_vrrp); an instance the reload
// keeps notifies nothing.
func TestReloadNotifiesARemovedInstanceAsKeepalived(t *testing.T) {
	for _, tc := range []struct {
		name, deleted, want string
	}{
		{"without notify_deleted", "", "FAULT"},
		{"with notify_deleted", "notify_deleted %s\n", "DELETED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			generic, genericOut := recorder(t, dir, "generic")
			fault, faultOut := recorder(t, dir, "fault")
			deleted, deletedOut := recorder(t, dir, "deleted")
			inst := func(name string, vrid int, extra string) string {
				return fmt.Sprintf("vrrp_instance %s {\n interface eth0\n virtual_router_id %d\n priority 100\n advert_int 0.1\n"+
					" notify %s\n notify_fault %s\n%s virtual_ipaddress {\n 198.51.100.%d\n }\n}\n", name, vrid, generic, fault, extra, vrid)
			}
			extra := tc.deleted
			if extra != "" {
				extra = fmt.Sprintf(extra, deleted)
			}
			global := "global_defs {\n script_user root\n}\n"
			both := notifyConf(t, global+inst("VI_1", 1, "")+inst("VI_2", 2, extra))
			one := notifyConf(t, global+inst("VI_1", 1, ""))
			trackSources = track.Sources{Links: &fakeLinks{watched: make(chan *fakeLinkWatch, 4)}}
			t.Cleanup(func() { trackSources = track.Sources{} })
			k := kernel.NewFake(kernel.Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.1")})
			rt, err := startVRRP(both, k, slog.New(slog.NewTextHandler(io.Discard, nil)), false, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { rt.stop() }()
			read := func(path string) string { b, _ := os.ReadFile(path); return string(b) }
			if err := lab.WaitUntil("both start", 5*time.Second, func() bool {
				return strings.Contains(read(genericOut), "VI_1 BACKUP") && strings.Contains(read(genericOut), "VI_2 BACKUP")
			}); err != nil {
				t.Fatal(err)
			}
			if rt, err = rt.reload(one, false); err != nil {
				t.Fatal(err)
			}
			line := "INSTANCE VI_2 " + tc.want + " 100"
			if err := lab.WaitUntil(line, 5*time.Second, func() bool { return strings.Contains(read(genericOut), line) }); err != nil {
				t.Fatalf("%v; the generic notify got:\n%s", err, read(genericOut))
			}
			stateOut := map[string]string{"FAULT": faultOut, "DELETED": deletedOut}[tc.want]
			if err := lab.WaitUntil("the state's script runs", 5*time.Second, func() bool { return read(stateOut) != "" }); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if g := read(genericOut); strings.Contains(g, "STOP") || strings.Count(g, "VI_1") != strings.Count(g, "VI_1 BACKUP")+strings.Count(g, "VI_1 MASTER") {
				t.Errorf("the reload notified STOP or VI_1 changed:\n%s", g)
			}
			if tc.want == "DELETED" && read(faultOut) != "" {
				t.Errorf("notify_fault ran for a deleted instance with notify_deleted: %q", read(faultOut))
			}
		})
	}
}
