package idempotency_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/idempotency"
)

// TestHash: the hash tells requests apart by method, path and body, and
// nothing else.
func TestHash(t *testing.T) {
	t.Parallel()
	base := idempotency.Hash("POST", "/api/v1/webhooks", []byte(`{"url":"x"}`))
	if again := idempotency.Hash("POST", "/api/v1/webhooks", []byte(`{"url":"x"}`)); again != base {
		t.Errorf("the same request hashes to %s and %s", base, again)
	}
	for name, h := range map[string]string{
		"method":             idempotency.Hash("PUT", "/api/v1/webhooks", []byte(`{"url":"x"}`)),
		"path":               idempotency.Hash("POST", "/api/v1/services", []byte(`{"url":"x"}`)),
		"body":               idempotency.Hash("POST", "/api/v1/webhooks", []byte(`{"url":"y"}`)),
		"path and body seam": idempotency.Hash("POST", "/api/v1/webhooks\n{", []byte(`"url":"x"}`)),
	} {
		if h == base {
			t.Errorf("another %s hashes the same", name)
		}
	}
}

// clock is a settable time for the store's database.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

// TestStore runs the key's life on both databases: first request, repeat
// while it runs, stored answer, another request with the key, abandon,
// a dead first request taken over after Stale, expiry after Window, keys
// per organization, and purge.
func TestStore(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		c := &clock{now: time.Now()}
		d.Now = c.Now
		s := &idempotency.Store{DB: d}
		h1, h2 := idempotency.Hash("POST", "/a", []byte("1")), idempotency.Hash("POST", "/a", []byte("2"))
		code := func(err error) string {
			if e := hookbook.AsError(err); e != nil {
				return e.Code
			}
			if err != nil {
				return err.Error()
			}
			return ""
		}
		type step struct {
			name    string
			org     string
			key     string
			hash    string
			advance time.Duration // before Begin
			want    string        // "run" (first), "answer" (the stored one), an error code, or "finish" (no Begin)
			finish  *idempotency.Answer
			abandon bool
		}
		answer := &idempotency.Answer{Status: 201, Body: []byte(`{"id":"ep_1"}`), Location: "/api/v1/webhooks/ep_1"}
		steps := []step{
			{name: "first request runs", org: "org_a", key: "k1", hash: h1, want: "run"},
			{name: "a repeat while it runs", org: "org_a", key: "k1", hash: h1, want: "idempotency_key_in_use"},
			{name: "another request while it runs", org: "org_a", key: "k1", hash: h2, want: "idempotency_key_reused"},
			{name: "another organization's same key", org: "org_b", key: "k1", hash: h2, want: "run", finish: &idempotency.Answer{Status: 422, Body: []byte(`{}`)}},
			{name: "the first finishes", org: "org_a", key: "k1", want: "finish", finish: answer},
			{name: "repeat", org: "org_a", key: "k1", hash: h1, want: "answer"},
			{name: "another request with the key", org: "org_a", key: "k1", hash: h2, want: "idempotency_key_reused"},
			{name: "a finished key is not taken over after Stale", org: "org_a", key: "k1", hash: h2, advance: 2 * idempotency.Stale, want: "idempotency_key_reused"},
			{name: "after Window the key is free again", org: "org_a", key: "k1", hash: h2, advance: idempotency.Window, want: "run"},
			{name: "abandoned: a retry runs again", org: "org_a", key: "k2", hash: h1, want: "run", abandon: true},
			{name: "the retry", org: "org_a", key: "k2", hash: h1, want: "run"},
			{name: "a running first request within Stale holds the key", org: "org_a", key: "k2", hash: h1, advance: idempotency.Stale / 2, want: "idempotency_key_in_use"},
			{name: "a first request dead for longer than Stale is taken over", org: "org_a", key: "k2", hash: h2, advance: idempotency.Stale, want: "run"},
		}
		for _, st := range steps {
			c.advance(st.advance)
			if st.want == "finish" { // the running first request ends
				if err := s.Finish(ctx, st.org, st.key, *st.finish); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := s.Begin(ctx, st.org, st.key, st.hash)
			switch st.want {
			case "run":
				if err != nil || got != nil {
					t.Errorf("%s: Begin = %+v, %v; want to run", st.name, got, err)
				}
				if st.finish != nil {
					if err := s.Finish(ctx, st.org, st.key, *st.finish); err != nil {
						t.Fatal(err)
					}
				}
				if st.abandon {
					if err := s.Abandon(ctx, st.org, st.key); err != nil {
						t.Fatal(err)
					}
				}
			case "answer":
				if err != nil || got == nil || got.Status != answer.Status || string(got.Body) != string(answer.Body) || got.Location != answer.Location {
					t.Errorf("%s: Begin = %+v, %v; want the stored answer", st.name, got, err)
				}
			default:
				if code(err) != st.want || got != nil || hookbook.HTTPStatus(err) != 409 {
					t.Errorf("%s: Begin = %+v, %v; want 409 %s", st.name, got, err, st.want)
				}
			}
		}
		// org_b's answer is its own.
		if got, err := s.Begin(ctx, "org_b", "k1", h2); err == nil && got != nil {
			t.Errorf("org_b's key after Window = %+v", got)
		}
		// Abandon frees only a running request, never a stored answer.
		c.advance(time.Second)
		if got, err := s.Begin(ctx, "org_a", "k3", h1); err != nil || got != nil {
			t.Fatalf("k3: %+v %v", got, err)
		}
		if err := s.Finish(ctx, "org_a", "k3", *answer); err != nil {
			t.Fatal(err)
		}
		if err := s.Abandon(ctx, "org_a", "k3"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Begin(ctx, "org_a", "k3", h1); err != nil || got == nil || got.Status != 201 {
			t.Errorf("k3 after Abandon of a finished request = %+v, %v; want the stored answer", got, err)
		}
		// Purge deletes the keys older than Window, and only those.
		c.advance(idempotency.Window + time.Second)
		if got, err := s.Begin(ctx, "org_a", "fresh", h1); err != nil || got != nil {
			t.Fatalf("fresh: %+v %v", got, err)
		}
		n, err := s.Purge(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var left int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM idempotent_requests`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if n < 3 || left != 1 {
			t.Errorf("Purge deleted %d, left %d; want the old keys gone and the fresh one kept", n, left)
		}
	})
}

// TestValidKey: request and event keys follow one rule, at most MaxKey
// bytes of text both databases can store.
func TestValidKey(t *testing.T) {
	t.Parallel()
	long := make([]byte, idempotency.MaxKey)
	for i := range long {
		long[i] = 'k'
	}
	for key, want := range map[string]bool{
		"order-42":           true,
		"Zoë ✓":              true,
		string(long):         true,
		string(long) + "k":   false,
		"nul\x00":            false,
		"not utf-8 \xff\xfe": false,
	} {
		if got := idempotency.ValidKey(key); got != want {
			t.Errorf("ValidKey(%.20q…) = %v, want %v", key, got, want)
		}
	}
}
