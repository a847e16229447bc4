//go:build linux

package kernel

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/vrrp"
	"golang.org/x/sys/unix"
)

// batchBufs are n 64 KiB buffers and their packets.
func batchBufs(n int) ([][]byte, []Packet) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, 65536)
	}
	return bufs, make([]Packet, n)
}

// recvBatchBounded is RecvBatch, failing the test after wait.
func recvBatchBounded(t *testing.T, c *VRRPConn, bufs [][]byte, pkts []Packet) int {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.RecvBatch(bufs, pkts)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("RecvBatch: %v", r.err)
		}
		return r.n
	case <-time.After(wait):
		c.Close() // ends the RecvBatch
		<-done
		t.Fatal("RecvBatch: nothing after", wait)
		return 0
	}
}

// Adverts queued while the reader was busy come in one RecvBatch, in
// order, with what Recv would say of each; a packet for another group is
// left out, as Recv leaves it out.
func TestNetnsRecvBatchTakesEveryQueuedAdvert(t *testing.T) {
	l := newLab(t)
	for _, fam := range []int{4, 6} {
		ca := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: fam})
		cb := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: fam})
		group, vip := vrrp.MulticastIPv4, netip.MustParseAddr("192.0.2.100")
		if fam == 6 {
			group, vip = vrrp.MulticastIPv6, netip.MustParseAddr("2001:db8::100")
		}
		var sent [][]byte
		for vrid := 1; vrid <= 5; vrid++ {
			adv := vrrp.Advert{Version: 3, VRID: uint8(vrid), Priority: 100, Interval: time.Second, Addrs: []netip.Addr{vip}}
			msg, err := adv.Marshal(ca.Source(), group, vrrp.ChecksumV3Pseudo)
			if err != nil {
				t.Fatal(err)
			}
			if err := ca.Send(msg, group); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, msg)
		}
		time.Sleep(100 * time.Millisecond) // all five queued on B
		bufs, pkts := batchBufs(8)
		n := recvBatchBounded(t, cb, bufs, pkts)
		if n != len(sent) {
			t.Fatalf("IPv%d: %d adverts in one RecvBatch, want the %d queued", fam, n, len(sent))
		}
		for i, p := range pkts[:n] {
			if !bytes.Equal(bufs[i][:p.N], sent[i]) {
				t.Fatalf("IPv%d: advert %d\n got % x\nwant % x", fam, i, bufs[i][:p.N], sent[i])
			}
			if p.TTL != 255 || p.Src != ca.Source() || p.Dst != group || p.IfIndex != cb.IfIndex() {
				t.Fatalf("IPv%d: packet %d %+v, want TTL 255 from %v to %v on ifindex %d", fam, i, p, ca.Source(), group, cb.IfIndex())
			}
		}
	}
}

// Close wakes a RecvBatch waiting for adverts, and RecvBatch after Close
// says so at once.
func TestNetnsCloseWakesRecvBatch(t *testing.T) {
	l := newLab(t)
	for _, fam := range []int{4, 6} {
		c := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: fam})
		bufs, pkts := batchBufs(4)
		done := make(chan error, 1)
		go func() {
			_, err := c.RecvBatch(bufs, pkts)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("IPv%d: RecvBatch returned %v, want net.ErrClosed", fam, err)
			}
		case <-time.After(wait):
			t.Fatalf("IPv%d: RecvBatch still blocked after Close", fam)
		}
		if _, err := c.RecvBatch(bufs, pkts); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("IPv%d: RecvBatch after Close returned %v, want net.ErrClosed", fam, err)
		}
		// Closed before any RecvBatch.
		c2 := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: fam})
		c2.Close()
		if _, err := c2.RecvBatch(bufs, pkts); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("IPv%d: RecvBatch on a conn closed first returned %v, want net.ErrClosed", fam, err)
		}
	}
}

func TestNetnsRecvBatchAllocs(t *testing.T) {
	l := newLab(t)
	ca := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: 4})
	cb := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: 4})
	adv := vrrp.Advert{Version: 3, VRID: 1, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	msg, err := adv.Marshal(ca.Source(), vrrp.MulticastIPv4, vrrp.ChecksumV3Pseudo)
	if err != nil {
		t.Fatal(err)
	}
	bufs, pkts := batchBufs(4)
	var failed error
	allocs := testing.AllocsPerRun(50, func() {
		if err := ca.Send(msg, vrrp.MulticastIPv4); err != nil {
			failed = err
			return
		}
		if _, err := cb.RecvBatch(bufs, pkts); err != nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Errorf("%v allocations per Send+RecvBatch, want 0", allocs)
	}
}

// sendAdverts sends adverts for VRIDs first..last from c to the IPv4
// group and returns them.
func sendAdverts(c *VRRPConn, first, last int) ([][]byte, error) {
	var sent [][]byte
	for vrid := first; vrid <= last; vrid++ {
		adv := vrrp.Advert{Version: 3, VRID: uint8(vrid), Priority: 100, Interval: time.Second,
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
		msg, err := adv.Marshal(c.Source(), vrrp.MulticastIPv4, vrrp.ChecksumV3Pseudo)
		if err == nil {
			err = c.Send(msg, vrrp.MulticastIPv4)
		}
		if err != nil {
			return nil, err
		}
		sent = append(sent, msg)
	}
	return sent, nil
}

// TryRecvBatch does not wait: with nothing queued it says so at once,
// also while a RecvBatch waits on the same socket; what is queued it
// reads in order.
func TestNetnsTryRecvBatchDoesNotWait(t *testing.T) {
	l := newLab(t)
	ca := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: 4})
	cb := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: 4})
	waiting := make(chan error, 1)
	go func() {
		bufs, pkts := batchBufs(4)
		_, err := cb.RecvBatch(bufs, pkts)
		for err == nil {
			_, err = cb.RecvBatch(bufs, pkts)
		}
		waiting <- err
	}()
	time.Sleep(50 * time.Millisecond) // RecvBatch is waiting
	bufs, pkts := batchBufs(8)
	start := time.Now()
	if n, err := cb.TryRecvBatch(bufs, pkts); n != 0 || err != nil {
		t.Fatalf("TryRecvBatch on an empty socket: %d, %v; want 0, nil", n, err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("TryRecvBatch on an empty socket took %v", took)
	}
	cb.Close()
	if err := <-waiting; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("RecvBatch: %v", err)
	}

	cb = l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: 4})
	sent, err := sendAdverts(ca, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // all five queued on B
	n, err := cb.TryRecvBatch(bufs, pkts)
	if err != nil || n != len(sent) {
		t.Fatalf("TryRecvBatch: %d, %v; want the %d queued", n, err, len(sent))
	}
	for i, p := range pkts[:n] {
		if !bytes.Equal(bufs[i][:p.N], sent[i]) {
			t.Fatalf("advert %d\n got % x\nwant % x", i, bufs[i][:p.N], sent[i])
		}
	}
}

// RecvBatchLocked does not hold its lock while it waits, and returns with
// it held: a TryRecvBatch under the same lock cannot read between its read
// and its caller's delivery, so that every advert is delivered in the
// order it came.
func TestNetnsRecvBatchLockedHoldsTheLockFromReadToDelivery(t *testing.T) {
	l := newLab(t)
	ca := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: 4})
	cb := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: 4})
	var order sync.Mutex
	var got []byte // VRIDs in the order they were delivered
	done := make(chan error, 1)
	go func() {
		bufs, pkts := batchBufs(4)
		for {
			n, err := cb.RecvBatchLocked(&order, bufs, pkts)
			for i := range pkts[:n] {
				got = append(got, bufs[i][1])
			}
			order.Unlock()
			if err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if !order.TryLock() {
		t.Fatal("RecvBatchLocked holds its lock while it waits")
	}
	order.Unlock()
	bufs, pkts := batchBufs(4)
	const adverts = 250
	sendErr := make(chan error, 1)
	go func() {
		_, err := sendAdverts(ca, 1, adverts)
		sendErr <- err
	}()
	deadline := time.Now().Add(wait)
	for {
		order.Lock()
		n, err := cb.TryRecvBatch(bufs, pkts)
		for i := range pkts[:n] {
			got = append(got, bufs[i][1])
		}
		complete := len(got) == adverts
		order.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if complete || time.Now().After(deadline) {
			break
		}
	}
	cb.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("RecvBatchLocked: %v", err)
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	if len(got) != adverts {
		t.Fatalf("%d adverts delivered, want %d", len(got), adverts)
	}
	for i, vrid := range got {
		if int(vrid) != i+1 {
			t.Fatalf("advert %d delivered carries VRID %d: out of order (%v)", i, vrid, got)
		}
	}
}

// epollReady says whether the conn's epoll instance has an event waiting:
// whether the socket would wake a reader.
func epollReady(t *testing.T, c *VRRPConn) bool {
	t.Helper()
	var n int
	var perr error
	if err := c.waiter.eprc.Control(func(fd uintptr) {
		for {
			n, perr = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			if perr != unix.EINTR { // the runtime's preemption signals
				return
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if perr != nil {
		t.Fatal(perr)
	}
	return n > 0
}

// Once a wait has seen the socket readable, adverts that come after wake
// nobody until the next wait (a reader that lets adverts gather is woken
// by its own timer, not by each advert); they are read all the same, and
// the next wait finds them at once.
func TestNetnsSocketWakesNobodyUntilTheNextWait(t *testing.T) {
	l := newLab(t)
	ca := l.open(l.ha, VRRPConnConfig{Interface: "vA0", Family: 4})
	cb := l.open(l.hb, VRRPConnConfig{Interface: "vB0", Family: 4})
	if epollReady(t, cb) {
		t.Fatal("the socket wakes a reader before anything came")
	}
	bufs, pkts := batchBufs(8)
	got := make(chan int, 1)
	go func() {
		n, _ := cb.RecvBatch(bufs, pkts) // waits: arms the socket
		got <- n
	}()
	time.Sleep(50 * time.Millisecond) // RecvBatch is waiting
	if _, err := sendAdverts(ca, 1, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(wait):
		cb.Close()
		t.Fatal("RecvBatch: nothing after", wait)
	}
	if _, err := sendAdverts(ca, 2, 4); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // all three queued on B
	if epollReady(t, cb) {
		t.Fatal("adverts that came after a wait saw the socket readable wake a reader")
	}
	if n := recvBatchBounded(t, cb, bufs, pkts); n != 3 {
		t.Fatalf("the next read found %d adverts, want the 3 queued", n)
	}
	if _, err := sendAdverts(ca, 5, 5); err != nil {
		t.Fatal(err)
	}
	if n := recvBatchBounded(t, cb, bufs, pkts); n != 1 {
		t.Fatalf("a wait after the socket was read dry found %d adverts, want 1", n)
	}
}
