// Package session keeps the UI sessions of the ui_sessions table: an
// admin's, signed in with an API key, and a customer's in the webhook
// portal, started from a link that POST /api/v1/portal/sessions makes. Only
// a token's hash is stored. The admin UI reads sessions for its pages; the
// API creates portal sessions.
package session

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/org"
)

// Store keeps UI sessions, the admin UI's and the portal's, in the
// ui_sessions table.
type Store struct {
	DB   *db.DB
	Orgs *org.Service
	// Catalog finds an event type a portal session may be limited to.
	Catalog Catalog
}

// Catalog is the event type catalog (outbound.Service).
type Catalog interface {
	EventType(ctx context.Context, orgID, name string) (*hookbook.EventType, error)
}

// Session is a signed-in UI session: an admin's, or a customer's in the
// webhook portal.
type Session struct {
	Organization *hookbook.Organization
	CSRF         string
	ExpiresAt    time.Time
	// Flash is a message the server left for the next page (once).
	Flash string
	// Portal marks a portal session; EventTypes (nil for any) and ReadOnly
	// are what it was created with.
	Portal     bool
	EventTypes []string
	ReadOnly   bool
}

// Limits are what a portal session may do.
type Limits struct {
	EventTypes []string // nil: every event type
	ReadOnly   bool
}

// Create starts a portal session for an organization (an admin session
// when portal is nil, which needs a key: use SignIn) and returns its token
// (for the link).
func (s *Store) Create(ctx context.Context, orgID string, ttl time.Duration, portal *Limits) (token string, expires time.Time, err error) {
	return s.start(ctx, orgID, "", ttl, portal)
}

// SignIn starts an admin session of an organization signed in with its API
// key keyID, and returns its token (for the cookie). Revoking the key ends
// the session (org.Service.RevokeAPIKey).
func (s *Store) SignIn(ctx context.Context, orgID, keyID string, ttl time.Duration) (token string, err error) {
	token, _, err = s.start(ctx, orgID, keyID, ttl, nil)
	return token, err
}

func (s *Store) start(ctx context.Context, orgID, keyID string, ttl time.Duration, portal *Limits) (token string, expires time.Time, err error) {
	token = ids.Token("")
	now := s.DB.Now()
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM ui_sessions WHERE expires_at < $1`, db.Micros(now)); err != nil {
		return "", time.Time{}, err
	}
	isPortal, events, readOnly := false, "", false
	if portal != nil {
		isPortal, readOnly = true, portal.ReadOnly
		if portal.EventTypes != nil {
			b, _ := json.Marshal(portal.EventTypes)
			events = string(b)
		}
	}
	expires = now.Add(ttl)
	_, err = s.DB.ExecContext(ctx, `INSERT INTO ui_sessions (token_hash, organization_id, csrf_token, created_at, expires_at, portal, portal_events, read_only, api_key_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		ids.Hash(token), orgID, ids.Token(""), db.Micros(now), db.Micros(expires), isPortal, events, readOnly, keyID)
	return token, expires, err
}

// Get returns the live session of a token. An admin session is live only
// while the API key it was signed in with is: revoking the key deletes its
// sessions, and this check refuses any that remain all the same.
func (s *Store) Get(ctx context.Context, token string) (*Session, error) {
	var orgID, csrf, flash, events string
	var exp int64
	var portal, readOnly bool
	err := s.DB.QueryRowContext(ctx, `SELECT s.organization_id, s.csrf_token, s.expires_at, s.flash, s.portal, s.portal_events, s.read_only
		FROM ui_sessions s WHERE s.token_hash = $1 AND s.expires_at > $2
		AND (s.portal OR EXISTS (SELECT 1 FROM api_keys k WHERE k.id = s.api_key_id AND k.organization_id = s.organization_id AND k.revoked_at IS NULL))`,
		ids.Hash(token), db.Micros(s.DB.Now())).Scan(&orgID, &csrf, &exp, &flash, &portal, &events, &readOnly)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.Errorf(hookbook.EUnauthorized, "no_session", "not signed in")
	}
	if err != nil {
		return nil, err
	}
	org, err := s.Orgs.Organization(ctx, orgID)
	if err != nil {
		return nil, err
	}
	se := &Session{Organization: org, CSRF: csrf, ExpiresAt: db.Time(exp), Flash: flash, Portal: portal, ReadOnly: readOnly}
	if events != "" {
		if err := json.Unmarshal([]byte(events), &se.EventTypes); err != nil {
			return nil, err
		}
	}
	return se, nil
}

// LivePortals counts an organization's unexpired portal sessions.
func (s *Store) LivePortals(ctx context.Context, orgID string) (int, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM ui_sessions WHERE organization_id = $1 AND portal AND expires_at > $2`,
		orgID, db.Micros(s.DB.Now())).Scan(&n)
	return n, err
}

// SetFlash leaves a message for the session's next page.
func (s *Store) SetFlash(ctx context.Context, token, msg string) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE ui_sessions SET flash = $1 WHERE token_hash = $2`, msg, ids.Hash(token))
	return err
}

// Delete ends a session.
func (s *Store) Delete(ctx context.Context, token string) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM ui_sessions WHERE token_hash = $1`, ids.Hash(token))
	return err
}
