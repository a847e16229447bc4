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
	// Checkers are the checkers keepalived keeps (not a MISC_CHECK
	// without script or user, an HTTP/SSL_GET without url, a FILE_CHECK
	// without a known track_file, a BFD_CHECK of an unknown bfd_instance,
	// a link-local checker without bind_if).
	Checkers []*Checker
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
		Scheduler: s.sched, Method: s.method, Persistent: s.persist, Weight: s.weight}
	if s.fwmark {
		n, _ := kaUnsigned(s.vs.Args[1], 0, maxUint32)
		r.Fwmark = uint32(n)
	}
	spec := func(srv *lvsServer, dst *RealServerSpec) *RealServerSpec {
		*dst = RealServerSpec{RealServer: srv.rs, Addr: srv.addr, Method: srv.method, Weight: srv.weight, Checkers: srv.checkers}
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
