package test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSkipCheckAdvAddrStopsCountingTheMastersList: r2 is master for a
// different VIP than r1's backup is configured with. r1 accepts its
// adverts and stays backup either way (keepalived ≥ 2.3.3; 2.2.7 dropped
// them). Without skip_check_adv_addr every advert counts as an "Address
// List" error in keepalived.stats; with it (or the global
// vrrp_skip_check_adv_addr) only the first from that master does.
func TestSkipCheckAdvAddrStopsCountingTheMastersList(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name, global, inst string
	}{
		{"without", "", ""},
		{"skip_check_adv_addr", "", "    skip_check_adv_addr\n"},
		{"vrrp_skip_check_adv_addr", "    vrrp_skip_check_adv_addr\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, "r1", "r2")
			r1, r2 := l.Host("r1"), l.Host("r2")
			master, backup := masterAndBackup(vip4b)
			backup.vip = vip4
			conf := backup.conf()
			conf = strings.Replace(conf, "global_defs {\n", "global_defs {\n"+tc.global, 1)
			conf = strings.Replace(conf, "    priority 100\n", "    priority 100\n"+tc.inst, 1)
			p1 := startKGConf(t, r1, conf)
			startKG(t, r2, master)
			waitHolder(t, 5*time.Second, vip4b, r2, r1, r2)
			time.Sleep(time.Second) // about ten adverts
			stats := readStats(t, r1, p1)
			received, errs := advertsReceived(t, stats), addressListErrors(t, stats)
			if received < 5 {
				t.Fatalf("r1 received %d adverts, want at least 5:\n%s", received, stats)
			}
			if r1.HasAddress(vip4) || r1.HasAddress(vip4b) {
				t.Fatalf("r1 took a VIP: it did not accept r2's adverts")
			}
			if tc.inst == "" && tc.global == "" {
				if errs < received-1 {
					t.Errorf("%d Address List errors for %d adverts, want one each", errs, received)
				}
				waitLog(t, time.Second, p1, "(VI_1) ip address associated with VRID 51 not present in advert from "+r2.IPv4.String()+": "+vip4.String())
			} else if errs != 1 {
				t.Errorf("%d Address List errors for %d adverts, want 1 (the new master's first):\n%s", errs, received, stats)
			}
		})
	}
}

var receivedRE = regexp.MustCompile(`Advertisements:\n    Received: (\d+)`)

func advertsReceived(t *testing.T, stats string) int {
	t.Helper()
	m := receivedRE.FindStringSubmatch(stats)
	if m == nil {
		t.Fatalf("no Received line in:\n%s", stats)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
