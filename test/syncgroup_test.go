package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// syncGroupConf is two instances (VRIDs 51 and 52) in sync group G1; VI_1
// tracks the interface trk0 (without weight: down means FAULT) when
// track is set; notify gets the group's notifications.
func syncGroupConf(prio int, track bool, notify string) string {
	trackLine := ""
	if track {
		trackLine = "    track_interface {\n        trk0\n    }\n"
	}
	notifyLine := ""
	if notify != "" {
		notifyLine = "    notify " + notify + "\n"
	}
	instance := func(n, vrid int, vip, extra string) string {
		return fmt.Sprintf(`vrrp_instance VI_%d {
    state BACKUP
    interface eth0
    virtual_router_id %d
    priority %d
    advert_int 0.1
    version 3
%s    virtual_ipaddress {
        %s/24
    }
}
`, n, vrid, prio, extra, vip)
	}
	return fmt.Sprintf(`global_defs {
    enable_script_security
    script_user root
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
%s}
`, notifyLine) + instance(1, 51, vip4.String(), trackLine) + instance(2, 52, vip4b.String(), "")
}

// TestSyncGroupFailsOverTogetherWithKeepalived: keepalived-go (r1, 150)
// and keepalived (r2, 100) each run sync group G1 of two instances. When
// the interface only VI_1 tracks goes down on r1, the whole group goes to
// FAULT, so keepalived takes both VIPs; when it comes back, r1 takes both
// back. r1's group notify script sees keepalived's GROUP arguments.
func TestSyncGroupFailsOverTogetherWithKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	addTrackedLink(t, r1)
	script, out := recordingScript(t, l, "group", `"$*"`)
	p1 := startKGConf(t, r1, syncGroupConf(150, true, script))
	p2, err := r2.StartKeepalived(syncGroupConf(100, false, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p2.Stop(); dumpLogOnFailure(t, r2, p2) })
	holdsBoth := func(h *lab.Host) {
		waitHolder(t, 8*time.Second, vip4, h, r1, r2)
		waitHolder(t, 2*time.Second, vip4b, h, r1, r2)
	}
	holdsBoth(r1)

	setLink(t, r1, "trk1", false)
	waitLog(t, 3*time.Second, p1, "VRRP_Group(G1) Syncing instances to FAULT state")
	holdsBoth(r2)

	setLink(t, r1, "trk1", true)
	holdsBoth(r1)
	waitLog(t, 2*time.Second, p2, "VRRP_Group(G1) Syncing instances to BACKUP state")

	deadline := time.Now().Add(3 * time.Second)
	want := "GROUP G1 BACKUP 0\nGROUP G1 MASTER 0\nGROUP G1 FAULT 0\nGROUP G1 BACKUP 0\nGROUP G1 MASTER 0\n"
	for {
		got, _ := os.ReadFile(out)
		if string(got) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group's notify script ran with:\n%s\nwant:\n%s", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReloadKeepsTheSyncGroupMaster: reloading a router whose sync group
// is master keeps both members master without a group notification, and
// the backup router never takes over.
func TestReloadKeepsTheSyncGroupMaster(t *testing.T) {
	needRoot(t)
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	script, out := recordingScript(t, l, "group", `"$*"`)
	p1 := startKGConf(t, r1, syncGroupConf(150, false, script))
	p2 := startKGConf(t, r2, syncGroupConf(100, false, ""))
	waitHolder(t, 5*time.Second, vip4, r1, r1, r2)
	waitHolder(t, 2*time.Second, vip4b, r1, r1, r2)
	// Started together, r2 may be master for a moment before it hears
	// r1: only what it logs from the reload on counts.
	time.Sleep(200 * time.Millisecond)
	mark := len(p2.Log())
	reload(t, filepath.Join(l.Dir, "r1-kg.conf"), "", p1, 1)
	time.Sleep(time.Second) // nearly three of r2's Master_Down_Intervals
	tookOver := strings.Contains(p2.Log()[mark:], "Entering MASTER STATE")
	if !r1.HasAddress(vip4) || !r1.HasAddress(vip4b) || tookOver {
		t.Fatalf("after the reload r1 holds %v and %v; r2 became master: %v", r1.HasAddress(vip4), r1.HasAddress(vip4b), tookOver)
	}
	if got, _ := os.ReadFile(out); string(got) != "GROUP G1 BACKUP 0\nGROUP G1 MASTER 0\n" {
		t.Errorf("the group's notify script ran with:\n%s\nwant only the start-up BACKUP and MASTER", got)
	}
}
