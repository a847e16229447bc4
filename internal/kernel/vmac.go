//go:build linux

package kernel

// VMAC: keepalived's use_vmac. What keepalived 2.2.7 does (vrrp_vmac.c,
// vrrp_if_config.c at v2.2.7, and the captures in testdata/vmac/, made
// by testdata/vmac/capture.sh with Debian's keepalived 2.2.7):
//
//   - It creates a macvlan named "<vmac_prefix>.<VRID>" (vmac_prefix is
//     "vrrp" by default) or the name given to use_vmac, on the
//     instance's interface, mode private, MAC 00:00:5e:00:01:<VRID>
//     (IPv4) or 00:00:5e:00:02:<VRID> (IPv6), or the MAC given to
//     use_vmac (5 octets: the VRID is appended). An existing macvlan of
//     that name on the same parent with the right MAC and mode is reused;
//     one on another parent is deleted and recreated, one with the wrong
//     MAC or mode is updated in place. A non-macvlan of that name is an
//     error.
//   - IPv4 instance: on the VMAC (as one IFLA_INET_CONF netlink message)
//     arp_ignore=1, accept_local=1, rp_filter=0 and promote_secondaries=1;
//     on the parent arp_ignore=1 and arp_filter=1 unless both are 1
//     already. If net.ipv4.conf.all.rp_filter is not 0 it raises
//     default.rp_filter and every interface's rp_filter to all's value,
//     then sets all.rp_filter=0 (else rp_filter=0 on the VMAC would have
//     no effect), and puts them back on exit (each only if it still holds
//     the value keepalived wrote). IPv6 is disabled on the VMAC
//     (net.ipv6.conf.VMAC.disable_ipv6=1) unless the instance has IPv6
//     eVIPs.
//   - IPv6 instance: no IPv4 sysctl is touched, neither on the VMAC nor on
//     the parent; disable_ipv6=0.
//   - Both: IPv6 address generation mode none (IFLA_INET6_ADDR_GEN_MODE,
//     before the link goes up), so the kernel gives the VMAC no EUI-64
//     link-local address of its own (RFC 5798 §7.4), then link up.
//   - IPv6 instance without vmac_xmit_base: the VMAC gets a link-local
//     address /64 so that adverts go out from a non-VIP address with the
//     virtual MAC: the instance's configured source address if any, else
//     the parent's link-local address (the same address, so it is on two
//     interfaces), else the EUI-64 address made from the parent's MAC. It
//     is added as keepalived adds its IPv6 addresses: nodad, preferred
//     lifetime 0 (deprecated), valid forever.
//   - On exit the VMAC is deleted. keepalived's source restores the
//     parent's arp_ignore and arp_filter when its last VMAC on that parent
//     goes, but the 2.2.7 capture shows them left at 1 (the values it
//     "saves" are refreshed from netlink after it changed them). Delete
//     does restore the values found before the first VMAC.
//
//   - VRF: when the parent is enslaved to a VRF, the VMAC is enslaved to
//     the same VRF master (IFLA_MASTER in netlink_link_add_vmac), so that
//     its VIPs are in the VRF's table; a reused VMAC is moved to the
//     parent's VRF (or out of any).
//
// VMAC does all of that except the in-place update (a wrong VMAC is
// recreated), following the parent when it later moves to another VRF
// (keepalived's update_vmac_vrfs) and the firewall rules keepalived adds
// for VMACs (nftables vmac_map/vmac_set, dropping IGMP/MLD and router
// solicitations).

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VMACConfig configures CreateVMAC.
type VMACConfig struct {
	// Parent is the instance's interface (keepalived's "interface").
	Parent string
	// VRID is the virtual router ID, 1..255.
	VRID int
	// Family is 4 or 6; 0 means 4.
	Family int
	// Name is the VMAC's name; "" means VMACName("vrrp", VRID), as
	// keepalived names it without vmac_prefix.
	Name string
	// MAC overrides the virtual MAC (use_vmac's MAC_ADDRESS). With 5
	// octets the VRID is appended as the sixth. Nil means
	// 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6).
	MAC net.HardwareAddr
	// XmitBase is vmac_xmit_base: adverts go through the parent, so an
	// IPv6 VMAC gets no link-local address.
	XmitBase bool
	// Source, for IPv6 without XmitBase, is the link-local address to put
	// on the VMAC (the instance's mcast_src_ip); zero means the parent's
	// link-local address, or, if it has none, the EUI-64 address made
	// from the parent's MAC.
	Source netip.Addr
	// KeepIPv6: an IPv4 VMAC normally gets net.ipv6.conf.VMAC.disable_ipv6=1;
	// set this when the instance has IPv6 eVIPs on the VMAC.
	KeepIPv6 bool
}

// VMAC is a virtual MAC interface made by CreateVMAC. The zero VMAC is
// not one: its Name is "" and its Delete does nothing. Copies share
// state: deleting one deletes them all.
type VMAC struct{ st *vmacState }

type vmacState struct {
	key         string // ns + "/" + name
	ns          string
	name        string
	index       int
	mac         net.HardwareAddr
	parent      string
	parentIndex int
	family      int
	linkLocal   netip.Addr
	ipv4        bool // holds a parent and an rp_filter reference
	deleted     bool
}

// Name is the VMAC's interface name ("vrrp.51").
func (v VMAC) Name() string {
	if v.st == nil {
		return ""
	}
	return v.st.name
}

// Index is the VMAC's interface index.
func (v VMAC) Index() int {
	if v.st == nil {
		return 0
	}
	return v.st.index
}

// HardwareAddr is the virtual MAC (a copy).
func (v VMAC) HardwareAddr() net.HardwareAddr {
	if v.st == nil {
		return nil
	}
	return slices.Clone(v.st.mac)
}

// Parent is the name of the interface the VMAC sits on.
func (v VMAC) Parent() string {
	if v.st == nil {
		return ""
	}
	return v.st.parent
}

// LinkLocal is the link-local address CreateVMAC put on an IPv6 VMAC
// (the adverts' source address); zero for IPv4 and with XmitBase.
func (v VMAC) LinkLocal() netip.Addr {
	if v.st == nil {
		return netip.Addr{}
	}
	return v.st.linkLocal
}

// ErrVMACConflict is returned by CreateVMAC when an interface that is
// not a macvlan already has the VMAC's name.
var ErrVMACConflict = errors.New("interface exists and is not a macvlan")

// VMACName is keepalived's generated VMAC name: prefix + "." + VRID, with
// the prefix shortened so that the name fits IFNAMSIZ (15 characters).
// keepalived tries other names (vrrp6.VRID, vrrp1.VRID, ...) when the
// first is in use by another instance or interface; that choice is the
// caller's.
func VMACName(prefix string, vrid int) string {
	suffix := "." + strconv.Itoa(vrid)
	if len(prefix)+len(suffix) > unix.IFNAMSIZ-1 {
		prefix = prefix[:max(unix.IFNAMSIZ-1-len(suffix), 0)]
	}
	return prefix + suffix
}

// VMACHardwareAddr is the VMAC's MAC for a configuration: cfg.MAC (with
// the VRID appended when it has 5 octets), or the VRRP virtual router MAC
// of RFC 5798 §7.3.
func VMACHardwareAddr(cfg VMACConfig) (net.HardwareAddr, error) {
	switch len(cfg.MAC) {
	case 0:
		fam := byte(1)
		if cfg.Family == 6 {
			fam = 2
		}
		return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, fam, byte(cfg.VRID)}, nil
	case 5:
		return append(slices.Clone(cfg.MAC), byte(cfg.VRID)), nil
	case 6:
		return slices.Clone(cfg.MAC), nil
	}
	return nil, fmt.Errorf("mac %v: want 5 or 6 octets", cfg.MAC)
}

func (cfg *VMACConfig) normalize() error {
	if cfg.Parent == "" {
		return errors.New("no parent interface")
	}
	if cfg.VRID < 1 || cfg.VRID > 255 {
		return fmt.Errorf("vrid %d out of range 1..255", cfg.VRID)
	}
	switch cfg.Family {
	case 0:
		cfg.Family = 4
	case 4, 6:
	default:
		return fmt.Errorf("family %d, want 4 or 6", cfg.Family)
	}
	if cfg.Name == "" {
		cfg.Name = VMACName("vrrp", cfg.VRID)
	}
	if len(cfg.Name) > unix.IFNAMSIZ-1 || strings.ContainsAny(cfg.Name, "/ \t\n:") || cfg.Name == "." || cfg.Name == ".." {
		return fmt.Errorf("invalid interface name %q", cfg.Name)
	}
	if cfg.Name == cfg.Parent {
		return fmt.Errorf("vmac name %q is the parent's", cfg.Name)
	}
	mac, err := VMACHardwareAddr(*cfg)
	if err != nil {
		return err
	}
	if mac[0]&1 != 0 {
		return fmt.Errorf("mac %v is multicast", mac)
	}
	cfg.MAC = mac
	if cfg.Source.IsValid() {
		cfg.Source = cfg.Source.WithZone("")
		if !cfg.Source.Is6() || cfg.Source.Is4In6() {
			return fmt.Errorf("source %v is not IPv6", cfg.Source)
		}
	}
	return nil
}

// Process-wide bookkeeping of what VMACs changed, per network namespace,
// so that the last VMAC to go puts things back.
var (
	vmacMu      sync.Mutex
	vmacLive    = map[string]*vmacState{}     // ns/name
	vmacParents = map[string]*parentSysctls{} // ns/parent ifindex
	vmacRP      = map[string]*rpFilterState{} // ns
)

// parentSysctls is what the parent had before its first IPv4 VMAC.
type parentSysctls struct {
	refs                 int
	changed              bool
	arpIgnore, arpFilter int
}

// rpFilterState is keepalived's clear_rp_filter bookkeeping.
type rpFilterState struct {
	refs    int
	all     int         // all.rp_filter found; 0: nothing was changed
	dflt    int         // default.rp_filter found, -1 if not changed
	ifaces  map[int]int // ifindex -> rp_filter found, for those raised
	ifnames map[int]string
}

// CreateVMAC creates (or reuses) the VMAC for an instance, in the calling
// thread's network namespace, sets the sysctls keepalived sets and brings
// it up; see the comment at the top of vmac.go. It is idempotent: a
// correct existing macvlan is reused (calling it again for a live VMAC
// returns the same VMAC), a wrong one (other parent, MAC or mode) is
// deleted and created again. An interface of that name that is not a
// macvlan is left alone and ErrVMACConflict returned.
func CreateVMAC(cfg VMACConfig) (VMAC, error) {
	if err := cfg.normalize(); err != nil {
		return VMAC{}, fmt.Errorf("kernel: create vmac: %w", err)
	}
	vmacMu.Lock()
	defer vmacMu.Unlock()
	v, err := createVMAC(cfg)
	if err != nil {
		return VMAC{}, fmt.Errorf("kernel: create vmac %s on %s: %w", cfg.Name, cfg.Parent, err)
	}
	return v, nil
}

func createVMAC(cfg VMACConfig) (VMAC, error) {
	ns, err := currentNetns()
	if err != nil {
		return VMAC{}, err
	}
	parent, err := linkByName(cfg.Parent)
	if err != nil {
		return VMAC{}, err
	}
	pa := parent.Attrs()
	// A macvlan on a macvlan is created on the lower device by the kernel.
	lowerIndex := pa.Index
	if mv, ok := parent.(*netlink.Macvlan); ok && mv.ParentIndex > 0 {
		lowerIndex = mv.ParentIndex
	}

	key := ns + "/" + cfg.Name
	st := vmacLive[key]
	if st != nil && (st.parentIndex != pa.Index || st.family != cfg.Family) {
		// Same name, different instance shape: start again.
		if err := st.delete(); err != nil {
			return VMAC{}, err
		}
		st = nil
	}

	link, err := ensureMacvlan(cfg.Name, lowerIndex, cfg.MAC, vrfMaster(parent))
	if err != nil {
		return VMAC{}, err
	}
	fresh := st == nil
	if fresh {
		st = &vmacState{key: key, ns: ns, name: cfg.Name, parent: pa.Name, parentIndex: pa.Index, family: cfg.Family}
	}
	st.index = link.Attrs().Index
	st.mac = slices.Clone(cfg.MAC)
	undo := func() {
		if fresh {
			_ = netlink.LinkDel(link)
		}
	}

	if cfg.Family == 4 {
		if !st.ipv4 {
			if err := acquireRPFilter(ns); err != nil {
				undo()
				return VMAC{}, err
			}
			if err := acquireParent(ns, pa.Index, pa.Name); err != nil {
				releaseRPFilter(ns)
				undo()
				return VMAC{}, err
			}
			st.ipv4 = true
		}
		for _, s := range []struct {
			name string
			val  int
		}{{"arp_ignore", 1}, {"accept_local", 1}, {"rp_filter", 0}, {"promote_secondaries", 1}} {
			if err := writeSysctl(ipv4Conf(cfg.Name, s.name), s.val); err != nil {
				return VMAC{}, vmacFail(st, fresh, link, err)
			}
		}
	}

	disable := 0
	if cfg.Family == 4 && !cfg.KeepIPv6 {
		disable = 1
	}
	if err := writeSysctl(ipv6Conf(cfg.Name, "disable_ipv6"), disable); err != nil && (cfg.Family == 6 || !errors.Is(err, os.ErrNotExist)) {
		return VMAC{}, vmacFail(st, fresh, link, err)
	}
	// Before the link goes up, or the kernel adds an EUI-64 address.
	if err := netlink.LinkSetIP6AddrGenMode(link, in6AddrGenModeNone); err != nil && cfg.Family == 6 {
		return VMAC{}, vmacFail(st, fresh, link, fmt.Errorf("addrgenmode none: %w", err))
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return VMAC{}, vmacFail(st, fresh, link, fmt.Errorf("link up: %w", err))
	}

	st.linkLocal = netip.Addr{}
	if cfg.Family == 6 && !cfg.XmitBase {
		ll := cfg.Source
		if !ll.IsValid() {
			pifi, err := interfaceByName(pa.Name)
			if err != nil {
				return VMAC{}, vmacFail(st, fresh, link, err)
			}
			ll = pifi.LinkLocal
			if !ll.IsValid() {
				ll = eui64LinkLocal(pa.HardwareAddr)
			}
		}
		if !ll.IsValid() {
			return VMAC{}, vmacFail(st, fresh, link, fmt.Errorf("parent %s has no link-local address and no MAC", pa.Name))
		}
		na, err := toNetlinkAddr(Address{Prefix: netip.PrefixFrom(ll, 64), Scope: unix.RT_SCOPE_LINK})
		if err == nil {
			err = netlink.AddrReplace(link, na)
		}
		if err != nil {
			return VMAC{}, vmacFail(st, fresh, link, fmt.Errorf("link-local address %v: %w", ll, err))
		}
		st.linkLocal = ll
	}
	st.deleted = false
	vmacLive[key] = st
	return VMAC{st}, nil
}

// vmacFail undoes a half-made VMAC and returns err.
func vmacFail(st *vmacState, fresh bool, link netlink.Link, err error) error {
	if fresh {
		_ = netlink.LinkDel(link)
		if st.ipv4 {
			releaseParent(st.ns, st.parentIndex)
			releaseRPFilter(st.ns)
			st.ipv4 = false
		}
	}
	return err
}

// vrfMaster is the index of the VRF the link is enslaved to, or 0
// (keepalived's vrf_master_ifp: a master whose kind is "vrf").
func vrfMaster(link netlink.Link) int {
	m := link.Attrs().MasterIndex
	if m == 0 {
		return 0
	}
	ml, err := netlink.LinkByIndex(m)
	if err != nil || ml.Type() != "vrf" {
		return 0
	}
	return m
}

// setMaster enslaves link to master (0: to none) if it is not already.
func setMaster(link netlink.Link, master int) error {
	if link.Attrs().MasterIndex == master {
		return nil
	}
	var err error
	if master == 0 {
		err = netlink.LinkSetNoMaster(link)
	} else {
		err = netlink.LinkSetMasterByIndex(link, master)
	}
	if err != nil {
		return fmt.Errorf("enslave %s to VRF %d: %w", link.Attrs().Name, master, err)
	}
	link.Attrs().MasterIndex = master
	return nil
}

// ensureMacvlan returns a private-mode macvlan named name on lowerIndex
// with MAC mac, enslaved to master (a VRF, or 0), reusing a correct one
// and recreating a wrong one.
func ensureMacvlan(name string, lowerIndex int, mac net.HardwareAddr, master int) (netlink.Link, error) {
	old, err := linkByName(name)
	switch {
	case errors.Is(err, ErrNoInterface):
	case err != nil:
		return nil, err
	default:
		mv, ok := old.(*netlink.Macvlan)
		if !ok {
			return nil, fmt.Errorf("%w: %s is a %s", ErrVMACConflict, name, old.Type())
		}
		if mv.ParentIndex == lowerIndex && mv.Mode == netlink.MACVLAN_MODE_PRIVATE && slices.Equal(mv.HardwareAddr, mac) {
			return mv, setMaster(mv, master)
		}
		if err := netlink.LinkDel(mv); err != nil && !errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("delete wrong vmac: %w", err)
		}
	}
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: lowerIndex, HardwareAddr: mac, MasterIndex: master},
		Mode:      netlink.MACVLAN_MODE_PRIVATE,
	}
	if err := netlink.LinkAdd(mv); err != nil {
		// The library enslaves in a second message: the link may exist.
		if l, lerr := netlink.LinkByName(name); lerr == nil {
			if _, ok := l.(*netlink.Macvlan); ok {
				_ = netlink.LinkDel(l)
			}
		}
		return nil, fmt.Errorf("add macvlan: %w", err)
	}
	link, err := linkByName(name)
	if err != nil {
		return nil, err
	}
	return link, nil
}

// Delete deletes the VMAC (an interface already gone is not an error)
// and, when it was the last IPv4 VMAC on its parent, puts back the
// parent's arp_ignore and arp_filter, and when it was the last IPv4 VMAC
// in the namespace, the rp_filter values keepalived's clear_rp_filter
// changed. Call it in the network namespace CreateVMAC ran in. A second
// Delete does nothing.
func (v VMAC) Delete() error {
	if v.st == nil {
		return nil
	}
	vmacMu.Lock()
	defer vmacMu.Unlock()
	if v.st.deleted {
		return nil
	}
	ns, err := currentNetns()
	if err != nil {
		return fmt.Errorf("kernel: delete vmac %s: %w", v.st.name, err)
	}
	if ns != v.st.ns {
		return fmt.Errorf("kernel: delete vmac %s: called in another network namespace", v.st.name)
	}
	if err := v.st.delete(); err != nil {
		return fmt.Errorf("kernel: delete vmac %s: %w", v.st.name, err)
	}
	return nil
}

// delete runs with vmacMu held, in st's namespace.
func (st *vmacState) delete() error {
	link, err := linkByName(st.name)
	switch {
	case errors.Is(err, ErrNoInterface):
	case err != nil:
		return err
	default:
		// Only a macvlan: never delete an interface someone put there since.
		if _, ok := link.(*netlink.Macvlan); ok {
			if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
				return err
			}
		}
	}
	// After the VMAC is gone, so that the parent never answers ARP for a
	// VIP still on the VMAC.
	var errs []error
	if st.ipv4 {
		errs = append(errs, releaseParent(st.ns, st.parentIndex), releaseRPFilter(st.ns))
		st.ipv4 = false
	}
	st.deleted = true
	if vmacLive[st.key] == st {
		delete(vmacLive, st.key)
	}
	return errors.Join(errs...)
}

func acquireParent(ns string, index int, name string) error {
	key := ns + "/" + strconv.Itoa(index)
	p := vmacParents[key]
	if p != nil {
		p.refs++
		return nil
	}
	ign, err := readSysctl(ipv4Conf(name, "arp_ignore"))
	if err != nil {
		return err
	}
	flt, err := readSysctl(ipv4Conf(name, "arp_filter"))
	if err != nil {
		return err
	}
	p = &parentSysctls{refs: 1, arpIgnore: ign, arpFilter: flt}
	if ign != 1 || flt != 1 {
		p.changed = true
		if err := writeSysctl(ipv4Conf(name, "arp_ignore"), 1); err != nil {
			return err
		}
		if err := writeSysctl(ipv4Conf(name, "arp_filter"), 1); err != nil {
			_ = writeSysctl(ipv4Conf(name, "arp_ignore"), ign)
			return err
		}
	}
	vmacParents[key] = p
	return nil
}

func releaseParent(ns string, index int) error {
	key := ns + "/" + strconv.Itoa(index)
	p := vmacParents[key]
	if p == nil {
		return nil
	}
	if p.refs--; p.refs > 0 {
		return nil
	}
	delete(vmacParents, key)
	if !p.changed {
		return nil
	}
	link, err := netlink.LinkByIndex(index) // the parent may have been renamed
	if err != nil {
		return nil // gone: nothing to restore
	}
	name := link.Attrs().Name
	return errors.Join(writeSysctl(ipv4Conf(name, "arp_ignore"), p.arpIgnore),
		writeSysctl(ipv4Conf(name, "arp_filter"), p.arpFilter))
}

// acquireRPFilter does keepalived's clear_rp_filter for the first IPv4
// VMAC of the namespace: if all.rp_filter is N > 0, raise default and
// every interface to at least N, then set all to 0.
func acquireRPFilter(ns string) error {
	if r := vmacRP[ns]; r != nil {
		r.refs++
		return nil
	}
	r := &rpFilterState{refs: 1, dflt: -1, ifaces: map[int]int{}, ifnames: map[int]string{}}
	all, err := readSysctl(ipv4Conf("all", "rp_filter"))
	if err != nil {
		return err
	}
	if all != 0 {
		r.all = all
		if d, err := readSysctl(ipv4Conf("default", "rp_filter")); err == nil && d < all {
			if err := writeSysctl(ipv4Conf("default", "rp_filter"), all); err != nil {
				return err
			}
			r.dflt = d
		}
		links, err := netlink.LinkList()
		if err != nil {
			return fmt.Errorf("list links: %w", err)
		}
		for _, l := range links {
			a := l.Attrs()
			cur, err := readSysctl(ipv4Conf(a.Name, "rp_filter"))
			if err != nil || cur >= all {
				continue // no IPv4 on it, or already strict enough
			}
			if err := writeSysctl(ipv4Conf(a.Name, "rp_filter"), all); err == nil {
				r.ifaces[a.Index], r.ifnames[a.Index] = cur, a.Name
			}
		}
		if err := writeSysctl(ipv4Conf("all", "rp_filter"), 0); err != nil {
			r.refs = 0
			vmacRP[ns] = r
			_ = restoreRPFilter(r)
			delete(vmacRP, ns)
			return err
		}
	}
	vmacRP[ns] = r
	return nil
}

func releaseRPFilter(ns string) error {
	r := vmacRP[ns]
	if r == nil {
		return nil
	}
	if r.refs--; r.refs > 0 {
		return nil
	}
	delete(vmacRP, ns)
	return restoreRPFilter(r)
}

// restoreRPFilter is keepalived's restore_rp_filter: each value goes back
// only if it still holds what was written.
func restoreRPFilter(r *rpFilterState) error {
	if r.all == 0 {
		return nil
	}
	var errs []error
	if cur, err := readSysctl(ipv4Conf("all", "rp_filter")); err == nil && cur == 0 {
		errs = append(errs, writeSysctl(ipv4Conf("all", "rp_filter"), r.all))
	}
	if r.dflt >= 0 {
		if cur, err := readSysctl(ipv4Conf("default", "rp_filter")); err == nil && cur == r.all {
			errs = append(errs, writeSysctl(ipv4Conf("default", "rp_filter"), r.dflt))
		}
	}
	for idx, orig := range r.ifaces {
		l, err := netlink.LinkByIndex(idx)
		if err != nil {
			continue // gone
		}
		name := l.Attrs().Name // it may have been renamed
		if cur, err := readSysctl(ipv4Conf(name, "rp_filter")); err == nil && cur == r.all {
			errs = append(errs, writeSysctl(ipv4Conf(name, "rp_filter"), orig))
		}
	}
	return errors.Join(errs...)
}

// eui64LinkLocal is fe80::/64 with the modified EUI-64 interface
// identifier of a 6-byte MAC (keepalived's make_link_local_address).
func eui64LinkLocal(mac net.HardwareAddr) netip.Addr {
	if len(mac) != 6 {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80,
		8: mac[0] ^ 0x02, 9: mac[1], 10: mac[2], 11: 0xff, 12: 0xfe, 13: mac[3], 14: mac[4], 15: mac[5]})
}

func ipv4Conf(ifname, param string) string {
	return "/proc/sys/net/ipv4/conf/" + ifname + "/" + param
}

func ipv6Conf(ifname, param string) string {
	return "/proc/sys/net/ipv6/conf/" + ifname + "/" + param
}

// readSysctl and writeSysctl use /proc/sys/net, which shows the network
// namespace of the calling thread.
func readSysctl(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func writeSysctl(path string, v int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(v))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// in6AddrGenModeNone is IN6_ADDR_GEN_MODE_NONE (linux/if_link.h).
const in6AddrGenModeNone = 1

// currentNetns identifies the calling thread's network namespace.
func currentNetns() (string, error) {
	var st unix.Stat_t
	path := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	if err := unix.Stat(path, &st); err != nil {
		return "", fmt.Errorf("network namespace: %w", os.NewSyscallError("stat "+path, err))
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino), nil
}

// FindVMAC is the name of an existing private-mode macvlan on parent (on
// its lower device, for a macvlan parent) with MAC mac, or "" if there is
// none: keepalived's if_get_by_vmac (vrrp_if.c), which lets an instance
// take over the VMAC a previous run left whatever its name.
func FindVMAC(parent string, mac net.HardwareAddr) (string, error) {
	p, err := linkByName(parent)
	if err != nil {
		return "", err
	}
	lower := p.Attrs().Index
	if mv, ok := p.(*netlink.Macvlan); ok && mv.ParentIndex > 0 {
		lower = mv.ParentIndex
	}
	links, err := netlink.LinkList()
	if err != nil {
		return "", fmt.Errorf("kernel: list links: %w", err)
	}
	for _, l := range links {
		mv, ok := l.(*netlink.Macvlan)
		if ok && mv.ParentIndex == lower && mv.Mode == netlink.MACVLAN_MODE_PRIVATE && slices.Equal(mv.HardwareAddr, mac) {
			return mv.Name, nil
		}
	}
	return "", nil
}

// LinkExists tells whether an interface of that name exists in the
// calling thread's network namespace.
func LinkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}
