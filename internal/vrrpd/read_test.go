package vrrpd

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/kernel"
	"github.com/keepalived-go/keepalived-go/internal/vrrp"
)

// failingConn fails every Recv until it is closed.
type failingConn struct {
	kernel.Conn
	closed atomic.Bool
	recvs  atomic.Int64
}

func (c *failingConn) Recv([]byte) (kernel.Packet, error) {
	c.recvs.Add(1)
	if c.closed.Load() {
		return kernel.Packet{}, net.ErrClosed
	}
	return kernel.Packet{}, errors.New("recvmsg: no buffer space available")
}

func (c *failingConn) Source() netip.Addr { return netip.Addr{} }

// A receive error that persists is logged once, not every 10 ms.
func TestPersistentReceiveErrorIsRateLimited(t *testing.T) {
	var logs bytes.Buffer
	conn := &failingConn{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		readAdverts(conn, func(vrrp.Received) {}, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	time.Sleep(300 * time.Millisecond)
	conn.closed.Store(true)
	<-done
	if n := strings.Count(logs.String(), "VRRP receive error"); n != 1 || conn.recvs.Load() < 5 {
		t.Fatalf("%d receive errors, %d log lines, want many errors and 1 line:\n%s", conn.recvs.Load(), n, logs.String())
	}
}
