package e2e

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/server"
)

// eventIDs returns the sorted Webhook-Id (event id) of each request a
// receiver got whose event type header matches prefix.
func eventIDs(rc *receiver, prefix string) []string {
	var out []string
	for _, r := range rc.All() {
		if strings.HasPrefix(r.Header.Get("X-Hookbook-Event"), prefix) {
			out = append(out, r.Header.Get("Webhook-Id"))
		}
	}
	sort.Strings(out)
	return out
}

// TestReplay: a dry run counts what a replay then queues; the receiver
// gets the same events (same ids) once more; the status, event and until
// filters hold; bad requests are refused naming the field; a repeat with
// the same Idempotency-Key answers the first replay.
func TestReplay(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc, failing := failingReceiver(t)
	ep := in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"max_attempts": 1})["id"].(string)
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for i := 0; i < 3; i++ {
		in.publish("booking.created", nil)
	}
	in.publish("customer.created", nil)
	in.publish("customer.created", nil)
	waitFor(t, 10*time.Second, "five failed deliveries", func() bool {
		l := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status=failed", nil)["data"].([]any)
		return len(l) == 5
	})
	path := "/api/v1/webhooks/" + ep + "/replay"

	// Refusals name the field.
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"no since":       {map[string]any{}, "since"},
		"bad since":      {map[string]any{"since": "yesterday"}, "since"},
		"until <= since": {map[string]any{"since": since, "until": since}, "until"},
		"pending":        {map[string]any{"since": since, "status": "pending"}, "status"},
		"bad event":      {map[string]any{"since": since, "event": "Booking!"}, "event"},
	} {
		r := in.do("POST", path, tc.body)
		if r.Status != 422 || !strings.Contains(string(r.Body), `"`+tc.field+`"`) {
			t.Errorf("%s: %d %s, want 422 naming %s", name, r.Status, r.Body, tc.field)
		}
	}
	if r := in.do("POST", "/api/v1/webhooks/ep_nope/replay", map[string]any{"since": since}); r.Status != 404 {
		t.Errorf("unknown endpoint: %d %s", r.Status, r.Body)
	}
	if r := in.do("GET", "/api/v1/replays/rpl_nope", nil); r.Status != 404 {
		t.Errorf("unknown replay: %d %s", r.Status, r.Body)
	}

	// Dry runs count by status, event and range.
	count := func(body map[string]any) float64 {
		t.Helper()
		body["dry_run"] = true
		r := in.must(200, "POST", path, body)
		if r["limit"].(float64) != 10000 || r["capped"] != false {
			t.Errorf("dry run answer %v: want limit 10000, not capped", r)
		}
		return r["count"].(float64)
	}
	for name, tc := range map[string]struct {
		body map[string]any
		want float64
	}{
		"failed":       {map[string]any{"since": since}, 5},
		"succeeded":    {map[string]any{"since": since, "status": "succeeded"}, 0},
		"wildcard":     {map[string]any{"since": since, "event": "booking.*"}, 3},
		"exact":        {map[string]any{"since": since, "event": "customer.created", "status": "any"}, 2},
		"until before": {map[string]any{"since": since, "until": time.Now().Add(-30 * time.Second).UTC().Format(time.RFC3339)}, 0},
	} {
		if got := count(tc.body); got != tc.want {
			t.Errorf("dry run %s: count %v, want %v", name, got, tc.want)
		}
	}

	// The replay queues what the dry run counted; the receiver gets those
	// events again, with their ids.
	failing.Store(false)
	before := eventIDs(rc, "booking.")
	hdr := http.Header{"Idempotency-Key": {"replay-1"}}
	body := map[string]any{"since": since, "event": "booking.*"}
	r := in.DoHeader(in.key, "POST", path, body, hdr)
	if r.Status != 202 {
		t.Fatalf("replay: %d %s", r.Status, r.Body)
	}
	job := r.JSON(t)
	id, _ := job["id"].(string)
	if !strings.HasPrefix(id, "rpl_") || job["count"].(float64) != 3 || job["total"].(float64) != 3 {
		t.Fatalf("replay answer %v", job)
	}
	again := in.DoHeader(in.key, "POST", path, body, hdr)
	if again.Status != 202 || again.Header.Get("Idempotent-Replayed") != "true" || again.JSON(t)["id"] != id {
		t.Errorf("the same Idempotency-Key again: %d %s", again.Status, again.Body)
	}
	waitFor(t, 10*time.Second, "the replay to finish", func() bool {
		return in.must(200, "GET", "/api/v1/replays/"+id, nil)["status"] == "done"
	})
	got := in.must(200, "GET", "/api/v1/replays/"+id, nil)
	if got["queued"].(float64) != 3 || got["finished_at"] == nil || got["endpoint_id"] != ep {
		t.Errorf("finished replay %v", got)
	}
	waitFor(t, 10*time.Second, "three replayed deliveries", func() bool {
		return len(eventIDs(rc, "booking.")) == 6
	})
	after := eventIDs(rc, "booking.")
	for i := range before {
		if after[2*i] != before[i] || after[2*i+1] != before[i] {
			t.Fatalf("event ids replayed %v, want each of %v twice", after, before)
		}
	}
	if m := in.doKey("", "GET", "/metrics", nil); !strings.Contains(string(m.Body), "\nhookbook_replayed_deliveries_total 3\n") {
		t.Errorf("metrics after the replay:\n%s", m.Body)
	}
	if n := len(eventIDs(rc, "customer.")); n != 2 {
		t.Errorf("customer events sent %d times, want 2 (not replayed)", n)
	}
	// Nothing left to replay among failed booking deliveries; succeeded ones are.
	if n := count(map[string]any{"since": since, "event": "booking.*"}); n != 0 {
		t.Errorf("after the replay, %v failed booking deliveries left", n)
	}
	waitFor(t, 10*time.Second, "the replayed deliveries recorded succeeded", func() bool {
		return count(map[string]any{"since": since, "status": "succeeded"}) == 3
	})
	// A replay of nothing starts nothing: it answers the count, 0.
	if r := in.do("POST", path, map[string]any{"since": since, "event": "booking.*"}); r.Status != 200 || r.Header.Get("Location") != "" ||
		r.JSON(t)["count"] != float64(0) || r.JSON(t)["id"] != nil {
		t.Errorf("replay of nothing: %d %s, want 200 with count 0 and no replay", r.Status, r.Body)
	}

	// Disabled or deleted: refused.
	in.must(200, "PATCH", "/api/v1/webhooks/"+ep, map[string]any{"enabled": false})
	if r := in.do("POST", path, map[string]any{"since": since}); r.Status != 409 || r.ErrorCode(t) != "endpoint_disabled" {
		t.Errorf("replay of a disabled endpoint: %d %s", r.Status, r.Body)
	}
	in.must(204, "DELETE", "/api/v1/webhooks/"+ep, nil)
	if r := in.do("POST", path, map[string]any{"since": since, "dry_run": true}); r.Status != 409 || r.ErrorCode(t) != "endpoint_deleted" {
		t.Errorf("replay of a deleted endpoint: %d %s", r.Status, r.Body)
	}
}

// TestReplayResumesAfterRestart: a replay stored by an instance that
// stopped before carrying it on is carried on by the next one.
func TestReplayResumesAfterRestart(t *testing.T) {
	t.Parallel()
	url := databaseURL(t)
	rc, failing := failingReceiver(t)
	// The first instance's replay job has passed once (at start) and does
	// not come back: the replay it stores stays running.
	first := start(t, map[string]string{"HOOKBOOK_DATABASE_URL": url, "HOOKBOOK_POLL_INTERVAL": "1h"},
		func(a *server.App) { a.Outbound.ReplayStarted = nil })
	waitFor(t, 10*time.Second, "the first replay pass", func() bool { return first.app.JobPasses("replays") >= 1 })
	ep := first.createEndpoint(rc.URL, []string{"*"}, map[string]any{"max_attempts": 1})["id"].(string)
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for i := 0; i < 4; i++ {
		first.publish("booking.created", nil)
	}
	waitFor(t, 10*time.Second, "four failed deliveries", func() bool {
		return len(first.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status=failed", nil)["data"].([]any)) == 4
	})
	failing.Store(false)
	// Two identical requests at once (a double click): one replay, the
	// other answered with it.
	answers := make(chan response, 2)
	for i := 0; i < 2; i++ {
		go func() { answers <- first.do("POST", "/api/v1/webhooks/"+ep+"/replay", map[string]any{"since": since}) }()
	}
	a, b := <-answers, <-answers
	if a.Status != 202 || b.Status != 202 {
		t.Fatalf("two identical replays at once: %d %s, %d %s; want both 202", a.Status, a.Body, b.Status, b.Body)
	}
	job, other := a.JSON(t), b.JSON(t)
	if job["already_running"] == true {
		job, other = other, job
	}
	id := job["id"].(string)
	if other["id"] != id || job["already_running"] != false || other["already_running"] != true {
		t.Fatalf("two identical replays at once: %v and %v, want one replay, the second already running", job, other)
	}
	if s := first.must(200, "GET", "/api/v1/replays/"+id, nil); s["status"] != "running" || s["queued"].(float64) != 0 {
		t.Fatalf("replay before the restart: %v", s)
	}
	// While it runs, another filter is refused naming it; the same is answered with it.
	if r := first.do("POST", "/api/v1/webhooks/"+ep+"/replay", map[string]any{"since": since, "status": "any"}); r.Status != 409 ||
		r.ErrorCode(t) != "replay_running" || !strings.Contains(string(r.Body), id) {
		t.Errorf("a second replay while one runs: %d %s", r.Status, r.Body)
	}
	if r := first.must(202, "POST", "/api/v1/webhooks/"+ep+"/replay", map[string]any{"since": since}); r["id"] != id || r["already_running"] != true {
		t.Errorf("the same replay again: %v, want the running one", r)
	}
	first.stop()

	second := start(t, map[string]string{"HOOKBOOK_DATABASE_URL": url})
	waitFor(t, 10*time.Second, "the replay to finish after the restart", func() bool {
		return second.must(200, "GET", "/api/v1/replays/"+id, nil)["status"] == "done"
	})
	waitFor(t, 10*time.Second, "the replayed deliveries", func() bool { return rc.Count() == 8 })
	if s := second.must(200, "GET", "/api/v1/replays/"+id, nil); s["queued"].(float64) != 4 || s["total"].(float64) != 4 {
		t.Errorf("replay after the restart: %v", s)
	}
}

// TestReplayUIConfirm: the admin UI's confirmation replays what it
// counted (up to the until it shows, not up to the click), sending it
// twice answers the running replay, and a selection of nothing offers no
// button and starts nothing.
func TestReplayUIConfirm(t *testing.T) {
	t.Parallel()
	// The replay job passes once at start and is not woken: a replay stays running.
	in := start(t, map[string]string{"HOOKBOOK_POLL_INTERVAL": "1h"}, func(a *server.App) { a.Outbound.ReplayStarted = nil })
	waitFor(t, 10*time.Second, "the first replay pass", func() bool { return in.app.JobPasses("replays") >= 1 })
	rc, _ := failingReceiver(t)
	ep := in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"max_attempts": 1})["id"].(string)
	failed := func(n int) {
		t.Helper()
		waitFor(t, 10*time.Second, fmt.Sprintf("%d failed deliveries", n), func() bool {
			return len(in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status=failed", nil)["data"].([]any)) == n
		})
	}
	since := time.Now().Add(-time.Minute).UTC().Format("2006-01-02 15:04")
	for i := 0; i < 3; i++ {
		in.publish("booking.created", nil)
	}
	failed(3)
	// The count is up to the second it is read: let that second pass the deliveries.
	created := time.Now()
	waitFor(t, 5*time.Second, "the next second", func() bool { return time.Now().Truncate(time.Second).After(created) })
	c := uiSession(t, in.url, in.key)
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(in.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	field := func(page, name string) string {
		m := regexp.MustCompile(`type="hidden" name="` + name + `" value="([^"]*)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no %s field in:\n%s", name, page)
		}
		return html.UnescapeString(m[1])
	}
	confirmPath := "/settings/webhooks/" + ep + "/replay?" + url.Values{"since": {since}, "status": {"failed"}}.Encode()
	page := get(confirmPath)
	if !strings.Contains(page, "3 deliveries would be sent again") {
		t.Fatalf("confirmation page:\n%s", page)
	}
	until, err := time.Parse(time.RFC3339, field(page, "until"))
	if err != nil || !strings.Contains(page, until.Format("2006-01-02 15:04:05")) {
		t.Fatalf("the confirm form's until %q (%v) is not the one shown", field(page, "until"), err)
	}
	form := url.Values{"csrf": {field(page, "csrf")}, "since": {field(page, "since")}, "until": {field(page, "until")},
		"status": {field(page, "status")}, "event": {field(page, "event")}}
	// A delivery failing after the count is not in this replay.
	waitFor(t, 5*time.Second, "the clock past the count's until", func() bool { return time.Now().After(until) })
	in.publish("booking.created", nil)
	failed(4)
	post := func() string {
		t.Helper()
		resp, err := c.PostForm(in.url+"/settings/webhooks/"+ep+"/replay", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 303 {
			t.Fatalf("confirm = %d", resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	first, second := post(), post()
	if !strings.HasPrefix(first, "/settings/webhooks/"+ep+"/replays/rpl_") || second != first {
		t.Fatalf("confirm twice: %s then %s, want the same replay", first, second)
	}
	job := in.must(200, "GET", "/api/v1/replays/"+first[strings.LastIndex(first, "/")+1:], nil)
	if job["total"] != float64(3) || job["status"] != "running" {
		t.Errorf("the confirmed replay %v, want the 3 counted", job)
	}

	// Nothing matches: no button, and a crafted confirm starts nothing.
	nothing := url.Values{"since": {since}, "status": {"any"}, "event": {"customer.*"}}
	if page := get("/settings/webhooks/" + ep + "/replay?" + nothing.Encode()); !strings.Contains(page, "Nothing to replay") || strings.Contains(page, `<button type="submit">Replay`) {
		t.Errorf("confirmation of nothing, want no replay button:\n%s", page)
	}
	nothing.Set("csrf", form.Get("csrf"))
	// The running replay first: it must end before another filter may start.
	if _, err := in.app.Outbound.RunReplays(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := c.PostForm(in.url+"/settings/webhooks/"+ep+"/replay", nothing)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/settings/webhooks/"+ep {
		t.Errorf("confirm of nothing = %d %s, want back to the delivery log", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// failingReceiver is a receiver that answers 503 until failing is set to
// false, then 200.
func failingReceiver(t *testing.T) (rc *receiver, failing *atomic.Bool) {
	failing = new(atomic.Bool)
	failing.Store(true)
	rc = newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if failing.Load() {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	})
	return rc, failing
}
