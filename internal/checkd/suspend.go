package checkd

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// ha_suspend: the checkers of a virtual server with ha_suspend run only
// while one of its addresses is on this host (keepalived's
// update_checker_activity, fed by its netlink reflector): on a VRRP
// backup, whose VIP is on the master, they pause and keep their state.

// addressSource is where the addresses of the host come from; tests
// replace it.
var addressSource interface {
	Addresses(buf kernel.NetlinkBuffer) ([]kernel.AddrEvent, error)
	WatchAddresses(buf kernel.NetlinkBuffer) (addrWatch, error)
} = kernelAddresses{}

type addrWatch interface {
	Updates() <-chan kernel.AddrEvent
	Err() error
	Close()
}

type kernelAddresses struct{}

func (kernelAddresses) Addresses(buf kernel.NetlinkBuffer) ([]kernel.AddrEvent, error) {
	return kernel.AddressesWith(buf)
}
func (kernelAddresses) WatchAddresses(buf kernel.NetlinkBuffer) (addrWatch, error) {
	return kernel.WatchAddressesWith(buf)
}

// addrMatcher tells whether an address is one of a virtual server's: its
// own, or one in its group's ranges. A fwmark service has none, so its
// ha_suspend checkers never run, as in keepalived.
type addrMatcher func(netip.Addr) bool

func matcherOf(spec *config.VirtualServerSpec) addrMatcher {
	if spec.Group != nil {
		var ranges []config.VSGEntry
		for _, e := range spec.Group.Entries {
			if e.Start.IsValid() {
				ranges = append(ranges, e)
			}
		}
		return func(a netip.Addr) bool {
			for _, e := range ranges {
				if a.BitLen() == e.Start.BitLen() && a.Compare(e.Start) >= 0 && a.Compare(e.End) <= 0 {
					return true
				}
			}
			return false
		}
	}
	own := spec.Addr.Addr()
	return func(a netip.Addr) bool { return own.IsValid() && a == own }
}

// suspender follows the host's addresses for the ha_suspend services and
// suspends or activates their checkers.
type suspender struct {
	log      *slog.Logger
	services []*service
	// here are the host's addresses, each with its interface: the same
	// address on two interfaces counts until both are gone (keepalived's
	// ha_suspend_addr_count), and a repeated event changes nothing.
	here  map[hostAddr]bool
	quiet bool // apply logs nothing
	// buf is the address monitor's receive buffer: keepalived's checker
	// process sizes its nl_kernel with lvs_netlink_monitor_rcv_bufs
	// (keepalived_netlink.c kernel_netlink_init).
	buf kernel.NetlinkBuffer
	// cmdBuf is the listing socket's: keepalived's checker lists the
	// addresses on its nl_cmd, sized with lvs_netlink_cmd_rcv_bufs.
	cmdBuf kernel.NetlinkBuffer
	stop   chan struct{}
	done   chan struct{}
}

// newSuspender decides each ha_suspend service's state from the
// addresses there are now; start follows the changes.
func newSuspender(log *slog.Logger, services []*service, buf, cmdBuf kernel.NetlinkBuffer) *suspender {
	s := &suspender{log: log, services: services, here: map[hostAddr]bool{}, buf: buf, cmdBuf: cmdBuf,
		stop: make(chan struct{}), done: make(chan struct{})}
	s.quiet = true // start-up: the services log their checkers' activity
	s.relist()
	s.quiet = false
	return s
}

// relist counts the host's addresses afresh and applies them.
func (s *suspender) relist() {
	addrs, err := addressSource.Addresses(s.cmdBuf)
	if err != nil {
		s.log.Error("ha_suspend: cannot list the addresses; the checkers keep their last activity", "err", err)
		return
	}
	clear(s.here)
	for _, a := range addrs {
		s.here[hostAddr{a.Addr, a.Index}] = true
	}
	s.apply()
}

// apply suspends the services none of whose addresses is here and
// activates the others, logging each checker that changes as keepalived
// does.
func (s *suspender) apply() {
	for _, svc := range s.services {
		present := false
		for a := range s.here {
			present = present || svc.ownsAddr(a.addr)
		}
		if svc.suspended.Load() == !present {
			continue
		}
		svc.suspended.Store(!present)
		if s.quiet {
			continue
		}
		verb := map[bool]string{true: "Activating", false: "Suspending"}[present]
		for _, srv := range svc.servers {
			for range srv.jobs {
				s.log.Info(fmt.Sprintf("%s healthchecker for service %s for VS %s", verb, srv.name, svc.name))
			}
		}
	}
}

// start follows the address changes until Stop, subscribing again (and
// listing again) if the subscription ends.
func (s *suspender) start() {
	go func() {
		defer close(s.done)
		for {
			w, err := addressSource.WatchAddresses(s.buf)
			if err == nil {
				s.relist() // what changed before the subscription
				err = s.follow(w)
				w.Close()
			}
			if err == nil {
				return // stopped
			}
			s.log.Error("ha_suspend: the address watch ended; subscribing again", "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
}

// follow applies w's events; it returns nil when stopped, else why the
// watch ended.
func (s *suspender) follow(w addrWatch) error {
	for {
		select {
		case <-s.stop:
			return nil
		case ev, ok := <-w.Updates():
			if !ok {
				if err := w.Err(); err != nil {
					return err
				}
				return errors.New("the address watch ended")
			}
			if key := (hostAddr{ev.Addr, ev.Index}); ev.Added {
				s.here[key] = true
			} else {
				delete(s.here, key)
			}
			s.apply()
		}
	}
}

// Stop ends the following and waits for it.
func (s *suspender) Stop() {
	close(s.stop)
	<-s.done
}

// hostAddr is an address on one interface.
type hostAddr struct {
	addr  netip.Addr
	index int
}
