package kernel

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AddrEvent is an address added to or removed from an interface.
type AddrEvent struct {
	Addr  netip.Addr
	Index int // the interface's
	Added bool
}

// AddrWatch is a subscription to the addresses of a network namespace
// (RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR): every address there is
// now, then every change. It ends as every Watch may (see Watch).
type AddrWatch = Watch[AddrEvent]

// WatchAddresses subscribes to the addresses of the calling thread's
// network namespace.
func WatchAddresses() (*AddrWatch, error) { return WatchAddressesWith(NetlinkBuffer{}) }

// WatchAddressesWith is WatchAddresses with the subscription socket's
// receive buffer set to buf.
func WatchAddressesWith(buf NetlinkBuffer) (*AddrWatch, error) {
	w := newWatch[AddrEvent]("addresses")
	raw := make(chan netlink.AddrUpdate, 256)
	buf = buf.usable()
	opts := netlink.AddrSubscribeOptions{ListExisting: true, ReceiveBufferSize: buf.Size,
		ReceiveBufferForceSize: buf.Force, ErrorCallback: w.callback}
	if err := netlink.AddrSubscribeWithOptions(raw, w.stop, opts); err != nil {
		close(w.stop)
		return nil, fmt.Errorf("kernel: watch addresses: %w", err)
	}
	go forward(w, raw, func(u netlink.AddrUpdate) AddrEvent {
		a, _ := netip.AddrFromSlice(u.LinkAddress.IP)
		return AddrEvent{Addr: a.Unmap(), Index: u.LinkIndex, Added: u.NewAddr}
	})
	return w, nil
}

// Addresses lists the addresses of the calling thread's network
// namespace with their interfaces, as AddrWatch's first events would.
func Addresses() ([]AddrEvent, error) { return AddressesWith(NetlinkBuffer{}) }

// AddressesWith is Addresses on a command socket whose receive buffer is
// buf, opened for the listing and closed after it, as keepalived's checker
// process opens its nl_cmd (sized by lvs_netlink_cmd_rcv_bufs) for the
// address lookup at start and closes it (keepalived_netlink.c
// kernel_netlink_init). _force without CAP_NET_ADMIN leaves the kernel's
// default, as for the monitors.
func AddressesWith(buf NetlinkBuffer) ([]AddrEvent, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("kernel: list addresses: %w", err)
	}
	defer h.Close()
	if err := h.SetSocketTimeout(netlink.GetSocketTimeout()); err != nil {
		return nil, fmt.Errorf("kernel: list addresses: %w", err)
	}
	if buf = buf.usable(); buf.Size > 0 {
		if err := h.SetSocketReceiveBufferSize(buf.Size, buf.Force); err != nil {
			return nil, fmt.Errorf("kernel: list addresses: receive buffer %d: %w", buf.Size, err)
		}
	}
	if addressesListed != nil {
		addressesListed(h)
	}
	list, err := addrList(h, nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("kernel: list addresses: %w", err)
	}
	out := make([]AddrEvent, 0, len(list))
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, AddrEvent{Addr: ip.Unmap(), Index: a.LinkIndex, Added: true})
		}
	}
	return out, nil
}

// addressesListed, when set (by tests), sees AddressesWith's socket
// before the listing.
var addressesListed func(*netlink.Handle)
