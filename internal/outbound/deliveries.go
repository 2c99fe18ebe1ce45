package outbound

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"

	"github.com/hookbook/hookbook"
)

const deliveryColumns = `id, organization_id, endpoint_id, event_id, event_type, status, attempts, max_attempts,
	last_status_code, last_error, next_attempt_at, created_at, updated_at, lease_until`

// scanDelivery reads a delivery row. It is in flight while its lease
// lasts: in the row, or held in memory by this process's engine (held).
func scanDelivery(row interface{ Scan(...any) error }, held func(id string) bool) (*hookbook.Delivery, error) {
	var d hookbook.Delivery
	var code sql.NullInt64
	var lastErr sql.NullString
	var next sql.NullInt64
	var created, updated, leaseUntil int64
	if err := row.Scan(&d.ID, &d.OrganizationID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &d.Attempts,
		&d.MaxAttempts, &code, &lastErr, &next, &created, &updated, &leaseUntil); err != nil {
		return nil, err
	}
	if code.Valid {
		c := int(code.Int64)
		d.LastStatusCode = &c
	}
	if lastErr.Valid {
		d.LastError = &lastErr.String
	}
	if d.Status == hookbook.StatusPending {
		d.NextAttemptAt = db.NullTime(next)
		d.InFlight = leaseUntil > time.Now().UnixMicro() || held(d.ID)
	}
	d.CreatedAt, d.UpdatedAt = db.Time(created), db.Time(updated)
	return &d, nil
}

func (s *Service) collectDeliveries(rows *sql.Rows, err error) ([]*hookbook.Delivery, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*hookbook.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows, s.queue().Holds)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeliveryFilter narrows a delivery list.
type DeliveryFilter struct {
	EndpointID string
	Status     string // "" for any
	// EventType is "" or "*" for any, an exact name, or a wildcard such as
	// "booking.*" (every name below "booking.").
	EventType string
}

// eventParams turns an event filter into an exact name and a prefix for
// the SQL below (each "" when unused).
func eventParams(pattern string) (exact, prefix string) {
	if pattern == "*" {
		return "", ""
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return "", p
	}
	return pattern, ""
}

// Deliveries lists an organization's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, orgID string, f DeliveryFilter, p db.Page) ([]*hookbook.Delivery, string, error) {
	exact, prefix := eventParams(f.EventType)
	out, err := s.collectDeliveries(s.DB.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE organization_id = $1 AND ($2 = '' OR endpoint_id = $2) AND ($3 = '' OR status = $3)
		AND ($4 = '' OR event_type = $4) AND ($5 = '' OR id < $5)
		AND ($7 = '' OR substr(event_type, 1, length($7)) = $7)
		ORDER BY id DESC LIMIT $6`, orgID, f.EndpointID, f.Status, exact, p.Cursor, p.Limit+1, prefix))
	if err != nil {
		return nil, "", err
	}
	out, next := db.Trim(out, p, func(d *hookbook.Delivery) string { return d.ID })
	return out, next, nil
}

// DeliveriesOfEvent lists the deliveries of one event.
func (s *Service) DeliveriesOfEvent(ctx context.Context, orgID, eventID string) ([]*hookbook.Delivery, error) {
	return s.collectDeliveries(s.DB.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE organization_id = $1 AND event_id = $2 ORDER BY id`, orgID, eventID))
}

// Delivery returns an organization's delivery.
func (s *Service) Delivery(ctx context.Context, orgID, id string) (*hookbook.Delivery, error) {
	d, err := scanDelivery(s.DB.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE id = $1 AND organization_id = $2`, id, orgID), s.queue().Holds)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("delivery")
	}
	return d, err
}

// Attempts returns a delivery's attempts, oldest first.
func (s *Service) Attempts(ctx context.Context, deliveryID string) ([]*hookbook.Attempt, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT attempt, started_at, duration_ms, status_code, error, response_body,
		request_url, request_headers, response_headers FROM attempts WHERE delivery_id = $1 ORDER BY attempt`, deliveryID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*hookbook.Attempt
	for rows.Next() {
		a := &hookbook.Attempt{DeliveryID: deliveryID}
		var started int64
		var code sql.NullInt64
		var errText sql.NullString
		var headers, respHeaders string
		if err := rows.Scan(&a.Attempt, &started, &a.DurationMS, &code, &errText, &a.ResponseBody, &a.RequestURL, &headers, &respHeaders); err != nil {
			return nil, err
		}
		a.StartedAt = db.Time(started)
		if code.Valid {
			c := int(code.Int64)
			a.StatusCode = &c
		}
		if errText.Valid {
			a.Error = &errText.String
		}
		if err := json.Unmarshal([]byte(headers), &a.RequestHeaders); err != nil {
			return nil, fmt.Errorf("attempt headers: %w", err)
		}
		if err := json.Unmarshal([]byte(respHeaders), &a.ResponseHeaders); err != nil {
			return nil, fmt.Errorf("attempt response headers: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Redeliver queues one more attempt of a delivery now. It answers a conflict
// when the endpoint is disabled or deleted.
func (s *Service) Redeliver(ctx context.Context, orgID, id string) (*hookbook.Delivery, error) {
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		var enabled, ordered bool
		var deleted sql.NullInt64
		var endpointID string
		err := tx.QueryRowContext(ctx, `SELECT e.enabled, e.deleted_at, e.ordered, e.id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
			WHERE d.id = $1 AND d.organization_id = $2`, id, orgID).Scan(&enabled, &deleted, &ordered, &endpointID)
		if errors.Is(err, sql.ErrNoRows) {
			return hookbook.NotFound("delivery")
		}
		if err != nil {
			return err
		}
		if deleted.Valid {
			return hookbook.Errorf(hookbook.EConflict, "endpoint_deleted", "the delivery's endpoint was deleted")
		}
		if !enabled {
			return hookbook.Errorf(hookbook.EConflict, "endpoint_disabled", "the delivery's endpoint is disabled; enable it first")
		}
		now := db.Micros(s.DB.Now())
		// A pending delivery keeps its schedule but is moved to now; a
		// finished one gets exactly one more attempt, a skipped one its
		// endpoint's attempts.
		// A delivery in flight (pending under a live lease, or held by
		// this process's engine) is left to its worker as it is.
		// To an ordered endpoint it queues in its key's order: parked, then
		// due if nothing of its key is in front of it.
		_, err = tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', updated_at = `+db.Touched("$1")+`,
			next_attempt_at = CASE WHEN status = 'pending' AND lease_until > $1 THEN next_attempt_at
				WHEN $3 AND ordering_key <> '' THEN NULL ELSE CAST($1 AS BIGINT) END,
			max_attempts = CASE WHEN status IN ('pending', 'skipped') THEN max_attempts ELSE attempts + 1 END
			WHERE id = $2 AND NOT (status = 'pending' AND $4)`, now, id, ordered, s.queue().Holds(id))
		if err != nil {
			return err
		}
		return s.wakeRequeued(ctx, tx, endpointID, ordered, now)
	})
	if err != nil {
		return nil, err
	}
	return s.Delivery(ctx, orgID, id)
}

// wakeRequeued makes the deliveries tx queued again on an endpoint at now
// go: an ordered endpoint's move up in their keys' order (unpark), the
// others wake the claimers once tx commits (due).
func (s *Service) wakeRequeued(ctx context.Context, tx *db.Tx, endpointID string, ordered bool, now int64) error {
	if ordered {
		return s.unpark(ctx, tx, []string{endpointID}, nil, db.Time(now))
	}
	return s.due(ctx, tx)
}

// Recover queues one more attempt of every failed delivery of an endpoint
// created at or after since, and returns how many it queued.
func (s *Service) Recover(ctx context.Context, orgID, endpointID string, since time.Time) (int, error) {
	r, err := s.RecoverReport(ctx, orgID, endpointID, since)
	if err != nil {
		return 0, err
	}
	return r.Requeued, nil
}

// Recovery is what a recover did: how many deliveries it queued again and,
// when none, why.
type Recovery struct {
	Requeued int `json:"requeued"`
	// Reason says why nothing was queued ("" when something was).
	Reason string `json:"reason,omitempty"`
}

// RecoverReport is Recover, saying why when it queues nothing.
func (s *Service) RecoverReport(ctx context.Context, orgID, endpointID string, since time.Time) (*Recovery, error) {
	var n int64
	var reason string
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		var enabled, ordered bool
		err := tx.QueryRowContext(ctx, `SELECT enabled, ordered FROM endpoints WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL`,
			endpointID, orgID).Scan(&enabled, &ordered)
		if errors.Is(err, sql.ErrNoRows) {
			return hookbook.NotFound("endpoint")
		}
		if err != nil {
			return err
		}
		if !enabled {
			return hookbook.Errorf(hookbook.EConflict, "endpoint_disabled", "the endpoint is disabled; enable it first")
		}
		now := db.Micros(s.DB.Now())
		// To an ordered endpoint they queue in their keys' order.
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', updated_at = `+db.Touched("$1")+`,
			next_attempt_at = CASE WHEN $4 AND ordering_key <> '' THEN NULL ELSE CAST($1 AS BIGINT) END,
			max_attempts = attempts + 1 WHERE endpoint_id = $2 AND status = 'failed' AND created_at >= $3`, now, endpointID, db.Micros(since), ordered)
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n > 0 {
			return s.wakeRequeued(ctx, tx, endpointID, ordered, now)
		}
		reason, err = noRecoveryReason(ctx, tx, endpointID, since)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Recovery{Requeued: int(n), Reason: reason}, nil
}

// noRecoveryReason says why no delivery of an endpoint created at or after
// since had failed.
func noRecoveryReason(ctx context.Context, tx *db.Tx, endpointID string, since time.Time) (string, error) {
	var newest sql.NullInt64
	var pending int
	err := tx.QueryRowContext(ctx, `SELECT
		(SELECT MAX(created_at) FROM deliveries WHERE endpoint_id = $1 AND status = 'failed'),
		(SELECT COUNT(*) FROM deliveries WHERE endpoint_id = $1 AND status = 'pending' AND created_at >= $2)`,
		endpointID, db.Micros(since)).Scan(&newest, &pending)
	if err != nil {
		return "", err
	}
	at := since.UTC().Format(time.RFC3339)
	var why string
	switch {
	case !newest.Valid:
		why = "the endpoint has no failed deliveries"
	default:
		why = fmt.Sprintf("no failed deliveries since %s (the newest failed one was created at %s)",
			at, db.Time(newest.Int64).UTC().Format(time.RFC3339))
	}
	switch pending {
	case 0:
	case 1:
		why += "; 1 delivery since then is still pending and will be attempted"
	default:
		why += fmt.Sprintf("; %d deliveries since then are still pending and will be attempted", pending)
	}
	return why, nil
}

// DeliveryDetail is a delivery with the exact request it sends and every
// attempt, oldest first.
type DeliveryDetail struct {
	*hookbook.Delivery
	Request  Request             `json:"request"`
	Attempts []*hookbook.Attempt `json:"attempts"`
}

// Request is the request of a delivery as last sent: its method POST (or
// PUBLISH to a message broker), its headers those of the newest attempt
// (none before the first), its body the event's envelope.
type Request struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// DeliveryDetail returns an organization's delivery with its request and attempts.
func (s *Service) DeliveryDetail(ctx context.Context, orgID, id string) (*DeliveryDetail, error) {
	d, err := s.Delivery(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	attempts, err := s.Attempts(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	evt, err := s.Event(ctx, orgID, d.EventID)
	if err != nil {
		return nil, err
	}
	v := &DeliveryDetail{Delivery: d, Attempts: attempts, Request: Request{Method: "POST", Body: string(evt.Payload)}}
	if v.Attempts == nil {
		v.Attempts = []*hookbook.Attempt{}
	}
	ep, err := s.Endpoint(ctx, orgID, d.EndpointID)
	if err == nil && ep.Type != "" && ep.Type != hookbook.EndpointWebhook && ep.Type != hookbook.EndpointListen {
		v.Request.Method = RequestPublish
	}
	if n := len(attempts); n > 0 {
		v.Request.URL, v.Request.Headers = attempts[n-1].RequestURL, attempts[n-1].RequestHeaders
	} else if err == nil {
		v.Request.URL = ep.URL
	}
	return v, nil
}

// RequestPublish is the method a delivery to a message broker shows: its
// message is published, not POSTed.
const RequestPublish = "PUBLISH"

// IsDelivery reports whether id names a delivery of this hookbook: a
// request carrying it in its delivery header is one of hookbook's own
// attempts coming back.
func (s *Service) IsDelivery(ctx context.Context, id string) (bool, error) {
	if !ids.Valid("dlv", id) {
		return false, nil
	}
	var n int
	err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE id = $1`, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up delivery: %w", err)
	}
	return n > 0, nil
}
