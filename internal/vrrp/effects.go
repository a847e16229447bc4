package vrrp

import "sync"

// effects runs an instance's slow side effects in the order the machine
// asked for them, on a goroutine of their own: adding and removing VIPs
// (netlink), starting announcements, and the notify hooks. The machine
// steps on the socket reader's goroutine for received adverts; a netlink
// call there would hold up every other instance behind the same socket,
// and a hook run under the instance's lock could not read its Status.
//
// The goroutine runs while there is work and ends when the queue is
// empty; push never blocks, so it may be called with the instance's lock
// held. The instance owns the goroutine: wait returns once it has ended.
type effects struct {
	mu      sync.Mutex
	idle    *sync.Cond
	queue   []func()
	running bool
}

func newEffects() *effects {
	e := &effects{}
	e.idle = sync.NewCond(&e.mu)
	return e
}

// push queues f after the effects already queued.
func (e *effects) push(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue = append(e.queue, f)
	if !e.running {
		e.running = true
		go e.drain()
	}
}

func (e *effects) drain() {
	for {
		e.mu.Lock()
		if len(e.queue) == 0 {
			e.running = false
			e.idle.Broadcast()
			e.mu.Unlock()
			return
		}
		f := e.queue[0]
		e.queue[0] = nil
		e.queue = e.queue[1:]
		e.mu.Unlock()
		f()
	}
}

// wait returns once every effect queued so far has run and the goroutine
// has ended.
func (e *effects) wait() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.running {
		e.idle.Wait()
	}
}
