package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/ids"
)

// NewAPIKey returns a new random API key "hk_…".
func NewAPIKey() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "hk_" + hex.EncodeToString(b)
}

// hashKey is how API keys are stored: keys are long random strings, so a
// plain SHA-256 is enough to make a leaked table useless.
func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// CreateOrganization creates an organization whose API key is apiKey.
func (s *Store) CreateOrganization(ctx context.Context, name, apiKey string) (*hookbook.Organization, error) {
	org := &hookbook.Organization{ID: ids.New("org"), Name: name, OutboundEnabled: true, CreatedAt: s.Now().UTC()}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO organizations (id, name, api_key_hash, outbound_enabled, created_at) VALUES ($1, $2, $3, TRUE, $4)`,
		org.ID, org.Name, hashKey(apiKey), us(org.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	return org, nil
}

const orgColumns = `id, name, outbound_enabled, created_at`

func scanOrg(row interface{ Scan(...any) error }) (*hookbook.Organization, error) {
	var o hookbook.Organization
	var created int64
	if err := row.Scan(&o.ID, &o.Name, &o.OutboundEnabled, &created); err != nil {
		return nil, err
	}
	o.CreatedAt = fromUS(created)
	return &o, nil
}

// OrganizationByAPIKey returns the organization whose key is apiKey.
func (s *Store) OrganizationByAPIKey(ctx context.Context, apiKey string) (*hookbook.Organization, error) {
	o, err := scanOrg(s.rdb.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE api_key_hash = $1`, hashKey(apiKey)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.Errorf(hookbook.EUnauthorized, "invalid_api_key", "the API key is not valid")
	}
	return o, err
}

// Organization returns the organization with id.
func (s *Store) Organization(ctx context.Context, id string) (*hookbook.Organization, error) {
	o, err := scanOrg(s.rdb.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("organization")
	}
	return o, err
}

// OrganizationByName returns the oldest organization called name.
func (s *Store) OrganizationByName(ctx context.Context, name string) (*hookbook.Organization, error) {
	o, err := scanOrg(s.rdb.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE name = $1 ORDER BY id LIMIT 1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("organization")
	}
	return o, err
}

// Bootstrap creates the "default" organization when no organization exists
// yet. It returns the key it used (apiKey, or a new one when apiKey is
// empty), or "" when organizations already existed.
func (s *Store) Bootstrap(ctx context.Context, apiKey string) (org *hookbook.Organization, key string, err error) {
	err = s.Tx(ctx, func(tx *Tx) error {
		if err := s.advisoryLock(ctx, tx, "bootstrap"); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM organizations`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		key = apiKey
		if key == "" {
			key = NewAPIKey()
		}
		org = &hookbook.Organization{ID: ids.New("org"), Name: "default", OutboundEnabled: true, CreatedAt: s.Now().UTC()}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO organizations (id, name, api_key_hash, outbound_enabled, created_at) VALUES ($1, $2, $3, TRUE, $4)`,
			org.ID, org.Name, hashKey(key), us(org.CreatedAt))
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("bootstrap: %w", err)
	}
	return org, key, nil
}

// advisoryLock serializes transactions of several PostgreSQL instances that
// take the same named lock; SQLite transactions are serialized already.
func (s *Store) advisoryLock(ctx context.Context, tx *Tx, name string) error {
	if s.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, name)
	return err
}

// SetOutboundEnabled turns outbound delivery on or off for an organization.
func (s *Store) SetOutboundEnabled(ctx context.Context, orgID string, enabled bool) error {
	_, err := s.db.ExecContext(ctx, `UPDATE organizations SET outbound_enabled = $1 WHERE id = $2`, enabled, orgID)
	return err
}
