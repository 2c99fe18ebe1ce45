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

// keyPending returns which of the endpoints have a pending delivery of key.
func keyPending(ctx context.Context, tx *db.Tx, endpointIDs []string, key string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(endpointIDs) == 0 {
		return out, nil
	}
	args := append([]any{key}, db.Args(endpointIDs)...)
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT endpoint_id FROM deliveries
		WHERE ordering_key = $1 AND ordering_key <> '' AND status = 'pending' AND endpoint_id IN (`+db.Placeholders(2, len(endpointIDs))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("ordered delivery: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

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

// unpark makes due the next delivery of each of the endpoints' keys (of
// every key when keys is empty) once the one in front has finished, inside
// the transaction that finished it. Releasing more than needed is
// impossible: unparkSQL only releases what nothing holds back.
func (s *Service) unpark(ctx context.Context, tx *db.Tx, endpointIDs, keys []string, now time.Time) error {
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
	// Most of the time nothing is parked: a read spares the write.
	var parked int
	if err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries
		WHERE status = 'pending' AND next_attempt_at IS NULL AND ordering_key <> '' LIMIT 1) p`).Scan(&parked); err != nil || parked == 0 {
		return 0, err
	}
	var n int64
	err := s.DB.BackgroundTx(ctx, func(tx *db.Tx) error {
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
