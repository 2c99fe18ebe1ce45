package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"
)

// PurgeBatch bounds each delete so a purge never holds the write lock long.
const PurgeBatch = 1000

// Purge deletes finished deliveries older than cutoff with their attempts,
// PurgeBatch at a time. Pending deliveries are kept whatever their age. It
// returns how many deliveries it deleted.
func (q *Queue) Purge(ctx context.Context, cutoff time.Time) (int, error) {
	return q.purge(ctx, `SELECT id FROM deliveries WHERE id < $1 AND status <> 'pending' ORDER BY id LIMIT $2`, cutoff)
}

// PurgeEndpoint is Purge for one endpoint's deliveries (an organization
// whose own retention is shorter than the operator's).
func (q *Queue) PurgeEndpoint(ctx context.Context, endpointID string, cutoff time.Time) (int, error) {
	return q.purge(ctx, `SELECT id FROM deliveries WHERE endpoint_id = $3 AND id < $1 AND status <> 'pending' ORDER BY id LIMIT $2`, cutoff, endpointID)
}

// purge deletes the deliveries pick selects ($1 the id bound of cutoff,
// $2 the batch, then extra) with their attempts, batch by batch.
func (q *Queue) purge(ctx context.Context, pick string, cutoff time.Time, extra ...any) (int, error) {
	bound := ids.Before("dlv", cutoff)
	deleted := 0
	for {
		var n int64
		err := q.DB.Tx(ctx, func(tx *db.Tx) error {
			rows, err := tx.QueryContext(ctx, pick, append([]any{bound, PurgeBatch}, extra...)...)
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
			return deleted, fmt.Errorf("purge deliveries: %w", err)
		}
		deleted += int(n)
		if n < PurgeBatch {
			return deleted, nil
		}
	}
}
