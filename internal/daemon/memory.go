package daemon

import (
	"runtime/debug"
	"sync"
	"time"
)

// settleDelay is how long after a start or a reload the daemon gives
// back to the system the memory that it used only then: long enough for
// the first election's work (VIPs, netlink dumps, announcements) to be
// over.
const settleDelay = 10 * time.Second

// memoryReturner gives the system back, once a start or a reload has
// settled, the memory it used only for a moment: reading the
// configuration, building the instances, the first netlink dumps. Go's
// own scavenger returns it slowly, and a daemon with 1,000 VRRP
// instances kept a resident size of twice its live heap for minutes.
// One collection per start or reload; nothing in between.
type memoryReturner struct {
	mu      sync.Mutex
	timer   *time.Timer
	pending sync.WaitGroup // the timer's function, started or not
	stopped bool
}

// after (re)schedules the return d from now.
func (m *memoryReturner) after(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	m.cancelLocked()
	m.pending.Add(1)
	m.timer = time.AfterFunc(d, func() {
		defer m.pending.Done()
		debug.FreeOSMemory()
	})
}

// cancelLocked stops the scheduled return, if it has not started.
func (m *memoryReturner) cancelLocked() {
	if m.timer != nil && m.timer.Stop() {
		m.pending.Done()
	}
	m.timer = nil
}

// stop cancels what is scheduled and waits for a return under way.
func (m *memoryReturner) stop() {
	m.mu.Lock()
	m.stopped = true
	m.cancelLocked()
	m.mu.Unlock()
	m.pending.Wait()
}
