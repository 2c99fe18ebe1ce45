package delivery

import (
	"math/rand/v2"
	"time"
)

// Retry scheduling lives here: the schedule of delays with jitter, the
// wait a destination asked for (Outcome.RetryAfter, capped by
// MaxRetryAfter; a webhook's Retry-After header is read in webhook.go),
// and (in breaker.go) the pauses of an open circuit, which postpone
// deliveries without spending attempts.

// Policy decides when a failed delivery is tried again.
type Policy struct {
	// Schedule holds the delays before attempts 2, 3, …; the last repeats.
	Schedule []time.Duration
	// Jitter is the relative spread around each delay (0.2 means ±20 %).
	Jitter float64
}

// Next returns when to make the attempt after attempt number done (from 1)
// failed, or the zero time when no attempt is left.
func (p Policy) Next(done, maxAttempts int, now time.Time, retryAfter time.Duration) time.Time {
	if done >= maxAttempts {
		return time.Time{}
	}
	d := p.Delay(done)
	if retryAfter > d {
		d = retryAfter
	}
	return now.Add(d)
}

// Delay returns the jittered delay before attempt done+1.
func (p Policy) Delay(done int) time.Duration {
	if len(p.Schedule) == 0 {
		return 0
	}
	i := min(done-1, len(p.Schedule)-1)
	i = max(i, 0)
	d := float64(p.Schedule[i])
	if p.Jitter > 0 {
		d *= 1 - p.Jitter + 2*p.Jitter*rand.Float64()
	}
	return time.Duration(d)
}

// MaxRetryAfter caps how long a Retry-After answer may postpone a retry.
const MaxRetryAfter = time.Hour
