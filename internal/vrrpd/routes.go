package vrrpd

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// routeTypes maps `ip route` type words to rtnetlink's route types.
var routeTypes = map[string]int{"unicast": unix.RTN_UNICAST, "blackhole": unix.RTN_BLACKHOLE,
	"unreachable": unix.RTN_UNREACHABLE, "prohibit": unix.RTN_PROHIBIT, "throw": unix.RTN_THROW,
	"local": unix.RTN_LOCAL, "broadcast": unix.RTN_BROADCAST, "anycast": unix.RTN_ANYCAST}

// tableNumbers are the routing tables `ip` knows by name.
var tableNumbers = map[string]int{"main": unix.RT_TABLE_MAIN, "local": unix.RT_TABLE_LOCAL, "default": unix.RT_TABLE_DEFAULT}

// kernelRoute turns a static_routes/virtual_routes line into a kernel
// route. Words keepalived knows but we do not act on yet are reported.
func kernelRoute(r config.Route) (kernel.Route, error) {
	kr := kernel.Route{Dev: r.Dev, Type: routeTypes[r.Type]}
	var err error
	if kr.Dst, err = routeDestination(r.Dest, r.Via); err != nil {
		return kr, err
	}
	if r.Via != "" {
		if kr.Via, err = netip.ParseAddr(r.Via); err != nil {
			return kr, fmt.Errorf("route %s: gateway %q: %w", r.Dest, r.Via, err)
		}
	}
	if r.Src != "" {
		if kr.Src, err = netip.ParseAddr(r.Src); err != nil {
			return kr, fmt.Errorf("route %s: src %q: %w", r.Dest, r.Src, err)
		}
	}
	if kr.Table, err = tableNumber(r.Table); err != nil {
		return kr, err
	}
	for i := 0; i+1 < len(r.Words); i++ {
		if r.Words[i] == "metric" || r.Words[i] == "preference" || r.Words[i] == "priority" {
			if kr.Metric, err = strconv.Atoi(r.Words[i+1]); err != nil {
				return kr, fmt.Errorf("route %s: metric %q: %w", r.Dest, r.Words[i+1], err)
			}
		}
	}
	return kr, nil
}

// routeDestination reads a route's destination; "default" takes the
// family of the gateway (IPv4 without one).
func routeDestination(dest, via string) (netip.Prefix, error) {
	if dest == "default" {
		if a, err := netip.ParseAddr(via); err == nil && a.Is6() {
			return netip.MustParsePrefix("::/0"), nil
		}
		return netip.MustParsePrefix("0.0.0.0/0"), nil
	}
	if p, err := netip.ParsePrefix(dest); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(dest)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("route destination %q: %w", dest, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func tableNumber(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if n, ok := tableNumbers[s]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("routing table %q: only numbers and main/local/default are supported", s)
	}
	return n, nil
}

// kernelRule turns a static_rules/virtual_rules line into a kernel rule.
func kernelRule(r config.Rule) (kernel.Rule, error) {
	kr := kernel.Rule{Family: 4}
	var err error
	for _, sel := range []struct {
		text string
		dst  *netip.Prefix
	}{{r.From, &kr.From}, {r.To, &kr.To}} {
		if sel.text == "" || sel.text == "all" {
			continue
		}
		if *sel.dst, err = routeDestination(sel.text, ""); err != nil {
			return kr, err
		}
		if sel.dst.Addr().Is6() {
			kr.Family = 6
		}
	}
	if kr.Table, err = tableNumber(r.Table); err != nil {
		return kr, err
	}
	for i := 0; i+1 < len(r.Words); i++ {
		switch r.Words[i] {
		case "preference", "priority", "pref", "order":
			if kr.Priority, err = strconv.Atoi(r.Words[i+1]); err != nil {
				return kr, fmt.Errorf("rule preference %q: %w", r.Words[i+1], err)
			}
		}
	}
	return kr, nil
}

// routing is a set of routes and rules installed and removed together:
// an instance's virtual_routes and virtual_rules, or the static ones.
type routing struct {
	routes []kernel.Route
	rules  []kernel.Rule
}

// newRouting converts the configuration's lines, logging (and leaving
// out) the ones that cannot be converted.
func newRouting(log *slog.Logger, routes []config.Route, rules []config.Rule) routing {
	var rt routing
	for _, r := range routes {
		kr, err := kernelRoute(r)
		if err != nil {
			log.Error(fmt.Sprintf("(%s: Line %d) route not installed", r.Pos.File, r.Pos.Line), "err", err)
			continue
		}
		rt.routes = append(rt.routes, kr)
	}
	for _, r := range rules {
		kr, err := kernelRule(r)
		if err != nil {
			log.Error(fmt.Sprintf("(%s: Line %d) rule not installed", r.Pos.File, r.Pos.Line), "err", err)
			continue
		}
		rt.rules = append(rt.rules, kr)
	}
	return rt
}

// install adds the rules, then the routes (a route may need its rule's
// table).
func (rt routing) install(k kernel.Kernel) error {
	var errs []error
	for _, r := range rt.rules {
		errs = append(errs, k.AddRule(r))
	}
	for _, r := range rt.routes {
		errs = append(errs, k.AddRoute(r))
	}
	return errors.Join(errs...)
}

// remove deletes them in the reverse order.
func (rt routing) remove(k kernel.Kernel) error {
	var errs []error
	for _, r := range rt.routes {
		errs = append(errs, k.DelRoute(r))
	}
	for _, r := range rt.rules {
		errs = append(errs, k.DelRule(r))
	}
	return errors.Join(errs...)
}

// minus is the routes and rules of rt that other does not have.
func (rt routing) minus(other routing) routing {
	var out routing
	for _, r := range rt.routes {
		if !containsEqual(other.routes, r) {
			out.routes = append(out.routes, r)
		}
	}
	for _, r := range rt.rules {
		if !containsEqual(other.rules, r) {
			out.rules = append(out.rules, r)
		}
	}
	return out
}

// containsEqual is slices.Contains for values that == cannot compare.
func containsEqual[T any](s []T, v T) bool {
	for _, w := range s {
		if reflect.DeepEqual(w, v) {
			return true
		}
	}
	return false
}

// staticConfig is static_ipaddress, static_routes and static_rules:
// installed at start, removed at stop, whatever the VRRP states.
type staticConfig struct {
	addrs   []config.IPAddress
	routing routing
}

func newStatic(cfg *config.Config, log *slog.Logger) staticConfig {
	return staticConfig{addrs: cfg.StaticIPAddresses, routing: newRouting(log, cfg.StaticRoutes, cfg.StaticRules)}
}

func (s staticConfig) install(k kernel.Kernel, log *slog.Logger) {
	for _, a := range s.addrs {
		if err := k.AddAddress(a.Dev, kernelAddress(vipOf(a, a.Dev))); err != nil {
			log.Error("cannot add static address", "address", a.Prefix, "dev", a.Dev, "err", err)
		}
	}
	if err := s.routing.install(k); err != nil {
		log.Error("cannot install static routes or rules", "err", err)
	}
}

// minus is the static entries of s that other does not have.
func (s staticConfig) minus(other staticConfig) staticConfig {
	out := staticConfig{routing: s.routing.minus(other.routing)}
	for _, a := range s.addrs {
		if !slices.ContainsFunc(other.addrs, func(b config.IPAddress) bool { return a.Prefix == b.Prefix && a.Dev == b.Dev }) {
			out.addrs = append(out.addrs, a)
		}
	}
	return out
}

func (s staticConfig) remove(k kernel.Kernel, log *slog.Logger) {
	if err := s.routing.remove(k); err != nil {
		log.Error("cannot remove static routes or rules", "err", err)
	}
	for _, a := range s.addrs {
		if err := k.DelAddress(a.Dev, kernelAddress(vipOf(a, a.Dev))); err != nil {
			log.Error("cannot remove static address", "address", a.Prefix, "err", err)
		}
	}
}
