package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAPIRateLimit: each API key has its own token bucket; every answer
// announces it in the RateLimit headers, and a key over its quota gets 429
// with Retry-After while other keys go on.
func TestAPIRateLimit(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_API_RATE_LIMIT": "5/m"})
	for i := 0; i < 5; i++ {
		r := in.do("GET", "/api/v1/webhooks", nil)
		if r.Status != 200 {
			t.Fatalf("request %d = %d: %s", i+1, r.Status, r.Body)
		}
		if p := r.Header.Get("RateLimit-Policy"); p != `"api-key";q=5;w=60` {
			t.Errorf("RateLimit-Policy = %q", p)
		}
		if l := r.Header.Get("RateLimit"); !strings.HasPrefix(l, fmt.Sprintf(`"api-key";r=%d;t=`, 4-i)) {
			t.Errorf("request %d: RateLimit = %q", i+1, l)
		}
	}
	r := in.do("POST", "/api/v1/events", map[string]any{"event": "booking.created", "data": bookingData(map[string]any{})})
	if r.Status != 429 || r.ErrorCode(t) != "rate_limited" {
		t.Fatalf("over the quota = %d: %s", r.Status, r.Body)
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 12 {
		t.Errorf("Retry-After = %q, want 1–12 s (one of 5 units per minute)", r.Header.Get("Retry-After"))
	}
	if l := r.Header.Get("RateLimit"); !strings.HasPrefix(l, `"api-key";r=0;t=`) {
		t.Errorf("RateLimit = %q", l)
	}
	// Another organization's key has its own bucket.
	if r := in.doKey(secondOrg(t, in), "GET", "/api/v1/webhooks", nil); r.Status != 200 {
		t.Errorf("another organization's key = %d", r.Status)
	}
}

// TestOrganizationQuotas: endpoints and custom event types are bounded per
// organization (403), also when created concurrently; test sends are
// rate-limited (429).
func TestOrganizationQuotas(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_MAX_ENDPOINTS": "3", "HOOKBOOK_MAX_EVENT_TYPES": "2", "HOOKBOOK_TEST_SEND_LIMIT": "2/h"})
	rc := newReceiver(t, nil)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = in.do("POST", "/api/v1/webhooks", map[string]any{"url": rc.URL, "events": []string{"*"}}).Status
		}()
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		if c == 201 {
			created++
		} else if c != 403 {
			t.Errorf("concurrent create = %d", c)
		}
	}
	if created != 3 {
		t.Fatalf("%d endpoints created concurrently, limit 3", created)
	}
	r := in.do("POST", "/api/v1/webhooks", map[string]any{"url": rc.URL, "events": []string{"*"}})
	if r.Status != 403 || r.ErrorCode(t) != "endpoint_limit" {
		t.Fatalf("fourth endpoint = %d: %s", r.Status, r.Body)
	}
	list := in.must(200, "GET", "/api/v1/webhooks", nil)["data"].([]any)
	ep := list[0].(map[string]any)["id"].(string)
	in.must(204, "DELETE", "/api/v1/webhooks/"+ep, nil)
	in.createEndpoint(rc.URL, []string{"*"}, nil) // room again after a delete
	// Another organization has its own quota.
	other := secondOrg(t, in)
	if r := in.doKey(other, "POST", "/api/v1/webhooks", map[string]any{"url": rc.URL, "events": []string{"*"}}); r.Status != 201 {
		t.Errorf("another organization's endpoint = %d: %s", r.Status, r.Body)
	}

	for i := 0; i < 2; i++ {
		in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": fmt.Sprintf("invoice.paid%d", i), "description": "An invoice was paid."})
	}
	r = in.do("POST", "/api/v1/event-types", map[string]any{"name": "invoice.overdue", "description": "An invoice is overdue."})
	if r.Status != 403 || r.ErrorCode(t) != "event_type_limit" {
		t.Errorf("third event type = %d: %s", r.Status, r.Body)
	}

	ep = list[1].(map[string]any)["id"].(string)
	for i := 0; i < 2; i++ {
		in.must(202, "POST", "/api/v1/webhooks/"+ep+"/test", nil)
	}
	r = in.do("POST", "/api/v1/webhooks/"+ep+"/test", nil)
	if r.Status != 429 || r.ErrorCode(t) != "test_send_limit" {
		t.Fatalf("third test send = %d: %s", r.Status, r.Body)
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 60 {
		t.Errorf("Retry-After = %q, want about half an hour", r.Header.Get("Retry-After"))
	}
}

// TestDeliveryLoopIsRefused: an endpoint pointed at hookbook's own publish
// API (with the organization's key in its headers) would publish every
// delivery again, for ever. The API refuses a request carrying one of its
// own delivery ids, so the loop stops at the first attempt.
func TestDeliveryLoopIsRefused(t *testing.T) {
	t.Parallel()
	in := start(t, map[string]string{"HOOKBOOK_RETRY_SCHEDULE": "1h"})
	ep := in.createEndpoint(in.url+"/api/v1/events", []string{"booking.created"}, map[string]any{
		"headers": map[string]string{"Authorization": "Bearer " + in.key}, "max_attempts": 1})["id"].(string)
	in.publish("booking.created", map[string]any{"id": "bkg_1"})
	var d map[string]any
	waitFor(t, 10*time.Second, "the looping delivery to fail", func() bool {
		list := in.must(200, "GET", "/api/v1/webhooks/"+ep+"/deliveries", nil)["data"].([]any)
		if len(list) == 1 {
			d = list[0].(map[string]any)
		}
		return d != nil && d["status"] == "failed"
	})
	if d["last_status_code"] != float64(403) {
		t.Errorf("the looping attempt got %v, want 403", d["last_status_code"])
	}
	detail := in.must(200, "GET", "/api/v1/deliveries/"+d["id"].(string), nil)
	body := fmt.Sprint(detail)
	if !strings.Contains(body, "delivery_loop") {
		t.Errorf("the attempt's response does not name the loop: %s", body)
	}
	events := in.must(200, "GET", "/api/v1/events", nil)["data"].([]any)
	if len(events) != 1 {
		t.Errorf("%d events, want only the first: the delivery was published again", len(events))
	}
	// The same header with an id hookbook never issued is not a loop.
	r := in.DoHeader(in.key, "POST", "/api/v1/events", map[string]any{"event": "booking.created", "data": bookingData(map[string]any{})},
		http.Header{"X-Hookbook-Delivery-Id": {"dlv_01JQ2Z8Y5V4N6T7R8S9A0B1C2D"}})
	if r.Status != 202 {
		t.Errorf("a foreign delivery id = %d: %s", r.Status, r.Body)
	}
}
