package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// -t reports global_defs's IPVS keywords as keepalived 2.2.7 does
// (checked against `keepalived -t` on the same file).
func TestLVSGlobalsMessages(t *testing.T) {
	_, diags := LoadBytes("t.conf", []byte(`global_defs {
    lvs_timeouts tcp 3000000 udp 5 tcpfin
    lvs_flush_on_stop XX
    lvs_sync_daemon eth0 VI_9 id 300 bogus
}
`), Options{})
	var got []string
	for _, d := range diags {
		got = append(got, d.Msg)
	}
	for _, want := range []string{
		"number '3000000' outside range [0, 2678400]",
		"Invalid lvs_timeout tcp (3000000) - ignoring",
		"No value specified for lvs_timeout tcpfin - ignoring",
		"Unknown lvs_flush_on_stop type XX",
		"number '300' outside range [0, 255]",
		"Invalid syncid (300) - defaulting to vrid",
		"Unknown option bogus specified for lvs_sync_daemon",
	} {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("no %q in %q", want, got)
		}
	}
	if d := diags[0]; d.Line != 2 {
		t.Errorf("first message on line %d, want 2", d.Line)
	}
}

func TestParseLVSTimeouts(t *testing.T) {
	if got, msgs := ParseLVSTimeouts(strings.Fields("tcp 7200 udp 60")); got != (LVSTimeouts{TCP: 7200, UDP: 60}) || msgs != nil {
		t.Errorf("%+v %q", got, msgs)
	}
	if _, msgs := ParseLVSTimeouts([]string{"tcp"}); !reflect.DeepEqual(msgs, []string{"lvs_timeouts requires at least one option"}) {
		t.Errorf("%q", msgs)
	}
}

func TestParseLVSSyncDaemon(t *testing.T) {
	for _, c := range []struct {
		words string
		want  LVSSyncDaemon
		msgs  []string
	}{
		{"eth0 VI_1", LVSSyncDaemon{Interface: "eth0", Instance: "VI_1"}, nil},
		{"eth0 inst VI_1 id 7 maxlen 1400 port 8850 ttl 3 group 239.0.0.9",
			LVSSyncDaemon{Interface: "eth0", SyncID: 7, SyncIDSet: true, MaxLen: 1400, Port: 8850, TTL: 3,
				Group: netip.MustParseAddr("239.0.0.9"), Instance: "VI_1"}, nil},
		{"eth0 VI_1 9", LVSSyncDaemon{Interface: "eth0", SyncID: 9, Instance: "VI_1", SyncIDSet: true},
			[]string{`Please use keyword "id" before lvs_sync_daemon SYNCID`}},
		{"eth0", LVSSyncDaemon{Interface: "eth0"}, nil},
		{"eth0 VI_1 group 10.0.0.1 ttl 0",
			LVSSyncDaemon{Interface: "eth0", Instance: "VI_1"},
			[]string{"lvs_sync_daemon group address 10.0.0.1 is not multicast - ignoring",
				"number '0' outside range [1, 255]", "Invalid lvs_sync_daemon ttl (0) - ignoring"}},
	} {
		got, msgs, ok := ParseLVSSyncDaemon(strings.Fields(c.words))
		if !ok || got != c.want || !reflect.DeepEqual(msgs, c.msgs) {
			t.Errorf("%q: %+v %q %v\nwant %+v %q", c.words, got, msgs, ok, c.want, c.msgs)
		}
	}
	if _, msgs, ok := ParseLVSSyncDaemon([]string{"averyveryverylongname"}); ok || len(msgs) != 1 {
		t.Errorf("a long interface name: %v %q", ok, msgs)
	}
}
