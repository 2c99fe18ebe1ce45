package outbound

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
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
	if err := s.purgeAlerts(ctx, cutoff); err != nil {
		return deliveries, events, err
	}
	return deliveries, events, s.purgeReplays(ctx, cutoff)
}

// MinRetention is the shortest retention an organization may set.
const MinRetention = time.Hour

// Retention returns an organization's own retention, nil when it keeps
// the operator's (HOOKBOOK_RETENTION).
func (s *Service) Retention(ctx context.Context, orgID string) (*time.Duration, error) {
	var us sql.NullInt64
	err := s.DB.QueryRowContext(ctx, `SELECT retention_us FROM organizations WHERE id = $1`, orgID).Scan(&us)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("organization")
	}
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	if !us.Valid {
		return nil, nil
	}
	d := time.Duration(us.Int64) * time.Microsecond
	return &d, nil
}

// SetRetention sets how long an organization's events and finished
// deliveries (skipped ones included) are kept: a duration from
// MinRetention to most (the operator's HOOKBOOK_RETENTION), or nil for
// most. Anything else is a 422 naming retention.
func (s *Service) SetRetention(ctx context.Context, orgID string, d *time.Duration, most time.Duration) error {
	var v any
	if d != nil {
		if *d < MinRetention || *d > most {
			f := hookbook.Fields{}
			f.Add("retention", fmt.Sprintf("must be a duration from %s to %s (the operator's maximum), or null for the maximum",
				FormatRetention(MinRetention), FormatRetention(most)))
			return f.Err()
		}
		v = d.Microseconds()
	}
	if _, err := s.DB.ExecContext(ctx, `UPDATE organizations SET retention_us = $1 WHERE id = $2`, v, orgID); err != nil {
		return fmt.Errorf("set retention: %w", err)
	}
	return nil
}

// ParseRetention reads a retention as clients write it: a Go duration
// such as "168h" or "90m".
func ParseRetention(text string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(text))
	if err != nil || len(text) > 32 {
		return 0, &hookbook.Error{Kind: hookbook.EValidation, Code: "validation_failed",
			Message: "retention must be a duration such as 168h", Details: map[string]string{"retention": "must be a duration such as 168h"}}
	}
	return d, nil
}

// FormatRetention writes a retention in whole hours when it is one
// ("168h"), else as Go does ("90m0s").
func FormatRetention(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// PurgeOrganizations applies the retention of each organization that set
// one shorter than most: its finished deliveries, their attempts and its
// events older than now less its retention go. It returns how many
// deliveries and events it deleted.
func (s *Service) PurgeOrganizations(ctx context.Context, now time.Time, most time.Duration) (deliveries, events int, err error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, retention_us FROM organizations WHERE retention_us IS NOT NULL AND retention_us < $1`, most.Microseconds())
	if err != nil {
		return 0, 0, fmt.Errorf("organization retention: %w", err)
	}
	type org struct {
		id string
		us int64
	}
	var list []org
	for rows.Next() {
		var o org
		if err := rows.Scan(&o.id, &o.us); err != nil {
			rows.Close()
			return 0, 0, err
		}
		list = append(list, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	for _, o := range list {
		cutoff := now.Add(-time.Duration(o.us) * time.Microsecond)
		eps, err := s.DB.QueryContext(ctx, `SELECT id FROM endpoints WHERE organization_id = $1`, o.id)
		var epIDs []string
		if err == nil {
			for eps.Next() {
				var id string
				if err = eps.Scan(&id); err != nil {
					break
				}
				epIDs = append(epIDs, id)
			}
			eps.Close()
		}
		if err != nil {
			return deliveries, events, fmt.Errorf("organization %s endpoints: %w", o.id, err)
		}
		for _, id := range epIDs {
			n, err := s.queue().PurgeEndpoint(ctx, id, cutoff)
			deliveries += n
			if err != nil {
				return deliveries, events, err
			}
		}
		n, err := s.DB.DeleteInBatches(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events e WHERE organization_id = $2 AND id < $1
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) ORDER BY id LIMIT $3)`, queue.PurgeBatch, ids.Before("evt", cutoff), o.id)
		events += n
		if err != nil {
			return deliveries, events, fmt.Errorf("purge events of %s: %w", o.id, err)
		}
	}
	return deliveries, events, nil
}
