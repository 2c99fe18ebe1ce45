package ratelimit

import (
	"strings"
	"testing"
	"time"
)

func TestParseLimit(t *testing.T) {
	for in, want := range map[string]Rate{"10/s": {10, time.Second}, "600/m": {600, time.Minute}, "10000/s": {10000, time.Second}, "1/24h": {1, 24 * time.Hour}} {
		if got, err := ParseLimit(in); err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"off", "", "10001/s", "11/ms", "0/s", "1/48h"} {
		if _, err := ParseLimit(in); err == nil {
			t.Errorf("ParseLimit(%q) accepted", in)
		}
	}
}

func TestBurst(t *testing.T) {
	for r, want := range map[Rate]int{{10, time.Second}: 10, {600, time.Minute}: 10, {1, time.Hour}: 1, {500, 10 * time.Second}: 50, {3, time.Millisecond * 100}: 3, {1, time.Second}: 1} {
		if got := r.Burst(); got != want {
			t.Errorf("%v.Burst() = %d, want %d", r, got, want)
		}
	}
}

// TestAllowNeverExceedsRatePlusBurst spends a rate as fast as it allows,
// in claims of random sizes at random moments, and checks every window of
// one period against Burst + N.
func TestAllowNeverExceedsRatePlusBurst(t *testing.T) {
	r := Rate{N: 10, Per: time.Second}
	base := time.Unix(1_700_000_000, 0)
	var tat time.Time
	var spent []time.Time
	now := base
	for i := 0; i < 2000; i++ {
		now = now.Add(time.Duration(i*7919%97) * time.Millisecond)
		n, next := r.Allow(tat, now, 1+i%13)
		if n > 0 && !next.After(tat) {
			t.Fatalf("TAT went back: %v -> %v", tat, next)
		}
		tat = next
		for k := 0; k < n; k++ {
			spent = append(spent, now)
		}
	}
	j := 0
	for i := range spent {
		for spent[i].Sub(spent[j]) > r.Per {
			j++
		}
		if n := i - j + 1; n > r.N+r.Burst() {
			t.Fatalf("%d units within %v at %v", n, r.Per, spent[i])
		}
	}
	if len(spent) < 100 {
		t.Fatalf("only %d units spent", len(spent))
	}
}

func TestAllowAfterPauseAndNext(t *testing.T) {
	r := Rate{N: 4, Per: time.Second}
	now := time.Unix(100, 0)
	n, tat := r.Allow(time.Time{}, now, 10)
	if n != 4 {
		t.Fatalf("first claim granted %d, want the burst 4", n)
	}
	if next := r.Next(tat); !next.Equal(now.Add(250 * time.Millisecond)) {
		t.Fatalf("Next = %v, want +250ms", next.Sub(now))
	}
	if n, _ := r.Allow(tat, now.Add(249*time.Millisecond), 10); n != 0 {
		t.Fatalf("granted %d before the interval", n)
	}
	if n, _ := r.Allow(tat, now.Add(250*time.Millisecond), 10); n != 1 {
		t.Fatalf("granted %d after one interval, want 1", n)
	}
	if n, _ := r.Allow(tat, now.Add(time.Hour), 10); n != 4 {
		t.Fatalf("granted %d after a pause, want the burst", n)
	}
}

func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"10/s", "600/m", "5/h", "500/10s", "off", "1/1ms", "10001/s", "x", "9999999999999999999/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseLimit(s)
		if err != nil {
			return
		}
		if r.Off() || r.Interval() < time.Second/MaxRatePerSecond || r.Burst() < 1 || r.Burst() > r.N {
			t.Fatalf("ParseLimit(%q) = %+v (burst %d)", s, r, r.Burst())
		}
		back, err := ParseLimit(r.String())
		if err != nil || back.Interval() != r.Interval() || !strings.Contains(r.String(), "/") {
			t.Fatalf("%q -> %q does not read back: %v", s, r.String(), err)
		}
	})
}

// TestLimitMessagesAndShortForm: an endpoint's limit never offers "off"
// (ParseRate, for the environment, does); rates print in their short form
// and read back as themselves.
func TestLimitMessagesAndShortForm(t *testing.T) {
	for _, in := range []string{"fast", "off", "0/s"} {
		if _, err := ParseLimit(in); err == nil || strings.Contains(err.Error(), "or off") || strings.Contains(err.Error(), "null") {
			t.Errorf("ParseLimit(%q) = %v", in, err)
		}
	}
	if _, err := ParseRate("fast"); err == nil || !strings.HasSuffix(err.Error(), ", or off") {
		t.Errorf("ParseRate(fast) = %v", err)
	}
	for in, want := range map[string]string{"1/24h": "1/24h", "1/1h1m": "1/1h1m", "1/61m": "1/1h1m", "2/90s": "2/1m30s",
		"1/2h": "1/2h", "3/10s": "3/10s", "1/1500ms": "1/1.5s", "1/60m": "1/h", "4/1h0m30s": "4/1h0m30s"} {
		r, err := ParseLimit(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseLimit(%q).String() = %q, %v; want %q", in, r.String(), err, want)
			continue
		}
		if back, err := ParseLimit(r.String()); err != nil || back != r {
			t.Errorf("%q does not read back: %v, %v", r.String(), back, err)
		}
	}
	if h := (Rate{1, 24 * time.Hour}).Human(); h != "1 per 24h" {
		t.Errorf("Human = %q", h)
	}
}
