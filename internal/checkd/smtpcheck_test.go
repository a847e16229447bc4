package checkd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// smtpServer is a loopback SMTP server that can be stopped and started
// again on its port; it counts its conversations.
type smtpServer struct {
	t     *testing.T
	addr  string
	ln    net.Listener
	talks atomic.Int64
}

func newSMTPServer(t *testing.T) *smtpServer {
	s := &smtpServer{t: t}
	s.start("127.0.0.1:0")
	s.addr = s.ln.Addr().String()
	t.Cleanup(s.stop)
	return s
}

func (s *smtpServer) port() string { return s.addr[strings.LastIndexByte(s.addr, ':')+1:] }

func (s *smtpServer) start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(c)
				io.WriteString(c, "220 test ESMTP\r\n")
				if l, _ := r.ReadString('\n'); strings.HasPrefix(l, "HELO lb.test") {
					io.WriteString(c, "250 hi\r\n")
				} else {
					io.WriteString(c, "500 who?\r\n")
				}
				r.ReadString('\n')
				io.WriteString(c, "221 bye\r\n")
				s.talks.Add(1)
			}()
		}
	}()
}

func (s *smtpServer) stop() {
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
}

// SMTP_CHECK's legacy host blocks are checkers of their own, each with
// its connection (the SMTP_CHECK itself is not one: it sets no connection
// keyword); the real server is alive while all pass. A host that
// stops answering takes the server down after retry attempts, with
// keepalived's "SMTP_CHECK ..." line, and its first success since brings
// it back.
func TestSMTPCheckHostsAndRetries(t *testing.T) {
	a, b := newSMTPServer(t), newSMTPServer(t)
	conf := fmt.Sprintf(`virtual_server 192.0.2.1 25 {
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 %s {
        SMTP_CHECK {
            helo_name lb.test
            retry 2
            delay_before_retry 0.1
            warmup 0
            host {
                connect_ip 127.0.0.1
            }
            host {
                connect_port %s
            }
        }
    }
}
`, a.port(), b.port())
	var logs syncBuffer
	startChecks(t, conf, &logs)
	rs, vs := "[127.0.0.1]:tcp:"+a.port(), "[192.0.2.1]:tcp:25"
	logHas := func(line string) func() bool { return func() bool { return strings.Contains(logs.String(), line) } }
	waitFor(t, "both hosts checked", func() bool { return a.talks.Load() > 0 && b.talks.Load() > 0 })
	if n := strings.Count(logs.String(), "Activating healthchecker for service "+rs+" for VS "+vs); n != 2 {
		t.Fatalf("%d checkers activated, want one per host:\n%s", n, logs.String())
	}
	waitFor(t, "the first success logged", logHas("Remote SMTP server "+rs+" succeed on service."))

	b.stop()
	down := "SMTP_CHECK Could not connect to server [127.0.0.1]:" + b.port()
	waitFor(t, "the host's failure", logHas(down))
	waitFor(t, "the server removed", logHas("Removing service "+rs+" from VS "+vs))
	if strings.Count(logs.String(), down) != 1 {
		t.Errorf("the failure is logged once, when it takes the checker down:\n%s", logs.String())
	}
	before := strings.Count(logs.String(), "succeed on service")
	b.start(b.addr)
	waitFor(t, "the server back", logHas("Adding service "+rs+" to VS "+vs))
	if strings.Count(logs.String(), "succeed on service") != before+1 {
		t.Errorf("want one success line for the host coming back:\n%s", logs.String())
	}
}
