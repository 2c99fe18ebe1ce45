package outbound_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/dbtest"
	"github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/queue"
)

// finish claims every due delivery and records it failed, or succeeded for
// those whose event type ok says so.
func (f fixture) finish(t *testing.T, ok func(eventType string) bool) {
	t.Helper()
	ctx := context.Background()
	jobs, err := f.q.Claim(ctx, queue.ClaimRequest{Owner: "t", Limit: 100, Lease: time.Minute})
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
	if err := f.q.Complete(ctx, results); err != nil {
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
		f := setup(t, d)
		ctx := context.Background()
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		ep, err := f.svc.CreateEndpoint(ctx, f.org, outbound.EndpointInput{URL: ptr("http://127.0.0.1:9/hook"), Events: &[]string{"*"}, MaxAttempts: ptr(1)})
		if err != nil {
			t.Fatal(err)
		}
		f.endpoint(t, "*") // another endpoint, whose deliveries stay pending
		for _, typ := range []string{"booking.created", "booking.cancelled", "customer.created", "booking.created"} {
			f.publish(t, typ, "")
		}
		jobs, _ := f.q.Claim(ctx, queue.ClaimRequest{Owner: "t", Limit: 100, Lease: time.Minute})
		var mine []*queue.Result
		for _, j := range jobs {
			if j.Endpoint.ID != ep.ID {
				if err := f.q.Release(ctx, []*queue.Job{j}); err != nil {
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
		if err := f.q.Complete(ctx, mine); err != nil {
			t.Fatal(err)
		}

		count := func(in outbound.ReplayInput) int {
			t.Helper()
			c, err := f.svc.CountReplay(ctx, f.org, ep.ID, replayFilter(t, in))
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
			"succeeded":         {outbound.ReplayInput{Since: &since, Status: ptr("succeeded")}, 1},
			"any":               {outbound.ReplayInput{Since: &since, Status: ptr("any")}, 4},
			"exact event":       {outbound.ReplayInput{Since: &since, Event: ptr("booking.cancelled")}, 1},
			"wildcard":          {outbound.ReplayInput{Since: &since, Event: ptr("booking.*"), Status: ptr("any")}, 3},
			"until before":      {outbound.ReplayInput{Since: &since, Until: ptr(time.Now().Add(-30 * time.Second).UTC().Format(time.RFC3339))}, 0},
			"since after":       {outbound.ReplayInput{Since: ptr(time.Now().Add(time.Minute).UTC().Format(time.RFC3339))}, 0},
		} {
			if got := count(tc.in); got != tc.want {
				t.Errorf("%s: count = %d, want %d", name, got, tc.want)
			}
		}

		filter := replayFilter(t, outbound.ReplayInput{Since: &since, Event: ptr("booking.*")})
		r, err := f.svc.StartReplay(ctx, f.org, ep.ID, filter)
		if err != nil || r.Status != outbound.ReplayRunning || r.Total != 3 || r.Queued != 0 {
			t.Fatalf("start = %+v %v", r, err)
		}
		again, err := f.svc.StartReplay(ctx, f.org, ep.ID, replayFilter(t, outbound.ReplayInput{Since: &since, Event: ptr("booking.*")}))
		if err != nil || again.ID != r.ID || !again.Running {
			t.Errorf("the same replay again = %+v %v, want the running one", again, err)
		}
		if _, err := f.svc.StartReplay(ctx, f.org, ep.ID, replayFilter(t, outbound.ReplayInput{Since: &since})); hookbook.Code(err) != "replay_running" {
			t.Errorf("another replay while one runs = %v, want replay_running", err)
		}
		if _, err := f.svc.StartReplay(ctx, "org_other", ep.ID, filter); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("another organization's replay = %v, want not found", err)
		}
		finished, err := f.svc.RunReplays(ctx)
		if err != nil || len(finished) != 1 || finished[0].ID != r.ID {
			t.Fatalf("run = %+v %v", finished, err)
		}
		got, err := f.svc.Replay(ctx, f.org, r.ID)
		if err != nil || got.Status != outbound.ReplayDone || got.Queued != 3 || got.FinishedAt == nil {
			t.Fatalf("replay after the run = %+v %v", got, err)
		}
		list, _, err := f.svc.Deliveries(ctx, f.org, outbound.DeliveryFilter{EndpointID: ep.ID}, db.Page{Limit: 10})
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
		if n := count(outbound.ReplayInput{Since: &since, Event: ptr("booking.*")}); n != 0 {
			t.Errorf("count after the replay = %d, want 0 (pending deliveries are not replayed)", n)
		}
		empty, err := f.svc.StartReplay(ctx, f.org, ep.ID, filter)
		if err != nil || empty.Status != outbound.ReplayDone || empty.Total != 0 {
			t.Errorf("replay of nothing = %+v %v, want done at once", empty, err)
		}
	})
}

// TestReplayBoundAndStops: a replay queues at most its limit, in batches,
// and one whose endpoint is disabled before it ends fails.
func TestReplayBoundAndStops(t *testing.T) {
	t.Parallel()
	dbtest.EachBackend(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		f.svc.ReplayLimit = 3
		ctx := context.Background()
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		ep := f.endpoint(t, "*")
		for i := 0; i < 5; i++ {
			f.publish(t, "booking.created", "")
		}
		f.finish(t, func(string) bool { return true })
		filter := replayFilter(t, outbound.ReplayInput{Since: &since, Status: ptr("succeeded")})
		c, err := f.svc.CountReplay(ctx, f.org, ep.ID, filter)
		if err != nil || c.Count != 3 || !c.Capped || c.Limit != 3 {
			t.Fatalf("count = %+v %v, want 3 capped", c, err)
		}
		r, err := f.svc.StartReplay(ctx, f.org, ep.ID, filter)
		if err != nil || r.Total != 3 || !r.Capped {
			t.Fatalf("start = %+v %v", r, err)
		}
		if _, err := f.svc.RunReplays(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.svc.Replay(ctx, f.org, r.ID); got.Queued != 3 || got.Status != outbound.ReplayDone {
			t.Errorf("capped replay = %+v, want 3 queued", got)
		}
		pending, _, _ := f.svc.Deliveries(ctx, f.org, outbound.DeliveryFilter{EndpointID: ep.ID, Status: hookbook.StatusPending}, db.Page{Limit: 10})
		if len(pending) != 3 {
			t.Errorf("%d deliveries queued, want 3", len(pending))
		}

		// The two left: the replay starts, the endpoint is disabled, the replay fails.
		f.finish(t, func(string) bool { return true })
		r2, err := f.svc.StartReplay(ctx, f.org, ep.ID, filter)
		if err != nil || r2.Status != outbound.ReplayRunning {
			t.Fatalf("second start = %+v %v", r2, err)
		}
		if _, err := f.svc.DisableEndpoint(ctx, ep.ID, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RunReplays(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.svc.Replay(ctx, f.org, r2.ID); got.Status != outbound.ReplayFailed || got.Error == nil {
			t.Errorf("replay of a disabled endpoint = %+v, want failed with a reason", got)
		}
		if _, err := f.svc.CountReplay(ctx, f.org, ep.ID, filter); hookbook.Code(err) != "endpoint_disabled" {
			t.Errorf("count on a disabled endpoint = %v, want endpoint_disabled", err)
		}
		if _, err := f.svc.CountReplay(ctx, f.org, "ep_nope", filter); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("count on an unknown endpoint = %v, want not found", err)
		}
		if _, err := f.svc.Replay(ctx, "org_other", r.ID); !hookbook.IsKind(err, hookbook.ENotFound) {
			t.Errorf("another organization reads the replay: %v", err)
		}
		// Retention removes finished replays with the deliveries.
		if _, _, err := f.svc.Purge(ctx, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Replay(ctx, f.org, r.ID); !hookbook.IsKind(err, hookbook.ENotFound) {
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
		"bad since":      {outbound.ReplayInput{Since: ptr("yesterday")}, "since"},
		"bad until":      {outbound.ReplayInput{Since: ptr("2026-03-24T10:00:00Z"), Until: ptr("soon")}, "until"},
		"until <= since": {outbound.ReplayInput{Since: ptr("2026-03-24T10:00:00Z"), Until: ptr("2026-03-24T10:00:00Z")}, "until"},
		"pending":        {outbound.ReplayInput{Since: ptr("2026-03-24T10:00:00Z"), Status: ptr("pending")}, "status"},
		"bad status":     {outbound.ReplayInput{Since: ptr("2026-03-24T10:00:00Z"), Status: ptr("all")}, "status"},
		"bad event":      {outbound.ReplayInput{Since: ptr("2026-03-24T10:00:00Z"), Event: ptr("Booking!")}, "event"},
	} {
		_, err := outbound.ParseReplay(tc.in, now)
		e := hookbook.AsError(err)
		if e == nil || e.Kind != hookbook.EValidation || e.Details[tc.field] == "" {
			t.Errorf("%s: %v, want a validation error naming %s", name, err, tc.field)
		}
	}
	f, err := outbound.ParseReplay(outbound.ReplayInput{Since: ptr("2026-03-24T10:00:00Z"), Until: ptr("2027-01-01T00:00:00Z"), Event: ptr("*")}, now)
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
		f := setup(t, d)
		f.svc.SetReplayBatch(2)
		ctx := context.Background()
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		var eps []string
		for range outbound.MaxRunningReplays + 1 {
			ep, err := f.svc.CreateEndpoint(ctx, f.org, outbound.EndpointInput{URL: ptr("http://127.0.0.1:9/hook"), Events: &[]string{"booking.*"}, MaxAttempts: ptr(1)})
			if err != nil {
				t.Fatal(err)
			}
			eps = append(eps, ep.ID)
		}
		for range 5 {
			f.publish(t, "booking.created", "")
		}
		f.finish(t, func(string) bool { return false })
		f.finish(t, func(string) bool { return false })
		filter := replayFilter(t, outbound.ReplayInput{Since: &since})
		r, err := f.svc.StartReplay(ctx, f.org, eps[0], filter)
		if err != nil || r.Total != 5 {
			t.Fatalf("start = %+v %v", r, err)
		}
		if err := f.svc.ReplayStepOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.svc.Replay(ctx, f.org, r.ID); got.Queued != 2 || got.Status != outbound.ReplayRunning {
			t.Fatalf("after one batch: %+v", got)
		}
		// The two queued are attempted and succeed before the replay goes on.
		f.finish(t, func(string) bool { return true })

		// Another instance carries the replay on.
		q := &queue.Queue{DB: d}
		other := &outbound.Service{DB: d, Guard: f.svc.Guard, HeaderPrefix: "X-Hookbook", Queue: q}
		q.Endpoints = other
		other.SetReplayBatch(2)
		if _, err := other.RunReplays(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := other.Replay(ctx, f.org, r.ID)
		if got.Status != outbound.ReplayDone || got.Queued != 5 {
			t.Errorf("after the resume: %+v, want done with 5 queued", got)
		}
		byStatus := map[string]int{}
		list, _, _ := f.svc.Deliveries(ctx, f.org, outbound.DeliveryFilter{EndpointID: eps[0]}, db.Page{Limit: 10})
		for _, dl := range list {
			byStatus[dl.Status]++
		}
		if byStatus[hookbook.StatusSucceeded] != 2 || byStatus[hookbook.StatusPending] != 3 {
			t.Errorf("deliveries after the resume: %v, want the first two succeeded (not queued twice) and three pending", byStatus)
		}

		// MaxRunningReplays of one organization at a time (the finished one does not count).
		for _, ep := range eps[1:] {
			if _, err := f.svc.StartReplay(ctx, f.org, ep, filter); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.svc.StartReplay(ctx, f.org, eps[0], filter); hookbook.Code(err) != "replay_limit" {
			t.Errorf("replay %d = %v, want replay_limit", outbound.MaxRunningReplays+1, err)
		}
	})
}
