package executor

import "time"

// Backoff spaces retries: the n-th retry waits Initial * 2^(n-1), at most
// Max, less a random part of up to Jitter of it, so steps that failed
// together (a database restart) do not all retry at the same instant.
type Backoff struct {
	Initial time.Duration // 0: 1s
	Max     time.Duration // 0: 5m
	Jitter  float64       // fraction in (0, 1]; 0: 0.5
}

// Delay is the wait before retry n (1 for the first retry); r is a uniform
// random number in [0, 1).
func (b Backoff) Delay(n int, r float64) time.Duration {
	initial, maxDelay, jitter := b.Initial, b.Max, b.Jitter
	if initial <= 0 {
		initial = time.Second
	}
	if maxDelay <= 0 {
		maxDelay = 5 * time.Minute
	}
	maxDelay = max(maxDelay, initial)
	if jitter <= 0 {
		jitter = 0.5
	}
	jitter = min(jitter, 1)
	d := initial
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d - time.Duration(float64(d)*jitter*r)
}
