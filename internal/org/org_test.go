package org_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/org"
)

func TestBootstrapOnceAndKeys(t *testing.T) {
	t.Parallel()
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
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
