package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// diagAt finds the diagnostic with msg (a prefix) and returns its line, or 0.
func diagAt(ds Diagnostics, msg string) int {
	for _, d := range ds {
		if !d.Extra && strings.HasPrefix(d.Msg, msg) {
			return d.Line
		}
	}
	return 0
}

func TestTrackFileSpecs(t *testing.T) {
	cfg, diags := load(t, `track_file a {
    file /run/a
}
track_file b {
    file /run/b
    weight -20 reverse
    init_file 7 overwrite
}
track_file c {
    file /run/c
    weight 300 reverse
    init_file
}
track_file d {
    weight 2
}
track_file a {
    file /run/a2
}
vrrp_track_file e {
    file /run/e
    init_file sideways -3
}
`)
	want := map[string]*TrackFileSpec{
		"a": {Name: "a", Pos: Pos{"test.conf", 1}, Path: "/run/a", Weight: 1},
		"b": {Name: "b", Pos: Pos{"test.conf", 4}, Path: "/run/b", Weight: -20, Reverse: true, Init: TrackFileOverwrite, InitValue: 7},
		// A bad weight is 1; reverse still applies (track_file_weight_handler).
		"c": {Name: "c", Pos: Pos{"test.conf", 9}, Path: "/run/c", Weight: 1, Reverse: true, Init: TrackFileCreate},
		"e": {Name: "e", Pos: Pos{"test.conf", 20}, Path: "/run/e", Weight: 1, Init: TrackFileCreate, InitValue: -3},
	}
	got := cfg.TrackFileSpecs()
	if !reflect.DeepEqual(got, want) {
		for n, s := range got {
			t.Logf("got %s: %+v", n, *s)
		}
		t.Errorf("TrackFileSpecs differ")
	}
	if cfg.TrackFiles[3].Resolved != nil {
		t.Errorf("track_file d without file: Resolved = %+v, want nil", cfg.TrackFiles[3].Resolved)
	}
	if cfg.TrackFiles[4].Resolved == nil || cfg.TrackFiles[4].Resolved.Path != "/run/a2" {
		t.Errorf("the second track_file a is resolved on its own block: %+v", cfg.TrackFiles[4].Resolved)
	}
	for msg, line := range map[string]int{
		"number '300' outside range [-254, 254]":                                        11,
		"Weight (300) for track_file c must be between [-254..254] inclusive. Ignoring": 11,
		"No file set for track_file d - ignoring":                                       16,
		"Unknown track file init option sideways":                                       22,
	} {
		if got := diagAt(diags, msg); got != line {
			t.Errorf("%q: line %d, want %d", msg, got, line)
		}
	}
	if diags.ExitCode() != ExitConfigErrors {
		t.Errorf("exit %d, want 5", diags.ExitCode())
	}
}

func TestTrackProcessSpecs(t *testing.T) {
	cfg, diags := load(t, `vrrp_track_process p1 {
    process nginx
}
vrrp_track_process p2 {
    process /usr/sbin/sshd -D -e
    param_match partial
    weight 10 reverse
    quorum 2
    quorum_max 4
    delay 1.5
    fork_delay 0.25
}
vrrp_track_process p3 {
    process cron
    full_command
    quorum_max 0
    terminate_delay 3
}
vrrp_track_process p4 {
    weight 5
}
vrrp_track_process p5 {
    process x
    quorum 0
    quorum_max 70000
    weight -300
}
`)
	got := cfg.TrackProcessSpecs()
	want := map[string]*TrackProcessSpec{
		"p1": {Name: "p1", Pos: Pos{"test.conf", 1}, Process: "nginx", Quorum: 1, QuorumMax: TrackProcessNoQuorumMax},
		"p2": {Name: "p2", Pos: Pos{"test.conf", 4}, Process: "/usr/sbin/sshd", Params: []string{"-D", "-e"},
			ParamMatch: ParamMatchPartial, FullCommand: true, Quorum: 2, QuorumMax: 4, Weight: 10, Reverse: true,
			TerminateDelay: 1500 * time.Millisecond, ForkDelay: 250 * time.Millisecond},
		"p3": {Name: "p3", Pos: Pos{"test.conf", 13}, Process: "cron", FullCommand: true, Quorum: 0, QuorumMax: 0,
			TerminateDelay: 3 * time.Second},
		"p5": {Name: "p5", Pos: Pos{"test.conf", 22}, Process: "x", Quorum: 1, QuorumMax: TrackProcessNoQuorumMax},
	}
	if !reflect.DeepEqual(got, want) {
		for n, s := range got {
			t.Logf("got %s: %+v", n, *s)
		}
		t.Errorf("TrackProcessSpecs differ")
	}
	for msg, line := range map[string]int{
		"track process 'p4' process name not specified":                                     21,
		"Quorum (0) for vrrp_track_process p5 must be between [1..65535] inclusive":         24,
		"quorum_max (70000) for vrrp_track_process p5 must be between [0..65535] inclusive": 25,
		"Weight (-300) for vrrp_track_process p5 must be between [-254..254] inclusive":     26,
	} {
		if got := diagAt(diags, msg); got != line {
			t.Errorf("%q: line %d, want %d", msg, got, line)
		}
	}
}

// The cases internal/track read itself before it took these specs: the
// keywords apply in the order they were written, parameters make
// param_match exact, and of two blocks with one name the first is kept.
func TestTrackProcessSpecsKeywordOrder(t *testing.T) {
	cfg, diags := load(t, `vrrp_track_process params {
    process /usr/sbin/haproxy -f "/etc/a b.cfg"
    weight -10 reverse
    quorum 2
    quorum_max 3
}
vrrp_track_process initial {
    process /usr/bin/x y
    param_match initial
    full_command
    delay 2
    fork_delay 0.5
}
vrrp_track_process none {
    quorum_max 0
    process x
    param_match
    fork_delay 0.5
    delay 2
}
vrrp_track_process qfirst {
    process x
    quorum 3
    quorum_max 2
    weight 300
}
vrrp_track_process qmaxfirst {
    process x
    quorum_max 2
    quorum 3
}
vrrp_track_process qmaxzero {
    process x
    quorum 2
    quorum_max 0
}
vrrp_track_process params {
    process other
}
`)
	qmax := TrackProcessNoQuorumMax
	want := map[string]*TrackProcessSpec{
		"params": {Name: "params", Pos: Pos{"test.conf", 1}, Process: "/usr/sbin/haproxy", Params: []string{"-f", "/etc/a b.cfg"},
			ParamMatch: ParamMatchExact, FullCommand: true, Quorum: 2, QuorumMax: 3, Weight: -10, Reverse: true},
		"initial": {Name: "initial", Pos: Pos{"test.conf", 7}, Process: "/usr/bin/x", Params: []string{"y"},
			ParamMatch: ParamMatchInitial, FullCommand: true, Quorum: 1, QuorumMax: qmax,
			TerminateDelay: 2 * time.Second, ForkDelay: 500 * time.Millisecond},
		// quorum_max 0 makes quorum 0; a bare param_match is exact; the
		// later delay sets both.
		"none": {Name: "none", Pos: Pos{"test.conf", 14}, Process: "x", ParamMatch: ParamMatchExact, FullCommand: true,
			Quorum: 0, QuorumMax: 0, TerminateDelay: 2 * time.Second, ForkDelay: 2 * time.Second},
		// quorum_max 2 below quorum 3 is ignored; weight 300 leaves 0.
		"qfirst": {Name: "qfirst", Pos: Pos{"test.conf", 21}, Process: "x", Quorum: 3, QuorumMax: qmax},
		// quorum 3 above quorum_max 2 is ignored.
		"qmaxfirst": {Name: "qmaxfirst", Pos: Pos{"test.conf", 27}, Process: "x", Quorum: 1, QuorumMax: 2},
		// quorum_max 0 after quorum 2 is below it: ignored.
		"qmaxzero": {Name: "qmaxzero", Pos: Pos{"test.conf", 32}, Process: "x", Quorum: 2, QuorumMax: qmax},
	}
	got := cfg.TrackProcessSpecs()
	if !reflect.DeepEqual(got, want) {
		for n, s := range got {
			t.Logf("got %s: %+v", n, *s)
		}
		t.Errorf("TrackProcessSpecs differ")
	}
	if r := cfg.TrackProcesses[6].Resolved; r == nil || r.Process != "other" {
		t.Errorf("the second block named params is resolved on its own block: %+v", r)
	}
	for msg, line := range map[string]int{
		"quorum_max is less than quorum - ignoring":                                        24,
		"Weight (300) for vrrp_track_process qfirst must be between [-254..254] inclusive": 25,
		"Quorum is greater than quorum_max - ignoring":                                     30,
	} {
		if got := diagAt(diags, msg); got != line {
			t.Errorf("%q: line %d, want %d", msg, got, line)
		}
	}
	if n := len(diags.Sorted()); n != 5 {
		t.Errorf("%d diagnostics, want 5 (two quorum_max, one quorum, the weight's two):\n%v", n, diags)
	}
}

// A bad track_file weight is 1, not reversed without reverse; a bare
// init_file creates the file with 0.
func TestTrackFileBadWeightAndBareInit(t *testing.T) {
	cfg, _ := load(t, "track_file bad {\n    file /run/c\n    weight 300\n    init_file\n}\n")
	want := &TrackFileSpec{Name: "bad", Pos: Pos{"test.conf", 1}, Path: "/run/c", Weight: 1, Init: TrackFileCreate}
	if got := cfg.TrackFileSpecs()["bad"]; !reflect.DeepEqual(got, want) {
		t.Errorf("%+v, want %+v", got, want)
	}
}

// An owner's track_script entries with a weight (its own or the script's)
// are dropped here; the runtime tracks the rest as they are.
func TestOwnerWeightedTrackScriptsDropped(t *testing.T) {
	cfg, diags := load(t, `global_defs {
    script_user root
}
vrrp_script weighted {
    script /bin/true
    weight -20
}
vrrp_script plain {
    script /bin/true
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 255
    track_script {
        weighted
        plain
        plain weight 5
        weighted weight 0
    }
    virtual_ipaddress {
        192.0.2.1
    }
}
`)
	var kept []string
	for _, ts := range cfg.Instances[0].TrackScript {
		kept = append(kept, fmt.Sprintf("%s/%d", ts.Name, ts.Weight))
	}
	if strings.Join(kept, " ") != "plain/0 weighted/0" {
		t.Errorf("owner's track_script entries %v, want plain/0 weighted/0", kept)
	}
	n := 0
	for _, d := range diags {
		if strings.HasSuffix(d.Msg, "with weights due to address_owner") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d address_owner messages, want 2:\n%v", n, diags)
	}
}

// The instances do not find the blocks keepalived drops.
func TestTrackRefsToDroppedBlocks(t *testing.T) {
	_, diags := load(t, `track_file tf {
    weight 2
}
vrrp_track_process tp {
    quorum 2
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    track_file {
        tf
    }
    track_process {
        tp
    }
    virtual_ipaddress {
        192.0.2.1
    }
}
`)
	if diagAt(diags, "(VI_1) track file tf not found") != 11 || diagAt(diags, "(VI_1) track process tp not found") != 14 {
		t.Errorf("references to dropped blocks not reported:\n%v", diags)
	}
}

func TestLoopbackInterface(t *testing.T) {
	cfg, diags := load(t, "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n")
	if diagAt(diags, "(VI_1) cannot use a loopback interface (lo) for vrrp - ignoring") != 2 || diagAt(diags, "(VI_1) Unknown interface!") != 0 {
		t.Errorf("diagnostics:\n%v", diags)
	}
	if cfg.Instances[0].Interface != "" {
		t.Errorf("interface %q kept", cfg.Instances[0].Interface)
	}
	// The machine's lo is a loopback interface.
	if _, lo := machineInterfaces(); !lo("lo") {
		t.Error("machineInterfaces: lo is not loopback")
	}
}

func TestMissingOpenBrace(t *testing.T) {
	cfg, diags := load(t, "vrrp_instance VI_1\n interface eth0\n virtual_router_id 1\n}\n")
	if diagAt(diags, "Missing '{' at beginning of configuration block") != 2 {
		t.Errorf("diagnostics:\n%v", diags)
	}
	// The VRRP process reads the lines as the instance's.
	if len(cfg.Instances) != 1 || cfg.Instances[0].VRID != 1 {
		t.Errorf("instance not read: %+v", cfg.Instances)
	}
	// The others read them at the top level.
	for _, kw := range []string{"interface", "virtual_router_id", "}"} {
		if diagAt(diags, "Unknown keyword '"+kw+"'") == 0 {
			t.Errorf("no Unknown keyword '%s'", kw)
		}
	}
}

func TestUnterminatedQuoteIsMissingParameter(t *testing.T) {
	_, diags := load(t, "vrrp_instance VI_1 {\n interface eth0\n state \"MASTER\n}\n")
	if diags.ExitCode() != ExitMissingParam || !strings.HasPrefix(diags[len(diags)-1].Msg, "*** Configuration line starting `state`") {
		t.Errorf("exit %d:\n%v", diags.ExitCode(), diags)
	}
	// A handler that checks for its value itself: exit 5.
	_, diags = load(t, "global_defs {\n router_id \"x\n}\n")
	if diags.ExitCode() != ExitConfigErrors || diagAt(diags, "routerid name missing - ignoring") != 2 {
		t.Errorf("exit %d:\n%v", diags.ExitCode(), diags)
	}
}

func TestVSGEntryRange(t *testing.T) {
	cfg, diags := load(t, `virtual_server_group G {
    10.0.0.5-9 80
    10.0.0.5-3 80
    fe80::1-a 80
    10.0.1.0/30 80
    10.0.2.1-10.0.3.4 80
    10.0.0.7
}
`)
	type rng struct{ start, end string }
	var got []rng
	for _, e := range cfg.VirtualServerGroups[0].Entries {
		got = append(got, rng{e.Start.String(), e.End.String()})
	}
	want := []rng{{"10.0.0.5", "10.0.0.9"}, {"fe80::1", "fe80::a"}, {"10.0.1.0", "10.0.1.3"}, {"10.0.2.1", "10.0.3.4"}, {"10.0.0.7", "10.0.0.7"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ranges %v, want %v", got, want)
	}
	if diagAt(diags, "Address range end is not greater than address range start - 10.0.0.5-3 - skipping") != 3 {
		t.Errorf("diagnostics:\n%v", diags)
	}
}

func TestVirtualServerSpecs(t *testing.T) {
	cfg, _ := load(t, `virtual_server 10.1.1.1 80 {
    delay_loop 7
    lb_algo rr
    protocol TCP
    weight 3
    retry 4
    real_server 10.1.2.1 80 {
        TCP_CHECK {
        }
        HTTP_GET {
        }
        MISC_CHECK {
        }
    }
    real_server 10.1.2.2 8080 {
        weight 5
        lvs_method DR
    }
    real_server 10.1.2.1 80 {
    }
    real_server fe80::1 80 {
    }
    real_server 10.1.2.x 80 {
    }
}
virtual_server 10.1.1.2 80 {
    real_server 10.1.2.x 80 {
    }
}
virtual_server group NOPE {
    real_server 10.1.2.1 80 {
    }
}
virtual_server fwmark 9 {
    real_server 10.1.2.3 {
    }
}
`)
	specs := cfg.VirtualServerSpecs()
	if len(specs) != 2 {
		t.Fatalf("%d virtual servers kept, want 2", len(specs))
	}
	vs := specs[0]
	if vs != cfg.VirtualServers[0].Resolved || vs.Family != 4 || vs.Addr != netip.MustParseAddrPort("10.1.1.1:80") ||
		vs.Protocol != "tcp" || vs.Scheduler != "rr" || vs.Method != "NAT" || vs.Weight != 3 {
		t.Errorf("virtual server: %+v", *vs)
	}
	if len(vs.RealServers) != 2 {
		t.Fatalf("%d real servers kept, want 2 (duplicate, wrong family and invalid address dropped)", len(vs.RealServers))
	}
	rs1, rs2 := vs.RealServers[0], vs.RealServers[1]
	if rs1.RealServer != cfg.VirtualServers[0].RealServers[0] || rs1.Weight != 3 || rs1.Method != "NAT" {
		t.Errorf("real server 1: %+v", *rs1)
	}
	// Inherited settings are on the block.
	if rs1.RealServer.DelayLoop != Timer(7*time.Second) || rs1.RealServer.Retry != 4 {
		t.Errorf("real server 1 did not inherit delay_loop/retry: %v %d", rs1.RealServer.DelayLoop, rs1.RealServer.Retry)
	}
	// HTTP_GET without url and MISC_CHECK without script are dropped.
	if len(rs1.Checkers) != 1 || rs1.Checkers[0].Keyword != "TCP_CHECK" || rs1.Checkers[0].DelayLoop != Timer(7*time.Second) {
		t.Errorf("real server 1 checkers: %v", rs1.Checkers)
	}
	if rs2.Addr != netip.MustParseAddrPort("10.1.2.2:8080") || rs2.Weight != 5 || rs2.Method != "DR" {
		t.Errorf("real server 2: %+v", *rs2)
	}
	if got := cfg.VirtualServers[1].Resolved.Dropped; got != "no real servers" {
		t.Errorf("second virtual server: dropped %q", got)
	}
	if got := cfg.VirtualServers[2].Resolved.Dropped; got != "undefined group" {
		t.Errorf("third virtual server: dropped %q", got)
	}
	if fw := specs[1]; fw.Fwmark != 9 || fw.Protocol != "" || len(fw.RealServers) != 1 {
		t.Errorf("fwmark virtual server: %+v", *fw)
	}
}
