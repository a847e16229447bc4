package config

import "net/netip"

// The checker child's view of the LVS configuration after reading and
// validate_check_config (check/check_data.c), as validation computes it:
// what keepalived would load into IPVS and check.

// VirtualServerSpec is a virtual_server as keepalived keeps it.
type VirtualServerSpec struct {
	// VirtualServer is the virtual_server block.
	VirtualServer *VirtualServer
	// Dropped says why keepalived ignores the whole virtual server ("" if
	// it keeps it): "invalid address", "undefined group", "group family
	// mismatch", "no real servers". The other fields are then partial.
	Dropped string
	Family  int            // 4 or 6; 0 if nothing decides it (a fwmark without real servers)
	Addr    netip.AddrPort // an address virtual server (port 0 for none)
	Fwmark  uint32         // a fwmark virtual server
	// Group is the virtual_server_group of a `virtual_server group NAME`.
	Group *VirtualServerGroup
	// Protocol is "tcp", "udp" or "sctp", "" for fwmarks (ignored there).
	Protocol   string
	Scheduler  string // lb_algo, "wlc" by default
	Method     string // lb_kind, "NAT" by default
	Persistent bool   // persistence_timeout (VirtualServer.PersistenceTimeout holds the value, 360 by default)
	Weight     int    // the virtual server's weight, the default of its real servers'
	// Flags are the IPVS service flags keepalived sets (vs->flags, from
	// lbflags_handler in check/check_parser.c): ops 0x4, flag-1 and
	// sh-/mh-fallback 0x8, flag-2 and sh-/mh-port 0x10, flag-3 0x20 (the
	// sh and mh flags only after an lb_algo of that scheduler; ops only
	// for UDP). IP_VS_SVC_F_PERSISTENT is not among them.
	Flags uint32
	// PersistenceTimeout is the persistence timeout in seconds, 0 when
	// the service is not persistent.
	PersistenceTimeout uint32
	// Granularity is the persistence netmask keepalived gives IPVS
	// (ipvs_set_srule, check/ipvswrapper.c): an IPv4 mask as a number
	// (persistence_granularity 255.255.255.0 is 0xffffff00; none is
	// 0xffffffff) or an IPv6 prefix length (none is 128).
	Granularity uint32
	// PersistenceEngine is persistence_engine (at most 15 bytes), "" for
	// none or when the service is not persistent.
	PersistenceEngine string
	// Tunnel is lb_kind TUN's encapsulation, the default of the real
	// servers'.
	Tunnel Tunnel
	// Sorry is the sorry server, if any survives.
	Sorry *RealServerSpec
	// RealServers are the real servers keepalived keeps, in order: not
	// those with an invalid address or of the wrong family, nor a
	// duplicate's second.
	RealServers []*RealServerSpec
}

// RealServerSpec is a real (or sorry) server as keepalived keeps it.
type RealServerSpec struct {
	// RealServer is the real_server block (nil for the sorry server):
	// validation has filled in what it inherits from the virtual server
	// (weight, delay_loop, connect_timeout, retry, delay_before_retry,
	// warmup, inhibit_on_failure, alpha, lvs_method) and its checkers
	// what they inherit from both.
	RealServer *RealServer
	Addr       netip.AddrPort
	Method     string // NAT, DR or TUN
	Weight     int
	// Tunnel is the encapsulation of a TUN server (its own lvs_method's,
	// else the virtual server's lb_kind's).
	Tunnel Tunnel
	// UThreshold and LThreshold are uthreshold and lthreshold (0: none).
	UThreshold, LThreshold uint32
	// Checkers are the checkers keepalived keeps (not a MISC_CHECK
	// without script or user, an HTTP/SSL_GET without url, a FILE_CHECK
	// without a known track_file, a BFD_CHECK of an unknown bfd_instance,
	// a link-local checker without bind_if).
	Checkers []*Checker
}

// Tunnel is a tunnelled server's encapsulation, as keepalived's
// svr_forwarding_handler (check/check_parser.c) reads `lb_kind TUN [type
// ipip|gue|gre] [port N] [nocsum|csum|remcsum]`. The zero value is ipip
// without checksum.
type Tunnel struct {
	Type     string `json:"type,omitempty"`     // "" (ipip), "gue" or "gre"
	Port     uint16 `json:"port,omitempty"`     // gue's destination port
	Checksum string `json:"checksum,omitempty"` // "" (nocsum), "csum" or "remcsum"
}

// VirtualServerSpecs are the virtual servers keepalived keeps, in order.
func (c *Config) VirtualServerSpecs() []*VirtualServerSpec {
	var out []*VirtualServerSpec
	for _, vs := range c.VirtualServers {
		if r := vs.Resolved; r != nil && r.Dropped == "" {
			out = append(out, r)
		}
	}
	return out
}

// specArena is where the resolved specs of the virtual servers are
// allocated, many at a time. Its memory is handed out once and never
// reused: the specs outlive validation, unlike the buffer of lvsServers.
type specArena struct {
	vs   []VirtualServerSpec
	rs   []RealServerSpec
	ptrs []*RealServerSpec
}

// carve returns n zero elements of *arena, taken from a new chunk of at
// least chunk elements when the current one has not room for them.
func carve[T any](arena *[]T, n, chunk int) []T {
	if cap(*arena)-len(*arena) < n {
		*arena = make([]T, 0, max(chunk, n))
	}
	start := len(*arena)
	*arena = (*arena)[:start+n]
	return (*arena)[start : start+n : start+n]
}

// resolved is what s knows of its virtual server, for the runtime. It
// copies what it keeps of each lvsServer (those live in a buffer the next
// virtual server reuses).
func (s *lvsState) resolved(dropped string, a *specArena) *VirtualServerSpec {
	r := &carve(&a.vs, 1, 64)[0]
	*r = VirtualServerSpec{VirtualServer: s.vs, Dropped: dropped, Family: s.af, Addr: s.addr, Group: s.group, Protocol: s.proto,
		Scheduler: s.sched, Method: s.method, Persistent: s.persist, Weight: s.weight, Flags: s.flags, Tunnel: s.tun}
	if s.fwmark {
		n, _ := kaUnsigned(s.vs.Args[1], 0, maxUint32)
		r.Fwmark = uint32(n)
	}
	if s.vs.OPS {
		r.Flags |= 0x0004 // IP_VS_SVC_F_ONEPACKET; validation cleared ops unless UDP
	}
	r.Granularity = 0xffffffff
	if s.af == 6 {
		r.Granularity = 128
	}
	if s.persist {
		r.PersistenceTimeout = 360 // IPVS_SVC_PERSISTENT_TIMEOUT
		if pt := s.vs.PersistenceTimeout; len(pt) > 0 {
			if n, msg := kaUnsigned(pt[0], 1, 86400*31); msg == "" {
				r.PersistenceTimeout = uint32(n)
			}
		}
		if s.granSet {
			r.Granularity = s.granularity
		}
		r.PersistenceEngine = s.vs.PersistenceEngine
		if len(r.PersistenceEngine) > 15 {
			r.PersistenceEngine = r.PersistenceEngine[:15] // IP_VS_PENAME_MAXLEN
		}
	}
	spec := func(srv *lvsServer, dst *RealServerSpec) *RealServerSpec {
		*dst = RealServerSpec{RealServer: srv.rs, Addr: srv.addr, Method: srv.method, Weight: srv.weight, Checkers: srv.checkers,
			Tunnel: srv.tun, UThreshold: srv.uthreshold, LThreshold: srv.lthreshold}
		return dst
	}
	if s.ss != nil {
		r.Sorry = spec(s.ss, &carve(&a.rs, 1, 512)[0])
	}
	all := carve(&a.rs, len(s.rs), 512)
	r.RealServers = carve(&a.ptrs, len(s.rs), 512)
	for i, srv := range s.rs {
		r.RealServers[i] = spec(srv, &all[i])
	}
	return r
}
