package vrrpd

import (
	"net/netip"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// TestMachineConfigFollowsStrictMode: vrrp_strict makes the instance
// RFC 5798 to the letter (no answer to lower priorities, no last advert
// when losing, an owner that ignores adverts); without it keepalived-go's
// defaults apply, and the instance keywords override them.
func TestMachineConfigFollowsStrictMode(t *testing.T) {
	tests := []struct {
		name                             string
		global, inst                     string
		lowerNoAdvert, higherSend, owner bool
	}{
		{"defaults", "", "", false, true, false},
		{"vrrp_strict", "vrrp_strict\n", "", true, false, true},
		{"strict_mode", "", "strict_mode\n", true, false, true},
		{"instance keywords", "", "lower_prio_no_advert\nhigher_prio_send_advert false\n", true, false, false},
		{"global lower_prio_no_advert", "vrrp_lower_prio_no_advert\n", "lower_prio_no_advert off\n", false, true, false},
		{"owner_ignore_adverts", "", "owner_ignore_adverts\n", false, true, true},
	}
	for _, tt := range tests {
		text := "global_defs {\n" + tt.global + "}\nvrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n priority 255\n" +
			tt.inst + " virtual_ipaddress {\n 198.51.100.1\n }\n}\n"
		cfg, _ := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true }})
		mc := machineConfig(cfg.GlobalDefs, cfg.Instances[0], netip.MustParseAddr("198.51.100.2"))
		if mc.LowerPrioNoAdvert != tt.lowerNoAdvert || mc.HigherPrioSendAdvert != tt.higherSend || mc.OwnerIgnoreAdverts != tt.owner {
			t.Errorf("%s: lower_prio_no_advert %v, higher_prio_send_advert %v, owner ignores adverts %v; want %v %v %v", tt.name,
				mc.LowerPrioNoAdvert, mc.HigherPrioSendAdvert, mc.OwnerIgnoreAdverts, tt.lowerNoAdvert, tt.higherSend, tt.owner)
		}
	}
}

func TestDelayAfterBootCountsFromBoot(t *testing.T) {
	for _, tt := range []struct{ delay, uptime, want time.Duration }{
		{60 * time.Second, 20 * time.Second, 40 * time.Second}, // booted 20 s ago: 40 s to go
		{60 * time.Second, 90 * time.Second, 0},                // the delay is long past
		{60 * time.Second, -1, 0},                              // /proc/uptime unreadable: keepalived ignores it
		{0, 5 * time.Second, 0},
	} {
		if got := delayAfterBoot(tt.delay, tt.uptime); got != tt.want {
			t.Errorf("delay %v after boot, up %v: %v, want %v", tt.delay, tt.uptime, got, tt.want)
		}
	}
	if systemUptime() <= 0 {
		t.Error("cannot read /proc/uptime")
	}
}

// TestSkipCheckAdvAddrAsKeepalivedReadsIt: the global keyword is every
// instance's default; the instance keyword turns it on with any boolean
// (keepalived sets the flag for "false" too) and not with another word.
func TestSkipCheckAdvAddrAsKeepalivedReadsIt(t *testing.T) {
	for _, tt := range []struct {
		global, inst string
		want         bool
	}{
		{"", "", false},
		{"vrrp_skip_check_adv_addr\n", "", true},
		{"", "skip_check_adv_addr\n", true},
		{"", "skip_check_adv_addr true\n", true},
		{"", "skip_check_adv_addr false\n", true},
		{"", "skip_check_adv_addr maybe\n", false},
	} {
		text := "global_defs {\n" + tt.global + "}\nvrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n priority 100\n" +
			tt.inst + " virtual_ipaddress {\n 198.51.100.1\n }\n}\n"
		cfg, _ := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true }})
		g := cfg.GlobalDefs
		if g == nil {
			g = &config.GlobalDefs{}
		}
		if got := skipCheckAdvAddr(g, cfg.Instances[0]); got != tt.want {
			t.Errorf("global %q, instance %q: skip %v, want %v", tt.global, tt.inst, got, tt.want)
		}
	}
}

// TestOldUnicastChecksumAsKeepalivedReadsIt: bare, the old checksum
// always; never, never learnt; another word, the default (learnt).
func TestOldUnicastChecksumAsKeepalivedReadsIt(t *testing.T) {
	for _, tt := range []struct {
		line string
		want vrrp.OldChecksumMode
	}{
		{"", vrrp.OldChecksumLearn},
		{"old_unicast_checksum\n", vrrp.OldChecksumAlways},
		{"old_unicast_checksum never\n", vrrp.OldChecksumNever},
		{"old_unicast_checksum sometimes\n", vrrp.OldChecksumLearn},
	} {
		text := "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n priority 100\n unicast_peer {\n 198.51.100.9\n }\n" +
			tt.line + " virtual_ipaddress {\n 198.51.100.1\n }\n}\n"
		cfg, _ := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true }})
		if got := oldUnicastChecksum(cfg.Instances[0]); got != tt.want {
			t.Errorf("%q: %v, want %v", tt.line, got, tt.want)
		}
	}
}
