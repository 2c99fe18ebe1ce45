package org_test

import (
	"context"
	"testing"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/org"
)

// TestRevokeEndsUISessions: revoking a key deletes, in the same
// transaction, the UI sessions signed in with it, and only those.
func TestRevokeEndsUISessions(t *testing.T) {
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &org.Service{DB: d}
		o, err := s.CreateOrganization(ctx, "acme", org.NewAPIKey())
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.CreateAPIKey(ctx, o.ID, "second")
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := s.APIKeys(ctx, o.ID)
		session := func(token, keyID string, portal bool) {
			if _, err := d.ExecContext(ctx, `INSERT INTO ui_sessions (token_hash, organization_id, csrf_token, created_at, expires_at, api_key_id, portal)
				VALUES ($1, $2, 'x', 0, 1, $3, $4)`, token, o.ID, keyID, portal); err != nil {
				t.Fatal(err)
			}
		}
		session("a", k.ID, false)
		session("b", k.ID, false)
		session("c", keys[1].ID, false) // the initial key's
		session("p", "", true)          // a portal session
		if err := s.RevokeAPIKey(ctx, o.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		var left []string
		rows, err := d.QueryContext(ctx, `SELECT token_hash FROM ui_sessions ORDER BY token_hash`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var h string
			rows.Scan(&h)
			left = append(left, h)
		}
		if len(left) != 2 || left[0] != "c" || left[1] != "p" {
			t.Errorf("sessions left after revoking the key = %v, want [c p]", left)
		}
	})
}
