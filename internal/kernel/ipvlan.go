//go:build linux

package kernel

// IPvlan: keepalived's use_ipvlan (netlink_link_add_ipvlan in
// keepalived/vrrp/vrrp_vmac.c at v2.2.7). keepalived creates an ipvlan in
// L2 mode with the flag given (bridge, the default, private or vepa) on
// the instance's interface, up from the start and enslaved to the
// parent's VRF if it has one; an interface of that name already there is
// used as it is (the parser refuses one that is not an L2 ipvlan). IPv6
// is disabled on it for an IPv4 instance without IPv6 eVIPs. The address
// given to use_ipvlan is added to it (it is also the adverts' source
// address). An ipvlan shares its parent's MAC: no sysctl is changed,
// neither on it nor on the parent. It is deleted when keepalived stops.
//
// IPvlan differs in one point: an existing ipvlan of that name on another
// parent, in another mode or with other flags is deleted and created
// again, as a wrong VMAC is, rather than used.

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// IPvlanConfig configures CreateIPvlan.
type IPvlanConfig struct {
	// Parent is the instance's interface.
	Parent string
	// Name is the ipvlan's name (keepalived's use_ipvlan IFNAME, else
	// VMACName(vmac_prefix, VRID)).
	Name string
	// Flag is "bridge" ("" too), "private" or "vepa".
	Flag string
	// Address, if valid, is added to the ipvlan.
	Address netip.Prefix
	// Family is 4 or 6; 0 means 4.
	Family int
	// KeepIPv6: leave IPv6 on for an IPv4 instance (it has IPv6 eVIPs).
	KeepIPv6 bool
}

// IPvlan is an interface made by CreateIPvlan. The zero IPvlan is not
// one: its Name is "" and its Delete does nothing.
type IPvlan struct{ st *ipvlanState }

type ipvlanState struct {
	ns      string
	name    string
	index   int
	address netip.Prefix
	deleted bool
}

// Name is the ipvlan's interface name.
func (v IPvlan) Name() string {
	if v.st == nil {
		return ""
	}
	return v.st.name
}

// Index is the ipvlan's interface index.
func (v IPvlan) Index() int {
	if v.st == nil {
		return 0
	}
	return v.st.index
}

// ErrIPvlanConflict is returned by CreateIPvlan when an interface that is
// not an ipvlan already has the name.
var ErrIPvlanConflict = errors.New("interface exists and is not an ipvlan")

// IPvlanFlag is the kernel's IPVLAN_F_* flag for a use_ipvlan word.
func IPvlanFlag(word string) (netlink.IPVlanFlag, error) {
	switch word {
	case "", "bridge":
		return netlink.IPVLAN_FLAG_BRIDGE, nil
	case "private":
		return netlink.IPVLAN_FLAG_PRIVATE, nil
	case "vepa":
		return netlink.IPVLAN_FLAG_VEPA, nil
	}
	return 0, fmt.Errorf("ipvlan type %q: want bridge, private or vepa", word)
}

// CreateIPvlan creates (or reuses) the ipvlan for an instance, in the
// calling thread's network namespace, and brings it up with its address;
// see the comment at the top of ipvlan.go.
func CreateIPvlan(cfg IPvlanConfig) (IPvlan, error) {
	v, err := createIPvlan(cfg)
	if err != nil {
		return IPvlan{}, fmt.Errorf("kernel: create ipvlan %s on %s: %w", cfg.Name, cfg.Parent, err)
	}
	return v, nil
}

func createIPvlan(cfg IPvlanConfig) (IPvlan, error) {
	flag, err := IPvlanFlag(cfg.Flag)
	if err != nil {
		return IPvlan{}, err
	}
	if cfg.Family == 0 {
		cfg.Family = 4
	}
	if cfg.Name == "" || len(cfg.Name) > unix.IFNAMSIZ-1 || strings.ContainsAny(cfg.Name, "/ \t\n:") || cfg.Name == cfg.Parent {
		return IPvlan{}, fmt.Errorf("invalid interface name %q", cfg.Name)
	}
	ns, err := currentNetns()
	if err != nil {
		return IPvlan{}, err
	}
	parent, err := linkByName(cfg.Parent)
	if err != nil {
		return IPvlan{}, err
	}
	pa := parent.Attrs()
	// An ipvlan on an ipvlan is created on the lower device by the kernel.
	lowerIndex := pa.Index
	if iv, ok := parent.(*netlink.IPVlan); ok && iv.ParentIndex > 0 {
		lowerIndex = iv.ParentIndex
	}
	master := vrfMaster(parent)

	var link netlink.Link
	old, err := linkByName(cfg.Name)
	switch {
	case errors.Is(err, ErrNoInterface):
	case err != nil:
		return IPvlan{}, err
	default:
		iv, ok := old.(*netlink.IPVlan)
		if !ok {
			return IPvlan{}, fmt.Errorf("%w: %s is a %s", ErrIPvlanConflict, cfg.Name, old.Type())
		}
		if iv.ParentIndex == lowerIndex && iv.Mode == netlink.IPVLAN_MODE_L2 && iv.Flag == flag {
			if err := setMaster(iv, master); err != nil {
				return IPvlan{}, err
			}
			link = iv
		} else if err := netlink.LinkDel(iv); err != nil && !errors.Is(err, unix.ENODEV) {
			return IPvlan{}, fmt.Errorf("delete wrong ipvlan: %w", err)
		}
	}
	fresh := link == nil
	if fresh {
		iv := &netlink.IPVlan{
			LinkAttrs: netlink.LinkAttrs{Name: cfg.Name, ParentIndex: lowerIndex, MasterIndex: master},
			Mode:      netlink.IPVLAN_MODE_L2,
			Flag:      flag,
		}
		if err := netlink.LinkAdd(iv); err != nil {
			if l, lerr := netlink.LinkByName(cfg.Name); lerr == nil {
				if _, ok := l.(*netlink.IPVlan); ok {
					_ = netlink.LinkDel(l)
				}
			}
			return IPvlan{}, fmt.Errorf("add ipvlan: %w", err)
		}
		if link, err = linkByName(cfg.Name); err != nil {
			return IPvlan{}, err
		}
	}
	fail := func(err error) (IPvlan, error) {
		if fresh {
			_ = netlink.LinkDel(link)
		}
		return IPvlan{}, err
	}
	disable := 0
	if cfg.Family == 4 && !cfg.KeepIPv6 {
		disable = 1
	}
	if err := writeSysctl(ipv6Conf(cfg.Name, "disable_ipv6"), disable); err != nil && (cfg.Family == 6 || !errors.Is(err, os.ErrNotExist)) {
		return fail(err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fail(fmt.Errorf("link up: %w", err))
	}
	st := &ipvlanState{ns: ns, name: cfg.Name, index: link.Attrs().Index}
	if cfg.Address.IsValid() {
		na, err := toNetlinkAddr(Address{Prefix: cfg.Address, Preferred: true})
		if err == nil {
			err = netlink.AddrReplace(link, na)
		}
		if err != nil {
			return fail(fmt.Errorf("address %v: %w", cfg.Address, err))
		}
		st.address = cfg.Address
	}
	return IPvlan{st}, nil
}

// Delete deletes the ipvlan (one already gone is not an error). Call it
// in the network namespace CreateIPvlan ran in. A second Delete does
// nothing.
func (v IPvlan) Delete() error {
	if v.st == nil || v.st.deleted {
		return nil
	}
	ns, err := currentNetns()
	if err != nil {
		return fmt.Errorf("kernel: delete ipvlan %s: %w", v.st.name, err)
	}
	if ns != v.st.ns {
		return fmt.Errorf("kernel: delete ipvlan %s: called in another network namespace", v.st.name)
	}
	link, err := linkByName(v.st.name)
	switch {
	case errors.Is(err, ErrNoInterface):
	case err != nil:
		return fmt.Errorf("kernel: delete ipvlan %s: %w", v.st.name, err)
	default:
		// Only an ipvlan: never delete an interface someone put there since.
		if _, ok := link.(*netlink.IPVlan); ok {
			if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
				return fmt.Errorf("kernel: delete ipvlan %s: %w", v.st.name, err)
			}
		}
	}
	v.st.deleted = true
	return nil
}
