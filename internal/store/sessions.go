package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/hookbook/hookbook"
)

// Session is a signed-in admin UI session.
type Session struct {
	Organization *hookbook.Organization
	CSRF         string
	ExpiresAt    time.Time
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateSession starts a UI session for an organization and returns its
// token (for the cookie) and CSRF token. Only the token's hash is stored.
func (s *Store) CreateSession(ctx context.Context, orgID string, ttl time.Duration) (token, csrf string, err error) {
	token, csrf = randomToken(), randomToken()
	now := s.Now()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM ui_sessions WHERE expires_at < $1`, us(now)); err != nil {
		return "", "", err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO ui_sessions (token_hash, organization_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		hashKey(token), orgID, csrf, us(now), us(now.Add(ttl)))
	return token, csrf, err
}

// Session returns the live session of a token.
func (s *Store) Session(ctx context.Context, token string) (*Session, error) {
	var orgID, csrf string
	var exp int64
	err := s.rdb.QueryRowContext(ctx, `SELECT organization_id, csrf_token, expires_at FROM ui_sessions WHERE token_hash = $1 AND expires_at > $2`,
		hashKey(token), us(s.Now())).Scan(&orgID, &csrf, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.Errorf(hookbook.EUnauthorized, "no_session", "not signed in")
	}
	if err != nil {
		return nil, err
	}
	org, err := s.Organization(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return &Session{Organization: org, CSRF: csrf, ExpiresAt: fromUS(exp)}, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM ui_sessions WHERE token_hash = $1`, hashKey(token))
	return err
}
