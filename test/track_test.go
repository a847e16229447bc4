package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// trackConf is a VRRPv3 instance at prio with the track_* entries track,
// after the top-level blocks.
func trackConf(prio int, blocks, track string) string {
	return fmt.Sprintf(`%s
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.1
    version 3
%s    virtual_ipaddress {
        198.51.100.200/24
    }
}
`, blocks, prio, track)
}

// setValue writes a tracked file as a user would (echo V > FILE).
func setValue(t *testing.T, path, value string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(value+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTrackFileWeightMovesTheVIP: r1 (priority 150) tracks a file with
// weight -60 (its track_file entry overriding the block's weight 5); the
// file holding 1 takes r1 to 90, below r2's 100, and r2 takes the VIP;
// 0 brings it back. init_file creates the file at start.
func TestTrackFileWeightMovesTheVIP(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	state := filepath.Join(l.Dir, "r1-state")
	block := fmt.Sprintf("track_file state {\n    file %s\n    weight 5\n    init_file 0\n}\n", state)
	p1 := startKGConf(t, r1, trackConf(150, block, "    track_file {\n        state weight -60\n    }\n"))
	startKGConf(t, r2, trackConf(100, "", ""))
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	if b, err := os.ReadFile(state); err != nil || string(b) != "0\n" {
		t.Fatalf("init_file 0 should have created %s with 0: %q %v", state, b, err)
	}

	setValue(t, state, "1")
	waitHolder(t, 5*time.Second, vip4, r2, r1, r2)
	waitLog(t, time.Second, p1, "(VI_1) Changing effective priority from 150 to 90")
	if strings.Contains(p1.Log(), "Entering FAULT STATE") {
		t.Fatal("a weighted track_file must change the priority, not cause FAULT")
	}

	setValue(t, state, "0")
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	waitLog(t, time.Second, p1, "(VI_1) Changing effective priority from 90 to 150")
}

// sleepCopy copies sleep under a name unique to this test (at most 15
// characters, the kernel's limit for a process name) and returns it.
func sleepCopy(t *testing.T, l *lab.Lab) (name, path string) {
	t.Helper()
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	name = fmt.Sprintf("kgsl%d", os.Getpid()%1000000)
	path = filepath.Join(l.Dir, name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return name, path
}

// runIn starts the command in host h; the test's end kills it.
func runIn(t *testing.T, h *lab.Host, path string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := h.Command(path, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestTrackProcessFaultMovesTheVIP: r1 tracks a process with weight 0;
// killing it puts r1 in FAULT and r2 takes the VIP; starting it again
// brings the VIP back to r1.
func TestTrackProcessFaultMovesTheVIP(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	name, path := sleepCopy(t, l)
	svc := runIn(t, r1, path, "1000")
	block := fmt.Sprintf("vrrp_track_process svc {\n    process %s\n    weight 0\n}\n", name)
	p1 := startKGConf(t, r1, trackConf(150, block, "    track_process {\n        svc\n    }\n"))
	startKGConf(t, r2, trackConf(100, "", ""))
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	if strings.Contains(p1.Log(), "Entering FAULT STATE") {
		t.Fatal("FAULT while the tracked process runs")
	}

	svc.Process.Kill()
	svc.Wait()
	waitLog(t, 5*time.Second, p1, "Quorum lost for tracked process svc")
	waitLog(t, time.Second, p1, "Entering FAULT STATE")
	waitHolder(t, 5*time.Second, vip4, r2, r1, r2)

	runIn(t, r1, path, "1000")
	waitLog(t, 5*time.Second, p1, "Quorum gained for tracked process svc")
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
}

// waitLogs waits (at most d) until the daemon has logged text n times.
func waitLogs(t *testing.T, d time.Duration, p *lab.Proc, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for strings.Count(p.Log(), text) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s logged %q %d times within %v, want %d", p.Name, text, strings.Count(p.Log(), text), d, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTrackFileAgreesWithKeepalived: keepalived-go and Debian's keepalived
// run the same track_file configuration (priority 150, weight -60) and
// see the same values; both reach the same effective priorities (value 1:
// 90; 2: 30; -1: 210), both go to FAULT at 5 (-300, at or below -254)
// and both leave it at 0.
func TestTrackFileAgreesWithKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "kg", "ka")
	kg, ka := l.Host("kg"), l.Host("ka")
	conf := func(file string) string {
		block := fmt.Sprintf("track_file state {\n    file %s\n    weight -60\n    init_file 0\n}\n", file)
		return trackConf(150, block, "    track_file {\n        state\n    }\n")
	}
	kgFile, kaFile := filepath.Join(l.Dir, "kg-state"), filepath.Join(l.Dir, "ka-state")
	pkg := startKGConf(t, kg, conf(kgFile))
	pka, err := ka.StartKeepalived(conf(kaFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pka.Stop(); dumpLogOnFailure(t, ka, pka) })
	for _, p := range []*lab.Proc{pkg, pka} {
		waitLog(t, 5*time.Second, p, "Entering BACKUP STATE")
	}
	for _, step := range []struct{ value, line string }{
		{"1", "(VI_1) Changing effective priority from 150 to 90"},
		{"2", "(VI_1) Changing effective priority from 90 to 30"},
		{"-1", "(VI_1) Changing effective priority from 30 to 210"},
		{"5", "Entering FAULT STATE"},
	} {
		before := map[*lab.Proc]int{pkg: strings.Count(pkg.Log(), step.line), pka: strings.Count(pka.Log(), step.line)}
		setValue(t, kgFile, step.value)
		setValue(t, kaFile, step.value)
		for _, p := range []*lab.Proc{pkg, pka} {
			waitLogs(t, 3*time.Second, p, step.line, before[p]+1)
		}
	}
	// Leaving FAULT: each enters BACKUP (or MASTER) once more.
	backups := map[*lab.Proc]int{}
	for _, p := range []*lab.Proc{pkg, pka} {
		backups[p] = strings.Count(p.Log(), "Entering BACKUP STATE")
	}
	setValue(t, kgFile, "0")
	setValue(t, kaFile, "0")
	for _, p := range []*lab.Proc{pkg, pka} {
		waitLogs(t, 5*time.Second, p, "Entering BACKUP STATE", backups[p]+1)
	}
	// Equal priorities again: one of them (whichever's timer ran out
	// first) holds the VIP.
	oneHolds := func() bool { return kg.HasAddress(vip4) != ka.HasAddress(vip4) }
	if err := lab.WaitUntil("exactly one holds the VIP after leaving FAULT", 5*time.Second, oneHolds); err != nil {
		t.Fatalf("%v: kg %v ka %v", err, kg.HasAddress(vip4), ka.HasAddress(vip4))
	}
}

// TestPriorityChangesReachTheFIFO: with notify_priority_changes, each
// change of effective priority writes keepalived's MASTER_PRIORITY line
// (from a master) or BACKUP_PRIORITY line (from a backup) to the FIFO.
func TestPriorityChangesReachTheFIFO(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	state := filepath.Join(l.Dir, "r1-state")
	fifo := newNotifyFIFO(t, l, "r1.fifo")
	blocks := fmt.Sprintf("global_defs {\n    vrrp_notify_fifo %s\n    vrrp_notify_priority_changes\n}\n"+
		"track_file state {\n    file %s\n    weight -10\n    init_file 0\n}\n", fifo.path, state)
	startKGConf(t, r1, trackConf(150, blocks, "    track_file {\n        state\n    }\n"))
	waitHolder(t, 5*time.Second, vip4, r1, r1)
	setValue(t, state, "2")
	fifo.waitLine(t, 3*time.Second, "INSTANCE \"VI_1\" MASTER_PRIORITY 130\n", 1)
}
