package outbound

import (
	"context"
	"fmt"
	"time"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"
)

// PurgeBatch bounds each delete so a purge never holds the write lock long.
const PurgeBatch = 1000

// Purge deletes finished deliveries and their attempts, events without
// deliveries left, and idempotency keys, all older than cutoff. Pending
// deliveries are kept whatever their age. It returns how many deliveries
// and events it deleted.
func (s *Service) Purge(ctx context.Context, cutoff time.Time) (deliveries, events int, err error) {
	dlvBound, evtBound := ids.Before("dlv", cutoff), ids.Before("evt", cutoff)
	for {
		var n int64
		err := s.DB.Tx(ctx, func(tx *db.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT id FROM deliveries WHERE id < $1 AND status <> 'pending' ORDER BY id LIMIT $2`, dlvBound, PurgeBatch)
			if err != nil {
				return err
			}
			var idList []any
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				idList = append(idList, id)
			}
			rows.Close()
			if len(idList) == 0 {
				return nil
			}
			in := db.Placeholders(1, len(idList))
			if _, err := tx.ExecContext(ctx, `DELETE FROM attempts WHERE delivery_id IN (`+in+`)`, idList...); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE id IN (`+in+`)`, idList...)
			if err != nil {
				return err
			}
			n, _ = res.RowsAffected()
			return nil
		})
		if err != nil {
			return deliveries, events, fmt.Errorf("purge deliveries: %w", err)
		}
		deliveries += int(n)
		if n < PurgeBatch {
			break
		}
	}
	events, err = s.DB.DeleteInBatches(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events e WHERE id < $1
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) ORDER BY id LIMIT $2)`, PurgeBatch, evtBound)
	if err != nil {
		return deliveries, events, fmt.Errorf("purge events: %w", err)
	}
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, db.Micros(s.DB.Now().Add(-IdempotencyWindow))); err != nil {
		return deliveries, events, fmt.Errorf("purge idempotency keys: %w", err)
	}
	// A key unused since cutoff starts again above its old sequences
	// (sequences never fall below the time in microseconds).
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM ordering_sequences WHERE updated_at < $1`, db.Micros(cutoff)); err != nil {
		return deliveries, events, fmt.Errorf("purge ordering keys: %w", err)
	}
	return deliveries, events, nil
}
