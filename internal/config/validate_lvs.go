package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The checker area: virtual_server, its real servers and their checkers, as
// keepalived 2.2.7's checker child reads them (check_parser.c, check_*.c)
// and then validates them (check_data.c: validate_check_config). Findings of
// the reading cite the keyword's line; those of the validation have no line.
// keepalived's defaults are filled into the model for what the user left
// unset.

const ipvsWeightLimit = 2147483647

// lvsState is what keepalived knows of one virtual server while reading it.
type lvsState struct {
	vs       *VirtualServer
	fwmark   bool
	group    *VirtualServerGroup // nil for an undefined group or no group
	groupRef bool                // `virtual_server group NAME`
	addr     netip.AddrPort      // address virtual servers
	af       int                 // 0 unknown, 4, 6
	proto    string              // "" unset, else tcp/udp/sctp
	sched    string              // "" unset
	method   string              // "" unset
	persist  bool
	weight   int
	ss       *lvsServer // sorry server
	rs       []*lvsServer
	flags    uint32 // IPVS service flags but ops (lbflags_handler)
	tun      Tunnel // lb_kind's tunnel options
	// granularity is persistence_granularity as IPVS takes it, if granSet.
	granularity uint32
	granSet     bool
}

// lvsServer is a real or sorry server that survived reading.
type lvsServer struct {
	rs       *RealServer // nil for the sorry server
	addr     netip.AddrPort
	method   string
	tun      Tunnel // its lvs_method's tunnel options (tunSet), else the virtual server's
	tunSet   bool
	weight   int
	checkers []*Checker // the checkers keepalived keeps

	uthreshold, lthreshold uint32
}

func famOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

func (s *lvsState) protoName() string {
	if s.proto == "" {
		return "none"
	}
	return s.proto
}

// name is keepalived's FMT_VS.
func (s *lvsState) name() string {
	switch {
	case s.groupRef:
		return fmt.Sprintf("[%s]:0", s.vs.Args[1])
	case s.fwmark:
		return "FWM " + s.vs.Args[1]
	}
	return s.trio(s.addr)
}

// trio is inet_sockaddrtotrio: [addr]:proto:port.
func (s *lvsState) trio(ap netip.AddrPort) string {
	return fmt.Sprintf("[%s]:%s:%d", ap.Addr(), s.protoName(), ap.Port())
}

func (v *validator) virtualServers() {
	groups := map[string]*VirtualServerGroup{}
	for _, g := range v.cfg.VirtualServerGroups {
		if n := firstArg(g.Args); n != "" {
			groups[n] = g
		}
	}
	for _, vs := range v.cfg.VirtualServers {
		v.virtualServer(vs, groups)
	}
}

func (v *validator) virtualServer(vs *VirtualServer, groups map[string]*VirtualServerGroup) {
	s := &lvsState{vs: vs, weight: 1, rs: make([]*lvsServer, 0, len(vs.RealServers))}
	v.servers = v.servers[:0] // the previous virtual server's are done with
	if !v.vsAddress(s) {
		vs.Resolved = &VirtualServerSpec{Dropped: "invalid address"}
		return // keepalived skips the whole block
	}
	dropped := ""
	defer func() { vs.Resolved = s.resolved(dropped, &v.specs) }()
	v.vsKeywords(s)
	for _, rs := range vs.RealServers {
		v.realServer(s, rs)
	}
	v.vsDefaults(s)
	if s.groupRef {
		s.group = groups[vs.Args[1]]
		if s.group == nil {
			// keepalived drops a virtual server of an undefined group
			// without a word.
			v.extra(vs.Pos, "virtual_server", "define it with virtual_server_group "+vs.Args[1]+" { ... }",
				"virtual server group %s is not defined: this virtual server is ignored", vs.Args[1])
			dropped = "undefined group"
			return
		}
		if !v.vsGroupFamily(s) {
			dropped = "group family mismatch"
			return
		}
	}
	if !v.vsEnd(s) {
		dropped = "no real servers"
	}
}

// vsGroupFamily is link_vsg_to_vs (check/ipwrapper.c): the families of the
// group's entries must agree with the virtual server's (that of its real
// and sorry servers), else keepalived drops the virtual server, only
// logging it. It reports whether the virtual server is kept.
func (v *validator) vsGroupFamily(s *lvsState) bool {
	have4, have6 := false, false
	for _, e := range s.group.Entries {
		switch {
		case e.Start.IsValid():
			have4, have6 = have4 || e.Start.Is4(), have6 || e.Start.Is6()
		case e.Family == "inet":
			have4 = true
		case e.Family == "inet6":
			have6 = true
		}
	}
	drop := func() bool {
		v.extra(s.vs.Pos, "virtual_server", "keepalived only logs this; use a group of one address family, or tunnelled real servers",
			"the address families of virtual server group %s do not match its real servers: this virtual server is ignored", s.vs.Args[1])
		return false
	}
	switch {
	case have4 && have6 && s.af != 0:
		return drop()
	case (have4 && s.af == 6) || (have6 && s.af == 4):
		return drop()
	case have4 != have6 && s.af == 0:
		s.af = 4
		if have6 {
			s.af = 6
		}
	}
	return true
}

// vsAddress reads `virtual_server IP [PORT] | fwmark N | group NAME`.
func (v *validator) vsAddress(s *lvsState) bool {
	vs := s.vs
	args := vs.Args
	if len(args) == 0 {
		v.at(vs.Pos, ExitConfigErrors, "virtual_server", "virtual_server needs an address, fwmark or group")
		return false
	}
	switch args[0] {
	case "group":
		if len(args) < 2 {
			v.at(vs.Pos, ExitConfigErrors, "virtual_server", "virtual_server group needs a group name")
			return false
		}
		s.groupRef = true
		return true
	case "fwmark":
		val := ""
		if len(args) > 1 {
			val = args[1]
		}
		if _, msg := kaUnsigned(val, 0, maxUint32); msg != "" || len(args) < 2 {
			if msg != "" {
				v.at(vs.Pos, ExitConfigErrors, "virtual_server", "%s", msg)
			}
			v.at(vs.Pos, ExitConfigErrors, "virtual_server", "virtual server fwmark '%s' must be in [0, %d] - ignoring", val, uint64(maxUint32))
			return false
		}
		s.fwmark = true
		return true
	}
	port := ""
	if len(args) > 1 {
		port = args[1]
	}
	ap, msg, ok := kaAddrPort(args[0], port)
	if !ok {
		if msg != "" {
			v.at(vs.Pos, ExitConfigErrors, "virtual_server", "%s", msg)
		}
		if strings.Trim(port, "0") != "" {
			v.at(vs.Pos, ExitConfigErrors, "virtual_server", "Invalid virtual server IP address/port %s/%s - skipping", args[0], port)
		} else {
			v.at(vs.Pos, ExitConfigErrors, "virtual_server", "Invalid virtual server IP address %s - skipping", args[0])
		}
		return false
	}
	s.addr = ap
	s.af = famOf(ap.Addr())
	return true
}

// vsKeywords checks the virtual server's own keywords as keepalived's
// handlers do when reading them.
func (v *validator) vsKeywords(s *lvsState) {
	vs := s.vs
	bad := func(kw, format string, args ...any) { v.at(vs.PosOf(kw), ExitConfigErrors, kw, format, args...) }
	reader := func(kw, msg string) {
		if msg != "" {
			bad(kw, "%s", msg)
		}
	}

	if vs.IsSet("ip_family") {
		af := 0
		switch vs.IPFamily {
		case "inet":
			af = 4
		case "inet6":
			af = 6
		default:
			bad("ip_family", "unknown address family %s", vs.IPFamily)
		}
		if af != 0 {
			if s.af != 0 && s.af != af {
				bad("ip_family", "Virtual server specified family %s conflicts with server family", vs.IPFamily)
			} else {
				s.af = af
			}
		}
	}
	if vs.IsSet("retry") {
		if msg := intRange(vs.Retry, 1, maxUint32); msg != "" {
			reader("retry", msg)
			bad("retry", "retry value invalid - %d", vs.Retry)
		}
	}
	if vs.IsSet("connect_timeout") {
		if msg := timerRange(vs.ConnectTimeout, 0.000001, 4294.967295, "4294.967295"); msg != "" {
			reader("connect_timeout", msg)
			bad("connect_timeout", "virtual server connect_timeout %s invalid - ignoring", vs.ConnectTimeout)
		}
	}
	if vs.IsSet("delay_loop") {
		if msg := timerRange(vs.DelayLoop, 0.000001, 0, "18446744073709.551614"); msg != "" {
			reader("delay_loop", msg)
			bad("delay_loop", "virtual server delay loop '%s' invalid - ignoring", vs.DelayLoop)
		}
	}
	if vs.IsSet("lb_algo") {
		if lvsSchedulers[vs.LBAlgo] {
			s.sched = vs.LBAlgo
		} else {
			bad("lb_algo", "Invalid lvs_scheduler '%s' - ignoring", vs.LBAlgo)
			if c := closest(vs.LBAlgo, mapKeys(lvsSchedulers)); c != "" {
				v.extra(vs.PosOf("lb_algo"), "lb_algo", "did you mean '"+c+"'?", "'%s' is not a scheduler", vs.LBAlgo)
			}
		}
	}
	// The scheduler flags are checked against the scheduler known when
	// they are read: lb_algo must come first.
	for _, flag := range []string{"hashed", "sh-port", "sh-fallback", "mh-port", "mh-fallback"} {
		if !vs.IsSet(flag) {
			continue
		}
		sched := ""
		if s.sched != "" && posBefore(vs.PosOf("lb_algo"), vs.PosOf(flag)) {
			sched = s.sched
		}
		if sched != "sh" && sched != "mh" {
			bad(flag, "%s only applies to sh scheduler - ignoring", flag)
			continue
		}
		// lbflags_handler: a scheduler's own flags only; "hashed" sets none.
		switch {
		case flag == sched+"-port":
			s.flags |= 0x0010 // IP_VS_SVC_F_SCHED_SH_PORT, _MH_PORT
		case flag == sched+"-fallback":
			s.flags |= 0x0008 // IP_VS_SVC_F_SCHED_SH_FALLBACK, _MH_FALLBACK
		}
	}
	for _, f := range []struct {
		kw   string
		on   bool
		flag uint32
	}{{"flag-1", vs.Flag1, 0x0008}, {"flag-2", vs.Flag2, 0x0010}, {"flag-3", vs.Flag3, 0x0020}} {
		if f.on {
			s.flags |= f.flag // IP_VS_SVC_F_SCHED1..3
		}
	}
	if vs.IsSet("lb_kind") {
		if lvsMethods[vs.LBKind] {
			s.method = vs.LBKind
			if t, ok := v.tunnelOptions(vs.PosOf("lb_kind"), "lb_kind", vs.Raw("lb_kind"), "virtual"); ok {
				s.tun = t
			}
		} else {
			bad("lb_kind", "PARSER : unknown [%s] routing method for virtual server.", vs.LBKind)
		}
	}
	if vs.IsSet("persistence_timeout") {
		if len(vs.PersistenceTimeout) == 0 {
			s.persist = true
		} else if _, msg := kaUnsigned(vs.PersistenceTimeout[0], 1, 86400*31); msg != "" {
			reader("persistence_timeout", msg)
			bad("persistence_timeout", "persistence_timeout invalid")
		} else {
			s.persist = true
		}
	}
	if vs.IsSet("persistence_engine") && len(vs.PersistenceEngine) > 15 {
		bad("persistence_engine", "persistence_name too long, truncating - %s", vs.PersistenceEngine)
	}
	if vs.IsSet("persistence_granularity") {
		g := vs.PersistenceGranularity
		af := s.af
		if af == 0 {
			af = 6
			if strings.Contains(g, ".") {
				af = 4
			}
		}
		if af == 6 {
			if n, msg := kaUnsigned(g, 1, 128); msg != "" {
				reader("persistence_granularity", msg)
				bad("persistence_granularity", "Invalid IPv6 persistence_granularity specified - %s", g)
			} else {
				s.persist = true
				s.granularity, s.granSet = uint32(n), true
			}
		} else if a, err := netip.ParseAddr(g); err != nil || !a.Is4() {
			bad("persistence_granularity", "Invalid IPv4 persistence_granularity specified - %s", g)
		} else {
			s.persist = true
			b := a.As4()
			s.granularity, s.granSet = uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]), true
		}
		if s.af == 0 {
			s.af = af
		}
	}
	if vs.IsSet("protocol") {
		switch p := strings.ToLower(vs.Protocol); p {
		case "tcp", "udp", "sctp":
			s.proto = p
		default:
			bad("protocol", "Unknown protocol %s - ignoring", vs.Protocol)
		}
	}
	if vs.IsSet("quorum") {
		if msg := intRange(vs.Quorum, 1, maxUint32); msg != "" {
			reader("quorum", msg)
			bad("quorum", "Quorum %d must be in [1, %d]. Setting to 1.", vs.Quorum, uint64(maxUint32))
			vs.Quorum = 1
		}
	}
	if vs.IsSet("hysteresis") {
		if msg := intRange(vs.Hysteresis, 0, maxUint32); msg != "" {
			reader("hysteresis", msg)
			bad("hysteresis", "Hysteresis %d must be in [0, %d] - ignoring", vs.Hysteresis, uint64(maxUint32))
			vs.Hysteresis = 0
		}
	}
	if vs.IsSet("weight") {
		if msg := intRange(vs.Weight, 1, ipvsWeightLimit); msg != "" {
			reader("weight", msg)
			bad("weight", "Virtual server weight %d is outside range 1-%d", vs.Weight, ipvsWeightLimit)
		} else {
			s.weight = vs.Weight
		}
	}
	if vs.IsSet("sorry_server") {
		ss := vs.SorryServer
		port := ""
		if len(ss) > 1 {
			port = ss[1]
		}
		ap, msg, ok := kaAddrPort(ss[0], port)
		reader("sorry_server", msg)
		if !ok {
			bad("sorry_server", "Invalid sorry server IP address %s - skipping", ss[0])
		} else {
			s.ss = &lvsServer{addr: ap, weight: 1}
		}
	}
	if vs.IsSet("sorry_server_inhibit") && (s.ss == nil || !posBefore(vs.PosOf("sorry_server"), vs.PosOf("sorry_server_inhibit"))) {
		bad("sorry_server_inhibit", "Ignoring sorry_server inhibit used before or without sorry_server")
	}
	if vs.IsSet("sorry_server_lvs_method") {
		switch {
		case s.ss == nil || !posBefore(vs.PosOf("sorry_server"), vs.PosOf("sorry_server_lvs_method")):
			bad("sorry_server_lvs_method", "sorry_server forwarding used without sorry_server")
		case !lvsMethods[vs.SorryServerLVSMethod]:
			bad("sorry_server_lvs_method", "PARSER : unknown [%s] routing method for sorry server.", vs.SorryServerLVSMethod)
		default:
			s.ss.method = vs.SorryServerLVSMethod
			if t, ok := v.tunnelOptions(vs.PosOf("sorry_server_lvs_method"), "sorry_server_lvs_method", vs.Raw("sorry_server_lvs_method"), "sorry"); ok {
				s.ss.tun, s.ss.tunSet = t, true
			}
		}
	}
	if vs.IsSet("snmp_name") && vs.SNMPName == "" {
		bad("snmp_name", "virtual server snmp_name missing or extra parameters")
	}
	if s.ss != nil && s.ss.method != "TUN" {
		// vs_end_handler: the sorry server's family must be the server's.
		if fam := famOf(s.ss.addr.Addr()); s.af == 0 {
			s.af = fam
		} else if s.af != fam && !s.groupRef {
			v.at(vs.End, ExitConfigErrors, "sorry_server", "Address family of virtual server and sorry server %s don't match - skipping sorry server.", s.ss.addr.Addr())
			s.ss = nil
		}
	}
}

func mapKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// realServer reads one real_server block and its checkers.
func (v *validator) realServer(s *lvsState, rs *RealServer) {
	bad := func(kw, format string, args ...any) { v.at(rs.PosOf(kw), ExitConfigErrors, kw, format, args...) }
	reader := func(kw, msg string) {
		if msg != "" {
			bad(kw, "%s", msg)
		}
	}
	ip, port := firstArg(rs.Args), "(null)"
	if len(rs.Args) > 1 {
		port = rs.Args[1]
	}
	p := ""
	if len(rs.Args) > 1 {
		p = rs.Args[1]
	}
	ap, msg, ok := kaAddrPort(ip, p)
	if !ok {
		if msg != "" {
			v.at(rs.Pos, ExitConfigErrors, "real_server", "%s", msg)
		}
		v.at(rs.Pos, ExitConfigErrors, "real_server", "Invalid real server ip address/port %s/%s - skipping", ip, port)
		return // keepalived skips the block
	}
	srv := v.newServer(lvsServer{rs: rs, addr: ap, weight: -1})
	if rs.IsSet("weight") {
		if msg := intRange(rs.Weight, 0, ipvsWeightLimit); msg != "" {
			reader("weight", msg)
			bad("weight", "Real server weight %d is outside range 0-%d", rs.Weight, ipvsWeightLimit)
		} else {
			srv.weight = rs.Weight
		}
	}
	if rs.IsSet("lvs_method") {
		if lvsMethods[rs.LVSMethod] {
			srv.method = rs.LVSMethod
			if t, ok := v.tunnelOptions(rs.PosOf("lvs_method"), "lvs_method", rs.Raw("lvs_method"), "real"); ok {
				srv.tun, srv.tunSet = t, true
			}
		} else {
			bad("lvs_method", "PARSER : unknown [%s] routing method for real server.", rs.LVSMethod)
		}
	}
	for _, th := range []struct {
		kw string
		n  int
	}{{"uthreshold", rs.UThreshold}, {"lthreshold", rs.LThreshold}} {
		if rs.IsSet(th.kw) {
			if msg := intRange(th.n, 0, maxUint32); msg != "" {
				reader(th.kw, msg)
				bad(th.kw, "Invalid real_server %s '%d' - ignoring", th.kw, th.n)
			} else if th.kw == "uthreshold" {
				srv.uthreshold = uint32(th.n)
			} else {
				srv.lthreshold = uint32(th.n)
			}
		}
	}
	if rs.IsSet("retry") {
		if msg := intRange(rs.Retry, 1, maxUint32); msg != "" {
			reader("retry", msg)
			bad("retry", "retry value invalid - %d", rs.Retry)
		}
	}
	if rs.IsSet("connect_timeout") {
		if msg := timerRange(rs.ConnectTimeout, 0.000001, 4294.967295, "4294.967295"); msg != "" {
			reader("connect_timeout", msg)
			bad("connect_timeout", "real server connect_timeout %s invalid - ignoring", rs.ConnectTimeout)
		}
	}
	if rs.IsSet("delay_loop") {
		if msg := timerRange(rs.DelayLoop, 0.000001, 0, "18446744073709.551614"); msg != "" {
			reader("delay_loop", msg)
			bad("delay_loop", "real server delay_loop '%s' invalid - ignoring", rs.DelayLoop)
		}
	}
	if rs.IsSet("snmp_name") && rs.SNMPName == "" {
		bad("snmp_name", "real server snmp_name missing or extra parameters")
	}
	// The kept checkers share rs.Checkers until one is dropped.
	srv.checkers = rs.Checkers
	dropped := false
	for i, c := range rs.Checkers {
		kept := v.checker(s, srv, c) && !v.droppedMisc[c]
		switch {
		case !kept && !dropped:
			srv.checkers, dropped = slices.Clone(rs.Checkers[:i]), true
		case kept && dropped:
			srv.checkers = append(srv.checkers, c)
		}
	}
	// rs_end_handler: unless tunnelled, the real server's family must be
	// the virtual server's.
	method := srv.method
	if method == "" {
		method = s.method
	}
	if method != "TUN" {
		if fam := famOf(ap.Addr()); s.af == 0 {
			s.af = fam
		} else if s.af != fam {
			v.at(rs.End, ExitConfigErrors, "real_server", "Address family of virtual server and real server %s don't match - skipping real server.", ap.Addr())
			return
		}
	}
	s.rs = append(s.rs, srv)
}

// vsDefaults fills in keepalived's defaults for what the user left unset,
// down the virtual server -> real server -> checker chain.
func (v *validator) vsDefaults(s *lvsState) {
	vs := s.vs
	if !vs.IsSet("delay_loop") || vs.DelayLoop <= 0 {
		vs.DelayLoop = Timer(60 * time.Second)
	}
	if !vs.IsSet("connect_timeout") || vs.ConnectTimeout <= 0 {
		vs.ConnectTimeout = Timer(5 * time.Second)
	}
	if !vs.IsSet("weight") || vs.Weight < 1 {
		vs.Weight = s.weight
	}
	if !vs.IsSet("quorum") {
		vs.Quorum = 1
	}
	for _, srv := range s.rs {
		rs := srv.rs
		if !rs.IsSet("weight") || srv.weight < 0 {
			rs.Weight = s.weight
			srv.weight = s.weight
		}
		if !rs.IsSet("delay_loop") || rs.DelayLoop <= 0 {
			rs.DelayLoop = vs.DelayLoop
		}
		if !rs.IsSet("connect_timeout") || rs.ConnectTimeout <= 0 {
			rs.ConnectTimeout = vs.ConnectTimeout
		}
		if !rs.IsSet("retry") && vs.IsSet("retry") && vs.Retry >= 1 {
			rs.Retry = vs.Retry
		}
		if !rs.IsSet("delay_before_retry") && vs.IsSet("delay_before_retry") {
			rs.DelayBeforeRetry = vs.DelayBeforeRetry
		}
		if !rs.IsSet("warmup") && vs.IsSet("warmup") {
			rs.Warmup = vs.Warmup
		}
		if !rs.IsSet("inhibit_on_failure") {
			rs.InhibitOnFailure = vs.InhibitOnFailure
		}
		if !rs.IsSet("alpha") {
			rs.Alpha = vs.Alpha
		}
		for _, c := range rs.Checkers {
			checkerDefaults(vs, rs, c)
		}
	}
}

func checkerDefaults(vs *VirtualServer, rs *RealServer, c *Checker) {
	has := func(kw string) bool { return rs.IsSet(kw) || vs.IsSet(kw) }
	if !c.IsSet("alpha") {
		c.Alpha = rs.Alpha
	}
	if !c.IsSet("retry") || c.Retry < 0 {
		switch {
		case c.IsSet("nb_get_retry") && c.NbGetRetry >= 0:
			c.Retry = c.NbGetRetry
		case has("retry") && rs.Retry >= 1:
			c.Retry = rs.Retry
		case c.Keyword == "DNS_CHECK":
			c.Retry = 3
		case c.Keyword == "MISC_CHECK":
			c.Retry = 0
		default:
			c.Retry = 1
		}
	}
	if checkerConnKeywords[c.Keyword] && (!c.IsSet("connect_timeout") || c.ConnectTimeout <= 0) {
		c.ConnectTimeout = rs.ConnectTimeout
	}
	if !c.IsSet("delay_loop") || c.DelayLoop <= 0 {
		c.DelayLoop = rs.DelayLoop
	}
	if !c.IsSet("warmup") {
		if has("warmup") {
			c.Warmup = rs.Warmup
		} else {
			c.Warmup = c.DelayLoop
		}
	}
	if !c.IsSet("delay_before_retry") {
		switch {
		case has("delay_before_retry"):
			c.DelayBeforeRetry = rs.DelayBeforeRetry
		case c.Keyword == "HTTP_GET" || c.Keyword == "SSL_GET":
			c.DelayBeforeRetry = Timer(3 * time.Second)
		case c.Keyword == "DNS_CHECK":
			c.DelayBeforeRetry = c.DelayLoop
		default:
			c.DelayBeforeRetry = Timer(time.Second)
		}
	}
}

// vsEnd is validate_check_config for one virtual server: the checks
// keepalived makes once everything is read, reported without a line.
// It reports whether the virtual server is kept.
func (v *validator) vsEnd(s *lvsState) bool {
	vs := s.vs
	say := func(format string, args ...any) {
		v.noLine(vs.Pos, ExitConfigErrors, "virtual_server", format, args...)
	}
	if len(s.rs) == 0 {
		say("Virtual server %s has no real servers - ignoring", s.name())
		return false
	}
	groupAddrs, groupMarks := false, false
	if s.group != nil {
		for _, e := range s.group.Entries {
			if e.Fwmark != 0 || e.Range == "" {
				groupMarks = true
			} else {
				groupAddrs = true
			}
		}
	}
	if vs.HASuspend && (s.fwmark || groupMarks) {
		say("Virtual server %s: cannot use ha_suspend with fwmarks - clearing ha_suspend", s.name())
		vs.HASuspend = false
	}
	if groupAddrs || (s.group == nil && !s.fwmark) {
		if s.proto == "" {
			say("Virtual server %s: no protocol set - defaulting to UDP", s.name())
			s.proto = "udp"
			vs.Protocol = "UDP"
		}
		if vs.OPS && s.proto != "udp" {
			say("Virtual server %s: one packet scheduling requires UDP - resetting", s.name())
			vs.OPS = false
		}
		if !s.persist && s.group == nil && !s.fwmark && s.addr.Port() == 0 {
			say("Virtual server %s: zero port only valid for persistent services - setting", s.name())
			s.persist = true
		}
	}
	if !s.persist && s.group != nil {
		for _, e := range s.group.Entries {
			if e.Range != "" && e.Port == 0 {
				say("Virtual server %s: zero port only valid for persistent services - setting", s.name())
				s.persist = true
				break
			}
		}
	}
	if s.persist && !vs.IsSet("persistence_timeout") {
		vs.PersistenceTimeout = OptWords{"360"}
	}
	if s.proto != "" && ((s.group != nil && !groupAddrs && groupMarks) || (s.group == nil && s.fwmark)) {
		say("Warning: Virtual server %s: protocol specified for fwmark - protocol will be ignored", s.name())
		s.proto = ""
		vs.Protocol = ""
	}
	if s.sched == "" {
		say("Virtual server %s: no scheduler set, setting default 'wlc'", s.name())
		s.sched = "wlc"
	}
	vs.LBAlgo = s.sched

	weightSum := 0
	kept := make([]*lvsServer, 0, len(s.rs))
	for _, rs := range s.rs {
		if slices.ContainsFunc(kept, func(o *lvsServer) bool { return o.addr == rs.addr }) {
			say("VS %s: real server %s is duplicated - removing second rs", s.name(), s.trio(rs.addr))
			continue
		}
		kept = append(kept, rs)
		if rs.method == "" {
			if s.method == "" {
				say("Virtual server %s: no forwarding method set, setting default NAT", s.name())
				s.method = "NAT"
			}
			rs.method = s.method
		}
		if !rs.tunSet {
			rs.tun = s.tun
		}
		rs.rs.LVSMethod = rs.method
		weightSum += rs.weight
	}
	s.rs = kept
	if s.ss != nil && s.ss.method == "" {
		if s.method == "" {
			say("Virtual server %s: no forwarding method set, setting default NAT", s.name())
			s.method = "NAT"
		}
		s.ss.method = s.method
	}
	if s.ss != nil && !s.ss.tunSet {
		s.ss.tun = s.tun
	}
	if s.method == "" {
		s.method = "NAT"
	}
	vs.LBKind = s.method
	if vs.Quorum > weightSum {
		say("Warning - quorum %d for %s exceeds total weight of real servers %d, reducing quorum to %d", vs.Quorum, s.name(), weightSum, weightSum)
		vs.Quorum = weightSum
	}
	if vs.Hysteresis >= vs.Quorum {
		say("Virtual server %s: hysteresis %d >= quorum %d; setting hysteresis to %d", s.name(), vs.Hysteresis, vs.Quorum, vs.Quorum-1)
		vs.Hysteresis = max(vs.Quorum-1, 0)
	}
	if !vs.IsSet("protocol") && s.proto != "" {
		vs.Protocol = strings.ToUpper(s.proto)
	}
	v.vsPorts(s, groupMarks)
	return true
}

// vsPorts: unless NAT, real (and sorry) servers must use the virtual
// server's port, and none with a fwmark.
func (v *validator) vsPorts(s *lvsState, groupMarks bool) {
	say := func(format string, args ...any) { v.noLine(s.vs.Pos, ExitConfigErrors, "real_server", format, args...) }
	if s.group != nil {
		if groupMarks {
			for _, rs := range s.rs {
				if rs.method != "NAT" && rs.addr.Port() != 0 {
					say("WARNING - fwmark virtual server %s, real server %s has port specified - port will be ignored", s.name(), s.trio(rs.addr))
				}
			}
			if s.ss != nil && s.ss.method != "NAT" && s.ss.addr.Port() != 0 {
				say("WARNING - fwmark virtual server %s, sorry server has port specified - port will be ignored", s.name())
			}
		}
		for _, e := range s.group.Entries {
			if e.Range == "" {
				continue
			}
			for _, rs := range s.rs {
				if rs.method != "NAT" && rs.addr.Port() != 0 && int(rs.addr.Port()) != e.Port {
					say("virtual server %s:[%s,%d] and real server %s ports don't match", s.name(), e.Range, e.Port, s.trio(rs.addr))
				}
			}
			if s.ss != nil && s.ss.method != "NAT" && s.ss.addr.Port() != 0 && int(s.ss.addr.Port()) != e.Port {
				say("WARNING - virtual server %s, sorry server has port specified - port will be ignored", s.name())
			}
		}
		return
	}
	for _, rs := range s.rs {
		if rs.method == "NAT" {
			continue
		}
		switch {
		case s.fwmark && rs.addr.Port() != 0:
			say("WARNING - fwmark virtual server %s, real server %s has port specified - clearing", s.name(), s.trio(rs.addr))
		case !s.fwmark && rs.addr.Port() != 0 && rs.addr.Port() != s.addr.Port():
			say("WARNING - virtual server %s and real server %s ports don't match - resetting", s.name(), s.trio(rs.addr))
		}
	}
	if s.ss != nil && s.ss.method != "NAT" {
		switch {
		case s.fwmark && s.ss.addr.Port() != 0:
			say("WARNING - virtual server %s, sorry server has port specified - clearing", s.name())
		case !s.fwmark && s.ss.addr.Port() != 0 && s.ss.addr.Port() != s.addr.Port():
			say("WARNING - virtual server %s and sorry server ports don't match - resetting", s.name())
		}
	}
}

// Checker keywords, by checker (check_api.c install_checker_common_keywords
// and each check_*.c). Our Checker is the union of them all.
var (
	checkerCommonKW = []string{"retry", "delay_before_retry", "warmup", "delay_loop", "alpha", "log_all_failures"}
	checkerConnKW   = []string{"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout", "fwmark"}

	checkerConnKeywords = map[string]bool{"TCP_CHECK": true, "HTTP_GET": true, "SSL_GET": true, "SMTP_CHECK": true,
		"DNS_CHECK": true, "UDP_CHECK": true, "PING_CHECK": true}

	checkerKeywords = map[string][]string{
		"TCP_CHECK":  concat(checkerConnKW, checkerCommonKW),
		"PING_CHECK": concat(checkerConnKW, checkerCommonKW),
		"HTTP_GET": concat(checkerConnKW, checkerCommonKW, []string{"nb_get_retry", "virtualhost", "http_protocol",
			"enable_sni", "fast_recovery", "url"}),
		"SSL_GET": concat(checkerConnKW, checkerCommonKW, []string{"nb_get_retry", "virtualhost", "http_protocol",
			"enable_sni", "fast_recovery", "url"}),
		"DNS_CHECK":  concat(checkerConnKW, checkerCommonKW, []string{"type", "name"}),
		"UDP_CHECK":  concat(checkerConnKW, checkerCommonKW, []string{"payload", "require_reply", "min_reply_length", "max_reply_length"}),
		"MISC_CHECK": concat(checkerCommonKW, []string{"misc_path", "misc_timeout", "misc_dynamic", "user"}),
		"FILE_CHECK": {"track_file", "weight"},
		"BFD_CHECK":  {"name", "alpha"},
		"SMTP_CHECK": concat(checkerConnKW, checkerCommonKW, []string{"helo_name", "host"}),
		"host":       concat(checkerConnKW, checkerCommonKW),
	}

	// urlKeywords are keepalived 2.2.7's (tls_compliant is later).
	urlKeywords = []string{"path", "digest", "status_code", "virtualhost", "regex", "regex_no_match",
		"regex_options", "regex_min_offset", "regex_max_offset", "regex_stack"}
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// unknownInBlock reports, as keepalived's reader does, every keyword
// written in b that is not one of allowed. Blocks (url, host) written
// where they are unknown also get keepalived's "Unexpected '{'".
func (v *validator) unknownInBlock(b *Block, allowed []string, blockKW func(kw string) []Pos) {
	var kws []string
	for kw := range b.Set.All() {
		if !slices.Contains(allowed, kw) {
			kws = append(kws, kw)
		}
	}
	slices.Sort(kws)
	for _, kw := range kws {
		positions := []Pos{b.PosOf(kw)}
		isBlock := false
		if blockKW != nil {
			if ps := blockKW(kw); ps != nil {
				positions, isBlock = ps, true
			}
		}
		for _, pos := range positions {
			v.at(pos, ExitConfigErrors, kw, "Unknown keyword '%s'", kw)
			if isBlock {
				v.at(pos, ExitConfigErrors, kw, "Unexpected '{' - ignoring")
				v.extra(pos, kw, "keepalived reads its lines as part of the enclosing block, and its '}' closes the enclosing block",
					"'%s' is not a keyword of %s", kw, b.Keyword)
			} else if c := closest(kw, allowed); c != "" {
				v.extra(pos, kw, "did you mean '"+c+"'?", "'%s' is not a keyword of %s", kw, b.Keyword)
			} else {
				v.extra(pos, kw, "", "'%s' is not a keyword of %s", kw, b.Keyword)
			}
		}
	}
}

// checker reads one checker block of real server srv.
// It reports whether keepalived keeps the checker.
func (v *validator) checker(s *lvsState, srv *lvsServer, c *Checker) bool {
	kept := true
	allowed := checkerKeywords[c.Keyword]
	v.unknownInBlock(&c.Block, allowed, func(kw string) []Pos {
		var ps []Pos
		switch kw {
		case "url":
			for _, u := range c.URLs {
				ps = append(ps, u.Pos)
			}
		case "host":
			for _, h := range c.Hosts {
				ps = append(ps, h.Pos)
			}
		}
		return ps
	})
	known := func(kw string) bool { return c.IsSet(kw) && slices.Contains(allowed, kw) }
	v.checkerCommon(c, known)

	switch c.Keyword {
	case "HTTP_GET", "SSL_GET":
		kept = v.httpChecker(c, known)
	case "DNS_CHECK":
		if known("type") && !slices.ContainsFunc(dnsTypes, func(t string) bool { return strings.EqualFold(t, c.Type) }) {
			v.at(c.PosOf("type"), ExitConfigErrors, "type", "Unknown DNS check type %s - ignoring", c.Type)
		}
		if known("name") && dnsNameEmptyLabel(c.Name) {
			v.at(c.PosOf("name"), ExitConfigErrors, "name", "DNS_CHECK name '%s' has empty label - ignoring", c.Name)
		}
	case "UDP_CHECK":
		v.udpChecker(c, known)
	case "MISC_CHECK":
		if known("misc_timeout") {
			secs := c.MiscTimeout.Duration().Seconds()
			if secs != float64(int64(secs)) || secs > 4294 {
				v.at(c.PosOf("misc_timeout"), ExitConfigErrors, "misc_timeout", "Invalid misc_timeout value '%s'", c.MiscTimeout)
			}
		}
		if !known("misc_path") {
			v.at(c.End, ExitConfigErrors, "MISC_CHECK", "No script path has been specified for MISC_CHECKER - skipping")
			kept = false
		}
	case "FILE_CHECK":
		kept = v.fileChecker(c, known)
	case "BFD_CHECK":
		kept = v.bfdChecker(s, srv, c, known)
	case "SMTP_CHECK":
		for _, h := range c.Hosts {
			v.unknownInBlock(&h.Block, checkerKeywords["host"], nil)
			v.checkerCommon(h, func(kw string) bool { return h.IsSet(kw) && slices.Contains(checkerKeywords["host"], kw) })
		}
	}
	if checkerConnKeywords[c.Keyword] {
		// check_conn_opts: a link-local destination needs bind_if.
		dst := srv.addr.Addr()
		if known("connect_ip") {
			if a, ok := kaAddr(c.ConnectIP); ok {
				dst = a
			}
		}
		if dst.Is6() && dst.IsLinkLocalUnicast() && !known("bind_if") {
			v.at(c.End, ExitConfigErrors, c.Keyword, "Checker link local address %s requires a bind_if", dst)
			kept = false // check_conn_opts fails: the checker is dequeued
		}
	}
	return kept
}

// checkerCommon checks the keywords all (or all connecting) checkers share.
func (v *validator) checkerCommon(c *Checker, known func(string) bool) {
	bad := func(kw, format string, args ...any) { v.at(c.PosOf(kw), ExitConfigErrors, kw, format, args...) }
	reader := func(kw, msg string) {
		if msg != "" {
			bad(kw, "%s", msg)
		}
	}
	var ipFam, bindFam int
	if known("connect_ip") {
		if a, ok := kaAddr(c.ConnectIP); !ok {
			bad("connect_ip", "Invalid connect_ip address %s - ignoring", c.ConnectIP)
		} else {
			ipFam = famOf(a)
		}
	}
	if known("bindto") {
		if a, ok := kaAddr(c.BindTo); !ok {
			bad("bindto", "Invalid bindto address %s - ignoring", c.BindTo)
		} else {
			bindFam = famOf(a)
		}
	}
	if ipFam != 0 && bindFam != 0 && ipFam != bindFam {
		if posBefore(c.PosOf("connect_ip"), c.PosOf("bindto")) {
			bad("bindto", "bindto address %s does not match address family of connect_ip - skipping", c.BindTo)
		} else {
			bad("connect_ip", "connect_ip address %s does not match address family of bindto - skipping", c.ConnectIP)
		}
	}
	if known("connect_port") {
		if msg := intRange(c.ConnectPort, 1, 65535); msg != "" {
			reader("connect_port", msg)
			bad("connect_port", "Invalid checker connect_port '%d'", c.ConnectPort)
		}
	}
	if known("bind_port") {
		if msg := intRange(c.BindPort, 1, 65535); msg != "" {
			reader("bind_port", msg)
			bad("bind_port", "Invalid checker bind_port '%d'", c.BindPort)
		}
	}
	if known("bind_if") && len(c.BindIf) >= 16 {
		bad("bind_if", "Interface name %s is too long - ignoring", c.BindIf)
	}
	if known("connect_timeout") {
		if msg := timerRange(c.ConnectTimeout, 0.000001, 4294.967295, "4294.967295"); msg != "" {
			reader("connect_timeout", msg)
			bad("connect_timeout", "connect_timeout %s invalid - ignoring", c.ConnectTimeout)
		}
	}
	if known("fwmark") {
		if msg := intRange(c.Fwmark, 0, maxUint32); msg != "" {
			reader("fwmark", msg)
			bad("fwmark", "Invalid fwmark connection value '%d'", c.Fwmark)
		}
	}
	if known("retry") {
		if msg := intRange(c.Retry, 0, maxUint32); msg != "" {
			reader("retry", msg)
			bad("retry", "Invalid retry connection value '%d'", c.Retry)
		}
	}
	if known("nb_get_retry") {
		bad("nb_get_retry", "nb_get_retry is deprecated - please use 'retry'")
		if msg := intRange(c.NbGetRetry, 0, maxUint32); msg != "" {
			reader("nb_get_retry", msg)
			bad("nb_get_retry", "Invalid nb_get_retry value '%d'", c.NbGetRetry)
		}
	}
	if known("delay_loop") {
		if msg := timerRange(c.DelayLoop, 0.000001, 0, "18446744073709.551614"); msg != "" {
			reader("delay_loop", msg)
			bad("delay_loop", "delay_loop '%s' is invalid - ignoring", c.DelayLoop)
		}
	}
}

func (v *validator) httpChecker(c *Checker, known func(string) bool) bool {
	if known("http_protocol") {
		switch c.HTTPProtocol {
		case "1.0", "1.1", "1.0C", "1.0c":
		default:
			v.at(c.PosOf("http_protocol"), ExitConfigErrors, "http_protocol", "Invalid http_protocol version %s", c.HTTPProtocol)
		}
	}
	urls := 0
	for _, u := range c.URLs {
		v.unknownInBlock(&u.Block, urlKeywords, nil)
		if u.IsSet("digest") {
			d := u.Digest
			if len(d) != 32 {
				v.at(u.PosOf("digest"), ExitConfigErrors, "digest", "digest '%s' character length should be %d rather than %d", d, 32, len(d))
			} else {
				// keepalived reads the pairs from the end and cuts the
				// string after the pair it complains about.
				for i := 15; i >= 0; i-- {
					if _, err := strconv.ParseUint(d[2*i:2*i+2], 16, 8); err != nil {
						v.at(u.PosOf("digest"), ExitConfigErrors, "digest", "Unable to interpret hex digit in '%s' at offset %d/%d", d[:2*i+2], 2*i, 2*i+1)
						break
					}
				}
			}
		}
		for _, w := range u.StatusCode {
			if !statusCodeOK(w) {
				v.at(u.PosOf("status_code"), ExitConfigErrors, "status_code", "Invalid HTTP_GET status code '%s'", w)
			}
		}
		if u.IsSet("status_code") && len(u.StatusCode) == 0 {
			u.StatusCode = []string{"200-299"}
		}
		if !u.IsSet("path") {
			v.at(u.End, ExitConfigErrors, "url", "HTTP/SSL_GET checker url has no path - ignoring")
			continue
		}
		if !u.IsSet("status_code") {
			u.StatusCode = []string{"200-299"}
		}
		urls++
	}
	if urls == 0 {
		// keepalived 2.2.7 crashes after this message when the checker is
		// the real server's first; we go on.
		v.at(c.End, ExitConfigErrors, c.Keyword, "HTTP/SSL_GET checker has no urls specified - ignoring")
		return false
	}
	return true
}

func (v *validator) udpChecker(c *Checker, known func(string) bool) {
	if known("payload") {
		if len(c.Payload) == 0 {
			v.at(c.PosOf("payload"), ExitConfigErrors, "payload", "UDP_CHECK payload requires a payload")
		} else if !kaHex(strings.Join(c.Payload, " "), false) {
			v.at(c.PosOf("payload"), ExitConfigErrors, "payload", "Invalid hex string for UDP_CHECK payload")
		}
	}
	if known("require_reply") && len(c.RequireReply) > 0 && !kaHex(strings.Join(c.RequireReply, " "), true) {
		v.at(c.PosOf("require_reply"), ExitConfigErrors, "require_reply", "Invalid hex string for UDP_CHECK reply")
	}
	minLen, maxLen := 0, 255
	for _, l := range []struct {
		kw, what string
		n        int
		dst      *int
	}{{"min_reply_length", "min", c.MinReplyLength, &minLen}, {"max_reply_length", "max", c.MaxReplyLength, &maxLen}} {
		if !known(l.kw) {
			continue
		}
		if msg := intRange(l.n, 0, 65535); msg != "" {
			v.at(c.PosOf(l.kw), ExitConfigErrors, l.kw, "%s", msg)
			v.at(c.PosOf(l.kw), ExitConfigErrors, l.kw, "UDP_CHECK %s length %d not valid - must be between 0 & %d", l.what, l.n, 65535)
		} else {
			*l.dst = l.n
		}
	}
	if minLen > maxLen {
		v.at(c.End, ExitConfigErrors, "UDP_CHECK", "UDP_CHECK min_reply length %d > max_reply_length %d - will always fail", minLen, maxLen)
	}
}

func (v *validator) fileChecker(c *Checker, known func(string) bool) bool {
	found := false
	if known("track_file") {
		pos := c.PosOf("track_file")
		for _, tf := range v.cfg.TrackFiles {
			// A track_file without a file is not kept (track_file_end_handler).
			if firstArg(tf.Args) == c.TrackFile && posBefore(tf.Pos, pos) && tf.Resolved != nil {
				found = true
				break
			}
		}
		if !found {
			v.at(pos, ExitConfigErrors, "track_file", "track_file %s not found", c.TrackFile)
			for _, tf := range v.cfg.TrackFiles {
				if firstArg(tf.Args) == c.TrackFile {
					v.extra(pos, "track_file", "move the track_file block before the virtual_server that uses it",
						"track_file %s is defined at %s line %d, after its use", c.TrackFile, tf.Pos.File, tf.Pos.Line)
				}
			}
		}
	}
	if known("weight") {
		w := c.Weight
		if n, err := strconv.Atoi(w[0]); err != nil || n < -ipvsWeightLimit || n > ipvsWeightLimit {
			v.at(c.PosOf("weight"), ExitConfigErrors, "weight", "weight for track file must be in [%d..%d] inclusive. Ignoring...", -ipvsWeightLimit, ipvsWeightLimit)
		} else if len(w) > 1 && w[1] != "reverse" && w[1] != "noreverse" {
			v.at(c.PosOf("weight"), ExitConfigErrors, "weight", "unknown track file weight option %s - ignoring", w[1])
		}
	}
	if !found {
		v.at(c.End, ExitConfigErrors, "FILE_CHECK", "FILE_CHECK has no track_file specified - ignoring")
	}
	return found
}

func (v *validator) bfdChecker(s *lvsState, srv *lvsServer, c *Checker, known func(string) bool) bool {
	rsName := s.trio(srv.addr)
	if !known("name") {
		v.at(c.End, ExitConfigErrors, "BFD_CHECK", "(%s) No name has been specified for BFD_CHECKER - skipping", rsName)
		return false
	}
	pos := c.PosOf("name")
	for _, b := range v.cfg.BFDInstances {
		if firstArg(b.Args) == c.Name && posBefore(b.Pos, pos) {
			if len(c.Name) >= 32 {
				v.at(pos, ExitConfigErrors, "name", "(%s) BFD_CHECK - BFD name %s too long", rsName, c.Name)
				return false
			}
			return true
		}
	}
	v.at(pos, ExitConfigErrors, "name", "(%s) BFD_CHECK - BFD %s not configured", rsName, c.Name)
	return false
}

// tunnelOptions reads the words after lb_kind's, lvs_method's or
// sorry_server_lvs_method's method (words[0]) as keepalived's
// svr_forwarding_handler (check/check_parser.c) does: `type ipip|gue|gre`,
// `port N` (gue only, and required there) and `nocsum|csum|remcsum`
// (not with ipip; not remcsum with gre), with its messages; ok is false
// (the server keeps its previous tunnel) after an error. who is
// "virtual", "real" or "sorry".
func (v *validator) tunnelOptions(pos Pos, kw string, words []string, who string) (t Tunnel, ok bool) {
	bad := func(format string, args ...any) (Tunnel, bool) {
		v.at(pos, ExitConfigErrors, kw, format, args...)
		return Tunnel{}, false
	}
	for i := 1; i < len(words); i++ {
		switch w := words[i]; w {
		case "type":
			if i+1 == len(words) {
				return bad("Missing tunnel type for %s server.", who)
			}
			switch words[i+1] {
			case "ipip":
				t.Type = ""
			case "gue", "gre":
				t.Type = words[i+1]
			default:
				return bad("Unknown tunnel type %s for %s server.", words[i+1], who)
			}
			i++
		case "port":
			if i+1 == len(words) {
				return bad("Missing port for %s server gue tunnel.", who)
			}
			n, msg := kaUnsigned(words[i+1], 1, 65535)
			if msg != "" {
				return bad("Invalid gue tunnel port %s for %s server.", words[i+1], who)
			}
			t.Port = uint16(n)
			i++
		case "nocsum":
			t.Checksum = ""
		case "csum", "remcsum":
			t.Checksum = w
		default:
			return bad("Invalid tunnel option %s for %s server.", w, who)
		}
	}
	switch {
	case (t.Type == "gue") != (t.Port != 0):
		return bad("gue tunnels require port, otherwise cannot have port.")
	case t.Type == "" && t.Checksum != "":
		return bad("ipip tunnels do not support checksum option.")
	case t.Type == "gre" && t.Checksum == "remcsum":
		return bad("gre tunnels do not support remote checksum option.")
	}
	return t, true
}
