package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// keepalived's global_defs defaults (global_data.c alloc_global_data,
// set_vrrp_defaults), applied to keywords left unset.
const (
	defaultMcastGroup4        = "224.0.0.18"
	defaultMcastGroup6        = "ff02::12"
	defaultSMTPConnectTimeout = 30 // seconds
	defaultGarpRefreshRepeat  = 1
	defaultMaxAutoPriority    = 99 // sched_get_priority_max(SCHED_RR)
	defaultMinAutoPrioDelay   = 1000000
	defaultRxBufsMultiplier   = 3
	defaultRlimitRttime       = 10000 // RT_RLIMIT_DEFAULT, microseconds
	defaultStartStopTimeout   = 10    // seconds, once a startup/shutdown script is set
	processNameMax            = 15    // TASK_COMM_LEN - 1
	maxTimerSeconds           = 4294  // UINT_MAX / TIMER_HZ
)

// PosTimer is a Timer that keepalived reads as a decimal number of seconds
// that must be positive, reporting a bad value in its own words at parse
// time (vrrp_garp_interval, vrrp_gna_interval).
type PosTimer Timer

func (t PosTimer) Duration() time.Duration      { return time.Duration(t) }
func (t PosTimer) String() string               { return Timer(t).String() }
func (t PosTimer) MarshalText() ([]byte, error) { return Timer(t).MarshalText() }
func (t *PosTimer) parseKeyword(p *parser, l Line) bool {
	kw := l.Tokens[0].Text
	a, ok := p.needArg(l, l.Tokens[1:])
	if !ok {
		return false
	}
	secs, ok := gdReadDecimal(p, l, a, 0.000001, 4294.967295)
	if !ok {
		p.report(ExitConfigErrors, l, kw, "%s '%s' is invalid", kw, a)
		return false
	}
	*t = PosTimer(time.Duration(secs*1e6+0.5) * time.Microsecond)
	return true
}

// Nice is a process priority (vrrp_priority, checker_priority,
// bfd_priority): a nice value in [-20, 19].
type Nice int

func (n *Nice) parseKeyword(p *parser, l Line) bool {
	kw := l.Tokens[0].Text
	a, ok := p.needArg(l, l.Tokens[1:])
	if !ok {
		return false
	}
	x, ok := gdReadInt(p, l, a, -20, 19, false)
	if !ok {
		p.report(ExitConfigErrors, l, kw, "Invalid %s process priority specified", strings.TrimSuffix(kw, "_priority"))
		return false
	}
	*n = Nice(x)
	return true
}

// gdReadInt is keepalived's read_int/read_unsigned: it reports, in the
// number reader's words, a value that is not a number or out of range.
func gdReadInt(p *parser, l Line, s string, lo, hi int64, unsigned bool) (int64, bool) {
	n, ok := gdCheckInt(s, lo, hi, unsigned)
	if ok == "" {
		return n, true
	}
	p.report(ExitConfigErrors, l, l.Tokens[0].Text, "%s", ok)
	return 0, false
}

// gdCheckInt returns the value of s, or keepalived's number reader message.
func gdCheckInt(s string, lo, hi int64, unsigned bool) (int64, string) {
	if unsigned && strings.HasPrefix(s, "-") {
		return 0, fmt.Sprintf("negative number '%s'", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Sprintf("number '%s' outside integer range", s)
		}
		return 0, fmt.Sprintf("invalid number '%s'", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Sprintf("number '%s' outside range [%d, %d]", s, lo, hi)
	}
	return n, ""
}

// gdReadDecimal is keepalived's read_decimal_unsigned with 6 digits.
func gdReadDecimal(p *parser, l Line, s string, lo, hi float64) (float64, bool) {
	kw := l.Tokens[0].Text
	if strings.HasPrefix(s, "-") {
		p.report(ExitConfigErrors, l, kw, "negative number '%s'", s)
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.ContainsAny(s, "eExXpPnN_") {
		p.report(ExitConfigErrors, l, kw, "invalid number '%s'", s)
		return 0, false
	}
	if f < lo || f > hi {
		p.report(ExitConfigErrors, l, kw, "number '%s' outside range [%.6f, %.6f]", s, lo, hi)
		return 0, false
	}
	return f, true
}

// globalDefs applies keepalived's global_defs checks that need the whole
// block, and fills in keepalived's defaults. keepalived reports these in
// its first pass, once, as (Line N).
func (v *validator) globalDefs() {
	g := v.cfg.GlobalDefs
	if g == nil {
		g = &GlobalDefs{}
		v.cfg.GlobalDefs = g
	}
	v.gdProcessNames(g)
	v.gdSMTP(g)
	v.gdAutoPriority(g)
	v.gdStartStopScripts(g)
	v.gdVRRP(g)
	v.gdMcastGroups(g)
	v.gdUmask(g)
	v.gdIncludeCheck(g)
	v.gdScriptUser(g)
	v.gdLVS(g)
	if g.VRRPRxBufsMultiplier == 0 {
		g.VRRPRxBufsMultiplier = defaultRxBufsMultiplier
	}
	for _, r := range []*int{&g.VRRPRlimitRttime, &g.CheckerRlimitRttime, &g.BFDRlimitRttime} {
		if *r == 0 {
			*r = defaultRlimitRttime
		}
	}
}

// gdRange reports a number keyword outside [lo, hi] as keepalived does: the
// number reader's message, then msg (a format taking the value as written).
// It returns false if the value was bad.
func (v *validator) gdRange(g *GlobalDefs, kw string, val, lo, hi int, unsigned bool, msg string) bool {
	if !g.IsSet(kw) {
		return true
	}
	s := strconv.Itoa(val)
	if _, m := gdCheckInt(s, int64(lo), int64(hi), unsigned); m != "" {
		pos := g.PosOf(kw)
		v.at(pos, ExitConfigErrors, kw, "%s", m)
		if msg != "" {
			v.at(pos, ExitConfigErrors, kw, msg, s)
		}
		return false
	}
	return true
}

func (v *validator) gdProcessNames(g *GlobalDefs) {
	for kw, name := range map[string]*string{"process_name": &g.ProcessName, "vrrp_process_name": &g.VRRPProcessName,
		"checker_process_name": &g.CheckerProcessName, "bfd_process_name": &g.BFDProcessName} {
		if len(*name) > processNameMax {
			v.at(g.PosOf(kw), ExitConfigErrors, kw, "Process name %s more than %d characters, truncating", *name, processNameMax)
			*name = (*name)[:processNameMax]
		}
	}
}

func (v *validator) gdSMTP(g *GlobalDefs) {
	if g.IsSet("smtp_connect_timeout") {
		switch t := g.SMTPConnectTimeout; {
		case t < 0:
			v.gdRange(g, "smtp_connect_timeout", t, 0, maxTimerSeconds, true,
				"smtp_connect_timeout '%s' must be in [0, "+strconv.Itoa(maxTimerSeconds)+"] - ignoring")
			g.SMTPConnectTimeout = defaultSMTPConnectTimeout
		case t == 0:
			v.at(g.PosOf("smtp_connect_timeout"), ExitConfigErrors, "smtp_connect_timeout", "smtp_conect_timeout must be greater than 0, setting to 1")
			g.SMTPConnectTimeout = 1
		case t > maxTimerSeconds:
			v.gdRange(g, "smtp_connect_timeout", t, 0, maxTimerSeconds, true,
				"smtp_connect_timeout '%s' must be in [0, "+strconv.Itoa(maxTimerSeconds)+"] - ignoring")
			g.SMTPConnectTimeout = defaultSMTPConnectTimeout
		}
	} else {
		g.SMTPConnectTimeout = defaultSMTPConnectTimeout
	}
	if g.IsSet("smtp_server") && len(g.SMTPServer) > 0 {
		host, port := g.SMTPServer[0], "25"
		if len(g.SMTPServer) > 1 {
			port = g.SMTPServer[1]
		}
		if !gdValidSMTPServer(host, port) {
			v.at(g.PosOf("smtp_server"), ExitConfigErrors, "smtp_server", "Invalid smtp server %s %s", host, port)
		} else if _, err := netip.ParseAddr(host); err != nil {
			v.extra(g.PosOf("smtp_server"), "smtp_server", "keepalived resolves the name when it starts; make sure it resolves on this host",
				"smtp_server %s is a host name, not an address", host)
		}
	}
	if g.IsSet("notification_email") && len(g.NotificationEmail) == 0 {
		v.at(g.PosOf("notification_email"), ExitConfigErrors, "notification_email", "Warning - empty notification_email block")
	}
}

// gdValidSMTPServer: an IP address (keepalived's inet_stosockaddr, which
// also drops a "-range" or "/len" suffix), or else a name keepalived would
// try to resolve. A name of digits and dots is never a host name.
func gdValidSMTPServer(host, port string) bool {
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return false
	}
	if !strings.ContainsAny(host, "-/") {
		if _, err := netip.ParseAddr(host); err == nil {
			return true
		}
	}
	if strings.Trim(host, "0123456789.") == "" || strings.Contains(host, ":") {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

func (v *validator) gdAutoPriority(g *GlobalDefs) {
	if g.IsSet("max_auto_priority") && len(g.MaxAutoPriority) > 0 {
		s := g.MaxAutoPriority[0]
		if _, m := gdCheckInt(s, -1, defaultMaxAutoPriority, false); m != "" {
			pos := g.PosOf("max_auto_priority")
			v.at(pos, ExitConfigErrors, "max_auto_priority", "%s", m)
			v.at(pos, ExitConfigErrors, "max_auto_priority", "max_auto_priority '%s' must be in [0, %d] (or -1 to disable) - ignoring", s, defaultMaxAutoPriority)
			g.MaxAutoPriority = nil
		}
	}
	if !v.gdRange(g, "min_auto_priority_delay", g.MinAutoPriorityDelay, 1, 10000000, false, "min_auto_priority_delay '%s' must be in [1, 10000000] - ignoring") ||
		!g.IsSet("min_auto_priority_delay") {
		g.MinAutoPriorityDelay = defaultMinAutoPrioDelay
	}
}

func (v *validator) gdStartStopScripts(g *GlobalDefs) {
	for _, x := range []struct {
		kw      string
		timeout *int
		script  Script
	}{{"startup_script_timeout", &g.StartupScriptTimeout, g.StartupScript}, {"shutdown_script_timeout", &g.ShutdownScriptTimeout, g.ShutdownScript}} {
		if !v.gdRange(g, x.kw, *x.timeout, 1, 1000, true, x.kw+" '%s' must be in [1, 1000] - ignoring") {
			*x.timeout = 0
		}
		if *x.timeout == 0 && !x.script.IsZero() {
			*x.timeout = defaultStartStopTimeout
		}
	}
}

func (v *validator) gdVRRP(g *GlobalDefs) {
	v.garpExtraIf(&g.Block, &g.VRRPGarpExtraIf, "vrrp_garp_extra_if", "vrrp_vmac_garp_intvl", "vrrp_garp_extra_if", "", 1)
	if g.IsSet("vrrp_version") && g.VRRPVersion == 0 {
		// The number reader's message came from the parser (range tag).
		v.at(g.PosOf("vrrp_version"), ExitConfigErrors, "vrrp_version", "VRRP Error: Version must be either 2 or 3")
	}
	if g.VRRPVersion == 0 {
		g.VRRPVersion = defaultVRRPVersion
	}
	if !g.IsSet("vrrp_garp_master_delay") || !v.gdRange(g, "vrrp_garp_master_delay", g.VRRPGarpMasterDelay, 0, maxTimerSeconds, true, "vrrp_garp_master_delay '%s' invalid - ignoring") {
		g.VRRPGarpMasterDelay = defaultGarpDelay
	}
	for _, x := range []struct {
		kw  string
		val *int
		def int
	}{{"vrrp_garp_master_repeat", &g.VRRPGarpMasterRepeat, defaultGarpRepeat},
		{"vrrp_garp_master_refresh_repeat", &g.VRRPGarpMasterRefreshRepeat, defaultGarpRefreshRepeat}} {
		switch {
		case !g.IsSet(x.kw):
			*x.val = x.def
		case *x.val < 0:
			v.gdRange(g, x.kw, *x.val, 0, 1<<32-1, true, x.kw+" '%s' invalid - ignoring")
			*x.val = x.def
		case *x.val == 0:
			v.at(g.PosOf(x.kw), ExitConfigErrors, x.kw, "%s must be greater than 0, setting to 1", x.kw)
			*x.val = 1
		}
	}
	if !v.gdRange(g, "vrrp_garp_master_refresh", g.VRRPGarpMasterRefresh, 0, 1<<32-1, true, "Invalid vrrp_garp_master_refresh '%s' - ignoring") {
		g.VRRPGarpMasterRefresh = 0
	}
	if g.VRRPMinGarp {
		// One announcement, no repeat, no refresh, unless written.
		for _, x := range []struct {
			kw  string
			val *int
			to  int
		}{{"vrrp_garp_master_repeat", &g.VRRPGarpMasterRepeat, 1}, {"vrrp_garp_master_delay", &g.VRRPGarpMasterDelay, 0},
			{"vrrp_garp_master_refresh", &g.VRRPGarpMasterRefresh, 0}, {"vrrp_garp_master_refresh_repeat", &g.VRRPGarpMasterRefreshRepeat, 0}} {
			if !g.IsSet(x.kw) {
				*x.val = x.to
			}
		}
	}
	// Unset (or ignored), the lower-priority answer is the master's
	// schedule: vrrp_garp_master_repeat and _delay, after vrrp_min_garp
	// (keepalived's vrrp_complete_init).
	if !g.IsSet("vrrp_garp_lower_prio_delay") || !v.gdRange(g, "vrrp_garp_lower_prio_delay", g.VRRPGarpLowerPrioDelay, 0, maxTimerSeconds, true, "vrrp_garp_lower_prio_delay '%s' invalid - ignoring") {
		g.VRRPGarpLowerPrioDelay = g.VRRPGarpMasterDelay
	}
	if !g.IsSet("vrrp_garp_lower_prio_repeat") || !v.gdRange(g, "vrrp_garp_lower_prio_repeat", g.VRRPGarpLowerPrioRepeat, 0, 1<<31-1, true, "Invalid vrrp_garp_lower_prio_repeat '%s'") {
		g.VRRPGarpLowerPrioRepeat = g.VRRPGarpMasterRepeat
	}
	if !g.IsSet("vrrp_down_timer_adverts") || !v.gdRange(g, "vrrp_down_timer_adverts", g.VRRPDownTimerAdverts, 1, 100, true, "Invalid vrrp_down_timer_adverts [1:100] '%s'") {
		g.VRRPDownTimerAdverts = defaultDownTimerAdvs
	}
	if g.IsSet("vrrp_startup_delay") && g.VRRPStartupDelay < Timer(time.Millisecond) {
		pos := g.PosOf("vrrp_startup_delay")
		v.at(pos, ExitConfigErrors, "vrrp_startup_delay", "number '%s' outside range [0.001000, 4294.967295]", g.VRRPStartupDelay)
		v.at(pos, ExitConfigErrors, "vrrp_startup_delay", "vrrp_startup_delay '%s' is invalid", g.VRRPStartupDelay)
		g.VRRPStartupDelay = 0
	}
	if g.IsSet("dynamic_interfaces") && len(g.DynamicInterfaces) > 0 && g.DynamicInterfaces[0] != "allow_if_changes" {
		v.at(g.PosOf("dynamic_interfaces"), ExitConfigErrors, "dynamic_interfaces", "Unknown dynamic_interfaces option '%s'", g.DynamicInterfaces[0])
	}
}

func (v *validator) gdMcastGroups(g *GlobalDefs) {
	if g.VRRPMcastGroup4 != "" {
		s := g.VRRPMcastGroup4
		addr, ok := gdInetAddr(s)
		msg := ""
		switch {
		case strings.Contains(s, ":"):
			if ok {
				msg = "vrrp_mcast_group4 [%s] is not IPv4. Skipping"
			} else {
				msg = "Can't parse vrrp_mcast_group4 [%s]. Skipping"
			}
		case !ok:
			msg = "Can't parse vrrp_mcast_group4 [%s]. Skipping"
		case !addr.IsMulticast():
			msg = "vrrp_mcast_group4 [%s] is not multicast. Skipping"
		}
		if msg != "" {
			v.at(g.PosOf("vrrp_mcast_group4"), ExitConfigErrors, "vrrp_mcast_group4", msg, s)
			g.VRRPMcastGroup4 = ""
		} else {
			g.VRRPMcastGroup4 = addr.String()
		}
	}
	if g.VRRPMcastGroup4 == "" {
		g.VRRPMcastGroup4 = defaultMcastGroup4
	}
	if g.VRRPMcastGroup6 != "" {
		s := g.VRRPMcastGroup6
		addr, ok := gdInetAddr(s)
		msg := ""
		switch {
		case !strings.Contains(s, ":"):
			if ok {
				msg = "vrrp_mcast_group6 [%s] is not IPv6. Skipping"
			} else {
				msg = "Can't parse vrrp_mcast_group6 [%s]. Skipping"
			}
		case !ok:
			msg = "Can't parse vrrp_mcast_group6 [%s]. Skipping"
		case !addr.IsMulticast():
			msg = "vrrp_mcast_group6 [%s] is not multicast. Skipping"
		}
		if msg != "" {
			v.at(g.PosOf("vrrp_mcast_group6"), ExitConfigErrors, "vrrp_mcast_group6", msg, s)
			g.VRRPMcastGroup6 = ""
		} else {
			if !addr.IsLinkLocalMulticast() {
				v.at(g.PosOf("vrrp_mcast_group6"), ExitConfigErrors, "vrrp_mcast_group6", "vrrp_mcast_group6 [%s] should be link-local multicast.", s)
			}
			g.VRRPMcastGroup6 = addr.String()
		}
	}
	if g.VRRPMcastGroup6 == "" {
		g.VRRPMcastGroup6 = defaultMcastGroup6
	}
}

// gdInetAddr parses an address as keepalived's inet_stosockaddr: the family
// is IPv6 if there is a ':', and a "-range" or "/len" suffix is ignored.
func gdInetAddr(s string) (netip.Addr, bool) {
	if i := strings.IndexAny(s, "-/"); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || (a.Is6() != strings.Contains(s, ":")) {
		return netip.Addr{}, false
	}
	return a, true
}

// gdUmask checks umask as keepalived's umask_handler: an octal (or C
// style) number of permission bits, or IRUSR|IWUSR|... names.
func (v *validator) gdUmask(g *GlobalDefs) {
	if !g.IsSet("umask") || len(g.Umask) == 0 {
		return
	}
	pos := g.PosOf("umask")
	mask := g.Umask[0]
	if mask[0] >= '0' && mask[0] <= '9' {
		if len(g.Umask) != 1 {
			v.at(pos, ExitConfigErrors, "umask", "Extra parameter(s) to umask option")
			return
		}
		n, err := strconv.ParseInt(mask, 0, 64)
		if err != nil || n < 0 || n&^0o777 != 0 {
			v.at(pos, ExitConfigErrors, "umask", "invalid umask value %s", mask)
			v.extra(pos, "umask", "write the mask in octal with a leading 0, e.g. 0022", "umask %s is not a mask of permission bits", mask)
		}
		return
	}
	bits := map[string]bool{"IRUSR": true, "IWUSR": true, "IXUSR": true, "IRGRP": true, "IWGRP": true, "IXGRP": true,
		"IROTH": true, "IWOTH": true, "IXOTH": true}
	needOr := false
	for _, w := range g.Umask {
		for p := w; p != ""; {
			if needOr {
				if p[0] != '|' {
					v.at(pos, ExitConfigErrors, "umask", "Invalid umask syntax %s", w)
					return
				}
				needOr = false
				p = p[1:]
				continue
			}
			if len(p) < 5 || !bits[p[:5]] {
				v.at(pos, ExitConfigErrors, "umask", "Unknown umask bit %s", p)
				return
			}
			p = p[5:]
			needOr = true
		}
	}
	if !needOr {
		v.at(pos, ExitConfigErrors, "umask", "umask missing bit value")
	}
}

// gdIncludeCheck checks include_check's words as keepalived's
// include_check_set.
func (v *validator) gdIncludeCheck(g *GlobalDefs) {
	if !g.IsSet("include_check") {
		return
	}
	pos := g.PosOf("include_check")
	for i, w := range g.IncludeCheck {
		word := w
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "+") {
			word = w[1:]
		} else if i > 0 {
			v.at(pos, ExitConfigErrors, "include_check", "Duplicate include_check '%s' specified - ignoring", w)
			continue
		}
		switch word {
		case "read", "match", "wildcard_match", "brace_match":
		default:
			v.at(pos, ExitConfigErrors, "include_check", "Unknown include_check type '%s' - ignoring", word)
			if s := closest(word, []string{"read", "match", "wildcard_match", "brace_match"}); s != "" {
				v.extra(pos, "include_check", "did you mean '"+s+"'?", "'%s' is not an include_check type", word)
			}
		}
	}
}

// gdScriptUser checks script_user: keepalived looks the user (and group) up
// in the parent's first pass.
func (v *validator) gdScriptUser(g *GlobalDefs) {
	if !g.IsSet("script_user") || len(g.ScriptUser) == 0 {
		return
	}
	if !v.opts.UserExists(g.ScriptUser[0]) {
		pos := g.PosOf("script_user")
		v.at(pos, ExitConfigErrors, "script_user", "Error setting global script uid/gid")
		v.extra(pos, "script_user", "create the user, or name an existing one; scripts that use the default user are then removed",
			"script user '%s' does not exist", g.ScriptUser[0])
	}
}
