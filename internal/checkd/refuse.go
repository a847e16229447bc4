package checkd

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/lvs/nftables"
)

// WithApproximation is --lvs-nftables-approximate: the nftables data
// plane holds what it cannot express by the nearest equivalent, with a
// warning, instead of refusing the configuration.
func WithApproximation(on bool) Option {
	return func(s *Subsystem) { s.dpApproximate = on }
}

// Refusals says why the data plane cannot run cfg's virtual servers, one
// line per reason with its file and line ("(FILE: Line N) virtual_server
// ...: why: what to do"); none if it can. Only the nftables backend
// refuses, without --lvs-nftables-approximate: what it cannot express
// (nftables.Refusals) is never silently approximated. The daemon does not
// start with such a configuration, and a reload to one keeps the running
// configuration. Choosing the backend (at the first configuration with
// virtual servers) is logged once, as at Apply.
func (s *Subsystem) Refusals(cfg *config.Config) []string {
	specs := cfg.VirtualServerSpecs()
	if len(specs) == 0 {
		return nil
	}
	s.mu.Lock()
	syncer := s.syncer()
	s.mu.Unlock()
	if syncer == nil {
		return nil
	}
	b, ok := syncer.Backend().(*nftables.Backend)
	if !ok || b.Approximates() {
		return nil
	}
	var out []string
	for _, spec := range specs {
		out = append(out, refusals(spec)...)
	}
	return out
}

// refusals are the nftables refusals of one virtual server, its real and
// sorry servers at their configured weights, each at the line of the
// keyword at fault (the virtual_server's for an absent lb_algo).
func refusals(spec *config.VirtualServerSpec) []string {
	vs := spec.VirtualServer
	svc := lvs.Service{Scheduler: spec.Scheduler, Method: spec.Method, Flags: lvs.Flags(spec.Flags),
		Persistence: spec.PersistenceTimeout, Granularity: spec.Granularity, Engine: spec.PersistenceEngine}
	if !vs.IsSet("lb_algo") {
		svc.Scheduler = "" // keepalived's default: said so
	}
	servers := map[netip.AddrPort]*config.RealServerSpec{}
	all := spec.RealServers
	if spec.Sorry != nil {
		all = append(all[:len(all):len(all)], spec.Sorry)
	}
	for _, rs := range all {
		svc.Dests = append(svc.Dests, lvs.Destination{Addr: rs.Addr, Weight: rs.Weight, Method: defaultString(rs.Method, spec.Method),
			UThreshold: rs.UThreshold, LThreshold: rs.LThreshold})
		if _, dup := servers[rs.Addr]; !dup {
			servers[rs.Addr] = rs
		}
	}
	// What can be refused depends on the kind of service (a protocol, a
	// fwmark's ports): one of each kind the virtual server makes.
	var keys []lvs.ServiceKey
	proto := defaultString(spec.Protocol, "tcp")
	switch {
	case spec.Group == nil && spec.Fwmark != 0:
		keys = append(keys, lvs.FwmarkKey(max(spec.Family, 4), spec.Fwmark))
	case spec.Group == nil:
		keys = append(keys, lvs.AddrKey(proto, spec.Addr))
	default:
		fw, addr := false, false
		for _, e := range spec.Group.Entries {
			switch {
			case e.Range == "" && !fw:
				fw = true
				keys = append(keys, lvs.FwmarkKey(max(spec.Family, 4), uint32(e.Fwmark)))
			case e.Range != "" && e.Start.IsValid() && !addr:
				addr = true
				keys = append(keys, lvs.AddrKey(proto, netip.AddrPortFrom(e.Start, uint16(e.Port))))
			}
		}
	}
	var out []string
	seen := map[string]bool{}
	name := "virtual_server " + strings.Join(vs.Args, " ")
	for _, k := range keys {
		svc.ServiceKey = k
		for _, r := range nftables.Refusals(svc) {
			pos := vs.PosOf(r.Keyword)
			if rs := servers[r.Server]; r.Server.IsValid() && rs != nil {
				switch {
				case rs.RealServer != nil && r.Keyword == "lvs_method" && !rs.RealServer.IsSet("lvs_method"):
					pos = vs.PosOf("lb_kind") // inherited
				case rs.RealServer != nil:
					pos = rs.RealServer.PosOf(r.Keyword)
				case rs == spec.Sorry:
					pos = vs.PosOf("sorry_server")
					if r.Keyword == "lvs_method" && vs.IsSet("sorry_server_lvs_method") {
						pos = vs.PosOf("sorry_server_lvs_method")
					}
				}
			}
			line := fmt.Sprintf("%s %s: %s", pos, name, r)
			if !seen[line] {
				seen[line] = true
				out = append(out, line)
			}
		}
	}
	return out
}
