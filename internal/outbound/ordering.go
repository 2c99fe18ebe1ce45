package outbound

import (
	"context"
	"fmt"
	"time"

	"github.com/hookbook/hookbook/internal/db"
)

// Ordered delivery. Every event may have an ordering key and a sequence
// that grows with each event of that key in its organization; the queue
// (internal/queue) gives an ordered endpoint a key's deliveries one at a
// time, in sequence order.

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

// unpark makes due the next delivery of each of the endpoints' keys (of
// every key when keys is empty) once the one in front has finished, inside
// the transaction that finished it.
func (s *Service) unpark(ctx context.Context, tx *db.Tx, endpointIDs, keys []string, now time.Time) error {
	return s.queue().UnparkTx(ctx, tx, endpointIDs, keys, now)
}

// due records that tx makes deliveries due now, so that claimers wake once
// it commits.
func (s *Service) due(ctx context.Context, tx *db.Tx) error {
	return s.queue().DueTx(ctx, tx)
}
