package outbound

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hookbook/hookbook/internal/db"
	"time"

	"github.com/hookbook/hookbook/internal/event"
	"github.com/oklog/ulid/v2"
)

// DisableEndpoint disables an endpoint for reason, fails its pending
// deliveries and publishes endpoint.disabled to the organization's other
// subscribed endpoints, in one transaction. It reports false when the
// endpoint was already disabled or deleted.
func (s *Service) DisableEndpoint(ctx context.Context, id, reason string) (bool, error) {
	var done bool
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		var err error
		done, err = s.disableEndpoint(ctx, tx, id, reason)
		return err
	})
	return done, err
}

func (s *Service) disableEndpoint(ctx context.Context, tx *db.Tx, id, reason string) (bool, error) {
	now := s.DB.Now().UTC()
	var orgID, url string
	var lastOK sql.NullInt64
	err := tx.QueryRowContext(ctx, `UPDATE endpoints SET enabled = FALSE, disabled_reason = $1, updated_at = $2
		WHERE id = $3 AND enabled = TRUE AND deleted_at IS NULL RETURNING organization_id, url, last_success_at`,
		reason, db.Micros(now), id).Scan(&orgID, &url, &lastOK)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("disable endpoint: %w", err)
	}
	if err := failPending(ctx, tx, id, "endpoint disabled: "+reason, db.Micros(now)); err != nil {
		return false, err
	}
	forgetCandidates(tx) // the organization's endpoints just changed
	data := event.EndpointDisabledData{EndpointID: id, URL: url, Reason: reason, DisabledAt: event.At(now)}
	if t := db.NullTime(lastOK); t != nil {
		data.LastSuccessAt = (*event.Time)(t)
	}
	b, _ := json.Marshal(data)
	if _, err := s.PublishTx(ctx, tx, Publication{OrganizationID: orgID, Type: data.EventType(), Data: b, OccurredAt: now}); err != nil {
		return false, err
	}
	return true, nil
}

// FailingSince lists enabled endpoints that have failed without a single
// success since before cutoff.
func (s *Service) FailingSince(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id FROM endpoints WHERE enabled = TRUE AND deleted_at IS NULL
		AND failing_since IS NOT NULL AND failing_since <= $1`, db.Micros(cutoff))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// DisableFailing disables an endpoint only if it still has failed without
// success since before cutoff (another instance may have seen a success).
func (s *Service) DisableFailing(ctx context.Context, id string, cutoff time.Time, reason string) (bool, error) {
	var done bool
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		var found string
		err := tx.QueryRowContext(ctx, `SELECT id FROM endpoints WHERE id = $1 AND failing_since IS NOT NULL
			AND failing_since <= $2`+tx.ForUpdate(), id, db.Micros(cutoff)).Scan(&found)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		done, err = s.disableEndpoint(ctx, tx, id, reason)
		return err
	})
	return done, err
}

// Postpone gives claimed jobs back and moves every due pending delivery of
// an endpoint to until, without spending an attempt: its circuit is open.
func (s *Service) Postpone(ctx context.Context, endpointID string, jobs []*Job, until time.Time) error {
	return s.DB.Tx(ctx, func(tx *db.Tx) error {
		for _, j := range jobs {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_owner = '', lease_until = 0
				WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`, j.DeliveryID, j.Owner); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = $1
			WHERE endpoint_id = $2 AND status = 'pending' AND next_attempt_at < $1 AND lease_until <= $3`,
			db.Micros(until), endpointID, db.Micros(s.DB.Now()))
		return err
	})
}

// idBefore returns the smallest id with prefix made at t: every id of that
// kind made before t sorts below it.
func idBefore(prefix string, t time.Time) string {
	var u ulid.ULID
	if err := u.SetTime(ulid.Timestamp(t)); err != nil {
		return prefix + "_"
	}
	return prefix + "_" + u.String()
}

// PurgeBatch bounds each delete so a purge never holds the write lock long.
const PurgeBatch = 1000

// Purge deletes finished deliveries and their attempts, events without
// deliveries left, and idempotency keys, all older than cutoff. Pending
// deliveries are kept whatever their age. It returns how many deliveries
// and events it deleted.
func (s *Service) Purge(ctx context.Context, cutoff time.Time) (deliveries, events int, err error) {
	dlvBound, evtBound := idBefore("dlv", cutoff), idBefore("evt", cutoff)
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
	for {
		res, err := s.DB.ExecContext(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events e WHERE id < $1
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) ORDER BY id LIMIT $2)`, evtBound, PurgeBatch)
		if err != nil {
			return deliveries, events, fmt.Errorf("purge events: %w", err)
		}
		n, _ := res.RowsAffected()
		events += int(n)
		if n < PurgeBatch {
			break
		}
	}
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, db.Micros(s.DB.Now().Add(-IdempotencyWindow))); err != nil {
		return deliveries, events, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return deliveries, events, nil
}

// QueueStats describes the delivery queue.
type QueueStats struct {
	Pending       int
	Due           int
	OldestDueAge  time.Duration
	OpenEndpoints int
}

// Queue returns the queue's depth: pending deliveries, those due now, and
// the age of the oldest due one.
func (s *Service) Queue(ctx context.Context) (QueueStats, error) {
	now := s.DB.Now()
	var st QueueStats
	var oldest sql.NullInt64
	err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_attempt_at <= $1 THEN 1 ELSE 0 END), 0),
		MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'`, db.Micros(now)).Scan(&st.Pending, &st.Due, &oldest)
	if err != nil {
		return st, err
	}
	if oldest.Valid && oldest.Int64 <= db.Micros(now) {
		st.OldestDueAge = now.Sub(db.Time(oldest.Int64))
	}
	return st, nil
}
