// Package ids makes hookbook's resource ids: a type prefix such as "evt_"
// followed by a ULID, so ids sort by creation time and cursors can be ids.
package ids

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

var (
	mu      sync.Mutex
	entropy = ulid.Monotonic(rand.Reader, 0)
)

// New returns a new id with the given prefix, e.g. New("evt") → "evt_01J…".
// Ids made by one process increase strictly.
func New(prefix string) string {
	mu.Lock()
	u := ulid.MustNew(ulid.Timestamp(time.Now()), entropy)
	mu.Unlock()
	return prefix + "_" + u.String()
}

// Valid reports whether s is an id with the given prefix.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}

// Time returns when an id made by New was made (to the millisecond).
func Time(id string) (time.Time, bool) {
	_, rest, ok := strings.Cut(id, "_")
	if !ok {
		return time.Time{}, false
	}
	u, err := ulid.ParseStrict(rest)
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(u.Time()), true
}

// Before returns the smallest id with prefix made at t: every id of that
// kind made before t sorts below it, so "id < Before(p, t)" selects what is
// older than t through the primary key.
func Before(prefix string, t time.Time) string {
	var u ulid.ULID
	if err := u.SetTime(ulid.Timestamp(t)); err != nil {
		return prefix + "_"
	}
	return prefix + "_" + u.String()
}
