package delivery

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	b := NewBreaker(3, time.Second)
	now := time.Unix(1000, 0)
	fail := Outcome{Err: "boom"}
	for i := 0; i < 2; i++ {
		b.Record("ep", fail, now)
	}
	if _, open := b.OpenUntil("ep", now); open {
		t.Fatal("open before the threshold")
	}
	// A 4xx answer is an answer: it neither trips nor resets.
	b.Record("ep", Outcome{StatusCode: 400, Rejected: true}, now)
	b.Record("ep", fail, now)
	until, open := b.OpenUntil("ep", now)
	if !open || until != now.Add(time.Second) {
		t.Fatalf("after 3 failures: open=%v until=%v", open, until)
	}
	if len(b.Open(now)) != 1 || len(b.Open(until)) != 0 {
		t.Fatal("Open lists the wrong endpoints")
	}
	// Failures of attempts started before it opened do not extend it.
	b.Record("ep", fail, now.Add(500*time.Millisecond))
	if u, _ := b.OpenUntil("ep", now); u != until {
		t.Fatal("an in-flight failure extended the open circuit")
	}
	// Half-open: one failure does not re-trip; three do, with twice the cool-down.
	later := until.Add(time.Millisecond)
	b.Record("ep", fail, later)
	if _, open := b.OpenUntil("ep", later); open {
		t.Fatal("one half-open failure re-tripped")
	}
	b.Record("ep", fail, later)
	b.Record("ep", fail, later)
	if u, open := b.OpenUntil("ep", later); !open || u != later.Add(2*time.Second) {
		t.Fatalf("re-trip: open=%v until=%v", open, u)
	}
	// A success forgets everything.
	b.Record("ep", Outcome{Success: true, StatusCode: 200}, later.Add(3*time.Second))
	if _, open := b.OpenUntil("ep", later.Add(3*time.Second)); open {
		t.Fatal("open after a success")
	}
}

func TestPolicy(t *testing.T) {
	p := Policy{Schedule: []time.Duration{time.Second, 10 * time.Second}, Jitter: 0.2}
	now := time.Unix(0, 0)
	for i := 0; i < 200; i++ {
		d := p.Next(1, 5, now, 0).Sub(now)
		if d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("delay after attempt 1 = %s", d)
		}
		d = p.Next(4, 5, now, 0).Sub(now) // the last delay repeats
		if d < 8*time.Second || d > 12*time.Second {
			t.Fatalf("delay after attempt 4 = %s", d)
		}
	}
	if !p.Next(5, 5, now, 0).IsZero() {
		t.Fatal("an attempt after max_attempts")
	}
	if d := p.Next(1, 5, now, time.Minute).Sub(now); d != time.Minute {
		t.Fatalf("Retry-After ignored: %s", d)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "-1": 0, "abc": 0, "99999": MaxRetryAfter,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second, "Thu, 01 Jan 2026 05:00:00 GMT": MaxRetryAfter,
	}
	for v, want := range cases {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("Retry-After %q = %s, want %s", v, got, want)
		}
	}
}
