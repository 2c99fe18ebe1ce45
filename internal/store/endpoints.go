package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/ids"
)

const endpointColumns = `id, organization_id, url, description, events, enabled, disabled_reason, secret,
	previous_secret, previous_secret_expires_at, max_attempts, timeout_seconds, signature_scheme, headers,
	last_success_at, last_failure_at, consecutive_failures, failing_since, created_at, updated_at`

func scanEndpoint(row interface{ Scan(...any) error }) (*hookbook.Endpoint, error) {
	var e hookbook.Endpoint
	var events, headers string
	var reason sql.NullString
	var prevExp, lastOK, lastFail, failing sql.NullInt64
	var created, updated int64
	err := row.Scan(&e.ID, &e.OrganizationID, &e.URL, &e.Description, &events, &e.Enabled, &reason, &e.Secret,
		&e.PreviousSecret, &prevExp, &e.MaxAttempts, &e.TimeoutSeconds, &e.Scheme, &headers,
		&lastOK, &lastFail, &e.ConsecutiveFailures, &failing, &created, &updated)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &e.Events); err != nil {
		return nil, fmt.Errorf("endpoint %s events: %w", e.ID, err)
	}
	if err := json.Unmarshal([]byte(headers), &e.Headers); err != nil {
		return nil, fmt.Errorf("endpoint %s headers: %w", e.ID, err)
	}
	if reason.Valid {
		e.DisabledReason = &reason.String
	}
	e.PreviousSecretExpiresAt = fromNullUS(prevExp)
	e.LastSuccessAt, e.LastFailureAt, e.FailingSince = fromNullUS(lastOK), fromNullUS(lastFail), fromNullUS(failing)
	e.CreatedAt, e.UpdatedAt = fromUS(created), fromUS(updated)
	return &e, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func nullString(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// CreateEndpoint stores a new, already validated endpoint and sets its id and times.
func (s *Store) CreateEndpoint(ctx context.Context, e *hookbook.Endpoint) error {
	now := s.Now().UTC()
	e.ID, e.CreatedAt, e.UpdatedAt = ids.New("ep"), now, now
	if e.Headers == nil {
		e.Headers = map[string]string{}
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO endpoints (id, organization_id, url, description, events, enabled,
		disabled_reason, secret, max_attempts, timeout_seconds, signature_scheme, headers, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		e.ID, e.OrganizationID, e.URL, e.Description, mustJSON(e.Events), e.Enabled, nullString(e.DisabledReason),
		e.Secret, e.MaxAttempts, e.TimeoutSeconds, e.Scheme, mustJSON(e.Headers), us(now), us(now))
	if err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	return nil
}

// Endpoint returns an organization's endpoint; deleted endpoints and other
// organizations' endpoints are not found.
func (s *Store) Endpoint(ctx context.Context, orgID, id string) (*hookbook.Endpoint, error) {
	e, err := scanEndpoint(s.rdb.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
		WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL`, id, orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("endpoint")
	}
	return e, err
}

// Endpoints lists an organization's endpoints, newest first.
func (s *Store) Endpoints(ctx context.Context, orgID string, p Page) ([]*hookbook.Endpoint, string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
		WHERE organization_id = $1 AND deleted_at IS NULL AND ($2 = '' OR id < $2)
		ORDER BY id DESC LIMIT $3`, orgID, p.Cursor, p.Limit+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*hookbook.Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := trim(out, p.Limit, func(e *hookbook.Endpoint) string { return e.ID })
	return out, next, nil
}

// UpdateEndpoint saves the settable fields of e (url, description, events,
// enabled, disabled reason, attempts, timeout, scheme, headers). When
// resetHealth is set the failure counters start afresh, as on re-enabling.
func (s *Store) UpdateEndpoint(ctx context.Context, e *hookbook.Endpoint, resetHealth bool) error {
	e.UpdatedAt = s.Now().UTC()
	q := `UPDATE endpoints SET url = $1, description = $2, events = $3, enabled = $4, disabled_reason = $5,
		max_attempts = $6, timeout_seconds = $7, signature_scheme = $8, headers = $9, updated_at = $10`
	if resetHealth {
		q += `, consecutive_failures = 0, failing_since = NULL`
		e.ConsecutiveFailures, e.FailingSince = 0, nil
	}
	res, err := s.db.ExecContext(ctx, q+` WHERE id = $11 AND organization_id = $12 AND deleted_at IS NULL`,
		e.URL, e.Description, mustJSON(e.Events), e.Enabled, nullString(e.DisabledReason), e.MaxAttempts,
		e.TimeoutSeconds, e.Scheme, mustJSON(e.Headers), us(e.UpdatedAt), e.ID, e.OrganizationID)
	if err != nil {
		return fmt.Errorf("update endpoint: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return hookbook.NotFound("endpoint")
	}
	return nil
}

// DeleteEndpoint marks an endpoint deleted and fails its pending deliveries.
// Its delivery log stays readable through the deliveries' ids until purged.
func (s *Store) DeleteEndpoint(ctx context.Context, orgID, id string) error {
	now := us(s.Now())
	return s.Tx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE endpoints SET deleted_at = $1, enabled = FALSE, updated_at = $1
			WHERE id = $2 AND organization_id = $3 AND deleted_at IS NULL`, now, id, orgID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return hookbook.NotFound("endpoint")
		}
		return failPending(ctx, tx, id, "endpoint deleted", now)
	})
}

// failPending marks every pending delivery of an endpoint failed.
func failPending(ctx context.Context, tx *Tx, endpointID, reason string, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $1,
		lease_owner = '', lease_until = 0, updated_at = $2 WHERE endpoint_id = $3 AND status = 'pending'`, reason, now, endpointID)
	return err
}

// RotateSecret makes secret the endpoint's signing secret; the current one
// keeps signing, beside it, for overlap.
func (s *Store) RotateSecret(ctx context.Context, orgID, id, secret string, overlap time.Duration) (*hookbook.Endpoint, error) {
	now := s.Now().UTC()
	res, err := s.db.ExecContext(ctx, `UPDATE endpoints SET previous_secret = secret, previous_secret_expires_at = $1,
		secret = $2, updated_at = $3 WHERE id = $4 AND organization_id = $5 AND deleted_at IS NULL`,
		us(now.Add(overlap)), secret, us(now), id, orgID)
	if err != nil {
		return nil, fmt.Errorf("rotate secret: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, hookbook.NotFound("endpoint")
	}
	return s.Endpoint(ctx, orgID, id)
}

// endpointsByID loads endpoints, deleted ones included, keyed by id.
func endpointsByID(ctx context.Context, q queryer, idList []string) (map[string]*hookbook.Endpoint, error) {
	out := make(map[string]*hookbook.Endpoint, len(idList))
	if len(idList) == 0 {
		return out, nil
	}
	args := make([]any, len(idList))
	for i, id := range idList {
		args[i] = id
	}
	rows, err := q.QueryContext(ctx, `SELECT `+endpointColumns+`, deleted_at IS NOT NULL FROM endpoints WHERE id IN (`+placeholders(1, len(idList))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var deleted bool
		e, err := scanEndpoint(scanTail{rows, &deleted})
		if err != nil {
			return nil, err
		}
		if deleted {
			e.Enabled = false
			reason := "endpoint deleted"
			e.DisabledReason = &reason
		}
		out[e.ID] = e
	}
	return out, rows.Err()
}

// scanTail scans a row into the destinations given to Scan followed by extra ones.
type scanTail struct {
	rows  *sql.Rows
	extra *bool
}

func (t scanTail) Scan(dest ...any) error { return t.rows.Scan(append(dest, t.extra)...) }
