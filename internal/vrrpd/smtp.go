package vrrpd

import (
	"sync"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/notify"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// mailer sends the SMTP alerts of one instance or sync group, as
// keepalived's vrrp_notify.c vrrp_smtp_notifier and
// vrrp_sync_smtp_notifier do, after the scripts and the FIFO line of the
// same change: one alert per state entered, none for FAULT with
// global_defs no_email_faults, and none for the state the last alert was
// about (keepalived's last_email_state), so that with no_email_faults a
// master that goes through FAULT and back sends nothing.
type mailer struct {
	alerts   *notify.Alerter // nil: smtp_alert is off for the object
	noFaults bool

	mu   sync.Mutex
	last vrrp.State // of the last alert; INIT at first
}

// useAlerts makes the notifier send its object's alerts through a, if
// smtp_alert resolves on for it: (set, on) is the object's own keyword
// (notify.VRRPAlertOn).
func (n *notifier) useAlerts(a *notify.Alerter, g *config.GlobalDefs, set, on bool) {
	if !a.Enabled() || !notify.VRRPAlertOn(g, set, on) {
		return
	}
	n.mail.alerts = a
	n.mail.noFaults = g != nil && g.NoEmailFaults
}

// alert sends the alert for the state the object entered, if any.
func (m *mailer) alert(kind notify.Kind, name string, to vrrp.State) {
	if m.alerts == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if (m.noFaults && to == vrrp.Fault) || to == m.last {
		return
	}
	subject, body, ok := notify.VRRPAlert(kind, name, to.String())
	if !ok {
		return
	}
	m.alerts.Alert(subject, body)
	m.last = to
}

// openAlerts opens the runtime's alerter with global_defs' mail settings;
// it shares the process's sender with the checkers' and with the
// runtime a reload replaces.
func (rt *vrrpRuntime) openAlerts(cfg *config.Config) {
	rt.alerts = notify.OpenAlerter(rt.log, notify.SMTPSettingsOf(cfg.GlobalDefs))
}
