package executor

import "sync"

// limiter counts running steps against max_concurrent and pool limits. It
// never blocks: schedulers try to acquire and, when that fails, wait on
// changed() for a release before trying again.
type limiter struct {
	mu      sync.Mutex
	max     int
	used    int
	limits  map[string]int // pool -> limit; pools not here have none
	inPool  map[string]int
	release chan struct{} // closed (and replaced) at each release
}

func newLimiter(maxConcurrent int, pools map[string]int) *limiter {
	return &limiter{max: maxConcurrent, limits: pools, inPool: make(map[string]int), release: make(chan struct{})}
}

// tryAcquire takes a slot, and one in pool when it is a limited pool.
func (l *limiter) tryAcquire(pool string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used >= l.max {
		return false
	}
	if limit, ok := l.limits[pool]; ok && l.inPool[pool] >= limit {
		return false
	}
	l.used++
	if _, ok := l.limits[pool]; ok {
		l.inPool[pool]++
	}
	return true
}

// full reports whether no slot is free at all, whatever the pool.
func (l *limiter) full() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.used >= l.max
}

func (l *limiter) put(pool string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used--
	if _, ok := l.limits[pool]; ok {
		l.inPool[pool]--
	}
	close(l.release)
	l.release = make(chan struct{})
}

// changed returns a channel closed at the next release. Take it before
// trying to acquire, so a release in between is not missed.
func (l *limiter) changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.release
}
