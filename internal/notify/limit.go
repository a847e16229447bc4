package notify

import (
	"sync"
	"time"
)

// logEvery is how often a repeated loss (FIFO lines, notifications) is
// logged at most; what happened in between is counted in the next line.
const logEvery = 10 * time.Second

// limiter rate-limits a log line that may repeat at every event.
type limiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed uint64
}

// allow tells whether to log now and, if so, how many occurrences were
// not logged since the last line.
func (l *limiter) allow(now time.Time) (bool, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < logEvery {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}

// flush returns the occurrences never logged, and forgets them.
func (l *limiter) flush() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.suppressed
	l.suppressed = 0
	return n
}
