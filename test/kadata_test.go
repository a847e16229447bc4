package test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// dataConf is the configuration both daemons dump: a VRRPv2 instance with
// PASS authentication, a tracked script, a labelled /32 VIP and an
// excluded VIP, and a VRRPv3 IPv6 instance.
const dataConf = `global_defs {
    enable_script_security
    script_user root
}
vrrp_script chk {
    script "/bin/true"
    interval 1
    weight 10
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret
    }
    track_script {
        chk
    }
    virtual_ipaddress {
        198.51.100.200/24
        198.51.100.201/32 label eth0:1
    }
    virtual_ipaddress_excluded {
        198.51.100.202
    }
}
vrrp_instance VI_6 {
    state BACKUP
    interface eth0
    virtual_router_id 53
    version 3
    priority 90
    advert_int 1
    virtual_ipaddress {
        2001:db8::200/64
    }
}
`

// TestDataDumpMatchesKeepalived: on SIGUSR1 keepalived-go writes
// $TMPDIR/keepalived.data in keepalived 2.2.7's layout. Debian's
// keepalived, then keepalived-go, run the same configuration in the same
// namespace, each alone (both instances master), and dump: each instance
// block of ours, timestamps masked, is keepalived's with lines left out
// (never changed, added or moved), and the keepalived exporter's parser
// reads the same instances from both files.
func TestDataDumpMatchesKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "r1")
	r1 := l.Host("r1")

	ka, err := r1.StartKeepalived(dataConf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ka.Stop(); dumpLogOnFailure(t, r1, ka) })
	// SIGUSR1 kills a daemon that has not set its handlers yet.
	waitHolder(t, 8*time.Second, vip4, r1, r1)
	theirs := dataDump(t, r1, ka)
	ka.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for r1.HasAddress(vip4) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}

	kg, err := r1.StartKeepalivedGo(binary, dataConf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kg.Stop(); dumpLogOnFailure(t, r1, kg) })
	waitHolder(t, 8*time.Second, vip4, r1, r1)
	ours := dataDump(t, r1, kg)
	if info, err := os.Stat(filepath.Join(r1.TmpDir(), "keepalived.data")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("keepalived.data: %v, %v; keepalived writes it 0600 (it holds passwords)", info, err)
	}
	if _, err := os.Stat(filepath.Join(r1.TmpDir(), "keepalived_parent.data")); err != nil {
		t.Errorf("no keepalived_parent.data: %v", err)
	}

	// keepalived-go answers a higher-priority advert by default (see
	// kajson.go): the line says so, where keepalived says false.
	const higherPrio = "   Send advert after receive higher priority advert = "
	theirs = bytes.ReplaceAll(theirs, []byte(higherPrio+"false"), []byte(higherPrio+"true"))
	ob, tb := instanceBlocks(t, ours), instanceBlocks(t, theirs)
	if names := mapKeys(ob); !slices.Equal(names, []string{"VI_1", "VI_6"}) {
		t.Fatalf("our instances: %v\n%s", names, ours)
	}
	for name, lines := range ob {
		if missing := notSubsequence(lines, tb[name]); missing != "" {
			t.Errorf("%s: our line %q is not keepalived's (or out of its order)\n ours:\n%s\n theirs:\n%s",
				name, missing, strings.Join(lines, "\n"), strings.Join(tb[name], "\n"))
		}
		// What the tools read must all be there.
		for _, l := range tb[name] {
			if toolLine(l) && !slices.Contains(lines, l) {
				t.Errorf("%s: keepalived's %q is missing from ours", name, l)
			}
		}
	}

	oscr, tscr := sectionBlocks(t, ours, "------< VRRP Scripts >------", " VRRP Script = "),
		sectionBlocks(t, theirs, "------< VRRP Scripts >------", " VRRP Script = ")
	// keepalived resolves the command's symbolic links (/bin/true is
	// /usr/bin/true); we print it as configured.
	if lines := tscr["chk"]; len(lines) > 1 {
		lines[1] = strings.Replace(lines[1], "/usr/bin/true", "/bin/true", 1)
	}
	if len(oscr["chk"]) == 0 || !slices.Equal(oscr["chk"], tscr["chk"]) {
		t.Errorf("VRRP Script chk differs:\n ours:\n%s\n theirs:\n%s", strings.Join(oscr["chk"], "\n"), strings.Join(tscr["chk"], "\n"))
	}
	if o, th := exporterScripts(ours), exporterScripts(theirs); o != th || o != "[{chk GOOD idle}]" {
		t.Errorf("the exporter reads the scripts as %s from ours, %s from keepalived's; want [{chk GOOD idle}]", o, th)
	}

	po, pt := exporterParse(ours), exporterParse(theirs)
	for _, name := range []string{"VI_1", "VI_6"} {
		if o, th := fmt.Sprintf("%+v", po[name]), fmt.Sprintf("%+v", pt[name]); o != th {
			t.Errorf("the exporter reads %s differently:\n ours   %s\n theirs %s", name, o, th)
		}
	}
	if got := po["VI_1"]; got == nil || got.State != 2 || got.Intf != "eth0" || got.VRID != 51 || len(got.VIPs) != 2 || len(got.ExcludedVIPs) != 1 {
		t.Errorf("the exporter reads VI_1 as %+v; want MASTER (2) on eth0, VRID 51, two VIPs, one excluded", got)
	}
}

// TestDataDumpBackupMatchesKeepalived: the same comparison for backups:
// r2 (keepalived-go, priority 200) is master of both instances while
// keepalived, then keepalived-go, run dataConf on r1 and dump.
func TestDataDumpBackupMatchesKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	master, err := r2.StartKeepalivedGo(binary, regexp.MustCompile(`priority \d+`).ReplaceAllString(dataConf, "priority 200"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Stop(); dumpLogOnFailure(t, r2, master) })
	waitHolder(t, 8*time.Second, vip4, r2, r2)

	ka, err := r1.StartKeepalived(dataConf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ka.Stop(); dumpLogOnFailure(t, r1, ka) })
	time.Sleep(time.Second) // SIGUSR1 kills a daemon that has not set its handlers yet
	theirs := dataDumpIn(t, r1, ka, "BACKUP")
	ka.Stop()
	kg, err := r1.StartKeepalivedGo(binary, dataConf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kg.Stop(); dumpLogOnFailure(t, r1, kg) })
	time.Sleep(time.Second)
	ours := dataDumpIn(t, r1, kg, "BACKUP")

	const higherPrio = "   Send advert after receive higher priority advert = "
	theirs = bytes.ReplaceAll(theirs, []byte(higherPrio+"false"), []byte(higherPrio+"true"))
	ob, tb := instanceBlocks(t, ours), instanceBlocks(t, theirs)
	if names := mapKeys(ob); !slices.Equal(names, []string{"VI_1", "VI_6"}) {
		t.Fatalf("our instances: %v\n%s", names, ours)
	}
	for name, lines := range ob {
		if missing := notSubsequence(lines, tb[name]); missing != "" {
			t.Errorf("%s: our line %q is not keepalived's (or out of its order)\n ours:\n%s\n theirs:\n%s",
				name, missing, strings.Join(lines, "\n"), strings.Join(tb[name], "\n"))
		}
		for _, l := range tb[name] {
			if toolLine(l) && !slices.Contains(lines, l) {
				t.Errorf("%s: keepalived's %q is missing from ours", name, l)
			}
		}
	}
	po, pt := exporterParse(ours), exporterParse(theirs)
	for _, name := range []string{"VI_1", "VI_6"} {
		if o, th := fmt.Sprintf("%+v", po[name]), fmt.Sprintf("%+v", pt[name]); o != th || po[name].State != 1 {
			t.Errorf("the exporter reads %s as\n ours   %s\n theirs %s\nwant BACKUP (1)", name, o, th)
		}
	}
}

// dataDump sends SIGUSR1 until the daemon's keepalived.data shows both
// instances master, and returns it.
func dataDump(t *testing.T, h *lab.Host, p *lab.Proc) []byte {
	return dataDumpIn(t, h, p, "MASTER")
}

// dataDumpIn sends SIGUSR1 until the daemon's keepalived.data shows both
// instances in state, and returns it.
func dataDumpIn(t *testing.T, h *lab.Host, p *lab.Proc, state string) []byte {
	t.Helper()
	file := filepath.Join(h.TmpDir(), "keepalived.data")
	deadline := time.Now().Add(15 * time.Second)
	for {
		os.Remove(file)
		if err := p.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		b, err := os.ReadFile(file)
		if err == nil && bytes.Count(b, []byte("   State = "+state+"\n")) == 2 {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no keepalived.data with both instances %s after SIGUSR1 (%v):\n%s", p.Name, state, err, b)
		}
	}
}

// maskTimes replaces the values that differ between two runs: the times
// of the last transition and of the next timer.
var maskTimes = regexp.MustCompile(`^(   (Last transition|Read timeout) = ).*$`)

// instanceBlocks splits the VRRP Topology section into each instance's
// lines, masked, without keepalived's socket descriptors.
func instanceBlocks(t *testing.T, dump []byte) map[string][]string {
	return sectionBlocks(t, dump, "------< VRRP Topology >------", " VRRP Instance = ")
}

// sectionBlocks splits a section of the dump into its objects' lines, by
// name (given on the lines starting with prefix), masked.
func sectionBlocks(t *testing.T, dump []byte, section, prefix string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	in, name := false, ""
	sc := bufio.NewScanner(bytes.NewReader(dump))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "------<"):
			in = l == section
			name = ""
			continue
		case !in:
			continue
		case strings.HasPrefix(l, prefix):
			name = strings.TrimPrefix(l, prefix)
		}
		if name == "" {
			t.Fatalf("line %q outside an instance", l)
		}
		out[name] = append(out[name], maskTimes.ReplaceAllString(l, "${1}X"))
	}
	return out
}

// toolLine tells whether a line is one that the tools read: the
// exporter's keys (State, Wantstate, Interface, Gratuitous ARP delay,
// Virtual Router ID, Virtual IP and the addresses under it), the
// instance's name, and its priorities.
func toolLine(l string) bool {
	if strings.HasPrefix(l, "     ") {
		return !strings.Contains(l, "weight") // VIPs; tracked scripts aside
	}
	for _, k := range []string{" VRRP Instance = ", "   State = ", "   Wantstate = ", "   Interface = ",
		"   Gratuitous ARP delay = ", "   Virtual Router ID = ", "   Priority = ", "   Effective priority = ",
		"   Virtual IP (", "   Virtual IP Excluded"} {
		if strings.HasPrefix(l, k) {
			return true
		}
	}
	return false
}

// notSubsequence returns the first line of a that is not found, in order,
// in b; "" when a is a subsequence of b.
func notSubsequence(a, b []string) string {
	j := 0
	for _, l := range a {
		for j < len(b) && b[j] != l {
			j++
		}
		if j == len(b) {
			return l
		}
		j++
	}
	return ""
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// exporterData is what mehdy/keepalived-exporter keeps of an instance
// from keepalived.data (internal/collector/collector.go VRRPData).
type exporterData struct {
	IName            string
	State, WantState int
	Intf             string
	GArpDelay, VRID  int
	VIPs             []string
	ExcludedVIPs     []string
}

// exporterParse re-implements mehdy/keepalived-exporter's reading of
// keepalived.data, internal/collector/parser.go ParseVRRPData (commit
// 5aedbfb6a6ca, 2026-07-01), with its setters (setter.go): a line
// " VRRP Instance = NAME" starts an instance; within it, a line indented
// by three spaces is "key = value" or "key: value" (split at the first
// separator), one indented by five is a value of the last key; values of
// keys "Virtual IP (..." and "Virtual IP Excluded" are VIPs; State and
// Wantstate must be INIT, BACKUP, MASTER or FAULT (else the exporter
// fails: recorded here as -1); any other line ends the instance.
func exporterParse(dump []byte) map[string]*exporterData {
	states := []string{"INIT", "BACKUP", "MASTER", "FAULT"}
	data := map[string]*exporterData{}
	var instance, key, val string
	sc := bufio.NewScanner(bytes.NewReader(dump))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, " VRRP Instance") && strings.Contains(l, "="):
			instance = strings.TrimSpace(strings.Split(strings.TrimSpace(l), "=")[1])
			data[instance] = &exporterData{IName: instance}
		case strings.HasPrefix(l, "   ") && instance != "":
			if strings.HasPrefix(l, "     ") {
				val = strings.TrimSpace(l)
			} else {
				var args []string
				switch {
				case strings.Contains(l, "="):
					args = strings.Split(strings.TrimSpace(l), "=")
				case strings.Contains(l, ":"):
					args = strings.Split(strings.TrimSpace(l), ":")
				default:
					continue
				}
				key = strings.TrimSpace(args[0])
				if key == "Virtual IP" {
					continue
				}
				val = strings.TrimSpace(args[1])
			}
			d := data[instance]
			if (strings.HasPrefix(key, "Virtual IP (") || key == "Virtual IP") && val != "" {
				d.VIPs = append(d.VIPs, val)
			}
			if strings.HasPrefix(key, "Virtual IP Excluded") && val != "" {
				d.ExcludedVIPs = append(d.ExcludedVIPs, val)
			}
			switch key {
			case "State":
				d.State = slices.Index(states, val)
			case "Wantstate":
				d.WantState = slices.Index(states, val)
			case "Interface", "Listening device":
				d.Intf = val
			case "Gratuitous ARP delay":
				d.GArpDelay, _ = strconv.Atoi(val)
			case "Virtual Router ID":
				d.VRID, _ = strconv.Atoi(val)
			}
		case strings.HasPrefix(l, " VRRP Version") || strings.HasPrefix(l, " VRRP Script"):
			continue
		default:
			instance = ""
		}
	}
	return data
}

// exporterScripts re-implements mehdy/keepalived-exporter's
// ParseVRRPScript (internal/collector/parser.go, commit 5aedbfb6a6ca): a
// line " VRRP Script = NAME" starts a script; its lines indented by three
// spaces with "=" give Status and State; a line indented by fewer than
// four spaces that is neither ends it. It returns [{name status state}...].
func exporterScripts(dump []byte) string {
	type script struct{ Name, Status, State string }
	var out []script
	var cur script
	sc := bufio.NewScanner(bytes.NewReader(dump))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, " VRRP Script") && strings.Contains(l, "="):
			if cur.Name != "" {
				out = append(out, cur)
				cur = script{}
			}
			cur.Name = strings.TrimSpace(strings.Split(strings.TrimSpace(l), "=")[1])
		case strings.HasPrefix(l, "   ") && cur.Name != "":
			if !strings.Contains(l, "=") {
				continue
			}
			kv := strings.Split(strings.TrimSpace(l), "=")
			switch strings.TrimSpace(kv[0]) {
			case "Status":
				cur.Status = strings.TrimSpace(kv[1])
			case "State":
				cur.State = strings.TrimSpace(kv[1])
			}
		case !strings.HasPrefix(l, "    "):
			if cur.Name != "" {
				out = append(out, cur)
				cur = script{}
			}
		}
	}
	if cur.Name != "" {
		out = append(out, cur)
	}
	return fmt.Sprint(out)
}
