package org

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"
)

// Limits of API keys.
const (
	MaxKeysPerOrganization = 50
	MaxKeyName             = 100
	// PrefixLength is how much of a key stays visible in lists: "hk_" and
	// the first hex digits, enough to tell keys apart, too few to use.
	PrefixLength = 3 + 8
	// lastUsedResolution bounds how often a key's last use is written.
	lastUsedResolution = time.Minute
)

// APIKey is an organization's API key as it is listed: never the key itself.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// NewKey is a key just created: the only time the key is shown.
type NewKey struct {
	APIKey
	Key string `json:"key"`
}

func insertKey(ctx context.Context, q db.Queryer, orgID, name, key string, now time.Time) (*APIKey, error) {
	k := &APIKey{ID: ids.New("key"), Name: name, Prefix: key[:min(PrefixLength, len(key))], CreatedAt: now.UTC().Truncate(time.Second)}
	_, err := q.ExecContext(ctx, `INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, orgID, k.Name, k.Prefix, ids.Hash(key), db.Micros(k.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("store API key: %w", err)
	}
	return k, nil
}

// CreateAPIKey makes a new key for an organization, named name.
func (s *Service) CreateAPIKey(ctx context.Context, orgID, name string) (*NewKey, error) {
	name = strings.TrimSpace(name)
	f := hookbook.Fields{}
	if name == "" {
		f.Add("name", "is required")
	} else if len(name) > MaxKeyName {
		f.Add("name", fmt.Sprintf("must be at most %d characters", MaxKeyName))
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var out *NewKey
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, "hookbook-keys:"+orgID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL`, orgID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxKeysPerOrganization {
			return hookbook.Errorf(hookbook.EForbidden, "api_key_limit", "an organization has at most %d API keys; revoke one first", MaxKeysPerOrganization)
		}
		key := NewAPIKey()
		k, err := insertKey(ctx, tx, orgID, name, key, s.DB.Now())
		if err != nil {
			return err
		}
		out = &NewKey{APIKey: *k, Key: key}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create API key: %w", err)
	}
	return out, nil
}

// APIKeys lists an organization's live keys, newest first.
func (s *Service) APIKeys(ctx context.Context, orgID string) ([]*APIKey, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, name, prefix, created_at, last_used_at FROM api_keys
		WHERE organization_id = $1 AND revoked_at IS NULL ORDER BY id DESC`, orgID)
	keys, _, err := db.List(rows, err, db.Page{Limit: MaxKeysPerOrganization + 1}, func(r db.Scanner) (*APIKey, error) {
		var k APIKey
		var created int64
		var used sql.NullInt64
		if err := r.Scan(&k.ID, &k.Name, &k.Prefix, &created, &used); err != nil {
			return nil, err
		}
		k.CreatedAt, k.LastUsedAt = db.Time(created), db.NullTime(used)
		return &k, nil
	}, func(k *APIKey) string { return k.ID })
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes a key at once: every instance refuses it from the
// next request on, and the admin UI sessions signed in with it end in the
// same transaction. The organization's last live key cannot be revoked
// (that would lock it out): create another first.
func (s *Service) RevokeAPIKey(ctx context.Context, orgID, id string) error {
	err := s.DB.Tx(ctx, func(tx *db.Tx) error {
		if err := tx.Lock(ctx, "hookbook-keys:"+orgID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL`, orgID).Scan(&n); err != nil {
			return err
		}
		var found string
		err := tx.QueryRowContext(ctx, `SELECT id FROM api_keys WHERE id = $1 AND organization_id = $2 AND revoked_at IS NULL`, id, orgID).Scan(&found)
		if errors.Is(err, sql.ErrNoRows) {
			return hookbook.NotFound("API key")
		}
		if err != nil {
			return err
		}
		if n <= 1 {
			return hookbook.Errorf(hookbook.EConflict, "last_api_key", "this is the organization's last API key; create another before revoking it")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2`, db.Micros(s.DB.Now()), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE api_key_id = $1 AND organization_id = $2`, id, orgID)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	return nil
}

// Caller is who sent an API request: an organization, through one of its keys.
type Caller struct {
	Organization *hookbook.Organization
	KeyID        string
}

// OrganizationByAPIKey returns the organization whose live key is apiKey,
// and notes the key's use (at most once a minute).
func (s *Service) OrganizationByAPIKey(ctx context.Context, apiKey string) (*hookbook.Organization, error) {
	c, err := s.Authenticate(ctx, apiKey)
	if err != nil {
		return nil, err
	}
	return c.Organization, nil
}

// Authenticate returns the organization and key id of the live key apiKey,
// and notes the key's use (at most once a minute).
func (s *Service) Authenticate(ctx context.Context, apiKey string) (*Caller, error) {
	var keyID string
	var used sql.NullInt64
	var o hookbook.Organization
	var created int64
	err := s.DB.QueryRowContext(ctx, `SELECT k.id, k.last_used_at, o.id, o.name, o.outbound_enabled, o.created_at
		FROM api_keys k JOIN organizations o ON o.id = k.organization_id
		WHERE k.key_hash = $1 AND k.revoked_at IS NULL`, ids.Hash(apiKey)).Scan(&keyID, &used, &o.ID, &o.Name, &o.OutboundEnabled, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hookbook.Errorf(hookbook.EUnauthorized, "invalid_api_key", "the API key is not valid")
	}
	if err != nil {
		return nil, fmt.Errorf("organization by API key: %w", err)
	}
	o.CreatedAt = db.Time(created)
	now := s.DB.Now()
	if !used.Valid || now.Sub(db.Time(used.Int64)) > lastUsedResolution {
		if _, err := s.DB.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, db.Micros(now), keyID); err != nil {
			return nil, fmt.Errorf("note API key use: %w", err)
		}
	}
	return &Caller{Organization: &o, KeyID: keyID}, nil
}

// Organizations lists every organization, oldest first (for operators).
func (s *Service) Organizations(ctx context.Context) ([]*hookbook.Organization, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT `+orgColumns+` FROM organizations ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	defer rows.Close()
	var out []*hookbook.Organization
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
