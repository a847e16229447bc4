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
func WatchLinks() (*LinkWatch, error) { return watchLinks(0) }

// watchLinks is WatchLinks with the socket's receive buffer set to rcvbuf
// bytes when it is not 0 (tests make it small to overflow it).
func watchLinks(rcvbuf int) (*LinkWatch, error) {
	w := newWatch[LinkState]("links")
	raw := make(chan netlink.LinkUpdate, 256)
	opts := netlink.LinkSubscribeOptions{ListExisting: true, ReceiveBufferSize: rcvbuf, ErrorCallback: w.callback}
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
