package checkd

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/lvs/ipvs"
)

const lvsGlobalsVS = `
virtual_server 192.0.2.1 80 {
    protocol TCP
    lb_algo rr
    real_server 192.0.2.2 80 {
    }
}
`

// lvs_timeouts sets IPVS's timeouts at start (the one not configured
// stays), a reload without them puts the kernel's back, and so does stop
// even with -I; lvs_flush empties the table at start (a service made by
// hand goes), at the first start only.
func TestLVSTimeoutsAndFlush(t *testing.T) {
	k := &kernel.FakeIPVS{}
	byHand := kernel.IPVSService{Family: 4, Fwmark: 77, Sched: "wlc", Netmask: 0xffffffff}
	k.AddService(byHand)
	var logs syncBuffer
	conf := "global_defs {\n    lvs_timeouts tcp 7200 udp 60\n    lvs_flush\n}\n" + lvsGlobalsVS
	s := startWithBackend(t, conf, &logs, WithBackend(ipvs.New(k, slog.New(slog.NewTextHandler(&logs, nil))), true))
	if got, _ := k.Timeouts(); got != (kernel.IPVSTimeouts{TCP: 7200, TCPFin: 120, UDP: 60}) {
		t.Errorf("timeouts after start: %v", got)
	}
	svcs, _ := k.Services()
	if len(svcs) != 1 || svcs[0].Addr.String() != "192.0.2.1:80" {
		t.Errorf("after start with lvs_flush: %v", svcs)
	}
	k.AddService(byHand)
	cfg, _ := config.LoadBytes("t.conf", []byte(lvsGlobalsVS), config.Options{})
	if err := s.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got, _ := k.Timeouts(); got != (kernel.IPVSTimeouts{TCP: 900, TCPFin: 120, UDP: 300}) {
		t.Errorf("timeouts after a reload without lvs_timeouts: %v", got)
	}
	cfg, _ = config.LoadBytes("t.conf", []byte(conf), config.Options{})
	s.Apply(context.Background(), cfg)
	if svcs, _ := k.Services(); len(svcs) != 2 {
		t.Errorf("a reload flushed: %v", svcs)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := k.Timeouts(); got != (kernel.IPVSTimeouts{TCP: 900, TCPFin: 120, UDP: 300}) {
		t.Errorf("timeouts after stop with -I: %v", got)
	}
	if svcs, _ := k.Services(); len(svcs) != 2 {
		t.Errorf("-I: %v", svcs)
	}
}

// lvs_flush_on_stop flushes the whole table at stop, services made by
// hand included; "VS" deletes each service with its destinations at
// once. Neither logs keepalived's per-server shutdown lines.
func TestLVSFlushOnStop(t *testing.T) {
	for _, c := range []struct {
		words string
		calls []string
		left  int
	}{
		{"", []string{"flush"}, 0},
		{" VS", []string{"del-service tcp 192.0.2.1:80"}, 1},
	} {
		k := &kernel.FakeIPVS{}
		var logs syncBuffer
		conf := "global_defs {\n    lvs_flush_on_stop" + c.words + "\n}\n" + lvsGlobalsVS
		s := startWithBackend(t, conf, &logs, WithBackend(ipvs.New(k, slog.New(slog.NewTextHandler(&logs, nil))), false))
		k.AddService(kernel.IPVSService{Family: 4, Fwmark: 77, Sched: "wlc", Netmask: 0xffffffff})
		k.Calls()
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if calls := k.Calls(); !reflect.DeepEqual(calls, c.calls) {
			t.Errorf("lvs_flush_on_stop%s: %q, want %q", c.words, calls, c.calls)
		}
		if svcs, _ := k.Services(); len(svcs) != c.left {
			t.Errorf("lvs_flush_on_stop%s left %v", c.words, svcs)
		}
		if strings.Contains(logs.String(), "Shutting down service") {
			t.Errorf("lvs_flush_on_stop%s logged the servers' shutdown", c.words)
		}
	}
}

// With another backend (nftables) the keywords are reported, with their line, as not
// applying.
func TestLVSGlobalsDoNotApplyToNftables(t *testing.T) {
	var logs syncBuffer
	conf := "global_defs {\n    lvs_timeouts tcp 7200\n    lvs_flush\n    lvs_flush_on_stop\n}\n" + lvsGlobalsVS
	s := startWithBackend(t, conf, &logs, WithBackend(&lvs.FakeBackend{}, false))
	defer s.Stop(context.Background())
	for _, want := range []string{
		"(t.conf: Line 2) lvs_timeouts: applies to IPVS only, not to the fake backend: ignored",
		"(t.conf: Line 3) lvs_flush: applies to IPVS only",
		"(t.conf: Line 4) lvs_flush_on_stop: applies to IPVS only",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// Bad lvs_timeouts words are reported when the file is read (config);
// the good ones apply.
func TestLVSTimeoutsErrors(t *testing.T) {
	k := &kernel.FakeIPVS{}
	var logs syncBuffer
	conf := "global_defs {\n    lvs_timeouts tcp 3000000 udp 5 tcpfin\n}\n" + lvsGlobalsVS
	s := startWithBackend(t, conf, &logs, WithBackend(ipvs.New(k, slog.New(slog.NewTextHandler(&logs, nil))), false))
	defer s.Stop(context.Background())
	if got, _ := k.Timeouts(); got != (kernel.IPVSTimeouts{TCP: 900, TCPFin: 120, UDP: 5}) {
		t.Errorf("timeouts %v", got)
	}
}
