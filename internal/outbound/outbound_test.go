package outbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/outbound"
)

// The storage conformance suite: every case runs on SQLite and on
// PostgreSQL through hookbooktest.EachBackend.

type fixture struct {
	svc *outbound.Service
	org string
}

func setup(t *testing.T, d *db.DB) fixture {
	t.Helper()
	o, err := (&org.Service{DB: d}).CreateOrganization(context.Background(), "acme", org.NewAPIKey())
	if err != nil {
		t.Fatal(err)
	}
	svc := &outbound.Service{DB: d, Guard: &netguard.Guard{}, HeaderPrefix: "X-Hookbook", SecretOverlap: time.Hour}
	return fixture{svc: svc, org: o.ID}
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
	data, err := json.Marshal(hookbooktest.Data(typ, nil))
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
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
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
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
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
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
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
	})
}

func TestQueueClaimCompleteRelease(t *testing.T) {
	t.Parallel()
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		ep := f.endpoint(t, "*")
		for range 3 {
			f.publish(t, "booking.created", "")
		}
		first, err := f.svc.Claim(ctx, outbound.ClaimRequest{Owner: "a", Limit: 2, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		second, err := f.svc.Claim(ctx, outbound.ClaimRequest{Owner: "b", Limit: 10, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != 2 || len(second) != 1 {
			t.Fatalf("claims got %d and %d, want 2 and 1: a lease was not respected", len(first), len(second))
		}
		if first[0].Endpoint.ID != ep.ID || len(first[0].Payload) == 0 || first[0].Attempt != 1 {
			t.Errorf("job lacks what its attempt needs: %+v", first[0])
		}
		if more, _ := f.svc.Claim(ctx, outbound.ClaimRequest{Owner: "c", Limit: 10, Lease: time.Minute}); len(more) != 0 {
			t.Errorf("leased deliveries claimed again: %d", len(more))
		}
		now := time.Now()
		results := []*outbound.Result{
			{Job: first[0], StartedAt: now, Duration: time.Millisecond, StatusCode: 200, Success: true},
			{Job: first[1], StartedAt: now, Duration: time.Millisecond, StatusCode: 500, Error: "HTTP 500", NextAttemptAt: now.Add(time.Hour)},
		}
		if err := f.svc.Complete(ctx, results); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Release(ctx, second); err != nil {
			t.Fatal(err)
		}
		ok, _ := f.svc.Delivery(ctx, f.org, first[0].DeliveryID)
		retry, _ := f.svc.Delivery(ctx, f.org, first[1].DeliveryID)
		if ok.Status != hookbook.StatusSucceeded || ok.Attempts != 1 {
			t.Errorf("succeeded delivery = %s after %d attempts", ok.Status, ok.Attempts)
		}
		if retry.Status != hookbook.StatusPending || retry.NextAttemptAt == nil || retry.NextAttemptAt.Before(now.Add(50*time.Minute)) {
			t.Errorf("failed delivery = %s next %v, want pending in an hour", retry.Status, retry.NextAttemptAt)
		}
		attempts, _ := f.svc.Attempts(ctx, first[1].DeliveryID)
		if len(attempts) != 1 || attempts[0].StatusCode == nil || *attempts[0].StatusCode != 500 {
			t.Errorf("attempt log = %+v", attempts)
		}
		// The released delivery is due again at once, for anyone.
		again, err := f.svc.Claim(ctx, outbound.ClaimRequest{Owner: "c", Limit: 10, Lease: time.Minute})
		if err != nil || len(again) != 1 || again[0].DeliveryID != second[0].DeliveryID {
			t.Errorf("released delivery not claimable: %v %d", err, len(again))
		}
		health, _ := f.svc.Endpoint(ctx, f.org, ep.ID)
		if health.LastSuccessAt == nil || health.LastFailureAt == nil {
			t.Errorf("endpoint health not recorded: %+v", health)
		}
	})
}

func TestRedeliverRecoverAndDisable(t *testing.T) {
	t.Parallel()
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		ep := f.endpoint(t, "*")
		f.publish(t, "booking.created", "")
		jobs, _ := f.svc.Claim(ctx, outbound.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute})
		if len(jobs) != 1 {
			t.Fatalf("claimed %d", len(jobs))
		}
		now := time.Now()
		f.svc.Complete(ctx, []*outbound.Result{{Job: jobs[0], StartedAt: now, StatusCode: 500, Error: "HTTP 500"}})
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
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
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
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		f.endpoint(t, "*")
		bad := hookbooktest.Data("booking.created", map[string]any{
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
			data, _ := json.Marshal(hookbooktest.Data(et.Name, nil))
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
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
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
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
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

// TestOrderedEndpoint: an ordered endpoint gets a key's deliveries one at a
// time, in sequence order; other keys, keyless events and unordered
// endpoints never wait; redeliver and recover queue in order.
func TestOrderedEndpoint(t *testing.T) {
	t.Parallel()
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		ordered := true
		events := []string{"*"}
		oep, err := f.svc.CreateEndpoint(ctx, f.org, outbound.EndpointInput{URL: ptr("http://127.0.0.1:9/o"), Events: &events, Ordered: &ordered})
		if err != nil {
			t.Fatal(err)
		}
		plain := f.endpoint(t, "*")
		pub := func(key string, n int) *outbound.Published {
			data, _ := json.Marshal(hookbooktest.Data("booking.created", map[string]any{"id": key, "n": n}))
			p, err := f.svc.Publish(ctx, f.org, outbound.PublishInput{Event: "booking.created", Data: data, OrderingKey: key})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		// Three events of booking A, one of B, one with no key.
		a1, a2, a3, b1 := pub("bkg_A", 1), pub("bkg_A", 2), pub("bkg_A", 3), pub("bkg_B", 1)
		data, _ := json.Marshal(map[string]any{"x": 1})
		if _, err := f.svc.CreateEventType(ctx, f.org, outbound.EventTypeInput{Name: "lead.created", Description: "x"}); err != nil {
			t.Fatal(err)
		}
		free, err := f.svc.Publish(ctx, f.org, outbound.PublishInput{Event: "lead.created", Data: data})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []*outbound.Published{a2, a3} {
			if p.Event.Sequence <= a1.Event.Sequence || p.Event.OrderingKey != "bkg_A" {
				t.Fatalf("sequence %d (key %q) after %d", p.Event.Sequence, p.Event.OrderingKey, a1.Event.Sequence)
			}
		}
		if a3.Event.Sequence <= a2.Event.Sequence || free.Event.Sequence != 0 || free.Event.OrderingKey != "" {
			t.Fatalf("sequences %d %d, keyless %d %q", a2.Event.Sequence, a3.Event.Sequence, free.Event.Sequence, free.Event.OrderingKey)
		}
		if !strings.Contains(string(a2.Event.Payload), fmt.Sprintf(`"organization_id":"%s","ordering_key":"bkg_A","sequence":%d,"data":{`, f.org, a2.Event.Sequence)) {
			t.Errorf("envelope = %s", a2.Event.Payload)
		}
		claimAll := func() map[string]*outbound.Job {
			jobs, err := f.svc.Claim(ctx, outbound.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]*outbound.Job{}
			for _, j := range jobs {
				out[j.EventID+"@"+j.Endpoint.ID] = j
			}
			return out
		}
		jobs := claimAll()
		// The plain endpoint gets all five; the ordered one A1, B1 and the keyless one.
		for _, p := range []*outbound.Published{a1, a2, a3, b1, free} {
			if jobs[p.Event.ID+"@"+plain.ID] == nil {
				t.Errorf("the unordered endpoint waits for %s", p.Event.ID)
			}
		}
		for p, want := range map[*outbound.Published]bool{a1: true, a2: false, a3: false, b1: true, free: true} {
			if got := jobs[p.Event.ID+"@"+oep.ID] != nil; got != want {
				t.Errorf("ordered endpoint: event %d of %q claimed = %v", p.Event.Sequence, p.Event.OrderingKey, got)
			}
		}
		now := time.Now()
		done := func(j *outbound.Job, ok bool, retry time.Duration) {
			r := &outbound.Result{Job: j, StartedAt: now, StatusCode: 200, Success: ok}
			if !ok {
				r.StatusCode, r.Error = 500, "HTTP 500"
				if retry > 0 {
					r.NextAttemptAt = now.Add(retry)
				}
			}
			if err := f.svc.Complete(ctx, []*outbound.Result{r}); err != nil {
				t.Fatal(err)
			}
		}
		// A1 fails with a retry in an hour: A2 keeps waiting.
		done(jobs[a1.Event.ID+"@"+oep.ID], false, time.Hour)
		if more := claimAll(); len(more) != 0 {
			t.Fatalf("claimed %d while A1 waits for its retry", len(more))
		}
		// Redeliver A1 now: it goes, still alone.
		if _, err := f.svc.Redeliver(ctx, f.org, jobs[a1.Event.ID+"@"+oep.ID].DeliveryID); err != nil {
			t.Fatal(err)
		}
		jobs = claimAll()
		if len(jobs) != 1 || jobs[a1.Event.ID+"@"+oep.ID] == nil {
			t.Fatalf("after redeliver: %v", keys(jobs))
		}
		// A1 fails for good: A2 goes (and only A2).
		done(jobs[a1.Event.ID+"@"+oep.ID], false, 0)
		jobs = claimAll()
		if len(jobs) != 1 || jobs[a2.Event.ID+"@"+oep.ID] == nil {
			t.Fatalf("after A1 failed: %v", keys(jobs))
		}
		// Recover A1 while A2 is in flight: A1 waits behind A2, then goes before A3.
		if n, err := f.svc.Recover(ctx, f.org, oep.ID, now.Add(-time.Hour)); err != nil || n != 1 {
			t.Fatalf("recover = %d %v", n, err)
		}
		if more := claimAll(); len(more) != 0 {
			t.Fatalf("claimed %v while A2 is in flight", keys(more))
		}
		done(jobs[a2.Event.ID+"@"+oep.ID], true, 0)
		jobs = claimAll()
		if len(jobs) != 1 || jobs[a1.Event.ID+"@"+oep.ID] == nil {
			t.Fatalf("after A2: %v, want the recovered A1", keys(jobs))
		}
		done(jobs[a1.Event.ID+"@"+oep.ID], true, 0)
		jobs = claimAll()
		if len(jobs) != 1 || jobs[a3.Event.ID+"@"+oep.ID] == nil {
			t.Fatalf("after A1: %v, want A3", keys(jobs))
		}
		// The sweep finds nothing to release while A3 is in flight.
		if n, err := f.svc.Unpark(ctx); err != nil || n != 0 {
			t.Errorf("sweep released %d (%v)", n, err)
		}
	})
}

func keys(m map[string]*outbound.Job) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestUnorderedAgainReleasesParked: switching an endpoint back to
// unordered lets the sweep release every delivery waiting behind another.
func TestUnorderedAgainReleasesParked(t *testing.T) {
	t.Parallel()
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		ordered, events := true, []string{"*"}
		ep, err := f.svc.CreateEndpoint(ctx, f.org, outbound.EndpointInput{URL: ptr("http://127.0.0.1:9/o"), Events: &events, Ordered: &ordered})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			data, _ := json.Marshal(hookbooktest.Data("booking.created", map[string]any{"n": i}))
			if _, err := f.svc.Publish(ctx, f.org, outbound.PublishInput{Event: "booking.created", Data: data, OrderingKey: "k"}); err != nil {
				t.Fatal(err)
			}
		}
		if jobs, _ := f.svc.Claim(ctx, outbound.ClaimRequest{Owner: "w", Limit: 10, Lease: time.Minute}); len(jobs) != 1 {
			t.Fatalf("claimed %d, want the key's first", len(jobs))
		}
		if n, err := f.svc.Unpark(ctx); err != nil || n != 0 {
			t.Fatalf("sweep while ordered released %d (%v)", n, err)
		}
		off := false
		if _, err := f.svc.UpdateEndpoint(ctx, f.org, ep.ID, outbound.EndpointInput{Ordered: &off}); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.Unpark(ctx); err != nil || n != 2 {
			t.Fatalf("sweep after switching to unordered released %d (%v), want 2", n, err)
		}
		if jobs, _ := f.svc.Claim(ctx, outbound.ClaimRequest{Owner: "w", Limit: 10, Lease: time.Minute}); len(jobs) != 2 {
			t.Errorf("claimed %d after the sweep, want 2", len(jobs))
		}
	})
}

// engine is an outbound.Engine with room for a set number of deliveries
// per endpoint, recording what it is handed.
type engine struct {
	mu        sync.Mutex
	room      map[string]int
	asked     []string
	taken     []*outbound.Job
	cancelled []*outbound.Job
	// visible reports, at Take, whether each job's delivery is committed.
	visible func(id string) bool
	seen    []bool
}

func (e *engine) Reserve(endpointID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.asked = append(e.asked, endpointID)
	if e.room[endpointID] > 0 {
		e.room[endpointID]--
		return true
	}
	return false
}

func (e *engine) Take(jobs []*outbound.Job) {
	for _, j := range jobs {
		seen := e.visible(j.DeliveryID)
		e.mu.Lock()
		e.seen = append(e.seen, seen)
		e.mu.Unlock()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.taken = append(e.taken, jobs...)
}

func (e *engine) Cancel(jobs []*outbound.Job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cancelled = append(e.cancelled, jobs...)
}

func (e *engine) LeaseTerms() (string, time.Duration) { return "inst_1", time.Minute }

func TestPublicationHandsDeliveriesToTheEngine(t *testing.T) {
	t.Parallel()
	hookbooktest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		ctx := context.Background()
		roomy, full := f.endpoint(t, "*"), f.endpoint(t, "*")
		ordered, err := f.svc.CreateEndpoint(ctx, f.org, outbound.EndpointInput{URL: ptr("http://127.0.0.1:9/o"), Events: &[]string{"*"}, Ordered: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		e := &engine{room: map[string]int{roomy.ID: 2, ordered.ID: 5}}
		e.visible = func(id string) bool {
			_, err := f.svc.Delivery(ctx, f.org, id)
			return err == nil
		}
		f.svc.Engine = e
		data, _ := json.Marshal(hookbooktest.Data("booking.created", nil))
		p, err := f.svc.Publish(ctx, f.org, outbound.PublishInput{Event: "booking.created", Data: data, OrderingKey: "bkg_1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Deliveries) != 3 {
			t.Fatalf("%d deliveries, want 3", len(p.Deliveries))
		}
		// The ordered endpoint's keyed delivery keeps its place in the key's
		// order: the engine is not even asked.
		for _, id := range e.asked {
			if id == ordered.ID {
				t.Errorf("the engine was asked to take an ordered, keyed delivery")
			}
		}
		if len(e.taken) != 1 || len(e.cancelled) != 0 {
			t.Fatalf("engine took %d, cancelled %d; want 1 and 0", len(e.taken), len(e.cancelled))
		}
		j := e.taken[0]
		if j.Endpoint == nil || j.Endpoint.ID != roomy.ID || j.Attempt != 1 || j.Owner != "inst_1" ||
			j.EventID != p.Event.ID || !bytes.Equal(j.Payload, p.Event.Payload) || j.Endpoint.URL == "" {
			t.Errorf("the job handed over lacks what its attempt needs: %+v", j)
		}
		if !e.seen[0] {
			t.Errorf("Take came before the delivery was committed")
		}
		// Leased to the engine: no claim gets it; the others wait in the queue.
		claimed, err := f.svc.Claim(ctx, outbound.ClaimRequest{Owner: "other", Limit: 10, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, c := range claimed {
			got[c.Endpoint.ID] = true
			if c.DeliveryID == j.DeliveryID {
				t.Errorf("a delivery handed to the engine was claimed by another worker")
			}
		}
		if !got[full.ID] || !got[ordered.ID] || len(claimed) != 2 {
			t.Errorf("claimed %v, want the full endpoint's and the ordered one's", got)
		}
		// Its outcome records as a claimed one's does.
		if err := f.svc.Complete(ctx, []*outbound.Result{{Job: j, StartedAt: time.Now(), Duration: time.Millisecond, StatusCode: 204, Success: true}}); err != nil {
			t.Fatal(err)
		}
		if dl, _ := f.svc.Delivery(ctx, f.org, j.DeliveryID); dl == nil || dl.Status != hookbook.StatusSucceeded || dl.Attempts != 1 {
			t.Errorf("delivery after its outcome: %+v", dl)
		}
		// A publication that rolls back gives its reservations back.
		boom := errors.New("boom")
		err = d.Tx(ctx, func(tx *db.Tx) error {
			if _, err := f.svc.PublishTx(ctx, tx, outbound.Publication{OrganizationID: f.org, Type: "booking.created", Data: data}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if len(e.taken) != 1 || len(e.cancelled) != 1 || e.cancelled[0].Endpoint.ID != roomy.ID {
			t.Errorf("after a rollback: took %d, cancelled %d; want 1 and 1", len(e.taken), len(e.cancelled))
		}
	})
}
