package appliance

import (
	"sync"
	"sync/atomic"
	"time"
)

// rateLimiter allows at most limit events per window per key (a client address), counting the
// events of the last window exactly. A limit of 0 allows everything.
type rateLimiter struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	events  map[string][]time.Time
	refused atomic.Int64 // events refused since start, for jamd_rate_limited_total
}

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, events: map[string][]time.Time{}}
}

// allow records an event for key at now and reports whether it is within the limit.
func (l *rateLimiter) allow(key string, now time.Time) bool {
	if l.limit <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.recent(key, now)
	if len(recent) >= l.limit {
		l.events[key] = recent
		l.refused.Add(1)
		return false
	}
	l.events[key] = append(recent, now)
	return true
}

// recent returns key's events inside the window ending at now. Call with mu held.
func (l *rateLimiter) recent(key string, now time.Time) []time.Time {
	ev := l.events[key]
	i := 0
	for i < len(ev) && now.Sub(ev[i]) >= l.window {
		i++
	}
	return ev[i:]
}

// forget drops keys with no event inside the window, so the map does not grow forever.
func (l *rateLimiter) forget(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.events {
		if len(l.recent(k, now)) == 0 {
			delete(l.events, k)
		}
	}
}
