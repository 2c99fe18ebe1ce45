package outbound

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"

	"github.com/hookbook/hookbook/internal/event"
)

// Endpoint health: disabling endpoints that fail too long or answer 410.

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
	var orgID, url, alertEmails string
	var lastOK sql.NullInt64
	err := tx.QueryRowContext(ctx, `UPDATE endpoints SET enabled = FALSE, disabled_reason = $1, updated_at = $2
		WHERE id = $3 AND enabled = TRUE AND deleted_at IS NULL RETURNING organization_id, url, last_success_at, alert_emails`,
		reason, db.Micros(now), id).Scan(&orgID, &url, &lastOK, &alertEmails)
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
	tx.OnCommit(func() { s.disabled.Add(1) })
	data := event.EndpointDisabledData{EndpointID: id, URL: publicURL(url), Reason: reason, DisabledAt: event.At(now)}
	if t := db.NullTime(lastOK); t != nil {
		data.LastSuccessAt = (*event.Time)(t)
	}
	if err := s.publishAbout(ctx, tx, orgID, id, data, now); err != nil {
		return false, err
	}
	ep := &hookbook.Endpoint{ID: id, OrganizationID: orgID}
	_ = json.Unmarshal([]byte(alertEmails), &ep.AlertEmails)
	if err := s.queueAlert(ctx, tx, ep, AlertDisabled, reason, now); err != nil {
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
