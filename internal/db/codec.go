package db

import (
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Times are stored as BIGINT unix microseconds in both databases.

// Micros converts a time to unix microseconds.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// Time converts unix microseconds to a UTC time.
func Time(v int64) time.Time { return time.UnixMicro(v).UTC() }

// NullMicros is Micros of *t, or NULL for nil.
func NullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// ZeroNullMicros is Micros of t, or NULL for the zero time.
func ZeroNullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// NullTime converts a nullable microsecond column to a time, nil for NULL.
func NullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := Time(v.Int64)
	return &t
}

// NullString is *p, or NULL for nil.
func NullString(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// NullText is v, or NULL for "".
func NullText(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// NullInt is v, or NULL for 0.
func NullInt(v int) any {
	if v == 0 {
		return nil
	}
	return v
}

// Touched is the new updated_at of a delivery row that a write finishes
// or queues again, now being the placeholder of the time (e.g. "$1"): now,
// or one microsecond past the row's updated_at if the clock has not moved
// beyond it. A row's updated_at is the version the engine's in-memory
// leases check (internal/queue, hold.go), so it must move with every such
// write, however coarse or frozen the clock.
func Touched(now string) string {
	return `CASE WHEN updated_at >= CAST(` + now + ` AS BIGINT) THEN updated_at + 1 ELSE CAST(` + now + ` AS BIGINT) END`
}

// Placeholders returns "$from, $from+1, …" for n values.
func Placeholders(from, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}

// Args turns a list of strings into query arguments.
func Args(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}
