package delivery

import (
	"sync"
	"time"
)

// Breaker is a per-endpoint circuit breaker. After Threshold consecutive
// failed attempts an endpoint's circuit opens: its deliveries stay pending,
// unattempted, until the cool-down has passed; then a trial batch goes out
// (half-open). A success closes the circuit; another failure opens it again
// with twice the cool-down, up to MaxCooldown.
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

// NewBreaker returns a breaker; zero arguments take the defaults (5 failures, 5 s).
func NewBreaker(threshold int, cooldown time.Duration) *Breaker {
	if threshold <= 0 {
		threshold = 5
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
	if o.Success {
		delete(b.state, endpointID)
		return
	}
	c := b.state[endpointID]
	if c == nil {
		c = &circuit{}
		b.state[endpointID] = c
	}
	c.failures++
	if c.failures < b.Threshold || now.Before(c.openUntil) {
		return
	}
	if c.cooldown == 0 {
		c.cooldown = b.Cooldown
	} else {
		c.cooldown = min(2*c.cooldown, b.MaxCooldown)
	}
	c.openUntil = now.Add(c.cooldown)
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
