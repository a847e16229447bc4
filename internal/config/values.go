package config

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Words is one line of a value block kept as words (group members, e-mail
// addresses, interface lists).
type Words struct {
	Pos   Pos      `json:"pos"`
	Words []string `json:"words"`
}

func (w *Words) parseLine(p *parser, l Line) bool {
	*w = Words{Pos: Pos{l.File, l.Num}, Words: l.Words()}
	return true
}

// Script is a command keyword (notify_*, script, misc_path, ...): the command
// line and the optional user and group to run it as.
type Script struct {
	Pos   Pos      `json:"pos"`
	Cmd   string   `json:"cmd"`  // the command as written, quotes removed
	Args  []string `json:"args"` // the command split as keepalived splits it
	User  string   `json:"user,omitempty"`
	Group string   `json:"group,omitempty"`
}

// IsZero tells whether the keyword was absent.
func (s Script) IsZero() bool { return s.Cmd == "" }

// parseKeyword re-reads the raw line with both ' and " quoting, as
// keepalived's install_keyword_quoted does: word 1 is the command, words
// 2-3 are "user [group]" or "user:group".
func (s *Script) parseKeyword(p *parser, l Line) bool {
	kw := l.Tokens[0].Text
	if unterminatedQuote(l.Raw) {
		p.report(ExitConfigErrors, l, kw, "String '%s': missing terminating \"", strings.TrimSpace(l.Raw))
		return false
	}
	rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l.Raw), kw))
	words := splitQuoted(rest)
	if len(words) == 0 || words[0] == "" {
		p.missingParameter(l)
		return false
	}
	*s = Script{Pos: Pos{l.File, l.Num}, Cmd: words[0], Args: splitCommand(words[0])}
	if len(words) > 1 {
		s.User, s.Group, _ = strings.Cut(words[1], ":")
	}
	if len(words) > 2 && s.Group == "" {
		s.Group = words[2]
	}
	return true
}

// splitQuoted splits on whitespace, keeping '...' and "..." as one word.
func splitQuoted(s string) []string { return splitWords(s, false) }

// splitCommand splits a command as a shell would for a simple command:
// quotes group words and a backslash escapes the next character.
func splitCommand(s string) []string { return splitWords(s, true) }

func splitWords(s string, escapes bool) []string {
	var out []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escapes && c == '\\' && quote != '\'' && i+1 < len(s):
			i++
			cur.WriteByte(unescape(s[i]))
			inWord = true
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	}
	return c
}

// IPAddress is a line of virtual_ipaddress, virtual_ipaddress_excluded or
// static_ipaddress: `ADDR[/LEN] [dev IF] [brd ADDR] [scope S] [label L] ...`.
type IPAddress struct {
	Pos     Pos          `json:"pos"`
	Prefix  netip.Prefix `json:"prefix"`
	Dev     string       `json:"dev,omitempty"`
	Brd     string       `json:"brd,omitempty"`
	Scope   string       `json:"scope,omitempty"`
	Label   string       `json:"label,omitempty"`
	Peer    string       `json:"peer,omitempty"`
	Options []string     `json:"options,omitempty"` // flags such as nodad, home, no_track
}

// ipAddressFlags are the option words that take no argument.
var ipAddressFlags = map[string]bool{"home": true, "-nodad": true, "nodad": true, "noprefixroute": true,
	"autojoin": true, "no_track": true, "use_vmac": true}

// ipAddressArgs are the option words that take one argument.
var ipAddressArgs = map[string]bool{"dev": true, "brd": true, "broadcast": true, "scope": true, "label": true,
	"peer": true, "preferred_lft": true, "track_group": true}

func (a *IPAddress) parseLine(p *parser, l Line) bool {
	w := l.Words()
	*a = IPAddress{Pos: Pos{l.File, l.Num}}
	pfx, ok := parsePrefix(w[0])
	if !ok {
		pfx, ok = clampPrefix(w[0])
		if !ok {
			p.report(ExitConfigErrors, l, w[0], "VRRP parsed invalid IP %s. skipping IP...", w[0])
			return false
		}
		p.report(ExitConfigErrors, l, w[0], "Invalid address prefix len for address %s - using %d", w[0], pfx.Bits())
	}
	a.Prefix = pfx
	for i := 1; i < len(w); i++ {
		opt := w[i]
		switch {
		case ipAddressFlags[opt]:
			a.Options = append(a.Options, opt)
		case ipAddressArgs[opt] && i+1 < len(w):
			i++
			a.setOption(opt, w[i])
		default:
			p.report(ExitConfigErrors, l, opt, "Unknown configuration entry '%s' for ip address - ignoring", opt)
			p.hintWords(l, opt, ipAddressWords())
		}
	}
	return true
}

func (a *IPAddress) setOption(opt, val string) {
	switch opt {
	case "dev":
		a.Dev = val
	case "brd", "broadcast":
		a.Brd = val
	case "scope":
		a.Scope = val
	case "label":
		a.Label = val
	case "peer":
		a.Peer = val
	default:
		a.Options = append(a.Options, opt, val)
	}
}

func ipAddressWords() []string {
	var ws []string
	for w := range ipAddressFlags {
		ws = append(ws, w)
	}
	for w := range ipAddressArgs {
		ws = append(ws, w)
	}
	return ws
}

// hintWords adds a "did you mean" of ours when word looks like a typo of one
// of candidates.
func (p *parser) hintWords(l Line, word string, candidates []string) {
	if s := closest(word, candidates); s != "" {
		p.hint(l, word, "did you mean '"+s+"'?", "'%s' is not a known option", word)
	}
}

// parsePrefix reads an address with an optional /len; a bare address gets
// the full length of its family.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		return pfx, err == nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(addr, addr.BitLen()), true
}

// clampPrefix reads ADDR/LEN with LEN beyond the family's length, which
// keepalived accepts with the full length.
func clampPrefix(s string) (netip.Prefix, bool) {
	a, n, ok := strings.Cut(s, "/")
	addr, err := netip.ParseAddr(a)
	bits, nerr := strconv.Atoi(n)
	if !ok || err != nil || nerr != nil || bits < addr.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(addr, addr.BitLen()), true
}

// Route is a line of static_routes or virtual_routes, in `ip route` syntax.
// The words are kept as written; the common fields are picked out.
type Route struct {
	Pos   Pos      `json:"pos"`
	Type  string   `json:"type,omitempty"` // blackhole, unreachable, prohibit, ...
	Dest  string   `json:"dest"`
	Src   string   `json:"src,omitempty"`
	Via   string   `json:"via,omitempty"`
	Dev   string   `json:"dev,omitempty"`
	Table string   `json:"table,omitempty"`
	Words []string `json:"words"`
}

var routeTypes = map[string]bool{"unicast": true, "blackhole": true, "unreachable": true, "prohibit": true,
	"local": true, "broadcast": true, "throw": true, "nat": true, "anycast": true, "multicast": true}

func (r *Route) parseLine(p *parser, l Line) bool {
	w := l.Words()
	*r = Route{Pos: Pos{l.File, l.Num}, Words: w}
	i := 0
	if routeTypes[w[0]] {
		r.Type = w[0]
		i++
	}
	for ; i < len(w); i++ {
		if i+1 < len(w) && r.setField(w[i], w[i+1]) {
			i++
			continue
		}
		if r.Dest == "" {
			r.Dest = w[i]
		}
	}
	if r.Dest == "" || (r.Dest != "default" && !validPrefix(r.Dest)) {
		p.report(ExitConfigErrors, l, "route", "Invalid route destination '%s'", r.Dest)
		return false
	}
	r.warnLikeKeepalived(p, l)
	return true
}

// warnLikeKeepalived reports what keepalived warns about in a route (each
// of which makes its -t exit 5).
func (r *Route) warnLikeKeepalived(p *parser, l Line) {
	for i, w := range r.Words {
		switch {
		case w == "gw":
			p.report(ExitConfigErrors, l, w, `"gw" for routes is deprecated. Please use "via"`)
		case w == "or" && i > 0:
			p.report(ExitConfigErrors, l, w, `"or" for routes is deprecated. Please use "nexthop"`)
		}
	}
	if r.Dev == "" && !slices.Contains(r.Words, "no_track") {
		p.report(ExitConfigErrors, l, "route", "Warning - cannot track route %s with no interface specified, not tracking", r.Dest)
	}
}

func (r *Route) setField(key, val string) bool {
	switch key {
	case "src":
		r.Src = val
	case "via", "gw":
		r.Via = val
	case "dev", "oif":
		r.Dev = val
	case "table":
		r.Table = val
	case "to":
		r.Dest = val
	case "metric", "preference", "priority", "scope", "proto", "protocol", "tos", "dsfield", "realms",
		"mtu", "advmss", "rtt", "rttvar", "reordering", "window", "cwnd", "ssthresh", "initcwnd",
		"initrwnd", "features", "quickack", "congctl", "pref", "nexthop", "weight", "onlink",
		"expires", "fastopen_no_cookie", "ttl-propagate", "hoplimit", "rto_min", "lock", "encap", "no_track", "track_group":
	default:
		return false
	}
	return true
}

func validPrefix(s string) bool {
	_, ok := parsePrefix(s)
	return ok
}

// Rule is a line of static_rules or virtual_rules, in `ip rule` syntax.
type Rule struct {
	Pos   Pos      `json:"pos"`
	From  string   `json:"from,omitempty"`
	To    string   `json:"to,omitempty"`
	Table string   `json:"table,omitempty"`
	Words []string `json:"words"`
}

func (r *Rule) parseLine(p *parser, l Line) bool {
	w := l.Words()
	*r = Rule{Pos: Pos{l.File, l.Num}, Words: w}
	for i := 0; i+1 < len(w); i++ {
		switch w[i] {
		case "from":
			r.From = w[i+1]
		case "to":
			r.To = w[i+1]
		case "table", "lookup":
			r.Table = w[i+1]
		}
	}
	for _, a := range []string{r.From, r.To} {
		if a != "" && a != "all" && !validPrefix(a) {
			p.report(ExitConfigErrors, l, "rule", "VRRP parsed invalid IP %s. skipping IP...", a)
			return false
		}
	}
	if !slices.ContainsFunc(w, func(s string) bool { return s == "preference" || s == "priority" || s == "pref" || s == "order" }) {
		p.report(ExitConfigErrors, l, "rule", "Rule has no preference specified - setting to 16384. This is probably not what you want.")
	}
	return true
}

// TrackRef is a line of a track_* block: `NAME [weight N [reverse]]`.
type TrackRef struct {
	Pos       Pos    `json:"pos"`
	Name      string `json:"name"`
	Weight    int    `json:"weight"`
	HasWeight bool   `json:"has_weight,omitempty"`
	Reverse   bool   `json:"reverse,omitempty"`
}

func (t *TrackRef) parseLine(p *parser, l Line) bool {
	w := l.Words()
	*t = TrackRef{Pos: Pos{l.File, l.Num}, Name: w[0]}
	for i := 1; i < len(w); i++ {
		switch w[i] {
		case "weight":
			if i+1 >= len(w) {
				p.report(ExitConfigErrors, l, "weight", "%s: weight missing its value", t.Name)
				continue
			}
			i++
			n, err := strconv.Atoi(w[i])
			if err != nil || n < -253 || n > 253 {
				p.report(ExitConfigErrors, l, "weight", "weight %s for %s must be between [-253..253] inclusive. Ignoring...", w[i], t.Name)
				continue
			}
			t.Weight, t.HasWeight = n, true
		case "reverse", "noreverse":
			t.Reverse = w[i] == "reverse"
		default:
			p.report(ExitConfigErrors, l, w[i], "%s: unknown option '%s'", t.Name, w[i])
		}
	}
	return true
}

// UnicastPeer is a line of unicast_peer: `ADDR [min_ttl N] [max_ttl N]`.
type UnicastPeer struct {
	Pos    Pos        `json:"pos"`
	Addr   netip.Addr `json:"addr"`
	MinTTL int        `json:"min_ttl,omitempty"`
	MaxTTL int        `json:"max_ttl,omitempty"`
}

func (u *UnicastPeer) parseLine(p *parser, l Line) bool {
	w := l.Words()
	addr, err := netip.ParseAddr(w[0])
	if err != nil {
		p.report(ExitConfigErrors, l, w[0], "malformed unicast peer address[%s]. Skipping...", w[0])
		return false
	}
	*u = UnicastPeer{Pos: Pos{l.File, l.Num}, Addr: addr}
	for i := 1; i+1 < len(w); i += 2 {
		n, err := strconv.Atoi(w[i+1])
		if err != nil || n < 0 || n > 255 {
			p.report(ExitConfigErrors, l, w[i], "unicast_peer %s: invalid %s '%s'", w[0], w[i], w[i+1])
			continue
		}
		switch w[i] {
		case "min_ttl":
			u.MinTTL = n
		case "max_ttl":
			u.MaxTTL = n
		default:
			p.report(ExitConfigErrors, l, w[i], "unicast_peer %s: unknown option '%s'", w[0], w[i])
		}
	}
	return true
}

// VSGEntry is a line of a virtual_server_group: `ADDR[-END|/LEN] [PORT]` or
// `fwmark N [inet|inet6]`.
type VSGEntry struct {
	Pos    Pos    `json:"pos"`
	Range  string `json:"range,omitempty"` // the address as written
	Port   int    `json:"port,omitempty"`
	Fwmark int    `json:"fwmark,omitempty"`
	Family string `json:"family,omitempty"`
	// Start and End are the first and last addresses of Range.
	Start netip.Addr `json:"-"`
	End   netip.Addr `json:"-"`
}

// Same says whether two entries name the same services (keepalived's
// vsge_iseq: addresses, port and fwmark; not where they are written).
func (e VSGEntry) Same(o VSGEntry) bool {
	return e.Fwmark == o.Fwmark && e.Port == o.Port && e.Start == o.Start && e.End == o.End && e.Family == o.Family
}

func (e *VSGEntry) parseLine(p *parser, l Line) bool {
	w := l.Words()
	*e = VSGEntry{Pos: Pos{l.File, l.Num}}
	if w[0] == "fwmark" {
		if len(w) < 2 {
			p.report(ExitConfigErrors, l, "fwmark", "virtual server group fwmark missing its value")
			return false
		}
		n, err := strconv.ParseUint(w[1], 10, 32)
		if err != nil {
			p.report(ExitConfigErrors, l, "fwmark", "virtual server group fwmark '%s' is invalid", w[1])
			return false
		}
		e.Fwmark = int(n)
		if len(w) > 2 {
			e.Family = w[2]
		}
		return true
	}
	return e.parseAddress(p, l, w)
}

// parseAddress reads `ADDR[-END|/LEN] [PORT]` as keepalived 2.2.7's
// alloc_vsg_entry (check/check_data.c) does, with its messages. END is
// either the last part of the address (the last byte of an IPv4 address,
// the last 16 bits of an IPv6 one, in hex) or a whole address; Start and
// End are the first and last addresses.
func (e *VSGEntry) parseAddress(p *parser, l Line, w []string) bool {
	addrStr, portStr := w[0], ""
	if len(w) >= 2 && strings.Trim(w[1], "0") != "" {
		portStr = w[1] // a port of only zeros is no port
	}
	bad := func(format string, args ...any) bool {
		p.report(ExitConfigErrors, l, w[0], format, args...)
		return false
	}
	ap, msg, ok := kaAddrPort(addrStr, portStr)
	if !ok {
		if msg != "" {
			bad("%s", msg)
		}
		if portStr != "" {
			return bad("Invalid virtual server group IP address %s /port/%s - skipping", addrStr, portStr)
		}
		return bad("Invalid virtual server group IP address %s  - skipping", addrStr)
	}
	e.Range, e.Port = addrStr, int(ap.Port())
	start := ap.Addr()
	end := start
	if _, maskStr, isMask := strings.Cut(addrStr, "/"); isMask {
		mask, n := strtol(maskStr, 10)
		if n != len(maskStr) || maskStr == "" || maskStr[0] == '-' || mask == 0 || mask > int64(start.BitLen()) {
			return bad("Invalid netmask - %s - skipping", addrStr)
		}
		pfx := netip.PrefixFrom(start, int(mask))
		if pfx.Masked().Addr() != start {
			return bad("Address mask bits not empty - %s - skipping", addrStr)
		}
		end = lastAddr(pfx)
	} else if _, endStr, isRange := strings.Cut(addrStr, "-"); isRange {
		sep := "."
		if start.Is6() {
			sep = ":"
		}
		if strings.Contains(endStr, sep) {
			// A whole address.
			a, _, ok := kaAddrPort(endStr, portStr)
			switch {
			case !ok:
				return bad("Invalid range end %s - skipping", addrStr)
			case a.Addr().Is6() != start.Is6():
				return bad("Range address families do not match %s - skipping", addrStr)
			case a.Addr().Less(start):
				return bad("Address range end is less than address range start - %s - skipping", addrStr)
			}
			end = a.Addr()
		} else {
			// inet_stor (lib/utils.c): the last byte (IPv4, decimal) or
			// the last 16 bits (IPv6, hex).
			bits, base, max := 8, 10, uint64(255)
			if strings.Contains(addrStr, ":") {
				bits, base, max = 16, 16, 0xffff
			}
			n, used, erange := cStrtoul(endStr, base)
			switch {
			case used != len(endStr):
				// In -t mode keepalived then skips the entry (and warns
				// and keeps it otherwise).
				return bad("Virtual server group range '%s' has extra characters at end '%s'", addrStr, endStr[used:])
			case erange || n > max:
				return bad("Virtual server group range '%s' end '%s' too large", addrStr, endStr)
			}
			b := start.AsSlice()
			first := uint64(b[len(b)-1])
			if bits == 16 {
				first = uint64(b[len(b)-2])<<8 | first
				b[len(b)-2] = byte(n >> 8)
			}
			b[len(b)-1] = byte(n)
			if first >= n {
				return bad("Address range end is not greater than address range start - %s - skipping", addrStr)
			}
			end, _ = netip.AddrFromSlice(b)
		}
	}
	e.Start, e.End = start, end
	return true
}

// lastAddr is the last address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// cStrtoul is C strtoul(s, &end, base) for base 10 or 16 without a 0x
// prefix: leading white space, a sign, digits. used is how much was read
// (0 if no digits); erange an overflow of 64 bits.
func cStrtoul(s string, base int) (val uint64, used int, erange bool) {
	i := 0
	for i < len(s) && strings.IndexByte(lexWhiteSpace, s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for ; i < len(s); i++ {
		d := hexDigit(s[i])
		if d < 0 || d >= base {
			break
		}
		if val > (^uint64(0)-uint64(d))/uint64(base) {
			erange = true
		}
		val = val*uint64(base) + uint64(d)
	}
	if i == start {
		return 0, 0, false
	}
	if neg && !erange {
		val = -val
	}
	return val, i, erange
}

// parseBody reads a virtual_server_group's entries: its block is a value
// block, not keywords.
func (g *VirtualServerGroup) parseBody(p *parser, opener Line) {
	p.readValueBlock(reflectValueOf(&g.Entries), opener)
}
