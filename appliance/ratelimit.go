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

// full reports whether key has used its limit inside the window ending at now, recording nothing.
func (l *rateLimiter) full(key string, now time.Time) bool {
	if l.limit <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, now)) >= l.limit
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

// tokenBuckets holds a token bucket per key (a seat, a device): rate tokens a second, up to
// burst. A key's bucket outlives the connection that spent it, so reconnecting refills nothing.
type tokenBuckets struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// take spends one token of key's bucket at now, if one is left.
func (b *tokenBuckets) take(key string, rate, burst float64, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buckets == nil {
		b.buckets = map[string]*bucket{}
	}
	k := b.buckets[key]
	if k == nil {
		k = &bucket{tokens: burst, at: now}
		b.buckets[key] = k
	}
	k.tokens = min(burst, k.tokens+now.Sub(k.at).Seconds()*rate)
	k.at = now
	if k.tokens < 1 {
		return false
	}
	k.tokens--
	return true
}

// forget drops the buckets untouched for longer than idle: they would be full again by now.
func (b *tokenBuckets) forget(now time.Time, idle time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, v := range b.buckets {
		if now.Sub(v.at) > idle {
			delete(b.buckets, k)
		}
	}
}
