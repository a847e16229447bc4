package api

import (
	"context"
	"sync"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lvs"
)

// History keeps the last hour of state changes for the page at /: VRRP
// instances' states, real servers' check states and virtual servers'
// quorums. It learns them by comparing snapshots of the Source (Observe,
// every second from Run) rather than through hooks in the subsystems: a
// VRRP transition carries its own time (the instance's last
// transition), a real server's or a quorum's is the time of the snapshot
// that saw it, within a second.
type History struct {
	mu     sync.Mutex
	events []Event // oldest first, at most maxEvents, none older than an hour
	last   map[string]string
}

// Event is one state change.
type Event struct {
	Time time.Time `json:"time"`
	// Kind is "vrrp_instance", "real_server" or "virtual_server".
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Of is the real server's virtual server.
	Of   string `json:"of,omitempty"`
	From string `json:"from"`
	To   string `json:"to"`
}

const (
	historySpan = time.Hour
	maxEvents   = 10000
)

// NewHistory makes an empty history.
func NewHistory() *History { return &History{last: map[string]string{}} }

// Observe records what changed since the last snapshot. The first
// snapshot of an object records nothing but its state.
func (h *History) Observe(now time.Time, instances []InstanceJSON, pools []lvs.PoolStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	note := func(ev Event) {
		key := ev.Kind + "\x00" + ev.Of + "\x00" + ev.Name
		seen[key] = true
		prev, known := h.last[key]
		h.last[key] = ev.To
		if !known || prev == ev.To {
			return
		}
		ev.From = prev
		h.events = append(h.events, ev)
	}
	for _, in := range instances {
		at := now
		if in.LastTransition != nil && !in.LastTransition.After(now) {
			at = *in.LastTransition
		}
		note(Event{Time: at, Kind: "vrrp_instance", Name: in.Name, To: in.State})
	}
	for _, p := range pools {
		quorum := "QUORUM LOST"
		if p.QuorumUp {
			quorum = "QUORUM UP"
		}
		note(Event{Time: now, Kind: "virtual_server", Name: p.Name, To: quorum})
		for _, rs := range p.Servers {
			state := "DOWN"
			if rs.Alive {
				state = "UP"
			}
			note(Event{Time: now, Kind: "real_server", Name: rs.Name, Of: p.Name, To: state})
		}
	}
	for key := range h.last {
		if !seen[key] {
			delete(h.last, key) // gone with a reload: a new start if it comes back
		}
	}
	h.trim(now)
}

// trim drops what is older than the span, and the oldest past maxEvents.
func (h *History) trim(now time.Time) {
	i := 0
	for i < len(h.events) && (now.Sub(h.events[i].Time) > historySpan || len(h.events)-i > maxEvents) {
		i++
	}
	if i > 0 {
		h.events = append(h.events[:0], h.events[i:]...)
	}
}

// Events are the changes of the last hour, oldest first.
func (h *History) Events(now time.Time) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.trim(now)
	out := make([]Event, len(h.events))
	copy(out, h.events)
	return out
}

// Run observes src every period until ctx ends.
func (h *History) Run(ctx context.Context, src Source, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		h.Observe(time.Now(), instancesJSON(src), pools(src))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// instancesJSON is /status's document.
func instancesJSON(src Source) []InstanceJSON {
	sts := statuses(src)
	out := make([]InstanceJSON, 0, len(sts)) // [] rather than null without instances
	for i := range sts {
		out = append(out, statusJSON(&sts[i]))
	}
	return out
}
