package admin

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// throttle counts failed sign-ins per client address and refuses more than
// max within window, so API keys cannot be guessed through the sign-in form.
type throttle struct {
	max    int
	window time.Duration

	mu       sync.Mutex
	failures map[string][]time.Time
}

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, failures: map[string][]time.Time{}}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// recent drops failures older than the window and returns those left.
func (t *throttle) recent(addr string, now time.Time) []time.Time {
	kept := t.failures[addr][:0]
	for _, at := range t.failures[addr] {
		if now.Sub(at) < t.window {
			kept = append(kept, at)
		}
	}
	if len(kept) == 0 {
		delete(t.failures, addr)
		return nil
	}
	t.failures[addr] = kept
	return kept
}

// Take counts a sign-in attempt from addr as failed until Forgive says
// otherwise, so that concurrent attempts cannot slip past the limit. It
// reports false, with how long to wait, when addr has used up its failures.
func (t *throttle) Take(addr string, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.recent(addr, now)
	if len(f) >= t.max {
		return t.window - now.Sub(f[0]), false
	}
	t.failures[addr] = append(f, now)
	return 0, true
}

// Forgive removes the failure that Take counted at for a sign-in that succeeded.
func (t *throttle) Forgive(addr string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.failures[addr]
	for i, x := range f {
		if x.Equal(at) {
			t.failures[addr] = append(f[:i:i], f[i+1:]...)
			return
		}
	}
}
