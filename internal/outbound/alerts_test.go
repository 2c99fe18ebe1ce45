package outbound_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/event"
	"github.com/hookbook/hookbook/internal/org"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/outboundtest"
	"github.com/hookbook/hookbook/internal/queue"
)

// attemptAll claims every due delivery and records the outcome outcome
// gives it: nil for a success, else a failure retried at once (or for
// good on its last attempt).
func attemptAll(t *testing.T, f outboundtest.Fixture, fail func(j *queue.Job) bool) int {
	t.Helper()
	ctx := context.Background()
	jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "t", Limit: 100, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var results []*queue.Result
	for _, j := range jobs {
		r := &queue.Result{Job: j, StartedAt: time.Now(), StatusCode: 200, Success: true}
		if fail(j) {
			r = &queue.Result{Job: j, StartedAt: time.Now(), StatusCode: 503, Error: "HTTP 503", ErrorKind: "http_status"}
			if j.Attempt < j.MaxAttempts {
				r.NextAttemptAt = time.Now().Add(-time.Millisecond)
			}
		}
		results = append(results, r)
	}
	if err := f.Q.Complete(ctx, results); err != nil {
		t.Fatal(err)
	}
	return len(jobs)
}

// received returns the payloads of the deliveries an endpoint got, oldest
// first, by event type.
func received(t *testing.T, f outboundtest.Fixture, endpointID string) map[string][]map[string]any {
	t.Helper()
	ctx := context.Background()
	list, _, err := f.Svc.Deliveries(ctx, f.Org, outbound.DeliveryFilter{EndpointID: endpointID}, db.Page{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]map[string]any{}
	for i := len(list) - 1; i >= 0; i-- {
		e, err := f.Svc.Event(ctx, f.Org, list[i].EventID)
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(e.Payload, &env); err != nil {
			t.Fatal(err)
		}
		out[e.Type] = append(out[e.Type], env.Data)
	}
	return out
}

// TestOperationalEvents: endpoint.created/updated/deleted and
// delivery.failing/exhausted/recovered go to the endpoints that subscribe
// to them, never to the endpoint they are about nor through "*";
// delivery.failing at most once an hour per endpoint; no password nor
// secret in any of them; the alert mails they go with are queued once a
// day per kind.
func TestOperationalEvents(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		f.Svc.FailingAfter, f.Svc.MailAlerts = 2, true
		ctx := context.Background()
		watcher := f.Endpoint(t, "delivery.*", "endpoint.*")
		every := f.Endpoint(t, "*")
		target, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/crm"),
			Events: &[]string{"booking.*", "endpoint.*"}, MaxAttempts: outboundtest.Ptr(3), AlertEmails: &[]string{"ops@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		failing := func(j *queue.Job) bool { return j.Endpoint.ID == target.ID }
		f.Publish(t, event.BookingCreated, "")
		attemptAll(t, f, failing) // attempt 1 fails
		attemptAll(t, f, failing) // attempt 2 fails: failing
		f.Publish(t, event.BookingCreated, "")
		for attemptAll(t, f, failing) > 0 { // the first delivery is exhausted, the second reaches attempt 2 again
		}
		if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, target.ID, outbound.EndpointInput{Description: outboundtest.Ptr("CRM")}); err != nil {
			t.Fatal(err)
		}
		f.Publish(t, event.BookingCreated, "")
		for attemptAll(t, f, func(*queue.Job) bool { return false }) > 0 { // it works again
		}
		got := received(t, f, watcher.ID)
		want := map[string]int{event.EndpointCreated: 2, event.DeliveryFailing: 1, event.DeliveryExhausted: 2, event.DeliveryRecovered: 1, event.EndpointUpdated: 1}
		for typ, n := range want {
			if len(got[typ]) != n {
				t.Errorf("the watcher got %d %s, want %d (all: %v)", len(got[typ]), typ, n, got)
			}
			for _, data := range got[typ] {
				if data["endpoint_id"] == watcher.ID {
					t.Errorf("the watcher got %s about itself", typ)
				}
			}
		}
		if fd := got[event.DeliveryFailing]; len(fd) == 1 && (fd[0]["endpoint_id"] != target.ID || fd[0]["attempt"] != 2.0 ||
			fd[0]["failure_threshold"] != 2.0 || fd[0]["status_code"] != 503.0) {
			t.Errorf("delivery.failing data = %v", fd[0])
		}
		if r := got[event.DeliveryRecovered]; len(r) == 1 && r[0]["endpoint_id"] != target.ID {
			t.Errorf("delivery.recovered data = %v", r[0])
		}
		if ops := received(t, f, every.ID); len(ops[event.EndpointCreated])+len(ops[event.DeliveryFailing]) > 0 {
			t.Errorf(`an endpoint taking "*" got operational events: %v`, ops)
		}
		for typ := range received(t, f, target.ID) {
			if event.Operational(typ) {
				t.Errorf("the target got %s, an event about itself", typ)
			}
		}
		if err := f.Svc.DeleteEndpoint(ctx, f.Org, target.ID); err != nil {
			t.Fatal(err)
		}
		if got := received(t, f, watcher.ID)[event.EndpointDeleted]; len(got) != 1 || got[0]["endpoint_id"] != target.ID {
			t.Errorf("endpoint.deleted = %v", got)
		}
		// Nothing hookbook told carries the secret.
		rows, err := d.QueryContext(ctx, `SELECT payload FROM events WHERE organization_id = $1`, f.Org)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(p, target.Secret) {
				t.Errorf("an event carries a secret: %s", p)
			}
		}
		// One mail per kind: failing (once, though the endpoint failed
		// again within the day) and recovered.
		mails, err := f.Svc.AlertMailStatus(ctx, target.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(mails) != 2 || mails[0][0] != outbound.AlertFailing || mails[1][0] != outbound.AlertRecovered || mails[0][1] != "pending" {
			t.Errorf("alert mails = %v, want failing and recovered, pending", mails)
		}
	})
}

// TestAlertMailOutbox: the alert job sends each queued mail once, tries
// one that fails again later, gives it up after AlertMailTries, and drops
// one whose endpoint lost its addresses; alert_emails are validated.
func TestAlertMailOutbox(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		f.Svc.MailAlerts, f.Svc.PublicURL = true, "https://hooks.example.com"
		ctx := context.Background()
		huge := strings.Repeat("x", 100_000) + "@example.com"
		for _, bad := range [][]string{{"not an address"}, {"Ops <ops@example.com>"}, {"a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io", "f@x.io"}, {huge}} {
			_, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/hook"),
				Events: &[]string{"*"}, AlertEmails: &bad})
			if e := hookbook.AsError(err); e == nil || e.Kind != hookbook.EValidation || e.Details["alert_emails"] == "" {
				t.Errorf("alert_emails %.40q: %v, want a 422 naming alert_emails", bad, err)
			} else if len(e.Details["alert_emails"]) > 300 {
				t.Errorf("the 422 echoes what was sent: %d bytes", len(e.Details["alert_emails"]))
			}
		}
		ep, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/hook"),
			Events: &[]string{"*"}, AlertEmails: &[]string{"ops@example.com", "dev@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		if done, err := f.Svc.DisableEndpoint(ctx, ep.ID, "the endpoint answered 410 Gone"); err != nil || !done {
			t.Fatal(done, err)
		}
		var sent []outbound.AlertMail
		n, err := f.Svc.SendAlertMails(ctx, func(_ context.Context, m outbound.AlertMail) error {
			sent = append(sent, m)
			return nil
		})
		if err != nil || n != 1 || len(sent) != 1 {
			t.Fatalf("sent %d (%v), want the disabled mail", n, err)
		}
		m := sent[0]
		if m.Subject != "Webhook endpoint disabled: http://127.0.0.1:9/hook" || len(m.To) != 2 ||
			!strings.Contains(m.Text, "410 Gone") || !strings.Contains(m.Text, "https://hooks.example.com/settings/webhooks/"+ep.ID) {
			t.Errorf("mail = %+v", m)
		}
		if n, _ := f.Svc.SendAlertMails(ctx, func(context.Context, outbound.AlertMail) error { return nil }); n != 0 {
			t.Errorf("a sent mail was sent again")
		}
		// A mail server that refuses costs the mail only, after its tries.
		other, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/other"),
			Events: &[]string{"*"}, AlertEmails: &[]string{"ops@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Svc.DisableEndpoint(ctx, other.ID, "gone"); err != nil {
			t.Fatal(err)
		}
		tries := 0
		for i := 0; i < outbound.AlertMailTries; i++ {
			if _, err := d.ExecContext(ctx, `UPDATE alert_mails SET next_attempt_at = 0 WHERE status = 'pending'`); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Svc.SendAlertMails(ctx, func(context.Context, outbound.AlertMail) error {
				tries++
				return errMailServer
			}); err != nil {
				t.Fatal(err)
			}
		}
		st, _ := f.Svc.AlertMailStatus(ctx, other.ID)
		if tries != outbound.AlertMailTries || len(st) != 1 || st[0][1] != "failed" {
			t.Errorf("after %d tries the mail is %v, want failed after %d", tries, st, outbound.AlertMailTries)
		}
	})
}

var errMailServer = &mailErr{}

type mailErr struct{}

func (*mailErr) Error() string { return "dial tcp 127.0.0.1:1: connection refused" }

// TestSkippedDeliveries: while an endpoint is disabled, by its owner or by
// hookbook, what is published for it is kept as skipped deliveries: never
// claimed, listed by status, and replayed in one step once it is enabled
// again, with the endpoint's attempts.
func TestSkippedDeliveries(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		ep := f.Endpoint(t, "booking.*")
		if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, ep.ID, outbound.EndpointInput{Enabled: outboundtest.Ptr(false)}); err != nil {
			t.Fatal(err)
		}
		f.Publish(t, event.BookingCreated, "")
		f.Publish(t, event.BookingCancelled, "")
		jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "t", Limit: 100, Lease: time.Minute})
		if err != nil || len(jobs) != 0 {
			t.Fatalf("claimed %d (%v): skipped deliveries must never be claimed", len(jobs), err)
		}
		skipped, _, err := f.Svc.Deliveries(ctx, f.Org, outbound.DeliveryFilter{EndpointID: ep.ID, Status: hookbook.StatusSkipped}, db.Page{Limit: 10})
		if err != nil || len(skipped) != 2 || skipped[0].Attempts != 0 || skipped[0].NextAttemptAt != nil {
			t.Fatalf("skipped deliveries = %v (%v), want 2 never attempted", skipped, err)
		}
		in := outbound.ReplayInput{Status: outboundtest.Ptr(outbound.ReplaySkippedOnly)}
		filter, err := outbound.ParseReplay(in, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, filter); hookbook.Code(err) != "endpoint_disabled" {
			t.Fatalf("replay while disabled: %v, want endpoint_disabled", err)
		}
		if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, ep.ID, outbound.EndpointInput{Enabled: outboundtest.Ptr(true)}); err != nil {
			t.Fatal(err)
		}
		job, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, filter)
		if err != nil || job.Total != 2 {
			t.Fatalf("replay = %+v (%v), want 2 skipped deliveries", job, err)
		}
		if _, err := f.Svc.RunReplays(ctx); err != nil {
			t.Fatal(err)
		}
		jobs, err = f.Q.Claim(ctx, queue.ClaimRequest{Owner: "t", Limit: 100, Lease: time.Minute})
		if err != nil || len(jobs) != 2 || jobs[0].MaxAttempts != outbound.DefaultMaxAttempts {
			t.Fatalf("claimed %d (%v) after the replay, want both with the endpoint's %d attempts", len(jobs), err, outbound.DefaultMaxAttempts)
		}
		// Disabled by hookbook: the same.
		if _, err := f.Svc.DisableEndpoint(ctx, ep.ID, "the endpoint answered 410 Gone"); err != nil {
			t.Fatal(err)
		}
		p := f.Publish(t, event.BookingCreated, "")
		dl, err := f.Svc.Delivery(ctx, f.Org, p.Deliveries[0])
		if err != nil || dl.Status != hookbook.StatusSkipped {
			t.Fatalf("delivery while disabled by hookbook = %+v (%v), want skipped", dl, err)
		}
	})
}

// TestOrganizationRetention: an organization's own retention lies within
// the operator's maximum, and the purge deletes its older deliveries and
// events only, not another organization's.
func TestOrganizationRetention(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		most := 720 * time.Hour
		for _, bad := range []time.Duration{30 * time.Minute, most + time.Hour} {
			err := f.Svc.SetRetention(ctx, f.Org, &bad, most)
			if e := hookbook.AsError(err); e == nil || e.Details["retention"] == "" {
				t.Errorf("retention %s: %v, want a 422 naming retention", bad, err)
			}
		}
		if r, err := f.Svc.Retention(ctx, f.Org); err != nil || r != nil {
			t.Fatalf("retention = %v (%v), want none of its own", r, err)
		}
		day := 24 * time.Hour
		if err := f.Svc.SetRetention(ctx, f.Org, &day, most); err != nil {
			t.Fatal(err)
		}
		if r, err := f.Svc.Retention(ctx, f.Org); err != nil || r == nil || *r != day {
			t.Fatalf("retention = %v (%v), want 24h", r, err)
		}
		// Another organization keeps the operator's retention.
		o2, err := (&org.Service{DB: d}).CreateOrganization(ctx, "other", org.NewAPIKey())
		if err != nil {
			t.Fatal(err)
		}
		f2 := f
		f2.Org = o2.ID
		for _, fx := range []outboundtest.Fixture{f, f2} {
			ep := fx.Endpoint(t, "booking.*")
			if _, err := fx.Svc.UpdateEndpoint(ctx, fx.Org, ep.ID, outbound.EndpointInput{Enabled: outboundtest.Ptr(false)}); err != nil {
				t.Fatal(err)
			}
			fx.Publish(t, event.BookingCreated, "") // a skipped, finished delivery
		}
		dls, evs, err := f.Svc.PurgeOrganizations(ctx, time.Now().Add(2*day), most)
		if err != nil || dls != 1 || evs != 1 {
			t.Fatalf("purged %d deliveries and %d events (%v), want the one organization's 1 and 1", dls, evs, err)
		}
		var left int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE organization_id = $1`, o2.ID).Scan(&left); err != nil || left != 1 {
			t.Errorf("the other organization has %d deliveries left (%v), want 1", left, err)
		}
		if err := f.Svc.SetRetention(ctx, f.Org, nil, most); err != nil {
			t.Fatal(err)
		}
		if r, _ := f.Svc.Retention(ctx, f.Org); r != nil {
			t.Errorf("retention after null = %v, want none", r)
		}
	})
}
