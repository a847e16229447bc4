package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Value readers that behave as keepalived 2.2.7's (lib/parser.c,
// lib/utils.c), so that the checker area accepts and rejects what the real
// one does. Each returns, on failure, the reader's own message ("negative
// number '-1'", ...), which keepalived prints before the keyword's message.

const maxUint32 = math.MaxUint32

// kaUnsigned is read_unsigned: a decimal unsigned number in [lo, hi].
func kaUnsigned(s string, lo, hi uint64) (uint64, string) {
	t := trimLeftBlanks(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Sprintf("negative number '%s'", s)
	}
	t = strings.TrimPrefix(t, "+")
	digits := 0
	for digits < len(t) && isDigit(t[digits]) {
		digits++
	}
	if digits != len(t) {
		return 0, fmt.Sprintf("invalid number '%s'", s)
	}
	if t == "" {
		t = "0"
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n > maxUint32 {
		return 0, fmt.Sprintf("number '%s' outside unsigned integer range", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Sprintf("number '%s' outside range [%d, %d]", s, lo, hi)
	}
	return n, ""
}

// intRange is the reader's message for an int field already read by the
// parser: "" if n is in [lo, hi] (both within the unsigned range).
func intRange(n int, lo, hi int64) string {
	s := strconv.Itoa(n)
	if lo >= 0 {
		_, msg := kaUnsigned(s, uint64(lo), uint64(hi))
		return msg
	}
	if int64(n) < lo || int64(n) > hi {
		return fmt.Sprintf("number '%s' outside range [%d, %d]", s, lo, hi)
	}
	return ""
}

// timerRange is read_timer's check of a timer already read by the parser:
// "" if t is in [lo, hi] seconds (hi 0: no upper bound but the type's).
func timerRange(t Timer, lo, hi float64, hiText string) string {
	secs := time.Duration(t).Seconds()
	if secs < lo || (hi > 0 && secs > hi) {
		return fmt.Sprintf("number '%s' outside range [%f, %s]", t, lo, hiText)
	}
	return ""
}

// kaAddr is inet_stosockaddr's address part: the family is IPv6 if the
// text has a ':', anything from '-' or '/' on is ignored, and the address
// must then be what inet_pton accepts.
func kaAddr(s string) (netip.Addr, bool) {
	v6 := strings.Contains(s, ":")
	if i := strings.IndexAny(s, "-/"); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	if v6 != a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// kaAddrPort is inet_stosockaddr with a port: a port made only of zeros is
// no port, as keepalived treats it (port 0). It returns the reader's
// message for a bad port, and ok false for any error.
func kaAddrPort(ip, port string) (netip.AddrPort, string, bool) {
	var p uint64
	if strings.Trim(port, "0") != "" {
		var msg string
		if p, msg = kaUnsigned(port, 1, 65535); msg != "" {
			return netip.AddrPort{}, msg, false
		}
	}
	a, ok := kaAddr(ip)
	if !ok {
		return netip.AddrPort{}, "", false
	}
	return netip.AddrPortFrom(a, uint16(p)), "", true
}

// kaHex is read_hex_str: pairs of hex digits, spaces allowed between
// bytes, x/X a wildcard nibble when wildcards are allowed. keepalived
// 2.2.7 also rejects a string whose last byte is 0xff (it tests the last
// value against its error marker); 2.3.3 fixed that (e7bf4d16) and so
// does keepalived-go, so that "payload 00ff" is not "Invalid hex string"
// as 2.2.7 reports.
func kaHex(s string, wildcard bool) bool {
	val := func(c byte) int {
		if d := hexDigit(c); d >= 0 {
			return d
		}
		if wildcard && (c == 'x' || c == 'X') {
			return 0
		}
		return 0xff
	}
	n := 0
	for i := 0; ; {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		if val(s[i]) == 0xff {
			return false
		}
		i++
		if i < len(s) && s[i] != ' ' {
			if val(s[i]) == 0xff {
				return false
			}
			i++
		}
		n++
	}
	return n > 0
}

// lvsSchedulers are the lb_algo values keepalived 2.2.7 knows.
var lvsSchedulers = map[string]bool{"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "sh": true,
	"mh": true, "dh": true, "fo": true, "ovf": true, "lblcr": true, "sed": true, "nq": true, "twos": true}

// lvsMethods are the lb_kind / lvs_method values (case matters).
var lvsMethods = map[string]bool{"NAT": true, "DR": true, "TUN": true}

// dnsTypes are DNS_CHECK's type values (case does not matter).
var dnsTypes = []string{"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY"}

// dnsNameEmptyLabel is DNS_CHECK's check of its name, bug for bug: it also
// rejects a name whose first label is one character ("a.example").
func dnsNameEmptyLabel(name string) bool {
	if len(name) > 1 && name[0] == '.' {
		return true
	}
	for p := 0; p >= 0; {
		if p+1 < len(name) && name[p+1] == '.' {
			return true
		}
		next := -1
		if p+1 < len(name) {
			if i := strings.IndexByte(name[p+1:], '.'); i >= 0 {
				next = p + 1 + i
			}
		}
		p = next
	}
	return false
}

// statusCodeOK is one word of status_code: N or N-M within 100..599.
func statusCodeOK(w string) bool {
	lo, hi, isRange := strings.Cut(w, "-")
	a, err := strconv.ParseUint(lo, 10, 32)
	if err != nil {
		return false
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 32); err != nil {
			return false
		}
	}
	return a >= 100 && a <= 599 && b >= 100 && b <= 599 && a <= b
}

// posBefore tells whether a was written before b (positions in different
// files are taken as ordered, keepalived's order of inclusion being lost).
func posBefore(a, b Pos) bool {
	if a.File != b.File {
		return true
	}
	return a.Line < b.Line
}
