package queue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/outboundtest"
	"github.com/hookbook/hookbook/internal/queue"
)

// clock is a settable clock for a database under test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// claimFor claims with owner and returns how many of endpointID's
// deliveries it got, and the rest.
func claimFor(t *testing.T, q *queue.Queue, owner string, limit int, endpointID string) (int, []*queue.Job) {
	t.Helper()
	jobs, err := q.Claim(context.Background(), queue.ClaimRequest{Owner: owner, Limit: limit, Lease: time.Minute, PerEndpoint: 16})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, j := range jobs {
		if j.Endpoint.ID == endpointID {
			n++
		}
	}
	return n, jobs
}

// TestThrottledClaim: a throttled endpoint's deliveries are never handed
// over at publication; a claim takes at most its rate's allowance and what
// its max_in_flight leaves, concurrent claimers share one allowance, its
// backlog never stands in the way of other endpoints' deliveries, and
// clearing the throttle lets its backlog go.
func TestThrottledClaim(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		c := &clock{now: time.Unix(1_800_000_000, 0)}
		d.Now = c.Now
		f := outboundtest.New(t, d)
		ctx := context.Background()
		free := f.Endpoint(t, "*")
		thr, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/t"), Events: &[]string{"*"},
			RateLimit: outbound.Clear(outboundtest.Ptr("2/s")), MaxInFlight: outbound.Clear(outboundtest.Ptr(3))})
		if err != nil {
			t.Fatal(err)
		}
		if thr.RateLimit == nil || *thr.RateLimit != "2/s" || thr.MaxInFlight == nil || *thr.MaxInFlight != 3 {
			t.Fatalf("created %v %v", thr.RateLimit, thr.MaxInFlight)
		}
		e := &engine{room: map[string]int{free.ID: 100, thr.ID: 100}, visible: func(string) bool { return true }}
		f.Q.Engine = e
		for range 8 {
			f.Publish(t, "booking.created", "")
		}
		for _, id := range e.asked {
			if id == thr.ID {
				t.Fatal("the engine was asked to take a throttled endpoint's delivery at publication")
			}
		}
		if len(e.taken) != 8 {
			t.Fatalf("the engine took %d deliveries of the free endpoint, want 8", len(e.taken))
		}
		f.Q.Engine = nil
		c.Add(time.Millisecond)
		f.Publish(t, "booking.created", "") // one due for each endpoint, behind the throttled backlog

		// The burst (2), then nothing until the rate allows; the free
		// endpoint's delivery comes regardless, even with room for one.
		if n, jobs := claimFor(t, f.Q, "a", 1, thr.ID); n != 1 || len(jobs) != 1 {
			t.Fatalf("claim of 1: %d throttled of %d", n, len(jobs))
		}
		if n, jobs := claimFor(t, f.Q, "a", 10, thr.ID); n != 1 || len(jobs) != 2 {
			t.Fatalf("second claim: %d throttled of %d, want the burst's second and the free delivery", n, len(jobs))
		}
		if n, _ := claimFor(t, f.Q, "a", 10, thr.ID); n != 0 {
			t.Fatalf("claimed %d beyond the burst", n)
		}
		claimedAt := c.Now()
		next, ok, err := f.Q.NextAllowed(ctx, claimedAt)
		if err != nil || !ok || !next.Equal(c.Now().Add(500*time.Millisecond)) {
			t.Fatalf("NextAllowed = %v %v %v, want in 500ms", next.Sub(c.Now()), ok, err)
		}
		// On a busy machine the claimer may ask only after that time has
		// come: it still gets it (claim now), not the next poll.
		c.Add(time.Second)
		if late, ok, err := f.Q.NextAllowed(ctx, claimedAt); err != nil || !ok || !late.Equal(next) {
			t.Fatalf("NextAllowed asked late = %v %v %v, want the time that passed, %v", late, ok, err, next)
		}
		c.Add(-time.Second)
		st, err := f.Q.EndpointState(ctx, thr.ID)
		if err != nil || st.Pending != 9 || st.InFlight != 2 || st.Due != 7 || st.OldestPendingAt == nil || st.NextAllowedAt == nil || !st.NextAllowedAt.Equal(next) {
			t.Fatalf("state %+v %v", st, err)
		}
		// A publication the rate cannot serve before then wakes no claim:
		// this instance's engine is told when instead.
		e.room[free.ID] = 100
		f.Q.Engine = e
		notified, at := 0, time.Time{}
		f.Q.Notify, f.Q.NotifyAt = func() { notified++ }, func(t time.Time) { at = t }
		f.Publish(t, "booking.created", "")
		f.Q.Engine, f.Q.Notify, f.Q.NotifyAt = nil, nil, nil
		if notified != 0 || !at.Equal(next) {
			t.Fatalf("a publication to the throttled endpoint woke %d claims and told the engine %v, want none and %v", notified, at, next)
		}
		c.Add(500 * time.Millisecond)
		n, third := claimFor(t, f.Q, "b", 10, thr.ID)
		if n != 1 {
			t.Fatalf("claimed %d once the rate allowed one, want 1", n)
		}
		// max_in_flight 3 is reached: the rate allows more, the bound not.
		c.Add(10 * time.Second)
		if n, _ := claimFor(t, f.Q, "b", 10, thr.ID); n != 0 {
			t.Fatalf("claimed %d beyond max_in_flight", n)
		}
		if err := f.Q.Complete(ctx, []*queue.Result{{Job: third[0], StartedAt: c.Now(), Duration: time.Millisecond, StatusCode: 204, Success: true}}); err != nil {
			t.Fatal(err)
		}
		if n, _ := claimFor(t, f.Q, "b", 10, thr.ID); n != 1 {
			t.Fatalf("claimed %d after one finished, want 1", n)
		}
		// Concurrent claimers after a pause share one burst.
		c.Add(time.Hour) // the leases end: none in flight
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "w" + string(rune('0'+i)), Limit: 10, Lease: time.Minute})
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, j := range jobs {
					if j.Endpoint.ID == thr.ID {
						total++
					}
				}
			}()
		}
		wg.Wait()
		if total != 2 {
			t.Fatalf("4 concurrent claimers took %d of the throttled endpoint's deliveries, want its burst of 2", total)
		}
		// A new rate starts afresh: its burst at once, within max_in_flight
		// (3, of which the claimers above hold 2).
		if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, thr.ID, outbound.EndpointInput{RateLimit: outbound.Clear(outboundtest.Ptr("5/s"))}); err != nil {
			t.Fatal(err)
		}
		if n, _ := claimFor(t, f.Q, "d", 10, thr.ID); n != 1 {
			t.Fatalf("claimed %d right after the rate changed, want 1", n)
		}
		// Clearing the throttle: its backlog goes through the open claim.
		if _, err := f.Svc.UpdateEndpoint(ctx, f.Org, thr.ID, outbound.EndpointInput{RateLimit: outbound.Clear[string](nil), MaxInFlight: outbound.Clear[int](nil)}); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Hour)
		if n, _ := claimFor(t, f.Q, "c", 100, thr.ID); n != 9 {
			t.Fatalf("claimed %d of the unthrottled endpoint's 9 pending deliveries (one succeeded)", n)
		}
		if _, ok, _ := f.Q.NextAllowed(ctx, c.Now()); ok {
			t.Errorf("NextAllowed after the throttle was cleared")
		}
	})
}
