package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/webhook"
)

// finished waits until an endpoint's only delivery is no longer pending and
// returns it.
func finished(t *testing.T, in *instance, ep string) map[string]any {
	t.Helper()
	var d map[string]any
	waitFor(t, time.Minute, "the delivery of "+ep+" to finish", func() bool {
		list := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries", nil)["data"].([]any)
		if len(list) != 1 {
			return false
		}
		d = list[0].(map[string]any)
		return d["status"] != "pending"
	})
	return d
}

// Transformations change what is sent and signed; a failing, runaway or
// cancelling transformation affects only its own endpoint's attempts.
func TestTransformations(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_TRANSFORM_TIMEOUT": "1s"}) // a loaded machine's stalls are no runaway
	rc := newReceiver(t, nil)
	transformed := in.createEndpoint(rc.URL+"/transformed", []string{"booking.created"}, map[string]any{
		"transformation": map[string]any{"enabled": true, "code": `function handler(webhook) {
			const b = webhook.payload.data;
			webhook.payload = {kind: webhook.eventType, who: b.customer.name, at: new Date().getUTCFullYear() > 2000};
			webhook.method = "PUT";
			webhook.headers["X-Team"] = "ops";
			return webhook;
		}`},
	})
	if tr := transformed["transformation"].(map[string]any); tr["enabled"] != true || !strings.Contains(tr["code"].(string), "function handler") {
		t.Fatalf("transformation = %v", tr)
	}
	plain := in.createEndpoint(rc.URL+"/plain", []string{"booking.created"}, nil)
	if plain["transformation"] != nil {
		t.Fatalf("transformation of a plain endpoint = %v", plain["transformation"])
	}
	failing := map[string]string{
		"throws":  `function handler(webhook) { throw new Error("no way"); }`,
		"loops":   `function handler(webhook) { for (;;) {} }`,
		"garbage": `function handler(webhook) { webhook.payload = function () {}; return webhook; }`,
		"guarded": `function handler(webhook) { webhook.url = "ftp://127.0.0.1/"; return webhook; }`,
	}
	want := map[string]string{"throws": "threw Error: no way", "loops": "ran longer than 1s", "garbage": "not JSON",
		"guarded": "absolute http or https URL"}
	failed := map[string]string{}
	for name, code := range failing {
		failed[name] = in.createEndpoint(rc.URL+"/"+name, []string{"booking.created"}, map[string]any{"max_attempts": 1,
			"transformation": map[string]any{"code": code, "enabled": true}})["id"].(string)
	}
	cancelled := in.createEndpoint(rc.URL+"/cancelled", []string{"booking.created"}, map[string]any{
		"transformation": map[string]any{"code": `function handler(w) { w.cancel = true; return w; }`, "enabled": true}})["id"].(string)
	off := in.createEndpoint(rc.URL+"/off", []string{"booking.created"}, map[string]any{
		"transformation": map[string]any{"code": `function handler(w) { throw new Error("off"); }`, "enabled": false}})["id"].(string)

	in.publish("booking.created", map[string]any{"participants": 2})

	d := finished(t, in, transformed["id"].(string))
	if d["status"] != "succeeded" {
		t.Fatalf("transformed delivery %v", d)
	}
	var got *receivedReq
	for _, r := range rc.All() {
		if r.Header.Get("X-Team") == "ops" {
			got = &receivedReq{r.Header, r.Body}
		}
	}
	if got == nil {
		t.Fatal("the transformed request did not arrive")
	}
	if string(got.body) != `{"kind":"booking.created","who":"Jane Doe","at":true}` {
		t.Fatalf("transformed body %s", got.body)
	}
	if err := webhook.Verify(transformed["secret"].(string), got.header, got.body); err != nil {
		t.Fatalf("the signature does not cover the transformed body: %v", err)
	}
	atts := attemptsOf(in, d["id"].(string))
	if atts[0]["request_url"] != rc.URL+"/transformed" || atts[0]["request_headers"].(map[string]any)["X-Team"] != "ops" {
		t.Fatalf("attempt %v", atts[0])
	}
	if d := finished(t, in, plain["id"].(string)); d["status"] != "succeeded" {
		t.Fatalf("plain delivery %v", d)
	}
	if d := finished(t, in, off); d["status"] != "succeeded" {
		t.Fatalf("a disabled transformation ran: %v", d)
	}
	for name, ep := range failed {
		d := finished(t, in, ep)
		msg, _ := d["last_error"].(string)
		// The heap watch reads the process's heap: in this test binary,
		// beside other tests' instances, it may stop the loop first.
		heap := name == "loops" && strings.Contains(msg, "more than 256 MiB of memory")
		if d["status"] != "failed" || !strings.HasPrefix(msg, "transformation failed: ") || !strings.Contains(msg, want[name]) && !heap {
			t.Errorf("%s: delivery %v, want a failure naming %q", name, d, want[name])
		}
		if a := attemptsOf(in, d["id"].(string)); len(a) != 1 || a[0]["status_code"] != nil || a[0]["error"] != msg {
			t.Errorf("%s: attempts %v", name, a)
		}
	}
	d = finished(t, in, cancelled)
	if a := attemptsOf(in, d["id"].(string)); d["status"] != "succeeded" || a[0]["status_code"] != nil ||
		a[0]["response_body"] != "not sent: the endpoint's transformation cancelled this delivery" {
		t.Fatalf("cancelled delivery %v, attempts %v", d, a)
	}
	if n := rc.Count(); n != 3 {
		t.Fatalf("receiver got %d requests, want 3 (transformed, plain, off)", n)
	}
}

type receivedReq struct {
	header http.Header
	body   []byte
}

// The API validates transformations and connectors as they are saved; a
// PATCH may change or remove them.
func TestTransformationValidation(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	for _, c := range []struct {
		body  map[string]any
		field string
		msg   string
	}{
		{map[string]any{"transformation": map[string]any{"code": "function handler(w) { return w", "enabled": true}}, "transformation.code", "syntax error"},
		{map[string]any{"transformation": map[string]any{"code": "function other(w) { return w; }"}}, "transformation.code", "function handler"},
		{map[string]any{"transformation": map[string]any{"enabled": true}}, "transformation.code", "is required"},
		{map[string]any{"transformation": "x"}, "transformation", "must be null or an object"},
		{map[string]any{"transformation": []any{1}}, "transformation", "must be null or an object"},
		{map[string]any{"transformation": map[string]any{"code": 5}}, "transformation.code", "must be a string"},
		{map[string]any{"transformation": map[string]any{"code": "function handler(w) { return w; }", "enabled": "yes"}}, "transformation.enabled", "true or false"},
		{map[string]any{"transformation": map[string]any{"code": "function handler(w) { return w; }", "connector": 1}}, "transformation.connector", "string or null"},
		{map[string]any{"connector": "irc"}, "connector", `"slack", "teams", "discord"`},
		{map[string]any{"connector": "slack", "transformation": nil}, "connector", "not both"},
	} {
		body := map[string]any{"url": "https://example.com/x", "events": []string{"*"}}
		for k, v := range c.body {
			body[k] = v
		}
		r := in.do("POST", "/api/v1/webhooks", body)
		if r.Status != 422 {
			t.Fatalf("%v: %d %s", c.body, r.Status, r.Body)
		}
		details := r.JSON(t)["error"].(map[string]any)["details"].(map[string]any)
		if msg, _ := details[c.field].(string); !strings.Contains(msg, c.msg) {
			t.Errorf("%v: details %v, want %s: %q", c.body, details, c.field, c.msg)
		}
	}
	ep := in.createEndpoint("https://example.com/x", []string{"*"}, map[string]any{"connector": "slack"})
	tr := ep["transformation"].(map[string]any)
	if tr["connector"] != "slack" || tr["enabled"] != true || !strings.Contains(tr["code"].(string), "function handler") {
		t.Fatalf("connector transformation %v", tr)
	}
	id := ep["id"].(string)
	got := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"transformation": map[string]any{"enabled": false}})
	if tr := got["transformation"].(map[string]any); tr["enabled"] != false || tr["connector"] != "slack" {
		t.Fatalf("after disabling: %v", tr)
	}
	got = in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"transformation": map[string]any{"code": "function handler(w) { return w; }"}})
	if tr := got["transformation"].(map[string]any); tr["enabled"] != false || tr["connector"] != nil || tr["code"] != "function handler(w) { return w; }" {
		t.Fatalf("after changing the code: %v", tr)
	}
	got = in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"description": "kept"})
	if got["transformation"] == nil {
		t.Fatal("a PATCH without the field removed the transformation")
	}
	got = in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"transformation": nil})
	if got["transformation"] != nil {
		t.Fatalf("after removing: %v", got["transformation"])
	}
	got = in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"connector": "discord"})
	if got["transformation"].(map[string]any)["connector"] != "discord" {
		t.Fatalf("after choosing discord: %v", got["transformation"])
	}
	if got := in.must(200, "GET", "/api/v1/webhooks/"+id, nil); got["transformation"].(map[string]any)["connector"] != "discord" {
		t.Fatalf("stored: %v", got["transformation"])
	}
	// "connector": null removes a connector's transformation; an endpoint
	// with code of its own is told how to remove its transformation.
	if got := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"connector": nil}); got["transformation"] != nil {
		t.Fatalf("after connector null: %v", got["transformation"])
	}
	in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"transformation": map[string]any{"code": "function handler(w) { return w; }"}})
	r := in.do("PATCH", "/api/v1/webhooks/"+id, map[string]any{"connector": nil})
	if msg, _ := detailsOf(t, r, 422)["connector"].(string); !strings.Contains(msg, `"transformation": null`) {
		t.Fatalf("connector null on own code: %d %s", r.Status, r.Body)
	}
	if got := in.must(200, "GET", "/api/v1/webhooks/"+id, nil); got["transformation"] == nil {
		t.Fatal("a refused PATCH removed the transformation")
	}
}

func detailsOf(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r.JSON(t)["error"].(map[string]any)["details"].(map[string]any)
}

// What GET returns as an endpoint's transformation can be sent back as it
// is (with its connector, an own code's connector null, or keys hookbook
// does not know): nothing changes, and a connector's name stays.
func TestTransformationRoundTrip(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	slack := in.createEndpoint("https://example.com/slack", []string{"*"}, map[string]any{"connector": "slack"})
	own := in.createEndpoint("https://example.com/own", []string{"*"}, map[string]any{
		"transformation": map[string]any{"code": "function handler(w) { return w; }", "enabled": true}})
	for _, ep := range []map[string]any{slack, own} {
		id := ep["id"].(string)
		got := in.must(200, "GET", "/api/v1/webhooks/"+id, nil)
		tr := got["transformation"].(map[string]any)
		if _, has := tr["connector"]; has != (ep["id"] == slack["id"]) {
			t.Fatalf("connector present = %v in %v", has, tr)
		}
		variants := []map[string]any{tr, {"code": tr["code"], "enabled": false, "connector": tr["connector"], "note": "unknown keys are ignored"}}
		if tr["connector"] == nil {
			variants = append(variants, map[string]any{"code": tr["code"], "enabled": true, "connector": nil})
		}
		for _, v := range variants {
			after := in.must(200, "PATCH", "/api/v1/webhooks/"+id, map[string]any{"transformation": v})["transformation"].(map[string]any)
			if after["code"] != tr["code"] || after["connector"] != tr["connector"] || after["enabled"] != v["enabled"] {
				t.Fatalf("sent %v, got %v (was %v)", v, after, tr)
			}
		}
	}
	// A connector's code given to an endpoint with a connector name keeps
	// the name; code of one's own with a connector name does not take it.
	code := slack["transformation"].(map[string]any)["code"]
	got := in.must(200, "PATCH", "/api/v1/webhooks/"+own["id"].(string), map[string]any{"transformation": map[string]any{"code": code, "connector": "slack"}})
	if tr := got["transformation"].(map[string]any); tr["connector"] != "slack" {
		t.Fatalf("slack code with its name: %v", tr)
	}
	got = in.must(200, "PATCH", "/api/v1/webhooks/"+own["id"].(string), map[string]any{"transformation": map[string]any{"code": "function handler(w) { return w; }", "connector": "slack"}})
	if tr := got["transformation"].(map[string]any); tr["connector"] != nil {
		t.Fatalf("own code with a connector name: %v", tr)
	}
}

// POST /api/v1/transformations/test answers the request a transformation
// makes of an event type's example, or its error; with the network guard
// on, a URL pointing inside is refused.
func TestTransformationTestRoute(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_ENV": "production", "HOOKBOOK_LEASE": "2m", "HOOKBOOK_TRANSFORM_TIMEOUT": "1s"})
	got := in.must(200, "POST", "/api/v1/transformations/test", map[string]any{"event": "booking.created",
		"code": `function handler(w) { w.payload = {text: w.payload.data.customer.name}; w.headers["X-A"] = "1"; return w; }`})
	if got["method"] != "POST" || got["url"] != "https://example.com/webhooks" || got["cancel"] != false ||
		got["payload"].(map[string]any)["text"] != "Jane Doe" || got["headers"].(map[string]any)["X-A"] != "1" {
		t.Fatalf("answer %v", got)
	}
	got = in.must(200, "POST", "/api/v1/transformations/test", map[string]any{"event": "booking.created",
		"data": map[string]any{"customer": map[string]any{"name": "Ann"}},
		"code": `function handler(w) { w.payload = w.payload.data.customer; return w; }`})
	if got["payload"].(map[string]any)["name"] != "Ann" {
		t.Fatalf("custom data: %v", got)
	}
	for _, c := range []struct {
		body       map[string]any
		code, path string
		msg        string
	}{
		{map[string]any{"event": "booking.created", "code": `function handler(w) { w.url = "https://127.0.0.1/x"; return w; }`},
			"transformation_error", "code", "internal address"},
		{map[string]any{"event": "booking.created", "code": `function handler(w) { while (true) {} }`},
			"transformation_error", "code", "ran longer than"},
		{map[string]any{"event": "booking.created", "code": `function handler(w) { return w`}, "validation_failed", "code", "syntax error"},
		{map[string]any{"event": "no.such", "code": `function handler(w) { return w; }`}, "validation_failed", "event", "unknown event type"},
		{map[string]any{"event": "booking.created", "url": "https://127.0.0.1/", "code": `function handler(w) { return w; }`},
			"validation_failed", "url", "internal address"},
		{map[string]any{"event": "booking.created", "data": json.RawMessage(strings.Repeat("[", 100) + strings.Repeat("]", 100)), "code": `function handler(w) { return w; }`},
			"validation_failed", "data", "nested deeper than 64"},
		{map[string]any{"event": "booking.created", "connector": "irc"}, "validation_failed", "connector", "must be one of"},
	} {
		r := in.do("POST", "/api/v1/transformations/test", c.body)
		if r.Status != 422 || r.ErrorCode(t) != c.code {
			t.Fatalf("%v: %d %s", c.body, r.Status, r.Body)
		}
		details := r.JSON(t)["error"].(map[string]any)["details"].(map[string]any)
		if msg, _ := details[c.path].(string); !strings.Contains(msg, c.msg) {
			t.Errorf("%v: details %v", c.body, details)
		}
	}
}

// slackReceiver is a Slack-shaped incoming webhook on 127.0.0.1: it accepts
// only a JSON object with a non-empty text (and Slack's optional fields),
// answering "ok", and refuses anything else with 400 invalid_payload, as
// Slack does.
type slackReceiver struct {
	*receiver
	mu    sync.Mutex
	texts []string
}

func newSlackReceiver(t *testing.T) *slackReceiver {
	s := &slackReceiver{}
	s.receiver = newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		var msg map[string]any
		body := s.receiver.All()[n-1].Body
		dec := json.NewDecoder(strings.NewReader(string(body)))
		if r.Method != "POST" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || dec.Decode(&msg) != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		text, ok := msg["text"].(string)
		for k := range msg {
			if k != "text" && k != "blocks" && k != "attachments" && k != "mrkdwn" {
				ok = false
			}
		}
		if !ok || text == "" {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.texts = append(s.texts, text)
		s.mu.Unlock()
		w.Write([]byte("ok"))
	})
	return s
}

// The Slack connector turns a booking into a readable line that a
// Slack-shaped receiver accepts; GET /api/v1/connectors lists the three
// connectors with their example messages.
func TestChatConnectors(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	slack := newSlackReceiver(t)
	ep := in.createEndpoint(slack.URL+"/services/T000/B000/XXX", []string{"booking.*", "payment.succeeded"}, map[string]any{"connector": "slack"})
	in.publish("booking.created", map[string]any{"starts_at": "2026-02-15T14:00:00Z", "participants": 2})
	in.publish("payment.succeeded", nil)
	waitFor(t, time.Minute, "two messages in Slack", func() bool {
		slack.mu.Lock()
		defer slack.mu.Unlock()
		return len(slack.texts) == 2
	})
	waitFor(t, time.Minute, "both deliveries to succeed", func() bool {
		list := in.must(200, "GET", "/api/v1/webhooks/"+ep["id"].(string)+"/deliveries", nil)["data"].([]any)
		for _, d := range list {
			if d.(map[string]any)["status"] != "succeeded" {
				return false
			}
		}
		return len(list) == 2
	})
	slack.mu.Lock()
	texts := strings.Join(slack.texts, "\n")
	slack.mu.Unlock()
	for _, want := range []string{"New booking: City Walking Tour, Sun 15 Feb 2026 14:00, 2 participants — Jane Doe",
		"Payment received: 90.00 USD by card for booking bkg_"} {
		if !strings.Contains(texts, want) {
			t.Errorf("Slack got %q, want a line %q", texts, want)
		}
	}

	got := in.must(200, "GET", "/api/v1/connectors", nil)["data"].([]any)
	names := []string{}
	for _, c := range got {
		c := c.(map[string]any)
		names = append(names, c["name"].(string))
		if c["title"] == "" || c["description"] == "" || c["example_event"] != "booking.created" || c["example"] == nil {
			t.Errorf("connector %v", c)
		}
		ex, _ := json.Marshal(c["example"])
		if !strings.Contains(string(ex), "New booking: City Walking Tour, Wed 25 Mar 2026 14:00, 2 participants") {
			t.Errorf("%s example %s", c["name"], ex)
		}
	}
	if strings.Join(names, ",") != "slack,teams,discord" {
		t.Fatalf("connectors %v", names)
	}
	// Slack's control characters are escaped.
	sl := in.must(200, "POST", "/api/v1/transformations/test", map[string]any{"connector": "slack", "event": "customer.created",
		"data": map[string]any{"name": "<!channel> & co", "email": "a@example.com"}})["payload"].(map[string]any)
	if sl["text"] != "New customer: &lt;!channel&gt; &amp; co (a@example.com)" {
		t.Errorf("Slack message %v", sl)
	}
	// Teams gets an Adaptive Card, Discord a message that mentions no one.
	teams := in.must(200, "POST", "/api/v1/transformations/test", map[string]any{"connector": "teams", "event": "payment.failed"})["payload"].(map[string]any)
	card := teams["attachments"].([]any)[0].(map[string]any)
	body, _ := json.Marshal(card["content"])
	if teams["type"] != "message" || card["contentType"] != "application/vnd.microsoft.card.adaptive" ||
		!strings.Contains(string(body), `"type":"AdaptiveCard"`) || !strings.Contains(string(body), `Payment failed: 90.00 USD by card for booking bkg\\_01JQ2Z8Y5V4N6T7R8S9A0B1C2D, payment pay\\_01JQ2Z8Y5V4N6T7R8S9A0B1C2H — The card was declined`) {
		t.Errorf("Teams message %s", body)
	}
	discord := in.must(200, "POST", "/api/v1/transformations/test", map[string]any{"connector": "discord", "event": "review.created",
		"data": map[string]any{"rating": 4, "comment": "@everyone <script>"}})["payload"].(map[string]any)
	if discord["content"] != `New review: 4/5 — “\@everyone \<script\>”` || discord["allowed_mentions"].(map[string]any)["parse"] == nil {
		t.Errorf("Discord message %v", discord)
	}
}

// Transformation tests are limited per organization, apart from test events.
func TestTransformationTestLimit(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_TEST_SEND_LIMIT": "2/m"})
	body := map[string]any{"event": "booking.created", "code": `function handler(w) { return w; }`}
	in.must(200, "POST", "/api/v1/transformations/test", body)
	in.must(200, "POST", "/api/v1/transformations/test", body)
	r := in.do("POST", "/api/v1/transformations/test", body)
	if r.Status != 429 || r.ErrorCode(t) != "transformation_test_limit" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third test: %d %s", r.Status, r.Body)
	}
	ep := in.createEndpoint("https://example.com/x", []string{"*"}, nil)["id"].(string)
	in.must(200, "PATCH", "/api/v1/webhooks/"+ep, map[string]any{"enabled": true})
	if r := in.do("POST", "/api/v1/webhooks/"+ep+"/test", nil); r.Status != 202 {
		t.Fatalf("a test event after the transformation tests: %d %s", r.Status, r.Body)
	}
}
