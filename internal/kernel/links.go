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
			up := a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
			if u.Header.Type == unix.RTM_DELLINK {
				up = false
			}
			select {
			case out <- LinkState{Name: a.Name, Index: a.Index, Up: up}:
			case <-done:
				return
			}
		}
	}()
	return out, nil
}
