package config

import (
	"slices"
	"strings"
	"testing"
)

// gdLoad validates text with the oracle machine's facts.
func gdLoad(t *testing.T, text string) (*Config, Diagnostics) {
	t.Helper()
	return LoadBytes("test.conf", []byte(text), Options{ConfigID: "testhost",
		InterfaceExists: oracleInterfaceExists, UserExists: oracleUserExists})
}

// gdHas reports whether a non-Extra finding at line contains msg.
func gdHas(ds Diagnostics, line int, msg string) bool {
	for _, d := range ds {
		if !d.Extra && d.Line == line && strings.Contains(d.Msg, msg) {
			return true
		}
	}
	return false
}

func gdDump(ds Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("\n    " + d.String())
	}
	return b.String()
}

func TestGlobalDefsDefaults(t *testing.T) {
	cfg, ds := gdLoad(t, "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n")
	if ds.ExitCode() != 0 {
		t.Fatalf("exit %d:%s", ds.ExitCode(), gdDump(ds))
	}
	g := cfg.GlobalDefs
	if g == nil {
		t.Fatal("no GlobalDefs after validation")
	}
	if g.VRRPVersion != 2 || g.VRRPMcastGroup4 != "224.0.0.18" || g.VRRPMcastGroup6 != "ff02::12" ||
		g.VRRPGarpMasterDelay != 5 || g.VRRPGarpMasterRepeat != 5 || g.VRRPGarpMasterRefreshRepeat != 1 ||
		g.VRRPDownTimerAdverts != 3 || g.SMTPConnectTimeout != 30 {
		t.Errorf("defaults not applied: %+v", g)
	}
}

func TestGlobalDefsErrors(t *testing.T) {
	for _, c := range []struct{ line, msg string }{
		{"vrrp_garp_interval 0", "vrrp_garp_interval '0' is invalid"},
		{"vrrp_garp_interval -1", "negative number '-1'"},
		{"vrrp_gna_interval abc", "vrrp_gna_interval 'abc' is invalid"},
		{"vrrp_version 4", "VRRP Error: Version must be either 2 or 3"},
		{"vrrp_mcast_group4 10.0.0.1", "vrrp_mcast_group4 [10.0.0.1] is not multicast. Skipping"},
		{"vrrp_mcast_group4 ff02::12", "vrrp_mcast_group4 [ff02::12] is not IPv4. Skipping"},
		{"vrrp_mcast_group4 224.0.0.300", "Can't parse vrrp_mcast_group4 [224.0.0.300]. Skipping"},
		{"vrrp_mcast_group6 ff02::zz", "Can't parse vrrp_mcast_group6 [ff02::zz]. Skipping"},
		{"vrrp_mcast_group6 fe80::1", "vrrp_mcast_group6 [fe80::1] is not multicast. Skipping"},
		{"vrrp_mcast_group6 ff05::12", "should be link-local multicast"},
		{"smtp_server 300.1.1.1", "Invalid smtp server 300.1.1.1 25"},
		{"smtp_server 10.1.1.1 70000", "Invalid smtp server 10.1.1.1 70000"},
		{"smtp_connect_timeout 0", "smtp_conect_timeout must be greater than 0, setting to 1"},
		{"smtp_connect_timeout -3", "smtp_connect_timeout '-3' must be in [0, 4294] - ignoring"},
		{"max_auto_priority 200", "max_auto_priority '200' must be in [0, 99] (or -1 to disable) - ignoring"},
		{"vrrp_priority -30", "Invalid vrrp process priority specified"},
		{"checker_priority 20", "Invalid checker process priority specified"},
		{"bfd_priority x", "Invalid bfd process priority specified"},
		{"umask 0999", "invalid umask value 0999"},
		{"umask IRUSR IWUSR", "Invalid umask syntax IWUSR"},
		{"umask IRWXU", "Unknown umask bit IRWXU"},
		{"include_check bogus", "Unknown include_check type 'bogus' - ignoring"},
		{"include_check read match", "Duplicate include_check 'match' specified - ignoring"},
		{"vrrp_garp_master_repeat 0", "vrrp_garp_master_repeat must be greater than 0, setting to 1"},
		{"vrrp_down_timer_adverts 200", "Invalid vrrp_down_timer_adverts [1:100] '200'"},
		{"script_user kaoracle_nosuchuser", "Error setting global script uid/gid"},
		{"process_name a_very_long_process_name", "Process name a_very_long_process_name more than 15 characters, truncating"},
		{"bogus_global_keyword 1", "Unknown keyword 'bogus_global_keyword'"},
	} {
		_, ds := gdLoad(t, "global_defs {\n    "+c.line+"\n}\n")
		if !gdHas(ds, 2, c.msg) || ds.ExitCode() != ExitConfigErrors {
			t.Errorf("%s: want %q on line 2, exit 5; got exit %d:%s", c.line, c.msg, ds.ExitCode(), gdDump(ds))
		}
	}
}

func TestGlobalDefsValid(t *testing.T) {
	text := `global_defs {
    router_id lb1
    vrrp_version 3
    vrrp_garp_interval 0.001
    vrrp_gna_interval 1
    vrrp_mcast_group4 224.0.0.19
    vrrp_mcast_group6 ff02::13
    smtp_server mail.example.com 587
    smtp_connect_timeout 10
    max_auto_priority -1
    vrrp_priority -10
    checker_priority 19
    umask 0022
    include_check read +wildcard_match -brace_match
    vrrp_garp_master_delay 0
    script_user root
    enable_script_security
}
`
	cfg, ds := gdLoad(t, text)
	if ds.ExitCode() != 0 {
		t.Fatalf("exit %d:%s", ds.ExitCode(), gdDump(ds))
	}
	g := cfg.GlobalDefs
	if g.VRRPVersion != 3 || g.VRRPGarpInterval.Duration().Microseconds() != 1000 || g.VRRPPriority != -10 ||
		g.VRRPGarpMasterDelay != 0 || g.SMTPConnectTimeout != 10 || g.VRRPMcastGroup4 != "224.0.0.19" {
		t.Errorf("values not kept: %+v", g)
	}
	_, ds = gdLoad(t, "global_defs {\n umask IWGRP|IWOTH\n}\n")
	if ds.ExitCode() != 0 {
		t.Errorf("symbolic umask: exit %d:%s", ds.ExitCode(), gdDump(ds))
	}
}

// Instances start from global_defs' announcement and down timer values
// (keepalived's alloc_vrrp); their own keywords override them.
func TestInstancesInheritGlobalGarpAndDownTimer(t *testing.T) {
	instance := func(extra string) string {
		return "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n" + extra + " virtual_ipaddress {\n  10.0.0.1\n }\n}\n"
	}
	for _, tt := range []struct {
		name, global, inst                   string
		repeat, delay, refresh, refRep, down int
	}{
		{"keepalived's defaults", "", "", 5, 5, 0, 1, 3},
		{"global values", " vrrp_garp_master_repeat 2\n vrrp_garp_master_delay 1\n vrrp_garp_master_refresh 60\n vrrp_garp_master_refresh_repeat 3\n vrrp_down_timer_adverts 5\n", "", 2, 1, 60, 3, 5},
		{"instance values win", " vrrp_garp_master_repeat 2\n vrrp_down_timer_adverts 5\n", " garp_master_repeat 4\n down_timer_adverts 2\n", 4, 5, 0, 1, 2},
		{"vrrp_min_garp", " vrrp_min_garp\n", "", 1, 0, 0, 0, 3},
		{"vrrp_min_garp keeps what is written", " vrrp_min_garp\n vrrp_garp_master_repeat 3\n", "", 3, 0, 0, 0, 3},
	} {
		cfg, ds := gdLoad(t, "global_defs {\n"+tt.global+"}\n"+instance(tt.inst))
		if ds.ExitCode() != 0 {
			t.Fatalf("%s: exit %d:%s", tt.name, ds.ExitCode(), gdDump(ds))
		}
		vi := cfg.Instances[0]
		got := []int{vi.GarpMasterRepeat, vi.GarpMasterDelay, vi.GarpMasterRefresh, vi.GarpMasterRefreshRepeat, vi.DownTimerAdverts}
		want := []int{tt.repeat, tt.delay, tt.refresh, tt.refRep, tt.down}
		if !slices.Equal(got, want) {
			t.Errorf("%s: repeat, delay, refresh, refresh repeat, down timer adverts = %v, want %v", tt.name, got, want)
		}
	}
}
