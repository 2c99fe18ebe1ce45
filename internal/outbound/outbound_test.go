package outbound_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/queue"
)

// The storage conformance suite: every case runs on SQLite and on
// PostgreSQL through dbtest.EachBackend.

type fixture struct {
	svc *outbound.Service
	q   *queue.Queue
	org string
}

func setup(t *testing.T, d *db.DB) fixture {
	t.Helper()
	o, err := (&org.Service{DB: d}).CreateOrganization(context.Background(), "acme", org.NewAPIKey())
	if err != nil {
		t.Fatal(err)
	}
	q := &queue.Queue{DB: d}
	svc := &outbound.Service{DB: d, Guard: &netguard.Guard{}, HeaderPrefix: "X-Hookbook", SecretOverlap: time.Hour, Queue: q}
	q.Endpoints = svc
	return fixture{svc: svc, q: q, org: o.ID}
}

func ptr[T any](v T) *T { return &v }

func (f fixture) endpoint(t *testing.T, events ...string) *hookbook.RevealedEndpoint {
	t.Helper()
	e, err := f.svc.CreateEndpoint(context.Background(), f.org, outbound.EndpointInput{URL: ptr("http://127.0.0.1:9/hook"), Events: &events})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f fixture) publish(t *testing.T, typ, key string) *outbound.Published {
	t.Helper()
	data, err := json.Marshal(exampleData(typ, nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Publish(context.Background(), f.org, outbound.PublishInput{Event: typ, Data: data, IdempotencyKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSecretsOnlyThroughReveal(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		created := f.endpoint(t, "*")
		if !strings.HasPrefix(created.Secret, "whsec_") {
			t.Fatalf("created endpoint shows no secret: %+v", created)
		}
		b, _ := json.Marshal(created)
		if !strings.Contains(string(b), created.Secret) {
			t.Errorf("the creation answer lacks the secret: %s", b)
		}
		got, err := f.svc.Endpoint(context.Background(), f.org, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ = json.Marshal(got)
		if strings.Contains(string(b), "secret") || strings.Contains(string(b), created.Secret) {
			t.Errorf("an endpoint serialises its secret: %s", b)
		}
		rotated, err := f.svc.RotateSecret(context.Background(), f.org, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rotated.Secret == created.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
			t.Errorf("rotation kept the secret")
		}
		if s := rotated.Secrets(time.Now()); len(s) != 2 || s[1] != created.Secret {
			t.Errorf("during the overlap the old secret does not sign: %d secrets", len(s))
		}
	})
}

func TestFanOutFollowsFilters(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		all, bookings, payments := f.endpoint(t, "*"), f.endpoint(t, "booking.*"), f.endpoint(t, "payment.succeeded")
		p := f.publish(t, "booking.created", "")
		if len(p.Deliveries) != 2 {
			t.Fatalf("booking.created queued %d deliveries, want 2", len(p.Deliveries))
		}
		ds, err := f.svc.DeliveriesOfEvent(context.Background(), f.org, p.Event.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, d := range ds {
			got[d.EndpointID] = true
		}
		if !got[all.ID] || !got[bookings.ID] || got[payments.ID] {
			t.Errorf("deliveries went to %v", got)
		}
		// The outbound switch stops the fan-out.
		if err := f.svc.SetOutboundEnabled(context.Background(), f.org, false); err != nil {
			t.Fatal(err)
		}
		if p := f.publish(t, "booking.created", ""); len(p.Deliveries) != 0 {
			t.Errorf("outbound off still queued %d deliveries", len(p.Deliveries))
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		f.endpoint(t, "*")
		a, b := f.publish(t, "booking.created", "k1"), f.publish(t, "booking.created", "k1")
		if a.Event.ID != b.Event.ID || !b.Duplicate || a.Duplicate {
			t.Errorf("same key: %s (dup %v) and %s (dup %v)", a.Event.ID, a.Duplicate, b.Event.ID, b.Duplicate)
		}
		if len(b.Deliveries) != 0 {
			t.Errorf("a repeated key queued deliveries again")
		}
		if c := f.publish(t, "booking.created", "k2"); c.Event.ID == a.Event.ID {
			t.Errorf("another key answered the first event")
		}
		// A key neither database could store is refused by name, on both
		// alike, with the same rule as the Idempotency-Key header.
		data, _ := json.Marshal(exampleData("booking.created", nil))
		for _, key := range []string{"k\x00nul", strings.Repeat("k", 256)} {
			_, err := f.svc.Publish(context.Background(), f.org, outbound.PublishInput{Event: "booking.created", Data: data, IdempotencyKey: key})
			if e := hookbook.AsError(err); e == nil || e.Code != "validation_failed" || e.Details["idempotency_key"] == "" {
				t.Errorf("key %q: %v, want validation_failed naming idempotency_key", key, err)
			}
		}
	})
}

func TestRedeliverRecoverAndDisable(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		ep := f.endpoint(t, "*")
		f.publish(t, "booking.created", "")
		jobs, _ := f.q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute})
		if len(jobs) != 1 {
			t.Fatalf("claimed %d", len(jobs))
		}
		now := time.Now()
		f.q.Complete(ctx, []*queue.Result{{Job: jobs[0], StartedAt: now, StatusCode: 500, Error: "HTTP 500"}})
		if d, _ := f.svc.Delivery(ctx, f.org, jobs[0].DeliveryID); d.Status != hookbook.StatusFailed {
			t.Fatalf("delivery without attempts left = %s", d.Status)
		}
		n, err := f.svc.Recover(ctx, f.org, ep.ID, now.Add(-time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("recover = %d %v", n, err)
		}
		rd, _ := f.svc.Delivery(ctx, f.org, jobs[0].DeliveryID)
		if rd.Status != hookbook.StatusPending || rd.MaxAttempts != 2 {
			t.Errorf("recovered delivery = %s with %d attempts allowed, want one more", rd.Status, rd.MaxAttempts)
		}
		done, err := f.svc.DisableEndpoint(ctx, ep.ID, "test")
		if err != nil || !done {
			t.Fatalf("disable = %v %v", done, err)
		}
		if d, _ := f.svc.Delivery(ctx, f.org, jobs[0].DeliveryID); d.Status != hookbook.StatusFailed {
			t.Errorf("disabling kept a pending delivery: %s", d.Status)
		}
		if _, err := f.svc.Redeliver(ctx, f.org, jobs[0].DeliveryID); !hookbook.IsKind(err, hookbook.EConflict) {
			t.Errorf("redeliver to a disabled endpoint = %v, want a conflict", err)
		}
		if _, err := f.svc.Delivery(ctx, "org_other", jobs[0].DeliveryID); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("another organization reads the delivery: %v", err)
		}
	})
}

func TestValidation(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		for name, in := range map[string]outbound.EndpointInput{
			"no url":       {Events: &[]string{"*"}},
			"no events":    {URL: ptr("http://127.0.0.1:9/")},
			"bad pattern":  {URL: ptr("http://127.0.0.1:9/"), Events: &[]string{"Booking!"}},
			"unknown type": {URL: ptr("http://127.0.0.1:9/"), Events: &[]string{"nope.never"}},
			"short secret": {URL: ptr("http://127.0.0.1:9/"), Events: &[]string{"*"}, Secret: ptr("short")},
			"attempts":     {URL: ptr("http://127.0.0.1:9/"), Events: &[]string{"*"}, MaxAttempts: ptr(99)},
			"scheme":       {URL: ptr("http://127.0.0.1:9/"), Events: &[]string{"*"}, Scheme: ptr("md5")},
			"header":       {URL: ptr("http://127.0.0.1:9/"), Events: &[]string{"*"}, Headers: &map[string]string{"webhook-id": "x"}},
		} {
			if _, err := f.svc.CreateEndpoint(ctx, f.org, in); !hookbook.IsKind(err, hookbook.EValidation) {
				t.Errorf("%s: %v, want a validation error", name, err)
			}
		}
		if _, err := f.svc.Publish(ctx, f.org, outbound.PublishInput{Event: "lead.unknown", Data: json.RawMessage(`{}`)}); hookbook.Code(err) != "unknown_event_type" {
			t.Errorf("unknown event type: %v", err)
		}
	})
}

// TestBuiltinDataMatchesTheCatalog: data published for a built-in type
// must validate against its catalog schema, formats included, and the
// refusal names every failing field; nothing is stored for it.
func TestBuiltinDataMatchesTheCatalog(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		f.endpoint(t, "*")
		bad := exampleData("booking.created", map[string]any{
			"participants": 0, "starts_at": "tomorrow", "status": "lost", "id": "x",
		})
		delete(bad, "currency")
		delete(bad["customer"].(map[string]any), "email")
		data, _ := json.Marshal(bad)
		_, err := f.svc.Publish(ctx, f.org, outbound.PublishInput{Event: "booking.created", Data: data})
		var he *hookbook.Error
		if !errors.As(err, &he) || he.Code != "schema_mismatch" {
			t.Fatalf("bad booking.created: %v", err)
		}
		for _, field := range []string{"data.participants", "data.starts_at", "data.status", "data.id", "data.currency", "data.customer.email"} {
			if he.Details[field] == "" {
				t.Errorf("details %v do not name %s", he.Details, field)
			}
		}
		if len(he.Details) != 6 || he.Details["data.currency"] != "is required" {
			t.Errorf("details = %v", he.Details)
		}
		if !strings.Contains(he.Message, "data.customer.email is required") {
			t.Errorf("message = %q", he.Message)
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d events stored after refusals (%v)", n, err)
		}
		// Every built-in type's own example passes.
		for _, et := range event.Builtin() {
			data, _ := json.Marshal(exampleData(et.Name, nil))
			if _, err := f.svc.Publish(ctx, f.org, outbound.PublishInput{Event: et.Name, Data: data}); err != nil {
				t.Errorf("%s example: %v", et.Name, err)
			}
		}
	})
}

// TestSecretRotatedBeforeTheListStillSigns: an endpoint whose secret was
// rotated before previous secrets became a list keeps its previous secret
// signing until it expires, and a rotation keeps it in the list.
func TestSecretRotatedBeforeTheListStillSigns(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		e := f.endpoint(t, "*")
		expires := time.Now().Add(time.Hour).UnixMicro()
		if _, err := d.ExecContext(ctx, `UPDATE endpoints SET previous_secret = 'whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0', previous_secret_expires_at = $1 WHERE id = $2`, expires, e.ID); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.Endpoint(ctx, f.org, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s := got.Secrets(time.Now()); len(s) != 2 || s[1] != "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0" {
			t.Fatalf("secrets = %v", s)
		}
		if _, err := f.svc.RotateSecret(ctx, f.org, e.ID); err != nil {
			t.Fatal(err)
		}
		got, _ = f.svc.Endpoint(ctx, f.org, e.ID)
		if s := got.Secrets(time.Now()); len(s) != 3 || s[1] != e.Secret || s[2] != "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0" {
			t.Errorf("after a rotation: %v", s)
		}
	})
}

// TestDashboardQueries: the delivery log's wildcard filter and an
// endpoint's hourly volume, on both databases.
func TestDashboardQueries(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		ep := f.endpoint(t, "*")
		for _, typ := range []string{"booking.created", "booking.cancelled", "payment.succeeded", "booking.created"} {
			f.publish(t, typ, "")
		}
		all, _, err := f.svc.Deliveries(ctx, f.org, outbound.DeliveryFilter{EndpointID: ep.ID}, db.Page{Limit: 50})
		if err != nil || len(all) != 4 {
			t.Fatalf("%d deliveries (%v)", len(all), err)
		}
		for pattern, want := range map[string]int{"*": 4, "booking.*": 3, "booking.created": 2, "payment.*": 1, "book*": 3, "review.*": 0} {
			got, _, err := f.svc.Deliveries(ctx, f.org, outbound.DeliveryFilter{EndpointID: ep.ID, EventType: pattern}, db.Page{Limit: 50})
			if err != nil || len(got) != want {
				t.Errorf("filter %q: %d deliveries (%v), want %d", pattern, len(got), err, want)
			}
		}
		for pattern, want := range map[string]int{"*": 4, "booking.*": 3, "payment.succeeded": 1, "": 4, "slot.*": 0} {
			got, _, err := f.svc.Events(ctx, f.org, pattern, db.Page{Limit: 50})
			if err != nil || len(got) != want {
				t.Errorf("events filter %q: %d (%v), want %d", pattern, len(got), err, want)
			}
		}
		// Outcomes: one succeeded, one failed, two pending.
		d.ExecContext(ctx, `UPDATE deliveries SET status = 'succeeded' WHERE id = $1`, all[0].ID)
		d.ExecContext(ctx, `UPDATE deliveries SET status = 'failed' WHERE id = $1`, all[1].ID)
		vol, err := f.svc.EndpointVolume(ctx, f.org, ep.ID, time.Now(), 24)
		if err != nil || len(vol) != 24 {
			t.Fatalf("volume %v (%v)", vol, err)
		}
		if last := vol[23]; last != (outbound.Volume{Succeeded: 1, Failed: 1, Pending: 2}) {
			t.Errorf("this hour's volume = %+v", last)
		}
		if sum := outbound.Sum(vol); sum.Total() != 4 {
			t.Errorf("24 h volume = %+v", sum)
		}
		if r, ok := outbound.Sum(vol).SuccessRate(); !ok || r != 50 {
			t.Errorf("success rate = %d %v", r, ok)
		}
		other := f.endpoint(t, "slot.*")
		byEP, err := f.svc.EndpointsVolume(ctx, f.org, []string{ep.ID, other.ID}, time.Now().Add(-24*time.Hour))
		if err != nil || byEP[ep.ID] != (outbound.Volume{Succeeded: 1, Failed: 1, Pending: 2}) || byEP[other.ID].Total() != 0 {
			t.Errorf("volumes by endpoint = %+v (%v)", byEP, err)
		}
		// An hour from now, these deliveries are in the second-to-last bucket.
		vol, _ = f.svc.EndpointVolume(ctx, f.org, ep.ID, time.Now().Add(time.Hour), 24)
		if vol[22].Total() != 4 || vol[23].Total() != 0 {
			t.Errorf("an hour later: %+v / %+v", vol[22], vol[23])
		}
	})
}

// exampleData returns the catalog's example data of the built-in event type
// typ with fields set on top, as hookbooktest.Data does for instance tests.
func exampleData(typ string, fields map[string]any) map[string]any {
	et, ok := event.LookupBuiltin(typ)
	if !ok {
		panic("no built-in event type " + typ)
	}
	var d map[string]any
	if err := json.Unmarshal(et.Example, &d); err != nil {
		panic(err)
	}
	for k, v := range fields {
		d[k] = v
	}
	return d
}
