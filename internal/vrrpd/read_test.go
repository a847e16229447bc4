package vrrpd

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
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
		(&socketReader{conn: conn, dispatch: func(vrrp.Received) {}}).run(slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	time.Sleep(300 * time.Millisecond)
	conn.closed.Store(true)
	<-done
	if n := strings.Count(logs.String(), "VRRP receive error"); n != 1 || conn.recvs.Load() < 5 {
		t.Fatalf("%d receive errors, %d log lines, want many errors and 1 line:\n%s", conn.recvs.Load(), n, logs.String())
	}
}

// batchConn hands out its packets in one RecvBatch, then is closed.
type batchConn struct {
	kernel.Conn
	pkts   []kernel.Packet
	sent   bool
	bufLen int // the smallest buffer RecvBatch was given
}

func (c *batchConn) Recv([]byte) (kernel.Packet, error) { return kernel.Packet{}, net.ErrClosed }

func (c *batchConn) RecvBatch(bufs [][]byte, pkts []kernel.Packet) (int, error) {
	if c.sent {
		return 0, net.ErrClosed
	}
	c.sent = true
	c.bufLen = len(bufs[0])
	for _, b := range bufs {
		c.bufLen = min(c.bufLen, len(b))
	}
	n := copy(pkts, c.pkts)
	for i := range n {
		bufs[i][0] = byte(i + 1)
		pkts[i].N = 1
	}
	return n, nil
}

func (c *batchConn) RecvBatchLocked(l sync.Locker, bufs [][]byte, pkts []kernel.Packet) (int, error) {
	l.Lock()
	return c.RecvBatch(bufs, pkts)
}

func (c *batchConn) TryRecvBatch([][]byte, []kernel.Packet) (int, error) { return 0, nil }

// A socket that reads several adverts per call has each dispatched, in
// order, from its own buffer.
func TestReaderDispatchesEveryAdvertOfABatch(t *testing.T) {
	src := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")}
	conn := &batchConn{}
	for _, a := range src {
		conn.pkts = append(conn.pkts, kernel.Packet{Src: a, TTL: 255})
	}
	var got []vrrp.Received
	(&socketReader{conn: conn, dispatch: func(p vrrp.Received) { got = append(got, p) }}).run(slog.New(slog.DiscardHandler))
	if len(got) != len(src) {
		t.Fatalf("%d adverts dispatched, want %d", len(got), len(src))
	}
	for i, p := range got {
		if p.Src != src[i] || len(p.Payload) != 1 || p.Payload[0] != byte(i+1) || p.TTL != 255 {
			t.Fatalf("advert %d: %+v, want from %v with payload [%d]", i, p, src[i], i+1)
		}
	}
}

// The reader's buffers hold the largest valid advert, 255 IPv6
// addresses, with its IP header: none is read truncated.
func TestReaderBuffersHoldTheLargestAdvert(t *testing.T) {
	addrs := make([]netip.Addr, 255)
	for i := range addrs {
		addrs[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
	}
	adv := vrrp.Advert{Version: 3, Type: vrrp.TypeAdvertisement, VRID: 1, Priority: 100, Interval: time.Second, Addrs: addrs}
	msg, err := adv.Marshal(netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::12"), vrrp.ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	conn := &batchConn{}
	(&socketReader{conn: conn, dispatch: func(vrrp.Received) {}}).run(slog.New(slog.DiscardHandler))
	if largest := 40 + len(msg); conn.bufLen < largest {
		t.Fatalf("the reader's buffers hold %d bytes, the largest advert with its IPv6 header is %d", conn.bufLen, largest)
	}
}

// busyConn always has an advert queued, until it is closed.
type busyConn struct {
	kernel.Conn
	closed atomic.Bool
	reads  atomic.Int64
}

func (c *busyConn) Recv([]byte) (kernel.Packet, error) { return kernel.Packet{}, net.ErrClosed }

func (c *busyConn) RecvBatch(bufs [][]byte, pkts []kernel.Packet) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	c.reads.Add(1)
	pkts[0].N = 1
	return 1, nil
}

func (c *busyConn) RecvBatchLocked(l sync.Locker, bufs [][]byte, pkts []kernel.Packet) (int, error) {
	l.Lock()
	return c.RecvBatch(bufs, pkts)
}

func (c *busyConn) TryRecvBatch(bufs [][]byte, pkts []kernel.Packet) (int, error) {
	return c.RecvBatch(bufs, pkts)
}

// A busy socket is read once per pace, its adverts several per read,
// not as each comes.
func TestReaderReadsABusySocketOncePerPace(t *testing.T) {
	conn := &busyConn{}
	r := &socketReader{conn: conn, dispatch: func(vrrp.Received) {}, pace: readPace(100 * time.Millisecond)}
	done := make(chan struct{})
	go func() { defer close(done); r.run(slog.New(slog.DiscardHandler)) }()
	time.Sleep(200 * time.Millisecond)
	conn.closed.Store(true)
	<-done
	// 200 ms at a 5 ms pace: about 40 reads (a quiet socket's first
	// read comes at once); as many as it can without the pace.
	if n := conn.reads.Load(); n < 10 || n > 60 {
		t.Fatalf("%d reads of a busy socket in 200 ms, want about 40 (one per 5 ms)", n)
	}
}

// The pace: a socket read longer ago than a pace is read at once; else at
// the next point of the grid every reader of that pace shares.
func TestUntilPaced(t *testing.T) {
	const pace = 5 * time.Millisecond
	if got := readPace(100 * time.Millisecond); got != pace {
		t.Fatalf("readPace(0.1 s) = %v, want %v", got, pace)
	}
	if got := readPace(10 * time.Millisecond); got != 500*time.Microsecond {
		t.Fatalf("readPace(0.01 s) = %v, want 0.5 ms", got)
	}
	if got := readPace(3 * time.Second); got != maxReadPace {
		t.Fatalf("readPace(3 s) = %v, want %v", got, maxReadPace)
	}
	grid := paceEpoch.Add(1000 * pace)
	if got := untilPaced(grid.Add(-10*time.Millisecond), grid.Add(time.Millisecond), pace); got != 0 {
		t.Fatalf("read 11 ms ago: wait %v, want 0", got)
	}
	if got := untilPaced(grid, grid.Add(time.Millisecond), pace); got != 4*time.Millisecond {
		t.Fatalf("read 1 ms ago, 1 ms after a grid point: wait %v, want 4 ms", got)
	}
	if got := untilPaced(grid.Add(-2*time.Millisecond), grid.Add(time.Millisecond), pace); got != 4*time.Millisecond {
		t.Fatalf("read 3 ms ago: wait %v, want 4 ms, to the next grid point", got)
	}
	if got := untilPaced(grid, grid.Add(time.Millisecond), 0); got != 0 {
		t.Fatalf("no pace: wait %v, want 0", got)
	}
}
