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

// WatchLinks reports the state of every interface of the calling thread's
// network namespace, first as it is now, then at every change (a deleted
// interface is reported down), until done is closed.
func WatchLinks(done <-chan struct{}) (<-chan LinkState, error) {
	updates := make(chan netlink.LinkUpdate, 256)
	if err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{ListExisting: true}); err != nil {
		return nil, fmt.Errorf("kernel: watch links: %w", err)
	}
	out := make(chan LinkState, 256)
	go func() {
		defer close(out)
		for u := range updates {
			a := u.Attrs()
			up := linkUp(a) && u.Header.Type != unix.RTM_DELLINK
			select {
			case out <- LinkState{Name: a.Name, Index: a.Index, Up: up}:
			case <-done:
				return
			}
		}
	}()
	return out, nil
}

// LinkStates reports the state of every interface of the calling thread's
// network namespace now: the whole list at once, where WatchLinks's first
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
