package outbound

import (
	"context"
	"fmt"
	"time"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/idempotency"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/queue"
)

// Purge deletes finished deliveries and their attempts (queue.Purge),
// events without deliveries left, idempotency keys and finished replays, all older than
// cutoff. Pending deliveries are kept whatever their age. It returns how
// many deliveries and events it deleted.
func (s *Service) Purge(ctx context.Context, cutoff time.Time) (deliveries, events int, err error) {
	deliveries, err = s.queue().Purge(ctx, cutoff)
	if err != nil {
		return deliveries, 0, err
	}
	events, err = s.DB.DeleteInBatches(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events e WHERE id < $1
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) ORDER BY id LIMIT $2)`, queue.PurgeBatch, ids.Before("evt", cutoff))
	if err != nil {
		return deliveries, events, fmt.Errorf("purge events: %w", err)
	}
	if err := idempotency.PurgeEventKeys(ctx, s.DB); err != nil {
		return deliveries, events, fmt.Errorf("purge idempotency keys: %w", err)
	}
	// A key unused since cutoff starts again above its old sequences
	// (sequences never fall below the time in microseconds).
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM ordering_sequences WHERE updated_at < $1`, db.Micros(cutoff)); err != nil {
		return deliveries, events, fmt.Errorf("purge ordering keys: %w", err)
	}
	return deliveries, events, s.purgeReplays(ctx, cutoff)
}
