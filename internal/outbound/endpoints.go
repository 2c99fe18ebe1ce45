package outbound

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookbook/hookbook/internal/db"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/queue"
)

const endpointColumns = `id, organization_id, url, description, events, enabled, disabled_reason, secret,
	previous_secret, previous_secret_expires_at, previous_secrets, max_attempts, timeout_seconds, signature_scheme, headers,
	last_success_at, last_failure_at, consecutive_failures, failing_since, created_at, updated_at, ordered, rate_limit, max_in_flight, filter, transformation, type, config, auth, tls, signature_algorithm, alert_emails`

func scanEndpoint(row db.Scanner) (*hookbook.Endpoint, error) {
	var e hookbook.Endpoint
	var events, headers, previous string
	var legacy string
	var reason, filterText, transformation, config sql.NullString
	var prevExp, lastOK, lastFail, failing sql.NullInt64
	var created, updated int64
	var rateLimit sql.NullString
	var maxInFlight sql.NullInt64
	var alertEmails string
	var authText, tlsText sql.NullString
	err := row.Scan(&e.ID, &e.OrganizationID, &e.URL, &e.Description, &events, &e.Enabled, &reason, &e.Secret,
		&legacy, &prevExp, &previous, &e.MaxAttempts, &e.TimeoutSeconds, &e.Scheme, &headers,
		&lastOK, &lastFail, &e.ConsecutiveFailures, &failing, &created, &updated, &e.Ordered, &rateLimit, &maxInFlight, &filterText, &transformation, &e.Type, &config, &authText, &tlsText, &e.SignatureAlgorithm, &alertEmails)
	if err != nil {
		return nil, err
	}
	if authText.Valid {
		if err := json.Unmarshal([]byte(authText.String), &e.Auth); err != nil {
			return nil, fmt.Errorf("endpoint %s auth: %w", e.ID, err)
		}
	}
	if tlsText.Valid {
		if err := json.Unmarshal([]byte(tlsText.String), &e.TLS); err != nil {
			return nil, fmt.Errorf("endpoint %s tls: %w", e.ID, err)
		}
	}
	e.SetViews()
	if transformation.Valid {
		if err := json.Unmarshal([]byte(transformation.String), &e.Transformation); err != nil {
			return nil, fmt.Errorf("endpoint %s transformation: %w", e.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(alertEmails), &e.AlertEmails); err != nil || e.AlertEmails == nil {
		e.AlertEmails = []string{}
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
	if config.Valid {
		e.Config = json.RawMessage(config.String)
	}
	if filterText.Valid {
		e.Filter = json.RawMessage(filterText.String)
	}
	if err := json.Unmarshal([]byte(previous), &e.PreviousSecrets); err != nil {
		return nil, fmt.Errorf("endpoint %s previous secrets: %w", e.ID, err)
	}
	if legacy != "" && prevExp.Valid { // rotated before the list existed
		e.PreviousSecrets = append(e.PreviousSecrets, hookbook.PreviousSecret{Secret: legacy, ExpiresAt: prevExp.Int64})
	}
	e.LastSuccessAt, e.LastFailureAt, e.FailingSince = db.NullTime(lastOK), db.NullTime(lastFail), db.NullTime(failing)
	e.CreatedAt, e.UpdatedAt = db.Time(created), db.Time(updated)
	if rateLimit.Valid {
		e.RateLimit = &rateLimit.String
	}
	if maxInFlight.Valid {
		n := int(maxInFlight.Int64)
		e.MaxInFlight = &n
	}
	e.SetPublicKey()
	return &e, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// transformationText is the stored form of an endpoint's transformation:
// its JSON, or NULL.
func transformationText(e *hookbook.Endpoint) *string {
	if e.Transformation == nil {
		return nil
	}
	t := mustJSON(e.Transformation)
	return &t
}

// insertEndpoint stores a new, already validated endpoint and sets its id
// and times, unless the organization already has Limits.Endpoints live
// endpoints (403 endpoint_limit).
func (s *Service) insertEndpoint(ctx context.Context, e *hookbook.Endpoint) error {
	now := s.DB.Now().UTC()
	e.ID, e.CreatedAt, e.UpdatedAt = ids.New("ep"), now, now
	if e.Headers == nil {
		e.Headers = map[string]string{}
	}
	if e.Type == "" {
		e.Type = hookbook.EndpointWebhook
	}
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		if err := s.insertEndpointTx(ctx, tx, e); err != nil {
			return err
		}
		forgetCandidates(tx)
		return s.publishAbout(ctx, tx, e.OrganizationID, e.ID, event.EndpointCreatedData{EndpointChange: endpointChange(e, now)}, now)
	})
	if err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	return nil
}

// insertEndpointTx is insertEndpoint inside tx, once e has its id and times.
func (s *Service) insertEndpointTx(ctx context.Context, tx *db.Tx, e *hookbook.Endpoint) error {
	if e.SignatureAlgorithm == "" {
		e.SignatureAlgorithm = hookbook.AlgorithmHMACSHA256
	}
	if e.AlertEmails == nil {
		e.AlertEmails = []string{}
	}
	if err := s.checkQuota(ctx, tx, "endpoints", e.OrganizationID, s.Limits.Endpoints,
		`SELECT COUNT(*) FROM endpoints WHERE organization_id = $1 AND deleted_at IS NULL`); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO endpoints (id, organization_id, url, description, events, enabled,
		disabled_reason, secret, max_attempts, timeout_seconds, signature_scheme, headers, created_at, updated_at, ordered, rate_limit, max_in_flight, filter, transformation, type, config, auth, tls, signature_algorithm, alert_emails)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
		e.ID, e.OrganizationID, e.URL, e.Description, mustJSON(e.Events), e.Enabled, db.NullString(e.DisabledReason),
		e.Secret, e.MaxAttempts, e.TimeoutSeconds, e.Scheme, mustJSON(e.Headers), db.Micros(e.CreatedAt), db.Micros(e.UpdatedAt), e.Ordered, db.NullString(e.RateLimit), nullInt(e.MaxInFlight), db.NullText(string(e.Filter)), transformationText(e), e.Type, db.NullText(string(e.Config)), jsonOrNull(e.Auth), jsonOrNull(e.TLS), e.SignatureAlgorithm, mustJSON(e.AlertEmails))
	return err
}

// Endpoint returns an organization's endpoint; deleted endpoints and other
// organizations' endpoints are not found.
func (s *Service) Endpoint(ctx context.Context, orgID, id string) (*hookbook.Endpoint, error) {
	e, err := scanEndpoint(s.DB.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
		WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL`, id, orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("endpoint")
	}
	return s.view(e), err
}

// Endpoints lists an organization's endpoints, newest first.
func (s *Service) Endpoints(ctx context.Context, orgID string, p db.Page) ([]*hookbook.Endpoint, string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
		WHERE organization_id = $1 AND deleted_at IS NULL AND ($2 = '' OR id < $2)
		ORDER BY id DESC LIMIT $3`, orgID, p.Cursor, p.Limit+1)
	list, next, err := db.List(rows, err, p, scanEndpoint, endpointID)
	for _, e := range list {
		s.view(e)
	}
	return list, next, err
}

func endpointID(e *hookbook.Endpoint) string { return e.ID }

// saveEndpoint saves the settable fields of e (url, description, events,
// enabled, disabled reason, attempts, timeout, scheme, headers, ordering,
// throttling, filter). When resetHealth is set the failure counters start afresh,
// as on re-enabling. Its pending deliveries follow its throttling in the
// same transaction (queue.SetThrottledTx).
//
// With since set, only the version saved at that time is changed: another
// answers 412 precondition_failed (If-Match).
func (s *Service) saveEndpoint(ctx context.Context, e *hookbook.Endpoint, resetHealth bool, since *time.Time) error {
	e.UpdatedAt = s.DB.Now().UTC()
	q := `UPDATE endpoints SET url = $1, description = $2, events = $3, enabled = $4, disabled_reason = $5,
		max_attempts = $6, timeout_seconds = $7, signature_scheme = $8, headers = $9, updated_at = $10, ordered = $13,
		rate_limit = $14, max_in_flight = $15, filter = $16, transformation = $17, type = $18, config = $19, auth = $20, tls = $21, alert_emails = $22`
	if resetHealth {
		q += `, consecutive_failures = 0, failing_since = NULL`
		e.ConsecutiveFailures, e.FailingSince = 0, nil
	}
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		if err := queue.SetThrottledTx(ctx, tx, e.ID, e.Throttled(), e.RateLimit); err != nil {
			return err
		}
		args := []any{e.URL, e.Description, mustJSON(e.Events), e.Enabled, db.NullString(e.DisabledReason), e.MaxAttempts,
			e.TimeoutSeconds, e.Scheme, mustJSON(e.Headers), db.Micros(e.UpdatedAt), e.ID, e.OrganizationID, e.Ordered,
			db.NullString(e.RateLimit), nullInt(e.MaxInFlight), db.NullText(string(e.Filter)), transformationText(e), e.Type, db.NullText(string(e.Config)), jsonOrNull(e.Auth), jsonOrNull(e.TLS), mustJSON(e.AlertEmails)}
		where := ` WHERE id = $11 AND organization_id = $12 AND deleted_at IS NULL`
		if since != nil {
			args = append(args, db.Micros(*since))
			where += fmt.Sprintf(` AND updated_at = $%d`, len(args))
		}
		res, err := tx.ExecContext(ctx, q+where, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if since != nil {
				if _, err := s.Endpoint(ctx, e.OrganizationID, e.ID); err == nil {
					return staleEndpoint() // it is there: another version
				}
			}
			return hookbook.NotFound("endpoint")
		}
		forgetCandidates(tx)
		return s.publishAbout(ctx, tx, e.OrganizationID, e.ID, event.EndpointUpdatedData{EndpointChange: endpointChange(e, e.UpdatedAt)}, e.UpdatedAt)
	})
	if err != nil {
		if hookbook.AsError(err) != nil {
			return err
		}
		return fmt.Errorf("update endpoint: %w", err)
	}
	return nil
}

// jsonOrNull stores an optional JSON value (an endpoint's auth or tls),
// NULL when absent.
func jsonOrNull[T any](v *T) *string {
	if v == nil {
		return nil
	}
	t := mustJSON(v)
	return &t
}

// nullInt stores an optional integer, NULL when absent.
func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// DeleteEndpoint marks an endpoint deleted, fails its pending deliveries
// and publishes endpoint.deleted to the organization's other endpoints.
// Its delivery log stays readable through the deliveries' ids until purged.
func (s *Service) DeleteEndpoint(ctx context.Context, orgID, id string) error {
	at := s.DB.Now().UTC()
	now := db.Micros(at)
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		e, err := scanEndpoint(tx.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
			WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL`+tx.ForUpdate(), id, orgID))
		if errors.Is(err, sql.ErrNoRows) {
			return hookbook.NotFound("endpoint")
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE endpoints SET deleted_at = $1, enabled = FALSE, updated_at = $1
			WHERE id = $2 AND organization_id = $3 AND deleted_at IS NULL`, now, id, orgID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return hookbook.NotFound("endpoint")
		}
		if err := failPending(ctx, tx, id, "endpoint deleted", now); err != nil {
			return err
		}
		forgetCandidates(tx)
		e.Enabled = false
		return s.publishAbout(ctx, tx, orgID, id, event.EndpointDeletedData{EndpointChange: endpointChange(e, at)}, at)
	})
	if err == nil && s.EndpointChanged != nil {
		s.EndpointChanged(id) // the engine forgets it (a broker endpoint's connection closes)
	}
	return err
}

// failPending marks every pending delivery of an endpoint failed.
func failPending(ctx context.Context, tx *db.Tx, endpointID, reason string, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $1,
		lease_owner = '', lease_until = 0, updated_at = `+db.Touched("$2")+` WHERE endpoint_id = $3 AND status = 'pending'`, reason, now, endpointID)
	return err
}

// RotateSecret gives an endpoint a new secret (a new signing key of its
// algorithm); the current one keeps signing beside it for SecretOverlap,
// and so do those rotated out before until their own overlap ends (at most
// hookbook.MaxPreviousSecrets). The answer carries the new secret.
func (s *Service) RotateSecret(ctx context.Context, orgID, id string) (*hookbook.RevealedEndpoint, error) {
	now := s.DB.Now().UTC()
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		e, err := scanEndpoint(tx.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints
			WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL`+tx.ForUpdate(), id, orgID))
		if errors.Is(err, sql.ErrNoRows) {
			return hookbook.NotFound("endpoint")
		}
		if err != nil {
			return err
		}
		secret, err := newSecret(e.SignatureAlgorithm)
		if err != nil {
			return err
		}
		// The current secret joins those still signing, newest first.
		kept := append([]hookbook.PreviousSecret{{Secret: e.Secret, ExpiresAt: now.Add(s.SecretOverlap).UnixMicro()}}, e.LivePreviousSecrets(now)...)
		if len(kept) > hookbook.MaxPreviousSecrets {
			kept = kept[:hookbook.MaxPreviousSecrets]
		}
		_, err = tx.ExecContext(ctx, `UPDATE endpoints SET previous_secrets = $1, previous_secret = '', previous_secret_expires_at = NULL,
			secret = $2, updated_at = $3 WHERE id = $4`, mustJSON(kept), secret, db.Micros(now), id)
		return err
	})
	if err != nil {
		if hookbook.AsError(err) != nil {
			return nil, err
		}
		return nil, fmt.Errorf("rotate secret: %w", err)
	}
	e, err := s.Endpoint(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	return e.Reveal(), nil
}

// endpointsByID loads endpoints, deleted ones included, keyed by id.
func endpointsByID(ctx context.Context, q db.Queryer, idList []string) (map[string]*hookbook.Endpoint, error) {
	out := make(map[string]*hookbook.Endpoint, len(idList))
	if len(idList) == 0 {
		return out, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT `+endpointColumns+`, deleted_at IS NOT NULL FROM endpoints WHERE id IN (`+db.Placeholders(1, len(idList))+`)`, db.Args(idList)...)
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

// RevealSecret returns an organization's endpoint with its newest secret,
// for an explicit reveal.
func (s *Service) RevealSecret(ctx context.Context, orgID, id string) (*hookbook.RevealedEndpoint, error) {
	e, err := s.Endpoint(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	return e.Reveal(), nil
}

// SetOutboundEnabled turns outbound delivery on or off for an organization:
// while off, publications queue no deliveries.
func (s *Service) SetOutboundEnabled(ctx context.Context, orgID string, enabled bool) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE organizations SET outbound_enabled = $1 WHERE id = $2`, enabled, orgID)
	if err != nil {
		return fmt.Errorf("outbound switch: %w", err)
	}
	return nil
}
