// Package booking is hookbook's booking domain: services, slots, customers,
// bookings, payments, reviews, community events, booking links and planner
// blocks. It is the real source of the catalog's events: every change and
// its event commit in one database transaction, so there is never an event
// without its change nor a change without its event.
//
// The package owns its tables (migration 00002) and reaches them through
// db.Tx, the transaction the event is published in. The JSON API, the
// admin UI and inbound commands all call the same methods.
package booking

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/outbound"
)

// Domain is the booking domain of one hookbook instance.
type Domain struct {
	DB *db.DB
	// Outbound publishes each change's event in the change's transaction.
	Outbound *outbound.Service
}

// Booking statuses.
const (
	Pending   = "pending"
	Confirmed = "confirmed"
	Rejected  = "rejected"
	Cancelled = "cancelled"
	Completed = "completed"
	NoShow    = "no_show"
)

func (d *Domain) now() time.Time { return d.DB.Now().UTC() }

// publish stores the event of payload p inside tx.
func (d *Domain) publish(ctx context.Context, tx *db.Tx, orgID string, p event.Payload) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode %s: %w", p.EventType(), err)
	}
	_, err = d.Outbound.PublishTx(ctx, tx, outbound.Publication{OrganizationID: orgID, Type: p.EventType(), Data: b})
	return err
}

// notFound maps sql.ErrNoRows to a 404 for what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return hookbook.NotFound(what)
	}
	return err
}

func conflict(code, format string, args ...any) error {
	return hookbook.Errorf(hookbook.EConflict, code, format, args...)
}

// parseTime reads an RFC 3339 time for field.
func parseTime(f hookbook.Fields, field string, v *string) time.Time {
	if v == nil || *v == "" {
		f.Add(field, "is required (RFC 3339 time)")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		f.Add(field, "must be an RFC 3339 time such as 2026-03-25T14:00:00Z")
		return time.Time{}
	}
	return t.UTC()
}

func required(f hookbook.Fields, field string, v *string, max int) string {
	if v == nil || strings.TrimSpace(*v) == "" {
		f.Add(field, "is required")
		return ""
	}
	s := strings.TrimSpace(*v)
	if len(s) > max {
		f.Add(field, fmt.Sprintf("must be at most %d characters", max))
	}
	return s
}

func optional(f hookbook.Fields, field string, v *string, max int) string {
	if v == nil {
		return ""
	}
	s := strings.TrimSpace(*v)
	if len(s) > max {
		f.Add(field, fmt.Sprintf("must be at most %d characters", max))
	}
	return s
}

var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

func validEmail(f hookbook.Fields, field, email string) string {
	email = strings.ToLower(strings.TrimSpace(email))
	if !emailPattern.MatchString(email) || len(email) > 254 {
		f.Add(field, "must be an email address")
	}
	return email
}

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,98}[a-z0-9]$|^[a-z0-9]$`)

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Page is a list request, newest first.
type Page = db.Page

// listQuery runs a paged query whose text ends before ORDER BY; args come
// first, then cursor and limit. scan reads one row, id names it for the cursor.
func listQuery[T any](ctx context.Context, q db.Queryer, query string, p Page, scan func(db.Scanner) (T, error), id func(T) string, args ...any) ([]T, string, error) {
	n := len(args)
	query += fmt.Sprintf(" AND ($%d = '' OR id < $%d) ORDER BY id DESC LIMIT $%d", n+1, n+1, n+2)
	rows, err := q.QueryContext(ctx, query, append(args, p.Cursor, p.Limit+1)...)
	return db.List(rows, err, p, scan, id)
}
