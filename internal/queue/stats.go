package queue

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookbook/hookbook/internal/db"
)

// Stats describes the delivery queue.
type Stats struct {
	Pending          int
	Due              int
	OldestDueAge     time.Duration
	OldestPendingAge time.Duration // since the oldest pending delivery was created
}

// Stats returns the queue's depth: pending deliveries, those due now, the
// age of the oldest due one and of the oldest pending one.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	now := q.DB.Now()
	var st Stats
	var oldest sql.NullInt64
	var created sql.NullInt64
	// Deliveries held in memory are in flight, not waiting (hold.go).
	skip, skipArgs := notHeld(q.heldIDs(""), 2)
	waiting, args := "TRUE"+skip, append([]any{db.Micros(now)}, skipArgs...)
	err := q.DB.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_attempt_at <= $1 AND `+waiting+` THEN 1 ELSE 0 END), 0),
		MIN(CASE WHEN `+waiting+` THEN next_attempt_at END), MIN(created_at) FROM deliveries WHERE status = 'pending'`, args...).Scan(&st.Pending, &st.Due, &oldest, &created)
	if err != nil {
		return st, err
	}
	if created.Valid {
		st.OldestPendingAge = max(now.Sub(db.Time(created.Int64)), 0)
	}
	if oldest.Valid && oldest.Int64 <= db.Micros(now) {
		st.OldestDueAge = now.Sub(db.Time(oldest.Int64))
	}
	return st, nil
}

// OrganizationStats is one organization's share of the queue.
type OrganizationStats struct {
	OrganizationID   string
	Pending          int
	OldestPendingAge time.Duration
}

// ByOrganization returns the limit organizations with the most pending
// deliveries, most first: enough to see who is behind without a series per
// organization.
func (q *Queue) ByOrganization(ctx context.Context, limit int) ([]OrganizationStats, error) {
	now := q.DB.Now()
	rows, err := q.DB.QueryContext(ctx, `SELECT organization_id, COUNT(*), MIN(created_at) FROM deliveries
		WHERE status = 'pending' GROUP BY organization_id ORDER BY COUNT(*) DESC, organization_id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("queue by organization: %w", err)
	}
	defer rows.Close()
	var out []OrganizationStats
	for rows.Next() {
		var s OrganizationStats
		var created int64
		if err := rows.Scan(&s.OrganizationID, &s.Pending, &created); err != nil {
			return nil, err
		}
		s.OldestPendingAge = max(now.Sub(db.Time(created)), 0)
		out = append(out, s)
	}
	return out, rows.Err()
}
