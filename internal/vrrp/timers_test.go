package vrrp

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// startShared starts n instances (VRIDs 1..n, at advert_int iv and
// priority prio, starting as backups) on one Timers, the next one apart
// after the last, and stops them at the test's end.
func startShared(t *testing.T, n, prio int, iv, apart time.Duration, queue Queue) (*Timers, []*Instance) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	timers := NewTimers()
	wg.Add(1)
	go func() { defer wg.Done(); timers.Run(ctx) }()
	var insts []*Instance
	for vrid := 1; vrid <= n; vrid++ {
		cfg := InstanceConfig{Name: "VI", Machine: MachineConfig{Version: 3, VRID: vrid, Priority: prio,
			AdvertInt: iv, Preempt: true, InitialState: Backup}, Timers: timers,
			VIPs: []VIP{{Prefix: testVIP}}, Source: netip.MustParseAddr("192.0.2.1"), Group: MulticastIPv4,
			Log: slog.New(slog.DiscardHandler), Queue: queue}
		in, err := NewInstance(cfg, discardNet{})
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, in)
		wg.Add(1)
		go func() { defer wg.Done(); in.Run(ctx) }()
		time.Sleep(apart)
	}
	return timers, insts
}

// sharedBackups starts n backups (VRIDs 1..n, advert_int 20 ms, priority
// 100) on one Timers, and returns them with a function that sends each
// an advert from a priority-200 master.
func sharedBackups(t *testing.T, n int) (*Timers, []*Instance, func()) {
	t.Helper()
	timers, insts, adverts := sharedBackupsOn(t, n, nil)
	return timers, insts, func() {
		for i, in := range insts {
			in.Deliver(adverts[i])
		}
	}
}

// sharedBackupsOn is sharedBackups with the backups' adverts arriving on
// queue; it returns the master's advert for each.
func sharedBackupsOn(t *testing.T, n int, queue Queue) (*Timers, []*Instance, []Received) {
	t.Helper()
	timers, insts := startShared(t, n, 100, 20*time.Millisecond, 0, queue)
	src := netip.MustParseAddr("192.0.2.9")
	adverts := make([]Received, n)
	for i := range adverts {
		adv := Advert{Version: 3, VRID: uint8(i + 1), Priority: 200, Interval: 20 * time.Millisecond, Addrs: []netip.Addr{testVIP.Addr()}}
		payload, err := adv.Marshal(src, MulticastIPv4, ChecksumV3Pseudo)
		if err != nil {
			t.Fatal(err)
		}
		adverts[i] = Received{Payload: payload, Src: src, Dst: MulticastIPv4, TTL: 255}
	}
	return timers, insts, adverts
}

// unreadSocket is a socket whose reader is never scheduled: adverts wait
// in it until DeliverQueued.
type unreadSocket struct {
	mu     sync.Mutex
	demux  *Demux
	queued []Received
}

func (s *unreadSocket) arrive(ps []Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = append(s.queued, ps...)
}

func (s *unreadSocket) DeliverQueued() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.queued {
		s.demux.Dispatch(p)
	}
	s.queued = s.queued[:0]
}

// A backup whose master's adverts came in time but wait unread in the
// socket (its reader not scheduled yet, on a busy machine) does not take
// over: the timers deliver what waits there first, as keepalived's
// scheduler reads a readable socket before it times out. When nothing
// comes any more, the backups still take over.
func TestSharedTimersReadTheSocketBeforeABackupTakesOver(t *testing.T) {
	socket := &unreadSocket{}
	timers, insts, adverts := sharedBackupsOn(t, 50, socket)
	socket.mu.Lock()
	socket.demux = NewDemux(insts...)
	socket.mu.Unlock()
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		socket.arrive(adverts)
		time.Sleep(20 * time.Millisecond)
	}
	for _, in := range insts {
		if in.State() != Backup {
			t.Fatalf("VRID %d is %v while its master's adverts wait in the socket", in.VRID(), in.State())
		}
	}
	if timers.drains.Load() == 0 {
		t.Fatal("the timers never read the socket")
	}
	eventually(t, "every backup becomes master once no advert comes", func() bool {
		for _, in := range insts {
			if in.State() != Master {
				return false
			}
		}
		return true
	})
}

// Backups whose master is alive cost the shared timers a wake-up about
// every Master_Down_Interval in all, not one per instance: a deadline
// that adverts keep moving later is moved in the heap only when the
// timers reach it. One timer per instance, re-armed when it fired at its
// stale deadline, woke 50 instances × 1 s / ~65 ms ≈ 750 times here.
func TestSharedTimersSleepWhileTheMasterIsAlive(t *testing.T) {
	timers, insts, advertise := sharedBackups(t, 50)
	advertise()
	start, signalled := timers.Wakeups.Load(), timers.signalled.Load()+timers.handedOff.Load()
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
		advertise()
	}
	wakeups, signalled := timers.Wakeups.Load()-start, timers.signalled.Load()+timers.handedOff.Load()-signalled
	for _, in := range insts {
		if in.State() != Backup {
			t.Fatalf("VRID %d is %v while its master advertises", in.VRID(), in.State())
		}
	}
	// Master_Down_Interval is 3 × 20 ms + skew (156/256 × 20 ms) ≈ 72 ms:
	// about 14 a second, doubled for the machine's jitter.
	if wakeups > 40 || signalled > 0 {
		t.Fatalf("the timers woke %d times and woke instances %d times in 1 s for 50 backups with a live master, want ≤ 40 and none",
			wakeups, signalled)
	}
}

// When the master stops, every backup's timer still comes, on time.
func TestSharedTimersFireWhenTheMasterStops(t *testing.T) {
	_, insts, advertise := sharedBackups(t, 50)
	for range 10 {
		advertise()
		time.Sleep(20 * time.Millisecond)
	}
	stopped := time.Now()
	eventually(t, "every backup becomes master", func() bool {
		for _, in := range insts {
			if in.State() != Master {
				return false
			}
		}
		return true
	})
	// 72 ms after the last advert, plus the test's polling and the
	// machine's jitter.
	if took := time.Since(stopped); took > 500*time.Millisecond {
		t.Fatalf("the backups took over %v after the master stopped, want about 72 ms", took)
	}
	for _, in := range insts {
		if late := in.Stats().TimerLateness.Snapshot(); late.Count == 0 {
			t.Fatalf("VRID %d: no timer fired", in.VRID())
		}
	}
}

// sharedMasters starts n priority-255 instances (VRIDs 1..n, advert_int
// 20 ms) on one Timers and waits until all are master.
func sharedMasters(t *testing.T, n int) (*Timers, []*Instance) {
	return sharedMastersEvery(t, n, 20*time.Millisecond, 0)
}

// sharedMastersEvery is sharedMasters at advert_int iv, the instances
// started apart apart.
func sharedMastersEvery(t *testing.T, n int, iv, apart time.Duration) (*Timers, []*Instance) {
	t.Helper()
	timers, insts := startShared(t, n, 255, iv, apart, nil)
	eventually(t, "every instance becomes master", func() bool {
		for _, in := range insts {
			if in.State() != Master {
				return false
			}
		}
		return true
	})
	return timers, insts
}

// advertsSent is how many adverts the instances sent in all.
func advertsSent(insts []*Instance) (n uint64) {
	for _, in := range insts {
		n += in.Stats().AdvertSent.Load()
	}
	return n
}

// Masters' adverts go out from the timers' own goroutine, as keepalived
// sends them from its one thread: no instance goroutine is woken for
// them (with 1,000 masters, readying and parking those goroutines cost
// more CPU than the sends).
func TestSharedTimersSendMastersAdvertsThemselves(t *testing.T) {
	timers, insts := sharedMasters(t, 50)
	sent, handed := advertsSent(insts), timers.handedOff.Load()
	time.Sleep(time.Second)
	sent, handed = advertsSent(insts)-sent, timers.handedOff.Load()-handed
	// 50 adverts a second each; half that allows for a loaded machine.
	if sent < 50*25 {
		t.Fatalf("50 masters at advert_int 20 ms sent %d adverts in 1 s, want about 2,500", sent)
	}
	if handed > 0 {
		t.Fatalf("%d of the masters' timers went to the instances' goroutines, want none", handed)
	}
}

// A master whose lock is busy when its timer comes is not waited for:
// its own goroutine sends the advert once the lock is free, and the
// other masters' adverts go on meanwhile.
func TestSharedTimersHandABusyInstanceToItsGoroutine(t *testing.T) {
	timers, insts := sharedMasters(t, 2)
	busy, other := insts[0], insts[1]
	busy.mu.Lock()
	busySent, otherSent := busy.Stats().AdvertSent.Load(), other.Stats().AdvertSent.Load()
	time.Sleep(200 * time.Millisecond)
	if got := other.Stats().AdvertSent.Load() - otherSent; got < 3 {
		busy.mu.Unlock()
		t.Fatalf("the other master sent %d adverts in 200 ms while one instance's lock was held, want about 10", got)
	}
	busy.mu.Unlock()
	if timers.handedOff.Load() == 0 {
		t.Fatal("the busy instance's timer was not handed to its goroutine")
	}
	eventually(t, "the busy master advertises again", func() bool { return busy.Stats().AdvertSent.Load() > busySent })
}

// Masters whose adverts fall due within a hundredth of advert_int of
// each other share one wake-up of the timers: 20 masters started about
// 100 µs apart (sleeps make it more) at advert_int 200 ms (2 ms of
// earliness) woke the timers 25-30 times for 100 adverts, 72-100 times
// without the earliness. Each keeps its own cadence: 5 adverts a second.
func TestSharedTimersMastersShareWakeups(t *testing.T) {
	timers, insts := sharedMastersEvery(t, 20, 200*time.Millisecond, 100*time.Microsecond)
	time.Sleep(300 * time.Millisecond) // past the first adverts' pass
	sent, wakeups := advertsSent(insts), timers.Wakeups.Load()
	time.Sleep(time.Second)
	sent, wakeups = advertsSent(insts)-sent, timers.Wakeups.Load()-wakeups
	if sent < 80 || sent > 120 {
		t.Fatalf("20 masters at advert_int 200 ms sent %d adverts in 1 s, want about 100", sent)
	}
	if wakeups > 50 {
		t.Fatalf("the timers woke %d times for %d adverts, want the adverts due within 2 ms of each other sent together", wakeups, sent)
	}
}
