package ratelimit

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]Rate{
		"1000/s": {1000, time.Second}, "60/m": {60, time.Minute}, "5/h": {5, time.Hour},
		"500/10s": {500, 10 * time.Second}, " off ": {}, "off": {},
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10", "0/s", "-1/s", "x/s", "10/y", "10/0s", "10/-1s", "10/48h", "1e3/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
	if s := (Rate{600, time.Minute}).String(); s != "600/m" {
		t.Errorf("String = %q", s)
	}
}

func TestBuckets(t *testing.T) {
	b := NewBuckets(Rate{N: 4, Per: time.Second})
	now := time.Now()
	for i := 0; i < 4; i++ {
		d := b.Take("k", now)
		if !d.Allowed || d.Remaining != 3-i {
			t.Fatalf("take %d: %+v", i, d)
		}
	}
	d := b.Take("k", now)
	if d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 || d.RetryAfter > 250*time.Millisecond || d.Reset < 750*time.Millisecond {
		t.Errorf("over the quota: %+v", d)
	}
	if !b.Take("other", now).Allowed {
		t.Error("another key was refused")
	}
	if d := b.Take("k", now.Add(250*time.Millisecond)); !d.Allowed {
		t.Errorf("one unit back after a quarter of the period: %+v", d)
	}
	if d := b.Take("k", now.Add(2*time.Second)); !d.Allowed || d.Remaining != 3 {
		t.Errorf("after the period: %+v", d)
	}
	// Concurrent takes never pass the quota.
	b = NewBuckets(Rate{N: 10, Per: time.Hour})
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.Take("k", time.Now()).Allowed {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	if passed.Load() != 10 {
		t.Errorf("%d of 200 concurrent takes passed a quota of 10", passed.Load())
	}
	// No limit: nil buckets and an Off rate allow everything.
	var none *Buckets
	if !none.Take("k", now).Allowed || !NewBuckets(Rate{}).Take("k", now).Allowed {
		t.Error("no limit refused")
	}
}

func TestBucketsMemoryIsBounded(t *testing.T) {
	b := NewBuckets(Rate{N: 1, Per: time.Hour})
	now := time.Now()
	for i := 0; i < MaxKeys+10; i++ {
		b.Take(strconv.Itoa(i), now)
	}
	b.mu.Lock()
	n := len(b.m)
	b.mu.Unlock()
	if n > MaxKeys {
		t.Errorf("%d keys kept, more than %d", n, MaxKeys)
	}
}
