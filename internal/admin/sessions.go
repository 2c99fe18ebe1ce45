package admin

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/org"
)

// sessions keeps admin UI sessions in the ui_sessions table.
type sessions struct {
	db   *db.DB
	orgs *org.Service
}

// Session is a signed-in admin UI session.
type Session struct {
	Organization *hookbook.Organization
	CSRF         string
	ExpiresAt    time.Time
}

// create starts a UI session for an organization and returns its
// token (for the cookie) and CSRF token. Only the token's hash is stored.
func (s *sessions) create(ctx context.Context, orgID string, ttl time.Duration) (token, csrf string, err error) {
	token, csrf = ids.Token(""), ids.Token("")
	now := s.db.Now()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM ui_sessions WHERE expires_at < $1`, db.Micros(now)); err != nil {
		return "", "", err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO ui_sessions (token_hash, organization_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		ids.Hash(token), orgID, csrf, db.Micros(now), db.Micros(now.Add(ttl)))
	return token, csrf, err
}

// get returns the live session of a token.
func (s *sessions) get(ctx context.Context, token string) (*Session, error) {
	var orgID, csrf string
	var exp int64
	err := s.db.QueryRowContext(ctx, `SELECT organization_id, csrf_token, expires_at FROM ui_sessions WHERE token_hash = $1 AND expires_at > $2`,
		ids.Hash(token), db.Micros(s.db.Now())).Scan(&orgID, &csrf, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.Errorf(hookbook.EUnauthorized, "no_session", "not signed in")
	}
	if err != nil {
		return nil, err
	}
	org, err := s.orgs.Organization(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return &Session{Organization: org, CSRF: csrf, ExpiresAt: db.Time(exp)}, nil
}

// delete ends a session.
func (s *sessions) delete(ctx context.Context, token string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM ui_sessions WHERE token_hash = $1`, ids.Hash(token))
	return err
}
