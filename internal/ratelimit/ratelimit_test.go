package ratelimit

import (
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	th := New(3, time.Minute)
	now := time.Now()
	if _, ok := th.Take("1.2.3.4", now.Add(-time.Second)); !ok {
		t.Fatal("the first attempt was refused")
	}
	th.Forgive("1.2.3.4", now.Add(-time.Second)) // a success costs nothing
	for i := range 3 {
		if _, ok := th.Take("1.2.3.4", now); !ok {
			t.Fatalf("blocked after %d failures", i)
		}
	}
	if wait, ok := th.Take("1.2.3.4", now.Add(time.Second)); ok || wait <= 0 || wait > time.Minute {
		t.Errorf("after 3 failures: allowed %v, wait %s", ok, wait)
	}
	if _, ok := th.Take("5.6.7.8", now); !ok {
		t.Error("another address is blocked")
	}
	if _, ok := th.Take("1.2.3.4", now.Add(2*time.Minute)); !ok {
		t.Error("still blocked after the window")
	}
	// Concurrent attempts never pass the limit.
	th2 := New(10, time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok := th2.Take("9.9.9.9", time.Now()); ok {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if passed != 10 {
		t.Errorf("%d of 200 concurrent attempts passed, limit 10", passed)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5555"
	if got := ClientAddr(r); got != "10.0.0.1" {
		t.Errorf("clientAddr = %q", got)
	}
}

func TestWindowMemoryIsBounded(t *testing.T) {
	w := New(1, time.Hour)
	now := time.Now()
	for i := range MaxKeys + 10 {
		w.Take(strconv.Itoa(i), now)
	}
	if n := len(w.attempts); n > MaxKeys {
		t.Errorf("%d keys tracked, bound %d", n, MaxKeys)
	}
}
