package checkd

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/notify"
)

// Real servers that go away, as keepalived's ipwrapper.c lets them go:
// removed by a reload (clear_diff_services, clear_diff_rs) or at the
// daemon's stop (clear_services, unless -I). For each real server in the
// kernel (clear_service_rs) keepalived logs "Removing service RS from VS
// VS" ("Shutting down ..." at stop) and, if it was alive, runs its
// notify_down, writes "RS ... DOWN" on the FIFOs and sends the alert
// "Realserver RS of virtual server VS - DOWN" / "=> Removing <=" (or
// "=> Shutting down <=") if the server's smtp_alert is on. At stop all of
// that happens only with the virtual server's omega, and then the virtual
// server says it is going too (update_vs_notifies, do_vs_notifies):
// quorum_down, "VS ... DOWN", the alert "Virtualserver VS - DOWN" /
// "=> Shutting down <=". A virtual server removed by a reload loses its
// quorum as its last server goes: quorum_down, "VS ... DOWN" and the
// "Lost quorum" alert. A server removed from a virtual server that stays
// leaves the quorum to the new configuration's pool, which notifies its
// loss as any other (Pool.Resume).

// reloadRemovals notifies the real servers and virtual servers of the
// halted runtime rt that cfg no longer has.
func (rt *runtime) reloadRemovals(cfg *config.Config) {
	kept := map[string]map[string]bool{} // virtual server -> its real servers
	entries := map[string][]config.VSGEntry{}
	for _, spec := range cfg.VirtualServerSpecs() {
		name := serviceName(spec)
		if kept[name] == nil {
			kept[name] = map[string]bool{}
		}
		if spec.Group != nil {
			entries[name] = spec.Group.Entries
		}
		for _, rs := range spec.RealServers {
			kept[name][trio(rs.Addr, spec.Protocol)] = true
		}
	}
	for _, svc := range rt.services {
		servers, stays := kept[svc.name]
		if !stays {
			if svc.group != "" {
				rt.log.Info(fmt.Sprintf("Removing Virtual Server Group [%s]", svc.group))
			} else {
				rt.log.Info("Removing Virtual Server " + svc.name)
			}
		}
		if stays && svc.group != "" {
			rt.groupEntryLines(svc, entries[svc.name])
		}
		for i, srv := range svc.servers {
			if stays && servers[srv.name] {
				continue
			}
			if stays {
				rt.log.Info(fmt.Sprintf("service %s no longer exist", srv.name))
			}
			svc.clearServer(i, false)
		}
		if !stays {
			svc.goneQuorum(false)
		}
	}
}

// groupEntryLines logs, for a virtual server group that a reload keeps,
// the entries it lost and gained, as keepalived's clear_diff_vsge ("VS
// [...] in group G no longer exists") and sync_service_vsg_entry ("VS
// [...] added into group G") do. The data plane's reconciler then removes
// and adds their services.
func (rt *runtime) groupEntryLines(svc *service, now []config.VSGEntry) {
	for _, e := range svc.groupEntries {
		if !slices.ContainsFunc(now, e.Same) {
			rt.log.Info(fmt.Sprintf("VS [%s] in group %s no longer exists", vsgEntryName(e, svc.protocol, false), svc.group))
		}
	}
	for _, e := range now {
		if !slices.ContainsFunc(svc.groupEntries, e.Same) {
			rt.log.Info(fmt.Sprintf("VS [%s] added into group %s", vsgEntryName(e, svc.protocol, true), svc.group))
		}
	}
}

// vsgEntryName is an entry as keepalived names it in those lines: the
// fwmark ("FWM N" when added, the bare number when removed), the address
// as a trio, or a range as the trio of its first address, '-' and its
// last address.
func vsgEntryName(e config.VSGEntry, proto string, added bool) string {
	switch {
	case e.Fwmark != 0 && added:
		return fmt.Sprintf("FWM %d", e.Fwmark)
	case e.Fwmark != 0:
		return fmt.Sprint(e.Fwmark)
	}
	first := trio(netip.AddrPortFrom(e.Start, uint16(e.Port)), proto)
	if e.End == e.Start {
		return first
	}
	return first + "-" + e.End.String()
}

// shutdown is clear_services at the daemon's stop: logLines says whether
// the servers leave a kernel (a data plane), whose lines keepalived logs.
func (rt *runtime) shutdown(logLines bool) {
	for _, svc := range rt.services {
		for i := range svc.servers {
			if logLines {
				svc.shutdownLine(i)
			}
			svc.clearServer(i, true)
		}
		svc.goneQuorum(true)
	}
}

// shutdownLine is clear_service_rs's line at stop, logged for every real
// server.
func (svc *service) shutdownLine(i int) {
	s := svc.pool.Servers[i]
	inhibited := ""
	if s.Inhibit && !s.Alive() {
		inhibited = "(inhibited) "
	}
	svc.log.Info(fmt.Sprintf("Shutting down %sservice %s from VS %s", inhibited, s.Name, svc.name))
}

// clearServer is clear_service_rs for real server i of a halted runtime,
// without its kernel part (the data plane's).
func (svc *service) clearServer(i int, stopping bool) {
	s, srv := svc.pool.Servers[i], svc.servers[i]
	set := slices.ContainsFunc(svc.pool.Destinations(), func(d lvs.Dest) bool { return d.Server == s })
	if !set {
		return
	}
	if !stopping {
		inhibited := ""
		if s.Inhibit && !s.Alive() {
			inhibited = "(inhibited) "
		}
		svc.log.Info(fmt.Sprintf("Removing %sservice %s from VS %s", inhibited, s.Name, svc.name))
	}
	if !s.Alive() || (stopping && !svc.omega) {
		return
	}
	svc.notifier.Notify(notify.Event{What: "RS " + srv.name + " DOWN",
		Lines:   []string{fmt.Sprintf("RS %s %s DOWN\n\x00", srv.name, svc.name)},
		Scripts: []notify.Script{srv.notifyDown}})
	if svc.mail.alerts != nil && srv.alert {
		body := "=> Removing <="
		if stopping {
			body = "=> Shutting down <="
		}
		svc.mail.alerts.Alert(notify.RealServerAlertSubject(srv.name, svc.name, false), body)
	}
}

// goneQuorum is update_vs_notifies for a virtual server whose servers are
// gone: at stop (with omega) it says so whatever its quorum was; removed
// by a reload, it loses its quorum if it had it.
func (svc *service) goneQuorum(stopping bool) {
	threshold := svc.pool.Quorum - svc.pool.Hysteresis
	if stopping && !svc.omega || !stopping && !svc.pool.QuorumIsUp() {
		return
	}
	svc.notifier.Notify(notify.Event{What: "VS DOWN",
		Lines:   []string{fmt.Sprintf("VS %s DOWN\n\x00", svc.name)},
		Scripts: []notify.Script{svc.quorumDown}})
	if svc.mail.alerts == nil || !svc.mail.vs {
		return
	}
	subject, body := notify.VirtualServerAlert(svc.name, false, false, svc.pool.Quorum, svc.pool.Hysteresis, threshold, 0)
	if stopping {
		body = "=> Shutting down <="
	}
	svc.mail.alerts.Alert(subject, body)
}
