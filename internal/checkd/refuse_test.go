package checkd

import (
	"log/slog"
	"reflect"
	"testing"

	"github.com/keepalived-go/keepalived-go/internal/config"
	"github.com/keepalived-go/keepalived-go/internal/lvs"
	"github.com/keepalived-go/keepalived-go/internal/lvs/nftables"
)

// What the nftables data plane cannot express is refused, each reason
// at the line of its keyword (the virtual_server's when lb_algo is
// absent: keepalived's default, wlc); with --lvs-nftables-approximate,
// and with another backend, nothing is.
func TestNftablesRefusesWhatItCannotExpress(t *testing.T) {
	const conf = `virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 192.0.2.2 80 {
    }
}
virtual_server 192.0.2.1 81 {
    protocol UDP
    lb_algo sh
    sh-port
    ops
    persistence_timeout 60
    persistence_engine sip
    real_server 192.0.2.2 81 {
        uthreshold 100
    }
    real_server 192.0.2.3 81 {
        lvs_method DR
    }
}
virtual_server 192.0.2.1 82 {
    protocol TCP
    lb_algo lc
    lb_kind DR
    real_server 192.0.2.2 82 {
    }
}
virtual_server 192.0.2.1 83 {
    protocol TCP
    lb_algo wrr
    sorry_server 192.0.2.9 83
    real_server 192.0.2.2 83 {
        weight 3
    }
}
`
	// (keepalived -t says of each virtual server without lb_kind, and
	// of the first without lb_algo, that it sets the default.)
	cfg, _ := config.LoadBytes("t.conf", []byte(conf), config.Options{})
	log := slog.New(slog.DiscardHandler)
	s := New(log, WithBackend(nftables.New(nil), false))
	want := []string{
		"(t.conf: Line 1) virtual_server 192.0.2.1 80: no lb_algo (keepalived's default: wlc) is not available with nftables (it counts connections): " +
			"set lb_algo rr, wrr, sh, dh or fo (or start with --lvs-nftables-approximate: weighted round robin instead)",
		"(t.conf: Line 12) virtual_server 192.0.2.1 81: persistence_engine sip is not available with nftables: remove persistence_engine (or start with --lvs-nftables-approximate: ignored)",
		"(t.conf: Line 10) virtual_server 192.0.2.1 81: ops is not available with nftables: remove ops " +
			"(or start with --lvs-nftables-approximate: UDP is balanced per flow (conntrack entry), not per datagram)",
		"(t.conf: Line 9) virtual_server 192.0.2.1 81: sh-port is not available with nftables: remove sh-port (or start with --lvs-nftables-approximate: the source address alone is hashed)",
		"(t.conf: Line 14) virtual_server 192.0.2.1 81: real server 192.0.2.2:81: uthreshold is not available with nftables (it counts connections): remove uthreshold (or start with --lvs-nftables-approximate: ignored)",
		"(t.conf: Line 17) virtual_server 192.0.2.1 81: real server 192.0.2.3:81: lb_kind DR is not available with nftables (NAT only): " +
			"use NAT, or --lvs-backend=ipvs on a kernel with IPVS (or start with --lvs-nftables-approximate: left out)",
		"(t.conf: Line 23) virtual_server 192.0.2.1 82: lb_kind DR is not available with nftables (NAT only): " +
			"use lb_kind NAT, or --lvs-backend=ipvs on a kernel with IPVS (or start with --lvs-nftables-approximate: the virtual server is not programmed)",
		"(t.conf: Line 22) virtual_server 192.0.2.1 82: lb_algo lc is not available with nftables (it counts connections): " +
			"set lb_algo rr, wrr, sh, dh or fo (or start with --lvs-nftables-approximate: round robin instead)",
	}
	if got := s.Refusals(cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("refusals:\n%q\nwant\n%q", got, want)
	}
	for name, s := range map[string]*Subsystem{
		"approximating":   New(log, WithBackend(nftables.New(nil, nftables.Approximate(true)), false)),
		"another backend": New(log, WithBackend(&lvs.FakeBackend{}, false)),
		"no data plane":   New(log),
	} {
		if got := s.Refusals(cfg); len(got) != 0 {
			t.Errorf("%s: refusals %q", name, got)
		}
	}
}
