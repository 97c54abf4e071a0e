package agentlink

import "time"

// The retry schedule: exponential from BackoffBase, capped at BackoffCap.
const (
	BackoffBase = time.Second
	BackoffCap  = 5 * time.Minute
)

// Backoff returns the wait before retry number attempt (0 for the first
// retry) with full jitter: a uniform draw, by rnd (in [0, 1)), from
// [0, min(BackoffCap, BackoffBase·2^attempt)). A negative attempt counts
// as 0.
func Backoff(attempt int, rnd func() float64) time.Duration {
	return time.Duration(rnd() * float64(backoffCeiling(attempt)))
}

// backoffCeiling is min(BackoffCap, BackoffBase·2^attempt).
func backoffCeiling(attempt int) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	d := BackoffBase
	for i := 0; i < attempt && d < BackoffCap; i++ {
		d *= 2
	}
	return min(d, BackoffCap)
}
