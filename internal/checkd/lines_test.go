package checkd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A checker whose very first check fails goes down at once (the retry
// count starts full) and keepalived says so without "after N retries",
// which needs the checker to have run before (has_run, check_tcp.c
// tcp_epilog).
func TestFirstCheckFailureSaysNoRetries(t *testing.T) {
	srv := newTCPServer(t)
	srv.stop()
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]
	conf := fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            retry 2
            warmup 0
        }
    }
}
`, port)
	var logs syncBuffer
	startChecks(t, conf, &logs)
	rs := "[127.0.0.1]:tcp:" + port
	waitFor(t, "the failure is logged", func() bool { return strings.Contains(logs.String(), "TCP_CHECK on service "+rs+" failed") })
	if l := logs.String(); !strings.Contains(l, "TCP_CHECK on service "+rs+" failed. (") || strings.Contains(l, "retries") {
		t.Fatalf("want the first check's failure without retries:\n%s", l)
	}
}

// A checker that starts up logs its first success as keepalived does
// (check_tcp.c tcp_epilog logs "success." while !has_run), once.
func TestFirstCheckSuccessIsLogged(t *testing.T) {
	srv := newTCPServer(t)
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]
	conf := fmt.Sprintf(`virtual_server 192.0.2.1 80 {
    protocol TCP
    delay_loop 0.1
    real_server 127.0.0.1 %s {
        TCP_CHECK {
            warmup 0
        }
    }
}
`, port)
	var logs syncBuffer
	startChecks(t, conf, &logs)
	line := "TCP connection to [127.0.0.1]:tcp:" + port + " success."
	waitFor(t, "the first success", func() bool { return strings.Contains(logs.String(), line) })
	time.Sleep(300 * time.Millisecond)
	if n := strings.Count(logs.String(), line); n != 1 {
		t.Errorf("%d success lines, want 1:\n%s", n, logs.String())
	}
}
