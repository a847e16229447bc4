//go:build ipvsguest

package qemu

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// checkData sends SIGUSR1 to pid until /tmp/keepalived_check.data holds
// the LVS topology with services virtual servers, and returns it.
func checkData(t *testing.T, who string, p *os.Process, services int) []byte {
	t.Helper()
	const file = "/tmp/keepalived_check.data"
	deadline := time.Now().Add(20 * time.Second)
	for {
		os.Remove(file)
		if err := p.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		b, err := os.ReadFile(file)
		if err == nil && bytes.Count(b, []byte(" ------< Virtual server >------\n")) == services {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s wrote no %s with %d virtual servers (%v):\n%s", who, file, services, err, b)
		}
	}
}

// vsBlocks splits the LVS topology into each virtual server's lines.
func vsBlocks(dump []byte) [][]string {
	var out [][]string
	in := false
	for _, l := range strings.Split(string(dump), "\n") {
		switch {
		case strings.HasPrefix(l, "------<"):
			in = l == "------< LVS Topology >------"
		case in && l == " ------< Virtual server >------":
			out = append(out, []string{l})
		case in && len(out) > 0 && l != "":
			out[len(out)-1] = append(out[len(out)-1], l)
		}
	}
	return out
}

// TestGuestCheckDataLikeKeepalived: on SIGUSR1 keepalived-go writes
// keepalived_check.data in keepalived 2.2.7's layout: for the same
// configuration, each virtual server's block of ours is keepalived's with
// lines left out (never changed, added or moved), and the lines that give
// the servers, their weights and states are all there.
func TestGuestCheckDataLikeKeepalived(t *testing.T) {
	if err := os.WriteFile("/tmp/same.conf", []byte(sameConf), 0o644); err != nil {
		t.Fatal(err)
	}
	const services = 7 // virtual_server blocks in sameConf
	args := []string{"/sbin/keepalived", "-n", "-l", "-G", "-D", "-C", "-f", "/tmp/same.conf", "-p", "/tmp/kad.pid", "-c", "/tmp/kad-checkers.pid"}
	ka, err := os.StartProcess(args[0], args, &os.ProcAttr{Files: []*os.File{nil, nil, nil}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ka.Kill(); ka.Wait() })
	settledTable(t, "keepalived", 10)
	theirs := checkData(t, "keepalived", ka, services)
	ka.Signal(syscall.SIGTERM)
	ka.Wait()

	d := startDirector(t, sameConf)
	settledTable(t, "keepalived-go", 10)
	ours := checkData(t, "keepalived-go", d.cmd.Process, services)
	d.stop(t)
	t.Logf("keepalived's keepalived_check.data:\n%s", theirs)

	ob, tb := vsBlocks(ours), vsBlocks(theirs)
	if len(ob) != services || len(tb) != services {
		t.Fatalf("%d virtual servers in ours, %d in keepalived's; want %d:\n%s", len(ob), len(tb), services, ours)
	}
	for i := range ob {
		j := 0
		for _, l := range ob[i] {
			for j < len(tb[i]) && tb[i][j] != l {
				j++
			}
			if j == len(tb[i]) {
				t.Errorf("virtual server %d: our line %q is not keepalived's (or out of its order)\n ours:\n%s\n theirs:\n%s",
					i, l, strings.Join(ob[i], "\n"), strings.Join(tb[i], "\n"))
				break
			}
			j++
		}
		for _, l := range tb[i] {
			for _, k := range []string{" VS VIP = ", " VS FWMARK = ", " VS GROUP = ", "   RIP = ", "   alive = ", "   effective weight = ", "   quorum_state_up = "} {
				if strings.HasPrefix(l, k) && !slices.Contains(ob[i], l) {
					t.Errorf("virtual server %d: keepalived's %q is missing from ours", i, l)
				}
			}
		}
	}
}
