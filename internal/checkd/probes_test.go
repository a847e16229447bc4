package checkd

import (
	"fmt"
	"testing"
)

// Each real server's probes are counted for /status and /metrics: all of
// them, the failed ones, and the time they took.
func TestProbesAreCountedPerServer(t *testing.T) {
	up := newTCPServer(t)
	down := newTCPServer(t)
	down.stop() // refused
	var logs syncBuffer
	s := startChecks(t, fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            connect_timeout 1
            warmup 0
        }
    }
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            connect_timeout 1
            retry 0
            warmup 0
        }
    }
}
`, portOf(up.addr), portOf(down.addr)), &logs)
	waitFor(t, "three probes of each server", func() bool {
		st := s.VirtualServers()[0].Servers
		return st[0].Checks >= 3 && st[1].Checks >= 3
	})
	st := s.VirtualServers()[0].Servers
	if st[0].CheckFailures != 0 || st[0].CheckSeconds <= 0 {
		t.Errorf("the server that answers: %+v, want no failure and some time", st[0])
	}
	if st[1].CheckFailures < 3 || st[1].CheckFailures > st[1].Checks {
		t.Errorf("the refused server: %+v, want every probe failed", st[1])
	}
}
