package ipvs

import (
	"bytes"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

func syncConf(t *testing.T, globals string) *config.Config {
	t.Helper()
	cfg, _ := config.LoadBytes("t.conf", []byte(`global_defs {
`+globals+`
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.1
    }
}
`), config.Options{})
	return cfg
}

func newSync(t *testing.T, vrrp, checker bool) (*SyncDaemon, *kernel.FakeIPVS, *bytes.Buffer) {
	k := &kernel.FakeIPVS{}
	var logs bytes.Buffer
	s := NewSyncDaemon(slog.New(slog.NewTextHandler(&logs, nil)), vrrp, checker,
		func() (kernel.IPVSControl, error) { return k, nil })
	return s, k, &logs
}

func daemons(t *testing.T, k *kernel.FakeIPVS) []string {
	t.Helper()
	ds, err := k.Daemons()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s %s id %d", d.StateName(), d.Interface, d.SyncID))
	}
	return out
}

// The daemon follows its VRRP instance: BACKUP at start, MASTER while
// the instance is master, BACKUP when it leaves; other instances do not
// move it; stop stops it. The sync id is the instance's vrid.
func TestSyncDaemonFollowsItsInstance(t *testing.T) {
	s, k, logs := newSync(t, true, true)
	s.Apply(ctx, syncConf(t, "lvs_sync_daemon eth0 VI_1"))
	if got := daemons(t, k); !reflect.DeepEqual(got, []string{"backup eth0 id 51"}) {
		t.Fatalf("at start: %q", got)
	}
	k.Calls()
	s.InstanceState("VI_1", true)
	if got := daemons(t, k); !reflect.DeepEqual(got, []string{"master eth0 id 51"}) {
		t.Errorf("instance master: %q", got)
	}
	if calls := k.Calls(); !reflect.DeepEqual(calls, []string{"stop-daemon backup", "start-daemon master eth0 id 51"}) {
		t.Errorf("becoming master: %q", calls)
	}
	s.InstanceState("VI_2", false)
	s.InstanceState("VI_1", true)
	if calls := k.Calls(); len(calls) != 0 {
		t.Errorf("another instance, or the same state again: %q", calls)
	}
	s.InstanceState("VI_1", false)
	if got := daemons(t, k); !reflect.DeepEqual(got, []string{"backup eth0 id 51"}) {
		t.Errorf("instance left master: %q", got)
	}
	s.Stop(ctx)
	if got := daemons(t, k); len(got) != 0 {
		t.Errorf("after stop: %q", got)
	}
	s.InstanceState("VI_1", true)
	if got := daemons(t, k); len(got) != 0 {
		t.Errorf("a state change after stop: %q", got)
	}
	if strings.Contains(logs.String(), "error") {
		t.Errorf("errors logged:\n%s", logs)
	}
}

// A master already heard before the configuration is applied starts the
// master daemon; a reload with other settings restarts it with them in
// the same state; an unchanged one touches nothing.
func TestSyncDaemonReload(t *testing.T) {
	s, k, _ := newSync(t, true, true)
	s.InstanceState("VI_1", true)
	s.Apply(ctx, syncConf(t, "lvs_sync_daemon eth0 VI_1"))
	if got := daemons(t, k); !reflect.DeepEqual(got, []string{"master eth0 id 51"}) {
		t.Fatalf("at start, master: %q", got)
	}
	k.Calls()
	s.Apply(ctx, syncConf(t, "lvs_sync_daemon eth0 VI_1"))
	if calls := k.Calls(); len(calls) != 0 {
		t.Errorf("an unchanged reload: %q", calls)
	}
	s.Apply(ctx, syncConf(t, "lvs_sync_daemon eth0 VI_1 id 7"))
	if got := daemons(t, k); !reflect.DeepEqual(got, []string{"master eth0 id 7"}) {
		t.Errorf("after a reload with id 7: %q", got)
	}
	s.Apply(ctx, syncConf(t, ""))
	if got := daemons(t, k); len(got) != 0 {
		t.Errorf("after a reload without lvs_sync_daemon: %q", got)
	}
	s.Stop(ctx)
}

// Without an instance the checker runs both daemons (sync id 0); with
// -P it is not the VRRP process's to run, and an unknown instance is
// keepalived's error.
func TestSyncDaemonWithoutInstance(t *testing.T) {
	s, k, _ := newSync(t, true, true)
	s.Apply(ctx, syncConf(t, "lvs_sync_daemon eth1"))
	if got := daemons(t, k); !reflect.DeepEqual(got, []string{"master eth1 id 0", "backup eth1 id 0"}) {
		t.Errorf("without instance: %q", got)
	}
	s.InstanceState("VI_1", true)
	s.Stop(ctx)
	if got := daemons(t, k); len(got) != 0 {
		t.Errorf("after stop: %q", got)
	}

	s, k, _ = newSync(t, true, false) // -P
	s.Apply(ctx, syncConf(t, "lvs_sync_daemon eth1"))
	if got := daemons(t, k); len(got) != 0 {
		t.Errorf("-P: %q", got)
	}
	s, k, logs := newSync(t, true, true)
	s.Apply(ctx, syncConf(t, "lvs_sync_daemon eth1 VI_9"))
	if got := daemons(t, k); len(got) != 0 {
		t.Errorf("unknown instance: %q", got)
	}
	if !strings.Contains(logs.String(), "Unable to find vrrp instance VI_9 for lvs_syncd - clearing lvs_syncd config") {
		t.Errorf("log:\n%s", logs)
	}
}

// A daemon the kernel refuses is logged as ipvs_talk logs it.
func TestSyncDaemonErrorLine(t *testing.T) {
	s, k, logs := newSync(t, true, true)
	s.Apply(ctx, syncConf(t, "lvs_sync_daemon eth0 VI_1"))
	k.StartDaemon(kernel.IPVSDaemon{State: kernel.IPVSSyncMaster, Interface: "eth9"}) // made by someone else
	s.InstanceState("VI_1", true)
	if want := "IPVS cmd IP_VS_SO_SET_STARTDAEMON(1163) error: Daemon has already run(17)"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
}

// The deprecated lvs_sync_daemon_interface in a vrrp_instance is that
// instance's sync daemon (vrrp_parser.c lvs_syncd_handler).
func TestSyncDaemonInterfaceInInstance(t *testing.T) {
	cfg, _ := config.LoadBytes("t.conf", []byte(`vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 42
    priority 100
    lvs_sync_daemon_interface eth3
    virtual_ipaddress {
        192.0.2.1
    }
}
`), config.Options{})
	s, k, _ := newSync(t, true, true)
	s.Apply(ctx, cfg)
	s.InstanceState("VI_1", true)
	if got := daemons(t, k); !reflect.DeepEqual(got, []string{"master eth3 id 42"}) {
		t.Errorf("daemons %q", got)
	}
	s.Stop(ctx)
}
