package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// TestThrottleRateAcrossInstances: an endpoint's rate limit holds over
// every instance sharing the database. On PostgreSQL two instances publish
// and deliver to one endpoint limited to 5/s; on SQLite one instance does.
// A real receiver on 127.0.0.1 notes each arrival, and by any time T after
// the first publication no more than the burst plus the rate × T have
// arrived (an upper bound, which a loaded machine can only lower: a window
// of one second can hold more when the network delays one attempt and not
// the next).
func TestThrottleRateAcrossInstances(t *testing.T) {
	t.Parallel()
	db := databaseURL(t)
	env := map[string]string{"HOOKBOOK_DATABASE_URL": db}
	a := start(t, env)
	instances := []*instance{a}
	if backend() == "postgres" {
		instances = append(instances, start(t, env))
	}
	rc := newReceiver(t, nil)
	const rate, burst, events = 5, 5, 30
	ep := a.createEndpoint(rc.URL, []string{"booking.created"}, map[string]any{"rate_limit": "5/s"})
	if ep["rate_limit"] != "5/s" || ep["max_in_flight"] != nil {
		t.Fatalf("created %v, %v", ep["rate_limit"], ep["max_in_flight"])
	}
	// No attempt can start before its event is published.
	start := time.Now()
	var wg sync.WaitGroup
	for i := range events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			instances[i%len(instances)].publish("booking.created", bookingData(nil))
		}()
	}
	wg.Wait()
	waitFor(t, time.Minute, fmt.Sprintf("%d deliveries", events), func() bool { return rc.Count() >= events })
	arrivals := rc.All()
	// The bound that holds however loaded the machine is: by time T after
	// the first publication, at most burst + rate × T attempts have
	// started, so at most that many have arrived (a late attempt only
	// lowers the count). A limiter that let the backlog go at once breaks
	// it within the first second. The most arrivals within any one second
	// are logged: the network may bring attempts closer than they left.
	for i, a := range arrivals {
		allowed := burst + int(float64(rate)*a.At.Sub(start).Seconds())
		if i+1 > allowed+1 { // +1: the clocks' granularity
			t.Fatalf("arrival %d came %s after the first publication; the rate 5/s and its burst allow %d by then",
				i+1, a.At.Sub(start).Round(time.Millisecond), allowed)
		}
	}
	most, at := 0, time.Time{}
	j := 0
	for i := range arrivals {
		for arrivals[i].At.Sub(arrivals[j].At) > time.Second {
			j++
		}
		if n := i - j + 1; n > most {
			most, at = n, arrivals[i].At
		}
	}
	t.Logf("%d instance(s): at most %d arrivals within a second (at %s); the rate and its burst allow %d",
		len(instances), most, at.Format("15:04:05.000"), rate+burst)
	if n := rc.Count(); n != events {
		t.Errorf("%d arrivals for %d events", n, events)
	}
}

// TestThrottleFieldsAndStats: rate_limit and max_in_flight through the
// API (normal form, bounds, null clears), and the stats of a throttled
// endpoint's backlog, on both databases.
func TestThrottleFieldsAndStats(t *testing.T) {
	t.Parallel()
	hookbooktest.StartEach(t, func(t *testing.T, h *hookbooktest.Instance) {
		in := wrap(t, h)
		rc := newReceiver(t, nil)
		for _, bad := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"rate_limit": "fast"}, "rate_limit"},
			{map[string]any{"rate_limit": "0/s"}, "rate_limit"},
			{map[string]any{"rate_limit": "off"}, "rate_limit"},
			{map[string]any{"rate_limit": "20000/s"}, "rate_limit"},
			{map[string]any{"rate_limit": strings.Repeat("9", 65) + "/s"}, "rate_limit"},
			{map[string]any{"rate_limit": 10}, "rate_limit"},
			{map[string]any{"max_in_flight": 0}, "max_in_flight"},
			{map[string]any{"max_in_flight": 1001}, "max_in_flight"},
			{map[string]any{"max_in_flight": "x"}, "max_in_flight"},
			{map[string]any{"max_in_flight": 1.5}, "max_in_flight"},
			{map[string]any{"max_in_flight": json.Number("9223372036854775807")}, "max_in_flight"},
			{map[string]any{"max_in_flight": json.Number("9223372036854775808")}, "max_in_flight"},
			{map[string]any{"max_in_flight": -1}, "max_in_flight"},
		} {
			body := map[string]any{"url": rc.URL, "events": []string{"*"}}
			for k, v := range bad.body {
				body[k] = v
			}
			r := in.do("POST", "/api/v1/webhooks", body)
			if r.Status != 422 || !strings.Contains(string(r.Body), `"`+bad.field+`"`) {
				t.Errorf("%v: %d %s, want 422 naming %s", bad.body, r.Status, r.Body, bad.field)
			}
		}
		ep := in.createEndpoint(rc.URL, []string{"booking.created"}, map[string]any{"rate_limit": "1/h", "max_in_flight": 2})
		id := ep["id"].(string)
		if ep["rate_limit"] != "1/h" || ep["max_in_flight"] != float64(2) {
			t.Fatalf("created %v %v", ep["rate_limit"], ep["max_in_flight"])
		}
		for range 3 {
			in.publish("booking.created", bookingData(nil))
		}
		waitFor(t, 30*time.Second, "the burst's one delivery", func() bool { return rc.Count() == 1 })
		var st map[string]any
		waitFor(t, 30*time.Second, "stats with two due and none in flight", func() bool {
			st = in.must(200, "GET", "/api/v1/webhooks/"+id+"/stats", nil)
			return st["due"] == float64(2) && st["in_flight"] == float64(0)
		})
		if st["pending"] != float64(2) || st["throttled"] != true || st["rate_limit"] != "1/h" || st["burst"] != float64(1) ||
			st["max_in_flight"] != float64(2) || st["oldest_pending_at"] == nil || st["endpoint_id"] != id {
			t.Errorf("stats %v", st)
		}
		next, err := time.Parse(time.RFC3339Nano, fmt.Sprint(st["next_allowed_at"]))
		if err != nil || time.Until(next) < 50*time.Minute {
			t.Errorf("next_allowed_at %v (%v), want about an hour away", st["next_allowed_at"], err)
		}
		if rc.Count() != 1 {
			t.Errorf("%d arrivals, the rate 1/h allows 1", rc.Count())
		}
		// A PATCH in another form keeps the normal form; null clears both,
		// and the backlog goes at once.
		if p := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"rate_limit": "60/1m"}); p["rate_limit"] != "60/m" || p["max_in_flight"] != float64(2) {
			t.Errorf("patched %v %v", p["rate_limit"], p["max_in_flight"])
		}
		p := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"rate_limit": nil, "max_in_flight": nil})
		if p["rate_limit"] != nil || p["max_in_flight"] != nil {
			t.Errorf("cleared %v %v", p["rate_limit"], p["max_in_flight"])
		}
		in.publish("booking.created", bookingData(nil)) // wakes the engine at once
		waitFor(t, 30*time.Second, "the backlog once the throttle is cleared", func() bool { return rc.Count() == 4 })
		st = in.must(200, "GET", "/api/v1/webhooks/"+id+"/stats", nil)
		if st["throttled"] != false || st["rate_limit"] != nil || st["next_allowed_at"] != nil || st["burst"] != nil {
			t.Errorf("stats without a throttle %v", st)
		}
		if r := in.do("GET", "/api/v1/webhooks/ep_nope/stats", nil); r.Status != 404 {
			t.Errorf("stats of an unknown endpoint: %d", r.Status)
		}
	})
}
