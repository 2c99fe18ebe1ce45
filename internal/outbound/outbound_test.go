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
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/outboundtest"
	"github.com/hookbook/hookbook/internal/queue"
)

// The storage conformance suite: every case runs on SQLite and on
// PostgreSQL through dbtest.EachBackend.

func TestSecretsOnlyThroughReveal(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		created := f.Endpoint(t, "*")
		if !strings.HasPrefix(created.Secret, "whsec_") {
			t.Fatalf("created endpoint shows no secret: %+v", created)
		}
		b, _ := json.Marshal(created)
		if !strings.Contains(string(b), created.Secret) {
			t.Errorf("the creation answer lacks the secret: %s", b)
		}
		got, err := f.Svc.Endpoint(context.Background(), f.Org, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ = json.Marshal(got)
		if strings.Contains(string(b), "secret") || strings.Contains(string(b), created.Secret) {
			t.Errorf("an endpoint serialises its secret: %s", b)
		}
		rotated, err := f.Svc.RotateSecret(context.Background(), f.Org, created.ID)
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
		f := outboundtest.New(t, d)
		all, bookings, payments := f.Endpoint(t, "*"), f.Endpoint(t, "booking.*"), f.Endpoint(t, "payment.succeeded")
		p := f.Publish(t, "booking.created", "")
		if len(p.Deliveries) != 2 {
			t.Fatalf("booking.created queued %d deliveries, want 2", len(p.Deliveries))
		}
		ds, err := f.Svc.DeliveriesOfEvent(context.Background(), f.Org, p.Event.ID)
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
		if err := f.Svc.SetOutboundEnabled(context.Background(), f.Org, false); err != nil {
			t.Fatal(err)
		}
		if p := f.Publish(t, "booking.created", ""); len(p.Deliveries) != 0 {
			t.Errorf("outbound off still queued %d deliveries", len(p.Deliveries))
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		f.Endpoint(t, "*")
		a, b := f.Publish(t, "booking.created", "k1"), f.Publish(t, "booking.created", "k1")
		if a.Event.ID != b.Event.ID || !b.Duplicate || a.Duplicate {
			t.Errorf("same key: %s (dup %v) and %s (dup %v)", a.Event.ID, a.Duplicate, b.Event.ID, b.Duplicate)
		}
		if len(b.Deliveries) != 0 {
			t.Errorf("a repeated key queued deliveries again")
		}
		if c := f.Publish(t, "booking.created", "k2"); c.Event.ID == a.Event.ID {
			t.Errorf("another key answered the first event")
		}
		// A key neither database could store is refused by name, on both
		// alike, with the same rule as the Idempotency-Key header.
		data, _ := json.Marshal(outboundtest.Data("booking.created", nil))
		for _, key := range []string{"k\x00nul", strings.Repeat("k", 256)} {
			_, err := f.Svc.Publish(context.Background(), f.Org, outbound.PublishInput{Event: "booking.created", Data: data, IdempotencyKey: key})
			if e := hookbook.AsError(err); e == nil || e.Code != "validation_failed" || e.Details["idempotency_key"] == "" {
				t.Errorf("key %q: %v, want validation_failed naming idempotency_key", key, err)
			}
		}
	})
}

func TestRedeliverRecoverAndDisable(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		ep := f.Endpoint(t, "*")
		f.Publish(t, "booking.created", "")
		jobs, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute})
		if len(jobs) != 1 {
			t.Fatalf("claimed %d", len(jobs))
		}
		now := time.Now()
		f.Q.Complete(ctx, []*queue.Result{{Job: jobs[0], StartedAt: now, StatusCode: 500, Error: "HTTP 500"}})
		if d, _ := f.Svc.Delivery(ctx, f.Org, jobs[0].DeliveryID); d.Status != hookbook.StatusFailed {
			t.Fatalf("delivery without attempts left = %s", d.Status)
		}
		n, err := f.Svc.Recover(ctx, f.Org, ep.ID, now.Add(-time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("recover = %d %v", n, err)
		}
		rd, _ := f.Svc.Delivery(ctx, f.Org, jobs[0].DeliveryID)
		if rd.Status != hookbook.StatusPending || rd.MaxAttempts != 2 {
			t.Errorf("recovered delivery = %s with %d attempts allowed, want one more", rd.Status, rd.MaxAttempts)
		}
		done, err := f.Svc.DisableEndpoint(ctx, ep.ID, "test")
		if err != nil || !done {
			t.Fatalf("disable = %v %v", done, err)
		}
		if d, _ := f.Svc.Delivery(ctx, f.Org, jobs[0].DeliveryID); d.Status != hookbook.StatusFailed {
			t.Errorf("disabling kept a pending delivery: %s", d.Status)
		}
		if _, err := f.Svc.Redeliver(ctx, f.Org, jobs[0].DeliveryID); !hookbook.IsKind(err, hookbook.EConflict) {
			t.Errorf("redeliver to a disabled endpoint = %v, want a conflict", err)
		}
		if _, err := f.Svc.Delivery(ctx, "org_other", jobs[0].DeliveryID); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("another organization reads the delivery: %v", err)
		}
	})
}

func TestValidation(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		for name, in := range map[string]outbound.EndpointInput{
			"no url":       {Events: &[]string{"*"}},
			"no events":    {URL: outboundtest.Ptr("http://127.0.0.1:9/")},
			"bad pattern":  {URL: outboundtest.Ptr("http://127.0.0.1:9/"), Events: &[]string{"Booking!"}},
			"unknown type": {URL: outboundtest.Ptr("http://127.0.0.1:9/"), Events: &[]string{"nope.never"}},
			"short secret": {URL: outboundtest.Ptr("http://127.0.0.1:9/"), Events: &[]string{"*"}, Secret: outboundtest.Ptr("short")},
			"attempts":     {URL: outboundtest.Ptr("http://127.0.0.1:9/"), Events: &[]string{"*"}, MaxAttempts: outboundtest.Ptr(99)},
			"scheme":       {URL: outboundtest.Ptr("http://127.0.0.1:9/"), Events: &[]string{"*"}, Scheme: outboundtest.Ptr("md5")},
			"header":       {URL: outboundtest.Ptr("http://127.0.0.1:9/"), Events: &[]string{"*"}, Headers: &map[string]string{"webhook-id": "x"}},
		} {
			if _, err := f.Svc.CreateEndpoint(ctx, f.Org, in); !hookbook.IsKind(err, hookbook.EValidation) {
				t.Errorf("%s: %v, want a validation error", name, err)
			}
		}
		if _, err := f.Svc.Publish(ctx, f.Org, outbound.PublishInput{Event: "lead.unknown", Data: json.RawMessage(`{}`)}); hookbook.Code(err) != "unknown_event_type" {
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
		f := outboundtest.New(t, d)
		ctx := context.Background()
		f.Endpoint(t, "*")
		bad := outboundtest.Data("booking.created", map[string]any{
			"participants": 0, "starts_at": "tomorrow", "status": "lost", "id": "x",
		})
		delete(bad, "currency")
		delete(bad["customer"].(map[string]any), "email")
		data, _ := json.Marshal(bad)
		_, err := f.Svc.Publish(ctx, f.Org, outbound.PublishInput{Event: "booking.created", Data: data})
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
			data, _ := json.Marshal(outboundtest.Data(et.Name, nil))
			if _, err := f.Svc.Publish(ctx, f.Org, outbound.PublishInput{Event: et.Name, Data: data}); err != nil {
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
		f := outboundtest.New(t, d)
		e := f.Endpoint(t, "*")
		expires := time.Now().Add(time.Hour).UnixMicro()
		if _, err := d.ExecContext(ctx, `UPDATE endpoints SET previous_secret = 'whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0', previous_secret_expires_at = $1 WHERE id = $2`, expires, e.ID); err != nil {
			t.Fatal(err)
		}
		got, err := f.Svc.Endpoint(ctx, f.Org, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s := got.Secrets(time.Now()); len(s) != 2 || s[1] != "whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0" {
			t.Fatalf("secrets = %v", s)
		}
		if _, err := f.Svc.RotateSecret(ctx, f.Org, e.ID); err != nil {
			t.Fatal(err)
		}
		got, _ = f.Svc.Endpoint(ctx, f.Org, e.ID)
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
		f := outboundtest.New(t, d)
		ep := f.Endpoint(t, "*")
		for _, typ := range []string{"booking.created", "booking.cancelled", "payment.succeeded", "booking.created"} {
			f.Publish(t, typ, "")
		}
		all, _, err := f.Svc.Deliveries(ctx, f.Org, outbound.DeliveryFilter{EndpointID: ep.ID}, db.Page{Limit: 50})
		if err != nil || len(all) != 4 {
			t.Fatalf("%d deliveries (%v)", len(all), err)
		}
		for pattern, want := range map[string]int{"*": 4, "booking.*": 3, "booking.created": 2, "payment.*": 1, "book*": 3, "review.*": 0} {
			got, _, err := f.Svc.Deliveries(ctx, f.Org, outbound.DeliveryFilter{EndpointID: ep.ID, EventType: pattern}, db.Page{Limit: 50})
			if err != nil || len(got) != want {
				t.Errorf("filter %q: %d deliveries (%v), want %d", pattern, len(got), err, want)
			}
		}
		for pattern, want := range map[string]int{"*": 4, "booking.*": 3, "payment.succeeded": 1, "": 4, "slot.*": 0} {
			got, _, err := f.Svc.Events(ctx, f.Org, pattern, db.Page{Limit: 50})
			if err != nil || len(got) != want {
				t.Errorf("events filter %q: %d (%v), want %d", pattern, len(got), err, want)
			}
		}
		// Outcomes: one succeeded, one failed, two pending.
		d.ExecContext(ctx, `UPDATE deliveries SET status = 'succeeded' WHERE id = $1`, all[0].ID)
		d.ExecContext(ctx, `UPDATE deliveries SET status = 'failed' WHERE id = $1`, all[1].ID)
		vol, err := f.Svc.EndpointVolume(ctx, f.Org, ep.ID, time.Now(), 24)
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
		other := f.Endpoint(t, "slot.*")
		byEP, err := f.Svc.EndpointsVolume(ctx, f.Org, []string{ep.ID, other.ID}, time.Now().Add(-24*time.Hour))
		if err != nil || byEP[ep.ID] != (outbound.Volume{Succeeded: 1, Failed: 1, Pending: 2}) || byEP[other.ID].Total() != 0 {
			t.Errorf("volumes by endpoint = %+v (%v)", byEP, err)
		}
		// An hour from now, these deliveries are in the second-to-last bucket.
		vol, _ = f.Svc.EndpointVolume(ctx, f.Org, ep.ID, time.Now().Add(time.Hour), 24)
		if vol[22].Total() != 4 || vol[23].Total() != 0 {
			t.Errorf("an hour later: %+v / %+v", vol[22], vol[23])
		}
	})
}
