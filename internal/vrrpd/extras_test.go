package vrrpd

import (
	"slices"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/config"
)

func loadConf(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, _ := config.LoadBytes("t.conf", []byte(text), config.Options{InterfaceExists: func(string) bool { return true }})
	return cfg
}

func TestKeepalivedExtrasShowWhatRuns(t *testing.T) {
	cfg := loadConf(t, `
vrrp_script chk {
    script "/bin/true"
    interval 1
}
vrrp_instance VI_1 {
    interface eth0
    use_vmac
    virtual_router_id 51
    priority 100
    advert_int 1
    no_accept
    smtp_alert
    promote_secondaries
    authentication {
        auth_type PASS
        auth_pass longpassword
    }
    notify_master "/bin/echo master"
    notify_backup /bin/true
    track_interface {
        eth9
    }
    track_script {
        chk
    }
    virtual_ipaddress {
        198.51.100.200/24
    }
    virtual_routes {
        198.51.100.128/25 via 198.51.100.2 dev eth0
    }
}
`)
	x, ok := KeepalivedExtras(cfg)["VI_1"]
	if !ok {
		t.Fatal("no extras for VI_1")
	}
	if !x.UseVMAC || x.Parent != "eth0" || !x.NoAccept {
		t.Errorf("use_vmac %v parent %q no_accept %v, want true eth0 true", x.UseVMAC, x.Parent, x.NoAccept)
	}
	// keepalived clears promote_secondaries with use_vmac (vrrp.c
	// vrrp_complete_instance): the dump shows false. smtp_alert is on.
	if !x.SMTPAlert || x.PromoteSecondaries {
		t.Errorf("smtp_alert %v promote_secondaries %v, want true false", x.SMTPAlert, x.PromoteSecondaries)
	}
	if x.AuthPass != "longpass" {
		t.Errorf("auth_data %q, want the first 8 bytes, as keepalived keeps them", x.AuthPass)
	}
	if x.ScriptMaster != "'/bin/echo' 'master'" || x.ScriptBackup != "'/bin/true'" || x.ScriptFault != "" {
		t.Errorf("scripts master %q backup %q fault %q", x.ScriptMaster, x.ScriptBackup, x.ScriptFault)
	}
	if !slices.Equal(x.TrackInterfaces, []string{"eth9"}) || !slices.Equal(x.TrackScripts, []string{"'/bin/true'"}) {
		t.Errorf("track_ifp %v track_script %v", x.TrackInterfaces, x.TrackScripts)
	}
	if !slices.Equal(x.VRoutes, []string{"198.51.100.128/25 via 198.51.100.2 dev eth0"}) {
		t.Errorf("vroutes %v", x.VRoutes)
	}
}
