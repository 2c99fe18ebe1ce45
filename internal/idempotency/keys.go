package idempotency

import (
	"context"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
)

// ValidKey reports whether key may be used as an idempotency key, of a
// request (the Idempotency-Key header) or of an event: at most MaxKey bytes
// of text both databases can store.
func ValidKey(key string) bool {
	return len(key) <= MaxKey && hookbook.Storable(key)
}

// ClaimEventKey records, inside the publication's transaction tx, that key
// of organization orgID names the event eventID for Window. It returns ""
// when the key is now the event's, or the id of the first event that still
// holds the key (the publication is a repeat). Published events keep their
// keys in their own table beside the event, so that a publication stays one
// transaction with no answer to store.
func ClaimEventKey(ctx context.Context, tx *db.Tx, orgID, key, eventID string, now time.Time) (first string, err error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (organization_id, key, event_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (organization_id, key) DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at
		WHERE idempotency_keys.created_at < $5`,
		orgID, key, eventID, db.Micros(now), db.Micros(now.Add(-Window)))
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return "", nil
	}
	err = tx.QueryRowContext(ctx, `SELECT event_id FROM idempotency_keys WHERE organization_id = $1 AND key = $2`, orgID, key).Scan(&first)
	return first, err
}

// PurgeEventKeys deletes the event keys older than Window.
func PurgeEventKeys(ctx context.Context, d *db.DB) error {
	_, err := d.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, db.Micros(d.Now().Add(-Window)))
	return err
}
