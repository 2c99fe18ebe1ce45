package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/hookbook/hookbook/internal/db"
)

// Ordered delivery. Every event may have an ordering key and a sequence
// that grows with each event of that key in its organization. An ordered
// endpoint gets a key's deliveries one at a time: a delivery queued behind
// a pending one of the same key and endpoint waits "parked" (pending, with
// no next_attempt_at, so no claim sees it); when the one in front succeeds
// or fails for good, the parked one with the lowest sequence becomes due.
// Keys never wait for each other, and events without a key never wait.

// unparkSQL makes due the parked deliveries with nothing in front of them
// (the terms that require a non-empty ordering_key let both databases use
// the partial index deliveries_ordering):
// no pending delivery of their endpoint and key that is due, in flight or
// waiting for a retry, and none with a lower sequence; or whose endpoint
// is no longer ordered. $1 is now; the rest narrows it down.
const unparkSQL = `UPDATE deliveries SET next_attempt_at = $1, updated_at = $1
	WHERE status = 'pending' AND next_attempt_at IS NULL AND ordering_key <> '' %s
	AND (NOT EXISTS (SELECT 1 FROM deliveries q WHERE q.endpoint_id = deliveries.endpoint_id
			AND q.ordering_key = deliveries.ordering_key AND q.ordering_key <> '' AND q.status = 'pending'
			AND (q.next_attempt_at IS NOT NULL OR q.sequence < deliveries.sequence))
		OR NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id AND e.ordered))`

// UnparkTx makes due, inside tx, the next delivery of each of the
// endpoints' keys (of every key when keys is empty) once the one in front
// has finished. Releasing more than needed is impossible: unparkSQL only
// releases what nothing holds back.
func (q *Queue) UnparkTx(ctx context.Context, tx *db.Tx, endpointIDs, keys []string, now time.Time) error {
	args := append([]any{db.Micros(now)}, db.Args(endpointIDs)...)
	filter := `AND endpoint_id IN (` + db.Placeholders(2, len(endpointIDs)) + `)`
	if len(keys) > 0 {
		filter += ` AND ordering_key IN (` + db.Placeholders(len(args)+1, len(keys)) + `)`
		args = append(args, db.Args(keys)...)
	}
	res, err := tx.ExecContext(ctx, fmt.Sprintf(unparkSQL, filter), args...)
	if err != nil {
		return fmt.Errorf("ordered delivery: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return q.DueTx(ctx, tx)
	}
	return nil
}

// Unpark makes due every parked delivery with nothing in front of it. The
// transactions that finish deliveries do this for their own keys; this
// sweep, run now and then, covers what they could not see (on PostgreSQL a
// delivery parked by a publication that committed while the one in front
// was finishing) and endpoints no longer ordered. It returns how many it
// released.
func (q *Queue) Unpark(ctx context.Context) (int, error) {
	// Most of the time nothing is parked: a read spares the write.
	var parked int
	if err := q.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries
		WHERE status = 'pending' AND next_attempt_at IS NULL AND ordering_key <> '' LIMIT 1) p`).Scan(&parked); err != nil || parked == 0 {
		return 0, err
	}
	var n int64
	err := q.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, fmt.Sprintf(unparkSQL, ""), db.Micros(q.DB.Now()))
		if err != nil {
			return fmt.Errorf("ordered delivery sweep: %w", err)
		}
		if n, _ = res.RowsAffected(); n > 0 {
			return q.DueTx(ctx, tx)
		}
		return nil
	})
	return int(n), err
}
