package api

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// keepalived.data is keepalived's data dump (SIGUSR1). In keepalived
// 2.2.7 each process writes its own file in $TMPDIR, truncating it
// (open_dump_file in core/global_data.c opens it "w"): the VRRP process
// keepalived.data (vrrp_print.c vrrp_print_data: dump_data_vrrp, that is
// the global definitions, then vrrp_data.c dump_vrrp_data), the checker
// process keepalived_check.data (check_data.c check_print_data: the global
// definitions, then dump_check_data), and the parent
// keepalived_parent.data (main.c print_parent_data: the global
// definitions only). keepalived-go writes the same files in the same
// layouts, so that the tools that read them (mehdy/keepalived-exporter
// without --ka.json, ncollectd's keepalived plugin, scripts grepping
// "State = MASTER") work unchanged.
//
// What is written, checked against keepalived 2.2.7's dump of the same
// configuration (test/kadata_test.go): every line the tools read (each
// instance's name, state, wantstate, interface, VRID, priorities, the
// gratuitous ARP settings, its VIPs and excluded VIPs) is keepalived's,
// in its order. Deliberate differences:
//   - The global definitions are a short subset (namespace, router ID):
//     keepalived prints some 80 lines of settings, most of which
//     keepalived-go has no counterpart for.
//   - A backup does not print "Master router", "Master priority" and
//     "Master advert int": keepalived-go does not keep the master's
//     address and priority.
//   - "Read timeout" is estimated (the next advert for a master, the
//     master-down time for a backup), not read from the timer.
//   - fd_in/fd_out are not printed (keepalived prints its socket
//     descriptors; ours are not shared per interface), nor the "VRRP
//     Sockpool" and "Interfaces" sections, virtual routes and rules,
//     tracked interfaces and files.
//   - In "VRRP Scripts", Insecure, Init state and State are always "no",
//     "unknown" and "idle", and Result is rise or 0.
//   - The checker's file prints, for each virtual server, its address
//     line, protocol, sorry server, alive and quorum state, and for each
//     real server its address line with weights, its state and its count
//     of failed checkers, each as keepalived's line in its order (checked
//     against keepalived 2.2.7 in the QEMU guest, which has IPVS:
//     test/qemu/kadata_guest_test.go); the virtual server groups, the
//     configuration lines (scheduler, timeouts, forwarding method, ...)
//     and the checkers queue are left out.

// DataGlobals is what the global definitions of keepalived's data files
// show.
type DataGlobals struct {
	RouterID string // router_id, else the host name
	// Namespace is net_namespace, "" for the default one.
	Namespace string
}

func writeGlobals(b *strings.Builder, g DataGlobals) {
	line(b, "------< Global definitions >------")
	ns := g.Namespace
	if ns == "" {
		ns = "(default)"
	}
	line(b, " Network namespace = %s", ns)
	line(b, " Network namespace ipvs = (main namespace)")
	if g.RouterID != "" {
		line(b, " Router ID = %s", g.RouterID)
	}
}

func line(b *strings.Builder, format string, args ...any) {
	fmt.Fprintf(b, format, args...)
	b.WriteByte('\n')
}

// WriteKeepalivedParentData writes keepalived_parent.data: the global
// definitions (main.c print_parent_data).
func WriteKeepalivedParentData(w io.Writer, g DataGlobals) error {
	var b strings.Builder
	writeGlobals(&b, g)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteKeepalivedData writes keepalived.data for the instances of src
// (vrrp_print.c vrrp_print_data); extra gives each instance's
// KeepalivedExtra by name (nil: defaults). now stamps the estimated
// timers.
func WriteKeepalivedData(w io.Writer, src Source, extra func(name string) KeepalivedExtra, scripts []DataScript, g DataGlobals, now time.Time) error {
	var b strings.Builder
	writeGlobals(&b, g)
	sts := statuses(src)
	if len(sts) > 0 {
		// vrrp_data.c dump_vrrp_data: the topology only when there are
		// instances.
		line(&b, "------< VRRP Topology >------")
	}
	for i := range sts {
		var x KeepalivedExtra
		if extra != nil {
			x = extra(sts[i].Name)
		}
		dumpVRRP(&b, &sts[i], &x, now)
	}
	dumpScripts(&b, scripts)
	_, err := io.WriteString(w, b.String())
	return err
}

// stateName is vrrp.c get_state_str.
func stateName(s vrrp.State) string {
	switch s {
	case vrrp.Backup:
		return "BACKUP"
	case vrrp.Master:
		return "MASTER"
	case vrrp.Fault:
		return "FAULT"
	case vrrp.Stop:
		return "STOP"
	}
	return "INIT"
}

// timeval prints a time as keepalived's "%ld.%6.6ld (%s)" with
// ctime_us_r ("Sat Dec  5 18:31:41.019714 2026"), in local time.
func timeval(t time.Time) string {
	if t.IsZero() {
		return "0.000000 (Thu Jan  1 00:00:00.000000 1970)"
	}
	us := t.Nanosecond() / 1000
	return fmt.Sprintf("%d.%06d (%s.%06d %s)", t.Unix(), us, t.Format("Mon Jan _2 15:04:05"), us, t.Format("2006"))
}

// downTimer is the master-down interval in microseconds, as vrrp.c
// vrrp_init_instance_sands computes ms_down_timer: three of the
// master's adverts plus the skew, (256 - priority) / 256 of one.
func downTimer(st *vrrp.InstanceStatus) int64 {
	adv := st.MasterAdverInt
	if adv == 0 {
		adv = st.AdvertInt
	}
	us := adv.Microseconds()
	return 3*us + int64(256-st.Priority)*us/256
}

// dumpVRRP is vrrp_data.c dump_vrrp for one instance.
func dumpVRRP(b *strings.Builder, st *vrrp.InstanceStatus, x *KeepalivedExtra, now time.Time) {
	v6 := isIPv6(st)
	line(b, " VRRP Instance = %s", st.Name)
	line(b, "   VRRP Version = %d", st.Version)
	if x.SyncGroup != "" {
		line(b, "   Sync group = %s", x.SyncGroup)
	}
	if v6 {
		line(b, "   Using Native IPv6")
	}
	line(b, "   State = %s", stateName(st.State))
	if len(x.UnicastPeers) > 0 {
		line(b, "   Flags:")
		line(b, "     Using unicast")
	} else {
		line(b, "   Flags: none")
	}
	line(b, "   Wantstate = %s", stateName(st.State))
	line(b, "   Number of config faults = 0")
	faults := 0
	if st.State == vrrp.Fault {
		faults = 1
	}
	line(b, "   Number of interface and track script faults = %d", faults)
	line(b, "   Number of track scripts init = 0")
	line(b, "   Last transition = %s", timeval(st.LastTransition))
	down := downTimer(st)
	switch st.State {
	case vrrp.Master:
		line(b, "   Read timeout = %s", timeval(now.Add(st.AdvertInt)))
	case vrrp.Backup:
		line(b, "   Read timeout = %s", timeval(now.Add(time.Duration(down)*time.Microsecond)))
	default:
		line(b, "   Read timeout = DISABLED")
	}
	line(b, "   Master down timer = %d usecs", down)
	if x.UseVMAC {
		line(b, "   Use VMAC, i/f name %s, is_up = true, xmit_base = false", st.Interface)
		line(b, "   Interface = %s, vmac on %s", st.Interface, x.Parent)
	} else {
		line(b, "   Interface = %s", st.Interface)
	}
	if x.UseVMAC && x.Parent != "" && x.Parent != st.Interface {
		line(b, "   Configured interface = %s", x.Parent)
	}
	if x.DontTrackPrimary {
		line(b, "   VRRP interface tracking disabled")
	}
	if x.SkipCheckAdvAddr {
		line(b, "   Skip checking advert IP addresses")
	}
	if x.StrictMode {
		line(b, "   Enforcing strict VRRP compliance")
	}
	src, fromConfig := x.SourceIP, x.SourceIP != ""
	if src == "" {
		src = interfaceAddress(st.Interface, v6)
	}
	suffix := ""
	if fromConfig {
		suffix = " (from configuration)"
	}
	line(b, "   Using src_ip = %s%s", src, suffix)
	if len(x.UnicastPeers) == 0 {
		if v6 {
			idx := 0
			if ifi, err := net.InterfaceByName(st.Interface); err == nil {
				idx = ifi.Index
			}
			line(b, "   Multicast address ff02::12, ifindex %d", idx)
		} else {
			line(b, "   Multicast address 224.0.0.18")
		}
	}
	var d kaData
	garp(&d, st)
	line(b, "   Gratuitous ARP delay = %d", int64(st.Announce.Delay/time.Second))
	line(b, "   Gratuitous ARP repeat = %d", d.GarpRep)
	line(b, "   Gratuitous ARP refresh = %d", d.GarpRefresh)
	line(b, "   Gratuitous ARP refresh repeat = %d", d.GarpRefreshRep)
	line(b, "   Gratuitous ARP lower priority delay = %d", d.GarpLowerPrioDelay)
	line(b, "   Gratuitous ARP lower priority repeat = %d", d.GarpLowerPrioRep)
	line(b, "   Down timer adverts = 3")
	line(b, "   Send advert after receive lower priority advert = %t", !st.LowerPrioNoAdvert)
	line(b, "   Send advert after receive higher priority advert = %t", st.HigherPrioSendAdvert)
	line(b, "   Virtual Router ID = %d", st.VRID)
	line(b, "   Priority = %d", st.BasePriority)
	line(b, "   Effective priority = %d", st.Priority)
	line(b, "   Total priority = %d", st.Priority)
	if st.Version == 2 {
		line(b, "   Advert interval = %d sec", int64(st.AdvertInt/time.Second))
	} else {
		line(b, "   Advert interval = %d milli-sec", st.AdvertInt.Milliseconds())
	}
	if st.State == vrrp.Backup && st.Version == 3 {
		line(b, "   Master advert interval = %d milli-sec", st.MasterAdverInt.Milliseconds())
	}
	line(b, "   Accept = %s", enabled(!x.NoAccept))
	line(b, "   Preempt = %s", enabled(st.Preempt))
	if st.PreemptDelay > 0 {
		line(b, "   Preempt delay = %s secs", fmt.Sprintf("%g", st.PreemptDelay.Seconds()))
	}
	line(b, "   Promote_secondaries = %s", enabled(x.PromoteSecondaries))
	switch {
	case st.AuthType == vrrp.AuthAH:
		// vrrp_data.c dump_vrrp: no password for AH.
		line(b, "   Authentication type = IPSEC_AH")
	case st.AuthType != vrrp.AuthNone:
		line(b, "   Authentication type = SIMPLE_PASSWORD")
		line(b, "   Password = %s", x.AuthPass)
	case st.Version == 2:
		line(b, "   Authentication type = none")
	}
	set := st.State == vrrp.Master
	if len(st.VIPs) > 0 {
		line(b, "   Virtual IP (%d):", len(st.VIPs))
		for _, v := range st.VIPs {
			line(b, "     %s", kaVIP(v, st, x, set))
		}
	}
	if len(st.Excluded) > 0 {
		line(b, "   Virtual IP Excluded :")
		for _, v := range st.Excluded {
			line(b, "     %s", kaVIP(v, st, x, set))
		}
	}
	if len(x.UnicastPeers) > 0 {
		line(b, "   Check unicast src : %s", yesNo(x.CheckUnicastSrc))
		line(b, "   Unicast Peer :")
		for _, p := range x.UnicastPeers {
			line(b, "     %s", p)
		}
	}
	if len(x.TrackScriptWeights) > 0 {
		line(b, "   Tracked scripts :")
		for _, t := range x.TrackScriptWeights {
			line(b, "     %s", t)
		}
	}
	line(b, "   Using smtp notification = %s", yesNo(x.SMTPAlert))
	notifyDeleted := "Fault"
	if x.NotifyDeleted {
		notifyDeleted = "Deleted"
	}
	line(b, "   Notify deleted = %s", notifyDeleted)
	for _, s := range []struct{ name, cmd string }{
		{"Backup state transition script", x.ScriptBackup},
		{"Master state transition script", x.ScriptMaster},
		{"Fault state transition script", x.ScriptFault},
		{"Stop state transition script", x.ScriptStop},
		{"Deleted state transition script", x.ScriptDeleted},
		{"Generic state transition script", x.Script},
		{"Master receive lower priority script", x.ScriptMasterRxLowerPri},
	} {
		if s.cmd != "" {
			line(b, "   %s = %s, uid:gid %s", s.name, s.cmd, x.ScriptUIDGID)
		}
	}
	line(b, "   Notify priority changes = false")
}

func isIPv6(st *vrrp.InstanceStatus) bool {
	if len(st.VIPs) > 0 {
		return st.VIPs[0].Prefix.Addr().Is6()
	}
	return false
}

// interfaceAddress is the address keepalived takes as an instance's
// source: the interface's first IPv4 address, or its IPv6 link-local one.
func interfaceAddress(name string, v6 bool) string {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return "(none)"
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return "(none)"
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if (!v6 && ip.Is4()) || (v6 && ip.Is6() && ip.IsLinkLocalUnicast()) {
			return ip.String()
		}
	}
	return "(none)"
}

func enabled(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WriteKeepalivedCheckData writes keepalived_check.data for the virtual
// servers' pools (check_data.c check_print_data: the global definitions,
// then dump_check_data's "LVS Topology" with dump_vs and dump_rs).
func WriteKeepalivedCheckData(w io.Writer, pools []lvs.PoolStatus, g DataGlobals) error {
	var b strings.Builder
	writeGlobals(&b, g)
	if len(pools) > 0 {
		line(&b, "------< LVS Topology >------")
		line(&b, " System is compiled with LVS v1.2.1")
	}
	for _, p := range pools {
		dumpVS(&b, &p)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// trioParts splits a name such as "[10.0.0.1]:tcp:80" (keepalived's
// inet_sockaddrtotrio) into address, protocol and port.
func trioParts(name string) (addr, proto, port string, ok bool) {
	if !strings.HasPrefix(name, "[") {
		return "", "", "", false
	}
	end := strings.Index(name, "]:")
	if end < 0 {
		return "", "", "", false
	}
	addr = name[1:end]
	rest := strings.SplitN(name[end+2:], ":", 2)
	if len(rest) != 2 {
		return "", "", "", false
	}
	return addr, rest[0], rest[1], true
}

// dumpVS is check_data.c dump_vs, as far as a pool's status shows it.
func dumpVS(b *strings.Builder, p *lvs.PoolStatus) {
	line(b, " ------< Virtual server >------")
	addr, proto, port, ok := trioParts(p.Name)
	isAddr := false
	if ok {
		_, err := netip.ParseAddr(addr)
		isAddr = err == nil
	}
	switch {
	case strings.HasPrefix(p.Name, "FWM "):
		line(b, " VS FWMARK = %s", strings.TrimPrefix(p.Name, "FWM "))
	case isAddr:
		line(b, " VS VIP = %s, VPORT = %s", addr, port)
		if a, err := netip.ParseAddr(addr); err == nil && a.Is6() {
			line(b, "   Address family = inet6")
		} else {
			line(b, "   Address family = inet")
		}
	default:
		line(b, " VS GROUP = %s", p.Name)
	}
	if ok {
		switch proto {
		case "tcp", "udp", "sctp":
			line(b, "   protocol = %s", strings.ToUpper(proto))
		}
	}
	if p.Sorry != nil {
		line(b, "   sorry server = %s", p.Sorry.Name)
	}
	// vs->alive: the service is set in the kernel, which it is while the
	// checks run, whatever its quorum.
	line(b, "   alive = 1")
	line(b, "   quorum_state_up = %d", b2i(p.QuorumUp))
	for _, s := range p.Servers {
		dumpRS(b, &s)
	}
}

// dumpRS is check_data.c dump_rs, as far as a server's status shows it.
// The weight in the pool is the configured one while the server is alive
// (keepalived's effective weight), 0 while it is out.
func dumpRS(b *strings.Builder, s *lvs.ServerStatus) {
	line(b, "   ------< Real server >------")
	addr, _, port, ok := trioParts(s.Name)
	if !ok {
		addr, port = s.Name, "0"
	}
	if s.KeepalivedPort != "" {
		port = s.KeepalivedPort
	}
	line(b, "   RIP = %s, RPORT = %s, WEIGHT = %d EFF WEIGHT = %d", addr, port, s.Weight, s.Weight)
	line(b, "   initial weight = %d", s.Weight)
	line(b, "   effective weight = %d", s.Weight)
	line(b, "   alive = %d", b2i(s.Alive))
	line(b, "   num failed checkers = %d", s.FailedCheckers)
}

// DataScript is a vrrp_script as keepalived.data's "VRRP Scripts"
// section shows it (vrrp_data.c dump_vscript).
type DataScript struct {
	Name, Command     string // Command as ScriptString prints it
	Interval, Timeout time.Duration
	Weight            int
	Reverse           bool
	Rise, Fall        int
	Good              bool
	UIDGID            string   // "uid:gid"
	Tracking          []string // "INSTANCE, weight W", as dump_tracking_vrrp
}

// dumpScripts is dump_vscript_list. A good script's result is its rise
// (keepalived counts up to it), a bad one's 0.
func dumpScripts(b *strings.Builder, scripts []DataScript) {
	if len(scripts) == 0 {
		return
	}
	line(b, "------< VRRP Scripts >------")
	for _, s := range scripts {
		line(b, " VRRP Script = %s", s.Name)
		line(b, "   Command = %s", s.Command)
		line(b, "   Interval = %d sec", int64(s.Interval/time.Second))
		line(b, "   Timeout = %d sec", int64(s.Timeout/time.Second))
		rev := ""
		if s.Reverse {
			rev = " reverse"
		}
		line(b, "   Weight = %d%s", s.Weight, rev)
		line(b, "   Rise = %d", s.Rise)
		line(b, "   Fall = %d", s.Fall)
		result, status := 0, "BAD"
		if s.Good {
			result, status = s.Rise, "GOOD"
		}
		line(b, "   Result = %d", result)
		line(b, "   Insecure = no")
		line(b, "   Init state = unknown")
		line(b, "   Status = %s", status)
		line(b, "   Script uid:gid = %s", s.UIDGID)
		line(b, "   VRRP instances :")
		line(b, "   Tracking instances :")
		for _, t := range s.Tracking {
			line(b, "     %s", t)
		}
		line(b, "   State = idle")
	}
}
