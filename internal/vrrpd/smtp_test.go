package vrrpd

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/notify/smtptest"
	"github.com/keepalived-go/keepalived-go/internal/track"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

func smtpGlobals(port, extra string) string {
	return fmt.Sprintf(`global_defs {
    router_id lb1
    notification_email {
        ops@example.com
    }
    notification_email_from keepalived@lb1.example
    smtp_helo_name lb1.example
    smtp_server 127.0.0.1 %s
%s}
`, port, extra)
}

// The running instances mail keepalived's alerts: an instance with
// smtp_alert as it becomes backup, then master, then stops; its sync
// group with smtp_alert as it becomes master and stops; an instance
// without smtp_alert (the default is off) nothing.
func TestInstancesAndGroupsSendSMTPAlerts(t *testing.T) {
	sink := smtptest.New(t)
	cfg := loadConf(t, smtpGlobals(sink.Port, "")+`vrrp_sync_group G {
    group {
        VI_1
    }
    smtp_alert
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    advert_int 0.1
    smtp_alert
    virtual_ipaddress {
        198.51.100.1
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 2
    priority 100
    advert_int 0.1
    virtual_ipaddress {
        198.51.100.2
    }
}
`)
	trackSources = track.Sources{Links: &fakeLinks{watched: make(chan *fakeLinkWatch, 4)}}
	t.Cleanup(func() { trackSources = track.Sources{} })
	k := kernel.NewFake(kernel.Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.1")})
	rt, err := startVRRP(cfg, k, slog.New(slog.NewTextHandler(io.Discard, nil)), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.WaitUntil("VI_1 and G are master", 10*time.Second, func() bool { return len(sink.Alerts()) >= 4 }); err != nil {
		rt.stop()
		t.Fatal(err, sink.Alerts())
	}
	rt.stop()
	got := sink.Alerts()
	want := []string{
		"[lb1] VRRP Instance VI_1 - Entering BACKUP state | => VRRP Instance is no longer owning VRRP VIPs <=",
		"[lb1] VRRP Instance VI_1 - Entering MASTER state | => VRRP Instance is now owning VRRP VIPs <=",
		// keepalived's send_group_notifies at start (vrrp_init_state).
		"[lb1] VRRP Group G - Entering BACKUP state | => All VRRP group instances are now in BACKUP state <=",
		"[lb1] VRRP Group G - Entering MASTER state | => All VRRP group instances are now in MASTER state <=",
		"[lb1] VRRP Instance VI_1 - Stopping | => VRRP Instance stopping <=",
		"[lb1] VRRP Group G - Stopping | => All VRRP group instances are now stopping <=",
	}
	// The instance's own alerts are in order; the group's may come
	// before or after the instance's of the same moment.
	var inst []string
	for _, a := range got {
		if strings.Contains(a, "Instance") {
			inst = append(inst, a)
		}
	}
	if !slices.Equal(inst, []string{want[0], want[1], want[4]}) {
		t.Errorf("instance alerts:\n%s\nwant:\n%s", strings.Join(inst, "\n"), strings.Join([]string{want[0], want[1], want[4]}, "\n"))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// keepalived's defaults and filters: smtp_alert_vrrp turns the alerts on
// for every instance and group, an instance's smtp_alert off wins over
// it; with no_email_faults FAULT sends nothing, and neither does the
// return to the state of the last alert (last_email_state).
func TestSMTPAlertPrecedenceAndFaults(t *testing.T) {
	sink := smtptest.New(t)
	cfg := notifyConf(t, smtpGlobals(sink.Port, "    smtp_alert_vrrp\n    no_email_faults\n")+`vrrp_sync_group G {
    group {
        VI_1
    }
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 1
    priority 100
    virtual_ipaddress {
        198.51.100.1
    }
}
vrrp_instance VI_2 {
    interface lo
    virtual_router_id 2
    priority 100
    smtp_alert off
    virtual_ipaddress {
        198.51.100.2
    }
}
`)
	rt := &vrrpRuntime{log: slog.Default()}
	rt.openAlerts(cfg)
	n1 := newNotifier(rt.log, cfg, cfg.Instances[0], nil)
	n1.useAlerts(rt.alerts, cfg.GlobalDefs, cfg.Instances[0].IsSet("smtp_alert"), cfg.Instances[0].SMTPAlert)
	n2 := newNotifier(rt.log, cfg, cfg.Instances[1], nil)
	n2.useAlerts(rt.alerts, cfg.GlobalDefs, cfg.Instances[1].IsSet("smtp_alert"), cfg.Instances[1].SMTPAlert)
	g := newGroupNotifier(rt.log, cfg, cfg.SyncGroups[0], nil)
	g.useAlerts(rt.alerts, cfg.GlobalDefs, cfg.SyncGroups[0].IsSet("smtp_alert"), cfg.SyncGroups[0].SMTPAlert)
	n2.transition(vrrp.Backup, vrrp.Master, 100)
	n1.transition(vrrp.Backup, vrrp.Master, 100)
	n1.transition(vrrp.Master, vrrp.Fault, 100)  // no_email_faults
	n1.transition(vrrp.Fault, vrrp.Master, 100)  // the state of the last alert
	n1.transition(vrrp.Master, vrrp.Backup, 100) // a change again
	g.transition(vrrp.Backup, vrrp.Fault, 0)
	g.transition(vrrp.Fault, vrrp.Master, 0)
	stopNotifiers(notifiersOf([]*notifier{n1, n2, g}))
	if err := lab.WaitUntil("three alerts", 10*time.Second, func() bool { return len(sink.Alerts()) == 3 }); err != nil {
		t.Fatal(err, sink.Alerts())
	}
	rt.alerts.Stop()
	want := []string{
		"[lb1] VRRP Instance VI_1 - Entering MASTER state | => VRRP Instance is now owning VRRP VIPs <=",
		"[lb1] VRRP Instance VI_1 - Entering BACKUP state | => VRRP Instance is no longer owning VRRP VIPs <=",
		"[lb1] VRRP Group G - Entering MASTER state | => All VRRP group instances are now in MASTER state <=",
	}
	if got := sink.Alerts(); !slices.Equal(got, want) {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
