package vrrpd

// The interfaces an instance makes for itself, as keepalived 2.2.7 makes
// them (keepalived/vrrp/vrrp.c, vrrp_complete_instance; vrrp_parser.c,
// vrrp_vmac_handler and vrrp_ipvlan_handler; vrrp_vmac.c):
//
//   - use_vmac [NAME] [MAC]: a private macvlan with the virtual router MAC
//     (or MAC; 5 octets get the VRID as sixth) carrying the instance's
//     VIPs of its own family; adverts leave from it unless vmac_xmit_base.
//     Without NAME, a macvlan already on the interface with that MAC is
//     taken over whatever its name (if_get_by_vmac), else the first free
//     name of create_vmac_name: vmac_prefix (default "vrrp") "." VRID,
//     then prefix1.VRID, prefix2.VRID, ... (an IPv6 instance tries
//     prefix6.VRID second). A name is free when no other instance uses it
//     and no interface has it.
//   - use_vmac_addr, and `use_vmac` on an address line: a VIP or eVIP that
//     does not go on the instance's VMAC (another `dev`, or the other
//     address family) gets a VMAC of its own on its interface, with its
//     family's virtual MAC, named from vmac_addr_prefix (else vmac_prefix,
//     else "vrrp"); VIPs of one family on one interface share it.
//   - use_ipvlan [NAME] [ADDRESS/PREFIX] [bridge|private|vepa]: an L2 ipvlan
//     on the interface holding ADDRESS, which is also the adverts' source
//     address; adverts leave from it. The VIPs stay on the interface
//     itself (in 2.2.7 only use_vmac moves them). An IPv4 ipvlan needs an
//     address: without one the instance stays in FAULT ("IPv4 ipvlan
//     requires a source ip address to be configured").
//   - A VMAC or ipvlan on an interface enslaved to a VRF is enslaved to
//     the same VRF (kernel.CreateVMAC, kernel.CreateIPvlan).
//   - With eVIPs of the other family the VMAC or ipvlan keeps IPv6
//     (VRRP_FLAG_EVIP_OTHER_FAMILY).

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// ownedLink is an interface the runtime made: a VMAC or an ipvlan.
type ownedLink interface {
	Name() string
	Delete() error
}

// instanceLinks are the interfaces an instance runs on, when it has some
// of its own.
type instanceLinks struct {
	vipIf  string     // where the VIPs without dev of the instance's family go
	sockIf string     // where adverts go out
	source netip.Addr // the adverts' source, unless mcast_src_ip says otherwise
	vmac   *kernel.VMAC
	extra  map[vipPlace]string // use_vmac_addr: VMAC name by interface and family
	fault  string              // a configuration fault: the instance stays in FAULT
}

// vipPlace is an address family on an interface.
type vipPlace struct {
	dev    string
	family int
}

// otherFamilyEVIPs tells whether the instance has eVIPs of the other
// family (keepalived's VRRP_FLAG_EVIP_OTHER_FAMILY).
func otherFamilyEVIPs(ci *config.VRRPInstance, family int) bool {
	for _, a := range ci.VirtualIPAddressesExcl {
		if addrFamily(a.Prefix.Addr()) != family {
			return true
		}
	}
	return false
}

func addrFamily(a netip.Addr) int {
	if a.Is4() || a.Is4In6() {
		return 4
	}
	return 6
}

// vmacPrefix is global_defs vmac_prefix, or "vrrp"; for addresses
// (use_vmac_addr) vmac_addr_prefix comes first.
func vmacPrefix(cfg *config.Config, forAddress bool) string {
	if g := cfg.GlobalDefs; g != nil {
		if forAddress && g.VMACAddrPrefix != "" {
			return g.VMACAddrPrefix
		}
		if g.VMACPrefix != "" {
			return g.VMACPrefix
		}
	}
	return "vrrp"
}

// vmacNames are create_vmac_name's candidates in order: prefix.VRID,
// then prefixN.VRID for N = 1, 2, ... (an IPv6 one tries N = 6 first).
func vmacNames(prefix string, vrid, family int, yield func(string) bool) {
	num := 0
	for range 1000 {
		name := kernel.VMACName(prefix, vrid)
		if num > 0 {
			name = kernel.VMACName(prefix+strconv.Itoa(num), vrid)
		}
		if !yield(name) {
			return
		}
		switch {
		case family == 6 && num == 0:
			num = 6
		case family == 6 && num == 6:
			num = 1
		default:
			num++
			if family == 6 && num == 6 {
				num++
			}
		}
	}
}

// chooseVMACName is the name for a VMAC with no configured name: the
// existing macvlan on parent with this MAC, else the first free name.
// A name the previous runtime's links have is free: they give way.
func (rt *vrrpRuntime) chooseVMACName(prefix string, vrid, family int, parent string, mac net.HardwareAddr, carry *carryOver) string {
	if name, err := kernel.FindVMAC(parent, mac); err == nil && name != "" && !rt.linkNames[name] {
		return name
	}
	var chosen string
	vmacNames(prefix, vrid, family, func(name string) bool {
		if rt.linkNames[name] || (kernel.LinkExists(name) && !carry.hasLinkNamed(name)) {
			return true
		}
		chosen = name
		return false
	})
	return chosen
}

// linksFor makes the instance's VMAC, ipvlan and use_vmac_addr VMACs;
// nil when it has none.
func (rt *vrrpRuntime) linksFor(cfg *config.Config, ci *config.VRRPInstance, carry *carryOver) (*instanceLinks, error) {
	family := instanceFamily(ci)
	ln := &instanceLinks{extra: map[vipPlace]string{}}
	have := false
	switch {
	case ci.Interface == "" && (ci.IsSet("use_ipvlan") || ci.IsSet("use_vmac")):
		rt.log.Warn("(" + ci.Name() + "): Cannot use VMAC/ipvlan with unicast and no interface - clearing use_vmac")
	case ci.IsSet("use_ipvlan"):
		have = true
		name, addr, flag, problems := config.IPvlanWords(ci.Name(), ci.UseIPvlan)
		for _, p := range problems {
			rt.log.Warn(p)
		}
		switch {
		case !addr.IsValid() && family == 4:
			ln.fault = "IPv4 ipvlan requires a source ip address to be configured. setting instance to fault state"
		case addr.IsValid() && addrFamily(addr.Addr()) != family:
			ln.fault = "IPv4 ipvlan address family does not match instance. setting instance to fault state"
		}
		if ln.fault != "" {
			break
		}
		if name == "" {
			name = rt.chooseVMACName(vmacPrefix(cfg, false), ci.VRID, family, ci.Interface, nil, carry)
		}
		icfg := kernel.IPvlanConfig{Parent: ci.Interface, Name: name, Flag: flag, Address: addr, Family: family,
			KeepIPv6: otherFamilyEVIPs(ci, family)}
		iv, err := rt.ownLink("ipvlan "+fmt.Sprintf("%+v", icfg), name, carry, func() (ownedLink, error) { return kernel.CreateIPvlan(icfg) })
		if err != nil {
			return nil, err
		}
		ln.sockIf = iv.Name()
		if addr.IsValid() {
			ln.source = addr.Addr()
		}
	case ci.IsSet("use_vmac"):
		have = true
		name, mac, problems := config.VMACWords(ci.UseVMAC)
		for _, p := range problems {
			rt.log.Warn("(" + ci.Name() + ") " + p)
		}
		vcfg := kernel.VMACConfig{Parent: ci.Interface, VRID: ci.VRID, Family: family, XmitBase: ci.VMACXmitBase,
			Name: name, MAC: mac, KeepIPv6: otherFamilyEVIPs(ci, family)}
		if name == "" {
			hw, err := kernel.VMACHardwareAddr(vcfg)
			if err != nil {
				return nil, err
			}
			vcfg.Name = rt.chooseVMACName(vmacPrefix(cfg, false), ci.VRID, family, ci.Interface, hw, carry)
		}
		l, err := rt.ownLink(vmacKey(vcfg), vcfg.Name, carry, func() (ownedLink, error) { return kernel.CreateVMAC(vcfg) })
		if err != nil {
			return nil, err
		}
		vm := l.(kernel.VMAC)
		ln.vmac, ln.vipIf = &vm, vm.Name()
		if !ci.VMACXmitBase {
			ln.sockIf = vm.Name()
			if family == 6 {
				ln.source = vm.LinkLocal()
			}
		}
	}
	// use_vmac_addr and an address line's use_vmac (vrrp_complete_instance).
	_, mac, _ := config.VMACWords(ci.UseVMAC)
	for _, a := range append(append([]config.IPAddress(nil), ci.VirtualIPAddresses...), ci.VirtualIPAddressesExcl...) {
		fam := addrFamily(a.Prefix.Addr())
		dev := a.Dev
		if dev == "" {
			dev = ci.Interface
		}
		if !wantsOwnVMAC(a, ci, family, ln.vmac != nil) {
			continue
		}
		place := vipPlace{dev, fam}
		if dev == "" || ln.extra[place] != "" {
			continue
		}
		have = true
		vcfg := kernel.VMACConfig{Parent: dev, VRID: ci.VRID, Family: fam, MAC: mac}
		hw, err := kernel.VMACHardwareAddr(vcfg)
		if err != nil {
			return nil, err
		}
		vcfg.Name = rt.chooseVMACName(vmacPrefix(cfg, true), ci.VRID, fam, dev, hw, carry)
		l, err := rt.ownLink(vmacKey(vcfg), vcfg.Name, carry, func() (ownedLink, error) { return kernel.CreateVMAC(vcfg) })
		if err != nil {
			return nil, fmt.Errorf("VMAC for %v: %w", a.Prefix, err)
		}
		ln.extra[place] = l.Name()
	}
	if !have {
		return nil, nil
	}
	return ln, nil
}

// wantsOwnVMAC tells whether an address line goes on a VMAC of its own:
// on the instance's interface, with its line's use_vmac or, for the other
// family, use_vmac_addr (never when the instance's VMAC takes it); on
// another interface, with either.
func wantsOwnVMAC(a config.IPAddress, ci *config.VRRPInstance, family int, instanceVMAC bool) bool {
	fam := addrFamily(a.Prefix.Addr())
	if a.Dev == "" || a.Dev == ci.Interface {
		if instanceVMAC && fam == family {
			return false
		}
		return hasOption(a, "use_vmac") || (ci.UseVMACAddr && fam != family)
	}
	return hasOption(a, "use_vmac") || ci.UseVMACAddr
}

func hasOption(a config.IPAddress, opt string) bool {
	for _, o := range a.Options {
		if o == opt {
			return true
		}
	}
	return false
}

// ownLink takes over the previous runtime's link made with the same
// configuration (key), else deletes the previous runtime's links of that
// name, and calls create, which makes the link or updates the one taken
// over in place (kernel.CreateVMAC and kernel.CreateIPvlan reuse a
// correct link: what the key leaves out, such as whether IPv6 stays on,
// is set again without taking the link down).
func (rt *vrrpRuntime) ownLink(key, name string, carry *carryOver, create func() (ownedLink, error)) (ownedLink, error) {
	if _, ok := carry.takeLink(key); !ok {
		rt.deleteLinks(carry.takeLinksNamed(name))
	}
	l, err := create()
	if err != nil {
		return nil, err
	}
	rt.links[key] = l
	rt.linkNames[l.Name()] = true
	return l, nil
}

// vipDev is the interface an address line of the instance goes on
// (vrrp_complete_instance): with no dev, or the instance's interface, on
// the VMAC if it is of the instance's family, else on the interface;
// then on its own VMAC with use_vmac_addr or its line's use_vmac.
func (ln *instanceLinks) vipDev(a config.IPAddress, ci *config.VRRPInstance, family int) string {
	fam := addrFamily(a.Prefix.Addr())
	dev := a.Dev
	if dev == "" || dev == ci.Interface {
		if ln != nil && ln.vmac != nil && fam == family {
			return ln.vipIf
		}
		dev = ci.Interface
	}
	if ln != nil {
		if name := ln.extra[vipPlace{dev, fam}]; name != "" {
			return name
		}
	}
	return dev
}

// vips are the instance's address lines as VIPs, each on its interface
// (vipDev).
func (ln *instanceLinks) vips(addrs []config.IPAddress, ci *config.VRRPInstance, family int) []vrrp.VIP {
	out := make([]vrrp.VIP, 0, len(addrs))
	for _, a := range addrs {
		dev := ln.vipDev(a, ci, family)
		a.Dev = "" // vipOf keeps a line's own dev
		out = append(out, vipOf(a, dev))
	}
	return out
}

// dropDevless leaves out the addresses that have no interface (an
// instance without one, an address line without dev), as
// vrrp_complete_instance does.
func dropDevless(log *slog.Logger, name, e string, vs []vrrp.VIP) []vrrp.VIP {
	return slices.DeleteFunc(vs, func(v vrrp.VIP) bool {
		if v.Dev != "" {
			return false
		}
		log.Error(fmt.Sprintf("(%s): no interface for %svip %v - removing", name, e, v.Prefix))
		return true
	})
}

// hasExtra tells whether use_vmac_addr or an address line's use_vmac
// made VMACs.
func (ln *instanceLinks) hasExtra() bool { return ln != nil && len(ln.extra) > 0 }

// isExtra tells whether dev is one of those VMACs.
func (ln *instanceLinks) isExtra(dev string) bool {
	if ln == nil {
		return false
	}
	for _, name := range ln.extra {
		if name == dev {
			return true
		}
	}
	return false
}

// setPacerBases tells the GARP pacer which physical interface each of the
// instance's VMACs sits on.
func (ln *instanceLinks) setPacerBases(p *garpPacer, ci *config.VRRPInstance) {
	if ln == nil {
		return
	}
	if ln.vmac != nil {
		p.setBase(ln.vmac.Name(), ci.Interface)
	}
	for place, name := range ln.extra {
		p.setBase(name, place.dev)
	}
}
