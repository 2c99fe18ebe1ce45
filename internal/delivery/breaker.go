package delivery

import (
	"sync"
	"time"
)

// Breaker is a per-endpoint circuit breaker. After Threshold consecutive
// failed attempts (errors, timeouts, answers other than a refusal:
// for a webhook, 5xx, 408 and 429) an endpoint's circuit
// opens: its deliveries stay pending, unattempted and without spending an
// attempt, until the cool-down has passed; then attempts resume
// (half-open). A success closes the circuit and forgets the cool-down;
// another Threshold failures in a row open it again with twice the
// cool-down, up to MaxCooldown.
type Breaker struct {
	Threshold   int
	Cooldown    time.Duration
	MaxCooldown time.Duration

	mu    sync.Mutex
	state map[string]*circuit
}

type circuit struct {
	failures  int
	openUntil time.Time
	cooldown  time.Duration
}

// NewBreaker returns a breaker; zero arguments take the defaults (10
// failures in a row, 5 s). Ten in a row is an outage, not a flaky endpoint:
// one failing 45 % of its requests trips it about once in 3,000 attempts.
func NewBreaker(threshold int, cooldown time.Duration) *Breaker {
	if threshold <= 0 {
		threshold = 10
	}
	if cooldown <= 0 {
		cooldown = 5 * time.Second
	}
	return &Breaker{Threshold: threshold, Cooldown: cooldown, MaxCooldown: 5 * time.Minute, state: map[string]*circuit{}}
}

// Record notes an attempt's outcome for an endpoint.
func (b *Breaker) Record(endpointID string, o Outcome, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o.Success || o.Rejected {
		// A refusal is an answer, not an outage: the endpoint is up.
		if o.Success {
			delete(b.state, endpointID)
		}
		return
	}
	c := b.state[endpointID]
	if c == nil {
		c = &circuit{}
		b.state[endpointID] = c
	}
	if now.Before(c.openUntil) {
		return // an attempt that started before the circuit opened
	}
	c.failures++
	if c.failures < b.Threshold {
		return
	}
	// Trip. The count starts afresh, so the half-open trial needs another
	// Threshold failures in a row to trip again; the cool-down only grows
	// while no attempt succeeds.
	c.failures = 0
	if c.cooldown == 0 {
		c.cooldown = b.Cooldown
	} else {
		c.cooldown = min(2*c.cooldown, b.MaxCooldown)
	}
	c.openUntil = now.Add(c.cooldown)
}

// OpenUntil reports whether an endpoint's circuit is open at now, and until when.
func (b *Breaker) OpenUntil(endpointID string, now time.Time) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.state[endpointID]; c != nil && now.Before(c.openUntil) {
		return c.openUntil, true
	}
	return time.Time{}, false
}

// Open returns the endpoints whose circuit is open at now.
func (b *Breaker) Open(now time.Time) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for id, c := range b.state {
		if now.Before(c.openUntil) {
			out = append(out, id)
		}
	}
	return out
}

// Reset closes an endpoint's circuit, as when an operator re-enables it.
func (b *Breaker) Reset(endpointID string) {
	b.mu.Lock()
	delete(b.state, endpointID)
	b.mu.Unlock()
}
