package kernel

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkState is an interface's state as VRRP tracks it: up means
// administratively up and operationally running (keepalived's IFF_UP and
// IFF_RUNNING).
type LinkState struct {
	Name  string
	Index int
	Up    bool
}

// LinkWatch is a subscription to the interfaces of a network namespace
// (rtnetlink's RTNLGRP_LINK). Updates reports the state of every
// interface, first as it is now, then at every change (a deleted interface
// is reported down). It ends as every Watch may (see Watch).
type LinkWatch = Watch[LinkState]

// WatchLinks subscribes to the interfaces of the calling thread's network
// namespace.
func WatchLinks() (*LinkWatch, error) { return WatchLinksWith(NetlinkBuffer{}) }

// NetlinkBuffer is the receive buffer of a netlink socket: SO_RCVBUF of
// Size bytes (the kernel doubles it, and caps it at net.core.rmem_max),
// or with Force SO_RCVBUFFORCE, which needs CAP_NET_ADMIN and ignores the
// cap. Size 0 leaves the kernel's default (net.core.rmem_default).
// keepalived's *_netlink_monitor_rcv_bufs[_force] and
// process_monitor_rcv_bufs[_force] set it.
type NetlinkBuffer struct {
	Size  int
	Force bool
}

// usable is buf as a socket of this process can have it: without
// CAP_NET_ADMIN SO_RCVBUFFORCE fails, and the socket keeps the kernel's
// default, as keepalived's does (keepalived_netlink.c
// netlink_set_rx_buf_size logs the error and goes on); the library would
// fail the subscription instead.
func (buf NetlinkBuffer) usable() NetlinkBuffer {
	if buf.Force && !hasNetAdmin() {
		return NetlinkBuffer{}
	}
	return buf
}

// hasNetAdmin tells whether the calling process has CAP_NET_ADMIN in its
// effective set.
func hasNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_NET_ADMIN) != 0
}

// WatchLinksWith is WatchLinks with the subscription socket's receive
// buffer set to buf (tests make it small to overflow it).
func WatchLinksWith(buf NetlinkBuffer) (*LinkWatch, error) {
	w := newWatch[LinkState]("links")
	raw := make(chan netlink.LinkUpdate, 256)
	buf = buf.usable()
	opts := netlink.LinkSubscribeOptions{ListExisting: true, ReceiveBufferSize: buf.Size,
		ReceiveBufferForceSize: buf.Force, ErrorCallback: w.callback}
	if err := netlink.LinkSubscribeWithOptions(raw, w.stop, opts); err != nil {
		close(w.stop) // the library may already wait on it to close its socket
		return nil, fmt.Errorf("kernel: watch links: %w", err)
	}
	go forward(w, raw, func(u netlink.LinkUpdate) LinkState {
		a := u.Attrs()
		return LinkState{Name: a.Name, Index: a.Index, Up: linkUp(a) && u.Header.Type != unix.RTM_DELLINK}
	})
	return w, nil
}

// LinkStates reports the state of every interface of the calling thread's
// network namespace now: the whole list at once, where a LinkWatch's first
// listing arrives piecemeal.
func LinkStates() ([]LinkState, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("kernel: list links: %w", err)
	}
	out := make([]LinkState, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		out = append(out, LinkState{Name: a.Name, Index: a.Index, Up: linkUp(a)})
	}
	return out, nil
}

// linkUp is IFF_UP and IFF_RUNNING: administratively up, and
// operationally up (or unknown, as for lo).
func linkUp(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
}
