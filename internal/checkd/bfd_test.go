package checkd

import (
	"strings"
	"testing"
	"time"
)

// BFD_CHECK is not run: the daemon says so with its file and line; a real
// server whose only checker it is stays in the pool (its checker never
// fails), one with an alpha BFD_CHECK stays out (as keepalived until the
// BFD session comes up), and a BFD_CHECK beside another checker leaves
// the server to that checker.
func TestBFDCheckIsNotRunAndSaysSo(t *testing.T) {
	tcp := newTCPServer(t)
	conf := `bfd_instance b1 {
    neighbor_ip 10.0.0.2
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    real_server 10.0.0.2 80 {
        BFD_CHECK {
            name b1
        }
    }
    real_server 10.0.0.3 80 {
        BFD_CHECK {
            name b1
            alpha
        }
    }
    real_server 127.0.0.1 ` + portOf(tcp.addr) + ` {
        BFD_CHECK {
            name b1
        }
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
}
`
	var logs syncBuffer
	s := startChecks(t, conf, &logs)
	vs := "[192.0.2.1]:tcp:80"
	for _, want := range []string{
		"(t.conf: Line 8) BFD_CHECK of [10.0.0.2]:tcp:80 for VS " + vs + ": not acted on, keepalived-go runs no BFD yet (bfd_instance b1 is not run); it never fails: the real server counts it as up",
		"(t.conf: Line 13) BFD_CHECK of [10.0.0.3]:tcp:80 for VS " + vs + ": not acted on, keepalived-go runs no BFD yet (bfd_instance b1 is not run); with alpha it stays down: the real server stays out of the pool",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	alive := func() []bool {
		var out []bool
		for _, st := range s.VirtualServers()[0].Servers {
			out = append(out, st.Alive)
		}
		return out
	}
	if got := alive(); len(got) != 3 || !got[0] || got[1] || !got[2] {
		t.Fatalf("alive %v, want [true false true]", got)
	}
	tcp.stop()
	waitFor(t, "the TCP_CHECK takes its server out", func() bool { return !alive()[2] })
	time.Sleep(200 * time.Millisecond)
	if got := alive(); !got[0] || got[1] {
		t.Errorf("alive %v: the BFD_CHECK servers moved", got)
	}
}
