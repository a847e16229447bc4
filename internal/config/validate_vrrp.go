package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// VRRP defaults, as keepalived's vrrp_complete_instance() applies them.
const (
	defaultPriority      = 100
	ownerPriority        = 255
	defaultAdvertInt     = Timer(time.Second)
	maxAdvertIntV3       = Timer(40950 * time.Millisecond)
	defaultVRRPVersion   = 2
	defaultGarpRepeat    = 5
	defaultGarpDelay     = 5
	defaultDownTimerAdvs = 3
)

// vrrp checks the vrrp_instances and sync groups, in keepalived's order,
// and fills in the defaults the daemon needs.
func (v *validator) vrrp() {
	v.garpGroups()
	names := map[string]bool{}
	for _, vi := range v.cfg.Instances {
		if names[vi.Name()] {
			v.at(vi.Pos, ExitConfigErrors, "vrrp_instance", "vrrp instance %s already defined", vi.Name())
		}
		names[vi.Name()] = true
		v.instance(vi)
	}
	v.duplicateVRIDs()
	v.syncGroups(names)
	v.staticAddresses()
	if v.missingInterface {
		v.noLine(Pos{}, ExitConfigErrors, "interface", "Non-existent interface specified in configuration")
	}
}

func (v *validator) instance(vi *VRRPInstance) {
	name := vi.Name()
	v.state(vi)
	if vi.Priority == 0 {
		if vi.IsSet("priority") {
			v.at(vi.PosOf("priority"), ExitConfigErrors, "priority", "(%s) Priority not valid! must be between 1 & 255. Using default %d", name, defaultPriority)
		}
		vi.Priority = defaultPriority
		if vi.State == "MASTER" && !vi.IsSet("priority") {
			vi.Priority = ownerPriority // keepalived: state MASTER without priority is the address owner
		}
	}
	if vi.VRID == 0 {
		v.noLine(vi.Pos, ExitConfigErrors, "virtual_router_id", "(%s) the virtual router id must be set", name)
	}
	v.interfaces(vi)
	v.vmacs(vi)
	v.version(vi)
	v.advertInt(vi)
	v.addresses(vi)
	v.vmacAddresses(vi)
	v.authentication(vi)
	v.tracking(vi)
	v.preemption(vi)
	v.strict(vi)
	v.authenticationApplies(vi)
	v.garp(vi)
	v.timerExpiredBackup(vi)
	if w := vi.OldUnicastChecksum; len(w) > 0 && w[0] != "never" {
		v.at(vi.PosOf("old_unicast_checksum"), ExitConfigErrors, "old_unicast_checksum", "(%s) Unknown old_unicast_chksum mode %s - ignoring", name, w[0])
	}
	if vi.PromoteSecondaries && (vi.IsSet("use_vmac") || vi.IsSet("use_ipvlan")) {
		// vrrp.c vrrp_complete_instance, without a line.
		v.noLine(vi.PosOf("promote_secondaries"), ExitConfigErrors, "promote_secondaries",
			"(%s) promote_secondaries is automatically set for vmacs - ignoring", name)
		vi.PromoteSecondaries = false
	}
	if words := vi.Raw("debug"); len(words) > 0 {
		// vrrp_parser.c vrrp_debug_handler: 0 to 4, and nothing done with it.
		if _, m := gdCheckInt(words[0], 0, 4, true); m != "" {
			pos := vi.PosOf("debug")
			v.at(pos, ExitConfigErrors, "debug", "%s", m)
			v.at(pos, ExitConfigErrors, "debug", "(%s) Debug value '%s' not valid; must be between 0-4", name, words[0])
		}
	}
	if vi.IsSet("lvs_sync_daemon_interface") {
		v.at(vi.PosOf("lvs_sync_daemon_interface"), ExitConfigErrors, "lvs_sync_daemon_interface",
			"(%s) Specifying lvs_sync_daemon_interface against a vrrp is deprecated. Please use global lvs_sync_daemon", name)
	}
}

func (v *validator) state(vi *VRRPInstance) {
	switch vi.State {
	case "MASTER", "BACKUP":
	case "":
		vi.State = "BACKUP"
	default:
		v.at(vi.PosOf("state"), ExitConfigErrors, "state", "(%s) unknown state '%s', defaulting to BACKUP", vi.Name(), vi.State)
		vi.State = "BACKUP"
	}
	if !vi.IsSet("state") && vi.Priority == ownerPriority {
		vi.State = "MASTER"
	}
}

// interfaces checks the instance's interface and the tracked ones. A
// missing interface is a warning in keepalived, but it still makes -t exit 5.
func (v *validator) interfaces(vi *VRRPInstance) {
	if vi.Interface != "" && v.opts.InterfaceExists(vi.Interface) && v.opts.LoopbackInterface(vi.Interface) {
		// vrrp_int_handler (vrrp_parser.c): the interface is dropped, so
		// the instance then has none.
		v.at(vi.PosOf("interface"), ExitConfigErrors, "interface", "(%s) cannot use a loopback interface (%s) for vrrp - ignoring", vi.Name(), vi.Interface)
		vi.Interface = ""
	}
	switch {
	case vi.Interface == "" && vi.McastSrcIP == "":
		if dflt := v.defaultInterface(); dflt != "" {
			vi.Interface = dflt
		} else {
			v.noLine(vi.Pos, ExitConfigErrors, "interface", "(%s) Unknown interface!", vi.Name())
		}
	case vi.Interface != "" && !v.opts.InterfaceExists(vi.Interface):
		v.at(vi.PosOf("interface"), ExitConfigErrors, "interface", "WARNING - interface %s for vrrp_instance %s doesn't exist", vi.Interface, vi.Name())
		v.missingInterface = true
	}
	v.vrf(vi)
	v.kernelLinks(vi)
	for _, t := range vi.TrackInterface {
		if !v.opts.InterfaceExists(t.Name) {
			v.at(t.Pos, ExitConfigErrors, "track_interface", "(%s) tracked interface %s doesn't exist", vi.Name(), t.Name)
			v.missingInterface = true
		}
	}
}

// vrf checks an instance's vrf as keepalived 2.2.7 does: vrrp_vrf_handler
// (vrrp_parser.c) ignores it after interface and reports a VRF that does
// not exist or is a loopback; vrrp_complete_instance (vrrp.c) clears it
// unless the instance is unicast without an interface (a vrf before
// interface).
func (v *validator) vrf(vi *VRRPInstance) {
	if !vi.IsSet("vrf") {
		return
	}
	pos := vi.PosOf("vrf")
	name := vi.Name()
	switch {
	case vi.IsSet("interface") && posBefore(vi.PosOf("interface"), pos):
		v.at(pos, ExitConfigErrors, "vrf", "(%s) Cannot specify VRF interface and interface - ignoring", name)
		vi.VRF = ""
		return
	case len(vi.VRF) >= 16:
		v.at(pos, ExitConfigErrors, "vrf", "(%s) VRF interface name '%s' too long - ignoring", name, vi.VRF)
		vi.VRF = ""
		return
	case !v.opts.InterfaceExists(vi.VRF) && !v.dynamicInterfaces():
		v.at(pos, ExitConfigErrors, "vrf", "(%s) WARNING - VRF interface %s doesn't exist", name, vi.VRF)
		if !v.opts.KernelHas("vrf") {
			v.extra(pos, "vrf", "the kernel needs CONFIG_NET_VRF (the vrf module)",
				"(%s) vrf cannot be honoured: this kernel has no VRF support", name)
		}
		v.missingInterface = true
		vi.VRF = ""
		return
	case v.opts.InterfaceExists(vi.VRF) && v.opts.LoopbackInterface(vi.VRF):
		v.at(pos, ExitConfigErrors, "vrf", "(%s) cannot use a loopback interface (%s) for VRF - ignoring", name, vi.VRF)
		vi.VRF = ""
		return
	}
	if vi.Interface != "" || len(vi.UnicastPeers) == 0 {
		what := "out interface"
		if vi.Interface == "" {
			what = " unicast"
		}
		v.noLine(pos, ExitConfigErrors, "vrf", "(%s) vrf can only be specified with%s - clearing", name, what)
		vi.VRF = ""
	}
}

// vmacs checks use_vmac, use_ipvlan and vmac_xmit_base as keepalived
// 2.2.7 does: their words (vrrp_vmac_handler, vrrp_ipvlan_handler), a
// unicast instance with a VMAC (vrrp_end_handler: it needs an interface
// and sends from it, vmac_xmit_base being set), vmac_xmit_base without a
// VMAC and an IPv4 ipvlan without an address (vrrp_complete_instance).
func (v *validator) vmacs(vi *VRRPInstance) {
	name := vi.Name()
	if vi.IsSet("use_vmac") {
		_, _, problems := VMACWords(vi.UseVMAC)
		for _, p := range problems {
			v.at(vi.PosOf("use_vmac"), ExitConfigErrors, "use_vmac", "%s", p)
		}
	}
	if vi.IsSet("use_ipvlan") {
		_, addr, _, problems := IPvlanWords(name, vi.UseIPvlan)
		for _, p := range problems {
			v.at(vi.PosOf("use_ipvlan"), ExitConfigErrors, "use_ipvlan", "%s", p)
		}
		if !addr.IsValid() && v.instanceFamily(vi) == "inet" {
			v.noLine(vi.PosOf("use_ipvlan"), ExitConfigErrors, "use_ipvlan",
				"(%s) IPv4 ipvlan requires a source ip address to be configured. setting instance to fault state", name)
		}
	}
	if (vi.IsSet("use_vmac") || vi.IsSet("use_ipvlan")) && len(vi.UnicastPeers) > 0 {
		switch {
		case vi.Interface == "":
			v.at(vi.End, ExitConfigErrors, "use_vmac", "(%s): Cannot use VMAC/ipvlan with unicast and no interface - clearing use_vmac", name)
		case !vi.VMACXmitBase:
			v.at(vi.End, ExitConfigErrors, "vmac_xmit_base", "(%s) unicast with use_vmac requires vmac_xmit_base - setting", name)
			vi.VMACXmitBase = true
		}
	}
	if vi.VMACXmitBase && !vi.IsSet("use_vmac") {
		v.noLine(vi.PosOf("vmac_xmit_base"), ExitConfigErrors, "vmac_xmit_base", "(%s) vmac_xmit_base is only valid with a vmac", name)
		vi.VMACXmitBase = false
	}
}

// vmacAddresses reports an address line's use_vmac that keepalived
// 2.2.7's vrrp_complete_instance finds needless: on the instance's VMAC
// anyway, or with use_vmac_addr, which gives it one anyway.
func (v *validator) vmacAddresses(vi *VRRPInstance) {
	fam := v.instanceFamily(vi)
	for _, a := range append(slices.Clone(vi.VirtualIPAddresses), vi.VirtualIPAddressesExcl...) {
		if !slices.Contains(a.Options, "use_vmac") {
			continue
		}
		own := a.Dev == "" || a.Dev == vi.Interface
		switch {
		case own && vi.IsSet("use_vmac") && familyOf(a.Prefix.Addr()) == fam:
			v.noLine(a.Pos, ExitConfigErrors, "use_vmac", "(%s) use_vmac specified for VIP/eVIP %s and vrrp instance", vi.Name(), a.Prefix)
		case (!own || familyOf(a.Prefix.Addr()) != fam) && vi.UseVMACAddr:
			v.noLine(a.Pos, ExitConfigErrors, "use_vmac", "(%s) use_vmac_addr specified and use_vmac specified for VIP/eVIP %s", vi.Name(), a.Prefix)
		}
	}
}

// kernelLinks says when the running kernel cannot make an ipvlan (a
// kernel built without it): keepalived says nothing at -t, and the
// instance cannot start. (A VRF that does not exist is reported by vrf.)
func (v *validator) kernelLinks(vi *VRRPInstance) {
	if vi.IsSet("use_ipvlan") && vi.Interface != "" && !v.opts.KernelHas("ipvlan") {
		v.extra(vi.PosOf("use_ipvlan"), "use_ipvlan", "the kernel needs CONFIG_IPVLAN (the ipvlan module)",
			"(%s) use_ipvlan cannot be honoured: this kernel has no ipvlan support, so the instance cannot start", vi.Name())
	}
}

func (v *validator) defaultInterface() string {
	if g := v.cfg.GlobalDefs; g != nil && g.DefaultInterface != "" && v.opts.InterfaceExists(g.DefaultInterface) {
		return g.DefaultInterface
	}
	return ""
}

func (v *validator) version(vi *VRRPInstance) {
	if vi.Version == 0 {
		vi.Version = defaultVRRPVersion
		if g := v.cfg.GlobalDefs; g != nil && g.VRRPVersion != 0 {
			vi.Version = g.VRRPVersion
		}
	}
	if vi.Version != 2 && vi.Version != 3 {
		v.at(vi.PosOf("version"), ExitConfigErrors, "version", "(%s): Version must be either 2 or 3", vi.Name())
		vi.Version = defaultVRRPVersion
	}
}

// advertInt applies the per-version rules: whole seconds for v2, at most
// 40.95 s (4095 centiseconds) for v3.
func (v *validator) advertInt(vi *VRRPInstance) {
	if vi.AdvertInt == 0 {
		if vi.IsSet("advert_int") {
			v.at(vi.PosOf("advert_int"), ExitConfigErrors, "advert_int", "(%s) Advert interval not valid! Must be > 0 - ignoring", vi.Name())
		}
		vi.AdvertInt = defaultAdvertInt
		return
	}
	secs := vi.AdvertInt.Duration().Seconds()
	switch {
	case vi.Version == 2 && vi.AdvertInt.Duration()%time.Second != 0:
		v.noLine(vi.PosOf("advert_int"), ExitConfigErrors, "advert_int", "(%s) VRRPv2 advertisement interval %fs must be an integer. rounding", vi.Name(), secs)
		vi.AdvertInt = Timer(max(time.Second, vi.AdvertInt.Duration().Round(time.Second)))
	case vi.Version == 3 && vi.AdvertInt > maxAdvertIntV3:
		v.noLine(vi.PosOf("advert_int"), ExitConfigErrors, "advert_int", "(%s) VRRPv3 advertisement interval %.2fs is out of range. Must be less than 40.96s. Setting to 40.95s", vi.Name(), secs)
		vi.AdvertInt = maxAdvertIntV3
	}
}

// addresses checks the source address, unicast peers and VIPs, which must
// all be of the instance's family.
func (v *validator) addresses(vi *VRRPInstance) {
	name := vi.Name()
	fam := v.instanceFamily(vi)
	if vi.McastSrcIP != "" {
		if _, err := netip.ParseAddr(vi.McastSrcIP); err != nil {
			v.at(vi.PosOf("mcast_src_ip"), ExitConfigErrors, "unicast_src_ip", "Configuration error: VRRP instance[%s] malformed src address[%s]. Skipping...", name, vi.McastSrcIP)
			vi.McastSrcIP = ""
		}
	}
	peers := vi.UnicastPeers[:0]
	for _, p := range vi.UnicastPeers {
		if familyOf(p.Addr) != fam {
			v.at(p.Pos, ExitConfigErrors, "unicast_peer", "Configuration error: VRRP instance[%s] and unicast peer address[%s] MUST be of the same family !!! Skipping...", name, p.Addr)
			continue
		}
		peers = append(peers, p)
	}
	vi.UnicastPeers = peers
	if kw := unicastKeyword(vi); len(peers) == 0 && kw != "" && !vi.UnicastFaultNoPeer {
		// With unicast_fault_no_peer the instance goes to FAULT at run
		// time instead of falling back to multicast.
		v.noLine(vi.Pos, ExitConfigErrors, kw, "(%s) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration.", name)
	}
	vips := vi.VirtualIPAddresses[:0]
	for _, a := range vi.VirtualIPAddresses {
		if familyOf(a.Prefix.Addr()) != fam {
			v.at(a.Pos, ExitConfigErrors, "virtual_ipaddress", "(%s): address family must match VRRP instance [%s] - ignoring", name, a.Prefix.Addr())
			continue
		}
		v.addressDev(a)
		vips = append(vips, a)
	}
	vi.VirtualIPAddresses = vips
	for _, a := range vi.VirtualIPAddressesExcl {
		v.addressDev(a)
	}
	if len(vips) == 0 && !vi.NoVirtualIPAddress {
		need := "sensible"
		if vi.Version == 3 || fam == "inet6" || v.strictMode(vi) {
			need = "required"
		}
		v.noLine(vi.Pos, ExitConfigErrors, "virtual_ipaddress", "(%s) No VIP specified; at least one is %s", name, need)
	}
}

// instanceFamily is the family of the source address if one is given,
// else of the first VIP, else IPv4, as keepalived decides it.
func (v *validator) instanceFamily(vi *VRRPInstance) string {
	if a, err := netip.ParseAddr(vi.McastSrcIP); err == nil {
		return familyOf(a)
	}
	if vi.IsSet("use_ipvlan") && (len(vi.VirtualIPAddresses) == 0 || posBefore(vi.PosOf("use_ipvlan"), vi.VirtualIPAddresses[0].Pos)) {
		// vrrp_ipvlan_handler: the first address read sets the family.
		if _, addr, _, _ := IPvlanWords(vi.Name(), vi.UseIPvlan); addr.IsValid() {
			return familyOf(addr.Addr())
		}
	}
	if len(vi.VirtualIPAddresses) > 0 {
		return familyOf(vi.VirtualIPAddresses[0].Prefix.Addr())
	}
	return "inet"
}

func familyOf(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return "inet"
	}
	return "inet6"
}

// addressDev checks that an address's dev exists.
func (v *validator) addressDev(a IPAddress) {
	if a.Dev != "" && !v.opts.InterfaceExists(a.Dev) {
		v.at(a.Pos, ExitConfigErrors, "dev", "WARNING - interface %s for ip address %s doesn't exist", a.Dev, a.Prefix)
		v.missingInterface = true
	}
}

func (v *validator) authentication(vi *VRRPInstance) {
	auth := vi.Authentication
	if auth == nil {
		return
	}
	switch auth.AuthType {
	case "PASS", "AH", "":
	default:
		v.at(auth.PosOf("auth_type"), ExitConfigErrors, "auth_type", "(%s) unknown authentication type '%s'", vi.Name(), auth.AuthType)
	}
	if len(auth.AuthPass) > 8 {
		v.at(auth.PosOf("auth_pass"), ExitConfigErrors, "auth_pass", "Truncating auth_pass to 8 characters")
		auth.AuthPass = auth.AuthPass[:8]
	}
	if auth.AuthType == "AH" && vi.State == "MASTER" {
		v.noLine(auth.Pos, ExitConfigErrors, "auth_type", "(%s) Initial state master is incompatible with AH authentication - clearing", vi.Name())
		vi.State = "BACKUP"
	}
}

// authenticationApplies drops an authentication block that cannot apply,
// as keepalived's vrrp_complete_instance (vrrp.c) does after its strict
// mode check: VRRPv3 has none (an IPv6 instance without a version is
// VRRPv3 whatever vrrp_version says), a type without a password is
// ignored, and AH needs an IPv4 header.
func (v *validator) authenticationApplies(vi *VRRPInstance) {
	auth := vi.Authentication
	if auth == nil || (auth.AuthType != "PASS" && auth.AuthType != "AH") {
		return
	}
	ipv6 := v.instanceFamily(vi) == "inet6"
	switch {
	case vi.Version == 3 || (ipv6 && !vi.IsSet("version")):
		v.noLine(auth.Pos, ExitConfigErrors, "authentication", "(%s) VRRP version 3 does not support authentication. Ignoring.", vi.Name())
	case auth.AuthPass == "":
		v.noLine(auth.Pos, ExitConfigErrors, "auth_pass", "(%s) Authentication specified but no password given. Ignoring", vi.Name())
	case ipv6 && auth.AuthType == "AH":
		v.noLine(auth.Pos, ExitConfigErrors, "auth_type", "(%s) Cannot use AH authentication with IPv6. ignoring", vi.Name())
	default:
		return
	}
	vi.Authentication = nil
}

// tracking checks the track_* references against what is defined.
func (v *validator) tracking(vi *VRRPInstance) {
	names := v.trackNames()
	scripts := names.scripts
	kept := vi.TrackScript[:0]
	for _, t := range vi.TrackScript {
		s, ok := scripts[t.Name]
		if !ok {
			v.at(t.Pos, ExitConfigErrors, "track_script", "(%s) track script %s not found, ignoring...", vi.Name(), t.Name)
			continue
		}
		if vi.Priority == ownerPriority && (t.Weight != 0 || (!t.HasWeight && scriptWeight(s) != 0)) {
			v.noLine(t.Pos, ExitConfigErrors, "track_script", "(%s) ignoring tracked script %s with weights due to address_owner", vi.Name(), t.Name)
			continue
		}
		kept = append(kept, t)
	}
	vi.TrackScript = kept
	v.trackRefs(vi, "track_file", vi.TrackFile, names.files)
	v.trackRefs(vi, "track_process", vi.TrackProcess, names.processes)
	v.trackRefs(vi, "track_bfd", vi.TrackBFD, names.bfds)
}

// scriptWeight is a vrrp_script's own weight (0 when none is set).
func scriptWeight(s *VRRPScript) int {
	var w int
	if len(s.Weight) > 0 {
		fmt.Sscan(s.Weight[0], &w)
	}
	return w
}

func (v *validator) trackRefs(vi *VRRPInstance, kw string, refs []TrackRef, defined map[string]bool) {
	for _, t := range refs {
		if !defined[t.Name] {
			v.at(t.Pos, ExitConfigErrors, kw, "(%s) %s %s not found, ignoring...", vi.Name(), strings.ReplaceAll(kw, "_", " "), t.Name)
		}
	}
}

// mapKeySet is the set of m's keys.
func mapKeySet[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// namesOf returns the set of names of named blocks.
func namesOf[T blockish](blocks []T) map[string]bool {
	m := map[string]bool{}
	for _, b := range blocks {
		m[firstArg(b.block().Args)] = true
	}
	return m
}

// unicastKeyword is the first keyword that makes an instance unicast in
// keepalived's eyes (VRRP_FLAG_UNICAST_CONFIGURED), or "".
func unicastKeyword(vi *VRRPInstance) string {
	for _, kw := range []string{"unicast_peer", "unicast_src_ip", "unicast_fault_no_peer", "check_unicast_src", "old_unicast_checksum"} {
		if vi.Wrote(kw) {
			return kw
		}
	}
	return ""
}

// preemption clears what cannot work together, in keepalived's order:
// nopreempt and preempt_delay with initial state MASTER, preempt_delay in
// strict mode or with nopreempt.
func (v *validator) preemption(vi *VRRPInstance) {
	name := vi.Name()
	if vi.State == "MASTER" {
		if vi.NoPreempt {
			v.noLine(vi.PosOf("nopreempt"), ExitConfigErrors, "nopreempt", "(%s) Warning - nopreempt will not work with initial state MASTER - clearing", name)
			vi.NoPreempt = false
		}
		if vi.PreemptDelay > 0 {
			v.noLine(vi.PosOf("preempt_delay"), ExitConfigErrors, "preempt_delay", "(%s) Warning - preempt delay will not work with initial state MASTER - clearing", name)
			vi.PreemptDelay = 0
		}
	}
	if vi.PreemptDelay > 0 && v.strictMode(vi) {
		v.noLine(vi.PosOf("preempt_delay"), ExitConfigErrors, "preempt_delay", "(%s) preempt_delay is incompatible with strict mode - resetting", name)
		vi.PreemptDelay = 0
	}
	if vi.PreemptDelay > 0 && vi.NoPreempt {
		v.noLine(vi.PosOf("preempt_delay"), ExitConfigErrors, "preempt_delay", "(%s) preempt_delay is incompatible with nopreempt mode - resetting", name)
		vi.PreemptDelay = 0
	}
}

func (v *validator) strictMode(vi *VRRPInstance) bool {
	return vi.StrictMode || (v.cfg.GlobalDefs != nil && v.cfg.GlobalDefs.VRRPStrict)
}

// strict applies vrrp_strict / strict_mode: no authentication, MASTER only
// for the address owner.
func (v *validator) strict(vi *VRRPInstance) {
	if !v.strictMode(vi) {
		return
	}
	if vi.State == "MASTER" && vi.Priority != ownerPriority {
		v.noLine(vi.Pos, ExitConfigErrors, "state", "(%s) State MASTER must match being address owner", vi.Name())
		vi.State = "BACKUP"
	}
	if vi.Authentication != nil {
		v.noLine(vi.Authentication.Pos, ExitConfigErrors, "authentication", "(%s) Strict mode does not support authentication. Ignoring.", vi.Name())
		vi.Authentication = nil
	}
	if vi.Version == 2 && vi.Accept {
		v.noLine(vi.PosOf("accept"), ExitConfigErrors, "accept", "(%s) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting", vi.Name())
		vi.Accept = false
	}
	if vi.DownTimerAdverts == 0 {
		vi.DownTimerAdverts = v.globals().VRRPDownTimerAdverts // vrrp_down_timer_adverts
	}
	if vi.DownTimerAdverts != defaultDownTimerAdvs {
		v.noLine(vi.PosOf("down_timer_adverts"), ExitConfigErrors, "down_timer_adverts", "(%s) down_timer_adverts is incompatible with strict mode - resetting", vi.Name())
		vi.DownTimerAdverts = defaultDownTimerAdvs
	}
	if vi.LowerPrioNoAdvert != nil && !vi.LowerPrioNoAdvert.True() {
		v.noLine(vi.PosOf("lower_prio_no_advert"), ExitConfigErrors, "lower_prio_no_advert", "(%s) Strict mode requires no lower priority advert. resetting", vi.Name())
		vi.LowerPrioNoAdvert = OptWords{}
	}
	if vi.HigherPrioSendAdvert != nil && vi.HigherPrioSendAdvert.True() {
		v.noLine(vi.PosOf("higher_prio_send_advert"), ExitConfigErrors, "higher_prio_send_advert", "(%s) strict mode requires higher_prio_send_advert to be clear. resetting", vi.Name())
		vi.HigherPrioSendAdvert = OptWords{"false"}
	}
}

func (v *validator) garp(vi *VRRPInstance) {
	if vi.IsSet("garp_master_repeat") && vi.GarpMasterRepeat <= 0 {
		v.at(vi.PosOf("garp_master_repeat"), ExitConfigErrors, "garp_master_repeat", "(%s): garp_master_repeat must be greater than 0, setting to 1", vi.Name())
		vi.GarpMasterRepeat = 1
	}
	// An instance starts with global_defs' values (keepalived's
	// alloc_vrrp), its own keywords then override them.
	g := v.globals()
	if !vi.IsSet("garp_master_repeat") {
		vi.GarpMasterRepeat = g.VRRPGarpMasterRepeat
	}
	if !vi.IsSet("garp_master_delay") {
		vi.GarpMasterDelay = g.VRRPGarpMasterDelay
	}
	if !vi.IsSet("garp_master_refresh") {
		vi.GarpMasterRefresh = g.VRRPGarpMasterRefresh
	}
	if !vi.IsSet("garp_master_refresh_repeat") {
		vi.GarpMasterRefreshRepeat = g.VRRPGarpMasterRefreshRepeat
	}
	if vi.DownTimerAdverts == 0 {
		vi.DownTimerAdverts = g.VRRPDownTimerAdverts
	}
	v.garpLowerPrio(vi, g)
	v.garpExtraIf(&vi.Block, &vi.GarpExtraIf, "garp_extra_if", "vmac_garp_intvl", "garp_extra_if", instancePrefix(vi), 0)
}

// garpLowerPrio resolves garp_lower_prio_repeat and _delay as keepalived's
// vrrp_complete_instance: unset, the global values (none in strict mode);
// set in strict mode, reset to 0.
func (v *validator) garpLowerPrio(vi *VRRPInstance, g *GlobalDefs) {
	name, strict := vi.Name(), v.strictMode(vi)
	for _, x := range []struct {
		kw, invalid, strict string
		val                 *int
		global, hi          int
	}{
		{"garp_lower_prio_repeat", "(%s): Invalid garp_lower_prio_repeat '%d'", "(%s) Strict mode requires no repeat garps. resetting",
			&vi.GarpLowerPrioRepeat, g.VRRPGarpLowerPrioRepeat, 1<<31 - 1},
		{"garp_lower_prio_delay", "(%s): garp_lower_prio_delay '%d' invalid - ignoring", "(%s) Strict mode requires no repeat garp delay. resetting",
			&vi.GarpLowerPrioDelay, g.VRRPGarpLowerPrioDelay, maxTimerSeconds},
	} {
		set := vi.IsSet(x.kw)
		if set {
			if _, msg := gdCheckInt(fmt.Sprint(*x.val), 0, int64(x.hi), true); msg != "" {
				v.at(vi.PosOf(x.kw), ExitConfigErrors, x.kw, "%s", msg)
				v.at(vi.PosOf(x.kw), ExitConfigErrors, x.kw, x.invalid, name, *x.val)
				set = false
			}
		}
		switch {
		case !set && strict:
			*x.val = 0
		case !set:
			*x.val = x.global
		case strict && *x.val != 0:
			v.noLine(vi.PosOf(x.kw), ExitConfigErrors, x.kw, x.strict, name)
			*x.val = 0
		}
	}
}

// globals is global_defs as validated, or its defaults when there is
// none.
func (v *validator) globals() *GlobalDefs {
	if v.cfg.GlobalDefs != nil {
		return v.cfg.GlobalDefs
	}
	return &GlobalDefs{VRRPGarpMasterRepeat: defaultGarpRepeat, VRRPGarpMasterDelay: defaultGarpDelay,
		VRRPGarpMasterRefreshRepeat: defaultGarpRefreshRepeat, VRRPDownTimerAdverts: defaultDownTimerAdvs,
		VRRPGarpLowerPrioRepeat: defaultGarpRepeat, VRRPGarpLowerPrioDelay: defaultGarpDelay}
}

// duplicateVRIDs reports two instances with the same VRID, family and
// interface: they would answer each other's adverts.
func (v *validator) duplicateVRIDs() {
	type key struct {
		vrid      int
		fam, intf string
	}
	seen := map[key]*VRRPInstance{}
	for _, vi := range v.cfg.Instances {
		if vi.VRID == 0 || vi.Interface == "" {
			continue
		}
		k := key{vi.VRID, v.instanceFamily(vi), vi.Interface}
		if first, dup := seen[k]; dup {
			fam := map[string]string{"inet": "IPv4", "inet6": "IPv6"}[k.fam]
			v.noLine(vi.PosOf("virtual_router_id"), ExitConfigErrors, "virtual_router_id",
				"%s and %s both use VRID %d with %s on interface %s", first.Name(), vi.Name(), vi.VRID, fam, vi.Interface)
			continue
		}
		seen[k] = vi
	}
}

// syncGroups checks that each group names existing instances, and more
// than one of them.
func (v *validator) syncGroups(instances map[string]bool) {
	for _, g := range v.cfg.SyncGroups {
		name := firstArg(g.Args)
		members := 0
		for _, line := range g.Group {
			for _, m := range line.Words {
				if !instances[m] {
					v.noLine(line.Pos, ExitConfigErrors, "group", "Virtual router %s specified in sync group %s doesn't exist - ignoring", m, name)
					continue
				}
				members++
			}
		}
		switch {
		case members == 0:
			v.noLine(g.Pos, ExitConfigErrors, "vrrp_sync_group", "Sync group %s has no virtual router(s). removing", name)
		case members == 1:
			v.noLine(g.Pos, ExitConfigErrors, "vrrp_sync_group", "Sync group %s has only 1 virtual router(s) - this probably isn't what you want", name)
		}
	}
}

// staticAddresses checks the dev of static_ipaddress entries.
func (v *validator) staticAddresses() {
	for _, a := range v.cfg.StaticIPAddresses {
		v.addressDev(a)
	}
}

// timerExpiredBackup: keepalived 2.2.7 does not know timer_expired_backup
// nor thread_timer_expired (added in 2.3.0) and calls them unknown
// keywords, so -t says so; the daemon acts on them as current keepalived
// does (vrrp_parser.c vrrp_timer_expired_backup_handler,
// vrrp_thread_timer_expired_handler; vrrp.c vrrp_complete_instance: it
// needs nopreempt), and the hints say what it makes of them.
func (v *validator) timerExpiredBackup(vi *VRRPInstance) {
	name := vi.Name()
	kws := []string{"timer_expired_backup", "thread_timer_expired"}
	if vi.PosOf("thread_timer_expired").Line < vi.PosOf("timer_expired_backup").Line {
		kws[0], kws[1] = kws[1], kws[0] // the last written wins
	}
	for _, kw := range kws {
		if !vi.IsSet(kw) {
			continue
		}
		pos := vi.PosOf(kw)
		words := vi.TimerExpiredBackup
		hint := "keepalived 2.2.7 does not know it; keepalived-go acts on it as keepalived 2.3 and later do"
		if kw == "thread_timer_expired" {
			words = vi.ThreadTimerExpired
			hint = "keepalived 2.2.7 does not know it; keepalived 2.3 and later, as keepalived-go, read it as timer_expired_backup"
		}
		v.diags = append(v.diags, Diagnostic{Severity: Error, Code: ExitConfigErrors, File: pos.File, Line: pos.Line,
			Keyword: kw, Msg: fmt.Sprintf("Unknown keyword '%s'", kw), Hint: hint})
		prio := ownerPriority - 1
		if len(words) > 0 {
			n, m := gdCheckInt(words[0], 1, ownerPriority-1, true)
			if m != "" {
				v.extra(pos, kw, "keepalived 2.3 ignores the keyword then",
					"(%s) timer_expired_backup highest_other_priority not valid! must be between 1 & %d", name, ownerPriority-1)
				continue
			}
			prio = int(n)
		}
		vi.HighestOtherPriority = prio
	}
	if vi.HighestOtherPriority != 0 && !vi.NoPreempt {
		v.extra(vi.PosOf(kws[1]), kws[1], "keepalived 2.3 ignores the keyword then",
			"(%s) expired_timer_backup requires nopreempt - resetting", name)
		vi.HighestOtherPriority = 0
	}
}
