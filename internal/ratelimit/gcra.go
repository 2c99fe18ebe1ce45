package ratelimit

import (
	"fmt"
	"time"
)

// GCRA: a rate kept as one number, the theoretical arrival time (TAT) of
// the next unit, so that it can live in a database row and be advanced by
// whoever holds the row. A rate of N per Per spends one unit every Per/N
// (the interval) and allows a burst of Burst units after a pause; in any
// window of length W at most Burst + W×N/Per units are spent.

// Rates an endpoint may be given: at most MaxRatePerSecond per second, at
// least one per day (the parser's longest period).
const MaxRatePerSecond = 10_000

// ParseLimit reads a rate as ParseRate does, but not "off", and refuses
// rates faster than MaxRatePerSecond: what an endpoint's rate_limit
// accepts. Its messages offer no way to set no limit: each caller says
// its own (null in the API, an empty field in the UI).
func ParseLimit(s string) (Rate, error) {
	r, err := parseQuota(s)
	if err != nil {
		return Rate{}, err
	}
	if r.Interval() < time.Second/MaxRatePerSecond {
		return Rate{}, fmt.Errorf("%q is faster than %d per second", s, MaxRatePerSecond)
	}
	return r, nil
}

// Interval is the time one unit takes to come back: Per/N.
func (r Rate) Interval() time.Duration {
	if r.Off() {
		return 0
	}
	return r.Per / time.Duration(r.N)
}

// Burst is how many units may be spent at once after a pause: one second's
// worth of the rate, at least 1 and at most N. "10/s" and "600/m" allow 10
// at once, "1/h" one.
func (r Rate) Burst() int {
	if r.Off() {
		return 0
	}
	b := int(time.Second / r.Interval())
	return min(max(b, 1), r.N)
}

// Allow spends up to want units at now from a rate whose theoretical
// arrival time is tat (the zero time for a rate never used), and returns
// how many it granted and the new TAT. It never grants more than the
// burst allows.
func (r Rate) Allow(tat, now time.Time, want int) (granted int, next time.Time) {
	if r.Off() {
		return want, tat
	}
	iv := r.Interval()
	start := tat
	if start.Before(now) {
		start = now
	}
	// Units fit while start + k×iv stays within the burst's tolerance.
	room := int((now.Add(time.Duration(r.Burst()) * iv).Sub(start)) / iv)
	granted = min(max(room, 0), want)
	if granted == 0 {
		return 0, tat
	}
	return granted, start.Add(time.Duration(granted) * iv)
}

// Next is when a rate whose theoretical arrival time is tat may spend its
// next unit (now or earlier when it may at once).
func (r Rate) Next(tat time.Time) time.Time {
	if r.Off() {
		return time.Time{}
	}
	return tat.Add(-time.Duration(r.Burst()-1) * r.Interval())
}
