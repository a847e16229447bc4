//go:build linux

package kernel

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NFTFirewall is the nftables Firewall, built as keepalived 2.2.7 builds it
// (see the comment at the top of nft.go). Create one per daemon with
// NewNFTFirewall; it is safe for concurrent use.
//
// It works in the network namespace of the thread that called
// NewNFTFirewall, whichever thread later calls its methods: each change is
// one nfnetlink batch (one atomic transaction) on a fresh netlink socket
// opened in that namespace.
//
// If a change fails (say an administrator ran `nft flush ruleset`, so the
// table is gone), the family's table is rebuilt from the addresses that
// should be blocked, atomically (delete and re-create in one transaction);
// if that fails too, the error is returned and the next Block or Unblock
// tries the rebuild again.
type NFTFirewall struct {
	mu     sync.Mutex
	cfg    NFTConfig
	prio   int32
	ns     netns.NsHandle
	fams   [2]*nftFamily // ip, ip6
	closed bool
}

var _ Firewall = (*NFTFirewall)(nil)

// nftKey is one blocked address: a global address, or an IPv6 link-local
// address with its interface index.
type nftKey struct {
	addr    netip.Addr // unmapped, without zone
	ifindex uint32     // IPv6 link-local only
}

type nftFamily struct {
	family nftables.TableFamily
	want   map[nftKey]struct{} // what should be blocked
	// ready: the table, its chains, the vips set and the rules exist, as
	// far as we know. llReady: vips_link_local and its rules exist too.
	ready, llReady bool
	// dirty: the last change failed; rebuild before the next.
	dirty bool
}

// keepalived's names (vrrp_nftables.c).
const (
	nftChainIn     = "in"
	nftChainOut    = "out"
	nftChainInLL   = "in_link_local"
	nftChainOutLL  = "out_link_local"
	nftSetVIPs     = "vips"
	nftSetVIPsLL   = "vips_link_local"
	nftSetNeighbor = "neighbor-discovery"
)

// Set IDs only need to be unique within one batch; fixed ones avoid the
// library's process-wide counter.
const (
	nftIDVIPs = iota + 1
	nftIDNeighbor
	nftIDVIPsLL
)

// nftTypeIP6IfIndex is the key type of vips_link_local: ipv6_addr .
// iface_index, 20 bytes.
var nftTypeIP6IfIndex = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeIFIndex)

// NewNFTFirewall prepares the firewall in the calling thread's network
// namespace and deletes any `ip` and `ip6` tables of the configured name
// left over from an earlier run, as keepalived does at startup. Tables are
// created when the first address of their family is blocked.
func NewNFTFirewall(cfg NFTConfig) (*NFTFirewall, error) {
	cfg, prio, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("kernel: nftables: current network namespace: %w", err)
	}
	f := &NFTFirewall{
		cfg:  cfg,
		prio: prio,
		ns:   ns,
		fams: [2]*nftFamily{
			{family: nftables.TableFamilyIPv4, want: map[nftKey]struct{}{}},
			{family: nftables.TableFamilyIPv6, want: map[nftKey]struct{}{}},
		},
	}
	if err := f.deleteTables(); err != nil {
		ns.Close()
		return nil, fmt.Errorf("kernel: nftables: deleting old tables: %w", err)
	}
	return f, nil
}

// Block adds the addresses to the drop sets, creating the family's table on
// first use. Addresses already blocked are skipped.
func (f *NFTFirewall) Block(addrs ...netip.Addr) error {
	return f.update(true, addrs)
}

// Unblock removes the addresses from the drop sets; the tables stay.
// Addresses that are not blocked are skipped.
func (f *NFTFirewall) Unblock(addrs ...netip.Addr) error {
	return f.update(false, addrs)
}

// Close deletes the `ip` and `ip6` tables, as keepalived does when it
// stops. A second Close does nothing.
func (f *NFTFirewall) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	err := f.deleteTables()
	if cerr := f.ns.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("kernel: nftables: deleting tables: %w", err)
	}
	return nil
}

func (f *NFTFirewall) update(block bool, addrs []netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrFirewallClosed
	}
	keys, err := f.keys(addrs)
	if err != nil {
		return err
	}
	var errs []error
	for i, fam := range f.fams {
		var change []nftKey
		for _, k := range keys[i] {
			if _, ok := fam.want[k]; ok != block {
				change = append(change, k)
			}
		}
		if len(change) == 0 && !fam.dirty {
			continue
		}
		for _, k := range change {
			if block {
				fam.want[k] = struct{}{}
			} else {
				delete(fam.want, k)
			}
		}
		if err := f.apply(fam, block, change); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// keys normalizes addresses and splits them by family (0 ip, 1 ip6),
// without duplicates. Called with f.mu held (it uses f.ns).
func (f *NFTFirewall) keys(addrs []netip.Addr) ([2][]nftKey, error) {
	var out [2][]nftKey
	seen := map[nftKey]bool{}
	var h *netlink.Handle
	defer func() {
		if h != nil {
			h.Close()
		}
	}()
	for _, a := range addrs {
		if !a.IsValid() {
			return out, errors.New("kernel: nftables: invalid address")
		}
		a = a.Unmap()
		k := nftKey{addr: a.WithZone("")}
		fi := 0
		if a.Is6() {
			fi = 1
			if a.IsLinkLocalUnicast() {
				zone := a.Zone()
				if zone == "" {
					return out, fmt.Errorf("kernel: nftables: link-local address %v needs a zone (its interface)", a)
				}
				if n, err := strconv.ParseUint(zone, 10, 32); err == nil && n > 0 {
					k.ifindex = uint32(n)
				} else {
					if h == nil {
						var err error
						if h, err = netlink.NewHandleAt(f.ns); err != nil {
							return out, fmt.Errorf("kernel: nftables: %w", err)
						}
					}
					link, err := h.LinkByName(zone)
					var nf netlink.LinkNotFoundError
					if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
						return out, fmt.Errorf("kernel: nftables: %v: %w %q", a, ErrNoInterface, zone)
					} else if err != nil {
						return out, fmt.Errorf("kernel: nftables: %v: interface %q: %w", a, zone, err)
					}
					k.ifindex = uint32(link.Attrs().Index)
				}
			}
		}
		if !seen[k] {
			seen[k] = true
			out[fi] = append(out[fi], k)
		}
	}
	return out, nil
}

// apply makes the kernel match fam.want after change was added to (block)
// or removed from it: incrementally when possible, else by a rebuild.
func (f *NFTFirewall) apply(fam *nftFamily, block bool, change []nftKey) error {
	var first error
	if fam.ready && !fam.dirty {
		if first = f.delta(fam, block, change); first == nil {
			return nil
		}
	} else if !fam.ready && !fam.dirty && !block {
		return nil // no table, nothing blocked
	}
	if err := f.rebuild(fam); err != nil {
		fam.dirty = true
		return fmt.Errorf("kernel: nftables: %s %s: %w", familyName(fam.family), f.cfg.Table, errors.Join(first, err))
	}
	fam.dirty = false
	return nil
}

// conn returns a new Conn for one batch: no socket is opened until Flush,
// which opens one in f.ns and closes it again, and nothing queued on it
// (even after an error) can leak into the next batch.
func (f *NFTFirewall) conn() (*nftables.Conn, error) {
	return nftables.New(nftables.WithNetNSFd(int(f.ns)))
}

// delta adds or deletes set elements in a table that exists.
func (f *NFTFirewall) delta(fam *nftFamily, block bool, change []nftKey) error {
	c, err := f.conn()
	if err != nil {
		return err
	}
	t := f.table(fam.family)
	var global, ll []nftables.SetElement
	for _, k := range change {
		if k.ifindex == 0 {
			global = append(global, nftElement(k))
		} else {
			ll = append(ll, nftElement(k))
		}
	}
	newLL := false
	if block {
		if len(ll) > 0 && !fam.llReady {
			if err := f.addLinkLocal(c, t); err != nil {
				return err
			}
			newLL = true
		}
		if len(global) > 0 {
			if err := c.SetAddElements(f.vipsSet(t), global); err != nil {
				return err
			}
		}
		if len(ll) > 0 {
			if err := c.SetAddElements(f.vipsLLSet(t), ll); err != nil {
				return err
			}
		}
	} else {
		if len(global) > 0 {
			if err := c.SetDeleteElements(f.vipsSet(t), global); err != nil {
				return err
			}
		}
		if len(ll) > 0 && fam.llReady {
			if err := c.SetDeleteElements(f.vipsLLSet(t), ll); err != nil {
				return err
			}
		}
	}
	if err := c.Flush(); err != nil {
		return err
	}
	if newLL {
		fam.llReady = true
	}
	return nil
}

// rebuild replaces the family's table, in one transaction, by one holding
// exactly fam.want; with nothing to block it just deletes the table.
func (f *NFTFirewall) rebuild(fam *nftFamily) error {
	fam.ready, fam.llReady = false, false
	c, err := f.conn()
	if err != nil {
		return err
	}
	exists, err := f.tableExists(c, fam.family)
	if err != nil {
		return err
	}
	t := f.table(fam.family)
	if exists {
		c.DelTable(t)
	}
	if len(fam.want) == 0 {
		if !exists {
			return nil
		}
		return c.Flush()
	}
	var global, ll []nftables.SetElement
	for k := range fam.want {
		if k.ifindex == 0 {
			global = append(global, nftElement(k))
		} else {
			ll = append(ll, nftElement(k))
		}
	}
	if err := f.addBase(c, t); err != nil {
		return err
	}
	if len(ll) > 0 {
		if err := f.addLinkLocal(c, t); err != nil {
			return err
		}
	}
	if len(global) > 0 {
		if err := c.SetAddElements(f.vipsSet(t), global); err != nil {
			return err
		}
	}
	if len(ll) > 0 {
		if err := c.SetAddElements(f.vipsLLSet(t), ll); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return err
	}
	fam.ready, fam.llReady = true, len(ll) > 0
	return nil
}

func (f *NFTFirewall) tableExists(c *nftables.Conn, family nftables.TableFamily) (bool, error) {
	tables, err := c.ListTablesOfFamily(family)
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		if t.Name == f.cfg.Table {
			return true, nil
		}
	}
	return false, nil
}

// deleteTables deletes both tables, each in its own transaction; a missing
// table is not an error.
func (f *NFTFirewall) deleteTables() error {
	var errs []error
	for _, fam := range f.fams {
		c, err := f.conn()
		if err != nil {
			return err
		}
		c.DelTable(f.table(fam.family))
		if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("%s %s: %w", familyName(fam.family), f.cfg.Table, err))
		}
		fam.ready, fam.llReady, fam.dirty = false, false, false
	}
	return errors.Join(errs...)
}

func familyName(family nftables.TableFamily) string {
	if family == nftables.TableFamilyIPv6 {
		return "ip6"
	}
	return "ip"
}

func (f *NFTFirewall) table(family nftables.TableFamily) *nftables.Table {
	return &nftables.Table{Name: f.cfg.Table, Family: family}
}

func (f *NFTFirewall) vipsSet(t *nftables.Table) *nftables.Set {
	s := &nftables.Set{Table: t, Name: nftSetVIPs, ID: nftIDVIPs, KeyType: nftables.TypeIPAddr}
	if t.Family == nftables.TableFamilyIPv6 {
		s.KeyType = nftables.TypeIP6Addr
	}
	return s
}

func (f *NFTFirewall) vipsLLSet(t *nftables.Table) *nftables.Set {
	// keepalived gives the concatenated type without NFT_SET_CONCAT.
	return &nftables.Set{Table: t, Name: nftSetVIPsLL, ID: nftIDVIPsLL, KeyType: nftTypeIP6IfIndex}
}

func nftElement(k nftKey) nftables.SetElement {
	if k.addr.Is4() {
		a := k.addr.As4()
		return nftables.SetElement{Key: a[:]}
	}
	a := k.addr.As16()
	key := a[:]
	if k.ifindex != 0 {
		// meta iif/oif load the index in host byte order.
		key = append(key, binaryutil.NativeEndian.PutUint32(k.ifindex)...)
	}
	return nftables.SetElement{Key: key}
}

// Offsets in the IPv4 and IPv6 headers.
const (
	ipv4Saddr  = 12
	ipv4Daddr  = 16
	ipv6Next   = 6
	ipv6Saddr  = 8
	ipv6Daddr  = 24
	icmpv6Type = 0
)

// addBase queues what keepalived creates with a family's first VIP, in
// keepalived's order (which also gives the same handles): the table, the
// base chains out and in, for IPv6 the link-local chains, the sets, and
// the rules.
func (f *NFTFirewall) addBase(c *nftables.Conn, t *nftables.Table) error {
	c.AddTable(t)
	accept := nftables.ChainPolicyAccept
	base := func(name string, hook *nftables.ChainHook) {
		c.AddChain(&nftables.Chain{
			Name:     name,
			Table:    t,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  hook,
			Priority: nftables.ChainPriorityRef(nftables.ChainPriority(f.prio)),
			Policy:   &accept,
		})
	}
	base(nftChainOut, nftables.ChainHookOutput)
	base(nftChainIn, nftables.ChainHookInput)
	if t.Family == nftables.TableFamilyIPv4 {
		if err := c.AddSet(f.vipsSet(t), nil); err != nil {
			return err
		}
		f.addRule(c, t, nftChainIn, f.vipsMatch(t, ipv4Daddr), drop())
		f.addRule(c, t, nftChainOut, f.vipsMatch(t, ipv4Saddr), drop())
		return nil
	}
	c.AddChain(&nftables.Chain{Name: nftChainInLL, Table: t})
	c.AddChain(&nftables.Chain{Name: nftChainOutLL, Table: t})
	if err := c.AddSet(f.vipsSet(t), nil); err != nil {
		return err
	}
	nd := &nftables.Set{Table: t, Name: nftSetNeighbor, ID: nftIDNeighbor, KeyType: nftables.TypeICMP6Type, Constant: true}
	if err := c.AddSet(nd, nil); err != nil {
		return err
	}
	if err := c.SetAddElements(nd, []nftables.SetElement{
		{Key: []byte{135}}, // nd-neighbor-solicit
		{Key: []byte{136}}, // nd-neighbor-advert
	}); err != nil {
		return err
	}
	ndMatch := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: ipv6Next, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: icmpv6Type, Len: 1},
		&expr.Lookup{SourceRegister: 1, SetName: nftSetNeighbor, SetID: nftIDNeighbor},
	}
	accepted := &expr.Verdict{Kind: expr.VerdictAccept}
	f.addRule(c, t, nftChainIn, ndMatch, accepted)
	f.addRule(c, t, nftChainIn, linkLocalMatch(ipv6Daddr), &expr.Verdict{Kind: expr.VerdictGoto, Chain: nftChainInLL})
	f.addRule(c, t, nftChainOut, ndMatch, accepted)
	f.addRule(c, t, nftChainOut, linkLocalMatch(ipv6Saddr), &expr.Verdict{Kind: expr.VerdictGoto, Chain: nftChainOutLL})
	f.addRule(c, t, nftChainIn, f.vipsMatch(t, ipv6Daddr), drop())
	f.addRule(c, t, nftChainOut, f.vipsMatch(t, ipv6Saddr), drop())
	return nil
}

// addLinkLocal queues the vips_link_local set and its two rules, which
// keepalived adds with the first link-local VIP.
func (f *NFTFirewall) addLinkLocal(c *nftables.Conn, t *nftables.Table) error {
	if err := c.AddSet(f.vipsLLSet(t), nil); err != nil {
		return err
	}
	match := func(offset uint32, key expr.MetaKey) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 16},
			&expr.Meta{Key: key, Register: 2},
			&expr.Lookup{SourceRegister: 1, SetName: nftSetVIPsLL, SetID: nftIDVIPsLL},
		}
	}
	f.addRule(c, t, nftChainInLL, match(ipv6Daddr, expr.MetaKeyIIF), drop())
	f.addRule(c, t, nftChainOutLL, match(ipv6Saddr, expr.MetaKeyOIF), drop())
	return nil
}

// vipsMatch loads an address (4 or 16 bytes at offset) and looks it up in
// vips.
func (f *NFTFirewall) vipsMatch(t *nftables.Table, offset uint32) []expr.Any {
	n := uint32(4)
	if t.Family == nftables.TableFamilyIPv6 {
		n = 16
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: n},
		&expr.Lookup{SourceRegister: 1, SetName: nftSetVIPs, SetID: nftIDVIPs},
	}
}

// linkLocalMatch is `ip6 Xaddr fe80::/10` as keepalived 2.2.7 encodes it:
// a mask and a compare (later versions use a range).
func linkLocalMatch(offset uint32) []expr.Any {
	mask := make([]byte, 16)
	mask[0], mask[1] = 0xff, 0xc0
	want := make([]byte, 16)
	want[0], want[1] = 0xfe, 0x80
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 16},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 16, Mask: mask, Xor: make([]byte, 16)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: want},
	}
}

func drop() expr.Any { return &expr.Verdict{Kind: expr.VerdictDrop} }

// addRule appends match, a counter if configured, and verdict to chain.
func (f *NFTFirewall) addRule(c *nftables.Conn, t *nftables.Table, chain string, match []expr.Any, verdict expr.Any) {
	exprs := append([]expr.Any(nil), match...)
	if f.cfg.Counters {
		exprs = append(exprs, &expr.Counter{})
	}
	exprs = append(exprs, verdict)
	c.AddRule(&nftables.Rule{Table: t, Chain: &nftables.Chain{Name: chain, Table: t}, Exprs: exprs})
}
