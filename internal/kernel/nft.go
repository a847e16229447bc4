package kernel

// The VRRP firewall: keepalived's no_accept mode.
//
// A VRRP master that does not own its VIPs (priority < 255) must not accept
// packets addressed to them unless accept mode is on (RFC 5798 §6.4.3;
// keepalived's `accept` / `no_accept`, and `vrrp_strict` turns accept off by
// default). keepalived enforces that with a firewall: in its Debian 2.2.7
// build, which has no iptables support, with nftables (vrrp_nftables.c).
// NFTFirewall (nft_linux.go) builds the same tables, chains, sets and rules
// over netlink with github.com/google/nftables; testdata/nft holds what
// keepalived 2.2.7 itself creates, and nft_test.go checks the two match.
//
// For IPv4 (table `ip keepalived`):
//
//	set vips { type ipv4_addr }
//	chain out { type filter hook output priority -1; policy accept; ip saddr @vips drop }
//	chain in  { type filter hook input priority -1; policy accept; ip daddr @vips drop }
//
// For IPv6 (table `ip6 keepalived`) the same, plus neighbour discovery
// always let through (so that peers can still resolve the VIP, and the
// master can still answer for it) and a detour for link-local VIPs, which
// are only unique per interface:
//
//	set vips { type ipv6_addr }
//	set neighbor-discovery { type icmpv6_type; flags constant; elements = { nd-neighbor-solicit, nd-neighbor-advert } }
//	set vips_link_local { type ipv6_addr . iface_index }      (with the first link-local VIP)
//	chain out { ...output...; icmpv6 type @neighbor-discovery accept; ip6 saddr fe80::/10 goto out_link_local; ip6 saddr @vips drop }
//	chain in  { ...input...;  icmpv6 type @neighbor-discovery accept; ip6 daddr fe80::/10 goto in_link_local;  ip6 daddr @vips drop }
//	chain in_link_local  { ip6 daddr . iif @vips_link_local drop }   (rule added with the first link-local VIP)
//	chain out_link_local { ip6 saddr . oif @vips_link_local drop }
//
// As keepalived does, a family's table is created when its first address
// is blocked, unblocking only removes set elements (the tables stay, with
// empty sets), old tables of the same name are deleted at start, and both
// tables are deleted at exit.

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Firewall drops traffic to and from virtual addresses: keepalived's
// no_accept mode (see the comment at the top of nft.go). NFTFirewall is the
// real one; FakeFirewall records calls for tests.
//
// Block and Unblock are idempotent and keyed by address (not reference
// counted): blocking a blocked address or unblocking one that is not
// blocked does nothing. IPv4-mapped IPv6 addresses count as IPv4. An IPv6
// link-local address must carry its interface as zone ("fe80::1%eth0", or
// the interface index "fe80::1%2"); it is blocked on that interface only.
// Zones of other addresses are ignored.
type Firewall interface {
	// Block drops packets to and from the addresses, on every interface
	// (IPv6 link-local: on the zone's interface).
	Block(addrs ...netip.Addr) error
	// Unblock stops dropping them.
	Unblock(addrs ...netip.Addr) error
	// Close removes the firewall (all its tables). The Firewall cannot be
	// used afterwards.
	Close() error
}

// NFTConfig configures NewNFTFirewall. The zero value is keepalived's
// default.
type NFTConfig struct {
	// Table names the `ip` and `ip6` tables: keepalived's global
	// `nftables [TABLE]`. Empty means DefaultNFTTable.
	Table string
	// Priority is the priority of the base chains `in` and `out`:
	// keepalived's `nftables_priority`. Nil means DefaultNFTPriority (-1,
	// just before the usual filter chains at 0).
	Priority *int32
	// Counters adds a counter to each rule: keepalived's
	// `nftables_counters`.
	Counters bool
}

// keepalived's defaults for `nftables` and `nftables_priority`.
const (
	DefaultNFTTable          = "keepalived"
	DefaultNFTPriority int32 = -1
)

// ErrFirewallClosed is returned by a Firewall's Block and Unblock after
// Close.
var ErrFirewallClosed = errors.New("kernel: firewall closed")

// normalize fills in the defaults and validates the table name.
func (c NFTConfig) normalize() (NFTConfig, int32, error) {
	if c.Table == "" {
		c.Table = DefaultNFTTable
	}
	// NFT_NAME_MAXLEN is 256 including the NUL.
	if len(c.Table) > 255 || strings.IndexByte(c.Table, 0) >= 0 {
		return c, 0, fmt.Errorf("kernel: nftables: invalid table name %q", c.Table)
	}
	prio := DefaultNFTPriority
	if c.Priority != nil {
		prio = *c.Priority
	}
	return c, prio, nil
}

// FakeFirewall is an in-memory Firewall for tests above the kernel layer.
// The zero value is ready to use.
type FakeFirewall struct {
	mu      sync.Mutex
	blocked map[netip.Addr]bool
	closed  bool
	// Err, when set, is returned by Block and Unblock (which then change
	// nothing).
	Err error
}

var _ Firewall = (*FakeFirewall)(nil)

// fakeKey normalizes an address as NFTFirewall does, except that a
// link-local zone is kept as given rather than resolved to an index.
func fakeKey(a netip.Addr) (netip.Addr, error) {
	if !a.IsValid() {
		return a, errors.New("kernel: firewall: invalid address")
	}
	a = a.Unmap()
	if a.Is6() && a.IsLinkLocalUnicast() {
		if a.Zone() == "" {
			return a, fmt.Errorf("kernel: firewall: link-local address %v needs a zone (its interface)", a)
		}
		return a, nil
	}
	return a.WithZone(""), nil
}

func (f *FakeFirewall) update(block bool, addrs []netip.Addr) error {
	keys := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		k, err := fakeKey(a)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrFirewallClosed
	}
	if f.Err != nil {
		return f.Err
	}
	if f.blocked == nil {
		f.blocked = map[netip.Addr]bool{}
	}
	for _, k := range keys {
		if block {
			f.blocked[k] = true
		} else {
			delete(f.blocked, k)
		}
	}
	return nil
}

// Block records the addresses as blocked.
func (f *FakeFirewall) Block(addrs ...netip.Addr) error { return f.update(true, addrs) }

// Unblock records the addresses as not blocked.
func (f *FakeFirewall) Unblock(addrs ...netip.Addr) error { return f.update(false, addrs) }

// Close clears the blocked addresses; later Blocks and Unblocks fail.
func (f *FakeFirewall) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.blocked = nil
	return nil
}

// Blocked lists the blocked addresses, sorted (link-local ones with their
// zone).
func (f *FakeFirewall) Blocked() []netip.Addr {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]netip.Addr, 0, len(f.blocked))
	for a := range f.blocked {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// IsBlocked reports whether addr (normalized as Block does) is blocked.
func (f *FakeFirewall) IsBlocked(addr netip.Addr) bool {
	k, err := fakeKey(addr)
	if err != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked[k]
}
