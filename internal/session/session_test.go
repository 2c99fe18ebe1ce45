package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/session"
)

type fixture struct {
	store *session.Store
	orgs  *org.Service
	org   string
	key   string // the initial key's id
	now   *time.Time
}

func setup(t *testing.T, d *db.DB) fixture {
	t.Helper()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	d.Now = func() time.Time { return now }
	orgs := &org.Service{DB: d}
	o, err := orgs.CreateOrganization(context.Background(), "acme", org.NewAPIKey())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := orgs.APIKeys(context.Background(), o.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	out := &outbound.Service{DB: d, Guard: &netguard.Guard{}, HeaderPrefix: "X-Hookbook", SecretOverlap: time.Hour}
	return fixture{store: &session.Store{DB: d, Orgs: orgs, Catalog: out}, orgs: orgs, org: o.ID, key: keys[0].ID, now: &now}
}

// TestSessions: a session is live until it expires, it is deleted, or (an
// admin's) the key it was signed in with is revoked; a flash is kept for
// the next page.
func TestSessions(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		second, err := f.orgs.CreateAPIKey(ctx, f.org, "second")
		if err != nil {
			t.Fatal(err)
		}
		live := func(token string) bool {
			t.Helper()
			_, err := f.store.Get(ctx, token)
			if err != nil && hookbook.Code(err) != "no_session" {
				t.Fatalf("Get: %v", err)
			}
			return err == nil
		}

		admin, err := f.store.SignIn(ctx, f.org, second.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		other, err := f.store.SignIn(ctx, f.org, f.key, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		portal, _, err := f.store.Create(ctx, f.org, time.Hour, &session.Limits{EventTypes: []string{"booking.*"}, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		se, err := f.store.Get(ctx, portal)
		if err != nil {
			t.Fatal(err)
		}
		if !se.Portal || !se.ReadOnly || len(se.EventTypes) != 1 || se.EventTypes[0] != "booking.*" || se.Organization.ID != f.org {
			t.Errorf("portal session = %+v", se)
		}
		if se, err := f.store.Get(ctx, admin); err != nil || se.Portal || se.EventTypes != nil || se.CSRF == "" {
			t.Errorf("admin session = %+v, %v", se, err)
		}
		if live("not-a-token") {
			t.Error("an unknown token is live")
		}

		if err := f.store.SetFlash(ctx, admin, "Saved."); err != nil {
			t.Fatal(err)
		}
		if se, _ := f.store.Get(ctx, admin); se.Flash != "Saved." {
			t.Errorf("flash = %q", se.Flash)
		}

		if err := f.orgs.RevokeAPIKey(ctx, f.org, second.ID); err != nil {
			t.Fatal(err)
		}
		if live(admin) {
			t.Error("a session of a revoked key is live")
		}
		if !live(other) || !live(portal) {
			t.Error("revoking one key ended other sessions")
		}

		if err := f.store.Delete(ctx, other); err != nil {
			t.Fatal(err)
		}
		if live(other) {
			t.Error("a deleted session is live")
		}

		*f.now = f.now.Add(time.Hour + time.Second)
		if live(portal) {
			t.Error("an expired session is live")
		}
	})
}

// TestCreatePortal: what a portal link may be asked for, and its bounds.
func TestCreatePortal(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		str := func(s string) *string { return &s }
		list := func(s ...string) *[]string { return &s }
		many := make([]string, session.MaxPortalEventList+1)
		for i := range many {
			many[i] = "booking.*"
		}
		for _, c := range []struct {
			name  string
			in    session.PortalInput
			field string // "" when accepted
			want  string
		}{
			{"defaults", session.PortalInput{}, "", ""},
			{"a day", session.PortalInput{ExpiresIn: str("24h"), EventTypes: list("booking.*", "payment.succeeded")}, "", ""},
			{"not a duration", session.PortalInput{ExpiresIn: str("soon")}, "expires_in", `"30m"`},
			{"too short", session.PortalInput{ExpiresIn: str("30s")}, "expires_in", "between 1 minute and 24 hours"},
			{"too long", session.PortalInput{ExpiresIn: str("25h")}, "expires_in", "between 1 minute and 24 hours"},
			{"no types", session.PortalInput{EventTypes: list()}, "event_types", "at least one"},
			{"too many types", session.PortalInput{EventTypes: &many}, "event_types", "at most 100"},
			{"not a pattern", session.PortalInput{EventTypes: list("booking..x")}, "event_types", "not an event type name"},
			{"not in the catalog", session.PortalInput{EventTypes: list("booking.nothing")}, "event_types", "not in the catalog"},
		} {
			t.Run(c.name, func(t *testing.T) {
				link, err := f.store.CreatePortal(ctx, f.org, "https://hooks.example.com/", c.in)
				if c.field == "" {
					if err != nil {
						t.Fatal(err)
					}
					if !strings.HasPrefix(link.URL, "https://hooks.example.com/portal/s/") || !link.ExpiresAt.After(*f.now) {
						t.Errorf("link = %+v", link)
					}
					return
				}
				e := hookbook.AsError(err)
				if e == nil || e.Code != "validation_failed" || !strings.Contains(e.Details[c.field], c.want) {
					t.Fatalf("error = %#v, want %s naming %q", err, c.field, c.want)
				}
			})
		}
	})
}

// TestPortalSessionLimit: an organization holds at most MaxPortalSessions
// unexpired links; expired ones do not count.
func TestPortalSessionLimit(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		// Fill the organization up to the limit in one statement.
		if _, err := d.ExecContext(ctx, `INSERT INTO ui_sessions (token_hash, organization_id, csrf_token, created_at, expires_at, portal, portal_events, read_only, api_key_id)
			SELECT 'h' || CAST(n AS TEXT), $1, 'x', 0, $2, TRUE, '', FALSE, '' FROM (
				WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $3) SELECT n FROM seq) s`,
			f.org, db.Micros(f.now.Add(time.Minute)), session.MaxPortalSessions); err != nil {
			t.Fatal(err)
		}
		_, err := f.store.CreatePortal(ctx, f.org, "http://x", session.PortalInput{})
		if hookbook.Code(err) != "portal_session_limit" {
			t.Fatalf("at the limit: %v, want portal_session_limit", err)
		}
		*f.now = f.now.Add(2 * time.Minute) // they expire
		if _, err := f.store.CreatePortal(ctx, f.org, "http://x", session.PortalInput{}); err != nil {
			t.Fatalf("after they expired: %v", err)
		}
	})
}
