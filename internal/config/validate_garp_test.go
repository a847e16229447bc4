package config

import (
	"fmt"
	"slices"
	"testing"
)

// The gratuitous ARP keywords' findings, in keepalived 2.2.7's words (as
// `keepalived -t` printed them for these lines), and the values the
// runtime then reads.
func TestGarpKeywordsAsKeepalivedReadsThem(t *testing.T) {
	for _, tc := range []struct {
		name, global, inst string
		want               []string
		extraIf            OptWords // the instance's garp_extra_if after validation
		globalExtraIf      OptWords
		lowerRepeat        int
	}{
		{"deprecated spellings", "vrrp_vmac_garp_intvl 10 all\n", "vmac_garp_intvl 5\n", []string{
			`Keyword "vrrp_vmac_garp_intvl" is deprecated - please use "vrrp_garp_extra_if"`,
			`Keyword "vmac_garp_intvl" is deprecated - please use "garp_extra_if"`,
		}, OptWords{"5"}, OptWords{"10", "all"}, 5},
		{"without time", "vrrp_garp_extra_if all\n", "garp_extra_if all\n", []string{
			"vrrp_garp_extra_if specified without time - ignoring",
			"(VI_1): garp_extra_if specified without time - ignoring",
		}, nil, nil, 5},
		{"bad words", "vrrp_garp_extra_if 0\n", "garp_extra_if 5 junk\n", []string{
			"number '0' outside range [1, 86400]",
			"vrrp_garp_extra_if '0' invalid - ignoring",
			"invalid number 'junk'",
			"(VI_1): garp_extra_if 'junk' invalid - ignoring",
		}, nil, nil, 5},
		{"negative lower_prio", "vrrp_garp_lower_prio_repeat -1\n", "garp_lower_prio_repeat -2\n", []string{
			"negative number '-1'",
			"Invalid vrrp_garp_lower_prio_repeat '-1'",
			"negative number '-2'",
			"(VI_1): Invalid garp_lower_prio_repeat '-2'",
		}, nil, nil, 5},
		{"instance 0", "vrrp_garp_extra_if all 30\n", "garp_extra_if 0\n", nil, OptWords{"0"}, OptWords{"all", "30"}, 5},
	} {
		text := "global_defs {\n" + tc.global + "}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n" +
			tc.inst + " virtual_ipaddress {\n 198.51.100.1\n }\n}\n"
		cfg, diags := LoadBytes("t.conf", []byte(text), Options{InterfaceExists: func(string) bool { return true }})
		var got []string
		for _, d := range diags {
			got = append(got, d.Msg)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: findings\n%q\nwant\n%q", tc.name, got, tc.want)
		}
		vi := cfg.Instances[0]
		if !slices.Equal(vi.GarpExtraIf, tc.extraIf) || !slices.Equal(cfg.GlobalDefs.VRRPGarpExtraIf, tc.globalExtraIf) ||
			vi.GarpLowerPrioRepeat != tc.lowerRepeat {
			t.Errorf("%s: garp_extra_if %q, vrrp_garp_extra_if %q, garp_lower_prio_repeat %d; want %q, %q, %d", tc.name,
				vi.GarpExtraIf, cfg.GlobalDefs.VRRPGarpExtraIf, vi.GarpLowerPrioRepeat, tc.extraIf, tc.globalExtraIf, tc.lowerRepeat)
		}
	}
}

// garp_group findings as keepalived 2.2.7 printed them for this file:
// an interface belongs to the first group naming it, a group without a
// delay is removed at its closing brace (numbered 0 without an
// interfaces block), and a garp_interval of 0 is a delay.
func TestGarpGroupFindings(t *testing.T) {
	text := `garp_group {
 garp_interval 0.1
 interface eth0
}
garp_group {
 gna_interval 0.1
 interfaces {
  eth0
  lo
 }
}
garp_group {
 interface lo
}
garp_group {
 garp_interval 0
 interface nosuch0
}
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 1
 priority 100
 virtual_ipaddress {
  198.51.100.1
 }
}
`
	_, diags := LoadBytes("t.conf", []byte(text), Options{InterfaceExists: func(n string) bool { return n != "nosuch0" },
		LoopbackInterface: func(n string) bool { return n == "lo" }})
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%d %s", d.Line, d.Msg))
	}
	want := []string{
		"13 garp_group already specified for lo - ignoring",
		"14 garp group 0 does not have any delay set - removing",
		"17 WARNING - interface nosuch0 specified for garp_group doesn't exist",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings\n%q\nwant\n%q", got, want)
	}
}
