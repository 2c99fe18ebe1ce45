package outbound

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

// nextSequence returns the next sequence of an organization's ordering
// key: one more than the last, and never less than now in microseconds, so
// that a key whose row retention removed still grows.
func nextSequence(ctx context.Context, tx *db.Tx, orgID, key string, now time.Time) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `INSERT INTO ordering_sequences (organization_id, ordering_key, last_sequence, updated_at)
		VALUES ($1, $2, $3, $3)
		ON CONFLICT (organization_id, ordering_key) DO UPDATE SET
			last_sequence = CASE WHEN ordering_sequences.last_sequence >= excluded.last_sequence
				THEN ordering_sequences.last_sequence + 1 ELSE excluded.last_sequence END,
			updated_at = excluded.updated_at
		RETURNING last_sequence`, orgID, key, db.Micros(now)).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("ordering sequence: %w", err)
	}
	return seq, nil
}

// keyPending reports whether an endpoint has a pending delivery of key.
func keyPending(ctx context.Context, tx *db.Tx, endpointID, key string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries
		WHERE endpoint_id = $1 AND ordering_key = $2 AND status = 'pending' LIMIT 1) p`, endpointID, key).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("ordered delivery: %w", err)
	}
	return n > 0, nil
}

// unparkSQL makes due the parked deliveries with nothing in front of them:
// no pending delivery of their endpoint and key that is due, in flight or
// waiting for a retry, and none with a lower sequence; or whose endpoint
// is no longer ordered. $1 is now; the rest narrows it down.
const unparkSQL = `UPDATE deliveries SET next_attempt_at = $1, updated_at = $1
	WHERE status = 'pending' AND next_attempt_at IS NULL %s
	AND (NOT EXISTS (SELECT 1 FROM deliveries q WHERE q.endpoint_id = deliveries.endpoint_id
			AND q.ordering_key = deliveries.ordering_key AND q.status = 'pending'
			AND (q.next_attempt_at IS NOT NULL OR q.sequence < deliveries.sequence))
		OR NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id AND e.ordered))`

// unpark makes due the next delivery of an endpoint's key (of each of its
// keys when key is "") once the one in front has finished, inside the
// transaction that finished it.
func (s *Service) unpark(ctx context.Context, tx *db.Tx, endpointID, key string, now time.Time) error {
	q, args := fmt.Sprintf(unparkSQL, `AND endpoint_id = $2`), []any{db.Micros(now), endpointID}
	if key != "" {
		q, args = fmt.Sprintf(unparkSQL, `AND endpoint_id = $2 AND ordering_key = $3`), append(args, key)
	}
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("ordered delivery: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return s.due(ctx, tx)
	}
	return nil
}

// Unpark makes due every parked delivery with nothing in front of it. The
// transactions that finish deliveries do this for their own keys; this
// sweep, run now and then, covers what they could not see (on PostgreSQL a
// delivery parked by a publication that committed while the one in front
// was finishing) and endpoints no longer ordered. It returns how many it
// released.
func (s *Service) Unpark(ctx context.Context) (int, error) {
	var n int64
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, fmt.Sprintf(unparkSQL, ""), db.Micros(s.DB.Now()))
		if err != nil {
			return fmt.Errorf("ordered delivery sweep: %w", err)
		}
		if n, _ = res.RowsAffected(); n > 0 {
			return s.due(ctx, tx)
		}
		return nil
	})
	return int(n), err
}
