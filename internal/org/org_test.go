package org_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/org"
)

func TestBootstrapOnceAndKeys(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &org.Service{DB: d}
		// Several instances starting at once create one default organization.
		var wg sync.WaitGroup
		created := make(chan string, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, key, err := s.Bootstrap(ctx, "")
				if err != nil {
					t.Error(err)
				}
				if o != nil {
					created <- key
				}
			}()
		}
		wg.Wait()
		close(created)
		var keys []string
		for k := range created {
			keys = append(keys, k)
		}
		if len(keys) != 1 || !strings.HasPrefix(keys[0], "hk_") || len(keys[0]) < 3+64 {
			t.Fatalf("bootstrap created %d organizations, keys %q", len(keys), keys)
		}
		o, err := s.OrganizationByAPIKey(ctx, keys[0])
		if err != nil || o.Name != "default" {
			t.Fatalf("lookup by key = %v %v", o, err)
		}
		if _, err := s.OrganizationByAPIKey(ctx, keys[0]+"x"); hookbook.Code(err) != "invalid_api_key" {
			t.Errorf("a wrong key = %v", err)
		}
		if _, err := s.Organization(ctx, "org_missing"); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("a missing organization = %v", err)
		}
		var stored string
		d.QueryRowContext(ctx, `SELECT api_key_hash FROM organizations WHERE id = $1`, o.ID).Scan(&stored)
		if stored == keys[0] || strings.Contains(stored, keys[0]) {
			t.Error("the API key is stored in clear")
		}
	})
}

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := &org.Service{DB: d}
		first := org.NewAPIKey()
		o, err := s.CreateOrganization(ctx, "acme", first)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := s.APIKeys(ctx, o.ID)
		if err != nil || len(keys) != 1 || keys[0].Name != "initial" || !strings.HasPrefix(first, keys[0].Prefix) || keys[0].LastUsedAt != nil {
			t.Fatalf("keys of a new organization = %+v %v", keys, err)
		}
		if err := s.RevokeAPIKey(ctx, o.ID, keys[0].ID); hookbook.Code(err) != "last_api_key" {
			t.Errorf("revoking the last key = %v", err)
		}
		second, err := s.CreateAPIKey(ctx, o.ID, "ci")
		if err != nil || !strings.HasPrefix(second.Key, "hk_") || len(second.Key) < 3+64 || second.Name != "ci" {
			t.Fatalf("new key = %+v %v", second, err)
		}
		if got, err := s.OrganizationByAPIKey(ctx, second.Key); err != nil || got.ID != o.ID {
			t.Fatalf("the new key does not authenticate: %v", err)
		}
		keys, _ = s.APIKeys(ctx, o.ID)
		if len(keys) != 2 || keys[0].ID != second.ID || keys[0].LastUsedAt == nil {
			t.Errorf("after use: %+v", keys)
		}
		b, _ := json.Marshal(keys)
		if strings.Contains(string(b), second.Key) || strings.Contains(string(b), first) {
			t.Errorf("a key list shows a key: %s", b)
		}
		if err := s.RevokeAPIKey(ctx, o.ID, keys[1].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OrganizationByAPIKey(ctx, first); hookbook.Code(err) != "invalid_api_key" {
			t.Errorf("a revoked key = %v", err)
		}
		if err := s.RevokeAPIKey(ctx, "org_other", second.ID); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("another organization revoked the key: %v", err)
		}
		if _, err := s.CreateAPIKey(ctx, o.ID, " "); !hookbook.IsKind(err, hookbook.EValidation) {
			t.Errorf("a key without a name = %v", err)
		}
		for range org.MaxKeysPerOrganization - 1 {
			if _, err := s.CreateAPIKey(ctx, o.ID, "many"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CreateAPIKey(ctx, o.ID, "one too many"); hookbook.Code(err) != "api_key_limit" {
			t.Errorf("key %d = %v", org.MaxKeysPerOrganization+1, err)
		}
		all, _ := s.Organizations(ctx)
		if len(all) != 1 || all[0].ID != o.ID {
			t.Errorf("organizations = %v", all)
		}
	})
}
