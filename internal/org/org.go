// Package org keeps organizations, the tenants of hookbook, and the API keys
// they authenticate with (stored hashed).
package org

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"
)

// NewAPIKey returns a new random API key "hk_…".
func NewAPIKey() string { return ids.Token("hk_") }

// Service reads and changes organizations.
type Service struct {
	DB *db.DB
}

// CreateOrganization creates an organization whose API key is apiKey.
func (s *Service) CreateOrganization(ctx context.Context, name, apiKey string) (*hookbook.Organization, error) {
	org := &hookbook.Organization{ID: ids.New("org"), Name: name, OutboundEnabled: true, CreatedAt: s.DB.Now().UTC()}
	err := s.DB.Tx(ctx, func(tx *db.Tx) error { return insertOrganization(ctx, tx, org, apiKey) })
	if err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	return org, nil
}

// insertOrganization stores org with its first API key, named "initial".
func insertOrganization(ctx context.Context, tx *db.Tx, org *hookbook.Organization, apiKey string) error {
	// api_key_hash predates api_keys; it keeps the first key's hash.
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO organizations (id, name, api_key_hash, outbound_enabled, created_at) VALUES ($1, $2, $3, TRUE, $4)`,
		org.ID, org.Name, ids.Hash(apiKey), db.Micros(org.CreatedAt)); err != nil {
		return err
	}
	_, err := insertKey(ctx, tx, org.ID, "initial", apiKey, org.CreatedAt)
	return err
}

const orgColumns = `id, name, outbound_enabled, created_at`

func scanOrg(row db.Scanner) (*hookbook.Organization, error) {
	var o hookbook.Organization
	var created int64
	if err := row.Scan(&o.ID, &o.Name, &o.OutboundEnabled, &created); err != nil {
		return nil, err
	}
	o.CreatedAt = db.Time(created)
	return &o, nil
}

// Organization returns the organization with id.
func (s *Service) Organization(ctx context.Context, id string) (*hookbook.Organization, error) {
	o, err := scanOrg(s.DB.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("organization")
	}
	if err != nil {
		return nil, fmt.Errorf("organization: %w", err)
	}
	return o, nil
}

// OrganizationByName returns the oldest organization called name.
func (s *Service) OrganizationByName(ctx context.Context, name string) (*hookbook.Organization, error) {
	o, err := scanOrg(s.DB.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE name = $1 ORDER BY id LIMIT 1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.NotFound("organization")
	}
	if err != nil {
		return nil, fmt.Errorf("organization: %w", err)
	}
	return o, nil
}

// Bootstrap creates the "default" organization when no organization exists
// yet. It returns the key it used (apiKey, or a new one when apiKey is
// empty), or "" when organizations already existed.
func (s *Service) Bootstrap(ctx context.Context, apiKey string) (org *hookbook.Organization, key string, err error) {
	err = s.DB.Tx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, "hookbook-bootstrap"); err != nil {
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
		org = &hookbook.Organization{ID: ids.New("org"), Name: "default", OutboundEnabled: true, CreatedAt: s.DB.Now().UTC()}
		return insertOrganization(ctx, tx, org, key)
	})
	if err != nil {
		return nil, "", fmt.Errorf("bootstrap: %w", err)
	}
	return org, key, nil
}
