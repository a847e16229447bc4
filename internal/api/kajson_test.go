package api

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// testdata/keepalived-2.2.7.json is what Debian's keepalived 2.2.7 wrote
// on SIGRTMIN+2 for testdata/keepalived-2.2.7.conf (three instances: v2
// with PASS, notify scripts, tracking, excluded VIPs, virtual routes and
// rules; v3 on a VMAC; v3 IPv6), run in a throwaway network namespace.
func recordedDump(t *testing.T) []map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("testdata/keepalived-2.2.7.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// objectKeys returns an object's keys in the order they are written.
func objectKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// keepalivedOrder merges the recorded instances' data keys into one
// order, and returns the keys every instance has (keepalived always
// prints them).
func keepalivedOrder(t *testing.T) (order, always []string) {
	rec := recordedDump(t)
	count := map[string]int{}
	for _, inst := range rec {
		keys := objectKeys(t, inst["data"])
		for i, k := range keys {
			count[k]++
			if slices.Contains(order, k) {
				continue
			}
			// Insert after the previous key of this instance.
			at := 0
			if i > 0 {
				at = slices.Index(order, keys[i-1]) + 1
			}
			order = slices.Insert(order, at, k)
		}
	}
	for _, k := range order {
		if count[k] == len(rec) {
			always = append(always, k)
		}
	}
	return order, always
}

// fullExtras gives VI_1 every optional field keepalived prints for the
// recorded VI_1, and VI_2 a VMAC.
func fullExtras(name string) KeepalivedExtra {
	switch name {
	case "VI_1":
		return KeepalivedExtra{
			ScriptBackup: ScriptString([]string{"/usr/bin/true"}), ScriptMaster: ScriptString([]string{"/usr/bin/echo", "master"}),
			Script:          ScriptString([]string{"/usr/bin/true"}),
			VRoutes:         []string{"198.51.100.128/25 via 198.51.100.2 dev eth0"},
			VRules:          []string{"from 192.0.2.100 table 100"},
			TrackInterfaces: []string{"eth9"}, TrackScripts: []string{"'/usr/bin/true'"},
		}
	case "VI_2":
		return KeepalivedExtra{UseVMAC: true, Parent: "eth0"}
	}
	return KeepalivedExtra{}
}

func writeDump(t *testing.T, extra func(string) KeepalivedExtra) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteKeepalivedJSON(&b, sourceOf(fixture(t)), extra); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestKeepalivedJSONHasKeepalivedsShape compares our dump with the one
// keepalived 2.2.7 wrote: an array of {"data", "stats"} objects; data
// keys in keepalived's order, with every key keepalived always prints;
// stats with exactly keepalived's counters.
func TestKeepalivedJSONHasKeepalivedsShape(t *testing.T) {
	order, always := keepalivedOrder(t)
	rec := recordedDump(t)
	wantStats := objectKeys(t, rec[0]["stats"])
	out := writeDump(t, fullExtras)
	var elems []json.RawMessage
	if err := json.Unmarshal(out, &elems); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(elems) != 2 {
		t.Fatalf("%d instances, want 2", len(elems))
	}
	var got []map[string]json.RawMessage
	for i, e := range elems {
		if keys := objectKeys(t, e); !slices.Equal(keys, []string{"data", "stats"}) {
			t.Errorf("instance %d: keys %v, want [data stats]", i, keys)
		}
		var inst map[string]json.RawMessage
		json.Unmarshal(e, &inst)
		got = append(got, inst)
		keys := objectKeys(t, inst["data"])
		if !isSubsequence(keys, order) {
			t.Errorf("instance %d: data keys %v are not in keepalived's order %v", i, keys, order)
		}
		for _, k := range always {
			if !slices.Contains(keys, k) {
				t.Errorf("instance %d: data lacks %q, which keepalived always writes", i, k)
			}
		}
		if sk := objectKeys(t, inst["stats"]); !slices.Equal(sk, wantStats) {
			t.Errorf("instance %d: stats keys %v, want %v", i, sk, wantStats)
		}
	}
	// With the same features configured, VI_1 has the recorded VI_1's
	// keys, but auth_data (ours is VRRPv3, without authentication).
	want := slices.DeleteFunc(objectKeys(t, rec[0]["data"]), func(k string) bool { return k == "auth_data" })
	if keys := objectKeys(t, got[0]["data"]); !slices.Equal(keys, want) {
		t.Errorf("VI_1 data keys\n %v, want\n %v", keys, want)
	}
}

func isSubsequence(keys, order []string) bool {
	i := 0
	for _, k := range keys {
		j := slices.Index(order[i:], k)
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return true
}

// TestKeepalivedJSONValues: the values are the instances' own.
func TestKeepalivedJSONValues(t *testing.T) {
	var got []struct {
		Data  map[string]any `json:"data"`
		Stats map[string]any `json:"stats"`
	}
	out := writeDump(t, fullExtras)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	m, b := got[0], got[1]
	for k, want := range map[string]any{
		"iname": "VI_1", "state": 2.0, "wantstate": 2.0, "vipset": true, "vrid": 51.0, "base_priority": 255.0,
		"effective_priority": 255.0, "ifp_ifname": "eth0", "vmac_ifname": "", "version": 3.0, "adver_int": 1.0,
		"master_adver_int": 1.0, "accept": 1.0, "nopreempt": false, "auth_type": 0.0, "master_priority": 0.0,
		"higher_prio_send_advert": 1.0, "lower_prio_no_advert": 0.0, "garp_rep": 1.0, "garp_refresh_rep": 1.0,
		"vips":          []any{"192.0.2.100 dev eth0 scope global set"},
		"evips":         []any{"192.0.2.101 dev eth0 scope global set"},
		"script_master": "'/usr/bin/echo' 'master'",
		"track_ifp":     []any{"eth9"},
	} {
		if !reflect.DeepEqual(m.Data[k], want) {
			t.Errorf("VI_1 %s = %#v, want %#v", k, m.Data[k], want)
		}
	}
	for k, want := range map[string]any{
		"state": 1.0, "vipset": false, "effective_priority": 100.0, "garp_delay": 5.0, "garp_rep": 5.0,
		"garp_lower_prio_delay": 5.0, "garp_lower_prio_rep": 5.0, "vmac_ifname": "eth1", "ifp_ifname": "eth1",
		"vips": []any{"192.0.2.200/24 dev eth1@eth0 scope global"},
	} {
		if !reflect.DeepEqual(b.Data[k], want) {
			t.Errorf("VI_2 %s = %#v, want %#v", k, b.Data[k], want)
		}
	}
	for k, want := range map[string]float64{"advert_rcvd": 2, "ip_ttl_err": 1, "pri_zero_rcvd": 1, "advert_sent": 0, "auth_failure": 0} {
		if b.Stats[k] != want {
			t.Errorf("VI_2 stats %s = %v, want %v", k, b.Stats[k], want)
		}
	}
	if m.Stats["become_master"] != 1.0 || m.Stats["advert_sent"] != 1.0 {
		t.Errorf("VI_1 stats %v", m.Stats)
	}
}

// TestKeepalivedJSONTextMatchesKeepalived: compact, "/" escaped, no final
// newline, last_transition with six decimals, as keepalived writes.
func TestKeepalivedJSONTextMatchesKeepalived(t *testing.T) {
	out := string(writeDump(t, nil))
	if strings.HasSuffix(out, "\n") || strings.Contains(out, "\n") {
		t.Errorf("keepalived writes one line without a final newline: %q", out)
	}
	if !strings.Contains(out, `"192.0.2.200\/24 dev eth1 scope global"`) || regexp.MustCompile(`[^\\]/`).MatchString(out) {
		t.Errorf(`"/" not escaped as keepalived does: %s`, out)
	}
	if n := len(regexp.MustCompile(`"last_transition":\d{10}\.\d{6},`).FindAllString(out, -1)); n != 2 {
		t.Errorf("last_transition not in keepalived's %%f format: %s", out)
	}
	// Without extras (nil), every flag is keepalived's default.
	if !strings.Contains(out, `"dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"eth0"`) {
		t.Errorf("defaults: %s", out)
	}
}

func TestKeepalivedJSONPassword(t *testing.T) {
	st := &vrrp.InstanceStatus{Name: "VI_1", AuthType: vrrp.AuthPass}
	if d := kaDataOf(st, &KeepalivedExtra{AuthPass: "secret"}); d.AuthType != 1 || d.AuthData != "secret" {
		t.Errorf("PASS: auth_type %d auth_data %q", d.AuthType, d.AuthData)
	}
	st.AuthType = vrrp.AuthNone
	if d := kaDataOf(st, &KeepalivedExtra{AuthPass: "secret"}); d.AuthData != "" {
		t.Errorf("no authentication, yet auth_data %q", d.AuthData)
	}
}

func TestKeepalivedJSONStates(t *testing.T) {
	for s, want := range map[vrrp.State]int{vrrp.Init: 0, vrrp.Backup: 1, vrrp.Master: 2, vrrp.Fault: 3, vrrp.Stop: 98} {
		if got := keepalivedState(s); got != want {
			t.Errorf("%v is %d, keepalived's VRRP_STATE_* is %d", s, got, want)
		}
	}
}

func TestScriptStringQuotesAsKeepalived(t *testing.T) {
	for _, tt := range []struct {
		words []string
		want  string
	}{
		{[]string{"/usr/bin/echo", "master"}, "'/usr/bin/echo' 'master'"},
		{[]string{"/usr/bin/true"}, "'/usr/bin/true'"},
		{[]string{"</dev/null", ">x"}, "</dev/null '>x'"}, // a leading redirection is bare
	} {
		if got := ScriptString(tt.words); got != tt.want {
			t.Errorf("ScriptString(%q) = %q, want %q", tt.words, got, tt.want)
		}
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestKAVIPFormat(t *testing.T) {
	st := &vrrp.InstanceStatus{Interface: "eth0"}
	for _, tt := range []struct {
		vip  vrrp.VIP
		set  bool
		want string
	}{
		{vrrp.VIP{Prefix: mustPrefix("198.51.100.200/24")}, true, "198.51.100.200/24 dev eth0 scope global set"},
		{vrrp.VIP{Prefix: mustPrefix("198.51.100.201/32"), Dev: "veth1", Label: "veth1:1"}, true, "198.51.100.201 dev veth1 scope global label veth1:1 set"},
		{vrrp.VIP{Prefix: mustPrefix("198.51.100.202/24"), Brd: "198.51.100.255", Scope: "link"}, false, "198.51.100.202/24 brd 198.51.100.255 dev eth0 scope link"},
		{vrrp.VIP{Prefix: mustPrefix("2001:db8::200/64")}, true, "2001:db8::200/64 dev eth0 scope global preferred_lft forever set"},
		{vrrp.VIP{Prefix: mustPrefix("2001:db8::201/128"), Scope: "254"}, false, "2001:db8::201 dev eth0 scope host preferred_lft forever"},
	} {
		if got := kaVIP(tt.vip, st, &KeepalivedExtra{}, tt.set); got != tt.want {
			t.Errorf("kaVIP(%v) = %q, want %q", tt.vip, got, tt.want)
		}
	}
}

// auth_type AH: keepalived.json has type 2 and the key (vrrp_json.c
// vrrp_json_auth_dump); keepalived.data names the type and hides the key
// (vrrp_data.c dump_vrrp).
func TestKeepalivedDumpsAH(t *testing.T) {
	st := &vrrp.InstanceStatus{Name: "VI_1", AuthType: vrrp.AuthAH, Version: 2}
	x := &KeepalivedExtra{AuthPass: "secret"}
	if d := kaDataOf(st, x); d.AuthType != 2 || d.AuthData != "secret" {
		t.Errorf("JSON: auth_type %d auth_data %q", d.AuthType, d.AuthData)
	}
	var b strings.Builder
	dumpVRRP(&b, st, x, time.Now())
	if out := b.String(); !strings.Contains(out, "   Authentication type = IPSEC_AH\n") || strings.Contains(out, "secret") {
		t.Errorf("keepalived.data:\n%s", out)
	}
}
