package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ratelimit"
)

// Throttling. An endpoint with a rate limit or a bound on its attempts in
// flight is throttled: its deliveries carry throttled = TRUE, are never
// handed over at publication, and only the claim takes them, endpoint by
// endpoint, within the endpoint's allowance. The allowance lives in the
// endpoint's row (the rate's theoretical arrival time, GCRA), so that every
// instance sharing the database spends the same one: a claim locks the row
// (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite's writers exclude each
// other), counts the endpoint's leased deliveries against its in-flight
// bound, leases at most what both allow and advances the row. The claim of
// all other deliveries reads an index that holds no throttled delivery, so
// a throttled backlog is never in its way.

// maxThrottledPerClaim bounds the throttled endpoints one claim serves.
const maxThrottledPerClaim = 64

// throttledSQL is the condition that makes an endpoint throttled, as
// endpoints_throttled's index reads it.
const throttledSQL = `(e.rate_limit IS NOT NULL OR e.max_in_flight IS NOT NULL)`

// throttle is one throttled endpoint as the claim sees it.
type throttle struct {
	id          string
	rate        ratelimit.Rate
	maxInFlight sql.NullInt64
	tat         int64
}

// leaseThrottled leases up to room due deliveries of throttled endpoints
// whose rate allows one now, each within its allowance, least recently
// allowed endpoints first.
func (q *Queue) leaseThrottled(ctx context.Context, tx *db.Tx, r ClaimRequest, room int, now time.Time) ([]*Job, map[*Job]string, error) {
	endpoints, err := allowedThrottles(ctx, tx, r, now)
	if err != nil {
		return nil, nil, err
	}
	var jobs []*Job
	endpointOf := map[*Job]string{}
	for _, t := range endpoints {
		if room <= 0 {
			break
		}
		// Held ones (only on SQLite) were claimed before t was throttled.
		leased, next, err := leaseOne(ctx, tx, r, t, room, now, q.heldIDs(t.id))
		if err != nil {
			return nil, nil, err
		}
		if !next.IsZero() {
			id := t.id
			tx.OnCommit(func() { q.allowedAt(id, next) })
		}
		for _, j := range leased {
			endpointOf[j] = t.id
		}
		jobs = append(jobs, leased...)
		room -= len(leased)
	}
	return jobs, endpointOf, nil
}

// allowedThrottles locks and returns the throttled endpoints with due
// deliveries whose rate allows an attempt now, leaving out r.Exclude and
// those another claim holds.
func allowedThrottles(ctx context.Context, tx *db.Tx, r ClaimRequest, now time.Time) ([]throttle, error) {
	args := []any{db.Micros(now), maxThrottledPerClaim}
	exclude := ""
	if len(r.Exclude) > 0 {
		exclude = ` AND e.id NOT IN (` + db.Placeholders(3, len(r.Exclude)) + `)`
		args = append(args, db.Args(r.Exclude)...)
	}
	rows, err := tx.QueryContext(ctx, `SELECT e.id, e.rate_limit, e.max_in_flight, e.throttle_tat FROM endpoints e
		WHERE `+throttledSQL+` AND e.throttle_next <= $1`+exclude+`
		AND EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.throttled
			AND d.next_attempt_at <= $1)
		ORDER BY e.throttle_next LIMIT $2`+tx.SkipLocked(), args...)
	if err != nil {
		return nil, fmt.Errorf("throttled endpoints: %w", err)
	}
	defer rows.Close()
	var out []throttle
	for rows.Next() {
		var t throttle
		var rate sql.NullString
		if err := rows.Scan(&t.id, &rate, &t.maxInFlight, &t.tat); err != nil {
			return nil, err
		}
		t.rate = storedRate(rate)
		out = append(out, t)
	}
	return out, rows.Err()
}

// storedRate reads a stored rate_limit; a text that does not parse (never
// written by hookbook) sets no rate.
func storedRate(s sql.NullString) ratelimit.Rate {
	if !s.Valid {
		return ratelimit.Rate{}
	}
	r, err := ratelimit.ParseLimit(s.String)
	if err != nil {
		return ratelimit.Rate{}
	}
	return r
}

// leaseOne leases what t's allowance and in-flight bound let through, at
// most room, and advances t's rate by what it leased; next is when the
// rate allows the next attempt (zero when unchanged). held are t's
// deliveries held in memory (hold.go: claimed before t was throttled):
// in flight, never leased again.
func leaseOne(ctx context.Context, tx *db.Tx, r ClaimRequest, t throttle, room int, now time.Time, held []string) (jobs []*Job, next time.Time, err error) {
	want := room
	if bound := inFlightBound(t, r); bound > 0 {
		var inFlight int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE endpoint_id = $1 AND status = 'pending'
			AND throttled AND lease_until > $2`, t.id, db.Micros(now)).Scan(&inFlight); err != nil {
			return nil, time.Time{}, fmt.Errorf("throttled endpoint in flight: %w", err)
		}
		want = min(want, bound-inFlight-len(held))
	}
	tat := db.Time(t.tat)
	want, _ = t.rate.Allow(tat, now, want)
	if want <= 0 {
		return nil, time.Time{}, nil
	}
	until := now.Add(r.Lease)
	skip, skipArgs := notHeld(held, 6)
	jobs, _, err = leaseRows(ctx, tx, `UPDATE deliveries SET lease_owner = $1, lease_until = $2, next_attempt_at = $2
		WHERE id IN (SELECT id FROM deliveries WHERE endpoint_id = $5 AND status = 'pending' AND throttled AND next_attempt_at <= $3`+skip+`
			ORDER BY next_attempt_at LIMIT $4`+tx.SkipLocked()+`)
		RETURNING `+leasedColumns, r.Owner, until, append([]any{r.Owner, db.Micros(until), db.Micros(now), want, t.id}, skipArgs...))
	if err != nil || len(jobs) == 0 || t.rate.Off() {
		return jobs, time.Time{}, err
	}
	_, tat = t.rate.Allow(tat, now, len(jobs))
	next = t.rate.Next(tat)
	if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET throttle_tat = $1, throttle_next = $2 WHERE id = $3`,
		db.Micros(tat), db.Micros(next), t.id); err != nil {
		return nil, time.Time{}, fmt.Errorf("advance the rate of a throttled endpoint: %w", err)
	}
	return jobs, next, nil
}

// maxKnownAllowed bounds the throttled endpoints whose next allowed time
// a Queue remembers.
const maxKnownAllowed = 10_000

// allowedAt remembers when endpointID's rate allows its next attempt, as
// this instance last saw it. The stored time only grows while the rate
// stays, so a remembered time in the future shows the endpoint cannot send
// before it, and a publication can skip both the read and the wake-up of
// a claim. (A changed rate starts afresh: a remembered time may then be
// late, which the claim loop's poll bounds.)
func (q *Queue) allowedAt(endpointID string, t time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.allowed == nil || len(q.allowed) >= maxKnownAllowed {
		q.allowed = map[string]time.Time{}
	}
	if t.After(q.allowed[endpointID]) {
		q.allowed[endpointID] = t
	}
}

// knownLater returns the earliest remembered time at which the endpoints'
// rates allow an attempt, and false unless every one of them is known to
// allow none before a time after now.
func (q *Queue) knownLater(endpointIDs []string, now time.Time) (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var later time.Time
	for _, id := range endpointIDs {
		t, ok := q.allowed[id]
		if !ok || !t.After(now) {
			return time.Time{}, false
		}
		if later.IsZero() || t.Before(later) {
			later = t
		}
	}
	return later, true
}

// inFlightBound is how many attempts t may have in flight over all
// instances (0: no bound).
func inFlightBound(t throttle, r ClaimRequest) int {
	if t.maxInFlight.Valid {
		return int(t.maxInFlight.Int64)
	}
	return r.PerEndpoint
}

// NextAllowed returns the earliest time after since at which a throttled
// endpoint's due backlog may be claimed by its rate, and false when no
// throttled endpoint waits for its rate. Its claimers sleep until then.
// since is when the claimer last claimed: a rate that refused that claim
// allows the next one later than since, and a time already past by the
// time NextAllowed runs (on a busy machine) means claim again now. (Asked
// after now instead, such a time would be missed, and the backlog would
// wait for the fallback poll.)
func (q *Queue) NextAllowed(ctx context.Context, since time.Time) (time.Time, bool, error) {
	var next sql.NullInt64
	err := q.DB.QueryRowContext(ctx, `SELECT MIN(e.throttle_next) FROM endpoints e
		WHERE `+throttledSQL+` AND e.throttle_next > $1
		AND EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.throttled
			AND d.next_attempt_at <= e.throttle_next)`, db.Micros(since)).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next allowed: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return db.Time(next.Int64), true, nil
}

// SetThrottledTx makes an endpoint's pending deliveries follow its
// throttling, inside the transaction that saves it with rate (nil: none),
// before the endpoint's row is written: a rate that changes starts afresh,
// with its whole burst.
func SetThrottledTx(ctx context.Context, tx *db.Tx, endpointID string, throttled bool, rate *string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET throttled = $1 WHERE endpoint_id = $2 AND status = 'pending' AND throttled <> $1`,
		throttled, endpointID); err != nil {
		return fmt.Errorf("throttle pending deliveries: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET throttle_tat = 0, throttle_next = 0
		WHERE id = $1 AND COALESCE(rate_limit, '') <> $2`, endpointID, deref(rate)); err != nil {
		return fmt.Errorf("reset the rate of an endpoint: %w", err)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// EndpointState is one endpoint's share of the queue and its throttle.
type EndpointState struct {
	Pending         int        // pending deliveries, parked and scheduled ones included
	Due             int        // of which due now
	InFlight        int        // of which leased to an instance
	OldestPendingAt *time.Time // creation of the oldest pending delivery
	NextAllowedAt   *time.Time // when its rate allows the next attempt; nil: no rate
}

// EndpointState returns an endpoint's pending deliveries and when its rate
// allows the next attempt.
func (q *Queue) EndpointState(ctx context.Context, endpointID string) (EndpointState, error) {
	now := db.Micros(q.DB.Now())
	var st EndpointState
	var oldest sql.NullInt64
	var next int64
	var rate sql.NullString
	// Held deliveries (hold.go) are in flight, not due.
	held := q.heldIDs(endpointID)
	leased, args := `lease_until > $2`, []any{endpointID, now}
	if len(held) > 0 {
		leased = `(lease_until > $2 OR id IN (` + db.Placeholders(3, len(held)) + `))`
		args = append(args, db.Args(held)...)
	}
	err := q.DB.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_attempt_at <= $2 AND NOT `+leased+` THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN `+leased+` THEN 1 ELSE 0 END), 0), MIN(created_at)
		FROM deliveries WHERE endpoint_id = $1 AND status = 'pending'`, args...).Scan(&st.Pending, &st.Due, &st.InFlight, &oldest)
	if err != nil {
		return st, fmt.Errorf("endpoint queue: %w", err)
	}
	st.OldestPendingAt = db.NullTime(oldest)
	err = q.DB.QueryRowContext(ctx, `SELECT rate_limit, throttle_next FROM endpoints WHERE id = $1`, endpointID).Scan(&rate, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("endpoint throttle: %w", err)
	}
	if rate.Valid {
		t := db.Time(max(next, now))
		st.NextAllowedAt = &t
	}
	return st, nil
}
