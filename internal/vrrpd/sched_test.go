package vrrpd

import "testing"

// RLIMIT_RTTIME is set only when vrrp_rlimit_rttime is: validation's
// default of 10 ms would get a real-time daemon killed while it applies a
// large configuration.
func TestRTTimeLimitOnlyWhenAsked(t *testing.T) {
	for _, c := range []struct {
		globals string
		want    int
	}{
		{"vrrp_rt_priority 10", 0},
		{"vrrp_rt_priority 10\n vrrp_rlimit_rttime 50000", 50000},
		{"vrrp_rlimit_rtime 20000", 20000},
	} {
		cfg := loadConf(t, "global_defs {\n "+c.globals+"\n}\n")
		s, err := processSettingsOf(cfg.GlobalDefs)
		if err != nil || s.RTTime != c.want {
			t.Errorf("%q: RTTime %d (%v), want %d", c.globals, s.RTTime, err, c.want)
		}
	}
}
