package outbound_test

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

// finish claims every due delivery and records it failed, or succeeded for
// those whose event type ok says so.
func finish(t *testing.T, f outboundtest.Fixture, ok func(eventType string) bool) {
	t.Helper()
	ctx := context.Background()
	jobs, err := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "t", Limit: 100, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var results []*queue.Result
	for _, j := range jobs {
		r := &queue.Result{Job: j, StartedAt: time.Now(), StatusCode: 500, Error: "HTTP 500", ErrorKind: "http_status"}
		if ok(j.EventType) {
			r = &queue.Result{Job: j, StartedAt: time.Now(), StatusCode: 200, Success: true}
		}
		results = append(results, r)
	}
	if err := f.Q.Complete(ctx, results); err != nil {
		t.Fatal(err)
	}
}

func replayFilter(t *testing.T, in outbound.ReplayInput) outbound.ReplayFilter {
	t.Helper()
	f, err := outbound.ParseReplay(in, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestReplay: a replay queues one more attempt of exactly the deliveries
// its filter matches (the dry run's count), runs once per endpoint at a
// time, and ends done with its counts.
func TestReplay(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		ctx := context.Background()
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		ep, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/hook"), Events: &[]string{"*"}, MaxAttempts: outboundtest.Ptr(1)})
		if err != nil {
			t.Fatal(err)
		}
		f.Endpoint(t, "*") // another endpoint, whose deliveries stay pending
		for _, typ := range []string{"booking.created", "booking.cancelled", "customer.created", "booking.created"} {
			f.Publish(t, typ, "")
		}
		jobs, _ := f.Q.Claim(ctx, queue.ClaimRequest{Owner: "t", Limit: 100, Lease: time.Minute})
		var mine []*queue.Result
		for _, j := range jobs {
			if j.Endpoint.ID != ep.ID {
				if err := f.Q.Release(ctx, []*queue.Job{j}); err != nil {
					t.Fatal(err)
				}
				continue
			}
			r := &queue.Result{Job: j, StartedAt: time.Now(), StatusCode: 500, Error: "HTTP 500", ErrorKind: "http_status"}
			if j.EventType == "customer.created" {
				r = &queue.Result{Job: j, StartedAt: time.Now(), StatusCode: 200, Success: true}
			}
			mine = append(mine, r)
		}
		if err := f.Q.Complete(ctx, mine); err != nil {
			t.Fatal(err)
		}

		count := func(in outbound.ReplayInput) int {
			t.Helper()
			c, err := f.Svc.CountReplay(ctx, f.Org, ep.ID, replayFilter(t, in))
			if err != nil {
				t.Fatal(err)
			}
			return c.Count
		}
		for name, tc := range map[string]struct {
			in   outbound.ReplayInput
			want int
		}{
			"failed by default": {outbound.ReplayInput{Since: &since}, 3},
			"succeeded":         {outbound.ReplayInput{Since: &since, Status: outboundtest.Ptr("succeeded")}, 1},
			"any":               {outbound.ReplayInput{Since: &since, Status: outboundtest.Ptr("any")}, 4},
			"exact event":       {outbound.ReplayInput{Since: &since, Event: outboundtest.Ptr("booking.cancelled")}, 1},
			"wildcard":          {outbound.ReplayInput{Since: &since, Event: outboundtest.Ptr("booking.*"), Status: outboundtest.Ptr("any")}, 3},
			"until before":      {outbound.ReplayInput{Since: &since, Until: outboundtest.Ptr(time.Now().Add(-30 * time.Second).UTC().Format(time.RFC3339))}, 0},
			"since after":       {outbound.ReplayInput{Since: outboundtest.Ptr(time.Now().Add(time.Minute).UTC().Format(time.RFC3339))}, 0},
		} {
			if got := count(tc.in); got != tc.want {
				t.Errorf("%s: count = %d, want %d", name, got, tc.want)
			}
		}

		filter := replayFilter(t, outbound.ReplayInput{Since: &since, Event: outboundtest.Ptr("booking.*")})
		r, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, filter)
		if err != nil || r.Status != outbound.ReplayRunning || r.Total != 3 || r.Queued != 0 {
			t.Fatalf("start = %+v %v", r, err)
		}
		again, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, replayFilter(t, outbound.ReplayInput{Since: &since, Event: outboundtest.Ptr("booking.*")}))
		if err != nil || again.ID != r.ID || !again.Running {
			t.Errorf("the same replay again = %+v %v, want the running one", again, err)
		}
		if _, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, replayFilter(t, outbound.ReplayInput{Since: &since})); hookbook.Code(err) != "replay_running" {
			t.Errorf("another replay while one runs = %v, want replay_running", err)
		}
		if _, err := f.Svc.StartReplay(ctx, "org_other", ep.ID, filter); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("another organization's replay = %v, want not found", err)
		}
		finished, err := f.Svc.RunReplays(ctx)
		if err != nil || len(finished) != 1 || finished[0].ID != r.ID {
			t.Fatalf("run = %+v %v", finished, err)
		}
		got, err := f.Svc.Replay(ctx, f.Org, r.ID)
		if err != nil || got.Status != outbound.ReplayDone || got.Queued != 3 || got.FinishedAt == nil {
			t.Fatalf("replay after the run = %+v %v", got, err)
		}
		list, _, err := f.Svc.Deliveries(ctx, f.Org, outbound.DeliveryFilter{EndpointID: ep.ID}, db.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, dl := range list {
			want := hookbook.StatusPending
			if dl.EventType == "customer.created" {
				want = hookbook.StatusSucceeded
			}
			if dl.Status != want || (want == hookbook.StatusPending && dl.MaxAttempts != dl.Attempts+1) {
				t.Errorf("%s delivery after the replay: %s, %d of %d attempts", dl.EventType, dl.Status, dl.Attempts, dl.MaxAttempts)
			}
		}
		// Now pending, nothing more to replay; a new replay may start.
		if n := count(outbound.ReplayInput{Since: &since, Event: outboundtest.Ptr("booking.*")}); n != 0 {
			t.Errorf("count after the replay = %d, want 0 (pending deliveries are not replayed)", n)
		}
		if empty, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, filter); !errors.Is(err, outbound.ErrNothingToReplay) {
			t.Errorf("replay of nothing = %+v %v, want ErrNothingToReplay", empty, err)
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM replays WHERE endpoint_id = $1`, ep.ID).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d replays stored (%v), want 1: a replay of nothing is not stored", n, err)
		}
	})
}

// TestReplaySameRequest: while a replay runs, a request is the same replay
// when the client sent the same fields: an until not given matches a
// replay started without one, whenever either request read the clock, and
// a given until matches only itself.
func TestReplaySameRequest(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		f.Svc.SetReplayBatch(1)
		ctx := context.Background()
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		ep := f.Endpoint(t, "*")
		for i := 0; i < 4; i++ {
			f.Publish(t, "booking.created", "")
		}
		finish(t, f, func(string) bool { return false })
		in := outbound.ReplayInput{Since: &since, Status: outboundtest.Ptr("any")}
		// Two identical requests sent together: the second read the clock
		// before the first stored its replay.
		second := replayFilter(t, in)
		first := replayFilter(t, in)
		r, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, first)
		if err != nil || r.Status != outbound.ReplayRunning || r.Total != 4 {
			t.Fatalf("start = %+v %v", r, err)
		}
		if err := f.Svc.ReplayStepOnce(ctx); err != nil {
			t.Fatal(err)
		}
		again, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, second)
		if err != nil || again.ID != r.ID || !again.Running {
			t.Errorf("the same request again = %+v %v, want the running replay", again, err)
		}
		if again, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, replayFilter(t, in)); err != nil || again.ID != r.ID || !again.Running {
			t.Errorf("the same request later = %+v %v, want the running replay", again, err)
		}
		// A given until is another request, even the running one's.
		until := time.Now().Add(-time.Millisecond).UTC().Format(time.RFC3339Nano)
		if _, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, replayFilter(t, outbound.ReplayInput{Since: &since, Until: &until, Status: outboundtest.Ptr("any")})); hookbook.Code(err) != "replay_running" {
			t.Errorf("the request with an until = %v, want replay_running", err)
		}
		if got, _ := f.Svc.Replay(ctx, f.Org, r.ID); got.Status != outbound.ReplayRunning || got.Queued != 1 {
			t.Fatalf("replay after one step = %+v, want running with 1 queued", got)
		}
		if _, err := f.Svc.RunReplays(ctx); err != nil {
			t.Fatal(err)
		}
		finish(t, f, func(string) bool { return false })

		// A replay with a given until: the same until is the same request, none is another.
		withUntil := replayFilter(t, outbound.ReplayInput{Since: &since, Until: &until, Status: outboundtest.Ptr("any")})
		r2, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, withUntil)
		if err != nil || r2.ID == r.ID || r2.Running {
			t.Fatalf("start with until = %+v %v", r2, err)
		}
		if again, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, replayFilter(t, outbound.ReplayInput{Since: &since, Until: &until, Status: outboundtest.Ptr("any")})); err != nil || again.ID != r2.ID || !again.Running {
			t.Errorf("the same request with until = %+v %v, want the running replay", again, err)
		}
		if _, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, replayFilter(t, in)); hookbook.Code(err) != "replay_running" {
			t.Errorf("the request without until = %v, want replay_running", err)
		}
	})
}

// TestReplayBoundAndStops: a replay queues at most its limit, in batches,
// and one whose endpoint is disabled before it ends fails.
func TestReplayBoundAndStops(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		f.Svc.ReplayLimit = 3
		ctx := context.Background()
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		ep := f.Endpoint(t, "*")
		for i := 0; i < 5; i++ {
			f.Publish(t, "booking.created", "")
		}
		finish(t, f, func(string) bool { return true })
		filter := replayFilter(t, outbound.ReplayInput{Since: &since, Status: outboundtest.Ptr("succeeded")})
		c, err := f.Svc.CountReplay(ctx, f.Org, ep.ID, filter)
		if err != nil || c.Count != 3 || !c.Capped || c.Limit != 3 {
			t.Fatalf("count = %+v %v, want 3 capped", c, err)
		}
		r, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, filter)
		if err != nil || r.Total != 3 || !r.Capped {
			t.Fatalf("start = %+v %v", r, err)
		}
		if _, err := f.Svc.RunReplays(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.Svc.Replay(ctx, f.Org, r.ID); got.Queued != 3 || got.Status != outbound.ReplayDone {
			t.Errorf("capped replay = %+v, want 3 queued", got)
		}
		pending, _, _ := f.Svc.Deliveries(ctx, f.Org, outbound.DeliveryFilter{EndpointID: ep.ID, Status: hookbook.StatusPending}, db.Page{Limit: 10})
		if len(pending) != 3 {
			t.Errorf("%d deliveries queued, want 3", len(pending))
		}

		// The two left: the replay starts, the endpoint is disabled, the replay fails.
		finish(t, f, func(string) bool { return true })
		r2, err := f.Svc.StartReplay(ctx, f.Org, ep.ID, filter)
		if err != nil || r2.Status != outbound.ReplayRunning {
			t.Fatalf("second start = %+v %v", r2, err)
		}
		if _, err := f.Svc.DisableEndpoint(ctx, ep.ID, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Svc.RunReplays(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.Svc.Replay(ctx, f.Org, r2.ID); got.Status != outbound.ReplayFailed || got.Error == nil {
			t.Errorf("replay of a disabled endpoint = %+v, want failed with a reason", got)
		}
		if _, err := f.Svc.CountReplay(ctx, f.Org, ep.ID, filter); hookbook.Code(err) != "endpoint_disabled" {
			t.Errorf("count on a disabled endpoint = %v, want endpoint_disabled", err)
		}
		if _, err := f.Svc.CountReplay(ctx, f.Org, "ep_nope", filter); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("count on an unknown endpoint = %v, want not found", err)
		}
		if _, err := f.Svc.Replay(ctx, "org_other", r.ID); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("another organization reads the replay: %v", err)
		}
		// Retention removes finished replays with the deliveries.
		if _, _, err := f.Svc.Purge(ctx, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Svc.Replay(ctx, f.Org, r.ID); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("a finished replay after the retention purge: %v", err)
		}
	})
}

func TestParseReplay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 24, 12, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		in    outbound.ReplayInput
		field string
	}{
		"no since":       {outbound.ReplayInput{}, "since"},
		"bad since":      {outbound.ReplayInput{Since: outboundtest.Ptr("yesterday")}, "since"},
		"bad until":      {outbound.ReplayInput{Since: outboundtest.Ptr("2026-03-24T10:00:00Z"), Until: outboundtest.Ptr("soon")}, "until"},
		"until <= since": {outbound.ReplayInput{Since: outboundtest.Ptr("2026-03-24T10:00:00Z"), Until: outboundtest.Ptr("2026-03-24T10:00:00Z")}, "until"},
		"pending":        {outbound.ReplayInput{Since: outboundtest.Ptr("2026-03-24T10:00:00Z"), Status: outboundtest.Ptr("pending")}, "status"},
		"bad status":     {outbound.ReplayInput{Since: outboundtest.Ptr("2026-03-24T10:00:00Z"), Status: outboundtest.Ptr("all")}, "status"},
		"bad event":      {outbound.ReplayInput{Since: outboundtest.Ptr("2026-03-24T10:00:00Z"), Event: outboundtest.Ptr("Booking!")}, "event"},
	} {
		_, err := outbound.ParseReplay(tc.in, now)
		e := hookbook.AsError(err)
		if e == nil || e.Kind != hookbook.EValidation || e.Details[tc.field] == "" {
			t.Errorf("%s: %v, want a validation error naming %s", name, err, tc.field)
		}
	}
	f, err := outbound.ParseReplay(outbound.ReplayInput{Since: outboundtest.Ptr("2026-03-24T10:00:00Z"), Until: outboundtest.Ptr("2027-01-01T00:00:00Z"), Event: outboundtest.Ptr("*")}, now)
	if err != nil || !f.Until.Equal(now) || f.Status != "failed" || f.Event != "" {
		t.Errorf("defaults = %+v %v: until capped at now, failed, any event", f, err)
	}
}

// FuzzParseReplay: any input is a filter or a validation error, never a
// panic, and a filter's range is never empty or in the future.
func FuzzParseReplay(f *testing.F) {
	f.Add("2026-03-24T10:00:00Z", "", "failed", "booking.*")
	f.Add("2026-03-24T10:00:00+02:00", "2026-03-24T11:00:00Z", "any", "*")
	f.Add("", "x", "pending", "Booking!")
	now := time.Date(2026, 3, 24, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, since, until, status, evt string) {
		r, err := outbound.ParseReplay(outbound.ReplayInput{Since: &since, Until: &until, Status: &status, Event: &evt}, now)
		if err != nil {
			if e := hookbook.AsError(err); e == nil || e.Kind != hookbook.EValidation || len(e.Details) == 0 {
				t.Fatalf("error %v is not a validation error naming fields", err)
			}
			return
		}
		if !r.Until.After(r.Since) && r.Since.Before(now) {
			t.Fatalf("empty range %v..%v", r.Since, r.Until)
		}
		if r.Until.After(now) {
			t.Fatalf("until %v after now", r.Until)
		}
	})
}

// TestReplayResumesFromItsCursor: a replay interrupted after a batch is
// carried on by another Service (another instance, or after a restart)
// from its stored cursor: what the first batch queued is not queued twice.
// An organization runs at most MaxRunningReplays replays at a time.
func TestReplayResumesFromItsCursor(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := outboundtest.New(t, d)
		f.Svc.SetReplayBatch(2)
		ctx := context.Background()
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		var eps []string
		for range outbound.MaxRunningReplays + 1 {
			ep, err := f.Svc.CreateEndpoint(ctx, f.Org, outbound.EndpointInput{URL: outboundtest.Ptr("http://127.0.0.1:9/hook"), Events: &[]string{"booking.*"}, MaxAttempts: outboundtest.Ptr(1)})
			if err != nil {
				t.Fatal(err)
			}
			eps = append(eps, ep.ID)
		}
		for range 5 {
			f.Publish(t, "booking.created", "")
		}
		finish(t, f, func(string) bool { return false })
		finish(t, f, func(string) bool { return false })
		filter := replayFilter(t, outbound.ReplayInput{Since: &since})
		r, err := f.Svc.StartReplay(ctx, f.Org, eps[0], filter)
		if err != nil || r.Total != 5 {
			t.Fatalf("start = %+v %v", r, err)
		}
		if err := f.Svc.ReplayStepOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.Svc.Replay(ctx, f.Org, r.ID); got.Queued != 2 || got.Status != outbound.ReplayRunning {
			t.Fatalf("after one batch: %+v", got)
		}
		// The two queued are attempted and succeed before the replay goes on.
		finish(t, f, func(string) bool { return true })

		// Another instance carries the replay on.
		q := &queue.Queue{DB: d}
		other := &outbound.Service{DB: d, Guard: f.Svc.Guard, HeaderPrefix: "X-Hookbook", Queue: q}
		q.Endpoints = other
		other.SetReplayBatch(2)
		if _, err := other.RunReplays(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := other.Replay(ctx, f.Org, r.ID)
		if got.Status != outbound.ReplayDone || got.Queued != 5 {
			t.Errorf("after the resume: %+v, want done with 5 queued", got)
		}
		byStatus := map[string]int{}
		list, _, _ := f.Svc.Deliveries(ctx, f.Org, outbound.DeliveryFilter{EndpointID: eps[0]}, db.Page{Limit: 10})
		for _, dl := range list {
			byStatus[dl.Status]++
		}
		if byStatus[hookbook.StatusSucceeded] != 2 || byStatus[hookbook.StatusPending] != 3 {
			t.Errorf("deliveries after the resume: %v, want the first two succeeded (not queued twice) and three pending", byStatus)
		}

		// MaxRunningReplays of one organization at a time (the finished one does not count).
		for _, ep := range eps[1:] {
			if _, err := f.Svc.StartReplay(ctx, f.Org, ep, filter); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.Svc.StartReplay(ctx, f.Org, eps[0], filter); hookbook.Code(err) != "replay_limit" {
			t.Errorf("replay %d = %v, want replay_limit", outbound.MaxRunningReplays+1, err)
		}
	})
}
