package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// rootBlocks checks the root-level blocks that are neither VRRP instances
// nor virtual servers: linkbeat_interfaces and interface_up_down_delays
// (read by keepalived's VRRP child) and bfd_instance (its BFD child).
func (v *validator) rootBlocks() {
	if !v.cfg.stopped["vrrp"] {
		v.linkbeatAndDelays()
	}
	if !v.cfg.stopped["bfd"] {
		v.bfdInstances()
	}
}

// dynamicInterfaces tells whether global_defs allows interfaces that do not
// exist yet (keepalived then creates them on use instead of complaining).
func (v *validator) dynamicInterfaces() bool {
	return v.cfg.GlobalDefs != nil && v.cfg.GlobalDefs.IsSet("dynamic_interfaces")
}

// linkbeatAndDelays: an unknown interface in linkbeat_interfaces or
// interface_up_down_delays is keepalived's only exit-4 ("fatal") finding.
func (v *validator) linkbeatAndDelays() {
	exists := func(name string) bool { return v.dynamicInterfaces() || v.opts.InterfaceExists(name) }
	for _, e := range v.cfg.LinkbeatInterfaces {
		if len(e.Words) == 0 {
			continue
		}
		if !exists(e.Words[0]) {
			v.at(e.Pos, ExitFatal, "linkbeat_interfaces", "unknown interface %s specified for linkbeat interface", e.Words[0])
			continue
		}
		if len(e.Words) > 1 {
			switch e.Words[1] {
			case "MII", "ETHTOOL", "IOCTL":
				if len(e.Words) == 2 {
					continue
				}
			}
			v.at(e.Pos, ExitConfigErrors, "linkbeat_interfaces", "extra characters %s in linkbeat interface", e.Words[1])
		}
	}
	for _, e := range v.cfg.UpDownDelays {
		if len(e.Words) == 0 {
			continue
		}
		name := e.Words[0]
		if !exists(name) {
			v.at(e.Pos, ExitFatal, "interface_up_down_delays", "unknown interface %s specified for up/down delay", name)
			continue
		}
		// The rest keepalived only logs (LOG_INFO), without failing -t.
		if len(e.Words) < 2 {
			v.extra(e.Pos, "interface_up_down_delays", "write: INTERFACE DOWN_DELAY [UP_DELAY]", "No timeouts specified for %s up/down delays", name)
			continue
		}
		if len(e.Words) > 3 {
			v.extra(e.Pos, "interface_up_down_delays", "write: INTERFACE DOWN_DELAY [UP_DELAY]", "Too many parameters for %s up/down delays", name)
		}
		for i, what := range []string{"down", "up"} {
			if i+1 >= len(e.Words) {
				break
			}
			if f, err := strconv.ParseFloat(e.Words[i+1], 64); err != nil || f < 0 || f > 255 {
				v.extra(e.Pos, "interface_up_down_delays", "a delay is in seconds, 0 to 255", "Invalid %s delay %s for %s", what, e.Words[i+1], name)
				break
			}
		}
	}
}

// bfdInstances checks bfd_instance blocks as keepalived's BFD child does.
func (v *validator) bfdInstances() {
	type seen struct{ nbr, src netip.Addr }
	var done []seen
	names := map[string]bool{}
	for _, b := range v.cfg.BFDInstances {
		name := firstArg(b.Args)
		bad := func(kw, format string, args ...any) { v.at(b.PosOf(kw), ExitConfigErrors, kw, format, args...) }
		if len(name) >= 32 {
			v.at(b.Pos, ExitConfigErrors, "bfd_instance", "Configuration error: BFD instance %s name too long (maximum length is %d characters) - ignoring instance", name, 31)
			continue
		}
		if names[name] {
			v.at(b.Pos, ExitConfigErrors, "bfd_instance", "Configuration error: BFD instance %s already configured - ignoring instance", name)
			continue
		}
		names[name] = true
		nbrWord := "neighbor"
		var nbr, src netip.Addr
		if b.IsSet("neighbor_ip") {
			a, ok := kaAddr(b.NeighborIP)
			if !ok {
				// keepalived drops the instance and skips the rest of it.
				bad("neighbor_ip", "Configuration error: BFD instance %s has malformed %s address %s, ignoring instance", name, nbrWord, b.NeighborIP)
				continue
			}
			nbr = a
		}
		if b.IsSet("source_ip") {
			if a, ok := kaAddr(b.SourceIP); !ok {
				bad("source_ip", "Configuration error: BFD instance %s has malformed source address %s, ignoring", name, b.SourceIP)
			} else {
				src = a
			}
		}
		for _, r := range []struct {
			kw     string
			n      int
			lo, hi int
		}{{"min_rx", b.MinRx, 1, maxUint32 / 1000}, {"min_tx", b.MinTx, 1, maxUint32 / 1000}, {"idle_tx", b.IdleTx, 1000, maxUint32 / 1000}} {
			if b.IsSet(r.kw) && (r.n < r.lo || r.n > r.hi) {
				bad(r.kw, "Configuration error: BFD instance %s %s value %d is not valid (must be in range [%d-%d]), ignoring", name, r.kw, r.n, r.lo, r.hi)
			}
		}
		if b.IsSet("multiplier") {
			if msg := intRange(b.Multiplier, 1, 255); msg != "" {
				bad("multiplier", "%s", msg)
				bad("multiplier", "Configuration error: BFD instance %s multiplier value %d not valid (must be in range [1-255]), ignoring", name, b.Multiplier)
			}
		}
		ttl := 0
		for _, kw := range []string{"ttl", "hoplimit"} {
			n := b.TTL
			if kw == "hoplimit" {
				n = b.HopLimit
			}
			if !b.IsSet(kw) {
				continue
			}
			if msg := intRange(n, 1, 255); msg != "" {
				bad(kw, "%s", msg)
				bad(kw, "Configuration error: BFD instance %s ttl/hoplimit value %d not valid (must be in range [1-255]), ignoring", name, n)
			} else {
				ttl = n
			}
		}
		maxHops := 0
		if b.IsSet("max_hops") {
			n, err := strconv.Atoi(strings.TrimSpace(b.MaxHops[0]))
			if err != nil || n < -1 || n > 255 {
				bad("max_hops", "Configuration error: BFD instance %s max_hops value %s not valid (must be in range [-1-255]), ignoring", name, b.MaxHops[0])
			} else {
				maxHops = n
			}
		}
		if b.IsSet("weight") && (b.Weight < -253 || b.Weight > 253) {
			bad("weight", "Configuration error: BFD instance %s weight value %d not valid (must be in range [-253-253]), ignoring", name, b.Weight)
		}
		// bfd_end_handler, at the instance's closing brace.
		end := func(format string, args ...any) { v.at(b.End, ExitConfigErrors, "bfd_instance", format, args...) }
		if !nbr.IsValid() {
			end("Configuration error: BFD instance %s has no %s address set, disabling instance", name, nbrWord)
			continue
		}
		if src.IsValid() && src.Is4() != nbr.Is4() {
			end("Configuration error: BFD instance %s source address %s and %s address %s are not of the same family, disabling instance", name, src, nbrWord, nbr)
			continue
		}
		dup := false
		for _, d := range done {
			if d.nbr == nbr && d.src == src {
				dup = true
			}
		}
		if dup {
			if src.IsValid() {
				end("Configuration error: BFD instance %s has duplicate source/%s address %s/%s, ignoring instance", name, nbrWord, src, nbr)
			} else {
				end("Configuration error: BFD instance %s has duplicate %s address %s, ignoring instance", name, nbrWord, nbr)
			}
			continue
		}
		done = append(done, seen{nbr, src})
		if ttl == 0 {
			ttl = 64
			if nbr.Is4() {
				ttl = 255
			}
		}
		if maxHops > ttl {
			end("BFD instance %s: max_hops exceeds ttl/hoplimit - setting to ttl/hoplimit", name)
		}
	}
}
