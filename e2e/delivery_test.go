package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/webhook"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestPublishDeliversSignedEnvelope(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	ep := in.createEndpoint(rc.URL+"/hooks", []string{"booking.*"}, map[string]any{"headers": map[string]string{"X-Team": "ops"}})
	secret := ep["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("generated secret %q lacks whsec_", secret)
	}
	if key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_")); err != nil || len(key) != 32 {
		t.Fatalf("secret is not base64 of 32 bytes: %v %d", err, len(key))
	}
	// Not matched by the filter: never delivered.
	in.publish("payment.succeeded", map[string]any{"id": "pay_1"})
	id := in.publish("booking.created", map[string]any{"id": "bkg_1", "participants": 2})

	waitFor(t, 5*time.Second, "the delivery", func() bool { return rc.Count() >= 1 })
	// Fan-out commits with the publication, so the delivery log is final.
	if n := len(in.must(200, "GET", "/api/v1/webhooks/"+ep["id"].(string)+"/deliveries", nil)["data"].([]any)); n != 1 {
		t.Fatalf("%d deliveries queued, want 1 (payment.succeeded is not in the filter)", n)
	}
	if n := rc.Count(); n != 1 {
		t.Fatalf("receiver got %d requests, want 1", n)
	}
	got := rc.All()[0]

	// The exact envelope.
	var env map[string]any
	if err := json.Unmarshal(got.Body, &env); err != nil {
		t.Fatal(err)
	}
	if env["id"] != id || env["event"] != "booking.created" || env["organization_id"] == nil {
		t.Fatalf("envelope = %s", got.Body)
	}
	if _, err := time.Parse(time.RFC3339, env["timestamp"].(string)); err != nil {
		t.Fatalf("timestamp: %v", err)
	}
	if string(got.Body) != fmt.Sprintf(`{"id":"%s","event":"booking.created","timestamp":"%s","organization_id":"%s","data":%s}`,
		id, env["timestamp"], env["organization_id"], mustJSON(bookingData(map[string]any{"id": "bkg_1", "participants": 2}))) {
		t.Fatalf("body is not the exact envelope: %s", got.Body)
	}

	h := got.Header
	want := map[string]string{"Content-Type": "application/json", "User-Agent": "hookbook/" + hookbook.Version,
		"Webhook-Id": id, "X-Hookbook-Event": "booking.created", "X-Team": "ops"}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	ts := h.Get("Webhook-Timestamp")
	if h.Get("X-Hookbook-Timestamp") != ts {
		t.Errorf("X-Hookbook-Timestamp %q != webhook-timestamp %q", h.Get("X-Hookbook-Timestamp"), ts)
	}
	tsN, _ := strconv.ParseInt(ts, 10, 64)
	// Signed when sent: close to its arrival (whole seconds; generous for a
	// loaded machine), not when the event was stored.
	if d := got.At.Sub(time.Unix(tsN, 0)); d < -2*time.Second || d > 30*time.Second {
		t.Errorf("webhook-timestamp %s is not the time of sending (arrived %s)", ts, got.At.UTC().Format(time.RFC3339Nano))
	}
	if !strings.HasPrefix(h.Get("X-Hookbook-Delivery-Id"), "dlv_") {
		t.Errorf("delivery id %q", h.Get("X-Hookbook-Delivery-Id"))
	}
	if !uuidPattern.MatchString(h.Get("X-Hookbook-Request-Id")) {
		t.Errorf("request id %q is not a UUID", h.Get("X-Hookbook-Request-Id"))
	}

	// Both signatures, with the package a receiver imports…
	if err := webhook.Verify(secret, h, got.Body); err != nil {
		t.Errorf("webhook.Verify: %v", err)
	}
	if err := webhook.VerifyHMAC(secret, h.Get("X-Hookbook-Signature"), ts, got.Body, 0, time.Now()); err != nil {
		t.Errorf("webhook.VerifyHMAC: %v", err)
	}
	// …and computed independently here.
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(got.Body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); h.Get("Webhook-Signature") != want {
		t.Errorf("webhook-signature = %q, want %q", h.Get("Webhook-Signature"), want)
	}
	m = hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(got.Body)))
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); h.Get("X-Hookbook-Signature") != want {
		t.Errorf("X-Hookbook-Signature = %q, want %q", h.Get("X-Hookbook-Signature"), want)
	}

	// The delivery log shows it succeeded, with the exact request.
	dlv := h.Get("X-Hookbook-Delivery-Id")
	waitFor(t, 5*time.Second, "succeeded status", func() bool {
		return in.must(200, "GET", "/api/v1/deliveries/"+dlv, nil)["status"] == "succeeded"
	})
	d := in.must(200, "GET", "/api/v1/deliveries/"+dlv, nil)
	req := d["request"].(map[string]any)
	if req["body"] != string(got.Body) {
		t.Errorf("logged body differs from the sent one")
	}
	if req["headers"].(map[string]any)["X-Hookbook-Signature"] != h.Get("X-Hookbook-Signature") {
		t.Errorf("logged headers differ: %v", req["headers"])
	}
	atts := d["attempts"].([]any)
	if len(atts) != 1 || atts[0].(map[string]any)["status_code"].(float64) != 200 {
		t.Errorf("attempts = %v", atts)
	}
	evt := in.must(200, "GET", "/api/v1/events/"+id, nil)
	if evt["delivery_summary"].(map[string]any)["succeeded"].(float64) != 1 {
		t.Errorf("event summary = %v", evt["delivery_summary"])
	}
}

func TestBodySchemeAndHeaderPrefix(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_HEADER_PREFIX": "X-BookingCalendar"})
	rc := newReceiver(t, nil)
	secret := "a-custom-secret-of-some-length"
	in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"secret": secret, "signature_scheme": "body"})
	in.publish("customer.created", map[string]any{"id": "cus_1"})
	waitFor(t, 5*time.Second, "delivery", func() bool { return rc.Count() == 1 })
	got := rc.All()[0]
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(got.Body)
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); got.Header.Get("X-BookingCalendar-Signature") != want {
		t.Fatalf("body-scheme signature = %q, want %q", got.Header.Get("X-BookingCalendar-Signature"), want)
	}
	for _, h := range []string{"X-BookingCalendar-Event", "X-BookingCalendar-Delivery-Id", "X-BookingCalendar-Timestamp", "X-BookingCalendar-Request-Id"} {
		if got.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if got.Header.Get("X-Hookbook-Signature") != "" {
		t.Errorf("default prefix still used")
	}
	// A raw (non-whsec) secret keys the Standard Webhooks signature with its bytes.
	if err := webhook.Verify(secret, got.Header, got.Body); err != nil {
		t.Errorf("standard signature with raw secret: %v", err)
	}
}

// attemptsOf returns the attempts of a delivery from the log.
func attemptsOf(in *instance, dlv string) []map[string]any {
	d := in.must(200, "GET", "/api/v1/deliveries/"+dlv, nil)
	var out []map[string]any
	for _, a := range d["attempts"].([]any) {
		out = append(out, a.(map[string]any))
	}
	return out
}

func onlyDelivery(t *testing.T, in *instance, ep string) map[string]any {
	t.Helper()
	list := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries", nil)["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("endpoint has %d deliveries, want 1", len(list))
	}
	return list[0].(map[string]any)
}

func TestFailingReceiversRetryThenFail(t *testing.T) {
	t.Parallel()
	// A listener that accepts and resets every connection.
	resetLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer resetLn.Close()
	go func() {
		for {
			c, err := resetLn.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	hang := make(chan struct{})
	defer close(hang)
	cases := []struct {
		name    string
		url     func() string
		errLike string
		status  float64
	}{
		{"500", func() string {
			return newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(500); w.Write([]byte("boom")) }).URL
		}, "HTTP 500", 500},
		{"hang past timeout", func() string {
			return newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				select {
				case <-hang:
				case <-r.Context().Done():
				}
			}).URL
		}, "timeout", 0},
		{"connection reset", func() string { return "http://" + resetLn.Addr().String() }, "", 0},
		{"301", func() string {
			return newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				http.Redirect(w, r, "http://example.invalid/elsewhere", http.StatusMovedPermanently)
			}).URL
		}, "redirect 301 not followed", 301},
	}
	in := start(t, map[string]string{"HOOKBOOK_RETRY_SCHEDULE": "300ms,600ms"})
	type tracked struct {
		name, ep string
		status   float64
		errLike  string
	}
	var eps []tracked
	for _, c := range cases {
		ep := in.createEndpoint(c.url(), []string{"booking.created"}, map[string]any{"max_attempts": 3, "timeout_seconds": 1})
		eps = append(eps, tracked{c.name, ep["id"].(string), c.status, c.errLike})
	}
	in.publish("booking.created", map[string]any{"id": "bkg_1"})
	for _, e := range eps {
		t.Run(e.name, func(t *testing.T) {
			var d map[string]any
			waitFor(t, 15*time.Second, "failed status", func() bool {
				d = onlyDelivery(t, in, e.ep)
				return d["status"] == "failed"
			})
			if d["attempts"].(float64) != 3 {
				t.Fatalf("attempts = %v, want 3", d["attempts"])
			}
			atts := attemptsOf(in, d["id"].(string))
			if len(atts) != 3 {
				t.Fatalf("log has %d attempts, want 3", len(atts))
			}
			for i, a := range atts {
				if a["attempt"].(float64) != float64(i+1) {
					t.Errorf("attempt numbering: %v", a["attempt"])
				}
				code, _ := a["status_code"].(float64)
				if code != e.status {
					t.Errorf("attempt %d status %v, want %v", i+1, a["status_code"], e.status)
				}
				if msg, _ := a["error"].(string); msg == "" || !strings.Contains(msg, e.errLike) {
					t.Errorf("attempt %d error %q, want it to mention %q", i+1, msg, e.errLike)
				}
			}
			// Gaps follow the schedule (300ms, 600ms ±20 %), plus the
			// attempt's own time: never early. A loaded machine may start
			// an attempt late (seconds, with both cores busy), so the upper
			// bound only says the retry was not forgotten.
			gaps := []time.Duration{300 * time.Millisecond, 600 * time.Millisecond}
			for i := 1; i < len(atts); i++ {
				prevStart, _ := time.Parse(time.RFC3339Nano, atts[i-1]["started_at"].(string))
				prevDur := time.Duration(atts[i-1]["duration_ms"].(float64)) * time.Millisecond
				start, _ := time.Parse(time.RFC3339Nano, atts[i]["started_at"].(string))
				gap := start.Sub(prevStart.Add(prevDur))
				if gap < gaps[i-1]*8/10-5*time.Millisecond || gap > gaps[i-1]+time.Minute {
					t.Errorf("gap before attempt %d = %s, want at least %s (the schedule's %s less its 20 %% jitter) and under a minute",
						i+1, gap, gaps[i-1]*8/10, gaps[i-1])
				}
			}
			if d["next_attempt_at"] != nil {
				t.Errorf("failed delivery still has next_attempt_at %v", d["next_attempt_at"])
			}
		})
	}
	ep := in.must(200, "GET", "/api/v1/webhooks/"+eps[0].ep, nil)
	if ep["consecutive_failures"].(float64) != 3 || ep["last_failure_at"] == nil || ep["last_success_at"] != nil {
		t.Errorf("endpoint health = %v %v %v", ep["consecutive_failures"], ep["last_failure_at"], ep["last_success_at"])
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_RETRY_SCHEDULE": "50ms"})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(429)
			return
		}
		w.WriteHeader(204)
	})
	in.createEndpoint(rc.URL, []string{"*"}, nil)
	in.publish("slot.created", map[string]any{"id": "slot_1"})
	waitFor(t, 10*time.Second, "second attempt", func() bool { return rc.Count() == 2 })
	reqs := rc.All()
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 2*time.Second {
		t.Fatalf("retried after %s, Retry-After asked for 2s", gap)
	}
	if reqs[0].Header.Get("X-Hookbook-Delivery-Id") != reqs[1].Header.Get("X-Hookbook-Delivery-Id") ||
		reqs[0].Header.Get("Webhook-Id") != reqs[1].Header.Get("Webhook-Id") {
		t.Errorf("delivery or event id changed between attempts")
	}
	if reqs[0].Header.Get("X-Hookbook-Request-Id") == reqs[1].Header.Get("X-Hookbook-Request-Id") {
		t.Errorf("request id repeated between attempts")
	}
}

func TestRedeliverAndRecover(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	failing := true
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		<-mu
		f := failing
		mu <- struct{}{}
		if f {
			w.WriteHeader(503)
			w.Write([]byte("down for maintenance"))
			return
		}
		w.WriteHeader(200)
	})
	ep := in.createEndpoint(rc.URL, []string{"*"}, map[string]any{"max_attempts": 1})["id"].(string)
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for i := 0; i < 3; i++ {
		in.publish("customer.created", map[string]any{"n": i})
	}
	waitFor(t, 5*time.Second, "three failures", func() bool {
		l := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status=failed", nil)["data"].([]any)
		return len(l) == 3
	})
	first := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status=failed&limit=1", nil)
	dlv := first["data"].([]any)[0].(map[string]any)["id"].(string)
	if atts := attemptsOf(in, dlv); atts[0]["response_body"] != "down for maintenance" {
		t.Errorf("response body not logged: %v", atts[0]["response_body"])
	}
	<-mu
	failing = false
	mu <- struct{}{}

	// Redeliver one: one more attempt, now successful.
	in.must(202, "POST", "/api/v1/deliveries/"+dlv+"/redeliver", nil)
	waitFor(t, 5*time.Second, "redelivery", func() bool {
		return in.must(200, "GET", "/api/v1/deliveries/"+dlv, nil)["status"] == "succeeded"
	})
	if n := len(attemptsOf(in, dlv)); n != 2 {
		t.Errorf("redelivered delivery has %d attempts, want 2", n)
	}
	// Recover the two others.
	r := in.must(202, "POST", "/api/v1/webhooks/"+ep+"/recover", map[string]string{"since": since})
	if r["requeued"].(float64) != 2 {
		t.Fatalf("requeued = %v, want 2", r["requeued"])
	}
	waitFor(t, 5*time.Second, "recovery", func() bool {
		l := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries?status=succeeded", nil)["data"].([]any)
		return len(l) == 3
	})
	if rc.Count() != 6 {
		t.Errorf("receiver got %d requests, want 6", rc.Count())
	}
	// A disabled endpoint refuses redelivery.
	in.must(200, "PATCH", "/api/v1/webhooks/"+ep, map[string]any{"enabled": false})
	if r := in.do("POST", "/api/v1/deliveries/"+dlv+"/redeliver", nil); r.Status != 409 {
		t.Errorf("redeliver to a disabled endpoint = %d, want 409", r.Status)
	}
	in.must(204, "DELETE", "/api/v1/webhooks/"+ep, nil)
	if r := in.do("POST", "/api/v1/deliveries/"+dlv+"/redeliver", nil); r.Status != 409 {
		t.Errorf("redeliver to a deleted endpoint = %d, want 409", r.Status)
	}
}

func TestTestEventAndOutboundSwitch(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	ep := in.createEndpoint(rc.URL, []string{"payment.failed"}, nil)["id"].(string)
	r := in.must(202, "POST", "/api/v1/webhooks/"+ep+"/test", nil)
	waitFor(t, 5*time.Second, "test event", func() bool { return rc.Count() == 1 })
	if got := rc.All()[0].Header.Get("X-Hookbook-Event"); got != "webhook.test" {
		t.Fatalf("test event type %q", got)
	}
	if rc.All()[0].Header.Get("X-Hookbook-Delivery-Id") != r["delivery_id"] {
		t.Errorf("delivery id mismatch")
	}
	// Outbound off: events are stored, nothing is delivered.
	in.must(200, "PUT", "/api/v1/settings/outbound", map[string]bool{"enabled": false})
	if in.must(200, "GET", "/api/v1/settings/outbound", nil)["enabled"] != false {
		t.Fatal("outbound still on")
	}
	id := in.publish("payment.failed", map[string]any{"id": "pay_1"})
	evt := in.must(200, "GET", "/api/v1/events/"+id, nil)
	if len(evt["deliveries"].([]any)) != 0 {
		t.Fatalf("outbound off but deliveries were made: %v", evt["deliveries"])
	}
	in.must(200, "PUT", "/api/v1/settings/outbound", map[string]bool{"enabled": true})
	in.publish("payment.failed", map[string]any{"id": "pay_2"})
	waitFor(t, 5*time.Second, "delivery after re-enabling", func() bool { return rc.Count() == 2 })
}

func TestIdempotencyKeyAndCustomTypes(t *testing.T) {
	t.Parallel()
	in := start(t, nil)
	rc := newReceiver(t, nil)
	leads := in.createEndpoint(rc.URL, []string{"lead.*"}, nil)["id"].(string)
	if r := in.do("POST", "/api/v1/events", map[string]any{"event": "lead.qualified", "data": map[string]any{}}); r.Status != 422 || r.ErrorCode(t) != "unknown_event_type" {
		t.Fatalf("unknown type: %d %s", r.Status, r.Body)
	}
	in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": "lead.qualified", "description": "A lead qualified",
		"schema": map[string]any{"type": "object", "required": []string{"score"}, "properties": map[string]any{"score": map[string]any{"type": "integer"}}}})
	if r := in.do("POST", "/api/v1/event-types", map[string]any{"name": "lead.qualified", "description": "again"}); r.Status != 409 {
		t.Fatalf("duplicate type = %d", r.Status)
	}
	if r := in.do("POST", "/api/v1/events", map[string]any{"event": "lead.qualified", "data": map[string]any{"score": "high"}}); r.Status != 422 {
		t.Fatalf("data against schema = %d %s", r.Status, r.Body)
	}
	body := map[string]any{"event": "lead.qualified", "data": map[string]any{"score": 90}, "idempotency_key": "k-1"}
	a := in.must(202, "POST", "/api/v1/events", body)["id"]
	b := in.must(202, "POST", "/api/v1/events", body)["id"]
	if a != b {
		t.Fatalf("same idempotency key gave %v and %v", a, b)
	}
	// The header works too, and a new key makes a new event.
	req, _ := json.Marshal(map[string]any{"event": "lead.qualified", "data": map[string]any{"score": 1}})
	hreq, _ := http.NewRequest("POST", in.url+"/api/v1/events", strings.NewReader(string(req)))
	hreq.Header.Set("Authorization", "Bearer "+in.key)
	hreq.Header.Set("Idempotency-Key", "k-2")
	for i := 0; i < 2; i++ {
		resp, err := http.DefaultClient.Do(hreq.Clone(hreq.Context()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		hreq.Body = http.NoBody
		hreq, _ = http.NewRequest("POST", in.url+"/api/v1/events", strings.NewReader(string(req)))
		hreq.Header.Set("Authorization", "Bearer "+in.key)
		hreq.Header.Set("Idempotency-Key", "k-2")
	}
	waitFor(t, 5*time.Second, "two deliveries", func() bool { return rc.Count() >= 2 })
	if n := len(in.must(200, "GET", "/api/v1/webhooks/"+leads+"/deliveries", nil)["data"].([]any)); n != 2 {
		t.Fatalf("%d deliveries queued, want 2 (one per idempotency key)", n)
	}
	if n := rc.Count(); n != 2 {
		t.Fatalf("receiver got %d events, want 2 (one per idempotency key)", n)
	}
	types := in.must(200, "GET", "/api/v1/event-types", nil)["data"].([]any)
	found := false
	for _, x := range types {
		if x.(map[string]any)["name"] == "lead.qualified" {
			found = true
		}
	}
	if !found || len(types) != 27 {
		t.Fatalf("catalog has %d types, custom found %v", len(types), found)
	}
}
