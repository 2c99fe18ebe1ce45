package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/outboundtest"
	"github.com/hookbook/hookbook/internal/queue"
)

// dataVersion returns SQLite's count of commits to the database file by
// any connection: it moves only when something was written.
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
	d := dbtest.Open(t, dbtest.SQLiteURL(t))
	f := outboundtest.New(t, d)
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

// TestHeldLeaseOutlivesAFailedOutcome: when an outcome cannot be recorded,
// its delivery stays held until its lease ends, as a lease in a row would,
// and is then claimed again (the attempt is repeated, never lost).
func TestHeldLeaseOutlivesAFailedOutcome(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, dbtest.SQLiteURL(t))
	f := outboundtest.New(t, d)
	ctx := context.Background()
	f.Endpoint(t, "*")
	f.Publish(t, "booking.created", "")
	jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: 300 * time.Millisecond})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim = %d (%v)", len(jobs), err)
	}
	f.Q.Outcomes = func(context.Context, *db.Tx, []*queue.Result) error { return errors.New("disk full") }
	err = f.Q.Complete(ctx, []*queue.Result{{Job: jobs[0], StartedAt: time.Now(), StatusCode: 200, Success: true}})
	if err == nil {
		t.Fatal("Complete succeeded with a failing transaction")
	}
	if more, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute}); len(more) != 0 {
		t.Fatal("a delivery whose outcome failed to record was claimed again before its lease ended")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		again, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "a", Limit: 1, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(again) == 1 && again[0].DeliveryID == jobs[0].DeliveryID && again[0].Attempt == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery was never claimed again after its lease ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSQLiteServerOwnsItsFile: a second server cannot take a SQLite file
// one already owns; other commands still open it, and the file is free
// again once its owner closes it.
func TestSQLiteServerOwnsItsFile(t *testing.T) {
	t.Parallel()
	url := dbtest.SQLiteURL(t)
	first := dbtest.Open(t, url)
	if err := first.Own(); err != nil {
		t.Fatal(err)
	}
	second := dbtest.Open(t, url)
	if err := second.Own(); !errors.Is(err, db.ErrInUse) {
		t.Fatalf("second Own = %v, want ErrInUse", err)
	}
	if err := second.Ping(context.Background()); err != nil {
		t.Errorf("a database another process owns cannot be read: %v", err)
	}
	first.Close()
	if err := second.Own(); err != nil {
		t.Errorf("Own after the owner closed: %v", err)
	}
}
