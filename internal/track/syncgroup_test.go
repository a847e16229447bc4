package track

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

// trackingOf builds VI_1's tracking from a configuration text, with the
// rules of its sync group (the first) applied.
func trackingOf(t *testing.T, text string) *Tracking {
	t.Helper()
	cfg, _ := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true },
		UserExists: func(string) bool { return true }, LookPath: func(f string) (string, error) { return f, nil }})
	objs := NewObjects(cfg)
	sg := cfg.SyncGroups[0]
	owner := false
	for _, ci := range cfg.Instances {
		owner = owner || ci.Priority == 255
	}
	tr := NewTracking(nil, cfg.Instances[0], objs)
	tr.JoinSyncGroup(slog.Default(), sg, objs, owner)
	return tr
}

const syncTrackConf = `global_defs {
    enable_script_security
    script_user root
}
vrrp_script chk_a {
    script "/bin/true"
    weight 10
}
vrrp_script chk_b {
    script "/bin/true"
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
    track_script {
        chk_b
    }
    track_interface {
        eth9 weight 5
    }
%s}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    track_interface {
        eth1 weight 20
    }
    track_script {
        chk_a
    }
    virtual_ipaddress {
        198.51.100.1
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 2
    priority %d
    virtual_ipaddress {
        198.51.100.2
    }
}
`

func linkNames(ls []trackedLink) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.name+"/"+strconv.Itoa(l.weight))
	}
	return out
}

func TestSyncGroupTrackingRules(t *testing.T) {
	tests := []struct {
		name             string
		extra            string
		prio2            int
		links, scriptSet []string
	}{
		{"weights cannot float members", "", 100, []string{"eth0/0", "eth1/0", "eth9/5"}, []string{"chk_b/0"}},
		{"sync_group_tracking_weight keeps them", "    sync_group_tracking_weight\n", 100, []string{"eth0/0", "eth1/20", "eth9/5"}, []string{"chk_a/10", "chk_b/0"}},
		{"an owner member clears the group's weights", "", 255, []string{"eth0/0", "eth1/0", "eth9/0"}, []string{"chk_b/0"}},
	}
	for _, tt := range tests {
		tr := trackingOf(t, fmt.Sprintf(syncTrackConf, tt.extra, tt.prio2))
		if got := linkNames(tr.links); !slices.Equal(got, tt.links) {
			t.Errorf("%s: interfaces %v, want %v", tt.name, got, tt.links)
		}
		if got := linkNames(tr.scripts); !slices.Equal(got, tt.scriptSet) {
			t.Errorf("%s: scripts %v, want %v", tt.name, got, tt.scriptSet)
		}
	}
}

// WaitsForScripts is keepalived's num_script_init: a weight-0 tracked
// script without init_fail (the member's own or the group's) holds the
// start; a weighted one (dropped in a sync group) or an init_fail one
// does not.
func TestWaitsForScripts(t *testing.T) {
	for _, tc := range []struct {
		script, instTrack, groupTrack string
		want                          bool
	}{
		{"", "", "", false},
		{"", "chk", "", true},
		{"", "", "chk", true},
		{"    weight 10\n", "chk", "", false},
		{"    init_fail\n", "chk", "", false},
		{"", "chk weight 5", "", false},
	} {
		track := func(name string) string {
			if name == "" {
				return ""
			}
			return "    track_script {\n        " + name + "\n    }\n"
		}
		text := fmt.Sprintf(`global_defs {
    enable_script_security
    script_user root
}
vrrp_script chk {
    script "/bin/true"
%s}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
%s}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
%s}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 2
    priority 100
}
`, tc.script, track(tc.groupTrack), track(tc.instTrack))
		cfg, _ := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true },
			UserExists: func(string) bool { return true }, LookPath: func(f string) (string, error) { return f, nil }})
		if got := WaitsForScripts(cfg.Instances[0], cfg.SyncGroups[0], NewObjects(cfg), false); got != tc.want {
			t.Errorf("script %q, instance tracks %q, group tracks %q: waits %v, want %v", tc.script, tc.instTrack, tc.groupTrack, got, tc.want)
		}
	}
}
