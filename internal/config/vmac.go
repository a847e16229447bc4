package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// VMACWords reads use_vmac's words as keepalived 2.2.7's vrrp_vmac_handler
// (vrrp_parser.c) does: of the first two, one with ':' is the MAC (5
// octets: the VRID will be the sixth), another the interface name. A word
// it refuses is left out, with keepalived's message in problems.
func VMACWords(words []string) (name string, mac net.HardwareAddr, problems []string) {
	for i, w := range words {
		if i >= 2 {
			break
		}
		if !strings.Contains(w, ":") {
			switch {
			case name != "":
				problems = append(problems, "VMAC interface name already specified")
			case !validIfName(w):
				problems = append(problems, fmt.Sprintf("VMAC interface name '%s' too long or invalid characters - ignoring", w))
			default:
				name = w
			}
			continue
		}
		if mac != nil {
			problems = append(problems, "VMAC interface address already specified")
			continue
		}
		if strings.Trim(w, "0123456789ABCDEFabcdef:") != "" {
			problems = append(problems, "VMAC invalid MAC address "+w)
			continue
		}
		m, err := ParseVMACAddr(w)
		switch {
		case err != nil:
			problems = append(problems, "VMAC invalid MAC address "+w+" - ignored")
		case m[0]&1 != 0:
			problems = append(problems, "VMAC MAC address is multicast "+w+" - ignoring")
		case m[0] == 0 && m[1] == 0 && m[2] == 0x5e && m[3] == 0 && (m[4] == 1 || m[4] == 2):
			problems = append(problems, "VMAC MAC address not allowed to be RFC5798 address ("+w+") - ignoring")
		default:
			mac = m
		}
	}
	return name, mac, problems
}

// validIfName is the kernel's dev_valid_name.
func validIfName(s string) bool {
	return s != "" && len(s) < 16 && s != "." && s != ".." && !strings.ContainsAny(s, "/: \t\n")
}

// ParseVMACAddr reads a MAC of 6 hex octets, or of 5 (with or without a
// trailing ':'), to which the VRID is to be appended.
func ParseVMACAddr(s string) (net.HardwareAddr, error) {
	parts := strings.Split(strings.TrimSuffix(s, ":"), ":")
	if len(parts) != 5 && len(parts) != 6 || (len(parts) == 6 && strings.HasSuffix(s, ":")) {
		return nil, errors.New("want 5 or 6 octets")
	}
	out := make(net.HardwareAddr, 0, 6)
	for _, p := range parts {
		if len(p) == 0 || len(p) > 2 {
			return nil, fmt.Errorf("octet %q", p)
		}
		b, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return nil, err
		}
		out = append(out, byte(b))
	}
	return out, nil
}

// IPvlanWords reads use_ipvlan's words as vrrp_ipvlan_handler does: the
// type (bridge, private or vepa), the address (ADDR[/LEN]) and the name,
// in any order; each problem is keepalived's message for instance iname.
func IPvlanWords(iname string, words []string) (name string, addr netip.Prefix, flag string, problems []string) {
	for _, w := range words {
		switch w {
		case "bridge", "private", "vepa":
			if flag != "" {
				problems = append(problems, fmt.Sprintf("(%s) ipvlan type already specified - ignoring '%s'", iname, w))
			} else {
				flag = w
			}
			continue
		}
		if p, ok := parseAddrPrefix(w); ok {
			if addr.IsValid() {
				problems = append(problems, fmt.Sprintf("(%s) ipvlan address already specified - ignoring '%s'", iname, w))
			} else {
				addr = p
			}
			continue
		}
		switch {
		case name != "":
			problems = append(problems, fmt.Sprintf("(%s) IPVLAN interface already specified - ignoring '%s'", iname, w))
		case len(w) >= 16:
			problems = append(problems, fmt.Sprintf("(%s) IPVLAN interface name '%s' too long - ignoring", iname, w))
		default:
			name = w
		}
	}
	return name, addr, flag, problems
}

// parseAddrPrefix reads ADDR or ADDR/LEN (a bare address is a host
// prefix).
func parseAddrPrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}
