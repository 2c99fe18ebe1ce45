package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/outboundtest"
	"github.com/hookbook/hookbook/internal/queue"
)

// dataVersion returns how many rows the writer connection has changed
// since it opened (SQLite's total_changes()): claims run on the writer,
// so it moves if a claim writes.
func dataVersion(t *testing.T, d *db.DB) int64 {
	t.Helper()
	var v int64
	err := d.BackgroundTx(context.Background(), func(tx *db.Tx) error {
		return tx.QueryRowContext(context.Background(), `SELECT total_changes()`).Scan(&v)
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestClaimsOnSQLiteWriteNothing: on SQLite a claim holds its leases in
// memory: it changes no row, two claims never get the same delivery, the
// held delivery shows in flight, and its outcome, a release or a postpone
// lets it go, each exactly as the lease in a row did.
func TestClaimsOnSQLiteWriteNothing(t *testing.T) {
	t.Parallel()
	d, f := sqliteFixture(t)
	ctx := context.Background()
	ep := f.Endpoint(t, "*")
	for range 4 {
		f.Publish(t, "booking.created", "")
	}
	before := dataVersion(t, d)
	first, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 2, Lease: time.Minute})
	if err != nil || len(first) != 2 {
		t.Fatalf("claim = %d jobs (%v), want 2", len(first), err)
	}
	second, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute})
	if err != nil || len(second) != 2 {
		t.Fatalf("second claim = %d jobs (%v), want the 2 others", len(second), err)
	}
	if after := dataVersion(t, d); after != before {
		t.Errorf("two claims changed %d rows; a claim on SQLite writes nothing", after-before)
	}
	seen := map[string]bool{}
	for _, j := range append(append([]*queue.Job{}, first...), second...) {
		if seen[j.DeliveryID] {
			t.Fatalf("delivery %s claimed twice", j.DeliveryID)
		}
		seen[j.DeliveryID] = true
		if j.Endpoint == nil || j.Endpoint.ID != ep.ID || len(j.Payload) == 0 || j.Attempt != 1 {
			t.Errorf("job lacks what its attempt needs: %+v", j)
		}
		dl, err := f.Svc.Delivery(ctx, f.Org, j.DeliveryID)
		if err != nil || !dl.InFlight || dl.Status != hookbook.StatusPending {
			t.Errorf("claimed delivery %s: in_flight %v, status %s (%v); want in flight", j.DeliveryID, dl != nil && dl.InFlight, dl.Status, err)
		}
	}
	if more, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute}); len(more) != 0 {
		t.Fatalf("held deliveries claimed again: %d", len(more))
	}
	// A redelivery asked for while in flight leaves it to its worker.
	if _, err := f.Svc.Redeliver(ctx, f.Org, first[0].DeliveryID); err != nil {
		t.Fatal(err)
	}
	if more, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute}); len(more) != 0 {
		t.Fatalf("a redelivery of an in-flight delivery made it claimable twice: %d", len(more))
	}

	now := time.Now()
	err = f.Q.Complete(ctx, []*queue.Result{
		{Job: first[0], StartedAt: now, Duration: time.Millisecond, StatusCode: 200, Success: true},
		{Job: first[1], StartedAt: now, Duration: time.Millisecond, StatusCode: 500, Error: "HTTP 500", NextAttemptAt: now.Add(-time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ok, _ := f.Svc.Delivery(ctx, f.Org, first[0].DeliveryID)
	if ok.Status != hookbook.StatusSucceeded || ok.Attempts != 1 || ok.InFlight {
		t.Errorf("succeeded delivery = %s after %d attempts, in flight %v", ok.Status, ok.Attempts, ok.InFlight)
	}
	// The failed one is due again at once: its hold went with the outcome.
	retry, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute})
	if err != nil || len(retry) != 1 || retry[0].DeliveryID != first[1].DeliveryID || retry[0].Attempt != 2 {
		t.Fatalf("after a failure due now: claimed %d (%v), want its second attempt", len(retry), err)
	}
	// A release makes a held delivery due again; a postpone moves it.
	if err := f.Q.Release(ctx, second[:1]); err != nil {
		t.Fatal(err)
	}
	again, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute})
	if err != nil || len(again) != 1 || again[0].DeliveryID != second[0].DeliveryID {
		t.Fatalf("after a release: claimed %d (%v), want the released one", len(again), err)
	}
	until := time.Now().Add(time.Hour)
	if err := f.Q.Postpone(ctx, ep.ID, second[1:], until); err != nil {
		t.Fatal(err)
	}
	if more, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute}); len(more) != 0 {
		t.Fatalf("after a postpone: claimed %d, want none", len(more))
	}
	moved, _ := f.Svc.Delivery(ctx, f.Org, second[1].DeliveryID)
	if moved.InFlight || moved.NextAttemptAt == nil || moved.NextAttemptAt.Before(until.Add(-time.Second)) || moved.Attempts != 0 {
		t.Errorf("postponed delivery: in flight %v, next %v, %d attempts; want due in an hour, none spent", moved.InFlight, moved.NextAttemptAt, moved.Attempts)
	}
	st, err := f.Q.Stats(ctx)
	if err != nil || st.Pending != 3 || st.Due != 0 {
		t.Errorf("stats = %+v (%v), want 3 pending, none due (two in flight, one postponed)", st, err)
	}
}

// awaitClaim claims until the delivery id is claimed again, and fails the
// test if that takes more than a minute (holds kept after a failure go
// after 10 s, and a loaded machine may take seconds more to claim).
func awaitClaim(t *testing.T, q *queue.Queue, id string) *queue.Job {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		jobs, err := q.Claim(context.Background(), queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.DeliveryID == id {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s was never claimed again", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHeldLeaseOutlivesFailures: when an outcome cannot be recorded (its
// transaction fails, or cannot even begin) or a postpone fails, the
// delivery stays held until its lease ends, as a lease in a row would,
// and not before the engine has stopped retrying the outcome (here the
// lease has ended already), and is then claimed again: the attempt is
// repeated, never lost, and never repeated at once.
func TestHeldLeaseOutlivesFailures(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for name, fail := range map[string]func(f outboundtest.Fixture, j *queue.Job) error{
		"outcome fails": func(f outboundtest.Fixture, j *queue.Job) error {
			f.Q.Outcomes = func(context.Context, *db.Tx, []*queue.Result) error { return errors.New("disk full") }
			defer func() { f.Q.Outcomes = nil }()
			return f.Q.Complete(context.Background(), []*queue.Result{{Job: j, StartedAt: time.Now(), StatusCode: 200, Success: true}})
		},
		"outcome cannot begin": func(f outboundtest.Fixture, j *queue.Job) error {
			return f.Q.Complete(cancelled, []*queue.Result{{Job: j, StartedAt: time.Now(), StatusCode: 200, Success: true}})
		},
		"postpone fails": func(f outboundtest.Fixture, j *queue.Job) error {
			return f.Q.Postpone(cancelled, j.Endpoint.ID, []*queue.Job{j}, time.Now())
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, f := sqliteFixture(t)
			ctx := context.Background()
			f.Endpoint(t, "*")
			f.Publish(t, "booking.created", "")
			jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Nanosecond})
			if err != nil || len(jobs) != 1 {
				t.Fatalf("claim = %d (%v)", len(jobs), err)
			}
			if err := fail(f, jobs[0]); err == nil {
				t.Fatal("the failure did not fail")
			}
			if more, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute}); len(more) != 0 {
				t.Fatal("claimed again at once, before its lease ended")
			}
			if j := awaitClaim(t, f.Q, jobs[0].DeliveryID); j.Attempt != 1 {
				t.Errorf("claimed again as attempt %d, want 1 (no outcome was recorded)", j.Attempt)
			}
		})
	}
}

// TestHeldDeliveryOfARowLeaseThatEnded: a delivery handed over at
// publication (leased in its row) whose outcome was never recorded is
// claimed into memory once its lease ends, and that claim's outcome is
// recorded on it.
func TestHeldDeliveryOfARowLeaseThatEnded(t *testing.T) {
	t.Parallel()
	_, f := sqliteFixture(t)
	ctx := context.Background()
	ep := f.Endpoint(t, "*")
	e := &shortLease{engine{room: map[string]int{ep.ID: 1}, visible: func(string) bool { return true }}}
	f.Q.Engine = e
	p := f.Publish(t, "booking.created", "")
	if len(e.taken) != 1 {
		t.Fatalf("handed over %d deliveries, want 1", len(e.taken))
	}
	f.Q.Engine = nil
	j := awaitClaim(t, f.Q, p.Deliveries[0]) // its row's lease ends
	// The job handed over is given back meanwhile (its lease in the row
	// goes): the held claim's outcome is still recorded.
	if err := f.Q.Release(ctx, e.taken); err != nil {
		t.Fatal(err)
	}
	if err := f.Q.Complete(ctx, []*queue.Result{{Job: j, StartedAt: time.Now(), Duration: time.Millisecond, StatusCode: 200, Success: true}}); err != nil {
		t.Fatal(err)
	}
	dl, _ := f.Svc.Delivery(ctx, f.Org, j.DeliveryID)
	if dl.Status != hookbook.StatusSucceeded || dl.Attempts != 1 {
		t.Errorf("after a successful attempt: %s, %d attempts; want succeeded", dl.Status, dl.Attempts)
	}
	if more, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute}); len(more) != 0 {
		t.Errorf("a succeeded delivery was claimed again")
	}
}

type shortLease struct{ engine }

func (e *shortLease) LeaseTerms() (string, time.Duration) { return "ins_a", 50 * time.Millisecond }

// TestThrottledWhileHeld: an endpoint given a rate limit and an in-flight
// bound while some of its deliveries are held: the throttled claim never
// takes them again, counts them against max_in_flight, and their outcome
// is recorded.
func TestThrottledWhileHeld(t *testing.T) {
	t.Parallel()
	_, f := sqliteFixture(t)
	ctx := context.Background()
	ep := f.Endpoint(t, "*")
	for range 3 {
		f.Publish(t, "booking.created", "")
	}
	first, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute})
	if err != nil || len(first) != 1 {
		t.Fatalf("claim %d %v", len(first), err)
	}
	rate, inFlight := "100/s", 2
	if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, ep.ID, outbound.EndpointInput{RateLimit: outbound.Clearable[string]{Set: true, Value: &rate},
		MaxInFlight: outbound.Clearable[int]{Set: true, Value: &inFlight}}); err != nil {
		t.Fatal(err)
	}
	again, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].DeliveryID == first[0].DeliveryID {
		t.Fatalf("throttled claim took %d deliveries (the held one among them: %v); want 1, the held one counting as in flight",
			len(again), len(again) > 0 && again[0].DeliveryID == first[0].DeliveryID)
	}
	st, err := f.Q.EndpointState(ctx, ep.ID)
	if err != nil || st.InFlight != 2 || st.Due != 1 || st.Pending != 3 {
		t.Errorf("endpoint state = %+v (%v), want 3 pending, 2 in flight (one held, one leased), 1 due", st, err)
	}
	if err := f.Q.Complete(ctx, []*queue.Result{{Job: first[0], StartedAt: time.Now(), Duration: time.Millisecond, StatusCode: 200, Success: true}}); err != nil {
		t.Fatal(err)
	}
	if dl, _ := f.Svc.Delivery(ctx, f.Org, first[0].DeliveryID); dl.Status != hookbook.StatusSucceeded {
		t.Errorf("the held delivery's outcome was not recorded: %s", dl.Status)
	}
}

// TestHeldOutcomeOfARequeuedDelivery: a delivery held when its endpoint is
// disabled for its failures (so it fails), then enabled and the delivery
// redelivered: the old attempt's outcome is logged but does not settle
// the redelivery, which is claimed afresh; also when the clock has not
// moved in between.
func TestHeldOutcomeOfARequeuedDelivery(t *testing.T) {
	t.Parallel()
	t.Run("clock moving", func(t *testing.T) { t.Parallel(); heldOutcomeOfARequeuedDelivery(t, nil) })
	frozen := time.Now()
	t.Run("clock frozen", func(t *testing.T) {
		t.Parallel()
		heldOutcomeOfARequeuedDelivery(t, func() time.Time { return frozen })
	})
}

func heldOutcomeOfARequeuedDelivery(t *testing.T, clock func() time.Time) {
	d := dbtest.Open(t, dbtest.SQLiteURL(t))
	if clock != nil {
		d.Now = clock
	}
	f := outboundtest.New(t, d)
	ctx := context.Background()
	ep := f.Endpoint(t, "*")
	f.Publish(t, "booking.created", "")
	jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim %d %v", len(jobs), err)
	}
	// Disabled for its failures (its pending deliveries fail), then
	// enabled again by its owner.
	if _, err := f.Svc.DisableEndpoint(ctx, ep.ID, "failing for 5 days"); err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, ep.ID, outbound.EndpointInput{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Svc.Redeliver(ctx, f.Org, jobs[0].DeliveryID); err != nil {
		t.Fatal(err)
	}
	if err := f.Q.Complete(ctx, []*queue.Result{{Job: jobs[0], StartedAt: time.Now(), Duration: time.Millisecond, StatusCode: 200, Success: true}}); err != nil {
		t.Fatal(err)
	}
	dl, _ := f.Svc.Delivery(ctx, f.Org, jobs[0].DeliveryID)
	if dl.Status != hookbook.StatusPending {
		t.Errorf("redelivered delivery = %s after an attempt begun before it failed; want pending, for an attempt of its own", dl.Status)
	}
	if attempts, _ := f.Svc.Attempts(ctx, jobs[0].DeliveryID); len(attempts) != 1 {
		t.Errorf("the old attempt was not logged: %d attempts", len(attempts))
	}
	if j := awaitClaim(t, f.Q, jobs[0].DeliveryID); j == nil {
		t.Error("not claimed again")
	}
}

// TestQueueDepthLeavesHeldOut: the queue's depth counts a held delivery
// as in flight, not as due or waiting (no false lag alarm while an
// attempt runs).
func TestQueueDepthLeavesHeldOut(t *testing.T) {
	t.Parallel()
	_, f := sqliteFixture(t)
	ctx := context.Background()
	ep := f.Endpoint(t, "*")
	f.Publish(t, "booking.created", "")
	f.Publish(t, "booking.created", "")
	jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim %d %v", len(jobs), err)
	}
	st, err := f.Q.Stats(ctx)
	if err != nil || st.Pending != 2 || st.Due != 1 {
		t.Errorf("stats = %+v (%v), want 2 pending, 1 due (the other in flight)", st, err)
	}
	es, err := f.Q.EndpointState(ctx, ep.ID)
	if err != nil || es.Pending != 2 || es.Due != 1 || es.InFlight != 1 {
		t.Errorf("endpoint state = %+v (%v), want 2 pending, 1 due, 1 in flight", es, err)
	}
	rest, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute})
	if err != nil || len(rest) != 1 {
		t.Fatalf("claim %d %v", len(rest), err)
	}
	st, err = f.Q.Stats(ctx)
	if err != nil || st.Due != 0 || st.OldestDueAge != 0 {
		t.Errorf("stats with everything in flight = %+v (%v), want none due, no oldest due age", st, err)
	}
}

// TestRedeliverWhileHeld: a redelivery asked for while the delivery is in
// flight (held) leaves it to its worker: the worker's outcome settles it.
func TestRedeliverWhileHeld(t *testing.T) {
	t.Parallel()
	_, f := sqliteFixture(t)
	ctx := context.Background()
	f.Endpoint(t, "*")
	f.Publish(t, "booking.created", "")
	jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 10, Lease: time.Minute})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim %d %v", len(jobs), err)
	}
	dl, err := f.Svc.Redeliver(ctx, f.Org, jobs[0].DeliveryID)
	if err != nil || !dl.InFlight {
		t.Fatalf("redeliver while in flight = %+v (%v)", dl, err)
	}
	if err := f.Q.Complete(ctx, []*queue.Result{{Job: jobs[0], StartedAt: time.Now(), Duration: time.Millisecond, StatusCode: 200, Success: true}}); err != nil {
		t.Fatal(err)
	}
	if dl, _ := f.Svc.Delivery(ctx, f.Org, jobs[0].DeliveryID); dl.Status != hookbook.StatusSucceeded || dl.InFlight {
		t.Errorf("after its worker's success: %s, in flight %v", dl.Status, dl.InFlight)
	}
}

// sqliteFixture opens a SQLite database, whose claims hold their leases
// in memory, with an organization, its service and queue.
func sqliteFixture(t *testing.T) (*db.DB, outboundtest.Fixture) {
	t.Helper()
	d := dbtest.Open(t, dbtest.SQLiteURL(t))
	return d, outboundtest.New(t, d)
}
