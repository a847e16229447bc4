package vrrpd

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lab"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

func ahConf(priority int, pass string) string {
	return fmt.Sprintf(`vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 1
    authentication {
        auth_type AH
        auth_pass %s
    }
    virtual_ipaddress {
        198.51.100.1
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    priority %[1]d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass %[2]s
    }
    virtual_ipaddress {
        198.51.100.2
    }
}
`, priority, pass)
}

// TestAHInstancesRunOnTheirOwnSocket: auth_type AH runs (it was refused
// before), on an IP protocol 51 socket of its own beside the PASS
// instance's 112 one; two routers elect over it, and a reload keeps the
// sequence counter, so that the peer does not take the next adverts for
// replays.
func TestAHInstancesRunOnTheirOwnSocket(t *testing.T) {
	n := kernel.NewFakeNet()
	k1 := n.NewHost(kernel.Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.1")})
	k2 := n.NewHost(kernel.Interface{Name: "eth0", IPv4: netip.MustParseAddr("192.0.2.2")})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rt1, err := startVRRP(loadConf(t, ahConf(150, "secret")), k1, log, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { rt1.stop() }()
	cfg2 := loadConf(t, ahConf(100, "secret"))
	rt2, err := startVRRP(cfg2, k2, log, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { rt2.stop() }()
	protos := map[int]bool{}
	for _, c := range k1.CallsOf("OpenVRRP") {
		protos[c.Arg.(kernel.VRRPConnConfig).Protocol] = true
	}
	if !protos[kernel.ProtoAH] || !protos[kernel.ProtoVRRP] || len(protos) != 2 {
		t.Fatalf("sockets opened with protocols %v, want 51 and 112", protos)
	}
	backup := func(rt *vrrpRuntime) *vrrp.Instance { return rt.byName["VI_1"].inst }
	if err := lab.WaitUntil("router 1 is master of VI_1 and router 2 has heard it", 10*time.Second, func() bool {
		return backup(rt1).State() == vrrp.Master && backup(rt2).State() == vrrp.Backup && backup(rt2).Stats().AdvertRcvd.Load() >= 2
	}); err != nil {
		t.Fatal(err)
	}
	if d := backup(rt2).Stats().Dropped[vrrp.DropAuthFailure].Load(); d != 0 {
		t.Fatalf("%d auth failures", d)
	}
	seq := backup(rt2).AHSeq()
	if rt2, err = rt2.reload(cfg2, false); err != nil {
		t.Fatal(err)
	}
	if got := backup(rt2).AHSeq(); got < seq || got == 0 {
		t.Fatalf("sequence counter %d after the reload, was %d", got, seq)
	}
	rcvd := backup(rt2).Stats().AdvertRcvd.Load()
	if err := lab.WaitUntil("the reloaded backup accepts the next advert", 5*time.Second, func() bool {
		return backup(rt2).Stats().AdvertRcvd.Load() > rcvd
	}); err != nil {
		t.Fatal(err)
	}
	if d := backup(rt2).Stats().Dropped[vrrp.DropAuthFailure].Load(); d != 0 {
		t.Fatalf("%d auth failures after the reload", d)
	}
}
