package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
)

// An endpoint with a filter gets only the events that match it; the others
// create no delivery; a test send reaches it whatever its filter; PATCH
// changes the filter and null removes it.
func TestFilteredEndpointGetsOnlyMatchingEvents(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": "meetup.planned", "description": "a meetup"})
	ep := in.createEndpoint(rc.URL+"/hooks", []string{"meetup.planned"}, map[string]any{
		"filter": map[string]any{"data": map[string]any{"location": "Main Square", "participants": map[string]any{"$gte": 2}}},
	})
	id := ep["id"].(string)
	if got := string(mustJSON(ep["filter"])); got != `{"data":{"location":"Main Square","participants":{"$gte":2}}}` {
		t.Fatalf("created filter = %s", got)
	}
	deliveries := func() []any {
		return in.must(200, "GET", "/api/v1/webhooks/"+id+"/deliveries", nil)["data"].([]any)
	}

	in.publish("meetup.planned", map[string]any{"location": "Harbour", "participants": 5}) // another place
	in.publish("meetup.planned", map[string]any{"location": "Main Square", "participants": 1})
	match := in.publish("meetup.planned", map[string]any{"location": "Main Square", "participants": 3})
	waitFor(t, 10*time.Second, "the matching event", func() bool { return rc.Count() >= 1 })
	if n := len(deliveries()); n != 1 {
		t.Fatalf("%d deliveries, want 1: events that do not match create none", n)
	}
	var env map[string]any
	json.Unmarshal(rc.All()[0].Body, &env)
	if env["id"] != match {
		t.Fatalf("delivered %s, want the matching event %s", rc.All()[0].Body, match)
	}
	// The event that matched nothing is still stored, with no delivery.
	if n := len(in.must(200, "GET", "/api/v1/events?event=meetup.planned", nil)["data"].([]any)); n != 3 {
		t.Fatalf("%d events stored, want 3", n)
	}

	// A test send bypasses the filter.
	in.must(202, "POST", "/api/v1/webhooks/"+id+"/test", nil)
	waitFor(t, 10*time.Second, "the test event", func() bool { return rc.Count() >= 2 })
	json.Unmarshal(rc.All()[1].Body, &env)
	if env["event"] != "webhook.test" {
		t.Fatalf("second request = %s, want the webhook.test event", rc.All()[1].Body)
	}

	// PATCH changes the filter: now only the harbour.
	got := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"filter": map[string]any{"data": map[string]any{"location": map[string]any{"$in": []string{"Harbour"}}}}})
	if string(mustJSON(got["filter"])) != `{"data":{"location":{"$in":["Harbour"]}}}` {
		t.Fatalf("patched filter = %s", mustJSON(got["filter"]))
	}
	in.publish("meetup.planned", map[string]any{"location": "Main Square", "participants": 9})
	harbour := in.publish("meetup.planned", map[string]any{"location": "Harbour", "participants": 9})
	waitFor(t, 10*time.Second, "the harbour event", func() bool { return rc.Count() >= 3 })
	json.Unmarshal(rc.All()[2].Body, &env)
	if env["id"] != harbour || len(deliveries()) != 3 {
		t.Fatalf("after the PATCH delivered %s; %d deliveries", rc.All()[2].Body, len(deliveries()))
	}

	// A PATCH without filter keeps it; null removes it.
	if got := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"description": "x"}); got["filter"] == nil {
		t.Fatal("a PATCH without filter removed it")
	}
	if got := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"filter": nil}); got["filter"] != nil {
		t.Fatalf("filter null kept %v", got["filter"])
	}
	if got := in.must(200, "GET", "/api/v1/webhooks/"+id, nil); got["filter"] != nil {
		t.Fatalf("stored filter after null: %v", got["filter"])
	}
	in.publish("meetup.planned", map[string]any{"location": "Main Square", "participants": 0})
	waitFor(t, 10*time.Second, "an event without filter", func() bool { return rc.Count() >= 4 })
	if rc.Count() != 4 || len(deliveries()) != 4 {
		t.Fatalf("%d requests, %d deliveries; want 4 of each", rc.Count(), len(deliveries()))
	}
}

// Every endpoint answer carries "filter", null when there is none.
func TestEndpointAnswersCarryFilter(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	ep := in.createEndpoint("http://127.0.0.1:9/x", []string{"*"}, nil)
	if v, ok := ep["filter"]; !ok || v != nil {
		t.Fatalf("created endpoint filter = %v (present %v), want null", v, ok)
	}
	list := in.must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)
	if v, ok := list[0].(map[string]any)["filter"]; !ok || v != nil {
		t.Fatalf("listed endpoint filter = %v (present %v)", v, ok)
	}
}

// Bad filters answer 422 naming the path of the bad part, on both
// databases, and change nothing.
func TestBadFiltersAre422(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, 21) + `1` + strings.Repeat(`}`, 21)
	huge := `{"data":{"x":"` + strings.Repeat("a", 20000) + `"}}`
	hookbooktest.StartEach(t, func(t *testing.T, in *hookbooktest.Instance) {
		ep := in.CreateEndpoint("http://127.0.0.1:9/x", []string{"*"}, map[string]any{"filter": map[string]any{"event": "x.y"}})
		id := ep["id"].(string)
		cases := []struct{ name, filter, field string }{
			{"wrong operand", `{"data":{"participants":{"$gte":"many","$x":1}}}`, "filter.data.participants.$x"},
			{"operand type", `{"data":{"participants":{"$gte":{}}}}`, "filter.data.participants.$gte"},
			{"not an object", `"data.participants > 2"`, "filter"},
			{"$or item", `{"$or":[{"a":1},3]}`, "filter.$or.1"},
			{"too deep", deep, "filter"},
			{"too big", huge, "filter"},
			{"integer beyond 2^53", `{"a":99999999999999999999999}`, "filter.a"},
			{"duplicate key", `{"a":1,"a":2}`, "filter"},
			{"number out of range", `{"a":{"$gte":1e400}}`, "filter.a.$gte"},
		}
		for _, c := range cases {
			for _, req := range []struct{ method, path, body string }{
				{"POST", "/api/v1/webhooks", `{"url":"http://127.0.0.1:9/x","events":["*"],"filter":` + c.filter + `}`},
				{"PATCH", "/api/v1/webhooks/" + id, `{"filter":` + c.filter + `}`},
				{"POST", "/api/v1/filters/test", `{"filter":` + c.filter + `,"event":{"n":1}}`},
			} {
				r := in.Do(req.method, req.path, req.body)
				if r.Status != 422 {
					t.Errorf("%s: %s %s = %d: %s", c.name, req.method, req.path, r.Status, r.Body)
					continue
				}
				details, _ := r.JSON(t)["error"].(map[string]any)["details"].(map[string]any)
				if msg, ok := details[c.field].(string); !ok || strings.Contains(msg, "json:") || strings.Contains(msg, "Go value") {
					t.Errorf("%s: %s %s details %v do not name %s in plain words", c.name, req.method, req.path, details, c.field)
				}
			}
		}
		if got := in.Must(200, "GET", "/api/v1/webhooks/"+id, nil); string(mustJSON(got["filter"])) != `{"event":"x.y"}` {
			t.Errorf("refused PATCHes changed the filter: %s", mustJSON(got["filter"]))
		}
		// Nested far beyond any bound, as a body allows: 400 or 413, never 500.
		for _, n := range []int{100000, 2 << 20} {
			r := in.Do("POST", "/api/v1/filters/test", `{"filter":`+strings.Repeat("[", n)+`,"event":{}}`)
			if r.Status != http.StatusBadRequest && r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("filter nested %d deep = %d: %.200s", n, r.Status, r.Body)
			}
		}
	})
}

// POST /api/v1/filters/test: the UI's dry run, on an envelope or on data.
func TestFilterDryRun(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	flt := map[string]any{"data": map[string]any{"location": "Main Square", "participants": map[string]any{"$gte": 2}}}
	cases := []struct {
		event map[string]any
		want  bool
	}{
		{map[string]any{"location": "Main Square", "participants": 2}, true},
		{map[string]any{"location": "Main Square", "participants": 1}, false},
		{map[string]any{"id": "evt_1", "event": "meetup.planned", "data": map[string]any{"location": "Main Square", "participants": 7}}, true},
	}
	for _, c := range cases {
		got := in.must(200, "POST", "/api/v1/filters/test", map[string]any{"filter": flt, "event": c.event})
		if got["matches"] != c.want {
			t.Errorf("dry run on %v = %v, want %v", c.event, got["matches"], c.want)
		}
	}
	if got := in.must(200, "POST", "/api/v1/filters/test", map[string]any{"filter": map[string]any{"event": "meetup.planned"},
		"event": map[string]any{"event": "meetup.planned", "data": map[string]any{}}}); got["matches"] != true {
		t.Errorf("filter on the event type: %v", got)
	}
	if r := in.doKey("", "POST", "/api/v1/filters/test", map[string]any{"filter": flt, "event": map[string]any{}}); r.Status != 401 {
		t.Errorf("without a key = %d", r.Status)
	}
	r := in.do("POST", "/api/v1/filters/test", map[string]any{"event": map[string]any{}})
	if r.Status != 422 || !strings.Contains(string(r.Body), `"filter"`) {
		t.Errorf("without filter = %d: %s", r.Status, r.Body)
	}
}
