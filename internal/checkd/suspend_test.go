package checkd

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
)

// fakeAddresses is the host's addresses as a test sets them.
type fakeAddresses struct {
	mu      sync.Mutex
	addrs   []kernel.AddrEvent
	updates chan kernel.AddrEvent
	buf     kernel.NetlinkBuffer // asked of the last WatchAddresses
	cmdBuf  kernel.NetlinkBuffer // asked of the last Addresses
}

func (f *fakeAddresses) Addresses(buf kernel.NetlinkBuffer) ([]kernel.AddrEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmdBuf = buf
	return append([]kernel.AddrEvent(nil), f.addrs...), nil
}

func (f *fakeAddresses) WatchAddresses(buf kernel.NetlinkBuffer) (addrWatch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = buf
	return f, nil
}

func (f *fakeAddresses) Updates() <-chan kernel.AddrEvent { return f.updates }
func (f *fakeAddresses) Err() error                       { return nil }
func (f *fakeAddresses) Close()                           {}

func (f *fakeAddresses) set(a netip.Addr, added bool) {
	f.mu.Lock()
	if added {
		f.addrs = append(f.addrs, kernel.AddrEvent{Addr: a, Index: 2, Added: true})
	} else {
		f.addrs = nil
	}
	f.mu.Unlock()
	f.updates <- kernel.AddrEvent{Addr: a, Index: 2, Added: added}
}

// ha_suspend: while the virtual server's address is not on the host (a
// VRRP backup), its checkers do not run and its servers keep their
// state; once the address comes, they run. The address monitor's socket
// has lvs_netlink_monitor_rcv_bufs, the listing's lvs_netlink_cmd_rcv_bufs.
func TestHASuspendPausesTheCheckersWithoutTheVIP(t *testing.T) {
	fake := &fakeAddresses{updates: make(chan kernel.AddrEvent)}
	addressSource = fake
	t.Cleanup(func() { addressSource = kernelAddresses{} })

	srv := newTCPServer(t)
	srv.stop() // a probe would fail
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]
	conf := fmt.Sprintf(`global_defs {
    lvs_netlink_monitor_rcv_bufs 100000
    lvs_netlink_monitor_rcv_bufs_force
    lvs_netlink_cmd_rcv_bufs 50000
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    ha_suspend
    real_server 127.0.0.1 %s {
        notify_down "/bin/sh -c 'echo down >> %s'"
        TCP_CHECK {
            warmup 0
        }
    }
}
`, port, events)
	var logs syncBuffer
	startChecks(t, conf, &logs)
	rs, vs := "[127.0.0.1]:tcp:"+port, "[192.0.2.1]:tcp:80"
	if !strings.Contains(logs.String(), "Deactivating healthchecker for service "+rs+" for VS "+vs) {
		t.Fatalf("no deactivation at start:\n%s", logs.String())
	}
	time.Sleep(1500 * time.Millisecond) // past the first check's time
	if fileHas(events, "down")() {
		t.Fatal("a suspended checker ran")
	}
	fake.set(netip.MustParseAddr("192.0.2.1"), true)
	waitFor(t, "the activated checker finds the server down", fileHas(events, "down"))
	fake.mu.Lock()
	if want := (kernel.NetlinkBuffer{Size: 100000, Force: true}); fake.buf != want {
		t.Errorf("the address monitor's buffer %+v, want %+v", fake.buf, want)
	}
	if want := (kernel.NetlinkBuffer{Size: 50000}); fake.cmdBuf != want {
		t.Errorf("the address listing's buffer %+v, want %+v", fake.cmdBuf, want)
	}
	fake.mu.Unlock()
	if !strings.Contains(logs.String(), "Activating healthchecker for service "+rs+" for VS "+vs) {
		t.Errorf("no activation logged:\n%s", logs.String())
	}
	fake.set(netip.MustParseAddr("192.0.2.1"), false)
	waitFor(t, "the suspension logged", func() bool {
		return strings.Contains(logs.String(), "Suspending healthchecker for service "+rs+" for VS "+vs)
	})
}
