package checkd

import (
	"net/netip"
	"strings"

	"github.com/keepalived-go/keepalived-go/internal/check"
	"github.com/keepalived-go/keepalived-go/internal/config"
)

// udpChecker is a UDP_CHECK block's probe. A payload or reply that
// validation found invalid is ignored, as keepalived ignores it
// (check_udp.c payload_handler, require_reply_handler): the default
// payload is sent, and any reply will do.
func udpChecker(c *config.Checker, rs netip.AddrPort) *check.UDP {
	u := &check.UDP{Conn: connOf(c, rs), RequireReply: c.IsSet("require_reply"),
		MinReplyLength: 0, MaxReplyLength: check.DefaultUDPMaxReplyLength}
	if data, _, ok := check.ParseHex(strings.Join(c.Payload, " "), false); ok {
		u.Payload = data
	}
	if data, mask, ok := check.ParseHex(strings.Join(c.RequireReply, " "), true); ok {
		u.Reply, u.ReplyMask = data, mask
	}
	// Out-of-range lengths were reported and are ignored.
	if c.IsSet("min_reply_length") && c.MinReplyLength >= 0 && c.MinReplyLength <= 65535 {
		u.MinReplyLength = c.MinReplyLength
	}
	if c.IsSet("max_reply_length") && c.MaxReplyLength >= 0 && c.MaxReplyLength <= 65535 {
		u.MaxReplyLength = c.MaxReplyLength
	}
	return u
}

// dnsChecker is a DNS_CHECK block's probe: an unknown type or a name that
// validation refused leaves keepalived's default (SOA, the root), as
// check_dns.c dns_type_handler and dns_name_handler do.
func dnsChecker(c *config.Checker, rs netip.AddrPort) *check.DNS {
	d := &check.DNS{Conn: connOf(c, rs), Type: check.DNSTypes["SOA"]}
	if t, ok := check.DNSTypes[strings.ToUpper(c.Type)]; ok {
		d.Type = t
	}
	if c.IsSet("name") && !dnsNameRefused(c.Name) {
		d.Name = c.Name
	}
	return d
}

// dnsNameRefused is check_dns.c dns_name_handler's test for an empty
// label, bug for bug as validation reports it (a one-character first
// label, "a.example", is refused too).
func dnsNameRefused(name string) bool {
	if len(name) > 1 && name[0] == '.' {
		return true
	}
	for p := 0; p >= 0; {
		if p+1 < len(name) && name[p+1] == '.' {
			return true
		}
		i := -1
		if p+1 < len(name) {
			i = strings.IndexByte(name[p+1:], '.')
		}
		if i < 0 {
			break
		}
		p += 1 + i
	}
	return false
}

// pingChecker is a PING_CHECK block's probe.
func pingChecker(c *config.Checker, rs netip.AddrPort) *check.Ping {
	return &check.Ping{Conn: connOf(c, rs)}
}
