package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a quota: N units per Per, in bursts of up to N. The zero Rate
// sets no limit.
type Rate struct {
	N   int
	Per time.Duration
}

// Off reports whether r sets no limit.
func (r Rate) Off() bool { return r.N <= 0 || r.Per <= 0 }

// units are the periods a rate is written with: "N/s", "N per second".
var units = []struct {
	per         time.Duration
	short, word string
}{{time.Second, "s", "second"}, {time.Minute, "m", "minute"}, {time.Hour, "h", "hour"}}

// String formats r as ParseRate reads it, in its short form: "10/s",
// "1/24h", "1/1h1m".
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	for _, u := range units {
		if r.Per == u.per {
			return fmt.Sprintf("%d/%s", r.N, u.short)
		}
	}
	return fmt.Sprintf("%d/%s", r.N, shortDuration(r.Per))
}

// shortDuration writes d as time.Duration does without its trailing zero
// units: "24h" for 24h0m0s, "1h1m" for 1h1m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Human describes r in words, e.g. "60 per minute".
func (r Rate) Human() string {
	if r.Off() {
		return "no limit"
	}
	for _, u := range units {
		if r.Per == u.per {
			return fmt.Sprintf("%d per %s", r.N, u.word)
		}
	}
	return fmt.Sprintf("%d per %s", r.N, shortDuration(r.Per))
}

// ParseRate reads "N/s", "N/m", "N/h" or "N/<duration>" (e.g. "500/10s"),
// or "off" for no limit.
func ParseRate(s string) (Rate, error) {
	if strings.TrimSpace(s) == "off" {
		return Rate{}, nil
	}
	r, err := parseQuota(s)
	var notRate notRateError
	if errors.As(err, &notRate) {
		return Rate{}, fmt.Errorf("%w, or off", err)
	}
	return r, err
}

// notRateError says text is not written as a rate at all.
type notRateError string

func (e notRateError) Error() string {
	return fmt.Sprintf("%q is not a rate: write N/s, N/m, N/h or N/<duration> with N > 0", string(e))
}

// parseQuota reads "N/s", "N/m", "N/h" or "N/<duration>".
func parseQuota(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count <= 0 {
		return Rate{}, notRateError(s)
	}
	var d time.Duration
	for _, u := range units {
		if per == u.short {
			d = u.per
		}
	}
	if d == 0 {
		d, err = time.ParseDuration(per)
		if err != nil || d < time.Millisecond || d > 24*time.Hour {
			return Rate{}, fmt.Errorf("%q is not a rate: its period must be s, m, h or a duration from 1ms to 24h", s)
		}
	}
	return Rate{N: count, Per: d}, nil
}

// Buckets is a token bucket per key: each key may spend Rate.N units at
// once and gets them back at Rate.N per Rate.Per. It is safe for concurrent
// use, and its memory is bounded by MaxKeys.
type Buckets struct {
	rate Rate

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// NewBuckets returns buckets for r; a nil *Buckets, and buckets of a Rate
// that is Off, allow everything.
func NewBuckets(r Rate) *Buckets {
	return &Buckets{rate: r, m: map[string]*rate.Limiter{}}
}

// Rate returns the quota of every bucket.
func (b *Buckets) Rate() Rate {
	if b == nil {
		return Rate{}
	}
	return b.rate
}

// Decision is the answer to one Take.
type Decision struct {
	Allowed    bool
	Remaining  int           // units left after this one
	Reset      time.Duration // until the whole quota is available again
	RetryAfter time.Duration // when refused: until one unit is available
}

// Take spends one unit of key's bucket at now, if it has one.
func (b *Buckets) Take(key string, now time.Time) Decision {
	if b == nil || b.rate.Off() {
		return Decision{Allowed: true, Remaining: math.MaxInt32}
	}
	lim := b.limiter(key, now)
	ok := lim.AllowN(now, 1)
	tokens := max(lim.TokensAt(now), 0)
	perUnit := b.rate.Per / time.Duration(b.rate.N)
	d := Decision{
		Allowed:   ok,
		Remaining: int(tokens),
		Reset:     time.Duration((float64(b.rate.N) - tokens) * float64(perUnit)),
	}
	if !ok {
		d.RetryAfter = time.Duration((1 - tokens) * float64(perUnit))
	}
	return d
}

func (b *Buckets) limiter(key string, now time.Time) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	if lim, ok := b.m[key]; ok {
		return lim
	}
	if len(b.m) >= MaxKeys {
		// Full buckets belong to idle keys: forgetting them changes nothing.
		for k, lim := range b.m {
			if lim.TokensAt(now) >= float64(b.rate.N) {
				delete(b.m, k)
			}
		}
		if len(b.m) >= MaxKeys {
			clear(b.m)
		}
	}
	lim := rate.NewLimiter(rate.Limit(float64(b.rate.N)/b.rate.Per.Seconds()), b.rate.N)
	b.m[key] = lim
	return lim
}
