package vrrpd

import (
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// heard records what a StateListener hears.
type heard struct {
	mu     sync.Mutex
	events []string
}

func (h *heard) InstanceState(name string, master bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	state := "backup"
	if master {
		state = "master"
	}
	h.events = append(h.events, name+" "+state)
}

func (h *heard) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// The listener hears an instance's states as it changes them (the IPVS
// sync daemon follows them), not a reload's carried state, nor STOP.
func TestStateListenerHearsTheInstance(t *testing.T) {
	cfg := loadConf(t, `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    advert_int 0.1
    virtual_ipaddress {
        198.51.100.1
    }
}
`)
	k := kernel.NewFake(kernel.Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.1")})
	var h heard
	rt, err := startVRRPWith(cfg, k, slog.New(slog.NewTextHandler(io.Discard, nil)), false, nil, &h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"VI_1 backup", "VI_1 master"}
	if err := lab.WaitUntil("the instance becomes master", 5*time.Second, func() bool { return slices.Equal(h.all(), want) }); err != nil {
		t.Fatalf("%v: heard %q", err, h.all())
	}
	if rt, err = rt.reload(cfg, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	rt.stop()
	if got := h.all(); !slices.Equal(got, want) {
		t.Errorf("after a reload and stop: %q", got)
	}
}
