package queue_test

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
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/outboundtest"
	"github.com/hookbook/hookbook/internal/queue"
)

// The queue's conformance suite: every case runs on SQLite and on
// PostgreSQL through dbtest.EachBackend, against the one SQL text
// both databases share. Deliveries are made the way hookbook makes them,
// by publishing events through outbound.Service into the queue under test.

func TestQueueClaimCompleteRelease(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		ep := f.Endpoint(t, "*")
		for range 3 {
			f.Publish(t, "booking.created", "")
		}
		first, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 2, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		second, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "b", Limit: 10, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != 2 || len(second) != 1 {
			t.Fatalf("claims got %d and %d, want 2 and 1: a lease was not respected", len(first), len(second))
		}
		if first[0].Endpoint.ID != ep.ID || len(first[0].Payload) == 0 || first[0].Attempt != 1 {
			t.Errorf("job lacks what its attempt needs: %+v", first[0])
		}
		if more, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "c", Limit: 10, Lease: time.Minute}); len(more) != 0 {
			t.Errorf("leased deliveries claimed again: %d", len(more))
		}
		now := time.Now()
		results := []*queue.Result{
			{Job: first[0], StartedAt: now, Duration: time.Millisecond, StatusCode: 200, Success: true},
			{Job: first[1], StartedAt: now, Duration: time.Millisecond, StatusCode: 500, Error: "HTTP 500", NextAttemptAt: now.Add(time.Hour)},
		}
		if err := f.Q.Complete(ctx, results); err != nil {
			t.Fatal(err)
		}
		if err := f.Q.Release(ctx, second); err != nil {
			t.Fatal(err)
		}
		ok, _ := f.Svc.Delivery(ctx, f.Org, first[0].DeliveryID)
		retry, _ := f.Svc.Delivery(ctx, f.Org, first[1].DeliveryID)
		if ok.Status != hookbook.StatusSucceeded || ok.Attempts != 1 {
			t.Errorf("succeeded delivery = %s after %d attempts", ok.Status, ok.Attempts)
		}
		if retry.Status != hookbook.StatusPending || retry.NextAttemptAt == nil || retry.NextAttemptAt.Before(now.Add(50*time.Minute)) {
			t.Errorf("failed delivery = %s next %v, want pending in an hour", retry.Status, retry.NextAttemptAt)
		}
		attempts, _ := f.Svc.Attempts(ctx, first[1].DeliveryID)
		if len(attempts) != 1 || attempts[0].StatusCode == nil || *attempts[0].StatusCode != 500 {
			t.Errorf("attempt log = %+v", attempts)
		}
		// The released delivery is due again at once, for anyone.
		again, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "c", Limit: 10, Lease: time.Minute})
		if err != nil || len(again) != 1 || again[0].DeliveryID != second[0].DeliveryID {
			t.Errorf("released delivery not claimable: %v %d", err, len(again))
		}
		health, _ := f.Svc.Endpoint(ctx, f.Org, ep.ID)
		if health.LastSuccessAt == nil || health.LastFailureAt == nil {
			t.Errorf("endpoint health not recorded: %+v", health)
		}
	})
}

// TestOrderedEndpoint: an ordered endpoint gets a key's deliveries one at a
// time, in sequence order; other keys, keyless events and unordered
// endpoints never wait; redeliver and recover queue in order.
func TestOrderedEndpoint(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := outboundtest.New(t, d)
		ordered := true
		events := []string{"*"}
		oep, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/o"), Events: &events, Ordered: &ordered})
		if err != nil {
			t.Fatal(err)
		}
		plain := f.Endpoint(t, "*")
		pub := func(key string, n int) *outbound.Published {
			data, _ := json.Marshal(outboundtest.Data("booking.created", map[string]any{"id": key, "n": n}))
			p, err := f.Svc.Publish(ctx, f.Org, outbound.PublishInput{Event: "booking.created", Data: data, OrderingKey: key})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		// Three events of booking A, one of B, one with no key.
		a1, a2, a3, b1 := pub("bkg_A", 1), pub("bkg_A", 2), pub("bkg_A", 3), pub("bkg_B", 1)
		data, _ := json.Marshal(map[string]any{"x": 1})
		if _, err := f.Svc.CreateEventType(ctx, f.Org, outbound.EventTypeInput{Name: "lead.created", Description: "x"}); err != nil {
			t.Fatal(err)
		}
		free, err := f.Svc.Publish(ctx, f.Org, outbound.PublishInput{Event: "lead.created", Data: data})
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
		if !strings.Contains(string(a2.Event.Payload), fmt.Sprintf(`"organization_id":"%s","ordering_key":"bkg_A","sequence":%d,"data":{`, f.Org, a2.Event.Sequence)) {
			t.Errorf("envelope = %s", a2.Event.Payload)
		}
		claimAll := func() map[string]*queue.Job {
			jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "w", Limit: 100, Lease: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]*queue.Job{}
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
		done := func(j *queue.Job, ok bool, retry time.Duration) {
			r := &queue.Result{Job: j, StartedAt: now, StatusCode: 200, Success: ok}
			if !ok {
				r.StatusCode, r.Error = 500, "HTTP 500"
				if retry > 0 {
					r.NextAttemptAt = now.Add(retry)
				}
			}
			if err := f.Q.Complete(ctx, []*queue.Result{r}); err != nil {
				t.Fatal(err)
			}
		}
		// A1 fails with a retry in an hour: A2 keeps waiting.
		done(jobs[a1.Event.ID+"@"+oep.ID], false, time.Hour)
		if more := claimAll(); len(more) != 0 {
			t.Fatalf("claimed %d while A1 waits for its retry", len(more))
		}
		// Redeliver A1 now: it goes, still alone.
		if _, err := f.Svc.Redeliver(ctx, f.Org, jobs[a1.Event.ID+"@"+oep.ID].DeliveryID); err != nil {
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
		if n, err := f.Svc.Recover(ctx, f.Org, oep.ID, now.Add(-time.Hour)); err != nil || n != 1 {
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
		if n, err := f.Q.Unpark(ctx); err != nil || n != 0 {
			t.Errorf("sweep released %d (%v)", n, err)
		}
	})
}

func keys(m map[string]*queue.Job) []string {
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
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := outboundtest.New(t, d)
		ordered, events := true, []string{"*"}
		ep, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/o"), Events: &events, Ordered: &ordered})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			data, _ := json.Marshal(outboundtest.Data("booking.created", map[string]any{"n": i}))
			if _, err := f.Svc.Publish(ctx, f.Org, outbound.PublishInput{Event: "booking.created", Data: data, OrderingKey: "k"}); err != nil {
				t.Fatal(err)
			}
		}
		if jobs, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "w", Limit: 10, Lease: time.Minute}); len(jobs) != 1 {
			t.Fatalf("claimed %d, want the key's first", len(jobs))
		}
		if n, err := f.Q.Unpark(ctx); err != nil || n != 0 {
			t.Fatalf("sweep while ordered released %d (%v)", n, err)
		}
		off := false
		if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, ep.ID, outbound.EndpointInput{Ordered: &off}); err != nil {
			t.Fatal(err)
		}
		if n, err := f.Q.Unpark(ctx); err != nil || n != 2 {
			t.Fatalf("sweep after switching to unordered released %d (%v), want 2", n, err)
		}
		if jobs, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "w", Limit: 10, Lease: time.Minute}); len(jobs) != 2 {
			t.Errorf("claimed %d after the sweep, want 2", len(jobs))
		}
	})
}

// engine is an queue.Engine with room for a set number of deliveries
// per endpoint, recording what it is handed.
type engine struct {
	mu        sync.Mutex
	room      map[string]int
	asked     []string
	taken     []*queue.Job
	cancelled []*queue.Job
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

func (e *engine) Take(jobs []*queue.Job) {
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

func (e *engine) Cancel(jobs []*queue.Job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cancelled = append(e.cancelled, jobs...)
}

func (e *engine) LeaseTerms() (string, time.Duration) { return "inst_1", time.Minute }

func TestPublicationHandsDeliveriesToTheEngine(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		roomy, full := f.Endpoint(t, "*"), f.Endpoint(t, "*")
		ordered, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/o"), Events: &[]string{"*"}, Ordered: outboundtest.Ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		e := &engine{room: map[string]int{roomy.ID: 2, ordered.ID: 5}}
		e.visible = func(id string) bool {
			_, err := f.Svc.Delivery(ctx, f.Org, id)
			return err == nil
		}
		f.Q.Engine = e
		data, _ := json.Marshal(outboundtest.Data("booking.created", nil))
		p, err := f.Svc.Publish(ctx, f.Org, outbound.PublishInput{Event: "booking.created", Data: data, OrderingKey: "bkg_1"})
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
		claimed, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "other", Limit: 10, Lease: time.Minute})
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
		if err := f.Q.Complete(ctx, []*queue.Result{{Job: j, StartedAt: time.Now(), Duration: time.Millisecond, StatusCode: 204, Success: true}}); err != nil {
			t.Fatal(err)
		}
		if dl, _ := f.Svc.Delivery(ctx, f.Org, j.DeliveryID); dl == nil || dl.Status != hookbook.StatusSucceeded || dl.Attempts != 1 {
			t.Errorf("delivery after its outcome: %+v", dl)
		}
		// A publication that rolls back gives its reservations back.
		boom := errors.New("boom")
		err = d.Tx(ctx, func(tx *db.Tx) error {
			if _, err := f.Svc.PublishTx(ctx, tx, outbound.Publication{OrganizationID: f.Org, Type: "booking.created", Data: data}); err != nil {
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

// TestQueuePostponeNextDueAndLeases: Postpone moves an endpoint's claimed
// and due deliveries without spending an attempt; NextDue follows the
// earliest not due yet; on PostgreSQL ReleaseAllLeases makes claimed
// deliveries due at once, and on SQLite, whose claims hold their leases in
// memory, the next process claims them again.
func TestQueuePostponeNextDueAndLeases(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		if _, ok, err := f.Q.NextDue(ctx); err != nil || ok {
			t.Fatalf("empty queue: next due %v (%v)", ok, err)
		}
		ep, other := f.Endpoint(t, "*"), f.Endpoint(t, "booking.cancelled")
		f.Publish(t, "booking.created", "")
		f.Publish(t, "booking.created", "")
		f.Publish(t, "booking.cancelled", "")
		claimed, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute, Exclude: []string{other.ID}})
		if err != nil || len(claimed) != 1 || claimed[0].Endpoint.ID != ep.ID {
			t.Fatalf("claim with an exclusion = %d jobs (%v)", len(claimed), err)
		}
		until := time.Now().Add(time.Hour)
		if err := f.Q.Postpone(ctx, ep.ID, claimed, until); err != nil {
			t.Fatal(err)
		}
		jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "b", Limit: 10, Lease: time.Minute})
		if err != nil || len(jobs) != 1 || jobs[0].Endpoint.ID != other.ID {
			t.Fatalf("after postponing %s: claimed %d (%v), want only the other endpoint's", ep.ID, len(jobs), err)
		}
		for _, id := range []string{claimed[0].DeliveryID} {
			dl, _ := f.Svc.Delivery(ctx, f.Org, id)
			if dl.Attempts != 0 || dl.NextAttemptAt == nil || dl.NextAttemptAt.Before(until.Add(-time.Second)) {
				t.Errorf("postponed delivery: %d attempts, next %v; want none spent, due in an hour", dl.Attempts, dl.NextAttemptAt)
			}
		}
		next, ok, err := f.Q.NextDue(ctx)
		if d.Shared() {
			// The claimed one's lease is the earliest due time now.
			if err != nil || !ok || next.After(jobs[0].LeaseUntil.Add(time.Millisecond)) {
				t.Errorf("next due = %v %v (%v), want the lease's end %v", next, ok, err, jobs[0].LeaseUntil)
			}
		} else if err != nil || !ok || next.Before(until.Add(-time.Second)) || next.After(until.Add(time.Second)) {
			// Held in memory, the claimed one is due already; the
			// postponed ones come next.
			t.Errorf("next due = %v %v (%v), want the postponed deliveries' %v", next, ok, err, until)
		}
		if !d.Shared() && !f.Q.Holds(jobs[0].DeliveryID) {
			t.Errorf("claimed delivery %s: not held", jobs[0].DeliveryID)
		}
		if err := f.Q.ReleaseAllLeases(ctx); err != nil {
			t.Fatal(err)
		}
		claimer := f.Q
		if !d.Shared() {
			// Held leases end with their process: the next one claims
			// what the last one held.
			claimer = &queue.Queue{DB: d, Endpoints: f.Svc}
		}
		again, err := claimer.Claim(ctx, queue.ClaimRequest{Owner: "c", Limit: 10, Lease: time.Minute})
		if err != nil || len(again) != 1 || again[0].DeliveryID != jobs[0].DeliveryID {
			t.Errorf("after releasing every lease: claimed %d (%v), want the leased one again", len(again), err)
		}
		st, err := f.Q.Stats(ctx)
		if err != nil || st.Pending != 4 || st.Due != 0 {
			t.Errorf("stats = %+v (%v), want 4 pending (3 events, one to both endpoints), none due", st, err)
		}
		byOrg, err := f.Q.ByOrganization(ctx, 5)
		if err != nil || len(byOrg) != 1 || byOrg[0].OrganizationID != f.Org || byOrg[0].Pending != 4 {
			t.Errorf("by organization = %+v (%v)", byOrg, err)
		}
	})
}

// TestQueueGoneDisabledAndPurge: a 410 disables its endpoint in the
// outcome's transaction; a claim fails deliveries of a disabled endpoint
// instead of returning them; Purge deletes finished deliveries only.
func TestQueueGoneDisabledAndPurge(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		ep := f.Endpoint(t, "booking.*")
		f.Publish(t, "booking.created", "")
		f.Publish(t, "booking.created", "")
		jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claimed %d (%v)", len(jobs), err)
		}
		if err := f.Q.Complete(ctx, []*queue.Result{{Job: jobs[0], StartedAt: time.Now(), StatusCode: 410, Error: "HTTP 410", Gone: true}}); err != nil {
			t.Fatal(err)
		}
		got, _ := f.Svc.Endpoint(ctx, f.Org, ep.ID)
		if got.Enabled || got.DisabledReason == nil || !strings.Contains(*got.DisabledReason, "410") {
			t.Fatalf("endpoint after a 410: enabled %v, reason %v", got.Enabled, got.DisabledReason)
		}
		// Disabling failed the other delivery; one re-queued behind the
		// switch is failed by the claim that finds it.
		if _, err := d.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = 0 WHERE id <> $1`, jobs[0].DeliveryID); err != nil {
			t.Fatal(err)
		}
		if more, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute}); err != nil || len(more) != 0 {
			t.Fatalf("claim returned %d deliveries of a disabled endpoint (%v)", len(more), err)
		}
		all, _, err := f.Svc.Deliveries(ctx, f.Org, outbound.DeliveryFilter{EndpointID: ep.ID}, db.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, dl := range all {
			if dl.Status != hookbook.StatusFailed {
				t.Errorf("delivery %s = %s, want failed", dl.ID, dl.Status)
			}
		}
		// A pending delivery survives any purge; finished ones go.
		live := f.Endpoint(t, "payment.*")
		f.Publish(t, "payment.succeeded", "")
		n, err := f.Q.Purge(ctx, time.Now().Add(time.Hour))
		if err != nil || n != len(all) {
			t.Errorf("purge deleted %d (%v), want the %d finished", n, err, len(all))
		}
		if left, _, _ := f.Svc.Deliveries(ctx, f.Org, outbound.DeliveryFilter{EndpointID: live.ID}, db.Page{Limit: 10}); len(left) != 1 {
			t.Errorf("purge took a pending delivery: %d left", len(left))
		}
		if attempts, _ := f.Svc.Attempts(ctx, jobs[0].DeliveryID); len(attempts) != 0 {
			t.Errorf("purge kept %d attempts of a purged delivery", len(attempts))
		}
	})
}

// TestWideFanoutInsertsInBatches: an event to more endpoints than one
// INSERT of the fan-out holds gets every delivery, once.
func TestWideFanoutInsertsInBatches(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		const endpoints = 501 // PostgreSQL: two INSERTs, 500 and 1; SQLite: 16 of 32 and one of 5
		for range endpoints {
			f.Endpoint(t, "booking.created")
		}
		p := f.Publish(t, "booking.created", "")
		seen := map[string]bool{}
		for _, id := range p.Deliveries {
			seen[id] = true
		}
		if len(p.Deliveries) != endpoints || len(seen) != endpoints {
			t.Fatalf("publication queued %d deliveries (%d distinct), want %d", len(p.Deliveries), len(seen), endpoints)
		}
		claimed := 0
		for {
			jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 256, Lease: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) == 0 {
				break
			}
			for _, j := range jobs {
				if !seen[j.DeliveryID] {
					t.Fatalf("claimed %s, not one of the publication's deliveries (or twice)", j.DeliveryID)
				}
				delete(seen, j.DeliveryID)
			}
			claimed += len(jobs)
		}
		if claimed != endpoints {
			t.Errorf("claimed %d deliveries, want %d", claimed, endpoints)
		}
	})
}
