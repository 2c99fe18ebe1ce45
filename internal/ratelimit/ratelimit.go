// Package ratelimit bounds how often a client may do something: a sliding
// window of attempts per key (a client address, an API key). Failed sign-ins
// and unauthenticated inbound commands are limited with it.
package ratelimit

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// MaxKeys bounds the memory of a Window: when more keys than this are
// tracked, the oldest attempts are dropped first.
const MaxKeys = 100_000

// Window allows at most Max attempts per key within Period. It is safe for
// concurrent use.
type Window struct {
	max    int
	period time.Duration

	mu       sync.Mutex
	attempts map[string][]time.Time
}

// New returns a Window allowing max attempts per key within period.
func New(max int, period time.Duration) *Window {
	return &Window{max: max, period: period, attempts: map[string][]time.Time{}}
}

// ClientAddr is the address a request came from, without its port.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// recent drops attempts older than the period and returns those left.
func (w *Window) recent(key string, now time.Time) []time.Time {
	kept := w.attempts[key][:0]
	for _, at := range w.attempts[key] {
		if now.Sub(at) < w.period {
			kept = append(kept, at)
		}
	}
	if len(kept) == 0 {
		delete(w.attempts, key)
		return nil
	}
	w.attempts[key] = kept
	return kept
}

// Take counts an attempt for key at now, so that concurrent attempts cannot
// slip past the limit. It reports false, with how long to wait, when key
// has used up its attempts; a refused attempt is not counted.
func (w *Window) Take(key string, now time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.recent(key, now)
	if len(f) >= w.max {
		return w.period - now.Sub(f[0]), false
	}
	if f == nil && len(w.attempts) >= MaxKeys {
		w.prune(now)
	}
	w.attempts[key] = append(f, now)
	return 0, true
}

// Forgive takes back the attempt that Take counted at, for an attempt that
// should not count (a sign-in that succeeded, a command correctly signed).
func (w *Window) Forgive(key string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.attempts[key]
	for i, x := range f {
		if x.Equal(at) {
			f = append(f[:i:i], f[i+1:]...)
			if len(f) == 0 {
				delete(w.attempts, key)
			} else {
				w.attempts[key] = f
			}
			return
		}
	}
}

// prune drops expired keys, and every key when all are still live (an
// attack from very many addresses then costs a reset, never unbounded memory).
func (w *Window) prune(now time.Time) {
	for k := range w.attempts {
		w.recent(k, now)
	}
	if len(w.attempts) >= MaxKeys {
		clear(w.attempts)
	}
}
