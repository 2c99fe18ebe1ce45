package inbound_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/booking"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/inbound"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/webhook"
)

func ptr[T any](v T) *T { return &v }

const secret = "inbound-secret-0123456789"

func service(t *testing.T, d *db.DB) (*inbound.Service, string) {
	t.Helper()
	orgs := &org.Service{DB: d}
	o, _, err := orgs.Bootstrap(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := &outbound.Service{DB: d, Guard: &netguard.Guard{}, HeaderPrefix: "X-Hookbook"}
	s := &inbound.Service{DB: d, Orgs: orgs, Booking: &booking.Domain{DB: d, Outbound: out}, HeaderPrefix: "X-Hookbook"}
	return s, o.ID
}

func signed(body string, ts time.Time, requestID string) http.Header {
	h := http.Header{}
	h.Set("X-Hookbook-Timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("X-Hookbook-Signature", webhook.SignHMAC(secret, ts.Unix(), []byte(body)))
	h.Set("X-Hookbook-Request-Id", requestID)
	return h
}

// TestPipeline runs commands through the whole pipeline on both databases:
// disabled, bad signature, stale timestamp, scope, replay and success, each
// logged.
func TestPipeline(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, orgID := service(t, d)
		body := `{"action":"admin.planner.block","params":{"starts_at":"2030-01-01T10:00:00Z","ends_at":"2030-01-01T12:00:00Z"}}`
		run := func(h http.Header) error {
			_, err := s.Execute(ctx, "", "10.0.0.1", h, func() ([]byte, error) { return []byte(body), nil })
			return err
		}
		now := time.Now()
		if err := run(signed(body, now, uuid.NewString())); hookbook.Code(err) != "inbound_disabled" {
			t.Fatalf("disabled = %v", err)
		}
		if _, err := s.SetSettings(ctx, orgID, inbound.SettingsInput{Enabled: ptr(true), Secret: ptr(secret), Scopes: &[]string{"admin.slots"}}); err != nil {
			t.Fatal(err)
		}
		bad := signed(body, now, uuid.NewString())
		bad.Set("X-Hookbook-Signature", "sha256=00")
		for name, c := range map[string]struct {
			h    http.Header
			code string
		}{
			"bad signature": {bad, "invalid_signature"},
			"stale":         {signed(body, now.Add(-10*time.Minute), uuid.NewString()), "stale_timestamp"},
			"no request id": {signed(body, now, "not-a-uuid"), "invalid_request_id"},
			"scope":         {signed(body, now, uuid.NewString()), "scope_not_allowed"},
		} {
			if err := run(c.h); hookbook.Code(err) != c.code {
				t.Errorf("%s = %v, want %s", name, err, c.code)
			}
		}
		if _, err := s.SetSettings(ctx, orgID, inbound.SettingsInput{Scopes: &[]string{"admin.planner"}}); err != nil {
			t.Fatal(err)
		}
		// Every signature below is new (its own timestamp) unless the case
		// is about a repeated one: refused commands use up theirs too.
		at := now.Add(time.Second)
		id := uuid.NewString()
		if err := run(signed(body, at, id)); err != nil {
			t.Fatalf("a valid command failed: %v", err)
		}
		// The same signed command under a new request id is a replay too.
		if err := run(signed(body, at, uuid.NewString())); hookbook.Code(err) != "replayed_request" {
			t.Errorf("a captured command with a new request id = %v", err)
		}
		// A new timestamp makes a new signature: the command may run again.
		if err := run(signed(body, at.Add(time.Second), uuid.NewString())); err != nil {
			t.Errorf("a freshly signed command = %v", err)
		}
		for i, spelling := range []string{id, strings.ToUpper(id), "{" + id + "}", "urn:uuid:" + id, strings.ReplaceAll(id, "-", "")} {
			if err := run(signed(body, at.Add(time.Duration(2+i)*time.Second), spelling)); hookbook.Code(err) != "replayed_request" {
				t.Errorf("the used request id spelled %s = %v", spelling, err)
			}
		}
		cmds, _, err := s.Commands(ctx, orgID, db.Page{Limit: 50})
		if err != nil || len(cmds) != 12 {
			t.Fatalf("%d commands logged (%v), want 12 (none while disabled)", len(cmds), err)
		}
		if cmds[7].Status != 200 || cmds[6].Status != 409 || cmds[5].Status != 200 || cmds[0].Status != 409 {
			t.Errorf("log statuses, newest first = %d %d %d … %d", cmds[0].Status, cmds[5].Status, cmds[6].Status, cmds[7].Status)
		}
	})
}

func TestSettingsValidation(t *testing.T) {
	t.Parallel()
	s, orgID := service(t, dbtest.Open(t, dbtest.SQLiteURL(t)))
	for name, in := range map[string]inbound.SettingsInput{
		"unknown scope": {Scopes: &[]string{"admin.everything"}},
		"short secret":  {Secret: ptr("short")},
	} {
		if _, err := s.SetSettings(context.Background(), orgID, in); !hookbook.IsKind(err, hookbook.EValidation) {
			t.Errorf("%s = %v", name, err)
		}
	}
	st, err := s.SetSettings(context.Background(), orgID, inbound.SettingsInput{Enabled: ptr(true)})
	if err != nil || len(st.Secret) < inbound.MinSecretLength {
		t.Errorf("no secret generated: %v %q", err, st.Secret)
	}
}

// TestUnsignedTrafficIsBounded: commands failing their signature are
// limited per client address, refused ones leave no log entry, other
// addresses are not affected, and the log is purged by retention.
func TestUnsignedTrafficIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.Open(t, dbtest.SQLiteURL(t))
	s, orgID := service(t, d)
	if _, err := s.SetSettings(ctx, orgID, inbound.SettingsInput{Enabled: ptr(true), Secret: ptr(secret), Scopes: &[]string{"admin.planner"}}); err != nil {
		t.Fatal(err)
	}
	body := `{"action":"admin.planner.block","params":{"starts_at":"2030-01-01T10:00:00Z","ends_at":"2030-01-01T12:00:00Z"}}`
	run := func(client string, h http.Header) error {
		_, err := s.Execute(ctx, "", client, h, func() ([]byte, error) { return []byte(body), nil })
		return err
	}
	bad := http.Header{"X-Hookbook-Timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "X-Hookbook-Signature": {"sha256=00"}}
	for i := range inbound.UnsignedPerMinute {
		if err := run("10.9.9.9", bad); hookbook.Code(err) != "invalid_signature" {
			t.Fatalf("bad signature %d = %v", i, err)
		}
	}
	err := run("10.9.9.9", bad)
	if e := hookbook.AsError(err); e == nil || e.Code != "too_many_requests" || e.RetryAfter <= 0 {
		t.Fatalf("one more = %v, want 429 with a Retry-After", err)
	}
	if err := run("10.8.8.8", signed(body, time.Now(), uuid.NewString())); err != nil {
		t.Errorf("another address was limited: %v", err)
	}
	cmds, _, _ := s.Commands(ctx, orgID, db.Page{Limit: 100})
	if len(cmds) != inbound.UnsignedPerMinute+1 {
		t.Errorf("%d commands logged, want the %d refused for their signature and the good one", len(cmds), inbound.UnsignedPerMinute)
	}
	n, err := s.Purge(ctx, time.Now().Add(time.Second))
	if err != nil || n != len(cmds) {
		t.Errorf("purge = %d %v, want %d", n, err, len(cmds))
	}
}

// TestActionsTable: every action is known, allowed by exactly the scope
// Scopes lists it under and by no other, and runs its handler: a command
// without its required fields is refused with 422 naming one of them,
// and an unknown action answers 404.
func TestActionsTable(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		s, orgID := service(t, d)
		seen := map[string]bool{}
		for _, scope := range inbound.ScopeNames() {
			for _, action := range inbound.Scopes[scope] {
				if seen[action] {
					t.Errorf("%s is listed twice", action)
				}
				seen[action] = true
				if !inbound.KnownAction(action) {
					t.Errorf("%s (scope %s) is not a known action", action, scope)
				}
				if !(&inbound.Settings{Scopes: []string{scope}}).Allows(action) {
					t.Errorf("scope %s does not allow its action %s", scope, action)
				}
				for _, other := range inbound.ScopeNames() {
					if other != scope && (&inbound.Settings{Scopes: []string{other}}).Allows(action) {
						t.Errorf("scope %s allows %s of scope %s", other, action, scope)
					}
				}
				_, err := s.Run(context.Background(), orgID, &inbound.Request{Action: action})
				if e := hookbook.AsError(err); e == nil || e.Code != "validation_failed" || len(e.Details) == 0 {
					t.Errorf("%s without fields: %v, want validation_failed naming a field", action, err)
				}
			}
		}
		if len(seen) != 14 {
			t.Errorf("%d actions, want 14", len(seen))
		}
		_, err := s.Run(context.Background(), orgID, &inbound.Request{Action: "admin.everything"})
		if e := hookbook.AsError(err); inbound.KnownAction("admin.everything") || e == nil || e.Code != "unknown_action" || hookbook.HTTPStatus(err) != 404 {
			t.Errorf("an unknown action: %v", err)
		}
	})
}

// TestDomainErrorsNameCommandFields: the booking domain names its own
// fields in errors and the command renames them to where the command
// carried them (params or data), one mechanism for every action.
func TestDomainErrorsNameCommandFields(t *testing.T) {
	t.Parallel()
	s, orgID := service(t, dbtest.Open(t, dbtest.SQLiteURL(t)))
	raw := func(m map[string]any) map[string]json.RawMessage {
		out := map[string]json.RawMessage{}
		for k, v := range m {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			out[k] = b
		}
		return out
	}
	soon, later := time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339), time.Now().Add(47*time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []struct {
		req    inbound.Request
		fields []string
	}{
		{inbound.Request{Action: "admin.links.create", Params: raw(map[string]any{"service_id": "svc_x", "slug": "Not A Slug"})}, []string{"params.slug"}},
		{inbound.Request{Action: "admin.planner.block", Params: raw(map[string]any{"starts_at": soon, "ends_at": later}),
			Data: raw(map[string]any{"reason": strings.Repeat("r", 1001)})}, []string{"params.ends_at", "data.reason"}},
		{inbound.Request{Action: "admin.community-events.approve", Params: raw(map[string]any{"slugId": "x"}),
			Data: raw(map[string]any{"full_name": strings.Repeat("n", 201), "email": "no"})}, []string{"data.full_name", "data.email"}},
	} {
		_, err := s.Run(context.Background(), orgID, &c.req)
		e := hookbook.AsError(err)
		if e == nil || e.Code != "validation_failed" {
			t.Errorf("%s: %v, want validation_failed", c.req.Action, err)
			continue
		}
		if len(e.Details) != len(c.fields) {
			t.Errorf("%s: details %v, want exactly %v", c.req.Action, e.Details, c.fields)
		}
		for _, f := range c.fields {
			if e.Details[f] == "" {
				t.Errorf("%s: details %v do not name %s", c.req.Action, e.Details, f)
			}
		}
	}
}
